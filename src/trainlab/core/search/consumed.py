"""Does the composed config consume a searched key? A search over an ignored key wastes every
trial (and its values end up in the results as if they had mattered).

A key is consumed when the config holds it, or when the nearest node above it that names a
`_target_` takes the next part of the key as an argument (by name, or through `**kwargs`).
Arguments that are mappings keyed by the data (`model.task_weights.<task>`) are checked against
the config's list of those keys (`data.tasks`) when it has one (KEYED_BY_DATA), and by the
component itself when it is built (see `MultiHeadClassifier`); the k-mer CV also builds its
model once with a point of the space before the first trial (trainlab.pipelines.kmer_cv).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.optuna_study import import_target
from trainlab.errors import ConfigError

_ABSENT = object()
# constructor arguments that are mappings keyed by the data -> the config key listing the keys
KEYED_BY_DATA = {"task_weights": "data.tasks"}


def unconsumed_keys(cfg: DictConfig, keys: Iterable[str]) -> dict[str, str]:
    """Searched key -> why the config does not use it, for each key it does not use."""
    found = {}
    for key in keys:
        why = _why_unconsumed(cfg, key.lstrip("+~"))
        if why:
            found[key] = why
    return found


def check_consumed(cfg: DictConfig, keys: Iterable[str], where: str) -> None:
    """Raise a ConfigError naming every searched key the config does not use.

    Args:
        cfg: the composed config the trials start from.
        keys: the searched config keys (dotted).
        where: the config key of the search space, for the fix.
    """
    found = unconsumed_keys(cfg, keys)
    if found:
        lines = "\n".join(f"  {key}: {why}" for key, why in found.items())
        raise ConfigError(
            f"the search space names keys this config does not use, so every trial would "
            f"sample values that change nothing:\n{lines}\nFix: remove them from {where} "
            "(on the command line: ~<search space key>.<dotted key>, see docs/sweeps.md), or "
            "correct the key."
        )


def _why_unconsumed(cfg: DictConfig, key: str) -> str | None:
    parts = key.split(".")
    if len(parts) >= 2 and parts[-2] in KEYED_BY_DATA:
        # also when the config holds the key: a default weight for a task the data lacks
        why = _why_not_a_data_key(cfg, parts[-2:], ".".join(parts[:-2]))
        if why:
            return why
    if _select(cfg, key) is not _ABSENT:
        return None
    for depth in range(len(parts) - 1, 0, -1):
        node = _select(cfg, ".".join(parts[:depth]))
        if node is _ABSENT or node is None:
            continue
        if not isinstance(node, DictConfig):
            return f"{'.'.join(parts[:depth])} is a value, not a node with keys"
        target = node.get("_target_")
        if target is None:
            continue
        return _why_not_accepted(str(target), parts[depth], ".".join(parts[:depth]))
    return f"no such key in the config, and no component (_target_) above it takes {parts[-1]!r}"


def _why_not_accepted(target: str, argument: str, node_key: str) -> str | None:
    try:
        parameters = inspect.signature(import_target(target, f"{node_key}")).parameters
    except (ConfigError, TypeError, ValueError):
        return None  # cannot inspect it: the trial's own build reports a wrong argument
    if argument in parameters:
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    named = sorted(n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL)
    return f"{node_key} ({target}) takes no argument {argument!r}; it takes {named}"


def _why_not_a_data_key(cfg: DictConfig, rest: list[str], node_key: str) -> str | None:
    """`<node>.task_weights.<name>`: `name` must be in `data.tasks` when the config lists them."""
    listed = KEYED_BY_DATA[rest[0]]
    names = _select(cfg, listed)
    if names is _ABSENT or isinstance(names, str) or not isinstance(names, Iterable):
        return None
    names = [str(n) for n in names]
    if rest[1] in names:
        return None
    return f"{node_key}.{rest[0]} is keyed by {listed} = {names}; {rest[1]!r} is not one of them"


def _select(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False)
    except Exception:  # an interpolation that cannot resolve here: the key exists
        return None
