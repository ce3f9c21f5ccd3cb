"""Cheaper hook dispatch: every Trainer from the factory trains exactly as Lightning's own."""

from __future__ import annotations

import inspect
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.profilers import PassThroughProfiler, SimpleProfiler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.core.hook_dispatch import PER_BATCH_HOOKS, NoOpProfiler, skip_empty_batch_hooks
from trainlab.core.trainer_factory import build_trainer
from trainlab.models.classification import MultiHeadClassifier

TASKS = {"label": ["a", "b", "c"]}


class CountsBatches(Callback):
    """Overrides two per-batch hooks and inherits the rest."""

    def __init__(self) -> None:
        self.starts = 0
        self.ends = 0

    def on_train_batch_start(self, *args: object) -> None:
        self.starts += 1

    def on_train_batch_end(self, *args: object) -> None:
        self.ends += 1


class CountsEnds(CountsBatches):
    """Inherits its hooks from a subclass of Callback: they are not Callback's empty ones."""


def _data() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=generator)
    y = torch.randint(0, 3, (96,), generator=generator)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator)


def _model() -> MultiHeadClassifier:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    return MultiHeadClassifier(net, TASKS, optimizer=lambda params: torch.optim.Adam(params, 0.01))


def _settings(tmp_path: Path, name: str) -> dict:
    return {
        "max_epochs": 3,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(tmp_path / name),
        "accelerator": "cpu",
        "deterministic": True,
    }


def test_only_empty_or_idle_per_batch_hooks_are_hidden() -> None:
    counting, inherited = CountsBatches(), CountsEnds()
    per_epoch, per_step = ModelCheckpoint(), ModelCheckpoint(every_n_train_steps=2)
    hidden = skip_empty_batch_hooks([counting, inherited, per_epoch, per_step, object()])
    for callback in (counting, inherited):
        assert callable(callback.on_train_batch_start)
        assert callable(callback.on_train_batch_end)
        assert callback.on_before_backward is None
    assert per_epoch.on_train_batch_end is None  # returns at once without step checkpoints
    assert callable(per_step.on_train_batch_end)  # saves every 2 steps there
    assert per_step.on_train_batch_start is None
    assert hidden == 4 * len(PER_BATCH_HOOKS) - 5


def test_step_checkpoints_are_still_written(tmp_path: Path) -> None:
    every_two = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=2, save_top_k=-1)
    settings = _settings(tmp_path, "steps") | {"callbacks": [every_two], "max_epochs": 1}
    trainer = build_trainer({}, **settings)
    trainer.fit(_model(), train_dataloaders=_data())
    steps = sorted(int(p.stem.split("step=")[1]) for p in (tmp_path / "ckpt").glob("*.ckpt"))
    assert steps == [2, 4, 6]


def test_factory_trainer_gives_the_same_weights_and_hook_calls_as_lightnings(
    tmp_path: Path,
) -> None:
    results = {}
    for name, make in (("lightning", L.Trainer), ("factory", build_trainer)):
        counter = CountsBatches()
        kwargs = _settings(tmp_path, name) | {"callbacks": [counter]}
        trainer = make(**kwargs) if make is L.Trainer else make({}, **kwargs)
        model = _model()
        trainer.fit(model, train_dataloaders=_data())
        results[name] = (model.state_dict(), counter.starts, counter.ends, trainer.profiler)
    weights, starts, ends, profiler = results["factory"]
    assert isinstance(profiler, NoOpProfiler)
    assert not isinstance(results["lightning"][3], NoOpProfiler)
    assert (starts, ends) == (18, 18) == results["lightning"][1:3]
    for key, value in results["lightning"][0].items():
        assert torch.equal(weights[key], value), key


def test_a_configured_profiler_is_kept(tmp_path: Path) -> None:
    trainer = build_trainer({"profiler": "simple"}, **_settings(tmp_path, "simple"))
    assert isinstance(trainer.profiler, SimpleProfiler)
    trainer.fit(_model(), train_dataloaders=_data())
    assert "run_training_batch" in trainer.profiler.recorded_durations


def test_noop_profiler_profiles_nothing() -> None:
    profiler = NoOpProfiler()
    assert isinstance(profiler, PassThroughProfiler)
    with profiler.profile("x") as entered:
        assert entered is None
    with pytest.raises(ValueError), profiler.profile("y"):
        raise ValueError("errors pass through")


def test_module_hook_name_is_a_plain_attribute_and_modules_still_register() -> None:
    model = _model()
    model._current_fx_name = "training_step"
    assert model.__dict__["_current_fx_name"] == "training_step"
    model.extra = nn.Linear(2, 2)  # other names take nn.Module's path
    assert "extra" in dict(model.named_children())


class LightningsClipping(MultiHeadClassifier):
    """The same module with Lightning's own gradient-clipping hook."""

    configure_gradient_clipping = L.LightningModule.configure_gradient_clipping


def _sgd_weights(tmp_path: Path, kind: type, clip: float | None) -> dict:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    model = kind(net, TASKS, optimizer=lambda params: torch.optim.SGD(params, 0.5))
    settings = _settings(tmp_path, f"{kind.__name__}{clip}") | {"gradient_clip_val": clip}
    build_trainer({}, **settings).fit(model, train_dataloaders=_data())
    return model.state_dict()


@pytest.mark.parametrize("clip", [None, 0.05])
def test_gradient_clipping_hook_clips_as_lightnings_own(tmp_path: Path, clip: float | None) -> None:
    ours = _sgd_weights(tmp_path, MultiHeadClassifier, clip)
    lightnings = _sgd_weights(tmp_path, LightningsClipping, clip)
    for key, value in ours.items():
        assert torch.equal(lightnings[key], value), key
    if clip is not None:  # clipping did change the training
        unclipped = _sgd_weights(tmp_path, MultiHeadClassifier, None)
        assert not torch.equal(unclipped["net.0.weight"], ours["net.0.weight"])


def test_training_step_signature_is_computed_once_and_read_as_before() -> None:
    from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

    step = MultiHeadClassifier.training_step
    assert "__signature__" in step.__dict__
    assert inspect.getfullargspec(_model().training_step).args == ["self", "batch", "batch_idx"]
    assert is_param_in_hook_signature(_model().training_step, "batch_idx", min_args=2)


def test_progress_bar_hooks_are_hidden_only_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainlab.core import console
    from trainlab.core.callbacks import ThrottledRichProgressBar

    monkeypatch.setattr(console, "stdout_is_terminal", lambda: False)
    off, forced = ThrottledRichProgressBar(), ThrottledRichProgressBar(only_on_terminal=False)
    skip_empty_batch_hooks([off, forced])
    assert all(getattr(off, name) is None for name in PER_BATCH_HOOKS)
    assert callable(forced.on_train_batch_end) and callable(forced.on_validation_batch_start)
