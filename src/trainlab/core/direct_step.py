"""Lightning's automatic optimization step without its closure machinery, where that is exact.

In automatic optimization Lightning runs each training step as a chain of wrappers: a
``Closure`` of three partial functions, handed through ``LightningModule.optimizer_step``,
``LightningOptimizer.step``, ``Strategy.optimizer_step`` and ``Precision.optimizer_step`` to
``optimizer.step(closure)``, which calls it back under ``torch.enable_grad``; the closure runs
``training_step`` through ``Strategy.training_step`` and ``backward`` through
``Strategy.backward`` and the precision plugin. Each of the ~12 hook calls on the way goes
through ``trainer.call`` (a debug-log f-string, a profiler context, ``_current_fx_name``
bookkeeping). In py-spy samples of a digits fit that chain was the largest part of what the
framework adds to a step (``benchmarks/overhead.py``; figures in docs/performance.md).

:class:`DirectAutomaticOptimization` runs the same operations in the same order, calling the
module's and callbacks' hooks directly: ``training_step`` (its output made into Lightning's
``ClosureResult``), ``on_before_zero_grad``, ``optimizer_zero_grad``, ``on_before_backward``,
``backward``, ``on_after_backward``, ``on_before_optimizer_step``,
``configure_gradient_clipping``, then ``optimizer.step()``. It keeps Lightning's progress counters
(they are in every checkpoint and give ``global_step``), so checkpoints are the same and resume
either way.

It takes this path only where the result is provably the same: one device, 32-bit precision
(the base ``Precision`` plugin, which adds nothing to a step), no gradient accumulation, one
optimizer of torch's own that calls its closure once before updating (not LBFGS, not a
differential-privacy wrapper), no optimizer step pre-hooks (they would run after the forward
pass here instead of before it), the module's own ``optimizer_step`` unchanged and no profiler.
Everything else goes to Lightning's own loop, unchanged. ``tests/unit/core/test_direct_step.py``
trains the same run both ways and compares weights, optimizer state, hook order and logged
values bit for bit.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from lightning.pytorch.core.module import LightningModule
from lightning.pytorch.core.optimizer import do_nothing_closure
from lightning.pytorch.loops.optimization.automatic import Closure, _AutomaticOptimization
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.trainer import call
from torch.optim.optimizer import _global_optimizer_pre_hooks

# torch optimizers whose step() calls the closure once, first, under enable_grad, then updates
# (read from torch 2.13's sources); LBFGS calls it many times and is left to Lightning
SINGLE_CLOSURE_OPTIMIZERS = frozenset(
    getattr(torch.optim, name)
    for name in (
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "Adagrad",
        "Adadelta",
        "RMSprop",
        "NAdam",
        "RAdam",
        "Rprop",
        "ASGD",
    )
    if hasattr(torch.optim, name)
)

# Lightning's own words for a training_step that returned None (the step is skipped)
SKIPPED_STEP = "`training_step` returned `None`. If this was on purpose, ignore this warning..."

# callback hooks Lightning calls inside an automatic optimization step
STEP_CALLBACK_HOOKS = (
    "on_before_zero_grad",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
)


class _Plan:
    """What one fit's direct step needs, decided once per optimizer."""

    __slots__ = ("callback_hooks", "module")

    def __init__(self, module: Any, callback_hooks: frozenset[str]) -> None:
        self.module = module
        self.callback_hooks = callback_hooks


def direct_step_unsupported(trainer: Any, optimizer: Any) -> str | None:
    """Why this fit's steps must go through Lightning's own loop; None when they need not."""
    module = trainer.lightning_module
    checks = (
        (type(trainer.strategy) is SingleDeviceStrategy, "a strategy other than one device"),
        (type(trainer.precision_plugin) is Precision, "a precision other than 32-true"),
        (trainer.accumulate_grad_batches == 1, "gradient accumulation"),
        (not trainer.strategy.handles_gradient_accumulation, "strategy-side accumulation"),
        (trainer.strategy.model is module, "a wrapped model"),
        (len(trainer.optimizers) == 1 and trainer.optimizers[0] is optimizer, "several optimizers"),
        (type(optimizer) in SINGLE_CLOSURE_OPTIMIZERS, f"optimizer {type(optimizer).__name__}"),
        (
            type(module).optimizer_step is LightningModule.optimizer_step,
            "an overridden optimizer_step",
        ),
        (isinstance(trainer.profiler, PassThroughProfiler), "a profiler"),
    )
    for ok, reason in checks:
        if not ok:
            return reason
    wrapper = trainer.strategy._lightning_optimizers[0]
    if wrapper._on_before_step is not do_nothing_closure or (
        wrapper._on_after_step is not do_nothing_closure
    ):
        return "LightningOptimizer step hooks"
    return None


