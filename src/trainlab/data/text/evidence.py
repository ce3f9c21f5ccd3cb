"""Evidence spans: find an annotated sentence inside its post and map it onto tokens.

Character offsets come from the post; token positions from the fast tokenizer's offset mapping.
A span that truncation cuts (wholly or partly) is reported, never silently moved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


def locate_sentence(post: str, sentence: str) -> tuple[int, int, str] | None:
    """Character span [start, end) of `sentence` in `post`, and how it was matched.

    Tries an exact match, then a case-insensitive one, then one that also treats any run of
    whitespace as equal (exports often re-wrap lines). Returns None when nothing matches.
    """
    needle = sentence.strip()
    if not needle:
        return None
    start = post.find(needle)
    if start >= 0:
        return start, start + len(needle), "exact"
    # A regex keeps offsets in the original string (str.lower() can change lengths).
    found = re.search(re.escape(needle), post, flags=re.IGNORECASE)
    if found:
        return found.start(), found.end(), "case_insensitive"
    words = [re.escape(w) for w in needle.split()]
    found = re.search(r"\s+".join(words), post, flags=re.IGNORECASE)
    if found:
        return found.start(), found.end(), "whitespace_insensitive"
    return None


def char_span_to_tokens(
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    char_start: int,
    char_end: int,
    *,
    context_id: int = 1,
) -> tuple[int, int] | None:
    """Map a character span of the context onto inclusive token positions.

    Args:
        offsets: per-token (start, end) character offsets from the fast tokenizer.
        sequence_ids: per-token sequence index (None for special tokens).
        char_start: first character of the span.
        char_end: one past the last character of the span.
        context_id: which sequence holds the context (1 for a (question, context) pair).

    Returns:
        (token_start, token_end), or None when the span is not wholly inside the encoded
        context (truncation cut it).
    """
    context = [
        i
        for i, (sid, (s, e)) in enumerate(zip(sequence_ids, offsets, strict=True))
        if sid == context_id and e > s
    ]
    if not context or char_end <= char_start:
        return None
    first_char = offsets[context[0]][0]
    last_char = offsets[context[-1]][1]
    if char_start < first_char or char_end > last_char:
        return None
    token_start = next((i for i in context if offsets[i][1] > char_start), None)
    token_end = next((i for i in reversed(context) if offsets[i][0] < char_end), None)
    if token_start is None or token_end is None or token_end < token_start:
        return None
    return token_start, token_end


@dataclass
class SpanReport:
    """What happened to evidence spans while building a data set: counted, with example ids."""

    total: int = 0
    mapped: int = 0
    matched_by: dict[str, int] = field(default_factory=dict)
    not_found: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def add_match(self, how: str) -> None:
        self.matched_by[how] = self.matched_by.get(how, 0) + 1

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "mapped": self.mapped,
            "matched_by": dict(self.matched_by),
            "not_found": len(self.not_found),
            "not_found_examples": self.not_found[:10],
            "truncated": len(self.truncated),
            "truncated_examples": self.truncated[:10],
        }

    def log(self, name: str, *, dropped: bool = True) -> None:
        """Warn about spans lost or cut; silent when every span mapped.

        Args:
            name: what the report is about (e.g. "train split").
            dropped: whether cut spans' examples were removed (else only their span target).
        """
        if self.not_found:
            log.warning(
                "%s: %d of %d evidence sentence(s) not found in their post and dropped, e.g. %s",
                name,
                len(self.not_found),
                self.total,
                self.not_found[:5],
            )
        if self.truncated:
            log.warning(
                "%s: truncation cut %d of %d evidence span(s); %s, e.g. %s. "
                "Raise data.max_length to keep them.",
                name,
                len(self.truncated),
                self.total,
                "they were dropped" if dropped else "their span targets are masked out",
                self.truncated[:5],
            )
