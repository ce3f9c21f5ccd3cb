"""`trainlab eval` on a text checkpoint writes evaluation_report.json with the full metrics."""

import json

import pytest
from text_runs import TINY, compose_config

from trainlab.core.evaluate import evaluate
from trainlab.core.train import train
from trainlab.errors import DataError

CLASSIFICATION_KEYS = {
    "accuracy",
    "f1_macro",
    "f1_micro",
    "precision_macro",
    "recall_macro",
    "auroc",
    "confusion_matrix",
    "classification_report",
}


@pytest.mark.parametrize("experiment", ["text/criteria", "text/joint", "text/evidence"])
def test_eval_writes_the_evaluation_report(tmp_path, experiment, caplog):
    # joint: posts longer than max_length, so the report reads them in windows
    short = ["data.max_length=64"] if experiment == "text/joint" else []
    train(compose_config("train", [f"experiment={experiment}", *TINY, *short], tmp_path / "t"), [])
    ckpt = tmp_path / "t" / "run" / "checkpoints" / "best.ckpt"
    cfg = compose_config("eval", [f"ckpt_path={ckpt}"], tmp_path / "e")
    metrics = evaluate(cfg)
    report = json.loads((tmp_path / "e" / "run" / "evaluation_report.json").read_text())
    assert report["split"] == "test" and report["ckpt_path"] == str(ckpt)
    if experiment != "text/evidence":
        assert report.keys() >= CLASSIFICATION_KEYS
        matrix = report["confusion_matrix"]
        assert len(matrix) == 2 and sum(map(sum, matrix)) == report["n"]
        assert report["classification_report"]["present"]["support"] == sum(matrix[1])
    if experiment == "text/criteria":
        # the report agrees with the test metrics Lightning logged
        assert report["f1_macro"] == pytest.approx(metrics["test/f1_macro"], abs=1e-5)
        check_criteria_predictions(tmp_path, ckpt, caplog)
    if experiment != "text/evidence":
        check_by_criterion(report)
    if experiment == "text/joint":
        check_long_posts_are_evaluated_whole(report, ckpt)
    if experiment == "text/evidence":
        # every test post fits in max_length: the report agrees with Lightning's test metrics
        assert report["windows"]["examples_longer_than_max_length"] == 0
        assert report["evidence"]["token_f1"] == pytest.approx(metrics["test/token_f1"], abs=1e-5)
    if experiment != "text/criteria":
        evidence = report["evidence"]
        assert evidence["n"] > 0 and 0 <= evidence["exact_match"] <= evidence["token_f1"] <= 1
        # the span baselines beside the model's token F1, on the same test rows
        baselines = report["baselines"]
        assert baselines["model"]["test/token_f1"] == pytest.approx(metrics["test/token_f1"])
        if experiment == "text/evidence":
            assert baselines["n_test"] == evidence["n"]
        for name in ("majority", "logistic_regression"):
            assert 0 <= baselines["scores"][name]["test/token_f1"] <= 1
        # and on the report's own inputs, whole posts in windows (before: none beside them)
        whole = report["evidence_baselines"]
        assert whole["n_test"] == evidence["n"]
        assert whole["model"] == {k: evidence[k] for k in ("exact_match", "token_f1")}
        assert "whole posts" in whole["inputs"] and "one sequence" in baselines["inputs"]
        for name in ("majority", "logistic_regression"):
            assert 0 <= whole["scores"][name]["exact_match"] <= 1


def check_by_criterion(report):
    """Metrics per criterion cover every scored row; a criterion without positives in the
    test split has its F1 macro, recall and AUROC undefined (None), never 0 or 1."""
    by = report["by_criterion"]
    assert sum(c["n"] for c in by.values()) == report["n"]
    assert sum(c["confusion_matrix"][1][1] for c in by.values()) == report["confusion_matrix"][1][1]
    for scores in by.values():
        rows = [sum(row) for row in scores["confusion_matrix"]]
        if rows[1] == 0:
            assert "class 'present' has no rows" in scores["undefined"]["recall_macro"]
        one_class = 0 in rows  # a criterion whose rows in this split are all absent (or present)
        assert (scores["recall_macro"] is None) == one_class
        assert (scores["auroc"] is None) == one_class


def check_long_posts_are_evaluated_whole(report, ckpt):
    """Evidence past max_length counts in the report (before: only the truncated rows did)."""
    spans = __import__("torch").load(ckpt, weights_only=True)["trainlab"]["spec"]["span_reports"]
    test = spans["test"]
    assert test["truncated"] > 0  # the probe needs spans that training's truncation cuts
    windows = report["windows"]
    assert windows["max_length"] == 64 and windows["window_overlap"] == 16
    assert 0 < windows["examples_longer_than_max_length"] <= windows["examples"] == report["n"]
    assert windows["windows"] > windows["examples"]
    # every evidence span found in its test post is scored, the cut ones too
    assert report["evidence"]["n"] == test["total"] - test["not_found"] > test["mapped"]


