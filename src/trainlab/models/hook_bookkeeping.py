"""Cheaper per-step bookkeeping for trainlab's LightningModules.

- ``_current_fx_name``: Lightning sets it twice around every hook it calls (about 40 times per
  training step), and ``nn.Module.__setattr__`` checks each value against parameters, modules
  and buffers first (~1 us per set on the 2-core development CPU). The name is a plain
  attribute, never one of those, so it is written straight into the instance. Together with
  ``core.hook_dispatch`` this took ``benchmarks/overhead.py`` from 1.09-1.11 to 1.03-1.05
  (2026-12-01, see docs/performance.md).
- ``training_step``'s signature: Lightning reads it with ``inspect.getfullargspec`` at every
  step to decide whether to pass ``batch_idx`` (~23 us warm, ~0.4 % of a digits step in py-spy
  samples, 2026-12-02). A subclass's ``training_step`` gets its signature computed once, as
  ``__signature__``, which ``inspect`` returns as it is (~8 us).
- Gradient clipping: Lightning calls ``configure_gradient_clipping`` after every backward pass,
  which validates the settings and converts the algorithm to an enum only to find nothing to
  clip (``Precision.clip_gradients`` returns at a value of 0). Without a clipping value set
  anywhere it returns at once (~0.3 % of a digits step in py-spy samples). One side effect:
  under ``strategy=deepspeed`` (not installed by trainlab) Lightning warns that the overridden
  hook does not clip, as DeepSpeed clips by its own configuration.
"""

from __future__ import annotations

import inspect
from typing import Any


class FastHookBookkeeping:
    """Mixin placed before ``L.LightningModule``; see the module docstring."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("training_step")
        if inspect.isfunction(step) and "__signature__" not in step.__dict__:
            step.__signature__ = inspect.signature(step)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def configure_gradient_clipping(
        self,
        optimizer: Any,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Lightning's hook, returning at once when no clipping value is set anywhere."""
        if not gradient_clip_val and not self.trainer.gradient_clip_val:  # type: ignore[attr-defined]
            return
        super().configure_gradient_clipping(  # type: ignore[misc]
            optimizer, gradient_clip_val, gradient_clip_algorithm
        )
