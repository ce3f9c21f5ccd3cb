"""The state file of a lean fit: what continuing a killed fit exactly needs, written whole.

A lean fit (``trainlab.core.lean_fit``) saves at an epoch end, after validation and the
early-stopping decision: weights, optimizer, scheduler, gradient scaler, the early-stopping state
(best score, epochs without improvement, stopped), the per-epoch history and the global RNG
states. Every random draw of an epoch is a function of (seed, epoch): the fit reseeds the global
generators and the training batches' generator at each epoch start, as
``trainlab.core.exact_resume`` does for Trainer runs. A fit killed anywhere in epoch ``e``
therefore continues from the end of epoch ``e - 1`` and trains epoch ``e`` again, drawing the
same numbers: it ends bit-identical to the uninterrupted fit.

The file is written through :class:`~trainlab.core.checkpoint_io.AtomicCheckpointIO` (temporary
file, fsync, rename): a kill or a full disk during a save keeps the previous state. A state that
does not load or belongs to another fit (another fingerprint) is passed over with a warning; the
fit then starts from scratch, which, seeded, ends the same, only later.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FORMAT = 1


@dataclass(frozen=True)
class LeanCheckpoint:
    """Where and how often a lean fit saves its state.

    Args:
        path: the state file (one per fit); its folder is created when needed.
        every_s: save at an epoch end when at least this many seconds passed since the fit
            started or last saved (0: every epoch). A fit shorter than this writes nothing, so
            short search trials pay nothing; a long one loses at most this much on a kill.
        fingerprint: what must match for a saved state to be continued (e.g. the trial's
            parameters); the fit's own settings are added by the fit.
    """

    path: Path
    every_s: float = 60.0
    fingerprint: str = ""


class StateSaver:
    """Saves a fit's state at epoch ends as :class:`LeanCheckpoint` asks."""

    def __init__(self, checkpoint: LeanCheckpoint, fingerprint: str) -> None:
        self.checkpoint = checkpoint
        self.fingerprint = fingerprint
        self.last = time.monotonic()
        self.saves = 0

    def due(self) -> bool:
        """Whether the interval since the start or the last save has passed."""
        return time.monotonic() - self.last >= float(self.checkpoint.every_s)

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` whole or not at all (the previous file stays until the new is whole)."""
        from trainlab.core.checkpoint_io import AtomicCheckpointIO

        path = Path(self.checkpoint.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"format": FORMAT, "fingerprint": self.fingerprint, **state}
        AtomicCheckpointIO().save_checkpoint(record, path)
        self.last = time.monotonic()
        self.saves += 1

    def load(self) -> dict[str, Any] | None:
        """The saved state of this fit, or None (no file, unreadable, another fit's)."""
        from trainlab.core.checkpoint import load_weights_only
        from trainlab.errors import CheckpointError

        path = Path(self.checkpoint.path)
        if not path.is_file():
            return None
        try:
            state = load_weights_only(path)
        except CheckpointError as err:
            log.warning("%s cannot be continued from (%s); the fit starts over", path, err)
            return None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            log.warning("%s is not a lean-fit state; the fit starts over", path)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.warning(
                "%s belongs to another fit (settings or parameters differ); the fit starts over",
                path,
            )
            return None
        return state
