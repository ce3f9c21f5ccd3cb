"""The direct automatic-optimization step trains exactly as Lightning's own closure chain.

Each test fits the same run twice with factory Trainers: once with the direct step
(``core.direct_step``, what ``build_trainer`` installs) and once with Lightning's own
``_AutomaticOptimization`` put back, then compares weights, optimizer state, logged values,
hook calls (with the ``_current_fx_name`` each hook saw) and the loop state that checkpoints keep.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loops.optimization.automatic import _AutomaticOptimization
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.core.direct_step import DirectAutomaticOptimization
from trainlab.core.trainer_factory import build_trainer
from trainlab.models.classification import MultiHeadClassifier

TASKS = {"label": ["a", "b", "c"]}
STEPS = 3 * 6  # 3 epochs of 96 rows in batches of 16


class RecordsSteps(Callback):
    """Every step-level callback hook, in order, with what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        self.calls.append(("batch_start", batch_idx, module._current_fx_name))

    def on_before_zero_grad(self, trainer: Any, module: Any, optimizer: Any) -> None:
        grad = module.net[0].weight.grad
        self.calls.append(("zero_grad", None if grad is None else grad.sum().item()))

    def on_before_backward(self, trainer: Any, module: Any, loss: torch.Tensor) -> None:
        self.calls.append(("before_backward", loss.item(), module._current_fx_name))

    def on_after_backward(self, trainer: Any, module: Any) -> None:
        self.calls.append(("after_backward", module.net[0].weight.grad.sum().item()))

    def on_before_optimizer_step(self, trainer: Any, module: Any, optimizer: Any) -> None:
        self.calls.append(("before_step", module.net[0].weight.sum().item()))

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, *args: Any) -> None:
        loss = outputs.get("loss")  # {} after a skipped step
        if loss is None:
            self.calls.append(("batch_end", None, None, trainer.global_step))
        else:
            self.calls.append(("batch_end", loss.item(), loss.requires_grad, trainer.global_step))


