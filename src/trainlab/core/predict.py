"""Predict with a checkpoint on new inputs; the checkpoint alone rebuilds the model."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.core.checkpoint import restore_datamodule, restore_model
from trainlab.core.hardware import hardware_report, loader_defaults
from trainlab.core.trainer_factory import inference_trainer
from trainlab.data.contract import PredictingDataModule, missing_members
from trainlab.errors import ConfigError, RunFolderError

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> list[Path]:
    """Write the DataModule's prediction files for ``input`` and return their paths."""
    restored = restore_model(cfg.ckpt_path, cfg.get("data") or None)
    datamodule = restore_datamodule(restored, loader_defaults(hardware_report()))
    if not isinstance(datamodule, PredictingDataModule):
        missing = ", ".join(
            f"{name}()" for name in missing_members(datamodule, PredictingDataModule)
        )
        raise ConfigError(
            f"{type(datamodule).__name__} has no {missing}: this data set cannot predict"
        )
    spec = _trained_tasks_only(restored.model, restored.spec)
    datamodule.setup_predict(str(cfg.input), spec)
    out_dir = Path(cfg.output_dir) if cfg.get("output_dir") else Path(cfg.paths.output_dir)
    trainer = inference_trainer(cfg.trainer, out_dir, devices=1)
    # Through the DataModule, so its batch hooks (normalisation) run as in training.
    outputs = trainer.predict(restored.model, datamodule=datamodule)
    written = _write_without_overwriting(datamodule, outputs, out_dir, spec)
    for path in written:
        log.info("wrote %s", path)
    return written


def _trained_tasks_only(model: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec without the tasks whose heads never saw a label, with a warning naming them.

    A head of a task with no labelled training row is as initialised: its "predicted class"
    and "confidence" would be noise written beside the real tasks' predictions.
    """
    untrained = [t for t in getattr(model, "untrained_tasks", []) if t in spec.get("tasks", {})]
    if not untrained:
        return spec
    log.warning(
        "the model had no labelled training row for task(s) %s, so their heads never saw a "
        "label: their predictions are left out of the files (retrain with labels of them in "
        "the train split to predict them)",
        ", ".join(untrained),
    )
    tasks = {t: c for t, c in spec["tasks"].items() if t not in untrained}
    return {**spec, "tasks": tasks}


def _write_without_overwriting(
    datamodule: Any, outputs: list[Any], out_dir: Path, spec: dict[str, Any]
) -> list[Path]:
    """The DataModule's prediction files in ``out_dir``, none of them over an existing file.

    Each DataModule names its own files (``predictions.csv``, ``<sample>_predictions.json``,
    ...), so they are written to a staging folder first and moved in only when no name is
    taken. Before, ``output_dir=<folder>`` replaced an earlier predict's files there.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".predict-", dir=out_dir))
    datamodule.write_predictions(outputs, staging, spec)
    files = sorted(f for f in staging.rglob("*") if f.is_file())
    taken = [out_dir / f.relative_to(staging) for f in files]
    taken = [t for t in taken if t.exists() or t.is_symlink()]
    if taken:
        kept = out_dir / f"predict_{time.strftime('%Y%m%d-%H%M%S')}_{os.getpid()}"
        staging.rename(kept)
        names = ", ".join(str(t.relative_to(out_dir)) for t in taken[:5])
        more = f" and {len(taken) - 5} more" if len(taken) > 5 else ""
        raise RunFolderError(
            f"output_dir={out_dir} already holds {names}{more}; they were not overwritten. "
            f"This run's predictions are in {kept}. Fix: give another output_dir, or move "
            "the earlier files away first"
        )
    moved = []
    for source in files:
        target = out_dir / source.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        moved.append(target)
    shutil.rmtree(staging)
    return moved
