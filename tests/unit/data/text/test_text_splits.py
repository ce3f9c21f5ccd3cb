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
