"""Search space in the sweeper's grammar -> Optuna suggestions.

Same grammar as `hparams_search` configs (Hydra's override syntax):
`choice(a, b)` categorical; `range(start, stop, step)` integers (stop excluded, as in Hydra);
`interval(low, high)` floats; `tag(int, interval(...))` integers; `tag(log, ...)` log scale.
A plain value is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trainlab.errors import ConfigError


@dataclass
class Param:
    """One searched parameter."""

    kind: str  # categorical | int | float
    choices: list[Any] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False


def parse_search_space(space: Mapping[str, Any] | None) -> dict[str, Param | Any]:
    """Config key -> Param (searched) or a plain value (fixed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed: dict[str, Param | Any] = {}
    for key, value in (space or {}).items():
        text = value if isinstance(value, str) else _as_text(value)
        try:
            override = parser.parse_override(f"{key}={text}")
        except Exception as err:
            raise ConfigError(
                f"cv.search_space.{key}={value!r} cannot be parsed ({err}); use choice(...), "
                "range(start, stop, step), interval(low, high) or tag(log, interval(...))."
            ) from err
        parsed[key] = _param(key, override) if override.is_sweep_override() else override.value()
    return parsed


def _as_text(value: Any) -> str:
    from hydra.core.override_parser.types import Override

    return Override._get_value_element_as_str(value)


def _param(key: str, override: Any) -> Param:
    value = override.value()
    tags = getattr(value, "tags", set())
    log = "log" in tags
    if override.is_choice_sweep():
        return Param("categorical", choices=list(override.sweep_iterator()))
    if override.is_range_sweep():
        steps = list(value.range())
        if not steps:
            raise ConfigError(f"cv.search_space.{key}: empty range; use start < stop.")
        if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
            step = None if log else int(value.step)
            return Param("int", low=steps[0], high=steps[-1], step=step, log=log)
        return Param("float", low=steps[0], high=steps[-1], step=float(value.step))
    if override.is_interval_sweep():
        if not value.start < value.end:
            raise ConfigError(f"cv.search_space.{key}: interval needs low < high.")
        kind = "int" if "int" in tags else "float"
        return Param(kind, low=value.start, high=value.end, log=log)
    raise ConfigError(f"cv.search_space.{key}: use choice, range or interval.")


def suggest(trial: Any, space: Mapping[str, Param | Any]) -> dict[str, Any]:
    """Draw every searched parameter for an Optuna trial; fixed values pass through."""
    values: dict[str, Any] = {}
    for key, param in space.items():
        if not isinstance(param, Param):
            values[key] = param
        elif param.kind == "categorical":
            values[key] = trial.suggest_categorical(key, param.choices)
        elif param.kind == "int":
            step = int(param.step) if param.step else 1
            values[key] = trial.suggest_int(
                key, int(param.low), int(param.high), step=step, log=param.log
            )
        else:
            values[key] = trial.suggest_float(
                key, float(param.low), float(param.high), step=param.step, log=param.log
            )
    return values
