"""benchmarks/kmer_trial.py runs end to end on the real trial path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.conftest import run_benchmark


@pytest.mark.slow
def test_kmer_trial_benchmark_prints_both_ratios(tmp_path: Path, log_dir: Path) -> None:
    out = tmp_path / "bench.json"
    args = ["--epochs=3", "--repeats=1", "--unitigs=200", "--skip-cv", f"--json={out}"]
    stdout = run_benchmark("kmer_trial.py", args, log_dir)
    ratios = r"ratio \d+\.\d+ of medians.*\d+\.\d+ median of paired runs"
    assert re.search(ratios, stdout), stdout[-2000:]
    assert re.search(r"through the Lightning Trainer .*ratio \d+\.\d+", stdout)
    trial = json.loads(out.read_text())["trial"]
    assert trial["lean_trials"] is True and trial["features"] == 200 and trial["epochs"] == 3
    assert 0.2 < trial["ratio"] < 10 and 0.2 < trial["trainer_ratio"] < 10
