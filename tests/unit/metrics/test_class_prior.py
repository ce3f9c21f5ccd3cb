"""Elkan & Noto prior estimation: prior = s / c, per polarity."""

import numpy as np
import pytest

from trainlab.metrics.class_prior import estimate_prior, estimate_priors_by_polarity


def test_prior_is_labelled_share_over_label_frequency():
    training_labels = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])  # s = 0.2
    probs = np.array([0.6, 0.4, 0.1, 0.5])  # c = mean over labelled = (0.6 + 0.4 + 0.5) / 3
    labels = np.array([1, 1, 0, 1])
    estimate = estimate_prior(training_labels, probs, labels)
    assert estimate.labelled_share == pytest.approx(0.2)
    assert estimate.label_frequency == pytest.approx(0.5)
    assert estimate.prior == pytest.approx(0.4)
    assert estimate.n_labelled_positives == 3 and not estimate.clipped


def test_prior_above_one_is_clipped_and_flagged():
    estimate = estimate_prior(np.array([1, 1, 0]), np.array([0.1, 0.9]), np.array([1, 0]))
    assert estimate.prior == 1.0 and estimate.clipped


def test_priors_by_polarity_use_each_polarity_alone():
    train_labels = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    train_polarity = np.array([1, 1, 1, 1, 0, 0, 0, 0])  # s_pos = 0.25, s_neg = 0.5
    probs = np.array([0.5, 0.25, 1.0, 0.9])
    labels = np.array([1, 1, 1, 0])
    polarity = np.array([1, 1, 0, 0])
    estimates = estimate_priors_by_polarity(train_labels, train_polarity, probs, labels, polarity)
    assert estimates["positive"].prior == pytest.approx(0.25 / 0.375)
    assert estimates["negative"].prior == pytest.approx(0.5)


def test_missing_labelled_positives_raise():
    with pytest.raises(ValueError, match="labelled positives"):
        estimate_prior(np.array([1, 0]), np.array([0.2]), np.array([0]))


def test_auroc_and_recall_come_with_the_estimate_and_decide_refusals():
    labels = np.array([1, 1, 0, 0])
    good = estimate_prior(np.array([1, 0, 0, 0, 0]), np.array([0.9, 0.6, 0.2, 0.1]), labels)
    assert good.auroc == pytest.approx(1.0) and good.recall == pytest.approx(1.0)
    assert good.refusals() == []  # prior 0.2 / 0.75
    chance = estimate_prior(np.array([1, 0, 0, 0, 0]), np.array([0.3, 0.7, 0.3, 0.7]), labels)
    assert chance.auroc == pytest.approx(0.5)
    assert any("AUROC 0.500 < 0.6" in r for r in chance.refusals())
    clipped = estimate_prior(np.array([1, 1, 1, 0]), np.array([0.5, 0.4, 0.1, 0.1]), labels)
    assert clipped.clipped and any("outside (0, 0.95]" in r for r in clipped.refusals())


def test_prior_standard_error_covers_the_true_prior_on_synthetic_pu_data():
    # two Gaussians at -3 and +3, prior 0.4, positives labelled at random with c 0.3; the
    # classifier is the true P(s=1 | x). Measured: 93 % of 300 draws within 1.96 se (sd of the
    # estimates 0.056, mean se 0.054); before there was no uncertainty at all.
    from scipy.stats import norm

    rng = np.random.default_rng(0)

    def draw(n):
        y = rng.random(n) < 0.4
        x = np.where(y, rng.normal(3, 1, n), rng.normal(-3, 1, n))
        p1, p0 = 0.4 * norm.pdf(x, 3), 0.6 * norm.pdf(x, -3)
        return 0.3 * p1 / (p1 + p0), (y & (rng.random(n) < 0.3)).astype(int)

    covered = []
    for _ in range(200):
        _, train_labels = draw(400)
        probs, labels = draw(200)
        estimate = estimate_prior(train_labels, probs, labels)
        assert 0 < estimate.prior_se < 0.2
        covered.append(abs(estimate.prior - 0.4) <= 1.96 * estimate.prior_se)
    assert 0.88 <= np.mean(covered) <= 0.99
    one = estimate_prior(np.array([1, 0]), np.array([0.5, 0.2]), np.array([1, 0]))
    assert np.isnan(one.prior_se)  # one labelled positive: no spread of c to measure


@pytest.mark.parametrize(("mu", "warned"), [(3.0, False), (1.0, True)])
def test_overlapping_classes_warn_that_the_prior_is_too_large(mu, warned):
    # prior 0.40, c 0.7, the true P(s=1 | x) as classifier. Measured: Gaussians at -1/+1 gave a
    # prior of 0.554 and no word; c_hat / 95th percentile of the labelled positives' scores is
    # 0.72 there and 1.00 at -3/+3 (prior 0.408)
    from scipy.stats import norm

    rng = np.random.default_rng(0)

    def draw(n):
        y = rng.random(n) < 0.4
        x = rng.normal(np.where(y, mu, -mu), 1)
        p1, p0 = 0.4 * norm.pdf(x, mu), 0.6 * norm.pdf(x, -mu)
        return 0.7 * p1 / (p1 + p0), (y & (rng.random(n) < 0.7)).astype(int)

    _, train_labels = draw(4000)
    probs, labels = draw(2000)
    estimate = estimate_prior(train_labels, probs, labels)
    assert bool(estimate.warnings()) is warned
    assert estimate.refusals() == []
    if warned:
        assert estimate.prior > 0.5 and estimate.spread_ratio < 0.8
        assert "overlap" in estimate.warnings()[0]
        assert abs(estimate.prior_from_q95 - 0.4) < 0.03  # the other end of the range
    else:
        assert abs(estimate.prior - 0.4) < 0.03 and estimate.spread_ratio > 0.99
