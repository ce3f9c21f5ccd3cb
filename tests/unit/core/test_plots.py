"""Learning curves from a real Lightning CSV log: the epochs read back, the best one, the PNG."""

from __future__ import annotations

import io
from pathlib import Path

import lightning as L
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.core.csv_logger import ResumableCSVLogger
from trainlab.core.plots import (
    best_epoch,
    learning_curves_png,
    read_epoch_metrics,
    write_learning_curves,
)


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        loss = nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss = nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        self.log("val/loss", loss)
        self.log("val/score", 1.0 / (1.0 + loss))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_curves_are_drawn_from_the_csv_log(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 3), torch.randn(64, 1))
    trainer = L.Trainer(
        max_epochs=3,
        logger=ResumableCSVLogger(save_dir=tmp_path, name="csv", version=""),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(Tiny(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=32))
    epochs = read_epoch_metrics(tmp_path / "csv" / "metrics.csv")
    assert sorted(epochs) == [0, 1, 2]
    assert all({"train/loss", "val/loss", "val/score"} <= set(row) for row in epochs.values())
    assert epochs[2]["val/loss"] == float(trainer.callback_metrics["val/loss"])

    path = write_learning_curves(tmp_path, "val/score", "max")
    assert path == tmp_path / "learning_curves.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 900 and image.height >= 400


def test_best_epoch_is_the_first_of_ties_like_a_checkpoint() -> None:
    series = [(0, 0.5), (1, 0.9), (2, 0.9), (3, float("nan"))]
    assert best_epoch(series, "max") == (1, 0.9)
    assert best_epoch(series, "min") == (0, 0.5)
    assert best_epoch([(0, float("nan"))], "max") is None


def test_a_loss_monitor_draws_one_panel() -> None:
    epochs = {0: {"train/loss": 2.0, "val/loss": 1.5}, 1: {"train/loss": 1.0, "val/loss": 1.2}}
    one = Image.open(io.BytesIO(learning_curves_png(epochs, "val/loss", "min")))
    epochs[0]["val/acc"], epochs[1]["val/acc"] = 0.4, 0.6
    two = Image.open(io.BytesIO(learning_curves_png(epochs, "val/acc", "max")))
    assert two.width > 1.6 * one.width


def test_no_csv_logger_no_figure(tmp_path: Path) -> None:
    assert write_learning_curves(tmp_path, "val/acc", "max") is None
    assert not (tmp_path / "learning_curves.png").exists()
