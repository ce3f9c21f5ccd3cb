"""Trivial and linear baselines of evidence span extraction, scored as the span model is.

Pure NumPy, SciPy and scikit-learn on the token arrays of a split (``input_ids``,
``attention_mask``, ``context_mask``, gold ``start``/``end``) on the rows that have a span
target, the same rows the model's ``em`` and ``token_f1`` count:

* ``majority``: the most frequent training span, as (start, end) counted from the first token
  of the post, placed in each test post and cut to it. What a model gets for knowing only where
  evidence usually sits.
* ``logistic_regression``: two token-level logistic regressions (is this token the start / the
  end of the evidence?) on sparse bag-of-words features of each post token: its own token id,
  its neighbours' ids, and the ids of the next / previous ``window`` tokens crossed with the
  criterion (the question tokens), so that which sentence is evidence can depend on the
  criterion. Spans are decoded from the two log-probabilities with the model's own best-span
  decoding (start <= end, at most ``max_span_len`` tokens, inside the post).

Scores: ``em`` and ``token_f1`` from ``trainlab.metrics.span``, the model's definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab.metrics.baselines import LINEAR, MAJORITY, BaselineResult, LinearSettings

WINDOW = 8
FEATURES = (
    f"spans: token ids of each post token and its neighbours, and of the {WINDOW} tokens after "
    f"and before it crossed with the criterion"
)


def span_rows(tensors: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The span arrays of a text split's tensors (only the rows with a span target), or None
    when the split has no span targets."""
    if "start_positions" not in tensors or "context_mask" not in tensors:
        return None
    valid = tensors["span_mask"].bool() & (tensors["labels"] == 1)
    keep = valid.numpy()
    return {
        "input_ids": tensors["input_ids"].numpy()[keep],
        "attention_mask": tensors["attention_mask"].numpy()[keep].astype(bool),
        "context_mask": tensors["context_mask"].numpy()[keep].astype(bool),
        "start": tensors["start_positions"].numpy()[keep],
        "end": tensors["end_positions"].numpy()[keep],
        **(
            {
                "alt_start": tensors["alt_start_positions"].numpy()[keep],
                "alt_end": tensors["alt_end_positions"].numpy()[keep],
            }
            if "alt_start_positions" in tensors
            else {}
        ),
    }


def _context_bounds(rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    context = rows["context_mask"]
    first = context.argmax(axis=1)
    last = context.shape[1] - 1 - context[:, ::-1].argmax(axis=1)
    return first, last


def majority_spans(
    train: dict[str, np.ndarray], test: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The most frequent training (start, end) offset from the post's first token, per test row
    (ties: the earliest, then shortest), cut to the test post."""
    first, _ = _context_bounds(train)
    offsets = np.stack([train["start"] - first, train["end"] - first], axis=1)
    values, counts = np.unique(offsets, axis=0, return_counts=True)
    start_offset, end_offset = values[counts.argmax()]
    test_first, test_last = _context_bounds(test)
    start = np.minimum(test_first + start_offset, test_last)
    end = np.clip(test_first + end_offset, start, test_last)
    return start, end


class _Criteria:
    """Criterion = the question tokens of a row; indices fixed on the training rows."""

    def __init__(self, train: dict[str, np.ndarray]) -> None:
        self.index: dict[bytes, int] = {}
        for key in self._keys(train):
            self.index.setdefault(key, len(self.index))

    @staticmethod
    def _keys(rows: dict[str, np.ndarray]) -> list[bytes]:
        question = rows["attention_mask"] & ~rows["context_mask"]
        return [ids[mask].tobytes() for ids, mask in zip(rows["input_ids"], question, strict=True)]

    def of(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        return np.array([self.index.get(k, -1) for k in self._keys(rows)], dtype=np.int64)


def token_features(
    rows: dict[str, np.ndarray], criteria: np.ndarray, n_criteria: int, vocab: int
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Sparse binary features of every post token: (matrix, row of each token, its position).

    Blocks of ``vocab`` columns: own id, previous id, next id, then per criterion the ids of
    the next ``WINDOW`` tokens and of the previous ``WINDOW`` tokens (unseen criteria: none).
    Ids at or above ``vocab`` (never in training) are dropped.
    """
    from scipy import sparse

    ids, context = rows["input_ids"], rows["context_mask"]
    example, position = np.nonzero(context)
    length = ids.shape[1]
    columns, token_of = [], []

    def add(offset: np.ndarray, block: np.ndarray) -> None:
        at = position + offset
        inside = (at >= 0) & (at < length)
        value = np.where(inside, ids[example, np.clip(at, 0, length - 1)], vocab)
        ok = inside & (value < vocab) & (block >= 0)
        columns.append(block[ok] * vocab + value[ok])
        token_of.append(np.flatnonzero(ok))

    n = len(example)
    for block, offset in enumerate((0, -1, 1)):
        add(np.full(n, offset), np.full(n, block))
    crit = criteria[example]
    for step in range(WINDOW):
        add(np.full(n, step), np.where(crit >= 0, 3 + crit, -1))
        add(np.full(n, -step), np.where(crit >= 0, 3 + n_criteria + crit, -1))
    rows_idx, cols = np.concatenate(token_of), np.concatenate(columns)
    shape = (n, (3 + 2 * n_criteria) * vocab)
    matrix = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows_idx, cols)), shape)
    matrix.data[:] = 1.0  # duplicates in a window count once
    return matrix, example, position


