"""summary.txt and metrics.json put the TESTED checkpoint's validation figures beside its test
figures; the last epoch's are labelled as such."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from tests.conftest import only_run, train_args


def test_metrics_are_those_of_the_tested_checkpoint(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    # a checkpoint callback that only looks at every second epoch keeps epoch 1 of 0-2: the
    # tested checkpoint is not the last epoch (a reversed `mode` for that is refused now)
    args = train_args(
        digits_dir,
        "+callbacks.model_checkpoint.every_n_epochs=2",
        "trainer.max_epochs=3",
        "~callbacks.early_stopping",
    )
    assert run_cli(*args) == 0
    run = only_run(log_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    with open(run / "csv" / "metrics.csv") as handle:
        per_epoch = {
            int(row["epoch"]): float(row["val/acc"])
            for row in csv.DictReader(handle)
            if row["val/acc"]
        }
    tested = int(metrics["tested_checkpoint/epoch"])
    assert tested == ckpt["epoch"]
    assert metrics["last_epoch/epoch"] == 2
    assert tested == 1, per_epoch  # the setting above makes them differ
    assert metrics["val/acc"] == per_epoch[tested]
    assert metrics["last_epoch/val/acc"] == per_epoch[2]
    assert "last_epoch/train/loss" in metrics and "train/loss" in metrics
    assert metrics["train/loss"] != metrics["last_epoch/train/loss"]
    summary = (run / "summary.txt").read_text()
    assert f"validation of the tested checkpoint (epoch {tested}):" in summary
    assert "test of the tested checkpoint:" in summary
    assert "last epoch (epoch 2), NOT the tested checkpoint:" in summary
    block = summary.split(f"validation of the tested checkpoint (epoch {tested}):")[1]
    assert f"val/acc: {metrics['val/acc']:.4f}" in block.split("test of")[0]


@pytest.mark.slow
def test_ddp_spawn_reports_the_tested_checkpoint_too(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    # ddp_spawn fits in child processes: the record comes back through the best checkpoint
    args = train_args(
        digits_dir,
        "trainer=ddp_sim",
        "+callbacks.model_checkpoint.every_n_epochs=2",
        "trainer.max_epochs=3",
        "~callbacks.early_stopping",
    )
    assert run_cli(*args) == 0
    run = only_run(log_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert metrics["tested_checkpoint/epoch"] == ckpt["epoch"]
    record = ckpt["callbacks"]["ValidationRecord"]["epochs"][-1]
    assert metrics["val/acc"] == record["metrics"]["val/acc"]
    assert "test/acc" in metrics and "last_epoch/val/acc" in metrics


def test_a_diverged_run_is_refused_not_reported(run_cli, digits_dir: Path, log_dir: Path) -> None:
    # epoch 0 learns at lr 0.003; the scheduler then multiplies the rate by 1e38: NaN weights.
    # Before, the run finished with exit 0 and printed train/val/test loss 0.0000 (NaN zeroed).
    scheduler = (
        "model.scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,"
        "step_size:1,gamma:1e38}"
    )
    args = train_args(digits_dir, scheduler, "trainer.max_epochs=3", "~callbacks.early_stopping")
    assert run_cli(*args) == 2
    run = only_run(log_dir)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed"
    assert "TrainingDiverged: training diverged in epoch 1" in status["error"]
    assert f"trainlab eval ckpt_path={run / 'checkpoints' / 'best.ckpt'}" in status["error"]
    assert not (run / "metrics.json").exists() and not (run / "summary.txt").exists()
    for name in ("best.ckpt", "last.ckpt"):  # the diverged epoch was never checkpointed
        ckpt = torch.load(run / "checkpoints" / name, map_location="cpu", weights_only=True)
        assert ckpt["epoch"] == 0
        assert all(torch.isfinite(w).all() for w in ckpt["state_dict"].values())