class DirectAutomaticOptimization(_AutomaticOptimization):
    """Lightning's automatic optimization, taking the direct path when it is exact.

    ``taken`` counts the steps that went the direct way, ``fallback`` says why the others did not
    (None when none fell back).
    """

    def __init__(self, trainer: Any) -> None:
        super().__init__(trainer)
        self._planned_for: Any = None
        self._plan: _Plan | None = None
        self.taken = 0
        self.fallback: str | None = None

    def _plan_for(self, optimizer: Any) -> _Plan | None:
        if optimizer is not self._planned_for:
            self._planned_for = optimizer
            self.fallback = direct_step_unsupported(self.trainer, optimizer)
            self._plan = None
            if self.fallback is None:
                hooks = frozenset(
                    name
                    for name in STEP_CALLBACK_HOOKS
                    if any(callable(getattr(cb, name, None)) for cb in self.trainer.callbacks)
                )
                self._plan = _Plan(self.trainer.lightning_module, hooks)
        return self._plan

    def run(self, optimizer: Any, batch_idx: int, kwargs: OrderedDict) -> dict[str, Any]:
        plan = self._plan_for(optimizer)
        if (
            plan is None
            or self._skip_backward
            or optimizer._optimizer_step_pre_hooks
            or _global_optimizer_pre_hooks
        ):
            return super().run(optimizer, batch_idx, kwargs)
        self.taken += 1
        progress = self.optim_progress.optimizer.step
        progress.increment_ready()
        result = self._closure(plan, optimizer, batch_idx, kwargs)
        # what Precision.optimizer_step does once the closure has run inside optimizer.step
        optimizer.step()
        progress.increment_completed()
        if result.loss is None:
            return {}
        return result.asdict()

    def _closure(self, plan: _Plan, optimizer: Any, batch_idx: int, kwargs: OrderedDict) -> Any:
        """Lightning's Closure and Precision._wrap_closure, in their order."""
        trainer = self.trainer
        module = plan.module
        hooks = plan.callback_hooks
        previous = module._current_fx_name
        with torch.enable_grad():
            module._current_fx_name = "training_step"
            output = module.training_step(*kwargs.values())
            result = self.output_result_cls.from_training_step_output(output, 1)
            if result.closure_loss is None:
                Closure.warning_cache.warn(SKIPPED_STEP)
            # zero_grad_fn
            zero_grad = self.optim_progress.optimizer.zero_grad
            zero_grad.increment_ready()
            if "on_before_zero_grad" in hooks:
                call._call_callback_hooks(trainer, "on_before_zero_grad", optimizer)
            _module_hook(module, "on_before_zero_grad", optimizer)
            zero_grad.increment_started()
            _module_hook(module, "optimizer_zero_grad", trainer.current_epoch, batch_idx, optimizer)
            zero_grad.increment_completed()
            # backward_fn: Strategy.backward with Precision's pre_/post_backward
            loss = result.closure_loss
            if loss is not None:
                module._current_fx_name = "backward"
                if "on_before_backward" in hooks:
                    call._call_callback_hooks(trainer, "on_before_backward", loss)
                _module_hook(module, "on_before_backward", loss)
                module.backward(loss)
                if "on_after_backward" in hooks:
                    call._call_callback_hooks(trainer, "on_after_backward")
                _module_hook(module, "on_after_backward")
        # Precision._after_closure
        module._current_fx_name = "optimizer_step"
        if "on_before_optimizer_step" in hooks:
            call._call_callback_hooks(trainer, "on_before_optimizer_step", optimizer)
        _module_hook(module, "on_before_optimizer_step", optimizer)
        _module_hook(
            module,
            "configure_gradient_clipping",
            optimizer,
            gradient_clip_val=trainer.gradient_clip_val,
            gradient_clip_algorithm=trainer.gradient_clip_algorithm,
        )
        module._current_fx_name = previous
        return result


def _module_hook(module: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """A LightningModule hook as ``trainer.call`` calls it, less its log line and profiler."""
    previous = module._current_fx_name
    module._current_fx_name = name
    output = getattr(module, name)(*args, **kwargs)
    module._current_fx_name = previous
    return output


def install_direct_step(trainer: Any) -> None:
    """Give a freshly made Trainer the direct step (before anything has run)."""
    loop = trainer.fit_loop.epoch_loop
    if type(loop.automatic_optimization) is _AutomaticOptimization:
        loop.automatic_optimization = DirectAutomaticOptimization(trainer)
