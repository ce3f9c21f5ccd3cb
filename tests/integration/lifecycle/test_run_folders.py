"""Runs started together: each gets its own folder; a second live start on a name is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.integration.lifecycle.runs import start

QUICK = ["trainer.max_epochs=1", "++trainer.limit_train_batches=2", "test=false"]


def test_concurrent_starts(digits_dir: Path, log_dir: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    wait = {"TRAINLAB_WAIT_AT": "epoch_start:0", "TRAINLAB_WAIT_FOR": str(go)}
    # the first run on a name waits inside its first epoch, holding the folder
    first = start(digits_dir, log_dir, "run_name=shared", *QUICK, env=wait)
    unnamed = [start(digits_dir, log_dir, *QUICK) for _ in range(3)]
    lock = log_dir / "train" / "runs" / "shared" / "run.lock"
    deadline = time.monotonic() + 300
    while f"pid={first.pid}" not in (lock.read_text() if lock.is_file() else ""):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.1)
    second = start(digits_dir, log_dir, "run_name=shared", *QUICK)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 2, output[-3000:]
    assert f"in use by PID {first.pid}" in output
    go.touch()
    for process in [first, *unnamed]:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
    runs = sorted((log_dir / "train" / "runs").iterdir())
    assert len(runs) == 4, runs  # "shared" and one folder per unnamed run
    for folder in runs:
        status = json.loads((folder / "status.json").read_text())
        assert status["status"] == "finished" and status["attempts"] == 1, folder
        assert (folder / "metrics.json").is_file() and (folder / "checkpoints/last.ckpt").is_file()
        # each command line was written once, into its own folder
        assert not (folder / "command.1.txt").exists(), folder
