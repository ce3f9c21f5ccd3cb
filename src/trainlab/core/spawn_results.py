"""What a ``ddp_spawn`` fit leaves in its child processes, read back from ``last.ckpt``.

Lightning's spawn launcher sends the main process the best checkpoint's path and the logged
metrics, but neither the callbacks' states nor the loops' progress. The summary of a
2-process ``trainer=ddp_sim`` run on the digits said ``epochs: 0`` and ``best val/acc: None at
epoch None`` after 2 epochs. The last checkpoint, written at the very end of every epoch by
rank 0, holds both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from trainlab.core.callbacks import MonitorHistory
from trainlab.core.exact_resume import epochs_trained

log = logging.getLogger(__name__)


def epochs_and_history(trainer: Any, history: MonitorHistory) -> int:
    """Epochs trained; after a spawned fit, also fills ``history`` from the last checkpoint.

    Args:
        trainer: The main process's Trainer, after ``fit``.
        history: The main process's MonitorHistory (empty after a spawned fit).

    Returns:
        The number of training epochs done.
    """
    epochs = epochs_trained(trainer)
    if epochs or history.history:
        return epochs
    path = _last_checkpoint(trainer)
    if path is None:
        return epochs
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        progress = saved["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
        state = saved.get("callbacks", {}).get(history.state_key)
    except Exception as err:  # an unreadable state is reported as unknown, not fatal
        log.warning("cannot read the epochs and monitor history of %s: %s", path, err)
        return epochs
    if state:
        history.load_state_dict(state)
    return int(progress)


def _last_checkpoint(trainer: Any) -> Path | None:
    """The file of the monitor-less, every-epoch ModelCheckpoint (``last.ckpt``), if written."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    for callback in trainer.callbacks:
        if not isinstance(callback, ModelCheckpoint) or callback.monitor is not None:
            continue
        if callback.dirpath and callback.filename:
            path = Path(callback.dirpath) / f"{callback.filename}{callback.FILE_EXTENSION}"
            if path.is_file():
                return path
    return None
