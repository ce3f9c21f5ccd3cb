"""The numbers of an evaluation report, from predictions (pure functions, no Lightning).

Classification: accuracy, F1 macro/micro/weighted, precision and recall (macro), AUROC,
confusion matrix and scikit-learn's classification report. Spans: exact match and token F1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainlab.metrics.span import span_exact_match, span_token_f1


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, classes: list[str]
) -> dict[str, Any]:
    """Report of one classification task; rows with a target < 0 (missing) are ignored.

    AUROC is one-vs-rest macro for several classes, P(class 1) for two, and None when the
    targets hold a single class (it is undefined there). A macro average over a per-class score
    that is 0/0 for some class (recall of a class without rows, precision of one never
    predicted, F1 of one neither) is None too, and `undefined` says why for each None.
    """
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    keep = y_true >= 0
    y_true, probs = y_true[keep], probs[keep]
    labels = list(range(len(classes)))
    y_pred = probs.argmax(axis=1)
    common = {"labels": labels, "zero_division": 0}
    auroc = None
    if len(np.unique(y_true)) > 1:
        if len(classes) == 2:
            auroc = float(roc_auc_score(y_true, probs[:, 1]))
        else:
            present = sorted(set(y_true.tolist()))
            norm = probs[:, present] / probs[:, present].sum(axis=1, keepdims=True)
            auroc = float(roc_auc_score(y_true, norm, multi_class="ovr", labels=present))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    undefined = _undefined(matrix, list(classes))
    report = classification_report(
        y_true, y_pred, target_names=list(classes), output_dict=True, **common
    )
    for name, metrics in undefined["per_class"].items():  # 0/0 is no score, not a 0
        report[name].update({metric: None for metric in metrics})

    def macro(name: str, score: Any) -> float | None:
        return None if name in undefined["macro"] else float(score(average="macro", **common))

    result = {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else None,
        "f1_macro": macro("f1_macro", lambda **k: f1_score(y_true, y_pred, **k)),
        "f1_micro": float(f1_score(y_true, y_pred, average="micro", **common)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", **common)),
        "precision_macro": macro(
            "precision_macro", lambda **k: precision_score(y_true, y_pred, **k)
        ),
        "recall_macro": macro("recall_macro", lambda **k: recall_score(y_true, y_pred, **k)),
        "auroc": auroc,
        "classes": list(classes),
        "confusion_matrix": matrix.tolist(),
        "classification_report": report,
    }
    if auroc is None:
        undefined["macro"]["auroc"] = "the targets hold a single class"
    if undefined["macro"]:
        result["undefined"] = undefined["macro"]
    return result


def _undefined(matrix: np.ndarray, classes: list[str]) -> dict[str, dict]:
    """Which per-class scores are 0/0 (a class without rows, or never predicted), and which
    macro averages they make undefined, with why: scikit-learn's `zero_division=0` would count
    them as 0 (F1 macro 0.5 on a split without positives that the model gets all right)."""
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    per_class: dict[str, list[str]] = {}
    macro: dict[str, str] = {}
    for i, name in enumerate(classes):
        missing = []
        if support[i] == 0:
            missing.append("recall")
            macro.setdefault("recall_macro", f"class {name!r} has no rows in this split")
        if predicted[i] == 0:
            missing.append("precision")
            macro.setdefault("precision_macro", f"class {name!r} is never predicted")
        if support[i] == 0 and predicted[i] == 0:
            missing.append("f1-score")
            macro.setdefault(
                "f1_macro", f"class {name!r} has no rows in this split and is never predicted"
            )
        if missing:
            per_class[name] = missing
    return {"per_class": per_class, "macro": macro}


def span_metrics(
    pred_start: torch.Tensor,
    pred_end: torch.Tensor,
    gold_start: torch.Tensor,
    gold_end: torch.Tensor,
    alternatives: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Exact match and token F1 (means over the rows given), with the row count; a prediction
    of another copy of the evidence text (`alternatives`) counts as the gold span's."""
    if len(gold_start) == 0:
        return {"n": 0, "exact_match": None, "token_f1": None}
    em = span_exact_match(pred_start, pred_end, gold_start, gold_end, alternatives)
    f1 = span_token_f1(pred_start, pred_end, gold_start, gold_end, alternatives)
    return {"n": len(gold_start), "exact_match": float(em.mean()), "token_f1": float(f1.mean())}
