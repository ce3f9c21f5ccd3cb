"""MultiHeadClassifier(logged_metrics=...): a search logs only its monitor."""

import lightning as L
import torch

from trainlab.data.kmer.batches import TensorBatches
from trainlab.metrics.classification import METRIC_NAMES
from trainlab.models.classification import MultiHeadClassifier
from trainlab.nets.mlp import MultitaskMLP

TASKS = {"a": ["x", "y"], "b": ["p", "q", "r"]}


def fit(logged: list[str] | None) -> dict:
    torch.manual_seed(0)
    x = torch.randn(40, 6)
    y = torch.stack([torch.randint(0, 2, (40,)), torch.randint(-1, 3, (40,))], dim=1)
    model = MultiHeadClassifier(MultitaskMLP(6, TASKS, n_layers=1, hidden_dims=8), TASKS,
                                logged_metrics=logged)  # fmt: skip
    trainer = L.Trainer(
        max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(model, TensorBatches((x, y), 16, shuffle=True), TensorBatches((x, y), 64))
    return dict(trainer.callback_metrics)


def test_all_metrics_by_default_and_only_the_monitor_when_asked() -> None:
    every = fit(None)
    assert {"train/loss", "train/a/f1_weighted", "val/b/acc", "val/f1_weighted"} <= set(every)
    lean = fit(["val/f1_weighted"])
    assert set(lean) == {"val/f1_weighted"}
    assert float(lean["val/f1_weighted"]) == float(every["val/f1_weighted"])


def test_unlogged_metrics_and_losses_are_not_computed() -> None:
    net = MultitaskMLP(6, TASKS, n_layers=1, hidden_dims=8)
    model = MultiHeadClassifier(net, TASKS, logged_metrics=["val/f1_weighted", "val/a/acc"])
    assert model.metrics["val_metrics"]["b"].names == ("acc", "f1_weighted")
    assert model.metrics["test_metrics"]["b"].names == METRIC_NAMES  # nothing asked: all
    batch = (torch.randn(8, 6), torch.zeros(8, 2, dtype=torch.long))
    model.training_step(batch, 0)
    model.validation_step(batch, 0)
    assert "train" not in model._loss_sum and "val" not in model._loss_sum
    assert set(model.metrics["val_metrics"]["a"].compute()) == {"acc", "f1_weighted"}
