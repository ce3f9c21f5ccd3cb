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
label frequencies stay apart); the risk is that of the mixture, each group weighted by its share
of the rows.

Labelled shares: with ``labelled_shares`` (s, the share of labelled rows of each group in the
table the batch comes from) each labelled positive stands for ``pi / s`` rows of its group, and
a batch's risk is ``1/n sum_i [l(g_i, -1) + 1[labelled_i] pi/s (l(g_i, +1) - l(g_i, -1))]``,
whose expectation over batches is the true risk and whose mean over an epoch's batches is the
whole table's risk. Without them s is the batch's own share, which a group without labelled
positives in the batch does not have: its rows then count as negatives (R+ = 0, R- = mean of
l(g, -1), as in Kiryo's code) and the result says ``fallback="no_positives"``. Measured at prior
0.05 and c 0.4, batches of 64, g(x) = 2x on unit Gaussians at -1 and +1, 8 tables of 100,000
rows: with the batch's shares 27.5 % of batches fell back and the mean batch risk was 0.2327 for
a true 0.2251 (bias +0.0076); with the table's shares 0.2254 (+0.0003 +- 0.0002), equal to the
whole table's risk to 3e-8.

Non-negative correction, per group: the negative risk of each group, (1 - pi) E_N[l(g, -1)],
is non-negative on its own, so the constraint holds per group, not only for their sum (one
group's overfitted, negative R- must not be hidden by another's positive one). A group whose
own negative risk is below ``-beta`` takes the correction step, gradient ascent on its R-
(``-gamma * R-``); the others descend on R+ + R-. ``loss`` is the nnPU risk estimate,
``sum over groups of R+ + max(0, R-)``, whatever beta.
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
    labelled_shares: Tensor | float | None = None,
) -> PURisk:
    """nnPU risk of ``(B,)`` logits with labels 1 (positive) / 0 (unlabeled).

    Args:
        logits: raw scores ``g(x)``.
        labels: 1 for labelled positives, 0 for unlabeled rows.
        priors: class prior, one number or one per sample (e.g. by polarity).
        beta: tolerated negativity of a group's negative risk before its correction step.
        gamma: step size of the gradient ascent in the correction step.
        surrogate: ``sigmoid`` (the paper's) or ``logistic``.
        non_negative: False gives the unbiased PU risk (uPU) without correction.
        groups: one id per sample (e.g. the polarity) whose rows share one prior; by default
            the rows of equal prior form a group.
        labelled_shares: share of labelled rows of each row's group in the table the batch is
            drawn from, one number or one per sample; None takes each group's share in the
            batch (biased, and undefined for a group without labelled rows in the batch).
    """
    logits = logits.float().reshape(-1)
    labels = labels.reshape(-1)
    if logits.numel() == 0:
        raise ValueError("nnpu_loss got an empty batch")
    priors = _per_row(priors, logits, "priors")
    if not bool(((priors > 0) & (priors <= 1)).all()):
        bad = priors[~((priors > 0) & (priors <= 1))][0].item()
        raise ValueError(f"nnpu_loss got a class prior of {bad}; priors must lie in (0, 1]")
    shares = None if labelled_shares is None else _per_row(labelled_shares, logits, "shares")
    if shares is not None and not bool(((shares >= 0) & (shares <= 1)).all()):
        raise ValueError("nnpu_loss got a labelled share outside [0, 1]")
    positive = labels == 1
    n_rows = logits.numel()
    positive_loss = surrogate_loss(logits, 1.0, surrogate)
    negative_loss = surrogate_loss(logits, -1.0, surrogate)
    zero = logits.sum() * 0.0  # keeps the graph when a term is empty
    positive_risk = negative_risk = objective = loss = zero
    corrected, fallback = False, None
    groups = priors if groups is None else groups.reshape(-1)
    for group_id in torch.unique(groups):
        group = groups == group_id
        in_p = group & positive
        pi = priors[group][0]
        if not bool((priors[group] == pi).all()):
            raise ValueError(f"nnpu_loss: group {group_id.item()} holds more than one prior")
        if shares is None:
            share = in_p.sum() / group.sum()
        else:
            share = shares[group][0]
            if not bool((shares[group] == share).all()):
                raise ValueError(f"nnpu_loss: group {group_id.item()} holds more than one share")
        # risks as parts of the batch's mean: divided by all rows, not the group's
        group_negative = negative_loss[group].sum() / n_rows
        if share > 0:
            weight = pi / (share * n_rows)  # one labelled positive stands for pi / s rows
            group_positive = weight * positive_loss[in_p].sum()
            group_negative = group_negative - weight * negative_loss[in_p].sum()
        else:
            fallback, group_positive = "no_positives", zero
        positive_risk = positive_risk + group_positive
        negative_risk = negative_risk + group_negative
        # the group's own negative risk (over its rows) against -beta
        own = group_negative.item() * n_rows / int(group.sum())
        if non_negative and own < -beta:
            corrected = True
            objective = objective - gamma * group_negative
            loss = loss + group_positive.detach()
        else:
            objective = objective + group_positive + group_negative
            clipped = group_negative.clamp(min=0) if non_negative else group_negative
            loss = loss + (group_positive + clipped).detach()
    return PURisk(objective, loss, positive_risk, negative_risk, corrected, fallback)


def _per_row(values: Tensor | float, logits: Tensor, name: str) -> Tensor:
    values = torch.as_tensor(values, dtype=logits.dtype, device=logits.device)
    values = values.expand_as(logits) if values.dim() == 0 else values.reshape(-1).float()
    if values.numel() != logits.numel():
        raise ValueError(f"nnpu_loss got {values.numel()} {name} for {logits.numel()} logits")
    return values
