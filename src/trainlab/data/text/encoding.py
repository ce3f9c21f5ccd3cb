"""Tokenise text examples into tensors; map evidence spans onto tokens.

Inputs are (criterion description, text) pairs; only the text is ever truncated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from trainlab.data.text.evidence import SpanReport, char_span_to_tokens
from trainlab.data.text.examples import CriteriaExample, SpanExample, criterion_text
from trainlab.errors import DataError
from trainlab.text_assets import (
    TINY,
    load_tokenizer,
    resolve_encoder_path,
    train_wordpiece_tokenizer,
)


def get_tokenizer(
    encoder: str,
    cache_dir: str | Path,
    training_texts: Callable[[], Iterable[str]],
    *,
    vocab_size: int = 2000,
    folder_name: str | None = None,
):
    """The tokenizer that belongs to `encoder`.

    For `tiny`, a WordPiece tokenizer is trained on `training_texts()` once and cached in
    `cache_dir/tokenizer-tiny-<vocab_size>-<digest of the texts>`: other training texts (new
    data, another split) get their own tokenizer instead of the one cached for earlier data.
    `folder_name` (a checkpoint's, at eval and predict) loads that cached tokenizer, without
    reading the training texts. Otherwise the encoder's own tokenizer is loaded.
    """
    if encoder == TINY:
        if folder_name is not None:
            folder = Path(cache_dir) / folder_name
            if not (folder / "tokenizer.json").is_file():
                raise DataError(
                    f"{folder} is missing: the checkpoint was trained with the tiny tokenizer "
                    "cached there (trained on its training texts), and another vocabulary would "
                    "read every token id wrongly. Point data.data_dir to the training data folder "
                    "that holds it, or copy the folder there."
                )
            return load_tokenizer(folder)
        texts = list(training_texts())
        digest = hashlib.sha256()
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        folder = Path(cache_dir) / f"tokenizer-tiny-{vocab_size}-{digest.hexdigest()[:12]}"
        if not (folder / "tokenizer.json").is_file():
            train_wordpiece_tokenizer(texts, folder, vocab_size=vocab_size)
        return load_tokenizer(folder)
    return load_tokenizer(resolve_encoder_path(encoder))


def vocabulary_digest(tokenizer) -> str:
    """A digest of a tokenizer's vocabulary (token -> id): two tokenizers that read text into
    the same ids give the same digest."""
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(repr(vocabulary).encode("utf-8")).hexdigest()[:16]


def _pairs(tokenizer, firsts: list[str], seconds: list[str], max_length: int, offsets: bool):
    if not firsts:
        raise DataError("no examples to encode: the split is empty.")
    return tokenizer(
        firsts,
        seconds,
        truncation="only_second",
        max_length=max_length,
        padding="longest",
        return_token_type_ids=True,
        return_offsets_mapping=offsets,
        return_tensors="pt",
    )


def cut_sentences(tokenizer, examples: list[CriteriaExample], max_length: int) -> list[str]:
    """Ids of the examples whose (criterion, sentence) pair has more tokens than `max_length`:
    the model reads only the start of their sentence."""
    firsts = [criterion_text(e.criterion) for e in examples]
    lengths = tokenizer(firsts, [e.sentence for e in examples], verbose=False)["input_ids"]
    return [e.example_id for e, ids in zip(examples, lengths, strict=True) if len(ids) > max_length]


def encode_criteria(
    tokenizer, examples: list[CriteriaExample], *, max_length: int = 128
) -> dict[str, torch.Tensor]:
    """{input_ids, attention_mask, token_type_ids, labels} for criteria examples."""
    enc = _pairs(
        tokenizer,
        [criterion_text(e.criterion) for e in examples],
        [e.sentence for e in examples],
        max_length,
        offsets=False,
    )
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "labels": torch.tensor([e.label for e in examples], dtype=torch.long),
    }


def encode_spans(
    tokenizer,
    examples: list[SpanExample],
    report: SpanReport,
    *,
    max_length: int = 256,
    drop_cut_spans: bool = True,
) -> tuple[dict[str, torch.Tensor], list[SpanExample]]:
    """Tensors for (criterion, post) examples with token-level span targets.

    A positive example whose span truncation cuts is recorded in `report.truncated`; with
    `drop_cut_spans` it is removed (evidence task), otherwise kept with `span_mask` 0 so only
    its label is learned (joint task).

    Returns:
        (tensors, kept examples): tensors hold input_ids, attention_mask, token_type_ids,
        context_mask, start_positions, end_positions, span_mask, labels, offset_mapping
        (per-token character offsets into the post) and alt_start_positions /
        alt_end_positions ((N, K), -1 padded: the token spans of the other copies of the
        evidence text that the encoded post holds whole, see `SpanExample.alternatives`).
    """
    enc = _pairs(
        tokenizer,
        [criterion_text(e.criterion) for e in examples],
        [e.post for e in examples],
        max_length,
        offsets=True,
    )
    keep, starts, ends, span_mask, copies = [], [], [], [], []
    context = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    for i, ex in enumerate(examples):
        seq_ids = enc.sequence_ids(i)
        context[i] = torch.tensor([s == 1 for s in seq_ids])
        tokens, others = None, []
        if ex.char_span is not None:
            offsets = [tuple(o) for o in enc["offset_mapping"][i].tolist()]
            tokens = char_span_to_tokens(offsets, seq_ids, *ex.char_span)
            others = [char_span_to_tokens(offsets, seq_ids, *c) for c in ex.alternatives]
            if tokens is None:
                report.truncated.append(ex.example_id)
                if drop_cut_spans:
                    continue
            else:
                report.mapped += 1
        keep.append(i)
        starts.append(tokens[0] if tokens else 0)
        ends.append(tokens[1] if tokens else 0)
        span_mask.append(tokens is not None)
        copies.append([c for c in others if c is not None] if tokens else [])
    if not keep:
        raise DataError(
            f"every one of {len(examples)} evidence span(s) was cut by truncation or not found; "
            "raise data.max_length."
        )
    idx = torch.tensor(keep)
    tensors = {
        "input_ids": enc["input_ids"][idx],
        "attention_mask": enc["attention_mask"][idx],
        "token_type_ids": enc["token_type_ids"][idx],
        "context_mask": context[idx],
        "start_positions": torch.tensor(starts, dtype=torch.long),
        "end_positions": torch.tensor(ends, dtype=torch.long),
        "span_mask": torch.tensor(span_mask, dtype=torch.bool),
        "labels": torch.tensor([examples[i].label for i in keep], dtype=torch.long),
        "offset_mapping": enc["offset_mapping"][idx],
        **alternative_tensors(copies),
    }
    return tensors, [examples[i] for i in keep]


def alternative_tensors(copies: list[list[tuple[int, int]]]) -> dict[str, torch.Tensor]:
    """alt_start_positions / alt_end_positions, (N, K >= 1), -1 where a row has fewer copies."""
    width = max([1, *map(len, copies)])
    start = torch.full((len(copies), width), -1, dtype=torch.long)
    end = torch.full((len(copies), width), -1, dtype=torch.long)
    for row, spans in enumerate(copies):
        for k, (s, e) in enumerate(spans):
            start[row, k], end[row, k] = s, e
    return {"alt_start_positions": start, "alt_end_positions": end}
