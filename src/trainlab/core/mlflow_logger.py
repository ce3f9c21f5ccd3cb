"""MLflow logger with the one switch trainlab adds: the best checkpoint as an artifact."""

from __future__ import annotations

import os
from pathlib import Path
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
        uri, save_dir = str(kwargs.get("tracking_uri") or ""), kwargs.get("save_dir")
        if uri.startswith("sqlite:") and save_dir and not kwargs.get("artifact_location"):
            # MLflow's default artifact root for a database store is ./mlruns of the current
            # folder: the artifacts of `make train` landed in the checkout, not in logs/
            kwargs["artifact_location"] = Path(save_dir).resolve().as_uri()
        super().__init__(*args, **kwargs)
        self.log_best_checkpoint = bool(log_best_checkpoint)

    @property
    def experiment(self) -> Any:
        """The MLflow client; the process's ``MLFLOW_TRACKING_URI`` is left as it was.

        Lightning calls ``mlflow.set_tracking_uri``, which also exports the URI to
        ``os.environ`` "so that subprocess can inherit it": every later run started from this
        process (a notebook's next run, a test's child process) then wrote into this run's
        store instead of its own default (seen as a lifecycle test that passed alone and
        failed after an in-process MLflow run).
        """
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            return super().experiment
        finally:
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before
