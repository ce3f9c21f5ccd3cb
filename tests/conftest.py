"""Shared fixtures: embedded digits split once per session, runs isolated under tmp folders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Quick settings for runs in tests: few batches, no progress bar, no config print.
FAST = [
    "extras.print_config=false",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "logger=csv",
]


# `make test` runs the suite on pytest-xdist workers (`-n auto --dist loadgroup`). Tests that
# share one real component run on one worker, in one group: the local SLURM cluster (one
# slurmctld; the fake-GPU fixture reconfigures it), the Docker engine and its image build, and
# the lifecycle tests' uninterrupted reference run (a session fixture: one training per worker).
SHARED_COMPONENTS = {
    "slurm_cluster": "slurm",
    "slurm_fake_gpus": "slurm",
    "container_run": "container",
    "uninterrupted_run": "lifecycle-reference",
}


def pytest_configure(config: pytest.Config) -> None:
    """On an xdist worker, torch (and the trainlab processes a test starts) gets the worker's
    share of the cores, not all of them, so that workers do not oversubscribe the cores.

    trainlab's own cache (the spectra row checks) goes to a folder of this session, not to the
    user's ~/.cache/trainlab, and the trainlab processes a test starts inherit it."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ["OMP_NUM_THREADS"] = str(share)
    if "TRAINLAB_CACHE_DIR" not in os.environ:
        import tempfile

        config._trainlab_cache = tempfile.mkdtemp(prefix="trainlab-test-cache-")
        os.environ["TRAINLAB_CACHE_DIR"] = config._trainlab_cache


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = getattr(config, "_trainlab_cache", None)
    if folder:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("TRAINLAB_CACHE_DIR", None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        groups = {SHARED_COMPONENTS[name] for name in fixtures if name in SHARED_COMPONENTS}
        if item.get_closest_marker("slurm"):
            groups.add("slurm")
        if len(groups) > 1:
            raise pytest.UsageError(f"{item.nodeid} needs {sorted(groups)}: give it one group")
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups.pop()))


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's digits written as PNG class folders and split into 3 folds + test."""
    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    data_dir = tmp_path_factory.mktemp("data") / "digits"
    write_digits(data_dir)
    split_folder(data_dir, folds=3, test_ratio=0.15, seed=0)
    return data_dir


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every run of the test writes under tmp_path/logs."""
    path = tmp_path / "logs"
    monkeypatch.setenv("TRAINLAB_LOG_DIR", str(path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return path


@pytest.fixture
def run_cli(log_dir: Path) -> Callable[..., int]:
    """Run ``trainlab <args>`` in this process; returns the exit status (0 when it returned)."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.main import main

    def run(*args: str) -> int:
        GlobalHydra.instance().clear()
        argv = sys.argv
        try:
            main(list(args))
        except SystemExit as exit_:
            return int(exit_.code or 0)
        finally:
            sys.argv = argv
            GlobalHydra.instance().clear()
        return 0

    return run


CLUSTER = REPO / "scripts" / "slurm" / "local-cluster.sh"


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A running local SLURM cluster with accounting; skips when it cannot start here."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (it installs and starts system daemons)")
    was_running = subprocess.run([str(CLUSTER), "status"], capture_output=True).returncode == 0
    started = subprocess.run([str(CLUSTER), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        reason = started.stderr.strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"local SLURM cluster did not start (rc={started.returncode}): {reason[0]}")
    yield
    if not was_running:
        subprocess.run([str(CLUSTER), "stop"], capture_output=True, timeout=300)


@pytest.fixture
def slurm_fake_gpus(slurm_cluster: None) -> Iterator[int]:
    """The local cluster's node with 4 fake GPUs (TRAINLAB_SLURM_FAKE_GPUS): SLURM schedules
    them and sets CUDA_VISIBLE_DEVICES; torch sees no device behind them. The default cluster
    (no GPUs) comes back afterwards; each switch restarts slurmctld and slurmd (~7 s)."""
    env = {**os.environ, "TRAINLAB_SLURM_FAKE_GPUS": "4"}
    started = subprocess.run(
        [str(CLUSTER), "start"], capture_output=True, text=True, timeout=300, env=env
    )
    assert started.returncode == 0, started.stderr[-3000:]
    yield 4
    env["TRAINLAB_SLURM_FAKE_GPUS"] = "0"
    subprocess.run([str(CLUSTER), "start"], capture_output=True, timeout=300, env=env)


def train_args(digits_dir: Path, *extra: str) -> list[str]:
    """Arguments of a short digits training run on the session's split."""
    return [
        "train",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=6",
        *FAST,
        *extra,
    ]


def only_run(log_dir: Path, task: str = "train") -> Path:
    """The single run folder a test made."""
    runs = sorted((log_dir / task / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def subprocess_env(log_dir: Path) -> dict[str, str]:
    """Environment for running trainlab as a child process."""
    env = dict(os.environ)
    env["TRAINLAB_LOG_DIR"] = str(log_dir)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_benchmark(script: str, args: list[str], log_dir: Path) -> str:
    """Run benchmarks/<script> as a child process; its stdout, after checking it succeeded."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        env=subprocess_env(log_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
