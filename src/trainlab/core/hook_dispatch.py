"""Cheaper per-batch hook dispatch for every Trainer trainlab builds.

Lightning calls each of about ten per-batch hooks on every callback, whether or not the callback
implements it, and wraps every call in ``trainer.profiler.profile(f"[Callback]{state_key}...")``:
with trainlab's twelve default callbacks that is ~80 calls, ~100 context managers and ~100
f-strings (``ModelCheckpoint.state_key`` formats a dict each time) per training step. Measured
with ``benchmarks/overhead.py`` (digits, 20 steps of ~15 ms per epoch, 1 thread, 2026-12-01):
these two fixes took the median epoch-time ratio to the plain loop from 1.09-1.11 to 1.03-1.05
together with ``models.hook_bookkeeping``; a linear model (0.5 ms steps) showed the profiler's
context managers alone at ~0.2 ms per step.

Both changes leave behaviour unchanged: the profiler only skips work a pass-through profiler
does not do, and the hooks skipped are Lightning's empty ``Callback`` methods, or hooks of
Lightning's own callbacks that return at once with their settings (``_idle_hooks``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.profilers import PassThroughProfiler

# hooks Lightning calls once per batch (the epoch-level ones are too rare to matter)
PER_BATCH_HOOKS = (
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
)

_NO_PROFILING = contextlib.nullcontext()


class NoOpProfiler(PassThroughProfiler):
    """Lightning's default profiler without a generator-based context manager per hook call.

    ``Profiler.profile`` is a ``@contextmanager`` around ``start``/``stop``, which do nothing in
    the pass-through profiler; ~100 of them per training step cost ~0.2 ms (CPU, 2026-12-01).
    One shared ``nullcontext`` does the same nothing.
    """

    def profile(self, action_name: str) -> contextlib.nullcontext:  # type: ignore[override]
        return _NO_PROFILING


def skip_empty_batch_hooks(callbacks: list[Any]) -> int:
    """Hide the per-batch hooks a callback inherits unchanged from ``Callback``.

    Lightning's dispatcher calls a callback's hook only when ``callable(getattr(cb, name))``, so
    an instance attribute ``None`` makes it pass over the empty method without the profiler
    context, the ``state_key`` f-string and the call. Returns how many hooks were hidden.
    """
    hidden = 0
    for callback in callbacks:
        if not isinstance(callback, Callback):
            continue
        for name in PER_BATCH_HOOKS:
            inherited = getattr(type(callback), name, None) is getattr(Callback, name)
            if inherited or name in _idle_hooks(callback):
                setattr(callback, name, None)
                hidden += 1
    return hidden


def _idle_hooks(callback: Callback) -> tuple[str, ...]:
    """Per-batch hooks of Lightning's own callbacks that return at once with these settings.

    Read from Lightning 2.6's code; both default ``ModelCheckpoint`` entries check the step
    count and the clock after every batch only to do nothing (~20 us each per step), and the
    progress bar off a terminal (a SLURM log, a file, a pipe) only reads the clock.
    """
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint

    from trainlab.core.callbacks import ThrottledRichProgressBar

    kind = type(callback)
    if isinstance(callback, ThrottledRichProgressBar) and not callback._on_terminal:
        # off a terminal the bar is never enabled, and every per-batch hook of Lightning's
        # RichProgressBar returns when disabled (the training one after a clock read)
        return PER_BATCH_HOOKS
    if kind is ModelCheckpoint and (
        callback._every_n_train_steps < 1 and callback._train_time_interval is None
    ):
        return ("on_train_batch_end",)
    if kind is LearningRateMonitor and callback.logging_interval == "epoch":
        return ("on_train_batch_start",)
    return ()
