"""SIGKILL a real training run at every kind of point; `resume=auto` ends bit-identical."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.lifecycle.runs import BATCHES, STOP_EPOCH, assert_same_run, load, run

# One run, killed five times in a row, each time at another kind of point, and resumed with
# resume=auto after each kill (kill point, what the run folder holds afterwards).
KILLS = [
    ("train_batch:0:2", "before the first checkpoint"),
    ("train_batch:1:3", "mid-epoch"),
    ("epoch_start:2", "right after a checkpoint"),
    ("val_batch:2:1", "during validation"),
    ("test_batch:1", "during the test, after early stopping fired"),
]


def _epoch_of_last(run_dir: Path) -> int | None:
    last = run_dir / "checkpoints" / "last.ckpt"
    return load(last)["epoch"] if last.is_file() else None


def test_killed_anywhere_resumes_bit_identical(
    digits_dir: Path, log_dir: Path, uninterrupted_run
) -> None:
    run_dir = log_dir / "train" / "runs" / "killed"
    seen = []
    for point, _ in KILLS:
        code, output = run(digits_dir, log_dir, "run_name=killed", "resume=auto", kill_at=point)
        assert code == -9, f"{point}: the kill point was not reached\n{output[-3000:]}"
        seen.append(_epoch_of_last(run_dir))
        assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    # what each kill left to resume from: nothing, epoch 0, epoch 1, epoch 1, the stop epoch
    assert seen == [None, 0, 1, 1, STOP_EPOCH]
    code, output = run(digits_dir, log_dir, "run_name=killed", "resume=auto")
    assert code == 0, output[-3000:]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and status["attempts"] == len(KILLS) + 1
    # early stopping fired once, at the same epoch: the resume after the test-phase kill did
    # not train on
    assert load(run_dir / "checkpoints" / "last.ckpt")["global_step"] == (STOP_EPOCH + 1) * BATCHES
    # reports of every split, complete, after the kill during the test
    for split in ("train", "val", "test"):
        assert (run_dir / "reports" / f"{split}_classification_report.json").is_file(), split
        assert (run_dir / "reports" / f"{split}_confusion_matrix.png").is_file(), split
    assert_same_run(uninterrupted_run.folder(), run_dir)
