"""One fit on chosen rows: the unit every trial, fold retrain and final training is made of."""

from __future__ import annotations

import functools
import logging
import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig

from trainlab.core.build import build_model
from trainlab.core.callbacks import CheckpointMetadata, DivergenceGuard
from trainlab.core.exact_resume import ExactResume
from trainlab.core.fault_injection import kill_callbacks
from trainlab.core.hardware import hardware_report, resolve_precision
from trainlab.core.lean_fit import LeanCheckpoint, LeanFitSettings, lean_fit, lean_fit_unsupported
from trainlab.core.loggers import as_plain

MODES = ("max", "min")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Monitor:
    """The key (`monitor`) that is the CV objective, picks the epoch and stops early."""

    key: str
    mode: str

    @property
    def direction(self) -> str:
        """Optuna's name for the mode."""
        return "maximize" if self.mode == "max" else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether score `a` beats `b`."""
        return a > b if self.mode == "max" else a < b


def monitor_of(cfg: DictConfig) -> Monitor:
    """`monitor` and `cv.monitor_mode` of a CV config."""
    from trainlab.errors import ConfigError

    key = cfg.get("monitor")
    mode = cfg.cv.get("monitor_mode", "max")
    if not key or not str(key).startswith("val/"):
        raise ConfigError(
            f"monitor={key!r}: the CV objective must be a validation key such as "
            "val/f1_weighted or val/<task>/f1_macro (search, epoch choice and early stopping "
            "read it)."
        )
    if mode not in MODES:
        raise ConfigError(f"cv.monitor_mode={mode!r}: use max or min.")
    return Monitor(str(key), str(mode))


def trial_config(cfg: DictConfig, params: dict[str, Any]) -> DictConfig:
    """The config of one search trial: `params` applied, lean metric logging.

    A search reads only the monitor (and a scheduler its own key): log nothing else (each
    logged key costs Lightning 1-5 ms per epoch, a large share of an epoch of a small MLP).
    """
    from omegaconf import open_dict

    from trainlab.pipelines.kmer_cv.params import apply_params

    out = apply_params(cfg, params)
    logged = [monitor_of(cfg).key]
    if out.model.get("scheduler") is not None:
        logged.append(str(out.model.get("scheduler_monitor") or "val/loss"))
    # set on the copy: a second apply_params copied the whole config again (~4 ms a trial)
    with open_dict(out):
        out.model.logged_metrics = list(dict.fromkeys(logged))
    return out


@dataclass
class FitResult:
    """Best validation score and epoch, per-epoch history, test metrics, checkpoint."""

    best_score: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    test_metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None


class EpochHistory(Callback):
    """Validation (and training) metrics of every epoch, as plain floats."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": float(trainer.current_epoch)}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")) and torch.is_tensor(value) and value.numel() == 1:
                row[key] = float(value)
        self.epochs.append(row)

    def best(self, monitor: Monitor) -> tuple[float, int]:
        return best_epoch(self.epochs, monitor)


def best_epoch(epochs: list[dict[str, float]], monitor: Monitor) -> tuple[float, int]:
    """Best `monitor` value over per-epoch rows and its (first) epoch; (nan, -1) when none."""
    scored = [(r[monitor.key], int(r["epoch"])) for r in epochs if monitor.key in r]
    scored = [(s, e) for s, e in scored if not math.isnan(s)]
    if not scored:
        return float("nan"), -1
    best = scored[0]
    for item in scored[1:]:
        if monitor.better(item[0], best[0]):
            best = item
    return best


