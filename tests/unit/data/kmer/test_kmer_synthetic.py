"""The synthetic generator writes a complete, realistic data set our readers accept."""

from pathlib import Path

import numpy as np

from trainlab.data.kmer.dataset import load_kmer_dataset
from trainlab.data.kmer.fof import read_fof
from trainlab.data.kmer.synthetic import generate_kmer_dataset


def test_default_layout_sizes_and_tasks(tmp_path: Path) -> None:
    paths = generate_kmer_dataset(tmp_path / "kmer")
    assert paths["fof"] == tmp_path / "kmer" / "kmer_matrix" / "kmtricks.fof"
    assert "SYNTHETIC" in (tmp_path / "kmer" / "README.md").read_text()
    first = paths["matrix"].read_text().split("\n", 1)[0].split(" ")
    assert first[0] == "0" and len(first) == 601  # unitig id + one column per sample

    ds = load_kmer_dataset(paths["matrix"], paths["metadata"], group_column="project")
    assert ds.x.shape == (600, 2000)
    assert float(np.min(ds.x)) >= 0.0 and float(np.max(ds.x)) <= 1.0
    assert 0.1 < float(np.mean(np.asarray(ds.x) == 0)) < 0.9  # sparse like real matrices
    assert [len(c) for c in ds.tasks.values()] == [2, 6, 12, 14]
    counts = ds.class_counts()
    for task, task_counts in counts.items():
        assert min(task_counts) > 0, task
    # strong imbalance and some missing labels in every task
    assert max(counts["material"]) >= 8 * min(counts["material"])
    assert max(counts["sample_host"]) >= 8 * min(counts["sample_host"])
    assert all((ds.y[:, j] == -1).any() for j in range(4))
    assert 10 <= len(set(ds.groups)) <= 30
    # metadata is not in fof order, so alignment matters
    meta_ids = [line.split("\t")[0] for line in paths["metadata"].read_text().splitlines()[1:]]
    assert meta_ids != read_fof(paths["fof"])


def test_tasks_are_correlated_and_learnable(tmp_path: Path) -> None:
    paths = generate_kmer_dataset(tmp_path, n_samples=300, n_unitigs=400, seed=3)
    ds = load_kmer_dataset(paths["matrix"], paths["metadata"])
    y = ds.y
    both = (y[:, 0] >= 0) & (y[:, 3] >= 0)
    # material almost determines sample_type (ancient vs modern materials)
    purity = []
    for m in np.unique(y[both, 3]):
        types = y[both & (y[:, 3] == m), 0]
        purity.append(np.bincount(types).max() / len(types))
    assert np.mean(purity) > 0.8
    # a nearest-centroid rule on the features beats the majority class for community_type
    x = np.asarray(ds.x)
    lab = y[:, 1] >= 0
    train, test = np.arange(len(x))[lab][::2], np.arange(len(x))[lab][1::2]
    classes = np.unique(y[train, 1])
    centroids = np.stack([x[train][y[train, 1] == c].mean(0) for c in classes])
    pred = classes[np.argmin(((x[test, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]
    majority = np.bincount(y[train, 1]).max() / len(train)
    assert np.mean(pred == y[test, 1]) > majority + 0.15


def test_seed_and_sizes(tmp_path: Path) -> None:
    a = generate_kmer_dataset(tmp_path / "a", n_samples=50, n_unitigs=100, seed=1)
    b = generate_kmer_dataset(tmp_path / "b", n_samples=50, n_unitigs=100, seed=1)
    c = generate_kmer_dataset(tmp_path / "c", n_samples=50, n_unitigs=100, seed=2)
    assert a["matrix"].read_bytes() == b["matrix"].read_bytes()
    assert a["matrix"].read_bytes() != c["matrix"].read_bytes()
    assert len(a["matrix"].read_text().splitlines()) == 100
