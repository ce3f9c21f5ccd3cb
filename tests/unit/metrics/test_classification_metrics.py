"""Confusion-matrix metrics agree with scikit-learn and ignore missing labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from trainlab.metrics.classification import ConfusionMetrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 5, 300)
    preds = np.where(rng.random(300) < 0.6, target, rng.integers(0, 5, 300))
    metric = ConfusionMetrics(5)
    for chunk in np.array_split(np.arange(300), 7):
        metric.update(torch.as_tensor(preds[chunk]), torch.as_tensor(target[chunk]))
    out = {k: float(v) for k, v in metric.compute().items()}
    assert out["acc"] == pytest.approx(accuracy_score(target, preds), abs=1e-6)
    assert out["balanced_acc"] == pytest.approx(balanced_accuracy_score(target, preds), abs=1e-6)
    assert out["f1_macro"] == pytest.approx(f1_score(target, preds, average="macro"), abs=1e-6)
    assert out["f1_weighted"] == pytest.approx(
        f1_score(target, preds, average="weighted"), abs=1e-6
    )


def test_missing_labels_are_ignored() -> None:
    metric = ConfusionMetrics(3)
    metric.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, -1, 2, -1]))
    assert int(metric.confmat.sum()) == 2
    assert float(metric.compute()["acc"]) == 1.0


def test_update_count_and_cached_result_stay_torchmetrics_own() -> None:
    # both counters are written past nn.Module.__setattr__; compute's cache must still reset
    metric = ConfusionMetrics(2)
    metric.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    assert float(metric.compute()["acc"]) == 0.5
    metric.update(torch.tensor([0, 0]), torch.tensor([0, 0]))
    assert metric.update_count == 2 and "_computed" in metric.__dict__
    assert float(metric.compute()["acc"]) == 0.75
    metric.reset()
    assert metric.update_count == 0 and metric._computed is None
    metric.threshold = torch.zeros(1)  # other names still take nn.Module's path
    with pytest.raises(RuntimeError, match="higher_is_better"):
        metric.higher_is_better = False
