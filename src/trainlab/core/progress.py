"""Training progress off a terminal, and a model summary in a few plain lines.

On a terminal the Rich bar (``core.callbacks.ThrottledRichProgressBar``) shows each epoch; in a
file, a pipe or a SLURM log it turns itself off and :class:`EpochLines` writes one line per
epoch instead: the losses, the monitored metric with the best so far, and an ETA.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelSummary

from trainlab.core.console import format_duration, stdout_is_terminal

log = logging.getLogger(__name__)


class EpochLines(Callback):
    """One log line per training epoch when standard output is not a terminal.

    Args:
        monitor: The monitored metric (``val/acc``), shown with its best value so far.
        mode: ``max`` or ``min``: which value of ``monitor`` is best.
        terminal_too: Also write the lines on a terminal (where the Rich bar shows progress).
    """

    def __init__(
        self, monitor: str | None = None, mode: str = "max", terminal_too: bool = False
    ) -> None:
        self.monitor = monitor
        self.mode = mode
        self.terminal_too = terminal_too
        self.best: tuple[int, float] | None = None
        self._fit_start: float | None = None
        self._epochs_timed = 0
        self._ended: int | None = None

    def _active(self, trainer: L.Trainer) -> bool:
        return trainer.is_global_zero and (self.terminal_too or not stdout_is_terminal())

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = time.monotonic()
        self._epochs_timed = 0
        self._ended = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The module logs its epoch figures (train/loss) in its own on_train_epoch_end, which
        # runs after this hook: the line is written when the next epoch starts or fit ends.
        self._epochs_timed += 1
        self._ended = trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        ended, self._ended = self._ended, None
        if ended is not None and self._active(trainer):
            log.info("%s", self.line(trainer, ended))

    def line(self, trainer: L.Trainer, epoch: int) -> str:
        """The line of ``epoch``, which just ended."""
        metrics = {k: _number(v) for k, v in trainer.callback_metrics.items()}
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        # numbered from 0 like Lightning's bar, checkpoints and summary.txt ("best at epoch 7")
        head = f"epoch {epoch}/{max_epochs - 1}" if max_epochs else f"epoch {epoch}"
        shown = [k for k in ("train/loss", "val/loss") if k in metrics]
        if self.monitor and self.monitor in metrics and self.monitor not in shown:
            shown.append(self.monitor)
        parts = [head, " ".join(f"{k} {metrics[k]:.4f}" for k in shown)]
        value = metrics.get(self.monitor) if self.monitor else None
        if value is not None and not math.isnan(value):
            better = self.best is None or (
                value > self.best[1] if self.mode == "max" else value < self.best[1]
            )
            if better:
                self.best = (epoch, value)
        if self.best is not None:
            parts.append(f"best {self.best[1]:.4f} at epoch {self.best[0]}")
        if self._fit_start is not None and self._epochs_timed:
            pace = (time.monotonic() - self._fit_start) / self._epochs_timed
            timing = f"{format_duration(pace)}/epoch"
            if max_epochs and epoch + 1 < max_epochs:
                # an upper bound: early stopping may end the run sooner
                timing += f", ETA <= {format_duration(pace * (max_epochs - epoch - 1))}"
            parts.append(timing)
        return " | ".join(p for p in parts if p)

    def state_dict(self) -> dict[str, Any]:
        return {"best": list(self.best) if self.best else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        best = state_dict.get("best")
        self.best = (int(best[0]), float(best[1])) if best else None


class EpochRecord(Callback):
    """Every epoch's train/ and val/ figures, ``{epoch: {metric: value}}``, for the learning
    curves of fits without a CSV logger (CV folds, final models).

    Read when the next epoch starts or fit ends: a module logs its epoch figures after the
    callbacks' ``on_train_epoch_end`` has run, and validation before it.
    """

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, float]] = {}
        self._ended: int | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._ended = trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._take(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._take(trainer)

    def _take(self, trainer: L.Trainer) -> None:
        ended, self._ended = self._ended, None
        if ended is None:
            return
        row = self.epochs.setdefault(ended, {})
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")):
                row[key] = _number(value)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class ModelSummaryLines(ModelSummary):
    """The model's size in a few log lines: total and trainable parameters, one line per module.

    Lightning's Rich summary is 14 lines of table and grid and always ends in ``Total FLOPs: 0``
    (FLOPs are counted only with an example input); here FLOPs show only when counted.
    """

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int = 0,
        **summarize_kwargs: Any,
    ) -> None:
        log.info(
            "%s",
            summary_text(
                summary_data, total_parameters, trainable_parameters, model_size, total_flops
            ),
        )


def summary_text(
    summary_data: list[tuple[str, list[str]]],
    total_parameters: int,
    trainable_parameters: int,
    model_size: float,
    total_flops: int = 0,
) -> str:
    """``model: 94.2 K parameters (94.2 K trainable), 0.38 MB`` and a line per module."""
    from lightning.pytorch.utilities.model_summary.model_summary import get_human_readable_count

    head = (
        f"model: {get_human_readable_count(int(total_parameters))} parameters "
        f"({get_human_readable_count(int(trainable_parameters))} trainable), {model_size:.2f} MB"
    )
    if total_flops:
        head += f", {get_human_readable_count(int(total_flops))} FLOPs"
    columns = dict(summary_data)
    names, types, params = (
        columns.get("Name", []),
        columns.get("Type", []),
        columns.get("Params", []),
    )
    wide = [max((len(x) for x in column), default=0) for column in (names, types, params)]
    rows = [
        f"  {n:<{wide[0]}}  {t:<{wide[1]}}  {p:>{wide[2]}}"
        for n, t, p in zip(names, types, params, strict=False)
    ]
    return "\n".join([head, *rows])
