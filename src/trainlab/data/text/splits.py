"""Post-grouped train/val/test splits, written once next to the data and reused.

Every sentence of a post lands in the same split as the post, so no text of a validation or test
post is ever seen in training.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping
from pathlib import Path

from trainlab.data.text.normalise import fold
from trainlab.errors import ConfigError, DataError
from trainlab.io import atomic_write_text

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
SPLITS_FILE = "splits.json"


def same_text_groups(ids: list[str], texts: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Post ids grouped by text, keyed by the first id. Case, runs of white space and what
    an export changes without a reader seeing it (HTML entities, NFC/NFD accents, curly
    quotes, invisible characters; see ``normalise.fold``) are ignored.

    Reposts and copied posts under new ids are one text: split apart, the model is tested on
    what it trained on. Without ``texts`` every id is its own group.
    """
    if texts is None:
        return {pid: [pid] for pid in ids}
    first: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for pid in ids:
        key = fold(texts[pid])
        groups.setdefault(first.setdefault(key, pid), []).append(pid)
    return groups


def split_post_ids(
    post_ids: Iterable[str],
    *,
    seed: int,
    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15),
    texts: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Shuffle unique post ids with `seed` and cut them into train/val/test by `ratios`.

    The result does not depend on the order of `post_ids` (they are sorted first). With
    ``texts``, posts of the same text are shuffled and cut as one (``same_text_groups``); when
    no two texts are the same, the split is the one without ``texts``.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError(
            f"data.split_ratios={list(ratios)} must be three non-negative numbers summing to 1, "
            "e.g. [0.7, 0.15, 0.15]."
        )
    ids = sorted(set(post_ids))
    groups = same_text_groups(ids, texts)
    firsts = sorted(groups)
    if len(firsts) < 3:
        raise DataError(
            f"need at least 3 posts of distinct text to split into train/val/test, got "
            f"{len(firsts)}."
        )
    copies = len(ids) - len(firsts)
    if copies:
        log.warning(
            "%d post(s) repeat the text of another post (case, white space, HTML entities, "
            "accent forms and quote styles ignored): each goes to the split of the first, so "
            "no text is both trained and tested on",
            copies,
        )
    random.Random(seed).shuffle(firsts)
    n_val = max(1, round(ratios[1] * len(firsts))) if ratios[1] > 0 else 0
    n_test = max(1, round(ratios[2] * len(firsts))) if ratios[2] > 0 else 0
    n_train = len(firsts) - n_val - n_test
    cuts = {
        "train": firsts[:n_train],
        "val": firsts[n_train : n_train + n_val],
        "test": firsts[n_train + n_val :],
    }
    return {name: sorted(pid for f in part for pid in groups[f]) for name, part in cuts.items()}


def warn_shared_texts(path: Path, splits: dict[str, list[str]], texts: Mapping[str, str]) -> None:
    """Warn when a stored split puts posts of the same text in different splits."""
    where = {pid: name for name in SPLIT_NAMES for pid in splits.get(name, [])}
    ids = sorted(pid for pid in where if pid in texts)
    shared = [
        members
        for members in same_text_groups(ids, texts).values()
        if len({where[pid] for pid in members}) > 1
    ]
    if shared:
        example = ", ".join(f"{pid} ({where[pid]})" for pid in shared[0])
        log.warning(
            "%s puts %d text(s) in more than one split (e.g. posts %s have the same text): "
            "test figures are optimistic. Delete the file to re-split with copies kept together",
            path,
            len(shared),
            example,
        )


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
    texts: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Return the splits stored in `data_dir/filename`, creating the file on first use.

    ``texts`` (post id -> text) keeps posts of the same text in one split when the file is
    made, and warns when a stored file separates them.

    Raises:
        ConfigError: the stored file was made with another seed or other ratios.
        DataError: the stored file does not cover the current posts, or leaks.
    """
    path = Path(data_dir) / filename
    ids = set(post_ids)
    ratios = tuple(float(r) for r in ratios)
    if path.is_file():
        stored = _read_stored(path)
        if stored.get("seed") != seed or tuple(stored.get("ratios", ())) != ratios:
            raise ConfigError(
                f"{path} was made with seed={stored.get('seed')} ratios={stored.get('ratios')}, "
                f"but the config asks for seed={seed} ratios={list(ratios)}. Delete the file to "
                "re-split, or set data.split_seed/data.split_ratios to the stored values."
            )
        splits = {name: stored[name] for name in SPLIT_NAMES}
        check_no_leakage(splits)
        covered = set().union(*map(set, splits.values()))
        if covered != ids:
            missing, extra = sorted(ids - covered), sorted(covered - ids)
            raise DataError(
                f"{path} does not match the posts: {len(missing)} post(s) not in any split "
                f"(e.g. {missing[:5]}), {len(extra)} split post(s) not in the data (e.g. "
                f"{extra[:5]}). Delete the file to re-split for the current data."
            )
        if texts is not None:
            warn_shared_texts(path, splits, texts)
        return splits
    splits = split_post_ids(ids, seed=seed, ratios=ratios, texts=texts)
    check_no_leakage(splits)
    payload = {"seed": seed, "ratios": list(ratios), **splits}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
    return splits


def _read_stored(path: Path) -> dict:
    """The stored splits file: an object with a list of post ids (strings) per split.

    A file of another shape (a JSON list, a split given as one string, arrays nested 100,000
    deep) ended in an AttributeError or RecursionError traceback, or read a string as its
    letters.
    """
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, RecursionError) as err:
        raise DataError(
            f"{path}: not valid JSON ({type(err).__name__}: {str(err)[:200]}). Delete it to "
            "make a new split."
        ) from None
    if not isinstance(stored, dict):
        raise DataError(
            f"{path}: holds a JSON {type(stored).__name__}, not the object trainlab writes "
            f"(seed, ratios, {', '.join(SPLIT_NAMES)}). Delete it to make a new split."
        )
    for name in SPLIT_NAMES:
        ids = stored.get(name)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(
                f"{path}: {name!r} must be a list of post ids (strings), got "
                f"{str(ids)[:80]}. Delete the file to make a new split."
            )
    return stored
