"""The Opacus side of DP training on a real Trainer: model fixes, refusals, epsilon."""

from __future__ import annotations

import math
import re

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


@pytest.mark.slow  # 4.8-7.0 s on the shared 2-core machine (Opacus' per-sample steps)
def test_logged_epsilon_is_the_accountants_for_the_sampled_rate_and_steps():
    # an independent accountant over what happened: Poisson rate 1/len(loader), one entry per
    # optimizer step; the batches really are Poisson-sampled (their sizes vary)
    from opacus.accountants import RDPAccountant

    sizes = []

    class Sizes(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            sizes.append(len(batch[0]))

    torch.manual_seed(0)
    callback = DifferentialPrivacy(noise_multiplier=1.0, target_delta=1e-5, accountant="rdp")
    trainer = _trainer(
        callback, max_epochs=1, limit_train_batches=4, limit_val_batches=0, num_sanity_val_steps=0
    )
    trainer.callbacks.append(Sizes())
    trainer.fit(_model(), datamodule=TinyDigits())
    assert len(sizes) == 4 and len(set(sizes)) > 1  # Poisson batches, 16 rows expected
    independent = RDPAccountant()
    independent.history = [(1.0, 1 / 10, 4)]  # 160 rows / 16 a batch: rate 1/10
    logged = float(trainer.callback_metrics["train/epsilon"])
    assert logged == pytest.approx(independent.get_epsilon(1e-5), rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # 160 training rows: 1/N = 0.00625
        ({"target_delta": 0.01}, r"privacy.target_delta=0.01 is not below 1/N = 0.00625"),
        (
            {"target_delta": 1e-5, "poisson_sampling": False},
            r"privacy.poisson_sampling=false: .* not a guarantee of this run",
        ),
    ],
)
def test_epsilon_that_guarantees_little_is_warned_about(caplog, kwargs, message):
    callback = DifferentialPrivacy(noise_multiplier=1.0, accountant="rdp", **kwargs)
    trainer = _trainer(
        callback, max_epochs=1, limit_train_batches=1, limit_val_batches=0, num_sanity_val_steps=0
    )
    with caplog.at_level("WARNING", logger="trainlab.core.privacy"):
        trainer.fit(_model(), datamodule=TinyDigits())
    assert any(re.search(message, r.getMessage()) for r in caplog.records), caplog.text
