"""Long posts are read in overlapping windows at eval and predict; results merge per example."""

import pytest
import torch

from trainlab.data.text.evidence import char_span_to_tokens
from trainlab.data.text.examples import SpanExample
from trainlab.data.text.windows import encode_windows, merge_windows
from trainlab.errors import DataError
from trainlab.text_assets import load_tokenizer, train_wordpiece_tokenizer

FILLER = "The bus was late again today. I work at a small bakery downtown. "
EVIDENCE = "I can't sleep at night anymore."


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok") / "tiny"
    corpus = [FILLER + EVIDENCE, "insomnia or sleeping too much", "fatigue"] * 20
    return load_tokenizer(train_wordpiece_tokenizer(corpus, folder, vocab_size=300))


def example(post: str, label: int = 1, example_id: str = "p") -> SpanExample:
    at = post.find(EVIDENCE)
    span = (at, at + len(EVIDENCE)) if label and at >= 0 else None
    return SpanExample(example_id, example_id, "SLEEP_ISSUES", post, label, span)


def window_outputs(windows, picks: dict[int, tuple[int, int, float]], probs=None):
    """Per-window outputs as predict_step gives them: span (start, end) and score per window."""
    n = len(windows.example_of)
    start, end, score = (
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, dtype=torch.long),
        [0.0] * n,
    )
    for w, (s, e, value) in picks.items():
        start[w], end[w], score[w] = s, e, value
    out = {"start": start, "end": end, "score": torch.tensor(score)}
    if probs is not None:
        out["probs"] = {"status": torch.stack([1 - torch.tensor(probs), torch.tensor(probs)], 1)}
    return [out]


def test_a_long_post_is_read_whole_in_overlapping_windows(tokenizer):
    long = FILLER * 12 + EVIDENCE
    windows = encode_windows(
        tokenizer,
        [example(long), example(FILLER + EVIDENCE, example_id="s")],
        max_length=48,
        overlap=12,
    )
    assert windows.windows_per_example[1] == 1 and windows.windows_per_example[0] > 3
    full = tokenizer(long, add_special_tokens=False)["input_ids"]
    seen = set()
    for w, e in enumerate(windows.example_of):
        if e != 0:
            continue
        ids = windows.tensors["input_ids"][w][windows.tensors["context_mask"][w]].tolist()
        first = windows.post_token_start[w]
        # each window is a slice of the post's own tokens, found at its place in the post
        assert ids == full[first : first + len(ids)]
        seen.update(range(first, first + len(ids)))
    assert seen == set(range(len(full)))  # no token of the post is left unread
    # the evidence, past the first window, has its target in the post's token positions
    start, end = windows.gold[0]
    assert start > 48 and tokenizer.decode(full[start : end + 1]) == tokenizer.decode(
        tokenizer(EVIDENCE, add_special_tokens=False)["input_ids"]
    )


def test_evidence_on_a_window_border_lies_whole_inside_one_window(tokenizer):
    sentence = len(tokenizer(EVIDENCE, add_special_tokens=False)["input_ids"])
    for repeats in range(2, 9):  # moves the evidence across the borders of the windows
        post = "Hi. " * repeats + FILLER * 4 + EVIDENCE + " " + FILLER * 2
        windows = encode_windows(tokenizer, [example(post)], max_length=40, overlap=sentence)
        at = post.index(EVIDENCE)
        inside = [
            char_span_to_tokens(
                [tuple(o) for o in windows.offsets[w].tolist()],
                [1 if c else None for c in windows.tensors["context_mask"][w].tolist()],
                at,
                at + len(EVIDENCE),
            )
            for w in range(len(windows.example_of))
        ]
        assert any(span is not None for span in inside), repeats


