"""Sliding windows over posts longer than `data.max_length`, for evaluation and prediction.

A (criterion, post) example whose post has more tokens than fit in one sequence is encoded as
several windows of the post (the tokenizer's overflowing tokens), each sharing
`data.window_overlap` tokens with the one before, so an evidence sentence no longer than the
overlap lies wholly inside at least one window. The model scores every window; the windows of
an example are merged by `merge_windows`:

- evidence span: the span of the window whose best span scores highest (start + end logit),
  mapped onto the post's own token positions and characters;
- P(present) (joint models): the largest over the windows, since a post expresses a criterion
  when any of its sentences does (the joint label is "any positive sentence").

Training keeps one truncated sequence per example (cut spans are counted in `span_reports`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import torch

from trainlab.data.text.encoding import alternative_tensors
from trainlab.data.text.evidence import char_span_to_tokens
from trainlab.data.text.examples import SpanExample, criterion_text
from trainlab.errors import DataError


@dataclass
class PostWindows:
    """Windows of span examples: tensors per window and what maps them back to the examples."""

    tensors: dict[str, torch.Tensor]
    example_of: list[int]  # window -> example index
    offsets: torch.Tensor  # window -> per-token (start, end) characters of the post
    context_start: list[int]  # window -> position of its first post token
    post_token_start: list[int]  # window -> index of that token among the post's tokens
    gold: list[tuple[int, int] | None]  # example -> evidence in post token positions
    # example -> the other copies of the evidence text, in post token positions
    alternatives: list[list[tuple[int, int]]] = field(default_factory=list)
    windows_per_example: list[int] = field(default_factory=list)

    @property
    def long_examples(self) -> int:
        """Examples whose post needed more than one window."""
        return sum(n > 1 for n in self.windows_per_example)

    def summary(self, max_length: int, overlap: int) -> dict[str, int]:
        return {
            "max_length": max_length,
            "window_overlap": overlap,
            "examples": len(self.windows_per_example),
            "examples_longer_than_max_length": self.long_examples,
            "windows": len(self.example_of),
        }


def _check_overlap(tokenizer, examples: list[SpanExample], max_length: int, overlap: int) -> None:
    """The fast tokenizer aborts the process (a Rust panic) when the overlap does not leave a
    window room for new tokens: checked here first, with the fix."""
    if overlap < 0:
        raise DataError(f"data.window_overlap={overlap} must be 0 or more (tokens).")
    questions = {criterion_text(e.criterion) for e in examples}
    longest = max(len(tokenizer(q, add_special_tokens=False)["input_ids"]) for q in questions)
    room = max_length - longest - tokenizer.num_special_tokens_to_add(pair=True)
    if overlap >= room:
        raise DataError(
            f"data.window_overlap={overlap} leaves a window no room for new post tokens: "
            f"data.max_length={max_length} holds {max(room, 0)} post token(s) beside the longest "
            f"criterion description. Set data.window_overlap below {max(room, 1)} (e.g. "
            f"{max(room // 4, 0)}) or raise data.max_length."
        )


def encode_windows(
    tokenizer, examples: list[SpanExample], *, max_length: int, overlap: int
) -> PostWindows:
    """Every example as one or more windows of at most `max_length` tokens.

    Window tensors: input_ids, attention_mask, token_type_ids, context_mask, and labels
    (the example's); span targets are per example (`gold`, in post token positions), so the
    windows' start/end targets are left empty (span_mask 0).
    """
    if not examples:
        raise DataError("no examples to encode: the split is empty.")
    _check_overlap(tokenizer, examples, max_length, overlap)
    enc = tokenizer(
        [criterion_text(e.criterion) for e in examples],
        [e.post for e in examples],
        truncation="only_second",
        max_length=max_length,
        stride=overlap,
        return_overflowing_tokens=True,
        padding="longest",
        return_token_type_ids=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    example_of = enc["overflow_to_sample_mapping"].tolist()
    posts = tokenizer(
        [e.post for e in examples], add_special_tokens=False, return_offsets_mapping=True
    )["offset_mapping"]
    post_starts = [[s for s, _ in offsets] for offsets in posts]
    context = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    context_start, post_token_start = [], []
    for w, example in enumerate(example_of):
        seq_ids = enc.sequence_ids(w)
        context[w] = torch.tensor([s == 1 for s in seq_ids])
        first = seq_ids.index(1) if 1 in seq_ids else 0
        context_start.append(first)
        char = int(enc["offset_mapping"][w, first, 0])
        post_token_start.append(max(bisect_right(post_starts[example], char) - 1, 0))
    gold, alternatives = [], []
    for e, offsets in zip(examples, posts, strict=True):
        span, copies = None, []
        if e.char_span is not None:
            span = char_span_to_tokens(offsets, [1] * len(offsets), *e.char_span)
            copies = [char_span_to_tokens(offsets, [1] * len(offsets), *c) for c in e.alternatives]
        gold.append(span)
        alternatives.append([c for c in copies if c is not None])
    n = len(example_of)
    tensors = {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "context_mask": context,
        "start_positions": torch.zeros(n, dtype=torch.long),
        "end_positions": torch.zeros(n, dtype=torch.long),
        "span_mask": torch.zeros(n, dtype=torch.bool),
        "labels": torch.tensor([examples[i].label for i in example_of], dtype=torch.long),
        **alternative_tensors([[] for _ in range(n)]),
    }
    counts = [0] * len(examples)
    for example in example_of:
        counts[example] += 1
    return PostWindows(
        tensors,
        example_of,
        enc["offset_mapping"],
        context_start,
        post_token_start,
        gold,
        windows_per_example=counts,
        alternatives=alternatives,
    )


def merge_windows(outputs: list[dict[str, Any]], windows: PostWindows) -> dict[str, Any]:
    """Per-example results from the model's per-window predict_step outputs.

    Returns a dict like one predict_step output over all examples: `start`, `end` (the post's
    token positions), `score`, `char_start`, `char_end`, `window` (the one chosen), `windows`
    (per example), `probs` (max over windows) for joint models, and `target` and `span_target`
    (gold spans in post token positions, with `alt_start`/`alt_end` the other copies of the
    evidence text) when the examples have labels.
    """
    start = torch.cat([o["start"] for o in outputs])
    end = torch.cat([o["end"] for o in outputs])
    score = torch.cat([o["score"] for o in outputs]).float()
    n = len(windows.windows_per_example)
    example_of = torch.tensor(windows.example_of, dtype=torch.long)
    best = torch.full((n,), -1, dtype=torch.long)
    best_score = torch.full((n,), float("-inf"))
    for w in range(len(example_of)):  # windows of an example are consecutive, few per example
        e = int(example_of[w])
        if best[e] < 0 or score[w] > best_score[e]:
            best[e], best_score[e] = w, score[w]
    shift = torch.tensor(windows.post_token_start) - torch.tensor(windows.context_start)
    merged: dict[str, Any] = {
        "start": start[best] + shift[best],
        "end": end[best] + shift[best],
        "score": best_score,
        "char_start": windows.offsets[best, start[best], 0],
        "char_end": windows.offsets[best, end[best], 1],
        "window": best,
        "windows": torch.tensor(windows.windows_per_example),
    }
    if "probs" in outputs[0]:
        merged["probs"] = {}
        for task in outputs[0]["probs"]:
            probs = torch.cat([o["probs"][task] for o in outputs]).float()
            present = torch.full((n,), -1.0).scatter_reduce(
                0, example_of, probs[:, 1], reduce="amax"
            )
            merged["probs"][task] = torch.stack([1 - present, present], dim=1)
    target = windows.tensors["labels"][best]  # every window carries its example's label
    if "probs" in merged:
        merged["target"] = {task: target for task in merged["probs"]}
    valid = torch.tensor([g is not None for g in windows.gold]) & (target == 1)
    copies = alternative_tensors(windows.alternatives or [[] for _ in windows.gold])
    merged["span_target"] = {
        "start": torch.tensor([g[0] if g else 0 for g in windows.gold], dtype=torch.long),
        "end": torch.tensor([g[1] if g else 0 for g in windows.gold], dtype=torch.long),
        "valid": valid,
        "alt_start": copies["alt_start_positions"],
        "alt_end": copies["alt_end_positions"],
    }
    return merged