def linear_spans(
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    settings: LinearSettings,
    max_span_len: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Spans decoded from token-level start/end logistic regressions (see the module doc)."""
    start, end, _ = linear_spans_scored(train, test, settings, max_span_len)
    return start, end


def linear_spans_scored(
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    settings: LinearSettings,
    max_span_len: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``linear_spans`` and each span's score (start + end log-probability), the score the
    windows of a long post are merged by (as the model's start + end logits are)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from trainlab.metrics.span import decode_best_span

    vocab = int(train["input_ids"].max()) + 1
    criteria = _Criteria(train)
    n_criteria = len(criteria.index)
    x_train, example, position = token_features(train, criteria.of(train), n_criteria, vocab)
    x_test, test_example, test_position = token_features(test, criteria.of(test), n_criteria, vocab)
    logits = []
    for target in ("start", "end"):
        y = (position == train[target][example]).astype(np.int64)
        model = LogisticRegression(
            C=settings.C, max_iter=settings.max_iter, random_state=settings.seed
        )
        model.fit(x_train, y)
        scores = np.full(test["input_ids"].shape, -np.inf, dtype=np.float64)
        scores[test_example, test_position] = model.predict_log_proba(x_test)[:, 1]
        logits.append(torch.from_numpy(scores))
    start, end = decode_best_span(*logits, max_span_len=max_span_len)
    rows = torch.arange(len(start))
    score = logits[0][rows, start] + logits[1][rows, end]
    return start.numpy(), end.numpy(), score.numpy()


def whole_post_span_baselines(
    train: dict[str, np.ndarray],
    tensors: dict[str, Any],
    example_of: list[int],
    merge: Any,
    settings: LinearSettings,
    max_span_len: int | None = None,
    linear: bool = True,
) -> tuple[BaselineResult, int]:
    """The span baselines over whole posts read in windows (``trainlab.data.text.windows``),
    merged per example as the model's windows are: the majority span is placed from the post's
    first token (its first window), the logistic regression's best-scoring window wins. Scored
    on the examples with a span target, as the evaluation report's ``evidence``; returns the
    scores and the number of examples scored.

    Args:
        train: ``span_rows`` of the training split.
        tensors: the windows' tensors (``PostWindows.tensors``).
        example_of: the example of each window (consecutive per example).
        merge: per-window outputs -> per-example results (``merge_windows`` over the windows).
        settings, max_span_len, linear: as in ``span_baselines``.
    """
    import torch

    from trainlab.metrics.evaluation import span_metrics

    rows = {
        "input_ids": tensors["input_ids"].numpy(),
        "attention_mask": tensors["attention_mask"].numpy().astype(bool),
        "context_mask": tensors["context_mask"].numpy().astype(bool),
    }
    example_of = np.asarray(example_of)
    first = np.r_[True, example_of[1:] != example_of[:-1]]  # windows of an example are in order
    start, end = majority_spans(train, rows)
    predictions = {MAJORITY: (start, end, np.where(first, 0.0, -np.inf))}
    if linear:
        predictions[LINEAR] = linear_spans_scored(train, rows, settings, max_span_len)
    result = BaselineResult()
    for name, (start, end, score) in predictions.items():
        outputs = [
            {
                "start": torch.as_tensor(start, dtype=torch.long),
                "end": torch.as_tensor(end, dtype=torch.long),
                "score": torch.as_tensor(score, dtype=torch.float32),
            }
        ]
        merged = merge(outputs)
        target = merged["span_target"]
        valid = target["valid"]
        values = span_metrics(
            merged["start"][valid],
            merged["end"][valid],
            target["start"][valid],
            target["end"][valid],
            (target["alt_start"][valid], target["alt_end"][valid]),
        )
        result.scores[name] = {k: values[k] for k in ("exact_match", "token_f1")}
    return result, int(valid.sum())


def span_scores(
    start: np.ndarray, end: np.ndarray, rows: dict[str, np.ndarray]
) -> dict[str, float]:
    """Mean exact match and token F1 of predicted spans against the rows' gold spans."""
    import torch

    from trainlab.metrics.span import span_exact_match, span_token_f1

    pred = torch.as_tensor(start), torch.as_tensor(end)
    copies = None
    if "alt_start" in rows:  # another copy of the evidence text counts, as for the model
        copies = torch.as_tensor(rows["alt_start"]), torch.as_tensor(rows["alt_end"])
    gold = torch.as_tensor(rows["start"]), torch.as_tensor(rows["end"]), copies
    return {
        "em": float(span_exact_match(*pred, *gold).mean()),
        "token_f1": float(span_token_f1(*pred, *gold).mean()),
    }


def span_baselines(
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    settings: LinearSettings,
    max_span_len: int | None = None,
    prefix: str = "test",
    linear: bool = True,
) -> BaselineResult:
    """The majority span and the token-level logistic regression, scored on the test rows."""
    result = BaselineResult()
    if len(train["start"]) == 0 or len(test["start"]) == 0:
        result.notes.append("spans: no training or test rows with a span target")
        return result
    predictions = {MAJORITY: majority_spans(train, test)}
    if linear:
        predictions[LINEAR] = linear_spans(train, test, settings, max_span_len)
    for name, (start, end) in predictions.items():
        values = span_scores(start, end, test)
        result.scores[name] = {f"{prefix}/{k}": v for k, v in values.items()}
    return result
