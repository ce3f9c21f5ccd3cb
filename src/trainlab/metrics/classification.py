"""Classification metrics from one confusion matrix per task.

Accumulating a confusion matrix costs one ``bincount`` per batch and syncs across processes as a
sum, so accuracy, balanced accuracy and both F1 averages come from a single state.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

METRIC_NAMES = ("acc", "balanced_acc", "f1_macro", "f1_weighted")
_PLAIN_ATTRIBUTES = frozenset({"_computed", "_update_count"})


class ConfusionMetrics(Metric):
    """Accuracy, balanced accuracy, F1 macro and F1 weighted; targets < 0 are ignored.

    Args:
        num_classes: number of classes.
        names: the metrics `compute` returns (default all four); a search reading only one
            saves the others' arithmetic every epoch.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, num_classes: int, names: tuple[str, ...] | list[str] = METRIC_NAMES) -> None:
        super().__init__()
        unknown = set(names) - set(METRIC_NAMES)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {METRIC_NAMES}")
        self.num_classes = num_classes
        self.names = tuple(names)
        self.add_state(
            "confmat", torch.zeros(num_classes, num_classes, dtype=torch.long), dist_reduce_fx="sum"
        )
        #: labelled rows behind the last `compute` (summed over processes): 0 means the
        #: metrics it returned describe no data at all
        self.labelled = 0

    def __setattr__(self, name: str, value: object) -> None:
        # torchmetrics' update wrapper sets these two counters on every batch, and each set
        # goes through nn.Module.__setattr__'s parameter/buffer/module checks (~0.2 % of a
        # digits training step in py-spy samples, 2026-12-02); neither is ever one of those.
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

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
        self.labelled = int(self.confmat.sum())  # the synced matrix here, under DDP too
        return metrics_from_confmat(self.confmat, self.names)


def metrics_from_confmat(
    confmat: torch.Tensor, names: tuple[str, ...] | list[str] = METRIC_NAMES
) -> dict[str, torch.Tensor]:
    """Accuracy, balanced accuracy (mean recall over present classes), F1 macro and weighted.

    Classes absent from the targets count in F1 macro with F1 = 0 only when they were predicted,
    as scikit-learn does with ``labels`` restricted to classes seen in either vector.
    """
    cm = confmat.double()
    total = cm.sum()
    if total == 0:
        zero = torch.zeros((), dtype=torch.float32, device=cm.device)
        return {name: zero for name in names}
    true_pos = cm.diag()
    support = cm.sum(dim=1)
    out: dict[str, torch.Tensor] = {}
    if "acc" in names:
        out["acc"] = true_pos.sum() / total
    if "balanced_acc" in names:
        present = support > 0
        out["balanced_acc"] = (true_pos[present] / support[present]).mean()
    if "f1_macro" in names or "f1_weighted" in names:
        # F1 = 2 TP / (support + predicted), the harmonic mean of precision and recall
        predicted = cm.sum(dim=0)
        denom = support + predicted
        f1 = torch.where(denom > 0, 2 * true_pos / denom.clamp(min=1), 0.0)
        if "f1_macro" in names:
            out["f1_macro"] = f1[denom > 0].mean()
        if "f1_weighted" in names:
            out["f1_weighted"] = (f1 * support).sum() / support.sum()
    return {name: out[name].float() for name in names}
