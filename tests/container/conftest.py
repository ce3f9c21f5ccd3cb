"""The container tests: one end-to-end run of scripts/container/test-container.sh, shared."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "container" / "test-container.sh"
TAG = "container-test"
NO_ENGINE = 3  # test-container.sh: no engine could be installed or started


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "container: builds and runs the Docker image (make test-container)"
    )


@dataclass
class ContainerRun:
    """What the end-to-end run left: its workspace on the host and its step timings."""

    workspace: Path
    timings: dict[str, str]
    output: str
    seconds: float


@pytest.fixture(scope="session")
def container_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerRun]:
    """Engine, base, image, a digits epoch, eval and --version, once per session; skips with
    the script's reason only where no container engine can be installed and started."""
    workspace = tmp_path_factory.mktemp("container-workspace")
    timings = workspace.parent / "container-timings.txt"
    started = time.perf_counter()
    done = subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "--workspace",
            str(workspace),
            "--tag",
            TAG,
            "--timings",
            str(timings),
            "--keep-engine",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode == NO_ENGINE:
        pytest.skip(f"no container engine: {output.strip().splitlines()[-1]}")
    assert done.returncode == 0, output[-6000:]
    values = dict(line.split("=", 1) for line in timings.read_text().splitlines())
    try:
        yield ContainerRun(workspace, values, output, seconds)
    finally:
        if values.get("engine_started") == "1":  # the dockerd this run started, by its PID
            subprocess.run(["bash", str(REPO / "docker" / "engine.sh"), "stop"], check=False)
