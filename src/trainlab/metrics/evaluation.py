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
    targets hold a single class (it is undefined there).
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
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", **common)),
        "f1_micro": float(f1_score(y_true, y_pred, average="micro", **common)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", **common)),
        "precision_macro": float(precision_score(y_true, y_pred, average="macro", **common)),
        "recall_macro": float(recall_score(y_true, y_pred, average="macro", **common)),
        "auroc": auroc,
        "classes": list(classes),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classification_report": classification_report(
            y_true, y_pred, target_names=list(classes), output_dict=True, **common
        ),
    }


def span_metrics(
    pred_start: torch.Tensor,
    pred_end: torch.Tensor,
    gold_start: torch.Tensor,
    gold_end: torch.Tensor,
) -> dict[str, Any]:
    """Exact match and token F1 (means over the rows given), with the row count."""
    if len(gold_start) == 0:
        return {"n": 0, "exact_match": None, "token_f1": None}
    em = span_exact_match(pred_start, pred_end, gold_start, gold_end)
    f1 = span_token_f1(pred_start, pred_end, gold_start, gold_end)
    return {"n": len(gold_start), "exact_match": float(em.mean()), "token_f1": float(f1.mean())}
