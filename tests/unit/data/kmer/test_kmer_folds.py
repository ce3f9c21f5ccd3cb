"""Outer folds, inner splits and validation splits are disjoint, stratified, group-safe."""

import numpy as np
import pytest

from trainlab.data.kmer.folds import (
    check_disjoint,
    check_partition,
    kfold_splits,
    outer_folds,
    validation_split,
)
from trainlab.errors import ConfigError, DataError


def data(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    strata = rng.choice(["a", "b", "c", "rare"], size=n, p=[0.6, 0.25, 0.13, 0.02]).astype(object)
    strata[rng.random(n) < 0.05] = -1  # missing label: its own stratum
    groups = np.array([f"P{g}" for g in rng.integers(0, 25, size=n)], dtype=object)
    return strata, groups


@pytest.mark.parametrize("use_groups", [False, True], ids=["stratified", "group_disjoint"])
def test_nested_splits_are_disjoint(use_groups: bool) -> None:
    strata, groups = data()
    g = groups if use_groups else None
    folds = outer_folds(strata, n_folds=5, seed=1, groups=g)
    assert len(folds) == 5
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests.tolist()) == list(range(len(strata)))
    for train, test in folds:
        assert not set(train) & set(test)
        if use_groups:
            assert not set(groups[train]) & set(groups[test])
        inner = kfold_splits(train, strata, 3, seed=2, groups=g)
        inner_tests = np.concatenate([t for _, t in inner])
        assert sorted(inner_tests.tolist()) == sorted(train.tolist())  # never touches the test fold
        for inner_train, inner_val in inner:
            assert set(inner_train) | set(inner_val) <= set(train)
            if use_groups:
                assert not set(groups[inner_train]) & set(groups[inner_val])
        fit, val = validation_split(train, strata, 0.1, seed=3, groups=g)
        assert not set(fit) & set(val) and set(fit) | set(val) == set(train)
        if use_groups:
            assert not set(groups[fit]) & set(groups[val])


def test_stratification_keeps_class_shares() -> None:
    strata, _ = data(1000)
    for _, test in outer_folds(strata, 5, seed=0):
        share = np.mean(strata[test] == "a")
        assert abs(share - np.mean(strata == "a")) < 0.03
    _fit, val = validation_split(np.arange(1000), strata, 0.1, seed=0)
    assert len(val) == 100
    assert abs(np.mean(strata[val] == "a") - np.mean(strata == "a")) < 0.03


def test_seed_reproducible_and_changes() -> None:
    strata, groups = data()
    a = outer_folds(strata, 5, seed=7, groups=groups)
    b = outer_folds(strata, 5, seed=7, groups=groups)
    c = outer_folds(strata, 5, seed=8)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))


def test_checks_catch_leaks() -> None:
    with pytest.raises(DataError, match="both training and test"):
        check_disjoint(np.array([0, 1, 2]), np.array([2, 3]))
    groups = np.array(["A", "A", "B", "C"], dtype=object)
    with pytest.raises(DataError, match=r"Groups \['A'\]"):
        check_disjoint(np.array([0, 2]), np.array([1, 3]), groups)
    with pytest.raises(DataError, match="partition"):
        check_partition([(np.array([0]), np.array([1]))], np.arange(3))


def test_bad_settings() -> None:
    strata, _groups = data(30)
    with pytest.raises(ConfigError, match="at least 2"):
        outer_folds(strata, 1)
    with pytest.raises(ConfigError, match="groups"):
        outer_folds(strata, 5, groups=np.array(["A", "B", "C"] * 10, dtype=object))
    with pytest.raises(ConfigError, match=r"\(0, 1\)"):
        validation_split(np.arange(30), strata, 1.5)


def test_group_validation_split_keeps_the_asked_share_with_one_large_project(caplog) -> None:
    # project sizes of a real study: Zipf-like, the largest 777 of 3,040 samples. The first
    # group fold was that project: a "10 %" validation split held 25.6 % of the rows.
    sizes = 3070 / np.arange(1, 61) ** 1.1
    sizes = np.maximum(1, (sizes / sizes.sum() * 3070).astype(int))
    groups = np.repeat(np.arange(len(sizes)), sizes).astype(str).astype(object)
    strata = np.random.default_rng(0).integers(0, 5, len(groups))
    rows = np.arange(len(groups))
    for seed in range(3):
        fit, val = validation_split(rows, strata, 0.1, seed, groups)
        assert 0.05 <= len(val) / len(rows) <= 0.15, seed
        assert not set(groups[fit]) & set(groups[val])
    # when no part comes close (three groups for a 10 % split), the share is said
    few = np.repeat(["A", "B", "C"], 40).astype(object)
    with caplog.at_level("WARNING"):
        validation_split(np.arange(120), np.zeros(120), 0.1, 0, few)
    assert "instead of 10.0%" in caplog.text


def test_outer_folds_made_unequal_by_a_large_group_are_reported(caplog) -> None:
    groups = np.array(["A"] * 80 + ["B"] * 5 + ["C"] * 5 + ["D"] * 5 + ["E"] * 5, dtype=object)
    strata = np.random.default_rng(4).integers(0, 2, 100)
    with caplog.at_level("WARNING"):
        folds = outer_folds(strata, 5, seed=42, groups=groups)
    assert sorted(len(test) for _, test in folds) == [5, 5, 5, 5, 80]
    assert "the fold with 80 test rows was trained on 20" in caplog.text
    caplog.clear()
    strata, groups = data()  # 25 groups of similar size: nothing to say
    with caplog.at_level("WARNING"):
        outer_folds(strata, 5, seed=1, groups=groups)
    assert "outer folds" not in caplog.text


def test_classes_a_fold_never_trained_on_are_named() -> None:
    """A rare class kept in one project lands wholly in one outer test part: that fold's model
    never saw it. Before, nothing said so; its zero recall read like a modelling result."""
    from trainlab.data.kmer.folds import classes_unseen_in_training

    groups = np.array([f"P{i % 10}" for i in range(100)], dtype=object)
    task = np.where(groups == "P3", 2, np.arange(100) % 2)  # class 2 only in project P3
    task[:4] = -1  # missing labels are no class
    y = np.stack([task, np.arange(100) % 2], axis=1)
    tasks = {"material": ["gut", "soil", "rare"], "host": ["human", "mouse"]}
    folds = outer_folds(task, 5, seed=0, groups=groups)
    found = classes_unseen_in_training(folds, y, tasks)
    holding = [k for k, (_, test) in enumerate(folds) if (task[test] == 2).any()]
    assert found == [
        f"fold {holding[0]}, task material: rare (9 test sample(s))"
    ]  # P3 minus row 3 (missing)
    strata, groups = data()  # no class confined to a group: nothing to name
    names = ["a", "b", "c", "rare"]
    codes = np.array([names.index(s) if s in names else -1 for s in strata])
    folds = outer_folds(strata, 5, seed=1, groups=groups)
    seen_everywhere = classes_unseen_in_training(folds, codes[:, None], {"t": names})
    assert all("rare" in entry for entry in seen_everywhere)  # only the 2 % class can miss
