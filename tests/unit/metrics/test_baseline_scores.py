"""Baseline scores equal scikit-learn's own fit and metrics on the same rows (a contract)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trainlab.metrics.baselines import (
    LINEAR,
    MAJORITY,
    LinearSettings,
    classification_baselines,
    pu_baselines,
)


def _sklearn_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "acc": accuracy_score(y_true, y_pred),
        "balanced_acc": balanced_accuracy_score(y_true, y_pred),
        "f1_macro": f1_score(y_true, y_pred, average="macro"),
        "f1_weighted": f1_score(y_true, y_pred, average="weighted"),
    }


def _direct_fit(x_train, y_train, x_test) -> np.ndarray:
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=0)
    )
    return model.fit(x_train, y_train).predict(x_test)


def test_single_task_equals_a_direct_scikit_learn_fit() -> None:
    digits = load_digits()
    x, y = digits.data, digits.target
    train, test = np.arange(0, 1200), np.arange(1200, len(y))
    result = classification_baselines(
        x[train],
        {"label": y[train]},
        x[test],
        {"label": y[test]},
        {"label": [str(d) for d in range(10)]},
        LinearSettings(),
    )
    expected_linear = _sklearn_scores(y[test], _direct_fit(x[train], y[train], x[test]))
    majority = np.bincount(y[train]).argmax()
    expected_majority = _sklearn_scores(y[test], np.full(len(test), majority))
    for metric, value in expected_linear.items():
        assert result.scores[LINEAR][f"test/{metric}"] == pytest.approx(value, abs=1e-6)
    for metric, value in expected_majority.items():
        assert result.scores[MAJORITY][f"test/{metric}"] == pytest.approx(value, abs=1e-6)
    assert result.scores[LINEAR]["test/acc"] > 0.9 > 0.2 > result.scores[MAJORITY]["test/acc"]


def test_multi_task_per_task_with_missing_labels_left_out() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12))
    a = (x[:, 0] > 0).astype(np.int64)
    b = np.digitize(x[:, 1], [-0.5, 0.5]).astype(np.int64)
    a[rng.random(300) < 0.2] = -1  # missing labels
    b[rng.random(300) < 0.3] = -1
    train, test = np.arange(200), np.arange(200, 300)
    tasks = {"a": ["n", "y"], "b": ["lo", "mid", "hi"]}
    result = classification_baselines(
        x[train],
        {"a": a[train], "b": b[train]},
        x[test],
        {"a": a[test], "b": b[test]},
        tasks,
        LinearSettings(),
    )
    per_task = {}
    for task, y in (("a", a), ("b", b)):
        keep_tr, keep_te = y[train] >= 0, y[test] >= 0
        predicted = _direct_fit(x[train][keep_tr], y[train][keep_tr], x[test][keep_te])
        per_task[task] = _sklearn_scores(y[test][keep_te], predicted)
        for metric, value in per_task[task].items():
            assert result.scores[LINEAR][f"test/{task}/{metric}"] == pytest.approx(value, abs=1e-6)
    mean_f1 = np.mean([per_task[t]["f1_weighted"] for t in tasks])
    assert result.scores[LINEAR]["test/f1_weighted"] == pytest.approx(mean_f1, abs=1e-6)


def test_one_class_in_training_rows_falls_back_to_majority_with_a_note() -> None:
    x = np.arange(20, dtype=float).reshape(10, 2)
    y = {"label": np.zeros(10, dtype=np.int64)}
    test_y = {"label": np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])}
    result = classification_baselines(x, y, x, test_y, {"label": ["a", "b"]}, LinearSettings())
    assert result.scores[LINEAR] == result.scores[MAJORITY]
    assert result.scores[MAJORITY]["test/acc"] == pytest.approx(0.8)
    assert any("one class" in note for note in result.notes)


def test_pu_baselines_equal_scikit_learn_auroc_and_the_prior() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5))
    labels = (x[:, 0] + 0.5 * rng.normal(size=400) > 1.0).astype(np.int64)
    train, test = np.arange(300), np.arange(300, 400)
    result = pu_baselines(x[train], labels[train], x[test], labels[test], LinearSettings())
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=0)
    )
    probs = model.fit(x[train], labels[train]).predict_proba(x[test])[:, 1]
    linear = result.scores[LINEAR]
    assert linear["test/auroc"] == pytest.approx(roc_auc_score(labels[test], probs), abs=1e-9)
    assert linear["test/average_precision"] == pytest.approx(
        average_precision_score(labels[test], probs), abs=1e-9
    )
    called = probs >= 0.5
    recall = (called & (labels[test] == 1)).sum() / (labels[test] == 1).sum()
    assert linear["test/recall"] == pytest.approx(recall)
    assert linear["test/predicted_positive_rate"] == pytest.approx(called.mean())
    prior = result.scores[MAJORITY]
    assert prior["test/auroc"] == pytest.approx(0.5)
    assert prior["test/recall"] == 0.0  # the prior (about 0.16) is below the 0.5 threshold
