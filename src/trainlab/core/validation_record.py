"""The metrics of every validation epoch, so a run reports those of the checkpoint it tested.

Lightning's ``callback_metrics`` after ``fit`` hold the LAST epoch's figures, while the test runs
on the BEST checkpoint; putting the two side by side compares different models. This record
keeps each epoch's scalar ``train/`` and ``val/`` metrics, and :func:`tested_and_last` picks the
epoch whose monitored value is the checkpoint callback's best score.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from trainlab.core.artifacts import LAST, LAST_EPOCH, TESTED_EPOCH

log = logging.getLogger(__name__)


def scalar_metrics(metrics: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, float]:
    """The one-number tensors of ``metrics`` whose names start with ``prefixes``."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith(prefixes) and torch.is_tensor(v) and v.numel() == 1
    }


class ValidationRecord(Callback):
    """Each validated epoch's ``val/`` metrics and that epoch's ``train/`` metrics.

    The epoch's training figures are added to its entry when the next epoch starts or fit ends,
    and also when a checkpoint is written at the end of a training epoch: the LightningModule
    logs its epoch figures in its own ``on_train_epoch_end``, after this callback's hook and
    before the monitoring callbacks (``last_checkpoint`` saves there), so ``state_dict`` adds
    them then. A run resumed from ``last.ckpt`` still knows every earlier epoch's figures.
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self._trainer: L.Trainer | None = None
        self._epoch_ended = False

    @property
    def state_key(self) -> str:
        return "ValidationRecord"

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values = scalar_metrics(trainer.callback_metrics, ("val/",))
        self.epochs.append({"epoch": trainer.current_epoch, "metrics": values})

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_ended = True  # the module's own epoch-end logging comes right after

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_ended = False
        self._attach_training_figures(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._attach_training_figures(trainer)

    def _attach_training_figures(self, trainer: L.Trainer) -> None:
        # An epoch's train/ figures are reduced after every on_train_epoch_end hook; they are
        # read when the next epoch starts (current_epoch has moved on by then) or fit ends.
        if self.epochs and self.epochs[-1]["epoch"] == trainer.current_epoch - 1:
            train = scalar_metrics(trainer.callback_metrics, ("train/",))
            self.epochs[-1]["metrics"].update(train)

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        # a save at the end of a training epoch: this epoch's figures are final now
        ended = self._epoch_ended and trainer is not None and self.epochs
        if ended and self.epochs[-1]["epoch"] == trainer.current_epoch:
            train = scalar_metrics(trainer.callback_metrics, ("train/",))
            self.epochs[-1]["metrics"].update(train)
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict.get("epochs", []))

    def epoch_of_score(self, monitor: str, score: float) -> dict[str, Any] | None:
        """The first entry whose ``monitor`` equals ``score`` (ModelCheckpoint keeps the first
        of equal scores), or None."""
        for entry in self.epochs:
            value = entry["metrics"].get(monitor)
            if value is not None and (value == score or math.isclose(value, score, rel_tol=1e-6)):
                return entry
        return None


def tested_and_last(trainer: Any) -> dict[str, float]:
    """Flat metrics: the tested checkpoint's ``val/`` and ``train/`` figures under their own
    names, the last epoch's under ``last_epoch/``, and both epoch numbers.

    When no best checkpoint is known (no checkpoint callback, fast dev run) the test runs on the
    final weights, so the last epoch's figures are also the tested model's.
    """
    last = scalar_metrics(trainer.callback_metrics, ("val/", "train/"))
    record = next((c for c in trainer.callbacks if isinstance(c, ValidationRecord)), None)
    result = {f"{LAST}{k}": v for k, v in last.items()}
    if record is not None and not record.epochs and _best_path(trainer):
        # ddp_spawn fits in child processes and sends back neither this callback's state nor
        # the best score; the best checkpoint carries rank 0's record up to the epoch it was
        # saved at, so its last entry is the tested checkpoint's
        saved = _record_in(_best_path(trainer))
        tested = saved[-1] if saved else None
    else:
        if record is not None and record.epochs:
            result[LAST_EPOCH] = float(record.epochs[-1]["epoch"])
        tested = _tested_entry(trainer, record)
    if tested is not None:
        result.update(tested["metrics"])
        result[TESTED_EPOCH] = float(tested["epoch"])
    elif not _best_path(trainer):
        result.update(last)
        if record is not None and record.epochs:
            result[TESTED_EPOCH] = float(record.epochs[-1]["epoch"])
    else:
        log.warning(
            "the tested checkpoint %s matches no recorded epoch: its validation figures are "
            "not reported (only the last epoch's, under %s)",
            _best_path(trainer),
            LAST,
        )
    return result


def _record_in(path: str) -> list[dict[str, Any]]:
    """The ValidationRecord entries stored in a checkpoint (empty when unreadable)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # an unreadable state is reported as unknown, not fatal
        log.warning("cannot read the validation record of %s: %s", path, err)
        return []
    return list(checkpoint.get("callbacks", {}).get("ValidationRecord", {}).get("epochs", []))


def _best_path(trainer: Any) -> str:
    callback = getattr(trainer, "checkpoint_callback", None)
    return getattr(callback, "best_model_path", "") or ""


def _tested_entry(trainer: Any, record: ValidationRecord | None) -> dict[str, Any] | None:
    callback = getattr(trainer, "checkpoint_callback", None)
    if record is None or callback is None or not _best_path(trainer):
        return None
    score, monitor = getattr(callback, "best_model_score", None), callback.monitor
    if monitor is None:  # no monitor: the "best" checkpoint is the latest one
        return record.epochs[-1] if record.epochs else None
    if score is None:
        return None
    return record.epoch_of_score(monitor, float(score))