def fit_rows(
    cfg: DictConfig,
    datamodule: Any,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray | None = None,
    max_epochs: int = 50,
    patience: int = 10,
    checkpoint_dir: Path | None = None,
    lean: bool = False,
    seed: int | None = None,
    lean_checkpoint: LeanCheckpoint | None = None,
    name: str = "lean",
) -> FitResult:
    """Train on `train`, select the epoch on `val`, optionally test the best epoch on `test`.

    With `checkpoint_dir`, the best epoch is saved as `best.ckpt` and the last as `last.ckpt`
    (the names every trainlab run uses), carrying the config and data spec (so `trainlab
    predict` and `load_from_checkpoint` rebuild them); the test fold never chooses the epoch.
    With `lean` (search trials: no checkpoint, no test), the fit runs in the lean Fabric loop
    of `trainlab.core.lean_fit` when the trainer config allows it, else through the Trainer.
    With `seed`, torch is seeded first (initial weights) and every epoch's draws (batch order,
    dropout) come from (seed, epoch), in the lean loop and through the Trainer alike: a fit
    then gives the same result whatever ran before it in the process (sequential or parallel
    folds, resumes). A lean fit with `lean_checkpoint` saves its state at epoch ends and, started
    again after a kill, continues from it (`name` names it in fault-injection points).
    """
    from trainlab.core.plots import write_epoch_curves
    from trainlab.core.progress import EpochRecord
    from trainlab.core.trainer_factory import build_trainer

    datamodule.use_rows(train, val, test)
    datamodule.batch_size = int(cfg.data.batch_size)
    spec = datamodule.spec()
    if seed is not None:
        torch.manual_seed(seed)
    model = build_model(cfg, spec)
    monitor = monitor_of(cfg)
    if lean and checkpoint_dir is None and test is None:
        reason = lean_fit_unsupported(_trainer_settings(cfg))
        if reason is None:
            settings = _lean_settings(cfg, max_epochs, patience, monitor)
            settings.seed, settings.checkpoint, settings.name = seed, lean_checkpoint, name
            return _lean_fit_rows(model, datamodule, settings, monitor)
        _warn_not_lean(reason)
    history = EpochHistory()
    callbacks: list[Callback] = [
        history,
        EarlyStopping(monitor=monitor.key, mode=monitor.mode, patience=patience),
        DivergenceGuard(),
        *kill_callbacks(),
    ]
    if seed is not None:  # the lean loop's per-epoch draws (trainlab.core.exact_resume)
        callbacks.append(ExactResume(seed))
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = ModelCheckpoint(
            dirpath=str(checkpoint_dir),
            filename="best",
            monitor=monitor.key,
            mode=monitor.mode,
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )
        callbacks += [checkpoint, CheckpointMetadata(as_plain(cfg), spec, monitor=monitor.key)]
        callbacks.append(record := EpochRecord())  # learning_curves.png beside best.ckpt
    with tempfile.TemporaryDirectory(prefix="trainlab_fit_") as scratch:
        trainer = build_trainer(
            {},
            accelerator=cfg.trainer.get("accelerator", "auto"),
            devices=1,
            precision=resolve_precision(cfg.trainer.get("precision"), _hardware()),
            max_epochs=max_epochs,
            logger=False,
            callbacks=callbacks,
            enable_checkpointing=checkpoint is not None,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            deterministic=bool(cfg.get("deterministic", False)),
            gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
            gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm",
            accumulate_grad_batches=int(cfg.trainer.get("accumulate_grad_batches") or 1),
            default_root_dir=scratch,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(log_every_n_steps|num_workers).*")
            trainer.fit(model, datamodule=datamodule)
            best_score, best_epoch = history.best(monitor)
            result = FitResult(best_score, best_epoch, history.epochs)
            if checkpoint is not None and checkpoint.best_model_path:
                result.checkpoint = Path(checkpoint.best_model_path)
            if checkpoint_dir is not None:
                title = Path(checkpoint_dir).name
                write_epoch_curves(checkpoint_dir, record.epochs, monitor.key, monitor.mode, title)
            if test is not None:
                ckpt = str(result.checkpoint) if result.checkpoint else None
                tested = trainer.test(
                    model, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True
                )
                row = tested[0] if tested else {}
                result.test_metrics = {k: float(v) for k, v in row.items()}
    return result


def fit_seed(*parts: int) -> int:
    """A torch seed derived from integers (fold seed, trial number, inner split ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _lean_settings(
    cfg: DictConfig, max_epochs: int, patience: int, monitor: Monitor
) -> LeanFitSettings:
    return LeanFitSettings(
        max_epochs=max_epochs,
        monitor=monitor.key,
        mode=monitor.mode,
        patience=patience,
        accelerator=cfg.trainer.get("accelerator", "auto"),
        precision=resolve_precision(cfg.trainer.get("precision"), _hardware()),
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm",
    )


def _lean_fit_rows(
    model: Any, datamodule: Any, settings: LeanFitSettings, monitor: Monitor
) -> FitResult:
    epochs = lean_fit(model, datamodule, settings)
    return FitResult(*best_epoch(epochs, monitor), epochs)


def _trainer_settings(cfg: DictConfig) -> dict[str, Any]:
    return {**cfg.trainer, "deterministic": bool(cfg.get("deterministic", False))}


@functools.cache
def _warn_not_lean(reason: str) -> None:
    log.info("search trials fit through the Lightning Trainer: %s", reason)


@functools.cache
def _hardware() -> dict[str, Any]:
    # probing devices costs ~10 ms; a search fits hundreds of times in one process
    return hardware_report()
