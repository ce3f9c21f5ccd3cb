"""Fold logic of nested cross-validation: outer folds, inner splits, validation splits.

Every function returns global row indices and checks disjointness before returning, so a
leak between training and test rows (or groups, e.g. projects) stops the run instead of
inflating scores. Missing labels (-1) in the stratification column form their own stratum.
"""

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from trainlab.errors import ConfigError, DataError

Split = tuple[np.ndarray, np.ndarray]
log = logging.getLogger(__name__)


def outer_folds(
    strata: Sequence, n_folds: int, seed: int = 42, groups: Sequence | None = None
) -> list[Split]:
    """Stratified (group-disjoint when `groups` is given) k-fold over all rows.

    Warns when a group larger than a fold makes the test parts very unequal: the mean over
    folds then weighs a fold trained on a third of the rows like the others, which no report
    showed (a project of 80 of 100 rows, 5 folds: test parts of 5, 5, 80, 5 and 5 rows).
    """
    rows = np.arange(len(strata))
    splits = kfold_splits(rows, strata, n_folds, seed, groups)
    sizes = [len(test) for _, test in splits]
    if groups is not None and max(sizes) > 2 * len(rows) / n_folds:
        log.warning(
            "outer folds: test parts of %s rows for %d folds of %d rows: a group (e.g. a "
            "project) larger than a fold makes them unequal; the fold with %d test rows was "
            "trained on %d. Fewer folds or another group column give even folds.",
            sizes,
            n_folds,
            len(rows),
            max(sizes),
            len(rows) - max(sizes),
        )
    return splits


def classes_unseen_in_training(
    splits: list[Split], y: np.ndarray, tasks: dict[str, list[str]]
) -> list[str]:
    """Per fold and task, the classes its test part holds and its training part lacks.

    A class whose samples all sit in one group (a project) lands wholly in one outer test part:
    that fold's model never saw it and cannot predict it, so its recall there is 0 by
    construction, not by what the model learnt. Such folds used to be scored without a word
    (the nested-CV probe: 10 projects, 5 folds, a rare class in one project).
    """
    found = []
    for fold, (train, test) in enumerate(splits):
        for t, (task, classes) in enumerate(tasks.items()):
            seen = set(np.unique(y[train, t]).tolist())
            tested, counts = np.unique(y[test, t], return_counts=True)
            unseen = [
                f"{classes[int(c)]} ({int(n)} test sample(s))"
                for c, n in zip(tested, counts, strict=True)
                if c >= 0 and int(c) not in seen
            ]
            if unseen:
                found.append(f"fold {fold}, task {task}: {', '.join(unseen)}")
    return found


