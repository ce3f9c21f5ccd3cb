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


def test_a_split_without_positives_reports_the_undefined_scores_as_none():
    # a criterion with no positive rows in the test split, every row rightly called absent
    y = np.zeros(5, dtype=int)
    probs = np.tile([0.8, 0.2], (5, 1))
    r = classification_metrics(y, probs, ["absent", "present"])
    # before: f1_macro 0.5, precision_macro 0.5 and recall_macro 0.5 (0/0 counted as 0)
    assert r["f1_macro"] is None and r["recall_macro"] is None and r["precision_macro"] is None
    assert r["auroc"] is None and r["accuracy"] == 1.0 and r["f1_micro"] == 1.0
    assert r["undefined"]["f1_macro"] == (
        "class 'present' has no rows in this split and is never predicted"
    )
    assert set(r["undefined"]) == {"f1_macro", "recall_macro", "precision_macro", "auroc"}
    present = r["classification_report"]["present"]
    assert present["f1-score"] is None and present["recall"] is None and present["support"] == 0
    # a false alarm makes F1 of 'present' defined (0: every call of it wrong), recall is not
    probs[0] = [0.3, 0.7]
    r = classification_metrics(y, probs, ["absent", "present"])
    assert r["f1_macro"] == pytest.approx((8 / 9 + 0) / 2)  # absent: 2*4 / (5 + 4)
    assert r["precision_macro"] == pytest.approx((1 + 0) / 2)
    assert r["recall_macro"] is None and set(r["undefined"]) == {"recall_macro", "auroc"}


def test_known_case_matches_a_hand_computation():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.8, 0.3, 0.6, 0.1, 0.2, 0.7])
    r = classification_metrics(y, np.stack([1 - p, p], 1), ["absent", "present"])
    # TP 2, FN 1, FP 2, TN 3: F1 present 4/7, absent 6/9; AUROC: 13 of 15 pairs ranked right
    assert r["f1_macro"] == pytest.approx((4 / 7 + 6 / 9) / 2)
    assert r["auroc"] == pytest.approx(13 / 15)
    assert r["recall_macro"] == pytest.approx((2 / 3 + 3 / 5) / 2)
    assert "undefined" not in r


def test_the_report_breaks_down_by_criterion_and_leaves_undefined_scores_none():
    from trainlab.core.evaluation_report import build_evaluation_report

    # FATIGUE has no positive row in this split: its F1 macro, recall and AUROC are undefined
    target = torch.tensor([1, 0, 1, 0, 0, 0])
    present = torch.tensor([0.9, 0.2, 0.4, 0.6, 0.1, 0.3])
    outputs = [
        {"probs": {"status": torch.stack([1 - present, present], 1)}, "target": {"status": target}}
    ]
    criteria = ["SLEEP", "SLEEP", "SLEEP", "SLEEP", "FATIGUE", "FATIGUE"]
    report = build_evaluation_report(
        outputs, {"status": ["absent", "present"]}, {"criterion": criteria}
    )
    sleep, fatigue = report["by_criterion"]["SLEEP"], report["by_criterion"]["FATIGUE"]
    assert sleep["n"] == 4 and sleep["confusion_matrix"] == [[1, 1], [1, 1]]
    assert sleep["auroc"] == pytest.approx(0.75) and sleep["f1_macro"] == pytest.approx(0.5)
    assert fatigue["n"] == 2 and fatigue["accuracy"] == 1.0
    assert fatigue["f1_macro"] is None and fatigue["recall_macro"] is None
    assert fatigue["auroc"] is None
    assert "class 'present' has no rows" in fatigue["undefined"]["recall_macro"]
    assert report["n"] == 6 and report["f1_macro"] is not None
