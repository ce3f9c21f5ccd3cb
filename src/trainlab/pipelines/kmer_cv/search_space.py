"""The CV search space, in the sweeper's grammar, parsed by the sweeper's own parser.

`cv.search_space` uses the same Hydra override grammar as `hparams_search` files:
`choice(a, b)`, `range(start, stop, step)` (stop excluded), `interval(low, high)`,
`tag(int, interval(...))`, `tag(log, ...)`; a plain value is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainlab.errors import ConfigError


@dataclass
class CvSearchSpace:
    """Searched parameters (the sweeper's SearchSpace) and fixed values, by config key."""

    searched: Any
    fixed: dict[str, Any]


def parse_search_space(space: Mapping[str, Any] | None) -> CvSearchSpace:
    """Parse `cv.search_space` exactly as the sweeper parses `hydra.sweeper.params`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    from hydra_plugins.trainlab_sweeper._search_space import parse_search_space as parse

    parser = OverridesParser.create()
    try:
        searched = parse(space or {}, [], parser)
        fixed = {
            override.key_or_group: override.value()
            for override in parser.parse_overrides(searched.fixed)
        }
    except OverrideParseException as err:
        raise ConfigError(
            f"cv.search_space cannot be parsed ({err}); use choice(...), "
            "range(start, stop, step), interval(low, high) or tag(log, interval(...))."
        ) from err
    return CvSearchSpace(searched, fixed)


def suggest(trial: Any, space: CvSearchSpace) -> dict[str, Any]:
    """Draw every searched parameter for an Optuna trial; fixed values pass through."""
    return {**space.fixed, **space.searched.suggest(trial)}
