"""Seeded lean fits in forked processes, some SIGKILLed at named points (see test_lean_resume).

``python -m tests.integration.lifecycle.lean_child <folder> <kill point> ...`` imports torch and
Lightning once, then forks one process per fit (a fresh interpreter per fit would cost ~15 s of
imports on a loaded machine; the forks run the fit only):

1. the uninterrupted reference fit, state in ``<folder>/reference.pt``;
2. one fit per kill point, each continuing ``<folder>/killed.pt`` and killed with SIGKILL at its
   point (``{stop}`` in a point is the epoch the reference stopped at);
3. a last fit on ``killed.pt`` without a kill.

The fit is the two-task classifier of tests/unit/core/test_lean_fit.py (dropout, batch norm,
shuffled batches, Adam with a step scheduler, early stopping), saving its state every epoch;
the state after the last epoch holds everything the test compares. Prints one JSON line:
per fit, its point, its exit (negative: killed by that signal) and the saved ``next_epoch``.
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import torch
from tests.unit.core.test_lean_fit import Tensors, make_model
from torch.optim import lr_scheduler as lr

from trainlab.core.fault_injection import KILL_ENV
from trainlab.core.lean_fit import LeanCheckpoint, LeanFitSettings, lean_fit

MAX_EPOCHS = 25


def fit(state: Path) -> None:
    """Fit, continuing from ``state`` when it holds a state of this fit."""
    torch.set_num_threads(1)  # the same arithmetic in every process
    model = make_model(partial(lr.StepLR, step_size=2, gamma=0.7))
    settings = LeanFitSettings(
        max_epochs=MAX_EPOCHS,
        monitor="val/f1_weighted",
        patience=3,
        accelerator="cpu",
        seed=5,
        checkpoint=LeanCheckpoint(state, every_s=0, fingerprint="child"),
        name="child",
    )
    lean_fit(model, Tensors(), settings)


def forked(state: Path, kill_at: str | None) -> int:
    """Run ``fit`` in a forked process; its exit status (-signal when killed)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if kill_at:
                os.environ[KILL_ENV] = kill_at
            fit(state)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def saved_epoch(state: Path) -> int | None:
    if not state.is_file():
        return None
    return int(torch.load(state, map_location="cpu", weights_only=True)["next_epoch"])


if __name__ == "__main__":
    folder, points = Path(sys.argv[1]), sys.argv[2:]
    reference, killed = folder / "reference.pt", folder / "killed.pt"
    records = [{"point": None, "exit": forked(reference, None)}]
    stop = saved_epoch(reference) - 1
    for point in [p.format(stop=stop) for p in points] + [None]:
        records.append(
            {"point": point, "exit": forked(killed, point), "next_epoch": saved_epoch(killed)}
        )
    print(json.dumps({"stop_epoch": stop, "fits": records}))
