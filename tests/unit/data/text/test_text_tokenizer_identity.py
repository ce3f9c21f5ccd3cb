"""Eval and predict read text into the token ids the checkpoint was trained with.

Before: the tiny tokenizer was cached in data_dir/tokenizer-tiny-<vocab> once and reused for any
later data, and a checkpoint's eval or predict took whatever tokenizer was there: after the data
changed (or the folder was rebuilt), a model read token ids that meant other words, silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from trainlab.data.text.tasks import TextCriteriaDataModule
from trainlab.errors import DataError


def _module(folder: Path) -> TextCriteriaDataModule:
    return TextCriteriaDataModule(
        str(folder), synthetic=True, synthetic_posts=60, tiny_vocab_size=300
    )


def test_other_training_texts_get_their_own_tiny_tokenizer_and_a_checkpoint_keeps_its_own(
    tmp_path: Path,
) -> None:
    data = tmp_path / "text"
    first = _module(data)
    first.prepare_data()
    first.setup("fit")
    spec = first.spec()
    assert spec["tokenizer_folder"].startswith("tokenizer-tiny-300-")
    assert (data / spec["tokenizer_folder"] / "tokenizer.json").is_file()

    # the researcher edits the posts (here: every post gains a new word): a new tokenizer
    posts = pd.read_csv(data / "posts.csv")
    posts["text"] = posts["text"] + " zyxwvut"
    posts.to_csv(data / "posts.csv", index=False)
    second = _module(data)
    second.setup("fit")
    assert second.spec()["tokenizer_folder"] != spec["tokenizer_folder"]
    assert second.spec()["tokenizer_digest"] != spec["tokenizer_digest"]

    # the first checkpoint's eval still reads with its own tokenizer
    restored = _module(data)
    restored.use_trained_spec(spec)
    restored.setup("test")
    assert restored.spec()["tokenizer_digest"] == spec["tokenizer_digest"]

    # and stops, naming the folder, when that tokenizer is gone
    shutil.rmtree(data / spec["tokenizer_folder"])
    gone = _module(data)
    gone.use_trained_spec(spec)
    with pytest.raises(DataError, match=spec["tokenizer_folder"] + " is missing"):
        gone.setup("test")


def test_a_tokenizer_of_other_ids_is_refused(tmp_path: Path) -> None:
    dm = _module(tmp_path / "text")
    dm.prepare_data()
    dm.setup("fit")
    spec = {**dm.spec(), "tokenizer_digest": "0" * 16}  # trained with another vocabulary
    other = _module(tmp_path / "text")
    other.use_trained_spec(spec)
    with pytest.raises(DataError, match="not the one the checkpoint was trained with"):
        other.setup("test")
