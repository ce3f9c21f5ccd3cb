import numpy as np
import pytest
import torch

from trainlab.metrics.evaluation import classification_metrics, span_metrics


def test_binary_report_by_hand():
    y = np.array([0, 0, 1, 1, -1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8], [0.5, 0.5]])
    r = classification_metrics(y, probs, ["absent", "present"])
    assert r["n"] == 4  # the missing label is ignored
    assert r["accuracy"] == pytest.approx(0.75)
    assert r["confusion_matrix"] == [[1, 1], [0, 2]]
    assert r["auroc"] == pytest.approx(1.0)  # probabilities rank every positive first
    assert r["f1_micro"] == pytest.approx(0.75)
    # absent: P=1 R=.5 F1=2/3; present: P=2/3 R=1 F1=.8
    assert r["f1_macro"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert r["precision_macro"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["classification_report"]["present"]["recall"] == pytest.approx(1.0)


def test_auroc_is_none_with_one_class_and_multiclass_works():
    assert classification_metrics(np.array([1, 1]), np.eye(2)[[1, 1]], ["a", "b"])["auroc"] is None
    y = np.array([0, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    assert classification_metrics(y, probs, ["a", "b", "c"])["auroc"] == pytest.approx(1.0)


def test_span_metrics():
    t = torch.tensor
    r = span_metrics(t([1, 0]), t([2, 0]), t([1, 3]), t([2, 3]))
    assert r == {"n": 2, "exact_match": 0.5, "token_f1": 0.5}
    assert span_metrics(t([]), t([]), t([]), t([]))["exact_match"] is None
