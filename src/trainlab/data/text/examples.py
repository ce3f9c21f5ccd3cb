"""Examples for the three text tasks, built from posts and sentence annotations.

- criteria: one example per annotation row: (criterion, sentence) -> status.
- evidence: one example per positive row: (criterion, post) -> the sentence's character span.
- joint:    one example per (post, criterion) annotated in the post: (criterion, post) ->
            status (any positive sentence) and, when positive, the first evidence span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trainlab.data.text.evidence import SentenceMatch, SpanReport, find_sentence
from trainlab.data.text.readers import Annotation

# Short DSM-5 descriptions; a pretrained encoder reads these better than SNAKE_CASE names.
CRITERION_DESCRIPTIONS = {
    "DEPRESSED_MOOD": "depressed mood: feeling sad, empty or hopeless",
    "ANHEDONIA": "loss of interest or pleasure in activities",
    "APPETITE_CHANGE": "change in appetite or weight",
    "SLEEP_ISSUES": "insomnia or sleeping too much",
    "PSYCHOMOTOR": "psychomotor agitation or slowing down",
    "FATIGUE": "fatigue or loss of energy",
    "WORTHLESSNESS": "feelings of worthlessness or excessive guilt",
    "COGNITIVE_ISSUES": "trouble thinking, concentrating or deciding",
    "SUICIDAL_THOUGHTS": "recurrent thoughts of death or suicide",
    # The public data set's tenth label: clinically relevant sentences outside the nine.
    "SPECIAL_CASE": "clinically relevant, but none of the nine DSM-5 depression symptoms",
}


def criterion_text(name: str) -> str:
    """The text the encoder reads for a criterion: its description, or the name humanised."""
    return CRITERION_DESCRIPTIONS.get(name, name.replace("_", " ").lower())


@dataclass(frozen=True)
class CriteriaExample:
    example_id: str
    post_id: str
    criterion: str
    sentence: str
    label: int


@dataclass(frozen=True)
class SpanExample:
    """(criterion, post) with the evidence's character span; span None = no evidence.

    `alternatives`: the character spans of the other places in the post where the same
    evidence text occurs (a repeated sentence). A prediction of any of them is as right as one
    of `char_span`: the text is the same, and which copy the annotator meant is unknown.
    """

    example_id: str
    post_id: str
    criterion: str
    post: str
    label: int
    char_span: tuple[int, int] | None
    alternatives: tuple[tuple[int, int], ...] = ()


def criteria_examples(annotations: list[Annotation]) -> list[CriteriaExample]:
    """One example per annotation row."""
    return [
        CriteriaExample(
            example_id=f"{a.sentence_id or a.post_id}:{a.criterion}:{i}",
            post_id=a.post_id,
            criterion=a.criterion,
            sentence=a.sentence_text,
            label=a.status,
        )
        for i, a in enumerate(annotations)
    ]


def _sentence_order(sentence_id: str) -> tuple:
    """Natural order of sentence ids (`p1_s2` before `p1_s10`); digits compare as numbers."""
    parts = re.split(r"(\d+)", sentence_id)
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in parts if t)


def locate_annotations(
    posts: dict[str, str], annotations: list[Annotation]
) -> list[SentenceMatch | None]:
    """Each annotation's sentence located in its post (None: not found), by position in
    `annotations`.

    A post's sentences are placed in sentence_id order, each searched from just after the
    start of the one before it: a sentence that occurs twice in a post, annotated under two
    sentence ids, gets one occurrence each instead of the first one twice.
    """
    by_post: dict[str, dict[tuple[str, str], list[int]]] = {}
    for i, a in enumerate(annotations):
        by_post.setdefault(a.post_id, {}).setdefault((a.sentence_id, a.sentence_text), []).append(i)
    located: list[SentenceMatch | None] = [None] * len(annotations)
    for post_id, sentences in by_post.items():
        cursor = 0
        order = sorted(sentences, key=lambda k: (_sentence_order(k[0]), sentences[k][0]))
        for sentence_id, text in order:
            match = find_sentence(posts[post_id], text, after=cursor)
            if match is not None:
                cursor = match.start + 1
            for i in sentences[(sentence_id, text)]:
                located[i] = match
    return located


def _record(match: SentenceMatch | None, example_id: str, report: SpanReport):
    report.total += 1
    if match is None:
        report.not_found.append(example_id)
        return None
    report.add_match(match.how)
    if match.occurrences > 1:
        report.repeated.append(example_id)
    return match.start, match.end


def _other_copies(match: SentenceMatch | None) -> tuple[tuple[int, int], ...]:
    if match is None:
        return ()
    return tuple(s for s in match.spans if s != (match.start, match.end))


def evidence_examples(
    posts: dict[str, str], annotations: list[Annotation], report: SpanReport
) -> list[SpanExample]:
    """One example per positive annotation whose sentence is found in its post."""
    located = locate_annotations(posts, annotations)
    out = []
    for i, a in enumerate(annotations):
        if a.status != 1:
            continue
        example_id = f"{a.sentence_id or a.post_id}:{a.criterion}:{i}"
        span = _record(located[i], example_id, report)
        if span is not None:
            copies = _other_copies(located[i])
            post = posts[a.post_id]
            out.append(SpanExample(example_id, a.post_id, a.criterion, post, 1, span, copies))
    return out


def joint_examples(
    posts: dict[str, str], annotations: list[Annotation], report: SpanReport
) -> list[SpanExample]:
    """One example per (post, criterion); positive when any of its sentences is positive.

    A positive whose evidence sentences are none of them found in the post keeps its label
    with no span target (as one that truncation cuts), so the classes keep their balance.
    """
    located = locate_annotations(posts, annotations)
    grouped: dict[tuple[str, str], list[int]] = {}
    for i, a in enumerate(annotations):
        grouped.setdefault((a.post_id, a.criterion), []).append(i)
    out = []
    for (post_id, criterion), rows in grouped.items():
        example_id = f"{post_id}:{criterion}"
        positives = [i for i in rows if annotations[i].status == 1]
        if not positives:
            out.append(SpanExample(example_id, post_id, criterion, posts[post_id], 0, None))
            continue
        spans = [
            _record(located[i], f"{example_id}:{annotations[i].sentence_id}", report)
            for i in positives
        ]
        found = sorted((s, i) for s, i in zip(spans, positives, strict=True) if s is not None)
        # the earliest evidence sentence is the target; the other copies of its text count too
        span, copies = (found[0][0], _other_copies(located[found[0][1]])) if found else (None, ())
        out.append(SpanExample(example_id, post_id, criterion, posts[post_id], 1, span, copies))
    return out
