"""BCE and nnPU against values worked out by hand (sigmoid(-2) = 0.11920292, ...)."""

import math

import pytest
import torch

from trainlab.losses.pu import bce_loss, nnpu_loss, surrogate_loss


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def sig_t(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def test_bce_matches_hand_values():
    loss = bce_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
    # -log(0.5) = 0.693147, -log(1 - sigmoid(2)) = softplus(2) = 2.126928
    assert loss.item() == pytest.approx((0.69314718 + 2.12692801) / 2, abs=1e-6)


def test_nnpu_single_prior_hand_values():
    logits = torch.tensor([2.0, -1.0, 0.5, -2.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    risk = nnpu_loss(logits, labels, priors=0.4)
    # R+ = 0.4 * (sigmoid(-2) + sigmoid(1)) / 2 = 0.4 * (0.11920292 + 0.73105858) / 2
    assert risk.positive_risk.item() == pytest.approx(0.17005230, abs=1e-6)
    # R- = mean over ALL rows of sigmoid(g) - 0.4 * mean over P of sigmoid(g)
    every = (sig(2.0) + sig(-1.0) + sig(0.5) + sig(-2.0)) / 4
    negative = every - 0.4 * (sig(2.0) + sig(-1.0)) / 2
    assert risk.negative_risk.item() == pytest.approx(negative, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.17005230 + negative, abs=1e-6)
    assert risk.objective.item() == pytest.approx(risk.loss.item())
    assert not risk.corrected and risk.fallback is None


def test_nnpu_is_unbiased_on_one_sample_labelled_at_random():
    # Kiryo's unlabeled sample is the population; in one table whose positives were labelled
    # at random (prior 0.4, c 0.7) that is every row, not the rows with label 0 (whose positive
    # share is 0.4 * 0.3 / 0.72 = 0.17). Taking those with prior 0.4 gave 0.097 for a true 0.226.
    generator = torch.Generator().manual_seed(0)
    n = 40_000
    truth = torch.rand(n, generator=generator) < 0.4
    x = torch.randn(n, generator=generator) + torch.where(truth, 1.0, -1.0)
    labels = (truth & (torch.rand(n, generator=generator) < 0.7)).long()
    logits = 2 * x
    true_risk = 0.4 * sig_t(-logits[truth]).mean() + 0.6 * sig_t(logits[~truth]).mean()
    risk = nnpu_loss(logits, labels, 0.4, non_negative=False)
    assert risk.loss.item() == pytest.approx(true_risk.item(), abs=0.01)


def test_nnpu_per_sample_priors_weight_each_group_by_its_rows():
    # two polarities: prior 0.4 (rows 0-2, row 0 labelled), prior 0.2 (rows 3-5, row 3 labelled)
    logits = torch.tensor([2.0, -1.0, 0.5, -2.0, 1.0, -0.5])
    labels = torch.tensor([1, 0, 0, 1, 0, 0])
    priors = torch.tensor([0.4, 0.4, 0.4, 0.2, 0.2, 0.2])
    risk = nnpu_loss(logits, labels, priors)
    positive = 0.5 * 0.4 * sig(-2.0) + 0.5 * 0.2 * sig(2.0)
    every = sum(sig(z) for z in (2.0, -1.0, 0.5, -2.0, 1.0, -0.5)) / 6
    negative = every - 0.5 * 0.4 * sig(2.0) - 0.5 * 0.2 * sig(-2.0)
    assert risk.positive_risk.item() == pytest.approx(positive, abs=1e-6)
    assert risk.negative_risk.item() == pytest.approx(negative, abs=1e-6)
    assert risk.fallback is None


def test_nnpu_per_polarity_mixture_is_unbiased():
    # positive mode: prior 0.4, c 0.7, 60 % of rows; negative mode: prior 0.25, c 0.6. Averaging
    # the labelled positives' terms over both modes weighted them by labelled counts (0.104
    # for a true 0.224).
    generator = torch.Generator().manual_seed(1)
    logits, labels, priors, true_risk = [], [], [], 0.0
    for n, pi, c in ((24_000, 0.4, 0.7), (16_000, 0.25, 0.6)):
        truth = torch.rand(n, generator=generator) < pi
        x = torch.randn(n, generator=generator) + torch.where(truth, 1.0, -1.0)
        logits.append(2 * x)
        labels.append((truth & (torch.rand(n, generator=generator) < c)).long())
        priors.append(torch.full((n,), pi))
        part = pi * sig_t(-2 * x[truth]).mean() + (1 - pi) * sig_t(2 * x[~truth]).mean()
        true_risk += n / 40_000 * part.item()
    risk = nnpu_loss(torch.cat(logits), torch.cat(labels), torch.cat(priors), non_negative=False)
    assert risk.loss.item() == pytest.approx(true_risk, abs=0.01)


def test_nnpu_correction_ascends_negative_risk_and_reports_clipped_risk():
    logits = torch.tensor([3.0, 3.0, -3.0, -3.0], requires_grad=True)
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    risk = nnpu_loss(logits, labels, priors=0.9, beta=0.0, gamma=0.5)
    # R- = (2 sigmoid(3) + 2 sigmoid(-3)) / 4 - 0.9 * sigmoid(3) = 0.5 - 0.85731672 < -beta
    assert risk.corrected
    assert risk.negative_risk.item() == pytest.approx(0.5 - 0.85731672, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587, abs=1e-6)  # R+ - beta
    assert risk.objective.item() == pytest.approx(-0.5 * risk.negative_risk.item(), abs=1e-6)
    risk.objective.backward()
    slope = sig(3.0) * (1 - sig(3.0))  # d sigmoid / dz at |z| = 3: 0.04517666
    # objective = -gamma * (mean_A sigmoid(z) - 0.9 mean_P sigmoid(z))
    expected = [-0.5 * (slope / 4 - 0.9 * slope / 2)] * 2 + [-0.5 * slope / 4] * 2
    assert logits.grad.tolist() == pytest.approx(expected, abs=1e-7)


def test_nnpu_beta_tolerates_small_negative_risk():
    logits = torch.tensor([3.0, 3.0, -3.0, -3.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    risk = nnpu_loss(logits, labels, priors=0.9, beta=1.0)
    assert not risk.corrected
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587 + 0.5 - 0.85731672, abs=1e-6)
    unbiased = nnpu_loss(logits, labels, priors=0.9, non_negative=False)
    assert not unbiased.corrected and unbiased.loss.item() < 0


def test_nnpu_fallback_without_positives_is_negative_risk_of_unlabeled():
    logits = torch.tensor([0.5, -2.0], requires_grad=True)
    risk = nnpu_loss(logits, torch.tensor([0.0, 0.0]), priors=0.4)
    assert risk.fallback == "no_positives"
    assert risk.loss.item() == pytest.approx((sig(0.5) + sig(-2.0)) / 2, abs=1e-6)
    risk.objective.backward()
    assert logits.grad is not None


def test_nnpu_batch_of_labelled_positives_only_has_both_risks():
    # every row is a population draw, so the negative risk is (1 - pi) mean_P sigmoid(g)
    logits = torch.tensor([2.0, -1.0], requires_grad=True)
    risk = nnpu_loss(logits, torch.tensor([1.0, 1.0]), priors=0.4)
    assert risk.fallback is None
    positive = 0.4 * (sig(-2.0) + sig(1.0)) / 2
    negative = 0.6 * (sig(2.0) + sig(-1.0)) / 2
    assert risk.loss.item() == pytest.approx(positive + negative, abs=1e-6)
    risk.objective.backward()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("prior", [0.0, -0.1, 1.5, math.nan])
def test_nnpu_refuses_a_prior_outside_zero_one(prior):
    logits, labels = torch.tensor([1.0, -1.0]), torch.tensor([1, 0])
    with pytest.raises(ValueError, match="prior"):
        nnpu_loss(logits, labels, prior)
    with pytest.raises(ValueError, match="prior"):
        nnpu_loss(logits, labels, torch.tensor([0.3, prior]))
    assert nnpu_loss(logits, labels, 1.0).loss.isfinite()


def test_logistic_surrogate_and_errors():
    z = torch.tensor([1.0])
    assert surrogate_loss(z, 1.0, "logistic").item() == pytest.approx(math.log1p(math.exp(-1)))
    with pytest.raises(ValueError, match="surrogate"):
        surrogate_loss(z, 1.0, "hinge")
    with pytest.raises(ValueError, match="empty"):
        nnpu_loss(torch.zeros(0), torch.zeros(0), 0.5)


def test_nnpu_groups_keep_two_polarities_of_equal_prior_apart():
    # both modes have prior 0.3, but c is 0.9 in one (well separated) and 0.2 in the other;
    # pooled by prior value the labelled rows of the first dominate: 0.134 for a true 0.183
    generator = torch.Generator().manual_seed(2)
    logits, labels, groups, true_risk = [], [], [], 0.0
    for code, (n, c, shift) in enumerate(((24_000, 0.9, 2.0), (16_000, 0.2, 0.5))):
        truth = torch.rand(n, generator=generator) < 0.3
        x = torch.randn(n, generator=generator) + torch.where(truth, shift, -shift)
        logits.append(2 * x)
        labels.append((truth & (torch.rand(n, generator=generator) < c)).long())
        groups.append(torch.full((n,), code))
        part = 0.3 * sig_t(-2 * x[truth]).mean() + 0.7 * sig_t(2 * x[~truth]).mean()
        true_risk += n / 40_000 * part.item()
    logits, labels, groups = torch.cat(logits), torch.cat(labels), torch.cat(groups)
    risk = nnpu_loss(logits, labels, 0.3, non_negative=False, groups=groups)
    assert risk.loss.item() == pytest.approx(true_risk, abs=0.01)
    with pytest.raises(ValueError, match="more than one prior"):
        nnpu_loss(logits[:2], labels[:2] * 0 + 1, torch.tensor([0.3, 0.4]), groups=groups[:2])
