"""Kill the process at a named point of training, for the tests of exact resume.

Set ``TRAINLAB_KILL_AT`` to one point; the run SIGKILLs itself there, as a preemption or an
out-of-memory kill would, with nothing flushed or closed:

- ``train_batch:<epoch>:<batch>``: after that training batch (mid-epoch);
- ``epoch_start:<epoch>``: when that epoch starts, right after the previous epoch's checkpoints;
- ``val_batch:<epoch>:<batch>``: after that validation batch;
- ``test_batch:<batch>``: after that test batch;
- ``lean_batch:<fit>:<epoch>:<batch>``, ``lean_epoch_end:<fit>:<epoch>``: in a lean fit
  (``trainlab.core.lean_fit``) named ``<fit>``, after that batch, or after that epoch's state
  save;
- ``cv_trial_end:fold_<k>:<trial>``: in the k-mer CV, after that trial (its index) is recorded.

With ``TRAINLAB_WAIT_AT=<point>`` and ``TRAINLAB_WAIT_FOR=<path>`` the run instead waits at
the point until ``path`` exists (at most 10 minutes), so a test can act while it is alive there;
it creates ``<path>.reached`` when it gets there.

Only the tests set these; without them no callback is added and no hook runs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

KILL_ENV = "TRAINLAB_KILL_AT"
WAIT_ENV = "TRAINLAB_WAIT_AT"
WAIT_FOR_ENV = "TRAINLAB_WAIT_FOR"


class KillAt(Callback):
    """SIGKILL this process at ``point`` (see the module docstring)."""

    def __init__(self, point: str | None, wait_at: str | None = None, wait_for: str = "") -> None:
        self.point = point
        self.wait_at = wait_at
        self.wait_for = Path(wait_for)

    def at(self, point: str) -> None:
        """Act if ``point`` is the kill or wait point."""
        if point == self.point:
            os.kill(os.getpid(), signal.SIGKILL)
        if point == self.wait_at:
            # tell the test the run is there: <wait_for>.reached
            self.wait_for.with_name(self.wait_for.name + ".reached").touch()
            deadline = time.monotonic() + 600
            while not self.wait_for.exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.at(f"epoch_start:{trainer.current_epoch}")

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        self.at(f"train_batch:{trainer.current_epoch}:{i}")

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        i: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking:
            self.at(f"val_batch:{trainer.current_epoch}:{i}")

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        i: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.at(f"test_batch:{i}")


def point_hook() -> Callable[[str], None] | None:
    """``KillAt(...).at`` when ``TRAINLAB_KILL_AT`` or ``TRAINLAB_WAIT_AT`` is set, else None.

    For loops outside the Trainer (the lean fit, the CV's trial loop): read the environment
    once, then call the hook at each point only when there is one.
    """
    callbacks = kill_callbacks()
    return callbacks[0].at if callbacks else None


def kill_callbacks() -> list[Callback]:
    """``[KillAt(...)]`` when ``TRAINLAB_KILL_AT`` or ``TRAINLAB_WAIT_AT`` is set, else nothing."""
    point, wait_at = os.environ.get(KILL_ENV), os.environ.get(WAIT_ENV)
    if not (point or wait_at):
        return []
    return [KillAt(point, wait_at, os.environ.get(WAIT_FOR_ENV, ""))]
