"""A resume reads last.ckpt once: the load check's copy is what Lightning's restore gets."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trainlab.core.checkpoint_io import AtomicCheckpointIO
from trainlab.core.resume import resume_checkpoint


def bytes_read() -> int:
    """Bytes this process has read through read() calls so far (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_resume_reads_the_checkpoint_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"status": "running"}))
    last = run / "checkpoints" / "last.ckpt"
    weights = torch.arange(4_000_000, dtype=torch.float32)  # 16 MB
    torch.save({"loops": {}, "state_dict": {"w": weights}}, last)
    size = last.stat().st_size
    io = AtomicCheckpointIO()  # what every trainlab Trainer restores through

    before = bytes_read()
    path, loaded = resume_checkpoint(run, "auto")
    io.preload(path, loaded)
    restored = io.load_checkpoint(path, weights_only=True)  # Lightning's call in trainer.fit
    read = bytes_read() - before

    assert path == str(last) and restored is loaded
    assert torch.equal(restored["state_dict"]["w"], weights)
    assert size <= read < 1.5 * size, f"read {read / size:.2f}x the checkpoint"
    # handed out once: a later load (e.g. of best.ckpt for the test) reads its file
    again = io.load_checkpoint(path, weights_only=True)
    assert again is not loaded and torch.equal(again["state_dict"]["w"], weights)
