"""Optimisation of transformer fine-tuning: AdamW groups and warmup schedules.

Weight decay is not applied to biases and LayerNorm weights (decaying them only hurts), and the
learning rate warms up linearly over `warmup_ratio` of the optimizer steps, then follows
`cosine`, `linear` (to zero) or `constant`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from trainlab.errors import ConfigError

SCHEDULES = ("cosine", "linear", "constant")


def decay_param_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: with `weight_decay`, and without (biases, LayerNorm/norm weights)."""
    norms = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d)
    skip: set[int] = set()
    for sub in module.modules():
        if isinstance(sub, norms):
            skip.update(id(p) for p in sub.parameters(recurse=False))
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in skip or name.endswith("bias") or "LayerNorm" in name:
            no_decay.append(param)
        else:
            decay.append(param)
    groups = [{"params": decay, "weight_decay": float(weight_decay)}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def warmup_lambda(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The LR multiplier per optimizer step for LambdaLR."""
    if schedule not in SCHEDULES:
        raise ConfigError(f"model.lr_schedule={schedule!r} must be one of {list(SCHEDULES)}.")
    total = max(1, total_steps)
    warmup = min(max(0, warmup_steps), total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        progress = min(1.0, progress)
        if schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def configure_text_optimizers(
    module: Any,
    optimizer: Callable[..., torch.optim.Optimizer] | None,
    lr_schedule: str,
    warmup_ratio: float,
) -> Any:
    """What `configure_optimizers` returns for a text LightningModule.

    `optimizer` is a partial (from config) whose own `weight_decay` is used for the decayed
    group; the schedule steps once per optimizer step (accumulation is accounted for through
    `trainer.estimated_stepping_batches`).
    """
    if not 0.0 <= warmup_ratio < 1.0:
        raise ConfigError(f"model.warmup_ratio={warmup_ratio} must be in [0, 1).")
    factory = optimizer or torch.optim.AdamW
    keywords = getattr(factory, "keywords", {}) or {}
    groups = decay_param_groups(module, float(keywords.get("weight_decay", 0.0)))
    opt = factory(params=groups)
    total = int(module.trainer.estimated_stepping_batches)
    lam = warmup_lambda(lr_schedule, round(warmup_ratio * total), total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
