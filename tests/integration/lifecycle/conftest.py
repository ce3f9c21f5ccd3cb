"""One uninterrupted reference run, started once and shared by the lifecycle tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.integration.lifecycle.runs import start


class Reference:
    """The uninterrupted run, trained in the background while a test starts its own runs."""

    def __init__(self, digits_dir: Path, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = start(digits_dir, log_dir, "run_name=reference")

    def folder(self) -> Path:
        """The finished reference run's folder (waits for it)."""
        if self.process is not None:
            output, _ = self.process.communicate(timeout=600)
            assert self.process.returncode == 0, output[-3000:]
            self.process = None
        return self.log_dir / "train" / "runs" / "reference"


@pytest.fixture(scope="session")
def uninterrupted_run(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    ref = Reference(digits_dir, tmp_path_factory.mktemp("reference") / "logs")
    yield ref
    if ref.process is not None:
        ref.process.kill()
        ref.process.communicate()
