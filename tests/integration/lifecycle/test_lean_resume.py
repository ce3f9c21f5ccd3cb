"""SIGKILL a lean fit (the k-mer search trials' loop) anywhere; started again it ends identical."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from tests.conftest import subprocess_env

# One fit, killed four times in a row at different kinds of point, each time started again on
# the same state file (lean_child.py), with what the state file says afterwards (next epoch):
# before its first save, mid-epoch, right after a save, and after the save of its last epoch
# (early stopping had fired there: the next start must train nothing).
KILLS = [
    ("lean_batch:child:0:2", None),
    ("lean_batch:child:3:4", 3),
    ("lean_epoch_end:child:4", 5),
    ("lean_epoch_end:child:{stop}", "stop + 1"),
]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_equal(ref: object, got: object, where: str = "state") -> None:
    """Nested containers equal, tensors bit for bit (torch.equal)."""
    if torch.is_tensor(ref):
        assert torch.is_tensor(got) and torch.equal(ref, got), where
    elif isinstance(ref, dict):
        assert isinstance(got, dict) and ref.keys() == got.keys(), where
        for key in ref:
            assert_equal(ref[key], got[key], f"{where}/{key}")
    elif isinstance(ref, list | tuple):
        assert isinstance(got, list | tuple) and len(ref) == len(got), where
        for i, (a, b) in enumerate(zip(ref, got, strict=True)):
            assert_equal(a, b, f"{where}[{i}]")
    else:
        assert ref == got, (where, ref, got)


def test_killed_lean_fit_continues_bit_identical(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.lifecycle.lean_child", str(tmp_path)]
        + [point for point, _ in KILLS],
        env=subprocess_env(tmp_path / "logs"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    stop = report["stop_epoch"]
    reference, *killed, last = report["fits"]
    assert reference["exit"] == 0 and 5 < stop < 24, "early stopping should end the fit"
    for (point, expected), fit in zip(KILLS, killed, strict=True):
        assert fit["exit"] == -9, f"{point}: the kill point was not reached"
        expected = stop + 1 if expected == "stop + 1" else expected
        assert fit["next_epoch"] == expected, point
    assert last["exit"] == 0 and last["next_epoch"] == stop + 1
    ref, got = load(tmp_path / "reference.pt"), load(tmp_path / "killed.pt")
    assert ref["finished"] and got["finished"]
    # weights, optimizer (Adam's step counts and moments), scheduler, early stopping, history
    for key in ("model", "optimizer", "scheduler", "next_epoch", "best", "wait", "history"):
        assert_equal(ref[key], got[key], key)
    steps = {int(s["step"]) for s in got["optimizer"]["state"].values()}
    assert steps == {7 * (stop + 1)}  # 112 rows in batches of 16: 7 steps an epoch
