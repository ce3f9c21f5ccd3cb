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
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587, abs=1e-6)  # R+ + max(0, R-)
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
    # the step descends on R+ + R-; the reported risk is still the clipped R+ + max(0, R-)
    assert risk.objective.item() == pytest.approx(0.9 * 0.04742587 + 0.5 - 0.85731672, abs=1e-6)
    assert risk.loss.item() == pytest.approx(0.9 * 0.04742587, abs=1e-6)
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


def test_nnpu_loss_is_the_clipped_risk_whatever_beta():
    # before: with beta > 0 the reported loss was R+ + R- (R- tolerated down to -beta) or
    # R+ - beta (after a correction step), neither the nnPU risk R+ + max(0, R-)
    logits = torch.tensor([3.0, 3.0, -3.0, -3.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    positive = 0.9 * 0.04742587
    for beta in (0.0, 0.1, 1.0):
        risk = nnpu_loss(logits, labels, priors=0.9, beta=beta)
        assert risk.loss.item() == pytest.approx(positive, abs=1e-6)
    tolerated = nnpu_loss(logits, labels, priors=0.9, beta=1.0)
    assert tolerated.objective.item() == pytest.approx(positive + 0.5 - 0.85731672, abs=1e-6)


def test_nnpu_corrects_each_polarity_group_on_its_own():
    # group 0 (prior 0.9) overfits: its own R- = (sig(3) + sig(-3))/2 - 0.9 sig(3) = -0.357;
    # group 1 (prior 0.1) has R- = (sig(3) + sig(3))/2 - 0.1 sig(3) = +0.858. Their sum is
    # positive, so correcting the total missed group 0's negative risk.
    logits = torch.tensor([3.0, -3.0, 3.0, 3.0], requires_grad=True)
    labels = torch.tensor([1, 0, 1, 0])
    priors = torch.tensor([0.9, 0.9, 0.1, 0.1])
    risk = nnpu_loss(logits, labels, priors, gamma=0.5)  # labelled share 1/2 in each group
    assert risk.corrected
    # each group is half the batch: risks are its own times 0.5; labelled rows weigh pi/(s n)
    neg0 = 0.5 * ((sig(3.0) + sig(-3.0)) / 2 - 0.9 * sig(3.0))
    pos0 = 0.5 * 0.9 * sig(-3.0)
    neg1 = 0.5 * (sig(3.0) - 0.1 * sig(3.0))
    pos1 = 0.5 * 0.1 * sig(-3.0)
    assert risk.negative_risk.item() == pytest.approx(neg0 + neg1, abs=1e-6)
    assert risk.loss.item() == pytest.approx(pos0 + pos1 + neg1, abs=1e-6)
    assert risk.objective.item() == pytest.approx(-0.5 * neg0 + pos1 + neg1, abs=1e-6)
    risk.objective.backward()
    slope = sig(3.0) * (1 - sig(3.0))
    # group 0 ascends its R-: d(-0.5 neg0)/dz; group 1 descends R+ + R-
    expected = [
        -0.5 * (1 / 4 - 0.9 / 2) * slope,
        -0.5 * (1 / 4) * slope,
        (1 / 4 - 0.1 / 2) * slope - 0.1 / 2 * slope,
        1 / 4 * slope,
    ]
    assert logits.grad.tolist() == pytest.approx(expected, abs=1e-7)


def _batches_of_known_truth(n, parts, seed):
    generator = torch.Generator().manual_seed(seed)
    logits, labels, priors, groups, shares, true_risk = [], [], [], [], [], 0.0
    for group, (rows, pi, c) in enumerate(parts):
        truth = torch.rand(rows, generator=generator) < pi
        x = torch.randn(rows, generator=generator) + torch.where(truth, 1.0, -1.0)
        label = (truth & (torch.rand(rows, generator=generator) < c)).long()
        logits.append(2 * x)
        labels.append(label)
        priors.append(torch.full((rows,), pi))
        groups.append(torch.full((rows,), group))
        shares.append(torch.full((rows,), label.float().mean().item()))
        part = pi * sig_t(-2 * x[truth]).mean() + (1 - pi) * sig_t(2 * x[~truth]).mean()
        true_risk += rows / n * part.item()
    order = torch.randperm(n, generator=generator)
    columns = [torch.cat(t)[order] for t in (logits, labels, priors, groups, shares)]
    return columns, true_risk


@pytest.mark.parametrize(
    "parts", [[(40_000, 0.05, 0.4)], [(24_000, 0.4, 0.7), (16_000, 0.05, 0.4)]]
)
def test_nnpu_batches_without_labelled_positives_leave_the_epoch_risk_unbiased(parts):
    # prior 0.05, c 0.4, batches of 64: about 27 % of batches hold no labelled positive. Before
    # (each batch's own labelled share; such batches counted as all negatives) the mean batch
    # risk was 0.2327 for a true 0.2251 over 8 tables of 100,000 rows.
    (logits, labels, priors, groups, shares), true_risk = _batches_of_known_truth(
        40_000, parts, seed=3
    )
    total, empty = 0.0, 0
    for index in torch.arange(len(logits)).split(64):
        risk = nnpu_loss(
            logits[index],
            labels[index],
            priors[index],
            non_negative=False,
            groups=groups[index],
            labelled_shares=shares[index],
        )
        total += risk.loss.item() * len(index)
        batch_groups = groups[index]
        empty += any(labels[index][batch_groups == g].sum() == 0 for g in batch_groups.unique())
        assert risk.fallback is None
    assert empty > 50
    whole = nnpu_loss(
        logits, labels, priors, non_negative=False, groups=groups, labelled_shares=shares
    )
    # the epoch's mean batch risk is the whole table's risk, which estimates the true one
    assert total / len(logits) == pytest.approx(whole.loss.item(), abs=1e-5)
    assert whole.loss.item() == pytest.approx(true_risk, abs=0.003)
