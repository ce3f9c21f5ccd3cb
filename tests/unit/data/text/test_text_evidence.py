import pytest

from trainlab.data.text.encoding import encode_spans
from trainlab.data.text.evidence import SpanReport, char_span_to_tokens, locate_sentence
from trainlab.data.text.examples import SpanExample
from trainlab.text_assets import load_tokenizer, train_wordpiece_tokenizer

POST = "I work at a bakery. I can't sleep at night lately.  It rained all weekend."


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok") / "tiny"
    corpus = [POST, "insomnia or sleeping too much", "fatigue or loss of energy"] * 20
    return load_tokenizer(train_wordpiece_tokenizer(corpus, folder, vocab_size=300))


def test_locate_exact_then_case_then_whitespace():
    start, end, how = locate_sentence(POST, "I can't sleep at night lately.")
    assert (POST[start:end], how) == ("I can't sleep at night lately.", "exact")
    start, end, how = locate_sentence(POST, "i CAN'T sleep at night lately.")
    assert (POST[start:end], how) == ("I can't sleep at night lately.", "case_insensitive")
    start, end, how = locate_sentence(POST, "lately.\nIt rained")
    assert (POST[start:end], how) == ("lately.  It rained", "whitespace_insensitive")
    assert locate_sentence(POST, "Not in the post.") is None


def test_char_span_maps_to_tokens_inside_the_context(tokenizer):
    sentence = "I can't sleep at night lately."
    start, end, _ = locate_sentence(POST, sentence)
    enc = tokenizer("insomnia or sleeping too much", POST, return_offsets_mapping=True)
    tok = char_span_to_tokens(enc["offset_mapping"], enc.sequence_ids(), start, end)
    assert tok is not None
    ids = enc["input_ids"][tok[0] : tok[1] + 1]
    assert tokenizer.decode(ids) == tokenizer.decode(
        tokenizer(sentence, add_special_tokens=False)["input_ids"]
    )
    # the first token of the span is the sentence's first word, not something in the question
    assert enc.sequence_ids()[tok[0]] == 1


def test_offsets_of_identical_words_in_question_do_not_leak(tokenizer):
    # "sleep" is also in the question; the span must still point into the post
    enc = tokenizer("sleep", "sleep well", return_offsets_mapping=True)
    tok = char_span_to_tokens(enc["offset_mapping"], enc.sequence_ids(), 0, 5)
    assert enc.sequence_ids()[tok[0]] == 1


def test_truncation_that_cuts_the_span_is_reported(tokenizer):
    late = POST.index("It rained")
    examples = [
        SpanExample("keep", "p1", "SLEEP_ISSUES", POST, 1, (0, POST.index(".") + 1)),
        SpanExample("cut", "p1", "SLEEP_ISSUES", POST, 1, (late, len(POST))),
    ]
    report = SpanReport(total=2)
    tensors, kept = encode_spans(tokenizer, examples, report, max_length=16)
    assert [e.example_id for e in kept] == ["keep"]
    assert report.truncated == ["cut"] and report.mapped == 1
    assert report.as_dict()["truncated_examples"] == ["cut"]
    # joint keeps the example for its label, without a span target
    report = SpanReport(total=2)
    tensors, kept = encode_spans(tokenizer, examples, report, max_length=16, drop_cut_spans=False)
    assert tensors["span_mask"].tolist() == [True, False]
    assert report.truncated == ["cut"]


def test_partly_cut_span_is_also_reported(tokenizer):
    start = POST.index("I can't")
    ex = SpanExample("partial", "p1", "SLEEP_ISSUES", POST, 1, (start, start + 30))
    enc = tokenizer(
        "insomnia", POST, return_offsets_mapping=True, truncation="only_second", max_length=12
    )
    assert char_span_to_tokens(enc["offset_mapping"], enc.sequence_ids(), start, start + 30) is None
    report = SpanReport(total=1)
    with pytest.raises(Exception, match="every one of 1 evidence span"):
        encode_spans(tokenizer, [ex], report, max_length=12)
    assert report.truncated == ["partial"]


def test_span_targets_point_at_the_sentence(tokenizer):
    start, end, _ = locate_sentence(POST, "I can't sleep at night lately.")
    report = SpanReport(total=1)
    tensors, _ = encode_spans(
        tokenizer, [SpanExample("e", "p1", "SLEEP_ISSUES", POST, 1, (start, end))], report
    )
    s, e = tensors["start_positions"][0].item(), tensors["end_positions"][0].item()
    text = tokenizer.decode(tensors["input_ids"][0, s : e + 1])
    assert text.startswith("i can") and text.endswith("lately.")
    assert tensors["context_mask"][0, s : e + 1].all()
