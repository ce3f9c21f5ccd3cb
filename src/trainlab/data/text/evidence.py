"""Evidence spans: find an annotated sentence inside its post and map it onto tokens.

Character offsets come from the post; token positions from the fast tokenizer's offset mapping.
A span that truncation cuts (wholly or partly) is reported, never silently moved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from trainlab.data.text.normalise import canonical, visible

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentenceMatch:
    """Where a sentence was found in its post: [start, end) of the post, how, and how many
    places in the post match it equally (more than one: a repeated sentence); `spans` holds
    every one of those places, the chosen one included."""

    start: int
    end: int
    how: str
    occurrences: int
    spans: tuple[tuple[int, int], ...] = ()


def _matches(post: str, needle: str) -> tuple[str, list[tuple[int, int]]] | None:
    """Every non-overlapping match of the first strategy that finds one."""
    # A regex keeps offsets in the original string (str.lower() can change lengths).
    patterns = (
        ("exact", re.compile(re.escape(needle))),
        ("case_insensitive", re.compile(re.escape(needle), re.IGNORECASE)),
        (
            "whitespace_insensitive",
            re.compile(r"\s+".join(re.escape(w) for w in needle.split()), re.IGNORECASE),
        ),
    )
    for how, pattern in patterns:
        found = [(m.start(), m.end()) for m in pattern.finditer(post) if m.end() > m.start()]
        if found:
            return how, found
    # Last: both sides folded (accents NFC/NFD, curly quotes, dashes, HTML entities, invisible
    # characters), the match mapped back onto the post's own characters.
    folded, starts, ends = canonical(post)
    key = canonical(needle)[0].strip()
    found, at = [], folded.find(key) if key else -1
    while at >= 0:
        found.append((starts[at], ends[at + len(key) - 1]))
        at = folded.find(key, at + len(key))
    return ("normalised", found) if found else None


def find_sentence(post: str, sentence: str, *, after: int = 0) -> SentenceMatch | None:
    """Find `sentence` in `post`: exact, then case-insensitive, then any run of white space as
    equal, then both texts normalised (see `trainlab.data.text.normalise`).

    When the sentence occurs more than once, the first occurrence that starts at or after
    `after` is taken (the end of the sentence annotated before it), else the first one.
    """
    needle = sentence.strip()
    if not visible(needle):
        return None
    found = _matches(post, needle)
    if found is None:
        return None
    how, spans = found
    start, end = next((s for s in spans if s[0] >= after), spans[0])
    return SentenceMatch(start, end, how, len(spans), tuple(spans))


def locate_sentence(post: str, sentence: str) -> tuple[int, int, str] | None:
    """Character span [start, end) of the first place `sentence` matches in `post`, and how it
    was matched (see `find_sentence`). Returns None when nothing matches."""
    match = find_sentence(post, sentence)
    return None if match is None else (match.start, match.end, match.how)


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
    repeated: list[str] = field(default_factory=list)

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
            "repeated": len(self.repeated),
            "repeated_examples": self.repeated[:10],
        }

    def log(self, name: str, *, dropped: bool = True) -> None:
        """Warn about spans lost, cut or placed by order; silent when every span mapped.

        Args:
            name: what the report is about (e.g. "train split").
            dropped: whether cut or unfound spans' examples were removed (else only their span
                target).
        """
        if self.not_found:
            log.warning(
                "%s: %d of %d evidence sentence(s) not found in their post; %s, e.g. %s",
                name,
                len(self.not_found),
                self.total,
                "they were dropped" if dropped else "their span targets are masked out",
                self.not_found[:5],
            )
        if self.repeated:
            log.warning(
                "%s: %d of %d evidence sentence(s) occur more than once in their post; each was "
                "placed at the first occurrence after the sentence annotated before it "
                "(sentence_id order), e.g. %s",
                name,
                len(self.repeated),
                self.total,
                self.repeated[:5],
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
