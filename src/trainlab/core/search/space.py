"""Hydra override grammar -> Optuna distributions, and sampled values -> job overrides.

`choice(...)` and `a,b,c` become categorical; `range(start, stop, step)` an int (or stepped
float) distribution over the values Hydra's range would produce (stop excluded);
`interval(low, high)` a float distribution (`tag(int, ...)` for integers); `tag(log, ...)` a
log scale; `shuffle(...)` a categorical over the listed values. Anything else is a fixed
override every job gets.

Keys may be dotted (`model.optimizer.lr: ...`, hydra-optuna-sweeper's form) or nested
(`model: {optimizer: {lr: ...}}`); nested keys are what Hydra's command line can address
(`~cv.search_space.model.net.dropout`, `cv.search_space.model.net.dropout=0.2`): it cannot
address a key that itself contains dots. `{for_each: [a, b], search: <override>}` under a key
stands for one entry `<key>.a`, `<key>.b` per listed item, e.g. one loss weight per task of
`${data.tasks}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hydra.core.override_parser.types import Override, RangeSweep

from trainlab.errors import ConfigError

if TYPE_CHECKING:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from optuna.distributions import BaseDistribution
    from optuna.trial import Trial

_PRIMITIVES = (bool, int, float, str)
FOR_EACH = "for_each"
SEARCH = "search"


@dataclass
class SearchSpace:
    """What the sweeper samples, and what every job gets unchanged."""

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    key_elements: dict[str, str] = field(default_factory=dict)
    verbatim: dict[str, set[str]] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def suggest(self, trial: Trial) -> dict[str, Any]:
        """Draws every parameter of the space for `trial` (public Trial.suggest_* API)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        values: dict[str, Any] = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                values[name] = trial.suggest_categorical(name, dist.choices)
            elif isinstance(dist, IntDistribution):
                values[name] = trial.suggest_int(
                    name, dist.low, dist.high, step=dist.step, log=dist.log
                )
            elif isinstance(dist, FloatDistribution):
                values[name] = trial.suggest_float(
                    name, dist.low, dist.high, step=dist.step, log=dist.log
                )
            else:  # pragma: no cover - we only build the three kinds above
                raise TypeError(f"unsupported distribution {dist!r}")
        return values

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """The job's override list: the fixed ones, then one `key=value` per sampled value."""
        out = list(self.fixed)
        for name, value in values.items():
            key = self.key_elements.get(name, name)
            if isinstance(value, str) and value in self.verbatim.get(name, set()):
                text = value
            else:
                text = Override._get_value_element_as_str(value)
            out.append(f"{key}={text}")
        return out

    def grid(self) -> dict[str, list[Any]]:
        """The search space as lists of values, for Optuna's GridSampler."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        grid: dict[str, list[Any]] = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                grid[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and not dist.log:
                grid[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif getattr(dist, "step", None) is not None and not dist.log:
                n = round((dist.high - dist.low) / dist.step)
                grid[name] = [dist.low + i * dist.step for i in range(n + 1)]
            else:
                raise ConfigError(
                    f"hydra.sweeper.params.{name}: the grid sampler needs a finite set of values, "
                    f"got {dist!r}. Fix: use choice(...) or range(...) for {name}, "
                    "or another sampler (tpe, random, qmc)."
                )
        return grid

    def first_point(self) -> dict[str, Any]:
        """One point of the space: each categorical's first choice, each range's low end."""
        from optuna.distributions import CategoricalDistribution

        return {
            name: dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low
            for name, dist in self.distributions.items()
        }

    def size(self) -> int | None:
        """How many distinct parameter sets the space holds; None when it is continuous."""
        try:
            return math.prod(len(values) for values in self.grid().values())
        except ConfigError:
            return None

    def fixed_values(self, parser: OverridesParser) -> dict[str, Any]:
        """The fixed `key=value` entries as a mapping key -> value (deletions left out)."""
        values = {}
        for override in parser.parse_overrides(self.fixed):
            if not override.is_delete():
                values[override.key_or_group] = override.value()
        return values

    def problems(self, values: Mapping[str, Any], require_all: bool = True) -> list[str]:
        """Why `values` is not a point of this space: one line per bad (or missing) entry."""
        from optuna.distributions import CategoricalDistribution

        found = []
        for name, dist in self.distributions.items():
            if name not in values:
                if require_all:
                    found.append(f"{name}: missing")
                continue
            value = values[name]
            if isinstance(dist, CategoricalDistribution):
                if not any(_same(value, choice) for choice in dist.choices):
                    found.append(f"{name}={value!r} is not one of {list(dist.choices)}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                found.append(f"{name}={value!r} is not a number")
                continue
            if not dist.low <= value <= dist.high:
                found.append(f"{name}={value!r} lies outside [{dist.low}, {dist.high}]")
            elif dist.step is not None and not _on_step(value, dist.low, dist.step):
                found.append(f"{name}={value!r} is not on the step {dist.step} from {dist.low}")
            elif type(dist).__name__ == "IntDistribution" and value != int(value):
                found.append(f"{name}={value!r} is not an integer")
        return found


def _same(value: Any, choice: Any) -> bool:
    # True == 1 in Python; a categorical of booleans must not accept 1.
    return (type(value) is type(choice) and value == choice) or (
        isinstance(value, int | float)
        and isinstance(choice, int | float)
        and not isinstance(value, bool)
        and not isinstance(choice, bool)
        and value == choice
    )


def _on_step(value: float, low: float, step: float) -> bool:
    n = (value - low) / step
    return abs(n - round(n)) < 1e-9 * max(1.0, abs(n))


def flatten_params(params: Mapping[str, Any] | None, key: str = "search space") -> dict[str, Any]:
    """Nested and dotted keys -> one dotted key per entry; `for_each` entries expanded.

    Args:
        params: the search space as written in the config (plain or OmegaConf mapping).
        key: the config key of `params`, for error messages.
    """
    from omegaconf import OmegaConf

    if OmegaConf.is_config(params):
        params = OmegaConf.to_container(params, resolve=True)
    flat: dict[str, Any] = {}
    for name, value in (params or {}).items():
        name = str(name)
        if isinstance(value, Mapping) and set(value) == {FOR_EACH, SEARCH}:
            items = value[FOR_EACH]
            if not isinstance(items, Sequence) or isinstance(items, str) or not items:
                raise ConfigError(
                    f"{key}.{name}.{FOR_EACH}={items!r} must be a non-empty list (e.g. "
                    "${data.tasks}). Fix: list the items, or remove the entry with "
                    f"~{key}.{name}."
                )
            for item in items:
                flat[f"{name}.{item}"] = value[SEARCH]
        elif isinstance(value, Mapping) and value:
            if FOR_EACH in value or SEARCH in value:
                raise ConfigError(
                    f"{key}.{name} has keys {sorted(value)}; a per-item entry has exactly "
                    f"`{FOR_EACH}` (a list) and `{SEARCH}` (an override such as "
                    "interval(0.5, 2.0))."
                )
            flat.update({f"{name}.{k}": v for k, v in flatten_params(value, key).items()})
        elif isinstance(value, Mapping):
            # What `~...params.data.batch_size` leaves of a group whose only entry it was. As a
            # fixed override `data={}`, the key counted as set on the command line, so a
            # `best_config` value under it was skipped: trials trained data.batch_size=64 while
            # the file the stage started from said 32 (probe: hparams_search=images_optuna).
            continue
        else:
            flat[name] = value
    return flat


def parse_search_space(
    params: Mapping[str, Any] | None,
    arguments: Sequence[str],
    parser: OverridesParser,
) -> SearchSpace:
    """Builds the search space from `hydra.sweeper.params` and the command line.

    A key given on the command line replaces the same key from `params`.
    """
    by_name: dict[str, Override] = {}
    config_lines = [
        f"{key}={_config_value_as_override(v)}" for key, v in flatten_params(params).items()
    ]
    for override in [
        *parser.parse_overrides(config_lines),
        *parser.parse_overrides(list(arguments)),
    ]:
        by_name[_param_name(override)] = override

    space = SearchSpace()
    for name, override in by_name.items():
        if not override.is_sweep_override():
            space.fixed.append(str(override.input_line))
            continue
        if override.is_hydra_override():
            raise ConfigError(
                f"sweep over '{override.input_line}': Hydra's own settings cannot be searched. "
                "Fix: search over task config keys only."
            )
        space.key_elements[name] = override.get_key_element()
        space.distributions[name] = _distribution(name, override, space)
    return space


def _param_name(override: Override) -> str:
    if override.package is None:
        return override.key_or_group
    return f"{override.key_or_group}@{override.package}"


def _config_value_as_override(value: Any) -> str:
    if isinstance(value, str):
        return value
    from omegaconf import OmegaConf

    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    return Override._get_value_element_as_str(value)


def _range_values(value: RangeSweep) -> list[Any]:
    """The values of `range(start, stop, step)`, stop excluded, also for floats.

    Hydra's float range rounds its values, so `range(0.1, 1.0, 0.3)` ends in 1.0, its stop:
    the distribution reached 1.0 and trials ran with x=0.9999999999999999.
    """
    values = list(value.range())
    if values and isinstance(values[-1], float):
        gap = abs(float(value.step or 1)) * 1e-9
        values = [v for v in values if abs(v - float(value.stop)) > gap]
    return values


def _distribution(name: str, override: Override, space: SearchSpace) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    tags = getattr(value, "tags", set())
    log = "log" in tags
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        choices: list[Any] = []
        # shuffle() only orders a grid search; Optuna's categorical has no order.
        items = _range_values(value) if override.is_range_sweep() else override.sweep_iterator()
        for item in items:
            if isinstance(item, _PRIMITIVES) or item is None:
                choices.append(item)
            else:  # lists and dicts go to the job exactly as written
                text = Override._get_value_element_as_str(item)
                space.verbatim.setdefault(name, set()).add(text)
                choices.append(text)
        if log:
            raise ConfigError(
                f"'{override.input_line}': tag(log, ...) does not apply to choice(). "
                "Fix: use tag(log, interval(low, high)) or tag(log, range(low, high))."
            )
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep)
        steps = _range_values(value)
        if not steps:
            raise ConfigError(f"'{override.input_line}' is an empty range. Fix: start < stop.")
        if all(isinstance(x, int) for x in (value.start, value.stop, value.step)):
            if log and value.step != 1:
                raise ConfigError(
                    f"'{override.input_line}': a log-scale integer range needs step 1 (Optuna). "
                    "Fix: drop the step or the log tag."
                )
            return IntDistribution(int(steps[0]), int(steps[-1]), step=int(value.step), log=log)
        if log:
            raise ConfigError(
                f"'{override.input_line}': a stepped float range cannot be log scale (Optuna). "
                "Fix: use tag(log, interval(low, high))."
            )
        return FloatDistribution(float(steps[0]), float(steps[-1]), step=float(value.step))
    if override.is_interval_sweep():
        low, high = value.start, value.end
        if low is None or high is None or not low < high:
            raise ConfigError(f"'{override.input_line}': interval needs low < high.")
        if "int" in tags:
            if low != int(low) or high != int(high):
                raise ConfigError(
                    f"'{override.input_line}': tag(int, ...) needs whole-number bounds."
                )
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(
        f"'{override.input_line}': the sweeper cannot search this kind of sweep "
        f"({override.value_type}). Fix: use choice, range or interval."
    )
