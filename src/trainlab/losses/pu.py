"""Losses for positive-unlabeled (PU) learning: plain BCE and non-negative PU (nnPU).

nnPU follows Kiryo et al. 2017, "Positive-Unlabeled Learning with Non-Negative Risk Estimator".
With a surrogate loss ``l``, labelled positives P, the batch's rows A and class prior ``pi``:

    positive risk  R+ = pi * mean_P[l(g(x), +1)]
    negative risk  R- = mean_A[l(g(x), -1)] - pi * mean_P[l(g(x), -1)]

The paper's unlabeled sample is drawn from the whole population, whose positive share is
``pi``. Our tables are one sample whose positives were labelled at random: every row (labelled
or not) is such a population draw, so A holds all rows. The rows with label 0 alone hold a
smaller share of positives, pi (1 - c) / (1 - pi c) (c: the label frequency), and taking them as
the unlabeled sample with the population prior biased the risk: with pi 0.4 and c 0.7, for
g(x) = 2x on two unit Gaussians at -1 and +1, 0.097 against the true 0.226.

Per-sample priors (one per polarity) split the batch into groups (``groups``, by default the
rows of equal prior; the model passes the polarity, so two modes of equal prior but different
label frequencies stay apart); each group's risks are computed as above and weighted by its
share of the batch's rows, the population risk of the mixture.

When ``R- < -beta`` the estimate has gone negative (overfitting): the step is gradient ascent
on R- (``objective = -gamma * R-``) and the reported loss is the clipped risk ``R+ - beta``;
otherwise both are ``R+ + R-``.
Fallback: a group without labelled positives in the batch has no estimate of its positive
share; its rows count as negatives (R+ = 0, R- = mean_A[l(g(x), -1)]), a risk biased towards
negatives, and the result says ``fallback="no_positives"``.
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
    groups: Tensor | None = None,
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
        groups: one id per sample (e.g. the polarity) whose rows share one prior; by default
            the rows of equal prior form a group.
    """
    logits = logits.float().reshape(-1)
    labels = labels.reshape(-1)
    if logits.numel() == 0:
        raise ValueError("nnpu_loss got an empty batch")
    priors = torch.as_tensor(priors, dtype=logits.dtype, device=logits.device)
    priors = priors.expand_as(logits) if priors.dim() == 0 else priors.reshape(-1).float()
    if priors.numel() != logits.numel():
        raise ValueError(f"nnpu_loss got {priors.numel()} priors for {logits.numel()} logits")
    if not bool(((priors > 0) & (priors <= 1)).all()):
        bad = priors[~((priors > 0) & (priors <= 1))][0].item()
        raise ValueError(f"nnpu_loss got a class prior of {bad}; priors must lie in (0, 1]")
    positive = labels == 1
    n_rows = logits.numel()
    positive_loss = surrogate_loss(logits, 1.0, surrogate)
    negative_loss = surrogate_loss(logits, -1.0, surrogate)
    positive_risk = logits.sum() * 0.0  # keeps the graph when a term is empty
    # mean_A over all rows; each group subtracts its positives' share below
    negative_risk = negative_loss.mean()
    fallback = None
    groups = priors if groups is None else groups.reshape(-1)
    for group_id in torch.unique(groups):
        group = groups == group_id
        in_p = group & positive
        n_p = in_p.sum()
        if n_p == 0:
            fallback = "no_positives"
            continue
        pi = priors[in_p][0]
        if not bool((priors[group] == pi).all()):
            raise ValueError(f"nnpu_loss: group {group_id.item()} holds more than one prior")
        weight = group.sum() / n_rows
        positive_risk = positive_risk + weight * pi * positive_loss[in_p].sum() / n_p
        negative_risk = negative_risk - weight * pi * negative_loss[in_p].sum() / n_p
    if non_negative and negative_risk.item() < -beta:
        return PURisk(
            objective=-gamma * negative_risk,
            loss=(positive_risk - beta).detach(),
            positive_risk=positive_risk,
            negative_risk=negative_risk,
            corrected=True,
            fallback=fallback,
        )
    risk = positive_risk + negative_risk
    return PURisk(risk, risk, positive_risk, negative_risk, False, fallback)