class Probed(MultiHeadClassifier):
    """A classifier with dropout whose own step hooks record the hook name Lightning set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, Any]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.seen.append(("training_step", self._current_fx_name))
        loss = super().training_step(batch, batch_idx)
        self.log("train/step_loss", loss, on_step=True, on_epoch=True)
        return loss

    def on_before_zero_grad(self, optimizer: Any) -> None:
        self.seen.append(("on_before_zero_grad", self._current_fx_name))

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
        self.seen.append(("optimizer_zero_grad", (self._current_fx_name, epoch, batch_idx)))
        super().optimizer_zero_grad(epoch, batch_idx, optimizer)

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self.seen.append(("on_before_backward", self._current_fx_name))

    def on_after_backward(self) -> None:
        self.seen.append(("on_after_backward", self._current_fx_name))

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.seen.append(("on_before_optimizer_step", self._current_fx_name))


def _data(batch_size: int = 16) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=generator)
    y = torch.randint(0, 3, (96,), generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator)


def _model(kind: type = Probed, optimizer: Any = None) -> Any:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    make = optimizer or (lambda params: torch.optim.AdamW(params, 0.01, weight_decay=0.1))
    return kind(net, TASKS, optimizer=make)


def _fit(tmp_path: Path, name: str, lightnings: bool, model: Any = None, **settings: Any) -> Any:
    recorder = RecordsSteps()
    trainer = build_trainer(
        {},
        max_epochs=3,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=str(tmp_path / name),
        accelerator="cpu",
        callbacks=[recorder],
        **settings,
    )
    if lightnings:
        trainer.fit_loop.epoch_loop.automatic_optimization = _AutomaticOptimization(trainer)
    model = model if model is not None else _model()
    torch.manual_seed(1)  # dropout draws
    trainer.fit(model, train_dataloaders=_data())
    return trainer, model, recorder


def _assert_same_training(ours: tuple, lightnings: tuple) -> None:
    (trainer, model, recorder), (trainer_l, model_l, recorder_l) = ours, lightnings
    for key, value in model_l.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    state, state_l = trainer.optimizers[0].state_dict(), trainer_l.optimizers[0].state_dict()
    torch.testing.assert_close(state, state_l, rtol=0, atol=0)  # nested: exact, not close
    assert recorder.calls == recorder_l.calls
    assert getattr(model, "seen", None) == getattr(model_l, "seen", None)
    assert trainer.callback_metrics.keys() == trainer_l.callback_metrics.keys()
    for key, value in trainer_l.callback_metrics.items():
        assert torch.equal(trainer.callback_metrics[key], value), key
    assert trainer.global_step == trainer_l.global_step
    assert trainer.fit_loop.state_dict() == trainer_l.fit_loop.state_dict()


def test_factory_trainers_take_the_direct_step() -> None:
    trainer = build_trainer({}, logger=False, accelerator="cpu")
    assert type(trainer.fit_loop.epoch_loop.automatic_optimization) is (DirectAutomaticOptimization)


def test_direct_step_trains_bit_for_bit_as_lightnings_loop(tmp_path: Path) -> None:
    ours = _fit(tmp_path, "direct", lightnings=False)
    lightnings = _fit(tmp_path, "lightning", lightnings=True)
    loop = ours[0].fit_loop.epoch_loop.automatic_optimization
    assert (loop.taken, loop.fallback) == (STEPS, None)
    _assert_same_training(ours, lightnings)
    calls = ours[2].calls
    assert [c[0] for c in calls[:6]] == [
        "batch_start",
        "zero_grad",
        "before_backward",
        "after_backward",
        "before_step",
        "batch_end",
    ]
    assert calls[5][2:] == (False, 1)  # the loss handed on is detached; one step counted
    assert ours[1].seen[:6] == [
        ("training_step", "training_step"),
        ("on_before_zero_grad", "on_before_zero_grad"),
        ("optimizer_zero_grad", ("optimizer_zero_grad", 0, 0)),
        ("on_before_backward", "on_before_backward"),
        ("on_after_backward", "on_after_backward"),
        ("on_before_optimizer_step", "on_before_optimizer_step"),
    ]
    # the training changed the weights: the comparison is not between two untrained models
    assert not torch.equal(ours[1].net[0].weight, _model().net[0].weight)


def test_gradient_clipping_is_applied_on_the_direct_step(tmp_path: Path) -> None:
    ours = _fit(tmp_path, "direct", lightnings=False, gradient_clip_val=0.05)
    lightnings = _fit(tmp_path, "lightning", lightnings=True, gradient_clip_val=0.05)
    assert ours[0].fit_loop.epoch_loop.automatic_optimization.taken == STEPS
    _assert_same_training(ours, lightnings)
    unclipped = _fit(tmp_path, "unclipped", lightnings=False)
    assert not torch.equal(unclipped[1].net[0].weight, ours[1].net[0].weight)


class SkipsOddBatches(Probed):
    """Returns None on odd batches: Lightning zeroes the gradients and steps on nothing."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        loss = super().training_step(batch, batch_idx)
        return None if batch_idx % 2 else loss


