"""Post-grouped train/val/test splits, written once next to the data and reused.

Every sentence of a post lands in the same split as the post, so no text of a validation or test
post is ever seen in training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

from trainlab.errors import ConfigError, DataError
from trainlab.io import atomic_write_text

SPLIT_NAMES = ("train", "val", "test")
SPLITS_FILE = "splits.json"


def split_post_ids(
    post_ids: Iterable[str], *, seed: int, ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> dict[str, list[str]]:
    """Shuffle unique post ids with `seed` and cut them into train/val/test by `ratios`.

    The result does not depend on the order of `post_ids` (they are sorted first).
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError(
            f"data.split_ratios={list(ratios)} must be three non-negative numbers summing to 1, "
            "e.g. [0.7, 0.15, 0.15]."
        )
    ids = sorted(set(post_ids))
    if len(ids) < 3:
        raise DataError(f"need at least 3 posts to split into train/val/test, got {len(ids)}.")
    random.Random(seed).shuffle(ids)
    n_val = max(1, round(ratios[1] * len(ids))) if ratios[1] > 0 else 0
    n_test = max(1, round(ratios[2] * len(ids))) if ratios[2] > 0 else 0
    n_train = len(ids) - n_val - n_test
    return {
        "train": sorted(ids[:n_train]),
        "val": sorted(ids[n_train : n_train + n_val]),
        "test": sorted(ids[n_train + n_val :]),
    }


def check_no_leakage(splits: dict[str, list[str]]) -> None:
    """Raise DataError when one post id is in two splits."""
    seen: dict[str, str] = {}
    for name in SPLIT_NAMES:
        for post_id in splits.get(name, []):
            if post_id in seen:
                raise DataError(
                    f"post_id {post_id!r} is in both {seen[post_id]!r} and {name!r}: the split "
                    "leaks. Delete the splits file to make a new one."
                )
            seen[post_id] = name


def load_or_create_splits(
    data_dir: str | Path,
    post_ids: Iterable[str],
    *,
    seed: int,
    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15),
    filename: str = SPLITS_FILE,
) -> dict[str, list[str]]:
    """Return the splits stored in `data_dir/filename`, creating the file on first use.

    Raises:
        ConfigError: the stored file was made with another seed or other ratios.
        DataError: the stored file does not cover the current posts, or leaks.
    """
    path = Path(data_dir) / filename
    ids = set(post_ids)
    ratios = tuple(float(r) for r in ratios)
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}: not valid JSON ({err}). Delete it to make a new split."
            ) from err
        if stored.get("seed") != seed or tuple(stored.get("ratios", ())) != ratios:
            raise ConfigError(
                f"{path} was made with seed={stored.get('seed')} ratios={stored.get('ratios')}, "
                f"but the config asks for seed={seed} ratios={list(ratios)}. Delete the file to "
                "re-split, or set data.split_seed/data.split_ratios to the stored values."
            )
        splits = {name: list(stored[name]) for name in SPLIT_NAMES}
        check_no_leakage(splits)
        covered = set().union(*map(set, splits.values()))
        if covered != ids:
            missing, extra = sorted(ids - covered), sorted(covered - ids)
            raise DataError(
                f"{path} does not match the posts: {len(missing)} post(s) not in any split "
                f"(e.g. {missing[:5]}), {len(extra)} split post(s) not in the data (e.g. "
                f"{extra[:5]}). Delete the file to re-split for the current data."
            )
        return splits
    splits = split_post_ids(ids, seed=seed, ratios=ratios)
    check_no_leakage(splits)
    payload = {"seed": seed, "ratios": list(ratios), **splits}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
    return splits
