"""Predict with a checkpoint on new inputs; the checkpoint alone rebuilds the model."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from trainlab.core.checkpoint import restore_datamodule, restore_model
from trainlab.core.hardware import hardware_report, loader_defaults
from trainlab.core.trainer_factory import inference_trainer
from trainlab.data.contract import PredictingDataModule, missing_members
from trainlab.errors import ConfigError

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
    datamodule.setup_predict(str(cfg.input), restored.spec)
    out_dir = Path(cfg.output_dir) if cfg.get("output_dir") else Path(cfg.paths.output_dir)
    trainer = inference_trainer(cfg.trainer, out_dir, devices=1)
    # Through the DataModule, so its batch hooks (normalisation) run as in training.
    outputs = trainer.predict(restored.model, datamodule=datamodule)
    written = datamodule.write_predictions(outputs, out_dir, restored.spec)
    for path in written:
        log.info("wrote %s", path)
    return written
