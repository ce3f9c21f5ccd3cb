"""Optuna samplers from the sweeper config: by name (tpe, random, ...) or by `_target_`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trainlab.core.optuna_study import build_from_spec, import_target

if TYPE_CHECKING:
    import optuna

    from trainlab.core.search.space import SearchSpace

log = logging.getLogger(__name__)

SAMPLERS = {
    "tpe": "optuna.samplers.TPESampler",
    "random": "optuna.samplers.RandomSampler",
    "cmaes": "optuna.samplers.CmaEsSampler",
    "nsgaii": "optuna.samplers.NSGAIISampler",
    "grid": "optuna.samplers.GridSampler",
    "qmc": "optuna.samplers.QMCSampler",
}
KEY = "hydra.sweeper.sampler"


def resumed_seed(seed: int | None, n_existing: int) -> int | None:
    """The seed of a sampler re-created over a study that already holds `n_existing` trials.

    Without the shift a seeded sampler starts over and proposes the first trials again (its
    random start-up trials come from the same generator state).
    """
    if seed is None or not n_existing:
        return seed
    return int(seed) + int(n_existing)


def build_sampler(
    spec: Mapping[str, Any], search_space: SearchSpace, n_existing: int, key: str = KEY
) -> optuna.samplers.BaseSampler:
    """Builds the sampler; on a resumed study the seed moves on by the trials already there."""
    import optuna

    spec = dict(spec)
    seed = spec.get("seed")
    if seed is not None and n_existing:
        spec["seed"] = resumed_seed(seed, n_existing)
        log.info("resumed study: sampler seed %s -> %s", seed, spec["seed"])
    target = spec.get("_target_") or SAMPLERS.get(spec.get("name", ""), "")
    if target and import_target(target, key) is optuna.samplers.GridSampler:
        spec.setdefault("search_space", search_space.grid())
    return build_from_spec(spec, SAMPLERS, key)
