import unicodedata

import pytest

from trainlab.data.text.encoding import encode_spans
from trainlab.data.text.evidence import SpanReport, char_span_to_tokens, locate_sentence
from trainlab.data.text.examples import SpanExample, evidence_examples, joint_examples
from trainlab.data.text.readers import Annotation
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


# Real exports: the posts file and the annotators' sentences differ in ways nobody sees.
NFC_CAFE = unicodedata.normalize("NFC", "caf\u00e9")
NFD_CAFE = unicodedata.normalize("NFD", NFC_CAFE)


@pytest.mark.parametrize(
    ("evidence", "sentence"),
    [
        # NFD accents in the post, NFC in the sentence
        (f"I cry at the {NFD_CAFE} daily.", f"I cry at the {NFC_CAFE} daily."),
        # curly apostrophe in the post, straight in the sentence; curly quotes the other way
        ("I can\u2019t sleep at all.", "I can't sleep at all."),
        ('He said "you are worthless" to me.', "He said \u201cyou are worthless\u201d to me."),
        # Reddit's HTML entities in the post only, then in the sentence only
        ("Food &amp; sleep are gone &gt;.&lt;", "Food & sleep are gone >.<"),
        ("Food & sleep are gone.", "Food &amp; sleep are gone."),
        # a zero-width space inside a word; ellipsis and dash characters
        ("I feel em\u200bpty inside.", "I feel empty inside."),
        ("I am sad\u2026 so sad \u2014 really.", "I am sad... so sad - really."),
    ],
)
def test_sentence_is_found_across_export_differences(evidence, sentence):
    post = f"Hi. {evidence} Bye."
    start, end, how = locate_sentence(post, sentence)
    # the span is the post's own characters of the sentence, whole
    assert (post[start:end], how) == (evidence, "normalised")


def test_a_sentence_of_invisible_characters_is_not_found():
    # it would match exactly, and then map onto no token at all
    assert locate_sentence("Hi.\u200b\u200b Bye.", "\u200b\u200b") is None


def test_repeated_sentence_gets_the_occurrence_of_its_sentence_id():
    post = "I am tired. I went out. I am tired. Bye."
    rows = [
        Annotation("p", "p_s1", "I am tired.", "FATIGUE", 0),
        Annotation("p", "p_s10", "Bye.", "FATIGUE", 0),
        Annotation("p", "p_s3", "I am tired.", "FATIGUE", 1),
    ]
    report = SpanReport()
    (example,) = evidence_examples({"p": post}, rows, report)
    # the positive is the second "I am tired." (sentence 3), not the first (sentence 1, status 0)
    assert example.char_span == (24, 35)
    assert report.repeated == [example.example_id]
    (joint,) = joint_examples({"p": post}, rows, SpanReport())
    assert joint.char_span == (24, 35)


def test_joint_keeps_a_positive_whose_sentence_is_not_found(tokenizer):
    rows = [
        Annotation("p", "p_s1", "Not in the post at all.", "SLEEP_ISSUES", 1),
        Annotation("p", "p_s2", "It rained all weekend.", "FATIGUE", 0),
    ]
    report = SpanReport()
    examples = joint_examples({"p": POST}, rows, report)
    # the label stays (dropping it would tilt the classes); only the span target is missing
    assert [(e.criterion, e.label, e.char_span) for e in examples] == [
        ("SLEEP_ISSUES", 1, None),
        ("FATIGUE", 0, None),
    ]
    assert report.not_found == ["p:SLEEP_ISSUES:p_s1"]
    tensors, _ = encode_spans(tokenizer, examples, report, drop_cut_spans=False)
    assert tensors["labels"].tolist() == [1, 0] and tensors["span_mask"].tolist() == [False] * 2
