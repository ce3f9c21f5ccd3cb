"""Callbacks the core adds to every run."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, RichProgressBar


class CheckpointMetadata(Callback):
    """Store the resolved config, the data spec, the epoch and its monitored score in every
    checkpoint.

    With these a model is rebuilt from the checkpoint alone (``trainlab predict ckpt_path=...``),
    and ``best.ckpt`` says which epoch it is without a score in its file name (names with ``=``
    need quoting on Hydra's command line). Config and spec are plain data, so the checkpoint
    loads with ``weights_only=True``, and secrets in the config are written as ``***``
    (core.redaction).
    """

    def __init__(
        self,
        config: dict[str, Any],
        spec: dict[str, Any],
        monitor: str | None = None,
        seen_rows: dict[str, Any] | None = None,
        data_digest: str | None = None,
    ) -> None:
        from trainlab.core.checkpoint import plain_data
        from trainlab.core.redaction import redact

        self.config = redact(plain_data(config))
        self.spec = redact(plain_data(spec))
        self.monitor = monitor if monitor is not None else self.config.get("monitor")
        self.seen_rows = seen_rows  # core.seen_rows: what eval must not score as test rows
        self.data_digest = data_digest  # core.data_digest: what a moved-data resume must find

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        score = trainer.callback_metrics.get(self.monitor) if self.monitor else None
        checkpoint["trainlab"] = {
            "config": self.config,
            "spec": self.spec,
            "epoch": int(trainer.current_epoch),
            "global_step": int(trainer.global_step),
            "monitor": self.monitor,
            "score": None if score is None else float(score),
        }
        if self.seen_rows is not None:
            checkpoint["trainlab"]["seen_rows"] = self.seen_rows
        if self.data_digest is not None:
            checkpoint["trainlab"]["data_digest"] = self.data_digest


class MonitorHistory(Callback):
    """Remember the monitored value of each validation epoch, and time spent training.

    Its state goes into checkpoints, so a resumed run still knows its best epoch.
    """

    def __init__(self, monitor: str, mode: str = "max") -> None:
        self.monitor = monitor
        self.mode = mode
        self.history: list[tuple[int, float]] = []
        self.train_seconds = 0.0
        self._epoch_start: float | None = None

    @property
    def state_key(self) -> str:
        return f"MonitorHistory[{self.monitor}]"

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._epoch_start is not None:
            self.train_seconds += time.perf_counter() - self._epoch_start

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            refuse_unlogged_monitors(trainer, pl_module, self.monitor)
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.history.append((trainer.current_epoch, float(value)))

    def best(self) -> tuple[int | None, float | None]:
        """(epoch, value) of the best monitored value so far."""
        finite = [(e, v) for e, v in self.history if not math.isnan(v)]
        if not finite:
            return None, None
        pick = max if self.mode == "max" else min
        return pick(finite, key=lambda item: item[1])

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [tuple(item) for item in state_dict.get("history", [])]
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))


def refuse_unlogged_monitors(
    trainer: L.Trainer, pl_module: L.LightningModule, monitor: str | None
) -> None:
    """After the sanity check: refuse a validation monitor of a kind the model never logs.

    Lightning names such a monitor only after the first whole training and validation epoch
    (`experiment=spectra/small_data` alone keeps train.yaml's `monitor=val/acc`, which the PU
    model does not log: a RuntimeError from EarlyStopping after epoch 0). A monitor is judged by
    its last part against the names the sanity check logged, so a per-task name whose task
    happened to have no label in the sanity batches is not refused; nor is anything when the
    model logged only its loss there.
    """
    from trainlab.errors import ConfigError

    logged = sorted(name for name in trainer.callback_metrics if name.startswith("val/"))
    leaves = {name.rsplit("/", 1)[-1] for name in logged}
    if leaves <= {"loss"}:
        return
    wanted = {("monitor", monitor)} if monitor else set()
    for callback in trainer.callbacks:
        theirs = getattr(callback, "monitor", None)
        if isinstance(theirs, str) and theirs != monitor:
            wanted.add((f"the monitor of {type(callback).__name__}", theirs))
    for key, name in sorted(wanted, key=lambda item: item[0] != "monitor"):
        if not name.startswith("val/") or name in trainer.callback_metrics:
            continue
        if name.rsplit("/", 1)[-1] not in leaves:
            shown = ", ".join(logged[:12]) + (", ..." if len(logged) > 12 else "")
            raise ConfigError(
                f"{key} `{name}` is never logged by {type(pl_module).__name__}: its validation "
                f"logs {shown}. Set monitor (and mode, min for a loss, max for a score) to one "
                "of those"
            )


class ThrottledRichProgressBar(RichProgressBar):
    """Lightning's rich progress bar, fed training progress at the pace it is drawn.

    Lightning's bar updates its task and re-reads the logged metrics after every training batch
    (about 0.1 ms, 1 % of a small model's step on a CPU), although Rich redraws only
    ``refresh_rate`` times a second. This one passes progress on at most that often, and always
    at the last batch of an epoch. Off a terminal it stays off (Rich would print only the
    final frame of each bar, cut at 80 columns); ``core.progress.EpochLines`` writes one line
    per epoch there.

    Args:
        refresh_rate: Redraws per second (0 turns the bar off).
        leave: Keep the bar of each finished epoch on screen.
        only_on_terminal: Stay off when standard output is not a terminal.
    """

    def __init__(
        self, refresh_rate: int = 5, leave: bool = False, only_on_terminal: bool = True
    ) -> None:
        from trainlab.core.console import stdout_is_terminal

        super().__init__(refresh_rate=refresh_rate, leave=leave)
        self._next_update = 0.0
        self._on_terminal = stdout_is_terminal() or not only_on_terminal

    @property
    def is_enabled(self) -> bool:
        return self._on_terminal and super().is_enabled

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        now = time.monotonic()
        if now < self._next_update and batch_idx + 1 < self.total_train_batches:
            return
        self._next_update = now + 1.0 / max(self.refresh_rate, 1)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class DivergenceGuard(Callback):
    """Stop a run whose weights became NaN or infinite, before that epoch is checkpointed.

    A diverged network still yields finite accuracies (argmax of NaN logits is class 0), so
    without this a run with `model.optimizer.lr=1e38` finished with exit status 0 and printed
    test figures of a NaN model. Checked once per validation (before ModelCheckpoint, which
    Lightning runs last) and per training epoch: one `isfinite` per parameter tensor.
    """

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._check(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer, pl_module)

    @staticmethod
    def _check(trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        callback = trainer.checkpoint_callback
        kept = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
        check_finite_weights(
            pl_module,
            trainer.optimizers,
            f"epoch {trainer.current_epoch} (step {trainer.global_step})",
            f"The best checkpoint before it is kept: trainlab eval ckpt_path={kept}"
            if kept
            else "No checkpoint was written before it.",
        )


def check_finite_weights(module: Any, optimizers: Any, when: str, after: str = "") -> None:
    """Raise TrainingDiverged when a parameter of `module` holds NaN or infinite values."""
    import torch

    from trainlab.errors import TrainingDiverged

    params = [p for p in module.parameters() if p.numel()]
    # one sum per tensor and one sync: NaN and inf propagate. 5x cheaper than isfinite().all()
    # per tensor (measured on the k-mer MLP: ~3 % of one training step against ~15 %); a sum
    # that overflows without a non-finite weight is confirmed below and let pass
    if not params or torch.stack([p.detach().sum() for p in params]).sum().isfinite().item():
        return
    bad = next((n for n, p in module.named_parameters() if not torch.isfinite(p).all()), None)
    if bad is None:
        return
    lrs = sorted({g["lr"] for opt in optimizers for g in opt.param_groups})
    raise TrainingDiverged(
        f"training diverged in {when}: parameter {bad!r} holds NaN or infinite values, so "
        f"nothing after this point can be tested or reported. Lower the learning rate (now "
        f"{', '.join(f'{lr:g}' for lr in lrs) or 'unknown'}, e.g. model.optimizer.lr), set "
        "trainer.gradient_clip_val, or check the data for NaN or infinite values. " + after
    )