def test_predict_writes_evidence_and_probabilities(tmp_path, caplog):
    from trainlab.core.predict import predict

    train(compose_config("train", ["experiment=text/joint", *TINY], tmp_path / "t"), [])
    ckpt = tmp_path / "t" / "run" / "checkpoints" / "best.ckpt"
    posts = tmp_path / "posts.csv"
    long = " ".join(["The bus was late again today."] * 80)
    posts.write_text(
        "post_id,text,DSM5_symptom\n"
        "a,I work at a bakery. I can't sleep at night lately.,sleep issues\n"
        "b,The bus was late again today.,\n"
        f"c,{long},FATIGUE\n"
    )
    cfg = compose_config("predict", [f"ckpt_path={ckpt}", f"input={posts}"], tmp_path / "p")
    with caplog.at_level("WARNING"):
        (written,) = predict(cfg)
    lines = written.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:5] == [
        "post_id",
        "DSM5_symptom",
        "evidence_start",
        "evidence_end",
        "evidence_text",
    ]
    assert header[5:] == ["predicted", "prob_present", "windows"]
    # post a: one named criterion; post b: every criterion the model was trained on; c: one
    spec = __import__("torch").load(ckpt, weights_only=True)["trainlab"]["spec"]
    assert len(lines) - 1 == 2 + len(spec["criteria"])
    rows = list(csv_rows(written))
    row = rows[0]
    # the symptom as the model was trained on it, not as spelled in the input
    assert row["DSM5_symptom"] == "SLEEP_ISSUES"
    text = "I work at a bakery. I can't sleep at night lately."
    assert text[int(row["evidence_start"]) : int(row["evidence_end"])] == row["evidence_text"]
    assert 0.0 <= float(row["prob_present"]) <= 1.0
    # a post longer than data.max_length is searched whole, in overlapping windows (before,
    # only its first max_length tokens): the count per row, and logged
    (long_row,) = [r for r in rows if r["post_id"] == "c"]
    assert int(long_row["windows"]) >= 3
    assert (
        long[int(long_row["evidence_start"]) : int(long_row["evidence_end"])]
        == (long_row["evidence_text"])
    )
    assert {r["windows"] for r in rows if r["post_id"] != "c"} == {"1"}
    assert "1 of 3 post(s) are longer than data.max_length=256 tokens; each is searched" in (
        caplog.text
    )
    # a sentences file is not a posts file: the error says which checkpoint reads it
    sentences = tmp_path / "sentences.csv"
    sentences.write_text("post_id,sentence_text,DSM5_symptom\na,I can't sleep.,SLEEP_ISSUES\n")
    cfg = compose_config("predict", [f"ckpt_path={ckpt}", f"input={sentences}"], tmp_path / "q")
    with pytest.raises(DataError, match="classify sentences with a text/criteria checkpoint"):
        predict(cfg)


def csv_rows(path):
    import csv

    with open(path) as handle:
        yield from csv.DictReader(handle)


def check_criteria_predictions(tmp_path, ckpt, caplog):
    from trainlab.core.predict import predict

    sentences = tmp_path / "sentences.csv"
    sentences.write_text(
        "sentence_id,DSM5_symptom,sentence_text\n"
        "s1,SLEEP_ISSUES,I can't sleep at night lately.\n"
        "s2,fatigue,The bus was late again today.\n"
        "s3,BOREDOM,The bus was late again today.\n"
    )
    cfg = compose_config("predict", [f"ckpt_path={ckpt}", f"input={sentences}"], tmp_path / "p")
    with caplog.at_level("WARNING"):
        (written,) = predict(cfg)
    rows = list(csv_rows(written))
    assert [r["sentence_id"] for r in rows] == ["s1", "s2", "s3"]
    # read with the trained symptom's description, whatever its spelling
    assert [r["DSM5_symptom"] for r in rows] == ["SLEEP_ISSUES", "FATIGUE", "BOREDOM"]
    assert "1 row(s) ask about criteria the model was not trained on: ['BOREDOM']" in caplog.text
    assert all(r["predicted"] in ("absent", "present") for r in rows)
    assert all(0.0 <= float(r["prob_present"]) <= 1.0 for r in rows)
    # an empty sentence has nothing to classify: it stops instead of getting a probability
    sentences.write_text("sentence_id,DSM5_symptom,sentence_text\ns1,FATIGUE, \n")
    with pytest.raises(DataError, match=r"sentences\.csv, line 2: sentence_text and"):
        predict(cfg)


def test_eval_refuses_a_new_split_whose_test_posts_were_trained_on(tmp_path):
    """splits.json deleted and made again with another seed (what its seed message suggests):
    the new test posts are mostly old training and validation posts, which eval used to score
    as unseen."""
    train(compose_config("train", ["experiment=text/criteria", *TINY], tmp_path / "t"), [])
    ckpt = tmp_path / "t" / "run" / "checkpoints" / "best.ckpt"
    splits = next((tmp_path / "t").rglob("splits.json"))
    old = json.loads(splits.read_text())
    splits.unlink()
    cfg = compose_config("eval", [f"ckpt_path={ckpt}", "+data.split_seed=7"], tmp_path / "e")
    with pytest.raises(DataError, match=r"test rows were (training|validation) rows of") as err:
        evaluate(cfg)
    new = json.loads(splits.read_text())
    trained = set(old["train"])
    assert new["seed"] == 7 and trained.intersection(new["test"])
    assert str(ckpt) in str(err.value)
