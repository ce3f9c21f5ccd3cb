"""Rebuild a trained model, and its data, from a trainlab checkpoint alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from trainlab.core.build import build_datamodule, build_model
from trainlab.errors import CheckpointError


@dataclass
class Restored:
    """A model rebuilt from a checkpoint, with the config and data spec it was trained with."""

    model: Any
    config: DictConfig
    spec: dict[str, Any]
    path: Path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file on the CPU, with a clear error when it is not usable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"ckpt_path={path} does not exist: give a run's checkpoints/best.ckpt or last.ckpt"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
    if "trainlab" not in checkpoint:
        raise CheckpointError(
            f"{path} carries no trainlab metadata (config and data spec): it was not written by "
            f"`trainlab train`; retrain with trainlab or load it by hand"
        )
    return checkpoint


def restore_model(path: str | Path, data_overrides: DictConfig | None = None) -> Restored:
    """The LightningModule of a checkpoint with its trained weights, in eval mode."""
    checkpoint = read_checkpoint(path)
    config = OmegaConf.create(checkpoint["trainlab"]["config"])
    if data_overrides:
        config.data = OmegaConf.merge(config.data, data_overrides)
    spec = checkpoint["trainlab"]["spec"]
    model = build_model(config, spec)
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return Restored(model, config, spec, Path(path))


def restore_datamodule(restored: Restored, loader_defaults: dict[str, Any] | None = None) -> Any:
    """The checkpoint's DataModule, set up so its class order matches the trained model."""
    datamodule = build_datamodule(restored.config.data, loader_defaults)
    if hasattr(datamodule, "use_trained_spec"):  # e.g. image size and normalisation
        datamodule.use_trained_spec(restored.spec)
    return datamodule
