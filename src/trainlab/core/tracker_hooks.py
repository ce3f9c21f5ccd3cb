"""The Lightning callback that hands the run's config to the trackers when the run starts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.callbacks import Callback


class SendHyperparameters(Callback):
    """At setup, on rank 0, once: the (redacted) config to every logger (core.tracker_params).

    At setup rather than in the run's builder: only here is the process's rank known for
    every strategy (DDP workers started by Lightning, SLURM tasks, spawned processes).
    """

    def __init__(self, plain_cfg: Mapping[str, Any]) -> None:
        self.plain_cfg = plain_cfg
        self.sent = False

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        from trainlab.core.tracker_params import send_hyperparameters

        if self.sent or not trainer.is_global_zero:
            return
        self.sent = True
        send_hyperparameters(list(trainer.loggers), self.plain_cfg)
