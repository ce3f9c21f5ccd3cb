"""Recall and precision of PU scores at the threshold that calls each polarity's top prior share."""

import pytest
import torch

from trainlab.metrics.pu import prior_threshold_scores


def test_prior_threshold_gives_the_true_recall_and_precision_from_pu_labels():
    # two polarities, priors 0.25 (code 0, c 0.6) and 0.4 (code 1, c 0.7); scores are a shifted
    # sigmoid of unit Gaussians at -1.5 / +1.5, all below 0.5 (as nnPU's after 3 epochs: recall
    # 0 at 0.5), so a fixed 0.5 threshold calls nothing while the ranking is good
    generator = torch.Generator().manual_seed(0)
    scores, labels, polarities, truths = [], [], [], []
    shares = torch.zeros(2)
    for code, (n, prior, c) in enumerate(((20_000, 0.25, 0.6), (30_000, 0.4, 0.7))):
        truth = torch.rand(n, generator=generator) < prior
        x = torch.randn(n, generator=generator) + torch.where(truth, 1.5, -1.5)
        label = (truth & (torch.rand(n, generator=generator) < c)).long()
        scores.append(torch.sigmoid(x - 8))
        labels.append(label)
        polarities.append(torch.full((n,), code))
        truths.append(truth)
        shares[code] = label.float().mean()
    scores, labels, polarities, truth = map(torch.cat, (scores, labels, polarities, truths))
    assert scores.max() < 0.5
    found = prior_threshold_scores(scores, labels, polarities, torch.tensor([0.25, 0.4]), shares)
    called = torch.zeros_like(truth)
    for code, prior in ((0, 0.25), (1, 0.4)):
        rows = polarities == code
        k = round(prior * int(rows.sum()))
        called[rows] = scores[rows] >= torch.topk(scores[rows], k).values[-1]
    true_recall = (called & truth).sum() / truth.sum()
    true_precision = (called & truth).sum() / called.sum()
    assert abs(found["recall_at_prior"].item() - true_recall.item()) < 0.015
    assert abs(found["precision_at_prior"].item() - true_precision.item()) < 0.015
    assert 0.8 < true_recall < 0.95


def test_prior_threshold_is_refused_without_a_prior_or_labelled_share():
    scores, labels = torch.tensor([0.2, 0.1]), torch.tensor([1, 0])
    polarities = torch.tensor([1, 1])
    assert (
        prior_threshold_scores(
            scores, labels, polarities, torch.tensor([0.3, torch.nan]), torch.tensor([0.5, 0.5])
        )
        == {}
    )
    assert (
        prior_threshold_scores(
            scores, labels, polarities, torch.tensor([0.3, 0.4]), torch.tensor([0.5, 0.0])
        )
        == {}
    )


def test_rows_tied_at_the_cut_share_the_places_left():
    # a constant score (the prior baseline) or a saturated sigmoid ties every row: `>= cut`
    # called them all, recall_at_prior 1.0 for a score that ranks nothing
    labels = torch.tensor([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    polarities = torch.zeros(10, dtype=torch.long)
    priors, shares = torch.tensor([0.3, torch.nan]), torch.tensor([0.2, torch.nan])
    found = prior_threshold_scores(torch.full((10,), 0.1), labels, polarities, priors, shares)
    # 3 places among 10 tied rows: each row called with chance 0.3
    assert found["recall_at_prior"].item() == pytest.approx(0.3)
    assert found["precision_at_prior"].item() == pytest.approx(0.3 * 2 * 0.3 / 0.2 / 3)
    # one row above the cut, 4 tied for the 2 places left
    scores = torch.tensor([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    labels = torch.tensor([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    found = prior_threshold_scores(scores, labels, polarities, priors, shares)
    assert found["recall_at_prior"].item() == pytest.approx((1 + 0.5) / 3)
