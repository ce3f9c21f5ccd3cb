"""Run the real train/eval code paths in-process on a composed config with the tiny encoder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from trainlab.cli.app import config_dir, register_resolvers

# The tiny BERT on 60 synthetic posts, CSV logging only, quiet console.
TINY_ENCODER = [
    "model.net.encoder=tiny",
    "+model.net.tiny={hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}",
    "data.synthetic_posts=60",
    "data.tiny_vocab_size=400",
    "logger=[csv]",
    "~callbacks.progress_bar",
    "~callbacks.model_summary",
    "extras.print_config=false",
]
# Small and fast: short sequences, two epochs.
TINY = [*TINY_ENCODER, "data.batch_size=16", "trainer.max_epochs=2", "model.optimizer.lr=0.003"]
REPO = Path(__file__).resolve().parents[3]


def run_trainlab(*args: str, root: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m trainlab.cli.main <args>` with every folder under `root`; must succeed."""
    env = {**os.environ, "TRAINLAB_ROOT": str(root), "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "trainlab.cli.main", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def compose_config(name: str, overrides: list[str], root: Path) -> DictConfig:
    """Compose `configs/<name>.yaml` as the CLI would, with every folder under `root`."""
    register_resolvers()
    GlobalHydra.instance().clear()
    paths = [f"paths.root_dir={root}", f"paths.output_dir={root / 'run'}"]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(name, overrides=[*overrides, *paths], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg
