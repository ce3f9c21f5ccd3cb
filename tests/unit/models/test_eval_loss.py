"""val/test loss: each task's plain cross-entropy over its labelled rows, meaned over tasks.

It was the training objective (sum over tasks of task weight x class-weighted cross-entropy),
whose scale follows the weights each fold's search chose: one network's test loss read 1.04
or 3.40 under two folds' task weights, and the mean over folds mixed them.
"""

import lightning as L
import pytest
import torch
from torch.nn import functional as F

from trainlab.data.kmer.batches import TensorBatches
from trainlab.models.classification import MultiHeadClassifier
from trainlab.nets.mlp import MultitaskMLP

TASKS = {"a": ["x", "y"], "b": ["p", "q", "r"]}


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(60, 6)
    # task b: about a quarter of its labels missing (-1)
    y = torch.stack([torch.randint(0, 2, (60,)), torch.randint(-1, 3, (60,))], dim=1)
    return x, y


def _test(net: torch.nn.Module, **kwargs) -> dict[str, float]:
    x, y = _data()
    model = MultiHeadClassifier(net, TASKS, **kwargs)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (metrics,) = trainer.test(model, TensorBatches((x, y), 16), verbose=False)
    return metrics


def test_the_test_loss_does_not_follow_task_or_class_weights() -> None:
    torch.manual_seed(1)
    net = MultitaskMLP(6, TASKS, n_layers=1, hidden_dims=8)
    x, y = _data()
    with torch.no_grad():
        out = net.eval()(x)
    a = F.cross_entropy(out["a"], y[:, 0]).item()
    b = F.cross_entropy(out["b"], y[:, 1], ignore_index=-1).item()
    expected = {"test/a/loss": a, "test/b/loss": b, "test/loss": (a + b) / 2}
    for kwargs in (
        {},
        {"task_weights": {"a": 0.5, "b": 0.6}},
        {"task_weights": {"a": 1.9, "b": 1.8}, "class_weights": "inverse_frequency"},
        {"label_smoothing": 0.2},
    ):
        metrics = _test(net, **kwargs)
        losses = {k: v for k, v in metrics.items() if k.endswith("loss")}
        assert losses == pytest.approx(expected, rel=1e-5), kwargs


def test_a_task_without_labels_is_left_out_of_the_loss() -> None:
    torch.manual_seed(1)
    net = MultitaskMLP(6, TASKS, n_layers=1, hidden_dims=8)
    x, y = _data()
    y[:, 1] = -1
    model = MultiHeadClassifier(net, TASKS)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (metrics,) = trainer.test(model, TensorBatches((x, y), 16), verbose=False)
    with torch.no_grad():
        a = F.cross_entropy(net.eval()(x)["a"], y[:, 0]).item()
    assert "test/b/loss" not in metrics
    assert metrics["test/loss"] == pytest.approx(a, rel=1e-5)
