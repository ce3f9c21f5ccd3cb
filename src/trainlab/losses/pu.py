"""Losses for positive-unlabeled (PU) learning: plain BCE and non-negative PU (nnPU).

nnPU follows Kiryo et al. 2017, "Positive-Unlabeled Learning with Non-Negative Risk Estimator".
With a surrogate loss ``l``, labelled positives P, unlabeled U and class prior ``pi``:

    positive risk  R+ = mean_P[pi * l(g(x), +1)]
    negative risk  R- = mean_U[l(g(x), -1)] - mean_P[pi * l(g(x), -1)]

``pi`` may differ per sample (priors chosen by polarity); with one prior these are the paper's
formulas. When ``R- < -beta`` the estimate has gone negative (overfitting): the step is gradient
ascent on R- (``objective = -gamma * R-``) and the reported loss is the clipped risk
``R+ - beta``; otherwise both are ``R+ + R-``.
Fallbacks: a batch without labelled positives has R+ = 0 and R- = mean_U[l(g(x), -1)] (all rows
treated as negative, which is the exact risk then); a batch without unlabeled rows has no
estimate of R-, so only R+ is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

SURROGATES = ("sigmoid", "logistic")


@dataclass(frozen=True)
class PURisk:
    """nnPU result: ``objective`` to backpropagate, ``loss`` to report, and its parts."""

    objective: Tensor
    loss: Tensor
    positive_risk: Tensor
    negative_risk: Tensor
    corrected: bool
    fallback: str | None


def surrogate_loss(logits: Tensor, target_sign: float, surrogate: str = "sigmoid") -> Tensor:
    """Per-sample ``l(g(x), t)`` for ``t`` = +1 or -1: sigmoid(-t g) or softplus(-t g)."""
    if surrogate == "sigmoid":
        return torch.sigmoid(-target_sign * logits)
    if surrogate == "logistic":
        return F.softplus(-target_sign * logits)
    raise ValueError(f"surrogate {surrogate!r} is not one of {SURROGATES}")


def bce_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy treating unlabeled rows as negatives (the PU "naive" classifier)."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


def nnpu_loss(
    logits: Tensor,
    labels: Tensor,
    priors: Tensor | float,
    beta: float = 0.0,
    gamma: float = 1.0,
    surrogate: str = "sigmoid",
    non_negative: bool = True,
) -> PURisk:
    """nnPU risk of ``(B,)`` logits with labels 1 (positive) / 0 (unlabeled).

    Args:
        logits: raw scores ``g(x)``.
        labels: 1 for labelled positives, 0 for unlabeled rows.
        priors: class prior, one number or one per sample (e.g. by polarity).
        beta: tolerated negativity of the negative risk before the correction step.
        gamma: step size of the gradient ascent in the correction step.
        surrogate: ``sigmoid`` (the paper's) or ``logistic``.
        non_negative: False gives the unbiased PU risk (uPU) without correction.
    """
    logits = logits.float().reshape(-1)
    labels = labels.reshape(-1)
    if logits.numel() == 0:
        raise ValueError("nnpu_loss got an empty batch")
    priors = torch.as_tensor(priors, dtype=logits.dtype, device=logits.device)
    priors = priors.expand_as(logits) if priors.dim() == 0 else priors.reshape(-1).float()
    positive = labels == 1
    unlabeled = ~positive
    n_positive = positive.sum()
    n_unlabeled = unlabeled.sum()
    zero = logits.sum() * 0.0  # keeps the graph when a term is empty

    if n_positive == 0:
        negative_risk = surrogate_loss(logits[unlabeled], -1.0, surrogate).mean()
        return PURisk(negative_risk, negative_risk, zero, negative_risk, False, "no_positives")

    pi = priors[positive]
    positive_risk = (pi * surrogate_loss(logits[positive], 1.0, surrogate)).sum() / n_positive
    if n_unlabeled == 0:
        return PURisk(positive_risk, positive_risk, positive_risk, zero, False, "no_unlabeled")

    negative_risk = (
        surrogate_loss(logits[unlabeled], -1.0, surrogate).sum() / n_unlabeled
        - (pi * surrogate_loss(logits[positive], -1.0, surrogate)).sum() / n_positive
    )
    if non_negative and negative_risk.item() < -beta:
        return PURisk(
            objective=-gamma * negative_risk,
            loss=(positive_risk - beta).detach(),
            positive_risk=positive_risk,
            negative_risk=negative_risk,
            corrected=True,
            fallback=None,
        )
    risk = positive_risk + negative_risk
    return PURisk(risk, risk, positive_risk, negative_risk, False, None)
