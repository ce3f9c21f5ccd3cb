"""The CV search space (`cv.search_space`), parsed by the search stack's own grammar.

`cv.search_space` uses the same Hydra override grammar as `hparams_search` files:
`choice(a, b)`, `range(start, stop, step)` (stop excluded), `interval(low, high)`,
`tag(int, interval(...))`, `tag(log, ...)`; a plain value is fixed. Keys are nested
(`model: {net: {dropout: ...}}`) so the command line can remove or replace one
(`~cv.search_space.model.net.dropout`); `{for_each: ${data.tasks}, search: ...}` gives one
entry per task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainlab.core.search.space import SearchSpace
from trainlab.errors import ConfigError

KEY = "cv.search_space"


@dataclass
class CvSearchSpace:
    """Searched parameters and fixed values, by config key."""

    searched: SearchSpace
    fixed: dict[str, Any]


def parse_search_space(space: Mapping[str, Any] | None) -> CvSearchSpace:
    """Parse `cv.search_space` exactly as the sweeper parses `hydra.sweeper.params`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    from trainlab.core.search.space import flatten_params
    from trainlab.core.search.space import parse_search_space as parse

    parser = OverridesParser.create()
    try:
        searched = parse(flatten_params(space, KEY), [], parser)
        fixed = searched.fixed_values(parser)
    except OverrideParseException as err:
        raise ConfigError(
            f"{KEY} cannot be parsed ({err}); use choice(...), "
            "range(start, stop, step), interval(low, high) or tag(log, interval(...))."
        ) from err
    return CvSearchSpace(searched, fixed)


def suggest(trial: Any, space: CvSearchSpace) -> dict[str, Any]:
    """Draw every searched parameter for an Optuna trial; fixed values pass through."""
    return {**space.fixed, **space.searched.suggest(trial)}
