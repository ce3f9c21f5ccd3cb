"""`trainlab prior` refuses a checkpoint whose polarity got no estimate (it wrote no prior)."""

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.metrics.class_prior import estimate_priors_by_polarity
from trainlab.pipelines.pu_prior import check_every_polarity_estimated


def test_a_polarity_without_labelled_positives_in_the_labelled_table_is_refused():
    # negative-mode training rows (two labelled); the labelled table's negative-mode rows are
    # all unlabeled: before, the polarity was skipped and priors.json held {"priors": {}}
    train_labels, train_polarity = np.array([1, 0, 0, 1]), np.zeros(4, dtype=np.int8)
    probs, labels, polarity = np.array([0.2, 0.3, 0.9]), np.zeros(3), np.zeros(3, dtype=np.int8)
    found = estimate_priors_by_polarity(train_labels, train_polarity, probs, labels, polarity)
    assert found == {}
    with pytest.raises(ConfigError, match=r"\['negative'\].*labelled_table=validation_data"):
        check_every_polarity_estimated("neg.ckpt", train_polarity, found, "validation_data")


def test_every_polarity_estimated_passes():
    train_labels, train_polarity = np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])
    probs, labels = np.array([0.9, 0.1, 0.8, 0.2]), np.array([1, 0, 1, 0])
    polarity = np.array([1, 1, 0, 0])
    found = estimate_priors_by_polarity(train_labels, train_polarity, probs, labels, polarity)
    assert set(found) == {"positive", "negative"}
    check_every_polarity_estimated("both.ckpt", train_polarity, found, "validation_data")
    # rows of unknown polarity (-1) carry no prior to estimate
    check_every_polarity_estimated("both.ckpt", np.array([1, 0, -1]), found, "validation_data")
