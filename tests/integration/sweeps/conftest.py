"""Fixtures for sweeps of the real digits model: data split once, runs under tmp folders."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import FAST, REPO

SRC = REPO / "src"

# A trial in seconds: few batches, no test stage, no console extras.
QUICK_TRIAL = [
    *FAST,
    "test=false",
    "trainer.max_epochs=3",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
]


@pytest.fixture(scope="session")
def sweep_digits_dir(digits_dir: Path) -> Path:
    """The session's digits split (3 folds and a test set)."""
    return digits_dir


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
def train_cli(sweep_env: Path, run_cli: Callable[..., int]) -> Callable[..., int]:
    """Runs ``trainlab train <args>`` in this process; returns the exit status."""
    return lambda *args: run_cli("train", *args)


def digits_args(data_dir: Path, *extra: str) -> list[str]:
    """A quick digits trial on the session's split; `extra` replaces settings of the same key."""

    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    replaced = {key(o) for o in extra}
    quick = [o for o in QUICK_TRIAL if key(o) not in replaced]
    return [f"data.data_dir={data_dir}", "data.embedded=null", *quick, *extra]
