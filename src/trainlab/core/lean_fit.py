"""A lean fit loop for many short fits on small in-memory data: search trials.

Lightning's Trainer spends about 10 ms per epoch in loop machinery (hooks, closures, result
collection, the evaluation loop's set-up) and ~0.1 s per fit on construction. A k-mer search
trial has epochs of ~30 ms of compute, so that machinery was a third of every trial; a trial
needs none of what it buys (checkpoints, loggers, callbacks, progress bars, resume). Trials
therefore run here: the same LightningModule (`setup`, `configure_optimizers`,
`training_step`, `validation_step`, the epoch-end hooks and `self.log`), driven by Lightning
Fabric, which places the model and applies precision (autocast, gradient scaling) as the
Trainer's plugins do. Whatever ends in a checkpoint or a report goes through the Trainer.

A seeded lean fit draws every random number of an epoch from (seed, epoch), as Trainer runs do
(``trainlab.core.exact_resume``), and with a :class:`LeanCheckpoint` it saves its state at epoch
ends (``trainlab.core.lean_checkpoint``): a fit killed and started again with the same settings
continues and ends bit-identical to the uninterrupted one.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from typing import Any

import torch
from lightning.fabric import Fabric
from lightning.fabric.loggers import Logger
from torch import nn

from trainlab.core import rng_state
from trainlab.core.callbacks import check_finite_weights
from trainlab.core.exact_resume import loader_generators
from trainlab.core.fault_injection import point_hook
from trainlab.core.lean_checkpoint import LeanCheckpoint, StateSaver
from trainlab.errors import ConfigError

__all__ = ["LeanCheckpoint", "LeanFitSettings", "lean_fit", "lean_fit_unsupported"]


@dataclass
class LeanFitSettings:
    """What of the Trainer's settings a lean fit honours.

    Args:
        max_epochs: epochs at most.
        monitor: logged key early stopping and the best epoch are decided on.
        mode: ``max`` or ``min``.
        patience: stop after this many epochs without a strict improvement (as
            Lightning's EarlyStopping with ``min_delta=0``); a non-finite monitor stops too.
        accelerator: ``cpu``, ``gpu``, ``cuda``, ``mps`` or ``auto``.
        precision: a resolved Lightning precision (``32-true``, ``bf16-mixed``, ``16-mixed``).
        gradient_clip_val: clip gradients at this value (None: no clipping).
        gradient_clip_algorithm: ``norm`` or ``value``.
        seed: reseed every epoch from (seed, epoch), so an epoch's draws (batch order,
            dropout) do not depend on what ran before it; None: no reseeding.
        checkpoint: save the fit's state at epoch ends and continue from a saved one
            (needs ``seed``).
        name: the fit's name in fault-injection points (tests only).
    """

    max_epochs: int
    monitor: str
    mode: str = "max"
    patience: int | None = None
    accelerator: str = "auto"
    precision: str = "32-true"
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    seed: int | None = None
    checkpoint: LeanCheckpoint | None = None
    name: str = "lean"

    def fingerprint(self) -> str:
        """What a saved state must have been written with to be continued."""
        fixed = (
            self.max_epochs, self.monitor, self.mode, self.patience, self.precision,
            self.gradient_clip_val, self.gradient_clip_algorithm, self.seed,
        )  # fmt: skip
        extra = self.checkpoint.fingerprint if self.checkpoint else ""
        return f"{fixed!r}|{extra}"


def lean_fit_unsupported(trainer_cfg: Any) -> str | None:
    """Why a Trainer config cannot run as a lean fit (None when it can)."""
    devices = trainer_cfg.get("devices", 1)
    if devices not in (1, "1", None, "auto"):
        return f"trainer.devices={devices} (a lean fit uses one device)"
    accumulate = trainer_cfg.get("accumulate_grad_batches", 1) or 1
    if int(accumulate) != 1:
        return f"trainer.accumulate_grad_batches={accumulate}"
    if trainer_cfg.get("deterministic"):
        return "deterministic=true (the Trainer sets torch's deterministic algorithms)"
    return None


class EpochRecorder(Logger):
    """Fabric logger keeping the values a module logs, one row per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[dict[str, float]] = []

    @property
    def name(self) -> str:
        return "lean_fit"

    @property
    def version(self) -> int:
        return 0

    def start_epoch(self, epoch: int) -> None:
        self.epochs.append({"epoch": float(epoch)})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.epochs[-1].update({key: float(value) for key, value in metrics.items()})

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


def freeze_long_lived_objects() -> None:
    """Keep what exists now (imported modules, the config, the loaded data) out of Python's
    full garbage collections; call once before many fits.

    After torch, Lightning, Optuna and pandas are imported a process holds ~500k objects, and
    a full collection walks them all (~250 ms here); the objects a fit creates set one off
    every few fits, ~5% of a search trial. Garbage is collected first, so none is kept.
    """
    gc.collect()
    gc.freeze()


