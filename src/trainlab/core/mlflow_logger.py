"""MLflow logger with the one switch trainlab adds: the best checkpoint as an artifact."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import MLFlowLogger


class TrainlabMLFlowLogger(MLFlowLogger):
    """``lightning.pytorch.loggers.MLFlowLogger`` plus ``log_best_checkpoint``.

    With ``log_best_checkpoint=true`` the run's ``checkpoints/best.ckpt`` is uploaded as an
    artifact when the run ends (core.tracker_params). Off by default: a checkpoint is often
    far larger than everything else a run sends, and the run folder keeps it anyway.
    Lightning's own ``log_model`` uploads every checkpoint the callback kept (best, last and
    top-k) instead.
    """

    def __init__(self, *args: Any, log_best_checkpoint: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log_best_checkpoint = bool(log_best_checkpoint)
