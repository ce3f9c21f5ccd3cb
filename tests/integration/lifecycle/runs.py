"""Real `trainlab train` processes for the lifecycle tests: start, kill, resume, compare."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from tests.conftest import FAST, subprocess_env

# Early stopping that fires at a known epoch: nothing improves by 0.5 after epoch 0, so with
# patience 2 the run stops after epoch 2 (18 optimiser steps) although max_epochs is 6.
EPOCHS, BATCHES, STOP_EPOCH = 6, 6, 2
SETTINGS = [
    f"trainer.max_epochs={EPOCHS}",
    f"+trainer.limit_train_batches={BATCHES}",
    "+trainer.limit_val_batches=3",
    "+trainer.limit_test_batches=3",
    "callbacks.early_stopping.patience=2",
    "callbacks.early_stopping.min_delta=0.5",
    "callbacks.lr_monitor=null",
]


def train_command(digits_dir: Path, *extra: str) -> list[str]:
    """``python -m trainlab.cli.main train`` on the digits split with the settings above."""
    return [
        sys.executable,
        "-m",
        "trainlab.cli.main",
        "train",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        *FAST,
        *SETTINGS,
        *extra,
    ]


class FileOutputPopen(subprocess.Popen):
    """A process whose output goes to an unnamed file, read back by `communicate`.

    A pipe that nobody reads while the test waits for a kill point fills up (64 kB): a run
    blocked on a write then never reaches the point, and a SIGTERM handler that logs a line
    blocks too (seen: the SIGTERM test hung until its 900 s timeout in the full suite).
    """

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.output_file = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives with the process
        super().__init__(
            command, env=env, stdout=self.output_file, stderr=subprocess.STDOUT, text=True
        )

    def communicate(self, input=None, timeout=None):
        self.wait(timeout)
        self.output_file.seek(0)
        return self.output_file.read(), None


def start(
    digits_dir: Path, log_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start one training process (output captured in a file)."""
    return FileOutputPopen(
        train_command(digits_dir, *extra), env={**subprocess_env(log_dir), **(env or {})}
    )


def run(
    digits_dir: Path,
    log_dir: Path,
    *extra: str,
    kill_at: str | None = None,
    env: dict | None = None,
) -> tuple[int, str]:
    """Run one training process to its end; (exit status, output)."""
    env = {**(env or {}), **({"TRAINLAB_KILL_AT": kill_at} if kill_at else {})}
    process = start(digits_dir, log_dir, *extra, env=env)
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_run(reference: Path, other: Path) -> None:
    """Bit-identical weights, steps, early-stopping epoch, metrics and reports."""
    for name in ("last.ckpt", "best.ckpt"):
        ref, got = load(reference / "checkpoints" / name), load(other / "checkpoints" / name)
        assert ref["state_dict"].keys() == got["state_dict"].keys()
        for key, tensor in ref["state_dict"].items():
            assert torch.equal(tensor, got["state_dict"][key]), f"{name}: {key} differs"
        assert (ref["global_step"], ref["epoch"]) == (got["global_step"], got["epoch"]), name
        ref_cb = {k: v for k, v in ref["callbacks"].items() if k.startswith("EarlyStopping")}
        got_cb = {k: v for k, v in got["callbacks"].items() if k.startswith("EarlyStopping")}
        assert ref_cb == got_cb, name
    metrics = [json.loads((p / "metrics.json").read_text()) for p in (reference, other)]
    differ = {k: (metrics[0].get(k), metrics[1].get(k)) for k in metrics[0].keys() | metrics[1]}
    assert metrics[0] == metrics[1], {k: v for k, v in differ.items() if v[0] != v[1]}
    reports = sorted(p.relative_to(reference) for p in (reference / "reports").rglob("*.json"))
    assert reports, "the reference run wrote no reports"
    for rel in reports:
        assert (reference / rel).read_bytes() == (other / rel).read_bytes(), rel
    summaries = [_summary(p) for p in (reference, other)]
    assert summaries[0] == summaries[1]


def _summary(run_dir: Path) -> list[str]:
    skip = ("started", "finished", "duration", "best checkpoint")
    lines = (run_dir / "summary.txt").read_text().splitlines()
    return [line for line in lines if not line.startswith(skip)]
