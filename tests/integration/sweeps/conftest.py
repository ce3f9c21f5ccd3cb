"""Fixtures for sweeps of the real digits model: data split once, runs under tmp folders."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
REPO = SRC.parent

# A trial in seconds: few batches, no test stage, no console extras.
QUICK_TRIAL = [
    "extras.print_config=false",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "logger=csv",
    "test=false",
    "trainer.max_epochs=3",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
]


@pytest.fixture(scope="session")
def sweep_digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's digits as class folders, split into 3 folds and a test set."""
    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    data_dir = tmp_path_factory.mktemp("sweep_data") / "digits"
    write_digits(data_dir)
    split_folder(data_dir, folds=3, test_ratio=0.15, seed=0)
    return data_dir


@pytest.fixture
def sweep_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs under tmp_path/logs; child processes (submitit jobs) import this checkout."""
    logs = tmp_path / "logs"
    monkeypatch.setenv("TRAINLAB_LOG_DIR", str(logs))
    monkeypatch.setenv("TRAINLAB_CONFIG_DIR", str(REPO / "configs"))
    paths = [str(SRC), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p and p != "src"))
    monkeypatch.chdir(tmp_path)
    return logs


@pytest.fixture
def train_cli(sweep_env: Path) -> Callable[..., int]:
    """Runs ``trainlab train <args>`` in this process; returns the exit status."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.main import main

    def run(*args: str) -> int:
        GlobalHydra.instance().clear()
        argv = sys.argv
        try:
            main(["train", *args])
        except SystemExit as exit_:
            return int(exit_.code or 0)
        finally:
            sys.argv = argv
            GlobalHydra.instance().clear()
        return 0

    return run


def digits_args(data_dir: Path, *extra: str) -> list[str]:
    """A quick digits trial on the session's split; `extra` replaces settings of the same key."""

    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    replaced = {key(o) for o in extra}
    quick = [o for o in QUICK_TRIAL if key(o) not in replaced]
    return [f"data.data_dir={data_dir}", "data.embedded=null", *quick, *extra]
