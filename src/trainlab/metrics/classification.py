"""Classification metrics from one confusion matrix per task.

Accumulating a confusion matrix costs one ``bincount`` per batch and syncs across processes as a
sum, so accuracy, balanced accuracy and both F1 averages come from a single state.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

METRIC_NAMES = ("acc", "balanced_acc", "f1_macro", "f1_weighted")


class ConfusionMetrics(Metric):
    """Accuracy, balanced accuracy, F1 macro and F1 weighted; targets < 0 are ignored."""

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.add_state(
            "confmat", torch.zeros(num_classes, num_classes, dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predicted class indices (or logits) and targets."""
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=-1)
        # Missing labels add 0 to cell (0, pred): no boolean indexing and no bincount, whose
        # data-dependent output sizes make the host wait for the GPU at every step.
        cell = (target.clamp(min=0) * self.num_classes + preds).long()
        present = (target >= 0).to(self.confmat.dtype)
        self.confmat.view(-1).scatter_add_(0, cell, present)

    def compute(self) -> dict[str, torch.Tensor]:
        """Metrics over the accumulated matrix (rows: true class, columns: predicted)."""
        return metrics_from_confmat(self.confmat)


def metrics_from_confmat(confmat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Accuracy, balanced accuracy (mean recall over present classes), F1 macro and weighted.

    Classes absent from the targets count in F1 macro with F1 = 0 only when they were predicted,
    as scikit-learn does with ``labels`` restricted to classes seen in either vector.
    """
    cm = confmat.double()
    total = cm.sum()
    true_pos = cm.diag()
    support = cm.sum(dim=1)
    predicted = cm.sum(dim=0)
    if total == 0:
        zero = torch.zeros((), dtype=torch.float32, device=cm.device)
        return {name: zero for name in METRIC_NAMES}
    present = support > 0
    seen = present | (predicted > 0)
    recall = torch.where(present, true_pos / support.clamp(min=1), torch.zeros_like(true_pos))
    precision = torch.where(
        predicted > 0, true_pos / predicted.clamp(min=1), torch.zeros_like(true_pos)
    )
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), 0.0)
    out = {
        "acc": true_pos.sum() / total,
        "balanced_acc": recall[present].mean(),
        "f1_macro": f1[seen].mean(),
        "f1_weighted": (f1 * support).sum() / support.sum(),
    }
    return {name: value.float() for name, value in out.items()}