def kfold_splits(
    rows: np.ndarray,
    strata: Sequence,
    n_splits: int,
    seed: int = 42,
    groups: Sequence | None = None,
) -> list[Split]:
    """Stratified k-fold over `rows` (global indices into `strata` and `groups`).

    Returns:
        A list of (train_rows, test_rows); test parts partition `rows`.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    rows = np.asarray(rows)
    y = _codes(np.asarray(strata, dtype=object)[rows])
    g = None if groups is None else _codes(np.asarray(groups, dtype=object)[rows])
    _check_n_splits(n_splits, len(rows), g)
    with warnings.catch_warnings():
        # rare classes with fewer members than splits are expected with imbalanced tasks
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        if g is None:
            splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            parts = list(splitter.split(np.zeros(len(rows)), _merge_rare(y, n_splits)))
        else:
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            parts = list(splitter.split(np.zeros(len(rows)), y, g))
    splits = [(rows[train], rows[test]) for train, test in parts]
    check_partition(splits, rows, groups)
    return splits


def validation_split(
    rows: np.ndarray,
    strata: Sequence,
    fraction: float = 0.1,
    seed: int = 42,
    groups: Sequence | None = None,
) -> Split:
    """Stratified (group-disjoint when `groups` is given) train/validation split of `rows`."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}.")
    rows = np.asarray(rows)
    if groups is not None:
        n_splits = max(2, round(1.0 / fraction))
        n_groups = len(set(np.asarray(groups, dtype=object)[rows].tolist()))
        splits = kfold_splits(rows, strata, min(n_splits, n_groups), seed, groups)
        # the part closest to the asked size, not the first: with project sizes of a real
        # study (Zipf, largest 777 of 3,040 rows) the first part was that project, and "10 %"
        # validation was 25.6 % (the fits lost 16 % of their rows); the closest part is 9.0 %
        target = fraction * len(rows)
        train, val = min(splits, key=lambda split: abs(len(split[1]) - target))
        share = len(val) / len(rows)
        if not 0.5 * fraction <= share <= 1.5 * fraction:
            log.warning(
                "validation split: %d of %d rows (%.1f%%) instead of %.1f%%: groups cannot be "
                "split, and these %d groups give no closer part",
                len(val),
                len(rows),
                100 * share,
                100 * fraction,
                n_groups,
            )
        return train, val
    from sklearn.model_selection import train_test_split

    n_val = max(1, round(fraction * len(rows)))
    if n_val >= len(rows):
        raise DataError(f"Cannot hold out a validation split from {len(rows)} rows.")
    y = _codes(np.asarray(strata, dtype=object)[rows])
    stratify = _merge_rare(y, 2)
    n_strata = len(np.unique(stratify))
    if n_strata > n_val or n_strata > len(rows) - n_val or np.bincount(stratify).min() < 2:
        stratify = None  # too few rows to hold every stratum on both sides
    train, val = train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)
    split = (np.sort(train), np.sort(val))
    check_disjoint(*split)
    return split


def check_disjoint(train: np.ndarray, test: np.ndarray, groups: Sequence | None = None) -> None:
    """Raise DataError when rows, or groups when given, appear on both sides."""
    shared = np.intersect1d(train, test)
    if shared.size:
        raise DataError(f"Rows {shared[:5].tolist()} are in both training and test parts.")
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        both = set(g[train].tolist()) & set(g[test].tolist())
        if both:
            raise DataError(f"Groups {sorted(map(str, both))[:5]} are in both parts.")


def check_partition(splits: list[Split], rows: np.ndarray, groups: Sequence | None = None) -> None:
    """Check that test parts partition `rows` and each split is disjoint."""
    tests = np.concatenate([test for _, test in splits])
    if len(tests) != len(rows) or not np.array_equal(np.sort(tests), np.sort(rows)):
        raise DataError("Test folds do not partition the rows exactly once each.")
    for train, test in splits:
        if len(train) + len(test) != len(rows):
            raise DataError("A fold's training and test parts do not cover its rows.")
        check_disjoint(train, test, groups)


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray([str(v) for v in values]), return_inverse=True)[1]


def _merge_rare(y: np.ndarray, min_count: int) -> np.ndarray:
    """Pool strata smaller than `min_count` so sklearn can stratify the rest."""
    labels, counts = np.unique(y, return_counts=True)
    rare = labels[counts < min_count]
    if rare.size in (0, len(labels)):
        return y
    merged = y.copy()
    merged[np.isin(y, rare)] = y.max() + 1
    return merged


def _check_n_splits(n_splits: int, n_rows: int, groups: np.ndarray | None) -> None:
    if n_splits < 2:
        raise ConfigError(f"n_folds / n_inner_splits must be at least 2, got {n_splits}.")
    if n_splits > n_rows:
        raise ConfigError(f"Cannot make {n_splits} folds from {n_rows} samples; lower it.")
    if groups is not None and len(np.unique(groups)) < n_splits:
        raise ConfigError(
            f"Group-disjoint folds need at least {n_splits} groups, got "
            f"{len(np.unique(groups))}. Lower n_folds or unset the group column."
        )
