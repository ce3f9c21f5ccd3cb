"""A full disk during a checkpoint save: the previous checkpoint survives, the run resumes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.integration.lifecycle.runs import BATCHES, assert_same_run, load, run


def _mount_tmpfs(folder: Path, size: int) -> None:
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def _mlflow_status(log_dir: Path) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir}/mlflow.db")
    experiment = client.get_experiment_by_name("images/digits")
    (found,) = client.search_runs([experiment.experiment_id])
    return found.info.status


def test_full_disk_during_checkpoint_save(
    digits_dir: Path, log_dir: Path, uninterrupted_run
) -> None:
    # The checkpoints folder is a tmpfs with room for 2.5 checkpoints: epoch 0 writes best.ckpt
    # and last.ckpt (2), epoch 1 needs room for a third (the new file before the old one goes)
    size = (uninterrupted_run.folder() / "checkpoints" / "last.ckpt").stat().st_size
    run_dir = log_dir / "train" / "runs" / "full"
    checkpoints = run_dir / "checkpoints"
    _mount_tmpfs(checkpoints, int(2.5 * size))
    try:
        args = ["run_name=full", "resume=auto", "logger=[csv,mlflow]"]
        code, output = run(digits_dir, log_dir, *args)
        assert code != 0, output[-3000:]
        status = json.loads((run_dir / "status.json").read_text())
        assert status["status"] == "failed", status
        assert "No space left on device" in status["error"], status
        assert _mlflow_status(log_dir) == "FAILED"
        # the failed save left no partial file, and the previous last.ckpt is whole
        assert sorted(p.name for p in checkpoints.iterdir()) == ["best.ckpt", "last.ckpt"]
        last = load(checkpoints / "last.ckpt")
        assert (last["epoch"], last["global_step"]) == (0, BATCHES)

        subprocess.run(["mount", "-o", "remount,size=64m", str(checkpoints)], check=True)
        code, output = run(digits_dir, log_dir, *args)
        assert code == 0, output[-3000:]
        assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
        assert _mlflow_status(log_dir) == "FINISHED"
        # nothing lost but the failed save: the same run as one that never hit a full disk
        assert_same_run(uninterrupted_run.folder(), run_dir)
    finally:
        subprocess.run(["umount", "-l", str(checkpoints)], capture_output=True)
