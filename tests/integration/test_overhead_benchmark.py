"""benchmarks/overhead.py runs end to end on the real training path."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO, subprocess_env


# at least 10 epochs of both sides: about 15 s on an idle 2-core machine
@pytest.mark.slow
def test_overhead_benchmark_prints_the_median_ratio(digits_dir: Path, log_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "overhead.py"),
            "--epochs=11",
            f"--data-dir={digits_dir.parent}",
        ],
        env=subprocess_env(log_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"10 epochs of \d+ steps \(batch 64\)", result.stdout), result.stdout[-2000:]
    match = re.search(r"median epoch-time ratio trainlab/plain \(cpu\): (\d+\.\d+)", result.stdout)
    assert match and 0.5 < float(match.group(1)) < 5.0, result.stdout[-2000:]