def test_merge_takes_the_best_window_and_maps_it_onto_the_post(tokenizer):
    long = FILLER * 12 + EVIDENCE
    windows = encode_windows(tokenizer, [example(long)], max_length=48, overlap=12)
    last = len(windows.example_of) - 1
    start, end = windows.gold[0]
    shift = windows.post_token_start[last] - windows.context_start[last]
    # the first window finds some filler with a lower score; the last one the evidence
    first_pick = (windows.context_start[0], windows.context_start[0] + 3, 1.0)
    picks = {0: first_pick, last: (start - shift, end - shift, 7.5)}
    probs = [0.2] * len(windows.example_of)
    probs[1] = 0.9  # the post is positive when any of its windows is
    merged = merge_windows(window_outputs(windows, picks, probs), windows)
    assert (int(merged["start"][0]), int(merged["end"][0])) == (start, end)
    chars = slice(int(merged["char_start"][0]), int(merged["char_end"][0]))
    assert long[chars] == EVIDENCE
    assert merged["probs"]["status"][0].tolist() == pytest.approx([0.1, 0.9])
    assert merged["span_target"]["valid"].tolist() == [True]
    assert int(merged["windows"][0]) == len(windows.example_of)


def test_an_overlap_the_window_cannot_hold_stops_with_the_fix(tokenizer):
    # the tokenizer itself would abort the process (a Rust panic), not raise
    with pytest.raises(DataError, match=r"data.window_overlap=40 leaves a window no room"):
        encode_windows(tokenizer, [example(FILLER * 10)], max_length=32, overlap=40)


def test_a_prediction_of_another_copy_of_the_evidence_text_is_a_hit(tokenizer):
    """The post holds the evidence sentence twice; which copy the annotator meant is unknown,
    so predicting either is exact (before: EM 0, token F1 0 for the other copy)."""
    from trainlab.core.evaluation_report import build_evaluation_report
    from trainlab.data.text.encoding import encode_spans
    from trainlab.data.text.evidence import SpanReport
    from trainlab.data.text.examples import evidence_examples
    from trainlab.data.text.readers import Annotation
    from trainlab.metrics.span import SpanMetrics

    post = f"{EVIDENCE} {FILLER}{EVIDENCE} The end."
    row = Annotation("p1", "p1_s1", EVIDENCE, "SLEEP_ISSUES", 1)
    examples = evidence_examples({"p1": post}, [row], SpanReport())
    second = post.index(EVIDENCE, 1)
    assert examples[0].char_span == (0, len(EVIDENCE))
    assert examples[0].alternatives == ((second, second + len(EVIDENCE)),)
    # whole post, windows: the evaluation report
    windows = encode_windows(tokenizer, examples, max_length=24, overlap=10)
    gold, (other,) = windows.gold[0], windows.alternatives[0]
    assert other[0] > gold[1]
    last = len(windows.example_of) - 1
    shift = windows.post_token_start[last] - windows.context_start[last]
    scores = []
    for pick in (other, (other[0], other[1] - 2), (gold[1] + 1, other[0] - 1)):
        outputs = window_outputs(windows, {last: (pick[0] - shift, pick[1] - shift, 5.0)})
        report = build_evaluation_report([merge_windows(outputs, windows)], None)["evidence"]
        scores.append((report["exact_match"], round(report["token_f1"], 4)))
    n = other[1] - other[0] + 1
    # the other copy; a part of it; the filler between the copies (no copy at all)
    assert scores == [(1.0, 1.0), (0.0, round(2 * (n - 2) / (2 * n - 2), 4)), (0.0, 0.0)]
    # one truncated sequence (training, val/test metrics of the run)
    tensors, _ = encode_spans(tokenizer, examples, SpanReport(), max_length=64)
    metric = SpanMetrics()
    y = {k: tensors[k] for k in ("alt_start_positions", "alt_end_positions")}
    alt = (y["alt_start_positions"], y["alt_end_positions"])
    metric.update(
        alt[0][:, 0], alt[1][:, 0], tensors["start_positions"], tensors["end_positions"], alt
    )
    assert {k: float(v) for k, v in metric.compute().items()} == {"em": 1.0, "token_f1": 1.0}