def lean_fit(module: Any, datamodule: Any, settings: LeanFitSettings) -> list[dict[str, float]]:
    """Train `module` on `datamodule`'s train split, validating every epoch.

    The module must use automatic optimization with one optimizer and log its epoch metrics
    from hooks (the way trainlab's LightningModules do). Batches are moved to the device when
    they are not there; in-memory batch iterators make this loop free of DataLoader overhead.

    Returns:
        One row per epoch: ``epoch`` and every value the module logged in that epoch.
    """
    if not module.automatic_optimization:
        raise ConfigError(
            f"{type(module).__name__} uses manual optimization: fit it with a Trainer"
        )
    if settings.mode not in ("max", "min"):
        raise ConfigError(f"mode={settings.mode!r}: use 'max' or 'min'")
    recorder = EpochRecorder()
    fabric = Fabric(
        accelerator=settings.accelerator,
        devices=1,
        precision=settings.precision,
        loggers=[recorder],
    )
    # modules read their DataModule as `self.trainer.datamodule` in `setup`; under Fabric
    # `self.trainer` forwards attribute reads to the Fabric object. DataModules read the
    # device as `self.trainer.strategy.root_device`, which Fabric has too.
    fabric.datamodule = datamodule
    attached = datamodule.trainer
    datamodule.trainer = fabric
    try:
        return _fit(fabric, recorder, module, datamodule, settings)
    finally:
        datamodule.trainer = attached


def _fit(
    fabric: Fabric, recorder: EpochRecorder, module: Any, datamodule: Any, settings: LeanFitSettings
) -> list[dict[str, float]]:
    datamodule.setup("fit")
    module = fabric.setup_module(module)
    lightning_module = module.module
    lightning_module.setup("fit")
    optimizer, scheduler, interval, scheduler_monitor = _optimizers(lightning_module)
    optimizer = fabric.setup_optimizers(optimizer)
    train_batches = datamodule.train_dataloader()
    val_batches = datamodule.val_dataloader()
    modes = _TrainingModes(lightning_module)
    sign = 1.0 if settings.mode == "max" else -1.0
    loop = _LoopState()
    saver = _saver(settings)
    parts = _Parts(lightning_module, optimizer.optimizer, scheduler, _scaler(fabric))
    saved = saver.load() if saver is not None else None
    if saved is not None:
        loop = parts.restore(saved, recorder)
    hook = point_hook()

    lightning_module.on_fit_start()
    last_epoch = loop.next_epoch if loop.finished else settings.max_epochs
    for epoch in range(loop.next_epoch, last_epoch):  # none left when the saved fit ended
        recorder.start_epoch(epoch)
        modes.set(True)
        if settings.seed is not None:
            _reseed(settings.seed, epoch, train_batches)
        lightning_module.on_train_epoch_start()
        for index, batch in enumerate(train_batches):
            batch = fabric.to_device(batch)  # no-op for in-memory batches already there
            with fabric.autocast():
                loss = lightning_module.training_step(batch, index)
            if isinstance(loss, dict):
                loss = loss["loss"]
            optimizer.zero_grad(set_to_none=True)
            fabric.backward(loss)
            _clip(fabric, module, optimizer, settings)
            optimizer.step()
            if scheduler is not None and interval == "step":
                scheduler.step()
            if hook is not None:
                hook(f"lean_batch:{settings.name}:{epoch}:{index}")
        modes.set(False)
        lightning_module.on_validation_epoch_start()
        with torch.no_grad(), fabric.autocast():
            for index, batch in enumerate(val_batches):
                lightning_module.validation_step(fabric.to_device(batch), index)
        # a NaN network still scores (argmax picks class 0): refuse it before its score counts
        check_finite_weights(lightning_module, [optimizer], f"{settings.name} epoch {epoch}")
        lightning_module.on_validation_epoch_end()
        lightning_module.on_train_epoch_end()
        row = recorder.epochs[-1]
        if scheduler is not None and interval == "epoch":
            _step_epoch_scheduler(scheduler, scheduler_monitor, row)
        score = row.get(settings.monitor)
        if score is None:
            raise ConfigError(
                f"the module logged no {settings.monitor!r} (logged: {sorted(row)}); "
                "set the monitor to a key it logs"
            )
        stop = _early_stop(loop, sign * score, settings.patience)
        loop.next_epoch = epoch + 1
        loop.finished = stop or loop.next_epoch >= settings.max_epochs
        if saver is not None and saver.due():
            saver.save(parts.state(loop, recorder))
        if hook is not None:
            hook(f"lean_epoch_end:{settings.name}:{epoch}")
        if stop:
            break
    lightning_module.on_fit_end()
    modes.set(True)
    return recorder.epochs


@dataclass
class _LoopState:
    """Where the epoch loop stands: next epoch, early-stopping state, whether it ended."""

    next_epoch: int = 0
    best: float = -math.inf  # the monitor, signed so that higher is better
    wait: int = 0
    finished: bool = False


