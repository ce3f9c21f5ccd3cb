"""The text DataModules on a messy-but-valid export: what real files look like, not the
generator's clean ones. Windows line endings, posts with paragraphs, curly apostrophes and
Reddit's `&amp;` in the posts but not in the annotated sentences, symptom names spelled several
ways, statuses spelled several ways."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest

from trainlab.data.text.generator import generate_text_dataset
from trainlab.data.text.tasks import TextCriteriaDataModule, TextJointDataModule
from trainlab.errors import DataError

SPELLINGS = {"DEPRESSED_MOOD": "Depressed Mood", "SLEEP_ISSUES": "sleep issues"}
STATUS = {"1": "present", "0": "0.0"}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def messy_export(folder: Path, n_posts: int = 40) -> list[dict[str, str]]:
    """The synthetic set rewritten as a real export would be; returns the clean annotations."""
    clean = folder.parent / f"{folder.name}-clean"
    generate_text_dataset(clean, n_posts=n_posts, seed=5)
    posts = list(csv.DictReader(io.StringIO((clean / "posts.csv").read_text("utf-8"))))
    rows = list(csv.DictReader(io.StringIO((clean / "annotations.csv").read_text("utf-8"))))
    folder.mkdir(parents=True)
    messy_posts = [
        [
            p["post_id"],
            p["text"]
            .replace("'", "\u2019")
            .replace(" and ", " &amp; ")
            .replace(". ", ".\r\n\r\n", 2),
        ]
        for p in posts
    ]
    _write(folder / "posts.csv", ["post_id", "text"], messy_posts)
    messy_rows = [
        [
            r["post_id"],
            r["sentence_id"],
            r["sentence_text"].replace(" and ", " & "),
            SPELLINGS.get(r["DSM5_symptom"], r["DSM5_symptom"]) if i % 2 else r["DSM5_symptom"],
            STATUS[r["status"]] if i % 3 == 0 else r["status"],
            r["explanation"],
        ]
        for i, r in enumerate(rows)
    ]
    header = ["post_id", "sentence_id", "sentence_text", "DSM5_symptom", "status", "explanation"]
    _write(folder / "annotations.csv", header, messy_rows)
    return rows


def test_joint_data_of_a_messy_export_loses_no_evidence_and_no_positive(tmp_path):
    clean = messy_export(tmp_path / "messy")
    dm = TextJointDataModule(str(tmp_path / "messy"), tiny_vocab_size=300, max_length=256)
    dm.prepare_data()
    dm.setup("fit")
    # one criterion per symptom, whatever its spelling
    assert dm.criteria == sorted({r["DSM5_symptom"] for r in clean})
    # every evidence sentence is found in its post, though the post has curly apostrophes,
    # &amp; and paragraphs the sentence does not
    for name, report in dm.span_reports.items():
        assert report["not_found"] == 0, (name, report)
        assert report["total"] > 0
    positives = {(r["post_id"], r["DSM5_symptom"]) for r in clean if r["status"] == "1"}
    labels = sum(int(dm.datasets[n].tensors["labels"].sum()) for n in dm.datasets)
    assert labels == len(positives)


def test_criteria_filter_and_names_without_a_description(tmp_path, caplog):
    messy_export(tmp_path / "messy")
    with open(tmp_path / "messy" / "annotations.csv", "a", encoding="utf-8", newline="") as f:
        f.write("synthetic-00001,x1,I am tired.,DEPRESED_MOOD,1,\r\n")
    dm = TextCriteriaDataModule(
        str(tmp_path / "messy"), tiny_vocab_size=300, criteria=["sleep issues", "Fatigue"]
    )
    dm.prepare_data()
    dm.setup("fit")
    assert dm.criteria == ["FATIGUE", "SLEEP_ISSUES"]
    dm = TextCriteriaDataModule(str(tmp_path / "messy"), tiny_vocab_size=300)
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    # a misspelt symptom is its own criterion, but not silently: its rows and name are logged
    assert "DEPRESED_MOOD (1 rows, read as 'depresed mood')" in caplog.text
    dm = TextCriteriaDataModule(str(tmp_path / "messy"), criteria=["SLEEP_ISSUES", "SLEEP"])
    with pytest.raises(DataError, match=r"data.criteria names \['SLEEP'\]"):
        dm.setup("fit")


def test_predict_input_that_is_missing_or_of_the_other_kind(tmp_path):
    dm = TextJointDataModule(str(tmp_path / "data"))
    spec = {"criteria": ["FATIGUE"]}
    with pytest.raises(
        DataError, match=r"input=.*nope.csv: file not found; give the CSV to predict on"
    ):
        dm.setup_predict(str(tmp_path / "nope.csv"), spec)
    sentences = tmp_path / "sentences.csv"
    sentences.write_text("\ufeffPost_ID,Sentence_Text,DSM5_symptom\r\np1,I am tired.,FATIGUE\r\n")
    with pytest.raises(DataError, match="classify sentences with a text/criteria checkpoint"):
        dm.setup_predict(str(sentences), spec)


def test_sentences_longer_than_max_length_are_counted(tmp_path, caplog):
    # before: cut to their first tokens without a word (criteria task and its predict input)
    generate_text_dataset(tmp_path, n_posts=30, seed=2)
    module = TextCriteriaDataModule(
        str(tmp_path), encoder="tiny", tiny_vocab_size=300, max_length=46, batch_size=8
    )
    module.prepare_data()
    with caplog.at_level(logging.WARNING):
        module.setup("fit")
    assert "train split: " in caplog.text and "sentence(s) have more tokens" in caplog.text
    assert "data.max_length=46; the model reads only their start" in caplog.text
    caplog.clear()
    module = TextCriteriaDataModule(
        str(tmp_path), encoder="tiny", tiny_vocab_size=300, max_length=128, batch_size=8
    )
    with caplog.at_level(logging.WARNING):
        module.setup("fit")
    assert "sentence(s) have more tokens" not in caplog.text


def test_a_post_without_text_to_search_stops_with_its_line(tmp_path):
    # before: not checked; the post was encoded and given an evidence span like any other
    posts = tmp_path / "posts.csv"
    posts.write_text("post_id,text\r\np1,I am tired.\r\np2,\u200b \r\n")
    dm = TextJointDataModule(str(tmp_path / "data"))
    with pytest.raises(DataError, match=r"posts.csv, line 3: the post's text is empty"):
        dm.setup_predict(str(posts), {"criteria": ["FATIGUE"]})
