"""Compose trainlab configs in-process and run the real entry points' task functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from trainlab.cli.app import config_dir, register_resolvers
from trainlab.core.schema import Schema, validate

# small and fast: tiny transformer, few peaks, few rows, high learning rates
FAST_MODEL = [
    "model.net.d_model=16",
    "model.net.nhead=2",
    "model.net.dim_feedforward=32",
    "model.net.n_layers=1",
    "model.net.dropout=0.0",
    "model.encoder_lr=3e-3",
    "model.linear_lr=3e-3",
]
FAST_DATA = [
    "data.synthetic.n_train=1600",
    "data.synthetic.n_validation=800",
    "data.synthetic.n_test=300",
    "data.synthetic.min_peaks=4",
    "data.synthetic.max_peaks=12",
    "data.batch_size=64",
]
QUIET = [
    "extras.print_config=false",
    "logger=csv",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
]


def compose_config(name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The composed config of entry point ``name`` with its run folder set to ``output_dir``."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    return cfg


def run_task(name: str, schema: Schema, task: Any, overrides: list[str], out: Path) -> Any:
    """Check the config as the entry point does, then run ``task(cfg)``."""
    cfg = compose_config(name, overrides, out)
    validate(cfg, schema)
    with open_dict(cfg):
        del cfg["hydra"]
    return task(cfg)


def train_experiment(experiment: str, tmp_path: Path, name: str, extra=()) -> tuple[Path, dict]:
    """Train ``spectra/<experiment>`` fast on the synthetic data under ``tmp_path``."""
    from trainlab.cli.train import TRAIN_SCHEMA
    from trainlab.core.train import train

    overrides = [
        f"experiment=spectra/{experiment}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "trainer.max_epochs=4",
        *FAST_MODEL,
        *FAST_DATA,
        *QUIET,
        *extra,
    ]
    out = tmp_path / "logs" / name
    metrics = run_task("train", TRAIN_SCHEMA, lambda cfg: train(cfg, overrides), overrides, out)
    return out, metrics


def best_checkpoint(run_dir: Path) -> Path:
    """The one best checkpoint of a run, by the researchers' file name."""
    found = sorted((run_dir / "checkpoints").glob("best_model-epoch=*-val_recall=0.*.ckpt"))
    assert len(found) == 1, found
    return found[0]
