"""The criteria data's linear-baseline features: token counts over the training vocabulary."""

from __future__ import annotations

from collections import Counter

import numpy as np

from trainlab.data.text.tasks import TextCriteriaDataModule


def test_token_counts_per_row_over_the_training_vocabulary(tmp_path) -> None:
    dm = TextCriteriaDataModule(
        str(tmp_path / "text"), synthetic=True, synthetic_posts=60, tiny_vocab_size=300
    )
    dm.prepare_data()
    dm.setup("fit")
    kind, x_train, _, description = dm.baseline_features("train")
    _, x_test, y_test, _ = dm.baseline_features("test")
    assert kind == "classification" and x_train.shape[1] == x_test.shape[1]
    train = dm.datasets["train"].tensors
    vocabulary = sorted(set(train["input_ids"][train["attention_mask"].bool()].tolist()))
    assert (
        x_train.shape[1] == len(vocabulary) and f"{len(vocabulary)} training tokens" in description
    )
    test = dm.datasets["test"].tensors
    for row in (0, len(x_test) - 1):
        ids = test["input_ids"][row][test["attention_mask"][row].bool()].tolist()
        expected = Counter(i for i in ids if i in set(vocabulary))
        got = {vocabulary[j]: int(c) for j, c in enumerate(x_test[row]) if c}
        assert got == dict(expected)
    assert np.array_equal(y_test["status"], test["labels"].numpy())
