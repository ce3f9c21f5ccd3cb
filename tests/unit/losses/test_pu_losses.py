"""BCE and nnPU against values worked out by hand (sigmoid(-2) = 0.11920292, ...)."""

import math

import pytest
import torch

from trainlab.losses.pu import bce_loss, nnpu_loss, surrogate_loss


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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
    # R- = (sigmoid(0.5) + sigmoid(-2)) / 2 - 0.4 * (sigmoid(2) + sigmoid(-1)) / 2
    assert risk.negative_risk.item() == pytest.approx(0.37083113 - 0.22994770, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.31093573, abs=1e-6)
    assert risk.objective.item() == pytest.approx(risk.loss.item())
    assert not risk.corrected and risk.fallback is None


def test_nnpu_per_sample_priors_hand_values():
    logits = torch.tensor([2.0, -1.0, 0.5, -2.0])
    labels = torch.tensor([1, 1, 0, 0])
    priors = torch.tensor([0.4, 0.2, 0.3, 0.3])  # unlabeled rows' priors do not enter
    risk = nnpu_loss(logits, labels, priors)
    positive = (0.4 * sig(-2.0) + 0.2 * sig(1.0)) / 2
    negative = (sig(0.5) + sig(-2.0)) / 2 - (0.4 * sig(2.0) + 0.2 * sig(-1.0)) / 2
    assert risk.positive_risk.item() == pytest.approx(positive, abs=1e-6)
    assert risk.negative_risk.item() == pytest.approx(negative, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.26472401, abs=1e-6)


def test_nnpu_correction_ascends_negative_risk_and_reports_clipped_risk():
    logits = torch.tensor([3.0, 3.0, -3.0, -3.0], requires_grad=True)
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    risk = nnpu_loss(logits, labels, priors=0.9, beta=0.0, gamma=0.5)
    # R- = sigmoid(-3) - 0.9 * sigmoid(3) = 0.04742587 - 0.85731672 < -beta -> corrected
    assert risk.corrected
    assert risk.negative_risk.item() == pytest.approx(0.04742587 - 0.85731672, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587, abs=1e-6)  # R+ - beta
    assert risk.objective.item() == pytest.approx(-0.5 * risk.negative_risk.item(), abs=1e-6)
    risk.objective.backward()
    slope = sig(3.0) * (1 - sig(3.0))  # d sigmoid / dz at |z| = 3: 0.04517666
    # objective = -gamma * (mean_U sigmoid(z) - 0.9 mean_P sigmoid(z))
    expected = [0.5 * 0.9 * slope / 2] * 2 + [-0.5 * slope / 2] * 2
    assert logits.grad.tolist() == pytest.approx(expected, abs=1e-7)


def test_nnpu_beta_tolerates_small_negative_risk():
    logits = torch.tensor([3.0, 3.0, -3.0, -3.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    risk = nnpu_loss(logits, labels, priors=0.9, beta=1.0)
    assert not risk.corrected
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587 + 0.04742587 - 0.85731672, abs=1e-6)
    unbiased = nnpu_loss(logits, labels, priors=0.9, non_negative=False)
    assert not unbiased.corrected and unbiased.loss.item() < 0


def test_nnpu_fallback_without_positives_is_negative_risk_of_unlabeled():
    logits = torch.tensor([0.5, -2.0], requires_grad=True)
    risk = nnpu_loss(logits, torch.tensor([0.0, 0.0]), priors=0.4)
    assert risk.fallback == "no_positives"
    assert risk.loss.item() == pytest.approx((sig(0.5) + sig(-2.0)) / 2, abs=1e-6)
    risk.objective.backward()
    assert logits.grad is not None


def test_nnpu_fallback_without_unlabeled_uses_positive_risk():
    logits = torch.tensor([2.0, -1.0], requires_grad=True)
    risk = nnpu_loss(logits, torch.tensor([1.0, 1.0]), priors=0.4)
    assert risk.fallback == "no_unlabeled"
    assert risk.loss.item() == pytest.approx(0.4 * (sig(-2.0) + sig(1.0)) / 2, abs=1e-6)
    risk.objective.backward()
    assert logits.grad.abs().sum() > 0


def test_logistic_surrogate_and_errors():
    z = torch.tensor([1.0])
    assert surrogate_loss(z, 1.0, "logistic").item() == pytest.approx(math.log1p(math.exp(-1)))
    with pytest.raises(ValueError, match="surrogate"):
        surrogate_loss(z, 1.0, "hinge")
    with pytest.raises(ValueError, match="empty"):
        nnpu_loss(torch.zeros(0), torch.zeros(0), 0.5)
