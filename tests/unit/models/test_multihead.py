"""MultiHeadClassifier: several tasks, missing labels, class weights, metric names."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlab.models.classification import MultiHeadClassifier


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.a = nn.Linear(8, 2)
        self.b = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.body(x))
        return {"a": self.a(h), "b": self.b(h)}


def test_missing_labels_do_not_count_in_the_loss() -> None:
    torch.manual_seed(0)
    model = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    x = torch.randn(6, 4)
    y = torch.tensor([[0, 1], [1, -1], [0, 2], [1, -1], [0, 0], [1, 1]])
    loss = model._step((x, y), "train")
    logits = model(x)
    keep = y[:, 1] >= 0
    expected = nn.functional.cross_entropy(logits["a"], y[:, 0]) + nn.functional.cross_entropy(
        logits["b"][keep], y[keep, 1]
    )
    assert torch.allclose(loss, expected)
    assert int(model.metrics["train_metrics"]["b"].confmat.sum()) == 4


def test_all_labels_missing_gives_zero_not_nan() -> None:
    model = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    y = torch.tensor([[0, -1], [1, -1]])
    assert torch.isfinite(model._step((torch.randn(2, 4), y), "train"))


def test_a_nan_from_the_network_stays_nan() -> None:
    # a diverged network must not be logged as a loss of 0 (nan_to_num did that)
    model = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    with torch.no_grad():
        model.net.body.weight.fill_(float("nan"))
    y = torch.tensor([[0, 1], [1, -1]])
    assert torch.isnan(model._step((torch.randn(2, 4), y), "train"))


def test_a_task_without_labels_adds_no_gradient() -> None:
    model = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    y = torch.tensor([[0, -1], [1, -1]])
    model._step((torch.randn(2, 4), y), "train").backward()
    assert torch.equal(model.net.b.weight.grad, torch.zeros_like(model.net.b.weight))
    assert all(torch.isfinite(p.grad).all() for p in model.net.parameters())


class CountsData(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.x = torch.randn(40, 4)
        self.y = torch.stack([torch.randint(0, 2, (40,)), torch.randint(0, 3, (40,))], dim=1)

    def class_counts(self) -> dict[str, list[int]]:
        return {"a": [30, 10], "b": [20, 10, 10]}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=10)

    val_dataloader = train_dataloader


def test_training_logs_per_task_and_overall_metrics_with_class_weights(tmp_path) -> None:
    model = MultiHeadClassifier(
        TwoHeads(),
        {"a": ["x", "y"], "b": ["p", "q", "r"]},
        class_weights="inverse_frequency",
        task_weights={"b": 2.0},
    )
    trainer = _fit(tmp_path, CountsData(), model, epochs=1)
    names = set(trainer.callback_metrics)
    for stage in ("train", "val"):
        assert f"{stage}/loss" in names and f"{stage}/f1_macro" in names
        assert {f"{stage}/a/acc", f"{stage}/b/f1_weighted", f"{stage}/b/balanced_acc"} <= names
    overall = trainer.callback_metrics["val/acc"]
    mean = (trainer.callback_metrics["val/a/acc"] + trainer.callback_metrics["val/b/acc"]) / 2
    assert torch.allclose(overall, mean)
    assert torch.allclose(model.class_weight_a, torch.tensor([40 / 60, 40 / 20]))
    assert model.task_weights == {"a": 1.0, "b": 2.0}


class UnlabelledInValidation(CountsData):
    """Task b has labels in training and none in validation (rare labels, a small split)."""

    def __init__(self, missing: tuple[int, ...] = (1,)) -> None:
        super().__init__()
        self.val_y = self.y.clone()
        self.val_y[:, list(missing)] = -1

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.val_y), batch_size=10)


def _fit(
    tmp_path, data: L.LightningDataModule, model: MultiHeadClassifier | None = None, epochs: int = 2
) -> L.Trainer:
    model = model or MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=data)
    return trainer


def test_a_task_without_labels_in_a_split_is_left_out_of_its_means(tmp_path, caplog) -> None:
    """Its metrics would be zeros describing no data, pulling val/f1_macro (the monitor) down."""
    with caplog.at_level("WARNING"):
        trainer = _fit(tmp_path, UnlabelledInValidation())
    metrics = trainer.callback_metrics
    assert not any(k.startswith("val/b/") for k in metrics)
    assert {"train/b/acc", "val/a/acc"} <= set(metrics)  # b is kept where it has labels
    for name in ("acc", "f1_macro", "balanced_acc", "f1_weighted"):
        assert torch.equal(metrics[f"val/{name}"], metrics[f"val/a/{name}"]), name
    warnings = [r.message for r in caplog.records if "no labelled row for task(s) b" in r.message]
    assert len(warnings) == 1  # once per stage and task, not every epoch


def test_a_split_without_any_labelled_row_is_refused(tmp_path) -> None:
    import pytest

    from trainlab.errors import DataError

    with pytest.raises(DataError, match="the val split has no labelled row for any task"):
        _fit(tmp_path, UnlabelledInValidation(missing=(0, 1)))


class UntrainedTask(CountsData):
    """Task b is labelled in validation and test rows only (a task labelled in one project
    that the group-disjoint split put outside training)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_y = self.y.clone()
        self.train_y[:, 1] = -1

    def class_counts(self) -> dict[str, list[int]]:
        return {"a": torch.bincount(self.train_y[:, 0], minlength=2).tolist(), "b": [0, 0, 0]}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.train_y), batch_size=10)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=10)

    test_dataloader = val_dataloader


def test_a_task_without_training_labels_is_left_out_of_val_and_test(tmp_path, caplog) -> None:
    """Its head never saw a label: before, its figures went into val/f1_weighted (the monitor)
    and the test means, while the baselines beside them left it out."""
    data = UntrainedTask()
    model = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    with caplog.at_level("WARNING"):
        trainer = _fit(tmp_path, data, model)
        validated = dict(trainer.callback_metrics)
        tested = trainer.test(model, datamodule=data, verbose=False)[0]
    for metrics, stage in ((validated, "val"), (tested, "test")):
        assert not any(k.startswith(f"{stage}/b/") for k in metrics), stage
        for name in ("acc", "f1_macro", "f1_weighted", "loss"):
            assert float(metrics[f"{stage}/{name}"]) == float(metrics[f"{stage}/a/{name}"])
    assert model.untrained_tasks == ["b"]
    assert list(model.scored_tasks) == ["a"]
    assert "task(s) b had no labelled row in the train split" in caplog.text
    # eval and predict rebuild the model from the checkpoint: it says which heads are untrained
    checkpoint: dict = {}
    model.on_save_checkpoint(checkpoint)
    rebuilt = MultiHeadClassifier(TwoHeads(), {"a": ["x", "y"], "b": ["p", "q", "r"]})
    rebuilt.on_load_checkpoint(checkpoint)
    assert rebuilt.untrained_tasks == ["b"]
