"""Span baselines: the most frequent span placed in each post, and token-level logistic
regressions that must find evidence whose words depend on the criterion."""

import numpy as np
import pytest
import torch

from trainlab.metrics.baselines import LINEAR, MAJORITY, LinearSettings
from trainlab.metrics.span_baselines import majority_spans, span_baselines, span_rows


def toy_split(n: int, seed: int) -> dict[str, torch.Tensor]:
    """[CLS] criterion [SEP] filler ... evidence ... filler [SEP] [PAD]...: the evidence is 3-5
    tokens drawn from the criterion's own words; decoys are the OTHER criterion's words."""
    rng = np.random.default_rng(seed)
    width = 40
    ids = np.zeros((n, width), dtype=np.int64)
    attention = np.zeros((n, width), dtype=np.int64)
    context = np.zeros((n, width), dtype=bool)
    start, end = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i in range(n):
        criterion = i % 2
        length = int(rng.integers(20, 35))
        post = list(rng.integers(10, 30, size=length))
        words = [40 + 5 * criterion + k for k in range(5)]
        decoys = [40 + 5 * (1 - criterion) + k for k in range(5)]
        span_len = int(rng.integers(3, 6))
        first = int(rng.integers(0, length - 2 * span_len))
        post[first : first + span_len] = rng.choice(words, span_len)
        other = first + span_len + int(rng.integers(0, length - first - 2 * span_len + 1))
        post[other : other + span_len] = rng.choice(decoys, span_len)
        row = [1, 5 + criterion, 2, *post, 2]
        ids[i, : len(row)] = row
        attention[i, : len(row)] = 1
        context[i, 3 : 3 + length] = True
        start[i], end[i] = 3 + first, 3 + first + span_len - 1
    labels = np.ones(n, dtype=np.int64)
    labels[-3:] = 0  # rows without a span target are left out, as the model's metrics do
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(attention),
        "context_mask": torch.from_numpy(context),
        "start_positions": torch.from_numpy(start),
        "end_positions": torch.from_numpy(end),
        "span_mask": torch.ones(n, dtype=torch.bool),
        "labels": torch.from_numpy(labels),
    }


def test_span_rows_keep_only_rows_with_a_span_target():
    rows = span_rows(toy_split(20, 0))
    assert len(rows["start"]) == 17
    assert span_rows({"input_ids": torch.zeros(2, 3), "labels": torch.ones(2)}) is None


def test_majority_places_the_most_frequent_offset_in_each_post_and_cuts_it():
    def rows(first: list[int], last: list[int], start: list[int], end: list[int]) -> dict:
        context = np.zeros((len(first), 12), dtype=bool)
        for i, (a, b) in enumerate(zip(first, last, strict=True)):
            context[i, a : b + 1] = True
        return {"context_mask": context, "start": np.array(start), "end": np.array(end)}

    # offsets from the post's first token: (1, 2) twice, (0, 4) once
    train = rows([2, 3, 2], [9, 9, 9], [3, 4, 2], [4, 5, 6])
    test = rows([1, 4], [8, 5], [0, 0], [0, 0])
    start, end = majority_spans(train, test)
    assert start.tolist() == [2, 5] and end.tolist() == [3, 5]  # the second is cut at its end


def test_linear_span_baseline_finds_criterion_evidence_that_position_cannot():
    train, test = span_rows(toy_split(300, 1)), span_rows(toy_split(80, 2))
    result = span_baselines(train, test, LinearSettings(), max_span_len=8)
    linear, majority = result.scores[LINEAR], result.scores[MAJORITY]
    assert set(linear) == {"test/em", "test/token_f1"}
    assert linear["test/token_f1"] > 0.85 and linear["test/em"] > 0.6
    assert majority["test/token_f1"] < 0.3
    # switched off: only the majority span
    only = span_baselines(train, test, LinearSettings(), max_span_len=8, linear=False)
    assert set(only.scores) == {MAJORITY}
    assert only.scores[MAJORITY] == pytest.approx(majority)
