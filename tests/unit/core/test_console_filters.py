"""Third-party noise is dropped where it is emitted, and nothing else; progress lines say i/N."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

from trainlab.core.console import StepProgress, format_duration

# Lightning's srun hint and litlogger tip, raised the way Lightning raises them, in a fresh
# process (warning filters and the "once per location" registry are process-wide)
SCRIPT = """
import logging, sys, warnings
from lightning.fabric.plugins.environments.slurm import SLURMEnvironment
from lightning.pytorch.utilities.rank_zero import rank_zero_info
handler = logging.StreamHandler(sys.stdout)
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
if sys.argv[1] == "quiet":
    from trainlab.core.console import configure_console
    configure_console()
SLURMEnvironment._validate_srun_used()
rank_zero_info("💡 Tip: For seamless cloud logging and experiment tracking, try litlogger")
rank_zero_info("GPU available: True (cuda), used: False")
warnings.warn("a user's own warning", UserWarning)
"""


def run(mode: str, tmp_path: Path) -> str:
    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir(exist_ok=True)
    srun.write_text("#!/bin/sh\n")
    srun.chmod(0o755)
    env = {
        "PYTHONPATH": str(REPO / "src"),
        "PATH": f"{srun.parent}:{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_tips_and_hints_are_dropped_at_their_source(tmp_path: Path) -> None:
    loud = run("loud", tmp_path)
    assert "The `srun` command is available" in loud and "💡 Tip" in loud  # the test can fail
    quiet = run("quiet", tmp_path)
    assert "srun" not in quiet and "Tip" not in quiet, quiet
    # what a user needs stays: their idle GPU, their own warnings
    assert "GPU available: True (cuda), used: False" in quiet
    assert "a user's own warning" in quiet


def test_step_progress_lines_count_and_estimate(caplog) -> None:
    caplog.set_level(logging.INFO)
    progress = StepProgress("trial", 3, logging.getLogger("test"))
    first = progress.step("#0 0.5")
    progress.step()
    last = progress.step("#2 0.7")
    assert first.startswith("trial 1/3 | #0 0.5 | ") and "ETA" in first
    assert last.startswith("trial 3/3 | #2 0.7 | ") and "ETA" not in last
    assert [r.getMessage().split(" | ")[0] for r in caplog.records] == [
        "trial 1/3",
        "trial 2/3",
        "trial 3/3",
    ]


def test_durations_are_short() -> None:
    assert format_duration(4.23) == "4.2 s"
    assert format_duration(125) == "2:05"
    assert format_duration(3 * 3600 + 61) == "3:01:01"
