"""A 2-process DDP run (ddp_spawn, gloo), killed after a checkpoint, resumes bit-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.lifecycle.runs import assert_same_run, run

# 2 epochs of 6 batches per process, no early stopping: the kill lands between the epochs
DDP = ["trainer=ddp_sim", "trainer.max_epochs=2", "callbacks.early_stopping=null"]


@pytest.mark.slow
def test_killed_ddp_run_resumes_bit_identical(digits_dir: Path, log_dir: Path) -> None:
    code, output = run(digits_dir, log_dir, *DDP, "run_name=reference")
    assert code == 0, output[-3000:]
    # SIGKILL in the spawned ranks at the start of epoch 1; the launcher process then fails
    code, output = run(digits_dir, log_dir, *DDP, "run_name=killed", kill_at="epoch_start:1")
    assert code != 0, output[-3000:]
    code, output = run(digits_dir, log_dir, *DDP, "run_name=killed", "resume=auto")
    assert code == 0, output[-3000:]
    # the resumed epoch 1 trained in epoch 0's DistributedSampler order before: other weights
    runs = log_dir / "train" / "runs"
    assert_same_run(runs / "reference", runs / "killed")
