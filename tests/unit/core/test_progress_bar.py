"""The rich progress bar that takes in training progress at the pace it redraws."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.core.callbacks import ThrottledRichProgressBar


class TinyRegression(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class RecordingBar(ThrottledRichProgressBar):
    """Notes which training batches reached Lightning's own per-batch update."""

    def __init__(self, refresh_rate: int) -> None:
        # pytest's output is no terminal, where the bar would stay off
        super().__init__(refresh_rate=refresh_rate, only_on_terminal=False)
        self.forwarded: list[int] = []
        self._epoch_ending = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_ending = True
        super().on_train_epoch_end(trainer, pl_module)
        self._epoch_ending = False

    def _update_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.training and not self._epoch_ending:
            self.forwarded.append(trainer.fit_loop.epoch_loop.batch_idx)
        super()._update_metrics(trainer, pl_module)


def test_training_progress_is_passed_on_once_per_redraw_and_at_the_end(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(80, 3), torch.randn(80, 1))
    bar = RecordingBar(refresh_rate=1)  # one redraw a second: 20 fast batches fit in one
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyRegression(), DataLoader(data, batch_size=4))
    assert len(bar.forwarded) <= 6  # out of 40 batches
    assert bar.forwarded.count(19) == 2  # the last batch of each epoch always shows
    task = bar.progress.tasks[bar.train_progress_bar_id] if bar.progress else None
    assert task is None or task.completed == 20
