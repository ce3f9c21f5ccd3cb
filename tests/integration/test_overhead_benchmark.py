"""benchmarks/overhead.py runs end to end on the real training path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.conftest import run_benchmark


# at least 10 epochs of both sides: about 15 s on an idle 2-core machine
@pytest.mark.slow
def test_overhead_benchmark_prints_the_median_ratio(digits_dir: Path, log_dir: Path) -> None:
    stdout = run_benchmark(
        "overhead.py", ["--epochs=11", f"--data-dir={digits_dir.parent}"], log_dir
    )
    assert re.search(r"10 epochs of \d+ steps \(batch 64\)", stdout), stdout[-2000:]
    match = re.search(r"median epoch-time ratio trainlab/plain \(cpu\): (\d+\.\d+)", stdout)
    assert match and 0.5 < float(match.group(1)) < 5.0, stdout[-2000:]


# the same plain loop against itself: identical work, so the ratio is near 1 (0.97-1.00 seen)
@pytest.mark.slow
def test_overhead_control_times_identical_work_alike(digits_dir: Path, log_dir: Path) -> None:
    stdout = run_benchmark(
        "overhead_control.py", ["--epochs=11", f"--data-dir={digits_dir.parent}"], log_dir
    )
    match = re.search(r"median epoch-time ratio plain/plain \(cpu\): (\d+\.\d+)", stdout)
    assert match and 0.8 < float(match.group(1)) < 1.25, stdout[-2000:]
