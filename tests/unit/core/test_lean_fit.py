"""The lean Fabric fit loop trains exactly as the Lightning Trainer does, epoch for epoch."""

from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch.optim import lr_scheduler as lr

from trainlab.core.lean_fit import LeanFitSettings, lean_fit, lean_fit_unsupported
from trainlab.data.kmer.batches import TensorBatches
from trainlab.errors import ConfigError
from trainlab.models.classification import MultiHeadClassifier
from trainlab.nets.mlp import MultitaskMLP

TASKS = {"a": ["x", "y"], "b": ["p", "q", "r"]}


class Tensors(L.LightningDataModule):
    """Learnable two-task data with missing labels, as in-memory batches."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(160, 12, generator=gen)
        a = (x[:, 0] + 0.5 * torch.randn(160, generator=gen) > 0).long()
        b = torch.bucketize(x[:, 1] + x[:, 2], torch.tensor([-0.5, 0.5]))
        b[torch.rand(160, generator=gen) < 0.2] = -1  # missing labels
        y = torch.stack([a, b], dim=1)
        self.train_xy, self.val_xy = (x[:112], y[:112]), (x[112:], y[112:])

    def setup(self, stage: str) -> None:
        self.train_batches = TensorBatches(self.train_xy, 16, shuffle=True, seed=3)

    def class_counts(self) -> dict[str, list[int]]:
        y = self.train_xy[1]
        return {t: [int((y[:, j] == c).sum()) for c in range(len(k))]
                for j, (t, k) in enumerate(TASKS.items())}  # fmt: skip

    def train_dataloader(self) -> TensorBatches:
        return self.train_batches

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.val_xy, 64)


def make_model(scheduler=None, interval="epoch") -> MultiHeadClassifier:
    torch.manual_seed(0)
    net = MultitaskMLP(12, TASKS, n_layers=2, hidden_dims=[32, 16], dropout=0.2, batch_norm=True)
    return MultiHeadClassifier(
        net,
        TASKS,
        optimizer=partial(torch.optim.Adam, lr=0.02),
        scheduler=scheduler,
        scheduler_interval=interval,
        class_weights="inverse_frequency",
    )


class Rows(Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def trainer_rows(model, settings: LeanFitSettings) -> list[dict[str, float]]:
    rows = Rows()
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=settings.max_epochs, precision=settings.precision,
        callbacks=[rows, EarlyStopping(settings.monitor, mode=settings.mode,
                                       patience=settings.patience)],
        gradient_clip_val=settings.gradient_clip_val, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(model, datamodule=Tensors())
    return rows.rows


@pytest.mark.parametrize(
    ("scheduler", "interval", "precision", "clip"),
    [
        (None, "epoch", "32-true", None),
        (partial(lr.StepLR, step_size=2, gamma=0.5), "epoch", "32-true", None),
        (partial(lr.ReduceLROnPlateau, patience=0), "epoch", "32-true", 0.5),
        (partial(lr.ExponentialLR, gamma=0.99), "step", "bf16-mixed", None),
    ],
    ids=["plain", "step_lr", "plateau_clip", "per_step_bf16"],
)
def test_same_history_as_the_trainer(scheduler, interval, precision, clip) -> None:
    settings = LeanFitSettings(
        max_epochs=25, monitor="val/f1_weighted", patience=3, accelerator="cpu",
        precision=precision, gradient_clip_val=clip,
    )  # fmt: skip
    lean = lean_fit(make_model(scheduler, interval), Tensors(), settings)
    reference = trainer_rows(make_model(scheduler, interval), settings)
    assert 3 < len(lean) < 25, "early stopping should end the fit before max_epochs"
    assert len(lean) == len(reference)
    for epoch, (ours, theirs) in enumerate(zip(lean, reference, strict=True)):
        val = {k: v for k, v in theirs.items() if k.startswith("val/")}
        assert val and {k for k in ours if k.startswith("val/")} == set(val)
        for key, value in val.items():
            assert ours[key] == pytest.approx(value, abs=1e-6), (epoch, key)
        # the Trainer logs an epoch's training metrics after its validation pass
        if epoch + 1 < len(reference):
            train = {k: v for k, v in reference[epoch + 1].items() if k.startswith("train/")}
            assert train and {k for k in ours if k.startswith("train/")} == set(train)
            for key, value in train.items():
                assert ours[key] == pytest.approx(value, abs=1e-6), (epoch, key)
    assert lean[-1]["val/f1_weighted"] > 0.6  # it learned


def test_lean_fit_leaves_the_model_trained_in_training_mode() -> None:
    model = make_model()
    before = [p.detach().clone() for p in model.parameters()]
    lean_fit(model, Tensors(), LeanFitSettings(max_epochs=2, monitor="val/loss", mode="min"))
    assert model.training and all(m.training for m in model.modules())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_unknown_monitor_names_what_was_logged() -> None:
    with pytest.raises(ConfigError, match=r"'val/nope'.*val/f1_weighted"):
        lean_fit(make_model(), Tensors(), LeanFitSettings(max_epochs=1, monitor="val/nope"))


def test_manual_optimization_is_refused() -> None:
    model = make_model()
    model.automatic_optimization = False
    with pytest.raises(ConfigError, match="manual optimization"):
        lean_fit(model, Tensors(), LeanFitSettings(max_epochs=1, monitor="val/loss"))


def test_trainer_settings_a_lean_fit_cannot_honour() -> None:
    assert lean_fit_unsupported({"devices": 1, "accumulate_grad_batches": 1}) is None
    assert "devices=2" in lean_fit_unsupported({"devices": 2})
    assert "accumulate_grad_batches=4" in lean_fit_unsupported({"accumulate_grad_batches": 4})
    assert "deterministic" in lean_fit_unsupported({"deterministic": True})


def test_the_datamodule_sees_the_training_device_during_the_fit() -> None:
    class DeviceAware(Tensors):
        def train_dataloader(self) -> TensorBatches:
            self.seen = self.trainer.strategy.root_device  # where in-memory tensors must go
            return super().train_dataloader()

    data = DeviceAware()
    lean_fit(make_model(), data, LeanFitSettings(max_epochs=1, monitor="val/loss", mode="min"))
    assert data.seen == torch.device("cpu") and data.trainer is None