def _early_stop(loop: _LoopState, signed_score: float, patience: int | None) -> bool:
    """Update the early-stopping state with this epoch's score; whether to stop."""
    if not math.isfinite(signed_score):
        return True
    if signed_score > loop.best:
        loop.best, loop.wait = signed_score, 0
        return False
    loop.wait += 1
    return patience is not None and loop.wait >= patience


def _reseed(seed: int, epoch: int, train_batches: Any) -> None:
    # the same derivation as trainlab.core.exact_resume.ExactResume (stream 0: globals,
    # stream 1: the training loader), so a seeded lean fit and a Trainer fit draw alike
    rng_state.reseed_globals(rng_state.derived_seed(seed, epoch, 0))
    for generator in loader_generators(train_batches):
        generator.manual_seed(rng_state.derived_seed(seed, epoch, 1, 0))


def _saver(settings: LeanFitSettings) -> StateSaver | None:
    if settings.checkpoint is None:
        return None
    if settings.seed is None:
        raise ConfigError(
            f"a lean fit saving its state to {settings.checkpoint.path} needs a seed (the "
            "draws of a continued epoch must repeat): pass LeanFitSettings(seed=...)"
        )
    return StateSaver(settings.checkpoint, settings.fingerprint())


def _scaler(fabric: Fabric) -> Any:
    # 16-mixed precision scales gradients; its scale and growth tracker decide later steps
    return getattr(fabric.strategy.precision, "scaler", None)


@dataclass
class _Parts:
    """What a lean fit's state holds besides the loop: module, optimizer, scheduler, scaler."""

    module: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any

    def state(self, loop: _LoopState, recorder: EpochRecorder) -> dict[str, Any]:
        return {
            "next_epoch": loop.next_epoch,
            "best": loop.best,
            "wait": loop.wait,
            "finished": loop.finished,
            "history": [dict(row) for row in recorder.epochs],
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_state.capture(),
        }

    def restore(self, state: dict[str, Any], recorder: EpochRecorder) -> _LoopState:
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        rng_state.restore(state["rng"])
        recorder.epochs = [dict(row) for row in state["history"]]
        return _LoopState(state["next_epoch"], state["best"], state["wait"], state["finished"])


def _optimizers(module: Any) -> tuple[torch.optim.Optimizer, Any, str, str | None]:
    configured = module.configure_optimizers()
    if isinstance(configured, torch.optim.Optimizer):
        return configured, None, "epoch", None
    optimizer = configured.get("optimizer") if isinstance(configured, dict) else None
    if isinstance(optimizer, torch.optim.Optimizer):
        scheduler = configured.get("lr_scheduler")
        if isinstance(scheduler, dict):
            return (
                optimizer,
                scheduler["scheduler"],
                scheduler.get("interval", "epoch"),
                scheduler.get("monitor"),
            )
        return optimizer, scheduler, "epoch", None
    raise ConfigError(
        f"{type(module).__name__}.configure_optimizers returned {type(configured).__name__}; a "
        "lean fit takes one optimizer, optionally with one scheduler: fit it with a Trainer"
    )


def _step_epoch_scheduler(scheduler: Any, monitor: str | None, row: dict[str, float]) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        if monitor not in row:
            raise ConfigError(
                f"ReduceLROnPlateau monitors {monitor!r}, which the module did not log "
                f"(logged: {sorted(row)})"
            )
        scheduler.step(row[monitor])
    else:
        scheduler.step()


def _clip(fabric: Fabric, module: Any, optimizer: Any, settings: LeanFitSettings) -> None:
    if not settings.gradient_clip_val:
        return
    if settings.gradient_clip_algorithm == "value":
        fabric.clip_gradients(module, optimizer, clip_val=settings.gradient_clip_val)
    else:
        fabric.clip_gradients(
            module, optimizer, max_norm=settings.gradient_clip_val, error_if_nonfinite=False
        )


class _TrainingModes:
    """`module.train(flag)` without walking the module tree every time.

    A LightningModule holding a dozen metric objects has ~50 submodules; the recursive walk
    costs ~0.3 ms, twice an epoch. Modules that override `train` still get their own call.
    """

    def __init__(self, module: nn.Module) -> None:
        self.plain: list[nn.Module] = []
        self.custom: list[nn.Module] = []
        for sub in module.modules():
            overridden = type(sub).train is not nn.Module.train
            (self.custom if overridden else self.plain).append(sub)

    def set(self, training: bool) -> None:
        # `training` is a plain attribute: nn.Module.__setattr__'s parameter/module/buffer
        # checks cost ~1 us per submodule, ~0.1 ms an epoch for a k-mer trial's ~50
        for sub in self.plain:
            object.__setattr__(sub, "training", training)
        for sub in self.custom:
            sub.train(training)
