"""The Opacus side of DP training on a real Trainer: model fixes, refusals, epsilon."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.core.privacy import DifferentialPrivacy, make_dp_compatible
from trainlab.errors import ConfigError
from trainlab.models.classification import MultiHeadClassifier
from trainlab.nets.backbones import create_backbone

pytest.importorskip("opacus", reason="DP training needs the `dp` extra (opacus)")


class TinyDigits(L.LightningDataModule):
    """160 random 8x8 single-channel images in 4 classes."""

    def setup(self, stage: str) -> None:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(160, 1, 8, 8, generator=generator)
        self.data = TensorDataset(x, torch.randint(0, 4, (160,), generator=generator))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=16, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=80)


def _model() -> MultiHeadClassifier:
    net = make_dp_compatible(create_backbone("small_cnn", num_classes=4, in_channels=1, width=8))
    return MultiHeadClassifier(net, {"label": ["a", "b", "c", "d"]})


def _trainer(callback: DifferentialPrivacy, **kwargs) -> L.Trainer:
    options = {
        "max_epochs": 2,
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        **kwargs,
    }
    return L.Trainer(callbacks=[callback], **options)


def test_make_dp_compatible_replaces_batchnorm_and_inplace_ops():
    net = make_dp_compatible(create_backbone("resnet18", num_classes=3))
    kinds = {type(m).__name__ for m in net.modules()}
    assert "BatchNorm2d" not in kinds and "GroupNorm" in kinds
    assert not any(getattr(m, "inplace", False) for m in net.modules())
    assert "conv1.weight" in net.state_dict() and "bn1.running_mean" not in net.state_dict()


def test_dp_fit_logs_finite_growing_epsilon_and_keeps_module_keys():
    torch.manual_seed(0)
    model = _model()
    keys = set(model.state_dict())
    callback = DifferentialPrivacy(noise_multiplier=1.0, target_delta=1e-5, accountant="rdp")
    epsilons = []

    class Record(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            epsilons.append(float(trainer.callback_metrics["train/epsilon"]))

    trainer = _trainer(callback)
    trainer.callbacks.append(Record())
    trainer.fit(model, datamodule=TinyDigits())
    assert len(epsilons) == 2 and all(math.isfinite(e) and e > 0 for e in epsilons)
    assert epsilons[1] > epsilons[0]
    assert type(trainer.optimizers[0]).__name__ == "DPOptimizer"
    assert set(model.state_dict()) == keys  # hooks only: no `_module.` prefix in checkpoints
    state = callback.state_dict()
    assert state["noise_multiplier"] == 1.0 and state["accountant"]["history"]


def test_target_epsilon_is_reached_over_the_planned_epochs():
    callback = DifferentialPrivacy(target_epsilon=4.0, target_delta=1e-5, accountant="rdp")
    trainer = _trainer(callback, num_sanity_val_steps=0)
    trainer.fit(_model(), datamodule=TinyDigits())
    assert callback.noise_multiplier > 0
    assert float(trainer.callback_metrics["train/epsilon"]) == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accumulate_grad_batches": 2}, "accumulate_grad_batches=2"),
        ({"precision": "bf16-mixed"}, "trainer.precision=bf16-mixed"),
        ({"gradient_clip_val": 1.0}, "gradient_clip_val=1.0"),
    ],
)
def test_conflicting_trainer_is_refused_before_any_step(kwargs, message):
    callback = DifferentialPrivacy(noise_multiplier=1.0, target_delta=1e-5)
    trainer = _trainer(callback, **kwargs)
    with pytest.raises(ConfigError, match=message):
        trainer.fit(_model(), datamodule=TinyDigits())
    assert trainer.global_step == 0


def test_poisson_sampling_needs_a_datamodule():
    callback = DifferentialPrivacy(noise_multiplier=1.0, target_delta=1e-5)
    loader = DataLoader(TensorDataset(torch.randn(32, 1, 8, 8), torch.randint(0, 4, (32,))))
    with pytest.raises(ConfigError, match="needs the training data from a DataModule"):
        _trainer(callback).fit(_model(), train_dataloaders=loader)


class ScaleWithRunningMean(nn.Module):
    """A trainable layer with a buffer: its statistics would leak, and Opacus cannot fix it."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.register_buffer("running_mean", torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_unsupported_layer_is_refused():
    with pytest.raises(ConfigError, match=r"cannot train privately.*ScaleWithRunningMean"):
        make_dp_compatible(nn.Sequential(nn.Linear(4, 3), ScaleWithRunningMean()))
