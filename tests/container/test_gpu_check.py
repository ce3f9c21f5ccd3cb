"""scripts/gpu-check.sh: its dry run takes every step on CPU and writes the report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.container.conftest import REPO

SCRIPT = REPO / "scripts" / "gpu-check.sh"
SECTIONS = (
    "## Hardware",
    "## Measured matmul rate",
    "## Digits epoch: trainlab vs the plain loop, per precision",
    "## k-mer trial: trainlab vs the plain loop, per precision",
    "## Spectrum transformer training",
    "## k-mer MLP at the real data's scale",
    "## DDP",
    "## Exact resume on the device (deterministic=true)",
    "## Container GPU path",
)


@pytest.mark.timeout(900)
def test_dry_run_takes_every_step_on_cpu(tmp_path: Path):
    out = tmp_path / "gpu.md"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    report = out.read_text()
    assert report.startswith("# GPU check (dry run)") and "not GPU figures" in report
    for section in SECTIONS:
        assert section in report, section
    assert "FAILED" not in report
    # the figures are there: both digits precisions CPU runs, and the resume compared bit for bit
    assert "| 32-true |" in report and "| bf16-mixed |" in report
    assert "bit-identical" in report and "| DDP, 2 processes, gloo (CPU) | 2 |" in report
    timings = json.loads(out.with_suffix(".json").read_text())
    assert timings["failed"] == [] and set(timings["timings"]) >= {"digits", "resume", "ddp"}
    print(f"dry-run step times (s): {timings['timings']}")
    assert (
        not (REPO / "docs" / "gpu.md").exists()
        or "dry run" not in (REPO / "docs" / "gpu.md").read_text()
    )


def test_without_a_gpu_it_says_so_and_points_to_the_dry_run():
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the real check would run")
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 3 and "--dry-run" in done.stderr
