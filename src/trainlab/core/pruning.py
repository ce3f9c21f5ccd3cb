"""Optuna pruning for Lightning runs launched by the trainlab sweeper.

The sweeper writes `trainlab_trial: {storage, study_name, number}` into each job's config;
this callback opens that storage (SQLite or journal file, from any process or machine),
reports the monitored metric at each validation end, and raises `optuna.TrialPruned` when the
study's pruner says so. The sweeper then records the trial as PRUNED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import lightning as L

from trainlab.core.optuna_study import PRUNED_ATTR, TrialRef, load_trial
from trainlab.errors import ConfigError

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

STEP_UNITS = ("epoch", "global_step")


class OptunaPruning(L.Callback):
    """Reports `monitor` to the job's Optuna trial and prunes the run when told to.

    Args:
        monitor: metric key as logged, e.g. `val/f1_macro`.
        trial: the job's `trainlab_trial` node; `None` (no sweep) makes the callback do nothing.
        step: what a report's step counts: `epoch` (comparable across batch sizes) or
            `global_step` (for several validations per epoch).
    """

    def __init__(
        self, monitor: str, trial: Mapping[str, Any] | None = None, step: str = "epoch"
    ) -> None:
        if step not in STEP_UNITS:
            raise ConfigError(
                f"callbacks.optuna_pruning.step={step!r} is unknown. Fix: one of {STEP_UNITS}."
            )
        self.monitor = monitor
        self.step = step
        self.ref = TrialRef.from_config(trial)
        self._trial: optuna.trial.Trial | None = None

    @property
    def active(self) -> bool:
        """Whether this run is a trial of a sweep."""
        return self.ref is not None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not self.active or stage != "fit" or not trainer.is_global_zero:
            return
        # Only rank zero talks to the storage; the decision is broadcast to the others.
        self._trial = load_trial(self.ref)
        if len(self._trial.study.directions) > 1:
            raise ConfigError(
                f"trial {self.ref.number} belongs to a multi-objective study; Optuna cannot "
                "prune those. Fix: remove hydra.sweeper.pruner or optimise one objective."
            )
        log.info(
            "trial %d of study %r: reporting %s per %s",
            self.ref.number,
            self.ref.study_name,
            self.monitor,
            self.step,
        )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.active or trainer.sanity_checking:
            return
        prune = False
        step = trainer.current_epoch if self.step == "epoch" else trainer.global_step
        value = None
        if self._trial is not None:
            value = self._current_value(trainer)
            self._trial.report(value, step)
            prune = self._trial.should_prune()
            if prune:
                self._trial.set_user_attr(PRUNED_ATTR, step)
        prune = trainer.strategy.broadcast(prune)
        if prune:
            import optuna

            message = f"trial {self.ref.number} pruned at {self.step} {step}"
            if value is not None:
                message += f" ({self.monitor}={value:.6g})"
            log.info(message)
            raise optuna.TrialPruned(message)

    def _current_value(self, trainer: L.Trainer) -> float:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            known = ", ".join(sorted(trainer.callback_metrics)) or "none"
            raise ConfigError(
                f"callbacks.optuna_pruning.monitor={self.monitor!r} was not logged by "
                f"validation (logged: {known}). Fix: set monitor to one of the logged keys."
            )
        return float(value)
