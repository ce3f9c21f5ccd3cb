"""Metrics for positive-unlabeled classifiers.

Only labelled positives are known to be positive, so the useful numbers are the recall on them,
the share of all rows predicted positive, the Lee & Liu (2003) criterion recall^2 / P(yhat = 1)
that ranks PU models without negatives, the AUROC of labelled vs unlabeled, and the
distribution of predicted probabilities of each group (a histogram per epoch).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from trainlab.io import atomic_open

GROUPS = ("labelled", "unlabeled")


class PUMetrics(Metric):
    """Recall on labelled positives, predicted-positive rate, Lee & Liu score, histograms.

    States are sums, so they add up correctly across DDP processes.
    """

    full_state_update = False

    def __init__(self, threshold: float = 0.5, bins: int = 20) -> None:
        super().__init__()
        self.threshold, self.bins = threshold, bins
        self.add_state("positives", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("hits", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("rows", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("called", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("histogram", torch.zeros(2, bins, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of predicted probabilities and PU labels (1 labelled, 0 unlabeled)."""
        probabilities = probabilities.detach().float().reshape(-1)
        labelled = labels.reshape(-1) == 1
        called = probabilities >= self.threshold
        self.positives += labelled.sum()
        self.hits += (called & labelled).sum()
        self.rows += probabilities.numel()
        self.called += called.sum()
        bucket = (probabilities * self.bins).long().clamp(0, self.bins - 1)
        for group, mask in enumerate((labelled, ~labelled)):
            self.histogram[group] += torch.bincount(bucket[mask], minlength=self.bins)

    def compute(self) -> dict[str, torch.Tensor]:
        """``recall``, ``predicted_positive_rate`` and ``lee_liu`` as float tensors."""
        recall = self.hits.float() / self.positives.clamp(min=1).float()
        rate = self.called.float() / self.rows.clamp(min=1).float()
        lee_liu = torch.where(rate > 0, recall**2 / rate.clamp(min=1e-12), torch.zeros_like(rate))
        return {"recall": recall, "predicted_positive_rate": rate, "lee_liu": lee_liu}


def plot_probability_histograms(history: list[dict], path: str | Path) -> Path:
    """One panel per epoch: histograms of predicted probability, labelled vs unlabeled.

    ``history`` items are ``{"epoch": int, "labelled": [counts], "unlabeled": [counts]}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(len(history), 1)
    cols = min(n, 5)
    rows = (n + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, item in zip(axes.flat, history, strict=False):
        ax.set_visible(True)
        bins = len(item["labelled"])
        edges = [i / bins for i in range(bins)]
        for group, colour in zip(GROUPS, ("tab:orange", "tab:blue"), strict=True):
            counts = torch.tensor(item[group], dtype=torch.float64)
            density = counts / counts.sum().clamp(min=1)
            ax.bar(edges, density.tolist(), width=1 / bins, align="edge", alpha=0.6, color=colour)
        ax.set_title(f"epoch {item['epoch']}", fontsize=9)
        ax.set_xlim(0, 1)
    axes.flat[0].legend(list(GROUPS), fontsize=7)
    figure.supxlabel("predicted probability")
    figure.supylabel("share of rows")
    figure.tight_layout()
    with atomic_open(path) as handle:
        figure.savefig(handle, dpi=80, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(figure)
    return path


class ScoresByPolarity(Metric):
    """Every probability of a stage with its PU label and polarity, for thresholds by prior."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        for name in ("probabilities", "labels", "polarities"):
            self.add_state(name, [], dist_reduce_fx="cat")

    def update(self, probabilities: Tensor, labels: Tensor, polarities: Tensor) -> None:
        """Keep a batch's probabilities, labels (1 labelled, 0 unlabeled) and polarity codes."""
        self.probabilities.append(probabilities.detach().float().reshape(-1))
        self.labels.append(labels.detach().reshape(-1).long())
        self.polarities.append(polarities.detach().reshape(-1).long())

    def compute(self) -> tuple[Tensor, Tensor, Tensor]:
        """(probabilities, labels, polarities) of every row seen."""
        return tuple(
            dim_zero_cat(getattr(self, n)) for n in ("probabilities", "labels", "polarities")
        )


def prior_threshold_scores(
    probabilities: Tensor, labels: Tensor, polarities: Tensor, priors: Tensor, shares: Tensor
) -> dict[str, Tensor]:
    """Recall and estimated precision when each polarity calls its top ``prior`` share positive.

    A classifier's score ranks; the prior says how many rows of each polarity are positive, so
    calling the top ``prior`` share of each polarity is a threshold that needs no calibrated
    probability. Labelled positives are a random share c = s / prior of the positives (s: the
    labelled share of the polarity's rows), so recall on them estimates the true recall and
    (labelled rows called) / c the true positives called, whence the precision (clipped to 1).

    Args:
        probabilities, labels, polarities: one per row (labels 1 labelled, 0 unlabeled).
        priors: class prior by polarity code (NaN: none), e.g. ``[0.25, 0.4]``.
        shares: labelled share by polarity code of the table the rows come from.
    """
    hits, called, labelled, true_called = (0.0, 0, 0, 0.0)
    for code in torch.unique(polarities).tolist():
        prior, share = float(priors[code]), float(shares[code])
        rows = polarities == code
        if not (0 < prior <= 1 and share > 0):
            return {}
        scores, known = probabilities[rows], labels[rows] == 1
        k = max(1, round(prior * int(rows.sum())))
        cut = torch.topk(scores, k).values[-1]
        above, tied = scores > cut, scores == cut
        # Rows tied at the cut fill the places left, each with the same chance (the expected
        # figures of a random tie break): `scores >= cut` called every tied row, so a constant
        # score (the prior baseline) or a saturated sigmoid called all rows, recall 1.0
        chance = (k - int(above.sum())) / int(tied.sum())
        found = int((above & known).sum()) + chance * int((tied & known).sum())
        hits += found
        called += k
        labelled += int(known.sum())
        true_called += found * prior / share
    if called == 0 or labelled == 0:
        return {}
    return {
        "recall_at_prior": torch.tensor(hits / labelled),
        "precision_at_prior": torch.tensor(min(true_called / called, 1.0)),
    }
