"""trainlab: research training pipelines on Hydra and PyTorch Lightning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainlab.core.checkpoint import Restored

__version__ = "0.1.0"

__all__ = ["__version__", "load_checkpoint"]


def load_checkpoint(path: str | Path, map_location: str | None = None) -> Restored:
    """A trained model and its data spec from a trainlab checkpoint alone, no Hydra tree.

    The file loads with ``weights_only=True`` and its embedded config must pass the
    instantiation allowlist before anything is built (docs/security.md).

    Args:
        path: a run's ``checkpoints/best.ckpt`` or ``last.ckpt``.
        map_location: the device to move the model to (it loads on the CPU).

    Returns:
        ``Restored`` with ``model`` (the LightningModule, eval mode), ``spec`` (the data
        spec: tasks and class names, input shape ...), ``config`` (the resolved training
        config) and ``path``.
    """
    # torch and Lightning load here, not at `import trainlab` (`trainlab --version` stays quick)
    from trainlab.core.checkpoint import restore_model

    restored = restore_model(path)
    if map_location is not None:
        restored.model.to(map_location)
    return restored
