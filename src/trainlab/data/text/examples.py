"""Examples for the three text tasks, built from posts and sentence annotations.

- criteria: one example per annotation row: (criterion, sentence) -> status.
- evidence: one example per positive row: (criterion, post) -> the sentence's character span.
- joint:    one example per (post, criterion) annotated in the post: (criterion, post) ->
            status (any positive sentence) and, when positive, the first evidence span.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainlab.data.text.evidence import SpanReport, locate_sentence
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
    """(criterion, post) with the evidence's character span; span None = no evidence."""

    example_id: str
    post_id: str
    criterion: str
    post: str
    label: int
    char_span: tuple[int, int] | None


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


def _locate(post: str, a: Annotation, example_id: str, report: SpanReport):
    report.total += 1
    found = locate_sentence(post, a.sentence_text)
    if found is None:
        report.not_found.append(example_id)
        return None
    report.add_match(found[2])
    return found[0], found[1]


def evidence_examples(
    posts: dict[str, str], annotations: list[Annotation], report: SpanReport
) -> list[SpanExample]:
    """One example per positive annotation whose sentence is found in its post."""
    out = []
    for i, a in enumerate(annotations):
        if a.status != 1:
            continue
        example_id = f"{a.sentence_id or a.post_id}:{a.criterion}:{i}"
        span = _locate(posts[a.post_id], a, example_id, report)
        if span is not None:
            out.append(SpanExample(example_id, a.post_id, a.criterion, posts[a.post_id], 1, span))
    return out


def joint_examples(
    posts: dict[str, str], annotations: list[Annotation], report: SpanReport
) -> list[SpanExample]:
    """One example per (post, criterion); positive when any of its sentences is positive."""
    grouped: dict[tuple[str, str], list[Annotation]] = {}
    for a in annotations:
        grouped.setdefault((a.post_id, a.criterion), []).append(a)
    out = []
    for (post_id, criterion), rows in grouped.items():
        example_id = f"{post_id}:{criterion}"
        positives = [a for a in rows if a.status == 1]
        if not positives:
            out.append(SpanExample(example_id, post_id, criterion, posts[post_id], 0, None))
            continue
        spans = [
            _locate(posts[post_id], a, f"{example_id}:{a.sentence_id}", report) for a in positives
        ]
        found = sorted(s for s in spans if s is not None)
        if found:  # the earliest evidence sentence is the target
            out.append(SpanExample(example_id, post_id, criterion, posts[post_id], 1, found[0]))
    return out
