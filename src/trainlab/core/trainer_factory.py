"""The one place a Lightning Trainer is made: training runs, evaluation, prediction, CV fits.

Every Trainer writes checkpoints through :class:`AtomicCheckpointIO`, so no code path can leave a
torn checkpoint behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.core.checkpoint_io import AtomicCheckpointIO


def _with_atomic_io(plugins: Any) -> list[Any]:
    from lightning.fabric.plugins import CheckpointIO

    plugins = list(plugins or [])
    if not any(isinstance(p, CheckpointIO) for p in plugins):
        plugins.append(AtomicCheckpointIO())
    return plugins


def _summary_given(callbacks: Any) -> bool:
    from lightning.pytorch.callbacks import ModelSummary

    return any(isinstance(c, ModelSummary) for c in callbacks or [])


def _bar_given(callbacks: Any) -> bool:
    from lightning.pytorch.callbacks import ProgressBar

    return any(isinstance(c, ProgressBar) for c in callbacks or [])


def build_trainer(settings: DictConfig | Mapping[str, Any], **overrides: Any) -> Any:
    """A Trainer from a ``trainer`` config node (with ``_target_``) or plain keyword settings.

    ``overrides`` win over ``settings`` (callbacks, loggers, precision, default_root_dir ...).
    """
    from trainlab.core.hook_dispatch import skip_empty_batch_hooks

    trainer = _make_trainer(settings, overrides)
    # per-batch hook dispatch is most of the framework's per-step cost (core.hook_dispatch)
    skip_empty_batch_hooks(trainer.callbacks)
    return trainer


def _make_trainer(settings: DictConfig | Mapping[str, Any], overrides: dict[str, Any]) -> Any:
    if settings.get("profiler") is None and overrides.get("profiler") is None:
        from trainlab.core.hook_dispatch import NoOpProfiler

        overrides["profiler"] = NoOpProfiler()
    if _summary_given(overrides.get("callbacks")):
        # the callbacks' summary prints; Lightning's own one would be skipped with a log line
        # ("Trainer already configured with model summary callbacks") on every run
        overrides["enable_model_summary"] = False
    if (
        "callbacks" in overrides
        and not _bar_given(overrides["callbacks"])
        and settings.get("enable_progress_bar") is None
    ):
        # `callbacks.progress_bar=null` means no bar: Lightning would add its own Rich bar,
        # which printed "Epoch 0/0 ━━━" lines into files and SLURM logs. An explicit
        # trainer.enable_progress_bar=true still gets Lightning's bar.
        overrides.setdefault("enable_progress_bar", False)
    if isinstance(settings, DictConfig) and "_target_" in settings:
        from hydra.utils import instantiate

        given = settings.get("plugins")
        overrides["plugins"] = _with_atomic_io(overrides.get("plugins", given))
        return instantiate(settings, **overrides, _convert_="all")
    import lightning as L

    kwargs = {**dict(settings), **overrides}
    kwargs.pop("_target_", None)
    kwargs["plugins"] = _with_atomic_io(kwargs.get("plugins"))
    return L.Trainer(**kwargs)


def inference_trainer(
    trainer_cfg: DictConfig | Mapping[str, Any], run_dir: str | Path | None, devices: Any = None
) -> Any:
    """A quiet Trainer for test/predict passes: no logger, no checkpoints, no progress bar."""
    return build_trainer(
        {
            "accelerator": trainer_cfg.get("accelerator", "auto"),
            "devices": devices if devices is not None else trainer_cfg.get("devices", 1),
            "precision": trainer_cfg.get("precision", 32),
        },
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(run_dir) if run_dir is not None else None,
    )
