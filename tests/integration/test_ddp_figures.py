"""A 2-process DDP run (gloo on CPU) prints the figures one process gives for its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import only_run, train_args


@pytest.mark.slow
def test_ddp_figures_count_each_row_once_and_the_summary_knows_its_epochs(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    # 509 validation rows (3 folds of 1,527): a padding DistributedSampler scored 510, one
    # row twice, and the 2-process val/acc differed from the checkpoint's own
    assert run_cli(*train_args(digits_dir, "trainer=ddp_sim")) == 0
    run = only_run(log_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("val", "test"):
        # the reports score the best checkpoint in this one process, over every row once
        report = json.loads((run / "reports" / f"{split}_classification_report.json").read_text())
        assert metrics[f"{split}/acc"] == pytest.approx(report["accuracy"], abs=1e-6), split
    assert report["weighted avg"]["support"] == 270
    summary = (run / "summary.txt").read_text()
    # ddp_spawn fits in child processes: the summary said `epochs: 0`, best `None`
    assert "epochs: 2\n" in summary
    assert f"best val/acc: {metrics['val/acc']:.4f} at epoch" in summary


@pytest.mark.slow
def test_ranks_started_by_torchrun_share_one_run_folder(digits_dir: Path, log_dir: Path) -> None:
    """torchrun (as SLURM with one task per device) starts every rank as `trainlab train`:
    rank 1 used to be refused by rank 0's lock on the run folder ("is in use by PID ...")."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    args = [a for a in train_args(digits_dir, "trainer=ddp_sim") if a != "train"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "trainlab.cli.main", "train", *args,
               "trainer.strategy=ddp", "run_name=ranks"]  # fmt: skip
    done = subprocess.run(
        command, env=subprocess_env(log_dir), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    run = only_run(log_dir)
    assert run.name == "ranks"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    metrics = json.loads((run / "metrics.json").read_text())
    report = json.loads((run / "reports" / "test_classification_report.json").read_text())
    assert metrics["test/acc"] == pytest.approx(report["accuracy"], abs=1e-6)
    # one summary, written by rank 0
    assert (run / "summary.txt").read_text().count("status: finished") == 1