def test_a_skipped_step_is_skipped_as_lightning_skips_it(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = _fit(tmp_path, "direct", lightnings=False, model=_model(SkipsOddBatches))
    assert any("returned `None`" in str(w.message) for w in caught)
    lightnings = _fit(tmp_path, "lightning", lightnings=True, model=_model(SkipsOddBatches))
    assert ours[0].fit_loop.epoch_loop.automatic_optimization.taken == STEPS
    _assert_same_training(ours, lightnings)


class OwnOptimizerStep(Probed):
    """Overrides optimizer_step (a warm-up, say): Lightning's loop must call it."""

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        self.seen.append(("optimizer_step", None))
        super().optimizer_step(*args, **kwargs)


@pytest.mark.parametrize(
    ("case", "settings", "model", "reason"),
    [
        ("accumulation", {"accumulate_grad_batches": 2}, None, "gradient accumulation"),
        ("lbfgs", {}, lambda: _model(optimizer=torch.optim.LBFGS), "optimizer LBFGS"),
        ("override", {}, lambda: _model(OwnOptimizerStep), "an overridden optimizer_step"),
        ("profiler", {"profiler": "simple"}, None, "a profiler"),
        ("bf16", {"precision": "bf16-mixed"}, None, "a precision other than 32-true"),
    ],
)
def test_other_set_ups_go_through_lightnings_loop(
    tmp_path: Path, case: str, settings: dict, model: Any, reason: str
) -> None:
    make = model or _model
    ours = _fit(tmp_path, "direct", lightnings=False, model=make(), **settings)
    loop = ours[0].fit_loop.epoch_loop.automatic_optimization
    assert (loop.taken, loop.fallback) == (0, reason)
    lightnings = _fit(tmp_path, "lightning", lightnings=True, model=make(), **settings)
    _assert_same_training(ours, lightnings)
    if case == "override":
        assert ours[1].seen.count(("optimizer_step", None)) == STEPS


def test_an_optimizer_pre_hook_sends_steps_to_lightnings_loop(tmp_path: Path) -> None:
    """A step pre-hook runs before the forward pass in Lightning's order, so it must keep it."""

    class PreHooked(Probed):
        def configure_optimizers(self) -> Any:
            optimizer = super().configure_optimizers()
            optimizer.register_step_pre_hook(lambda *a: self.seen.append(("pre_hook", None)))
            return optimizer

    ours = _fit(tmp_path, "direct", lightnings=False, model=_model(PreHooked))
    assert ours[0].fit_loop.epoch_loop.automatic_optimization.taken == 0
    lightnings = _fit(tmp_path, "lightning", lightnings=True, model=_model(PreHooked))
    _assert_same_training(ours, lightnings)
    assert ours[1].seen[:2] == [("pre_hook", None), ("training_step", "training_step")]


def test_checkpoints_resume_across_the_two_loops(tmp_path: Path) -> None:
    """Saved by either loop and resumed by either: the same checkpoint state, the same weights."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    def run(name: str, lightnings: bool, epochs: int, ckpt: Path | None = None) -> Any:
        saver = ModelCheckpoint(dirpath=tmp_path / name, save_last=True, save_top_k=0)
        trainer = build_trainer(
            {},
            max_epochs=epochs,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            callbacks=[saver],
            default_root_dir=str(tmp_path / name),
        )
        if lightnings:
            trainer.fit_loop.epoch_loop.automatic_optimization = _AutomaticOptimization(trainer)
        model = _model(MultiHeadClassifier)
        torch.manual_seed(1)
        trainer.fit(model, train_dataloaders=_data(), ckpt_path=ckpt)
        return trainer, model

    saved = {}
    for first in (False, True):
        run(f"first{first}", lightnings=first, epochs=1)
        saved[first] = torch.load(tmp_path / f"first{first}" / "last.ckpt", weights_only=False)
    assert saved[False]["loops"] == saved[True]["loops"]
    assert saved[False]["global_step"] == saved[True]["global_step"] == 6
    weights = {}
    for first in (False, True):
        for second in (False, True):
            ckpt = tmp_path / f"first{first}" / "last.ckpt"
            trainer, model = run(f"second{first}{second}", second, 2, ckpt)
            assert trainer.global_step == 12
            weights[first, second] = model.state_dict()
    reference = weights[True, True]
    for combination, state in weights.items():
        for key, value in reference.items():
            assert torch.equal(state[key], value), (combination, key)


def test_lightnings_trainer_is_left_alone() -> None:
    trainer = L.Trainer(logger=False, accelerator="cpu")
    assert type(trainer.fit_loop.epoch_loop.automatic_optimization) is _AutomaticOptimization
