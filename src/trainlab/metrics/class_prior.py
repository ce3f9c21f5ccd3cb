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
        return asdict(self)


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
