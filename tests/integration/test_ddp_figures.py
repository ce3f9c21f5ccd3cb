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
