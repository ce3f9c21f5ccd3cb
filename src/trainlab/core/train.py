"""One training run: build from config -> fit -> test -> reports and artifacts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from trainlab.core import run_lock, seen_rows
from trainlab.core.allowlist import instantiate  # Hydra's, after the allowlist check
from trainlab.core.artifacts import set_status, write_run_metadata, write_summary
from trainlab.core.baselines import baseline_warnings, run_baselines
from trainlab.core.build import build_datamodule, build_model, build_named
from trainlab.core.callbacks import CheckpointMetadata, DivergenceGuard, MonitorHistory
from trainlab.core.checkpoint import check_embedded_config
from trainlab.core.checkpoint_io import preload
from trainlab.core.console import finished_text, route_lightning_logs, stdout_is_terminal
from trainlab.core.data_digest import check_moved_data, data_digest
from trainlab.core.exact_resume import ExactResume
from trainlab.core.fault_injection import kill_callbacks
from trainlab.core.hardware import (
    format_report,
    hardware_report,
    loader_defaults,
    resolve_precision,
)
from trainlab.core.loggers import (
    as_plain,
    close_loggers,
    pin_logger_runs,
    remember_logger_runs,
    tensorboard_of,
)
from trainlab.core.plots import write_learning_curves
from trainlab.core.privacy_config import check_privacy_config
from trainlab.core.ranks import data_ready, started_rank, wait_for_data
from trainlab.core.reports import collect_predictions, write_classification_reports
from trainlab.core.resume import (
    refuse_changed_settings,
    refuse_escaping_checkpoint_paths,
    relocate_checkpoint_paths,
    resume_checkpoint,
)
from trainlab.core.run_dir import refuse_links
from trainlab.core.run_outcome import record_status, sigterm_as_exit
from trainlab.core.seeding import seed_everything
from trainlab.core.spawn_results import epochs_and_history
from trainlab.core.tracker_hooks import SendHyperparameters
from trainlab.core.trainer_factory import build_trainer
from trainlab.core.validation_record import ValidationRecord, tested_and_last
from trainlab.io import atomic_write_json

log = logging.getLogger(__name__)


def train(cfg: DictConfig, overrides: list[str]) -> dict[str, float]:
    """Run one training and return its final metrics (also written to ``metrics.json``)."""
    check_privacy_config(cfg)
    run_dir = Path(cfg.paths.output_dir)
    # DDP ranks started by SLURM or torchrun each run this; rank 0 owns the folder (core.ranks)
    rank = started_rank(cfg.trainer)
    follower = bool(rank)
    # a single run holds its folder since Hydra chose it; a sweep job claims its subfolder here
    refuse_links(run_dir)
    if not follower:
        run_lock.claim(run_dir)
    moved: list[str] = []
    resume_ckpt, loaded = resume_checkpoint(
        run_dir, cfg.get("resume"), bool(cfg.get("resume_finished"))
    )
    if resume_ckpt:
        check_embedded_config(loaded, resume_ckpt)  # allowed targets: before any work
        moved = refuse_changed_settings(
            loaded, as_plain(cfg), resume_ckpt, bool(cfg.get("resume_data_moved"))
        )
        refuse_escaping_checkpoint_paths(loaded, resume_ckpt)
        relocate_checkpoint_paths(loaded, run_dir)
    route_lightning_logs()
    hardware = hardware_report()
    log.info("run folder: %s\n%s", run_dir, format_report(hardware))
    seed_everything(cfg.seed, cfg.deterministic, cfg.cudnn_benchmark)
    checked = None
    if resume_ckpt and moved:
        # the data at its new place, checked before anything of the run folder is written
        checked = build_datamodule(cfg.data, loader_defaults(hardware))
        checked.prepare_data()
        check_moved_data(loaded, data_digest(checked), moved, resume_ckpt)
    started = time.time()
    if follower:
        wait_for_data(run_dir)
    else:
        write_run_metadata(run_dir, cfg, overrides, hardware)
        set_status(run_dir, "running", experiment=cfg.get("experiment_name"))
    parts: RunParts | None = None
    outcome = "failed"
    try:
        with sigterm_as_exit():
            parts = build_run(cfg, run_dir, hardware, checked)
            if rank == 0:
                data_ready(run_dir)
            preload(parts.trainer, resume_ckpt, loaded)  # read once: the check's copy
            loaded = None  # the Trainer's now; not kept for the whole run
            metrics = _fit_and_test(cfg, run_dir, resume_ckpt, parts, started)
        outcome = "interrupted" if parts.trainer.interrupted else "finished"
    except (KeyboardInterrupt, SystemExit):
        # Lightning turns Ctrl+C into a graceful stop followed by SystemExit; SIGTERM too here.
        outcome = "interrupted"
        if not follower:
            record_status(run_dir, "interrupted")
        raise
    except BaseException as err:
        if not follower:
            record_status(run_dir, "failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        if parts is not None:
            try:
                if not follower:
                    remember_logger_runs(parts.loggers, cfg.get("logger"), run_dir)
            except OSError as err:  # a full disk must not hide the run's own error
                log.warning("could not save the logger run ids: %s", err)
            close_loggers(parts.loggers, outcome, run_dir)
    return metrics


@dataclass
class RunParts:
    """Everything one run trains with, built from its config."""

    datamodule: Any
    model: Any
    trainer: Any
    loggers: list[Any]
    history: MonitorHistory
    data_digest: str | None = None  # core.data_digest, recorded in the checkpoints


def build_run(
    cfg: DictConfig, run_dir: Path, hardware: dict[str, Any], datamodule: Any = None
) -> RunParts:
    """Build the DataModule (set up for fit), model, callbacks, loggers and Trainer of a run.

    The one place that turns a composed train config into Lightning objects: training and the
    overhead benchmark (benchmarks/overhead.py) both go through it. ``datamodule``: one
    already built from ``cfg.data`` (a moved-data resume checks it first).
    """
    if datamodule is None:
        datamodule = build_datamodule(cfg.data, loader_defaults(hardware))
    datamodule.prepare_data()
    datamodule.setup("fit")
    spec = datamodule.spec()
    model = build_model(cfg, spec)
    history = MonitorHistory(cfg.monitor, cfg.mode)
    digest = data_digest(datamodule)
    metadata = CheckpointMetadata(
        as_plain(cfg), spec, seen_rows=seen_rows.record(datamodule), data_digest=digest
    )
    callbacks = [
        *build_named(cfg.get("callbacks")),
        metadata,
        history,
        DivergenceGuard(),
        ValidationRecord(),
        ExactResume(cfg.seed),
        SendHyperparameters(as_plain(cfg)),
        *kill_callbacks(),
    ]
    if cfg.get("privacy"):
        callbacks.append(instantiate(cfg.privacy, _convert_="all"))
    pin_logger_runs(cfg.get("logger"), run_dir)
    loggers = build_named(cfg.get("logger"))
    if not loggers:
        callbacks = _without_logging_callbacks(callbacks)
    precision = resolve_precision(cfg.trainer.get("precision"), hardware)
    if cfg.get("privacy") and str(cfg.trainer.get("precision")) == "auto":
        precision = "32-true"  # Opacus' per-sample gradients need 32-bit training
    trainer = build_trainer(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        precision=precision,
        default_root_dir=str(run_dir),
    )
    return RunParts(datamodule, model, trainer, loggers, history, digest)


def _without_logging_callbacks(callbacks: list[Any]) -> list[Any]:
    # Lightning refuses a LearningRateMonitor without a logger (a traceback for `logger=[]`):
    # with nothing to write to, it is left out, and the log says so
    from lightning.pytorch.callbacks import LearningRateMonitor

    kept = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if len(kept) < len(callbacks):
        log.info("no logger (logger=[]): the learning-rate monitor is left out")
    return kept


def _fit_and_test(
    cfg: DictConfig,
    run_dir: Path,
    resume_ckpt: str | None,
    parts: RunParts,
    started: float,
) -> dict[str, float]:
    datamodule, model, trainer = parts.datamodule, parts.model, parts.trainer
    loggers, history = parts.loggers, parts.history
    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume_ckpt, weights_only=True)
        if trainer.is_global_zero:
            remember_logger_runs(loggers, cfg.get("logger"), run_dir)
        metrics.update(_validation_metrics(trainer))
    best_path = _best_checkpoint(trainer)
    if cfg.get("test", True) and trainer.state.status.value != "interrupted":
        verbose = stdout_is_terminal()  # off a terminal the finished lines carry the test figures
        results = trainer.test(
            model, datamodule=datamodule, ckpt_path=best_path, weights_only=True, verbose=verbose
        )
        metrics.update({k: float(v) for k, v in (results[0] if results else {}).items()})
    if trainer.interrupted:
        if trainer.is_global_zero:
            record_status(run_dir, "interrupted")
        return metrics
    if trainer.is_global_zero:
        _write_reports(
            cfg,
            run_dir,
            model,
            datamodule,
            best_path,
            loggers,
            trainer.global_step,
            _debug_batches(trainer),
        )
        baselines = (
            run_baselines(cfg, run_dir, model, datamodule) if cfg.get("test", True) else None
        )
        _finish(cfg, run_dir, trainer, history, best_path, metrics, started, baselines)
    return metrics


def _best_checkpoint(trainer: Any) -> str | None:
    callback = getattr(trainer, "checkpoint_callback", None)
    path = getattr(callback, "best_model_path", "") if callback is not None else ""
    return path or None


def _validation_metrics(trainer: Any) -> dict[str, float]:
    # the tested (best) checkpoint's figures, not the last epoch's (those: last_epoch/...)
    return tested_and_last(trainer)


def _write_reports(
    cfg: DictConfig,
    run_dir: Path,
    model: Any,
    datamodule: Any,
    best_path: str | None,
    loggers: list[Any],
    step: int,
    max_batches: int | None = None,
) -> None:
    """Classification reports and confusion matrices of the best model on every split.

    `max_batches` (a fast dev run's batch count) reads only that many batches per split.
    """
    from trainlab.data.contract import DataModuleContract

    if not (isinstance(datamodule, DataModuleContract) and hasattr(model, "tasks")):
        return
    if best_path:
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict(state)
    model = model.cpu().eval()
    tb = tensorboard_of(loggers)
    for split, loader in datamodule.report_dataloaders().items():
        if split == "test" and not cfg.get("test", True):
            continue  # test=false (e.g. a sweep trial): the test split stays unseen
        outputs = []
        with torch.inference_mode():
            for index, batch in enumerate(loader):
                if max_batches is not None and index >= max_batches:
                    break
                batch = datamodule.on_after_batch_transfer(batch, 0)
                outputs.append(model.predict_step(batch, index))
        predictions = collect_predictions(outputs)
        for task in getattr(model, "untrained_tasks", []):
            if predictions.pop(task, None) is not None and split != "train":
                log.info(
                    "%s: %s had no labelled training row, no classification report", split, task
                )
        write_classification_reports(run_dir / "reports", split, model.tasks, predictions, tb, step)


def _debug_batches(trainer: Any) -> int | None:
    """Batches per split of a fast dev run (`debug=fdr`), None for a real run.

    A fast dev run checks that every step runs, so its reports read as many batches as its
    loops did: the whole-split reports of `experiment=text/joint debug=fdr` took 4 of its
    4.6 minutes on CPU (MiniLM over 1,513 examples) after a one-batch fit.
    """
    fast = getattr(trainer, "fast_dev_run", False)
    if fast is True:
        return 1
    if isinstance(fast, int) and not isinstance(fast, bool) and fast > 0:
        return fast
    return None


def _finish(
    cfg: DictConfig,
    run_dir: Path,
    trainer: Any,
    history: MonitorHistory,
    best_path: str | None,
    metrics: dict[str, float],
    started: float,
    baselines: dict[str, Any] | None = None,
) -> None:
    epochs = epochs_and_history(trainer, history)  # a ddp_spawn fit's, from last.ckpt
    best_epoch, best_score = history.best()
    later = epochs - 1
    if best_epoch == 0 and later >= 2:
        # ties keep the first epoch, and on a few hundred images val/acc moves in coarse steps:
        # 300 digits (images/folder) tied at chance, 0.3333, in epochs 0 and 1
        log.warning(
            "the best %s (%.4f) is from epoch 0: none of the %d later epochs beat it (a tie keeps "
            "the first), so best.ckpt and the test figures are of a model trained one epoch. "
            "Check the learning curves; monitor=val/loss mode=min follows a model whose loss "
            "still improves, or train longer, with a higher learning rate or more data",
            cfg.monitor,
            best_score,
            later,
        )
    atomic_write_json(run_dir / "metrics.json", metrics)
    record = set_status(run_dir, "finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    summary = write_summary(
        run_dir,
        {
            "status": "finished",
            "experiment": cfg.get("experiment_name"),
            "started": record.get("started"),
            "finished": record.get("finished"),
            "duration_s": time.time() - started,
            "epochs": epochs,
            "monitor": cfg.monitor,
            "mode": cfg.mode,
            "best_score": best_score,
            "best_epoch": best_epoch,
            "best_checkpoint": best_path,
            "metrics": metrics,
            "baselines": baselines,
        },
    )
    write_learning_curves(run_dir, cfg.monitor, cfg.mode)
    # a few lines on the console; summary.txt holds everything
    log.info("%s", finished_text(run_dir, summary, cfg.monitor, best_epoch, best_score, metrics))
    for text in baseline_warnings(baselines, metrics):
        log.warning("%s (summary.txt: baselines)", text)
