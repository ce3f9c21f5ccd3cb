"""Runs of the real ``trainlab`` entry points on the synthetic spectra, small and fast."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from tests.conftest import FAST

from trainlab.cli.app import config_dir, register_resolvers

QUIET = "extras.print_config=false"
# a tiny transformer, few peaks and rows, high learning rates
FAST_SPECTRA = [
    "model.net.d_model=16",
    "model.net.nhead=2",
    "model.net.dim_feedforward=32",
    "model.net.n_layers=1",
    "model.net.dropout=0.0",
    "model.encoder_lr=3e-3",
    "model.linear_lr=3e-3",
    # the train/ figures score this many rows per epoch in eval mode (1024 by default)
    "model.train_metric_rows=128",
    "data.synthetic.n_train=1600",
    "data.synthetic.n_validation=800",
    "data.synthetic.n_test=300",
    "data.synthetic.min_peaks=4",
    "data.synthetic.max_peaks=12",
    "data.batch_size=64",
    *FAST,
]


def compose_train(overrides: list[str]) -> DictConfig:
    """The composed ``train`` config (no run), for checking what an experiment sets."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("train", overrides=overrides)


def train_experiment(
    run_cli: Callable[..., int], log_dir: Path, experiment: str, data_dir: Path, *extra: str
) -> tuple[Path, dict]:
    """``trainlab train experiment=spectra/<experiment>``; returns (run folder, metrics)."""
    name = f"{experiment}_{len(list((log_dir / 'train' / 'runs').glob('*')))}"
    status = run_cli(
        "train",
        f"experiment=spectra/{experiment}",
        f"paths.data_dir={data_dir}",
        "trainer.max_epochs=4",
        f"run_name={name}",
        *FAST_SPECTRA,
        *extra,
    )
    assert status == 0
    run_dir = log_dir / "train" / "runs" / name
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def best_checkpoint(run_dir: Path) -> Path:
    """The one best checkpoint of a run: ``checkpoints/best.ckpt`` beside ``last.ckpt``."""
    found = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    assert found == ["best.ckpt", "last.ckpt"], found
    return run_dir / "checkpoints" / "best.ckpt"
