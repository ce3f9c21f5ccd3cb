"""benchmarks/kmer_trial.py runs end to end on the real trial path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO, subprocess_env


@pytest.mark.slow
def test_kmer_trial_benchmark_prints_both_ratios(tmp_path: Path, log_dir: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "kmer_trial.py"),
            "--epochs=3",
            "--repeats=1",
            "--unitigs=200",
            "--skip-cv",
            f"--json={out}",
        ],
        env=subprocess_env(log_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"ratio \d+\.\d+ of medians", result.stdout), result.stdout[-2000:]
    assert re.search(r"through the Lightning Trainer .*ratio \d+\.\d+", result.stdout)
    trial = json.loads(out.read_text())["trial"]
    assert trial["lean_trials"] is True and trial["features"] == 200 and trial["epochs"] == 3
    assert 0.2 < trial["ratio"] < 10 and 0.2 < trial["trainer_ratio"] < 10
