import json

import pytest

from trainlab.data.text.splits import check_no_leakage, load_or_create_splits, split_post_ids
from trainlab.errors import ConfigError, DataError

IDS = [f"p{i:03d}" for i in range(200)]


def test_ratios_seed_and_order_independence():
    splits = split_post_ids(IDS, seed=3)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [140, 30, 30]
    assert split_post_ids(list(reversed(IDS)), seed=3) == splits
    assert split_post_ids(IDS, seed=4) != splits


def test_every_post_in_exactly_one_split():
    splits = split_post_ids(IDS + IDS[:50], seed=0)  # repeated ids = several rows per post
    flat = [p for part in splits.values() for p in part]
    assert sorted(flat) == sorted(IDS)
    check_no_leakage(splits)


def test_leak_is_detected():
    with pytest.raises(DataError, match="'p1' is in both 'train' and 'test'"):
        check_no_leakage({"train": ["p1", "p2"], "val": ["p3"], "test": ["p1"]})


def test_bad_ratios_are_a_config_error():
    with pytest.raises(ConfigError, match="summing to 1"):
        split_post_ids(IDS, seed=0, ratios=(0.5, 0.2, 0.2))


def test_written_once_and_reused(tmp_path):
    first = load_or_create_splits(tmp_path, IDS, seed=1)
    stored = json.loads((tmp_path / "splits.json").read_text())
    assert stored["seed"] == 1 and stored["train"] == first["train"]
    # Hand-edit the file: the stored split wins over recomputation.
    stored["train"], stored["val"] = stored["val"], stored["train"]
    (tmp_path / "splits.json").write_text(json.dumps(stored))
    again = load_or_create_splits(tmp_path, IDS, seed=1)
    assert again["train"] == first["val"]


def test_stored_split_must_match_config_and_data(tmp_path):
    load_or_create_splits(tmp_path, IDS, seed=1)
    with pytest.raises(ConfigError, match="made with seed=1"):
        load_or_create_splits(tmp_path, IDS, seed=2)
    with pytest.raises(DataError, match="1 post\\(s\\) not in any split"):
        load_or_create_splits(tmp_path, [*IDS, "new"], seed=1)


def test_posts_of_the_same_text_share_a_split_and_the_rest_split_as_before():
    ids = [f"p{i:03d}" for i in range(60)]
    texts = {pid: f"post number {pid}" for pid in ids}
    assert split_post_ids(ids, seed=3, texts=texts) == split_post_ids(ids, seed=3)
    reposts = {"r1": "POST number  p007", "r2": "post number p007\n", "r3": "post number p042"}
    splits = split_post_ids([*ids, *reposts], seed=3, texts={**texts, **reposts})
    where = {pid: name for name, part in splits.items() for pid in part}
    assert where["r1"] == where["r2"] == where["p007"] and where["r3"] == where["p042"]
    plain = split_post_ids(ids, seed=3)
    assert {n: [p for p in part if p in texts] for n, part in splits.items()} == plain


def test_a_stored_split_that_separates_one_text_is_reported(tmp_path, caplog):
    ids = [f"p{i}" for i in range(10)]
    load_or_create_splits(tmp_path, ids, seed=0)  # made without texts
    stored = json.loads((tmp_path / "splits.json").read_text())
    a, b = stored["train"][0], stored["test"][0]
    texts = {pid: f"text {pid}" for pid in ids} | {b: f"Text  {a}"}
    with caplog.at_level("WARNING", logger="trainlab.data.text.splits"):
        load_or_create_splits(tmp_path, ids, seed=0, texts=texts)
    assert any(
        "1 text(s) in more than one split" in r.getMessage() and f"{a} (train)" in r.getMessage()
        for r in caplog.records
    ), caplog.text


def test_a_repost_that_an_export_changed_invisibly_shares_its_split():
    # the same post twice, once as the API gives it (&amp;, curly apostrophe, NFD accent,
    # a zero-width space), once as a reader sees it: one text, so never train and test
    ids = [f"p{i:03d}" for i in range(60)]
    texts = {pid: f"post number {pid}" for pid in ids}
    original = "I can't sleep & eat at the caf\u00e9. post p007"
    texts["p007"] = original
    texts["copy"] = "I can\u2019t sleep &amp; eat at the cafe\u0301.\u200b post p007"
    splits = split_post_ids([*ids, "copy"], seed=3, texts=texts)
    where = {pid: name for name, part in splits.items() for pid in part}
    assert where["copy"] == where["p007"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "holds a JSON list, not the object trainlab writes"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON \\(RecursionError"),
        ('{"seed": 1, "ratios": [0.7, 0.15, 0.15], "train": "p001", "val": [], "test": []}',
         "'train' must be a list of post ids \\(strings\\), got p001"),
        ('{"seed": 1, "ratios": [0.7, 0.15, 0.15], "train": [["p001"]], "val": [], "test": []}',
         "'train' must be a list of post ids"),
        ('{"seed": 1, "ratios": [0.7, 0.15, 0.15], "train": []}', "'val' must be a list"),
    ],
    ids=["list", "deep", "string_split", "nested_ids", "no_val"],
)  # fmt: skip
def test_a_splits_file_of_another_shape_is_refused_with_its_path(tmp_path, content, message):
    (tmp_path / "splits.json").write_text(content)
    with pytest.raises(DataError, match=message) as caught:
        load_or_create_splits(tmp_path, IDS, seed=1)
    assert "splits.json" in str(caught.value)
