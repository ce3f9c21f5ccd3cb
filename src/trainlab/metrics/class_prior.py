"""Class-prior estimation for PU data (Elkan & Noto 2008, "Learning classifiers from only
positive and unlabeled data", estimator e1).

A classifier trained to separate labelled from unlabeled rows estimates g(x) = P(s=1 | x).
Under "selected completely at random" labelling, c = P(s=1 | y=1) is the mean of g over
labelled positives, and the class prior is P(y=1) = P(s=1) / c = s / c.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

POLARITY_NAMES = {1: "positive", 0: "negative"}
# below this validation AUROC a classifier's c is refused (0.5 is chance)
MIN_AUROC = 0.6
# a prior above this leaves almost no negatives: an underestimated c, not a real prior
MAX_PRIOR = 0.95
# Overlap signal: with a calibrated P(s=1 | x), a labelled positive far from the negatives
# scores c and one among them less, so the mean c_hat falls below the 95th percentile of the
# labelled positives' scores and s / c_hat overshoots by about their ratio. Measured with the
# true P(s=1 | x), prior 0.40, c 0.7, 4,000 rows: Gaussians at -3/+3 ratio 1.00 (prior 0.408),
# -2/+2 0.97 (0.420), -1.5/+1.5 0.89 (0.442), -1/+1 0.72 (0.554).
MIN_SPREAD_RATIO = 0.9
SPREAD_QUANTILE = 0.95


@dataclass(frozen=True)
class PriorEstimate:
    """One prior estimate and the numbers it came from."""

    prior: float
    label_frequency: float
    labelled_share: float
    n_labelled_positives: int
    n_training_rows: int
    clipped: bool
    # how well the classifier separates labelled from unlabeled rows of the labelled set: an
    # estimate from a classifier near chance (AUROC about 0.5) means nothing
    auroc: float = math.nan
    recall: float = math.nan
    # sampling error of s / c (delta method: binomial s, mean c); NaN from one labelled
    # positive. It leaves out the bias of overlapping classes or labels not missing at random.
    prior_se: float = math.nan
    # 95th percentile of the labelled positives' scores, and s over it (see MIN_SPREAD_RATIO)
    label_frequency_q95: float = math.nan
    prior_from_q95: float = math.nan

    @property
    def spread_ratio(self) -> float:
        """c_hat over the 95th percentile of the labelled positives' scores (1: no overlap)."""
        return self.label_frequency / self.label_frequency_q95

    def warnings(self) -> list[str]:
        """Why this estimate is likely too large, though not refused (empty when no sign)."""
        if not self.spread_ratio < MIN_SPREAD_RATIO:
            return []
        return [
            f"the labelled positives' scores spread: their mean c_hat {self.label_frequency:.3f}"
            f" is {self.spread_ratio:.2f} x their 95th percentile "
            f"{self.label_frequency_q95:.3f} (below {MIN_SPREAD_RATIO}), the sign of classes "
            "that overlap (or of a classifier that is not calibrated): c_hat is then too small "
            f"and the prior {self.prior:.3f} too large (two overlapping Gaussians, true prior "
            f"0.40: ratio 0.72, prior 0.554). s / 95th percentile gives "
            f"{self.prior_from_q95:.3f}; the true prior likely lies between the two"
        ]

    def refusals(self) -> list[str]:
        """Why this estimate must not be used (empty when it may)."""
        reasons = []
        if not self.auroc >= MIN_AUROC:
            reasons.append(
                f"validation AUROC {self.auroc:.3f} < {MIN_AUROC}: the BCE classifier is near "
                "chance, so c and the prior are noise; train it longer or on more data"
            )
        if not 0 < self.prior <= MAX_PRIOR:
            clipped = " (s / c was above 1 and clipped)" if self.clipped else ""
            reasons.append(
                f"prior {self.prior:.3f}{clipped} is outside (0, {MAX_PRIOR}]: c = "
                f"{self.label_frequency:.3f} is underestimated; train the BCE classifier better"
            )
        return reasons

    def to_dict(self) -> dict:
        """Plain-number form for JSON."""
        return {**asdict(self), "spread_ratio": self.spread_ratio}


def label_frequency(probabilities_of_labelled_positives: np.ndarray) -> float:
    """c: the mean predicted probability over labelled positives."""
    probs = np.asarray(probabilities_of_labelled_positives, dtype=np.float64)
    if probs.size == 0:
        raise ValueError("no labelled positives to estimate the label frequency c from")
    return float(probs.mean())


def labelled_share(training_labels: np.ndarray) -> float:
    """s: the share of labelled positives (label 1) among the training rows."""
    labels = np.asarray(training_labels, dtype=np.float64)
    if labels.size == 0:
        raise ValueError("no training rows to compute the labelled share s from")
    return float((labels == 1).mean())


def separation(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(AUROC of labelled vs unlabeled, recall of labelled rows at 0.5); NaN AUROC when one of
    the two groups is empty."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels) == 1
    probabilities = np.asarray(probabilities, dtype=np.float64)
    recall = float((probabilities[labels] >= 0.5).mean()) if labels.any() else math.nan
    if labels.all() or not labels.any():
        return math.nan, recall
    return float(roc_auc_score(labels, probabilities)), recall


def estimate_prior(
    training_labels: np.ndarray, probabilities: np.ndarray, labels: np.ndarray
) -> PriorEstimate:
    """prior = s / c from training labels and a classifier's probabilities on a labelled set.

    A prior above 1 (c underestimated) is clipped to 1 and flagged. The classifier's AUROC and
    recall on the same set come with it (see :meth:`PriorEstimate.refusals`).
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    c = label_frequency(probabilities[labels == 1])
    s = labelled_share(training_labels)
    if c <= 0:
        raise ValueError("label frequency c is 0: the classifier never predicts positives")
    prior = s / c
    auroc, recall = separation(probabilities, labels)
    known = probabilities[labels == 1]
    n_train = np.asarray(training_labels).size
    c_se = float(known.std(ddof=1) / math.sqrt(known.size)) if known.size > 1 else math.nan
    s_se = math.sqrt(s * (1 - s) / n_train)
    prior_se = prior * math.sqrt((s_se / s) ** 2 + (c_se / c) ** 2) if s > 0 else math.nan
    q95 = float(np.quantile(known, SPREAD_QUANTILE))
    return PriorEstimate(
        prior=float(min(prior, 1.0)),
        label_frequency=c,
        labelled_share=s,
        n_labelled_positives=int((labels == 1).sum()),
        n_training_rows=int(np.asarray(training_labels).size),
        clipped=prior > 1.0,
        auroc=auroc,
        recall=recall,
        prior_se=prior_se,
        label_frequency_q95=q95,
        prior_from_q95=float(min(s / q95, 1.0)) if q95 > 0 else math.nan,
    )


def estimate_priors_by_polarity(
    training_labels: np.ndarray,
    training_polarity: np.ndarray,
    probabilities: np.ndarray,
    labels: np.ndarray,
    polarity: np.ndarray,
) -> dict[str, PriorEstimate]:
    """:func:`estimate_prior` separately for each polarity present in both sets."""
    training_labels, training_polarity = np.asarray(training_labels), np.asarray(training_polarity)
    probabilities, labels, polarity = map(np.asarray, (probabilities, labels, polarity))
    estimates = {}
    for code, name in POLARITY_NAMES.items():
        train_mask, eval_mask = training_polarity == code, polarity == code
        if not train_mask.any() or not (labels[eval_mask] == 1).any():
            continue
        estimates[name] = estimate_prior(
            training_labels[train_mask], probabilities[eval_mask], labels[eval_mask]
        )
    return estimates
