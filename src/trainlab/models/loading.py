"""``SomeModule.load_from_checkpoint(path)`` for trainlab's LightningModules.

A trainlab module takes its backbone as a built ``nn.Module`` (``net``), which Lightning's
own loader cannot recreate from ``hyper_parameters``. trainlab checkpoints carry the resolved
config and the data spec instead, so the model is rebuilt the way training built it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class LoadsTrainlabCheckpoints:
    """Mixin placed before ``L.LightningModule``: its ``load_from_checkpoint`` rebuilds the
    model from the checkpoint's own config (weights_only load, allowlist check, one builder).
    """

    @classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: str | Path,
        map_location: Any = None,
        hparams_file: str | Path | None = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """The module of a trainlab checkpoint with its trained weights, in eval mode.

        Args:
            checkpoint_path: a run's ``checkpoints/best.ckpt`` or ``last.ckpt``.
            map_location: the device to move the model to (it loads on the CPU).
            hparams_file: not supported: the checkpoint carries its own config.
            strict: ``False`` tolerates missing or unexpected weights.
            weights_only: always ``True``; ``False`` is refused.
            **kwargs: plain values overriding entries of the checkpoint's ``model`` config.
        """
        # core builds models: imported at call time, the one place models reach up to core
        from trainlab.core.checkpoint import load_module

        return load_module(
            cls, checkpoint_path, map_location, hparams_file, strict, weights_only, **kwargs
        )
