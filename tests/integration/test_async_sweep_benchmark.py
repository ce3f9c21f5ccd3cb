"""benchmarks/async_sweep.py runs both modes end to end and prints their idle fractions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.conftest import run_benchmark


@pytest.mark.slow
def test_async_sweep_benchmark_prints_both_idle_fractions(log_dir: Path) -> None:
    stdout = run_benchmark("async_sweep.py", ["--trials=2", "--short=1", "--long=1"], log_dir)
    batch = re.search(r"^batch worker idle fraction (\d\.\d+)$", stdout, re.M)
    last = stdout.strip().splitlines()[-1]
    final = re.fullmatch(r"worker idle fraction (-?\d\.\d+) \(goal <= 0\.10\)", last)
    assert batch and final, stdout[-2000:]
    assert 0 <= float(batch.group(1)) < 1 and 0 <= float(final.group(1)) < 1
    assert re.search(r"async idle, summed over workers: \d+\.\d s before the first", stdout)
