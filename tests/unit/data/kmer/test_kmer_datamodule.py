"""KmerMatrixDataModule: spec, class counts, default splits, in-memory batches, predictions."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data.kmer.batches import TensorBatches
from trainlab.data.kmer.datamodule import KmerMatrixDataModule
from trainlab.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def datamodule(tmp_path_factory) -> KmerMatrixDataModule:
    folder = tmp_path_factory.mktemp("kmer")
    dm = KmerMatrixDataModule(
        matrix_path=str(folder / "unitigs.frac.mat"),
        metadata_path=str(folder / "metadata.tsv"),
        group_column="project",
        synthetic={"n_samples": 90, "n_unitigs": 50, "n_projects": 10},
        batch_size=16,
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_spec_counts_and_default_split(datamodule: KmerMatrixDataModule) -> None:
    spec = datamodule.spec()
    assert spec["in_features"] == 50
    assert list(spec["tasks"]) == ["sample_type", "community_type", "sample_host", "material"]
    rows = datamodule.rows
    all_rows = np.concatenate([rows["train"], rows["val"], rows["test"]])
    assert sorted(all_rows.tolist()) == list(range(90))
    groups = datamodule.dataset.groups
    assert not set(groups[rows["train"]]) & set(groups[rows["test"]])
    counts = datamodule.class_counts()
    y = datamodule.dataset.y[rows["train"]]
    assert sum(counts["material"]) == int((y[:, 3] >= 0).sum())


def test_in_memory_batches_cover_the_rows(datamodule: KmerMatrixDataModule) -> None:
    datamodule.use_rows(np.arange(0, 40), np.arange(40, 60))
    train = datamodule.train_dataloader()
    assert isinstance(train, TensorBatches) and len(train) == 3  # 16 + 16 + 8
    seen = torch.cat([x for x, _ in train])
    expected = torch.tensor(np.asarray(datamodule.dataset.x[:40]))
    key = torch.arange(1, 51, dtype=torch.float32)  # a per-row fingerprint to match rows
    assert torch.allclose((seen @ key).sort().values, (expected @ key).sort().values)
    first = [x.sum() for x, _ in train]
    assert first != [x.sum() for x, _ in train]  # reshuffled each pass
    x, y = next(iter(datamodule.val_dataloader()))
    assert x.shape == (20, 50) and y.shape == (20, 4) and y.dtype == torch.long


def test_batches_drop_a_last_single_row_when_shuffling() -> None:
    data = (torch.arange(33.0)[:, None],)
    assert len(TensorBatches(data, 16, shuffle=True)) == 2
    assert len(TensorBatches(data, 16, shuffle=False)) == 3


def test_memmap_loader_when_not_in_memory(datamodule: KmerMatrixDataModule) -> None:
    datamodule.in_memory = False
    try:
        datamodule.use_rows(np.arange(0, 40), np.arange(40, 60))
        x, y = next(iter(datamodule.val_dataloader()))
        assert x.shape == (20, 50) and y.shape == (20, 4)
        assert len(datamodule.train_dataloader()) == 3
    finally:
        datamodule.in_memory = "auto"


def test_predictions_per_sample(datamodule: KmerMatrixDataModule, tmp_path: Path) -> None:
    x = np.asarray(datamodule.dataset.x[:2])
    np.savez(tmp_path / "new.npz", X=x, sample_ids=np.array(["A/1", "B"]))
    spec = datamodule.spec()
    datamodule.setup_predict(str(tmp_path / "new.npz"), spec)
    (batch,) = next(iter(datamodule.predict_dataloader()))
    assert batch.shape == (2, 50)
    probs = {t: torch.softmax(torch.randn(2, len(c)), -1) for t, c in spec["tasks"].items()}
    written = datamodule.write_predictions([{"probs": probs}], tmp_path / "out", spec)
    assert [p.name for p in written] == ["A_1_predictions.json", "B_predictions.json"]
    record = json.loads(written[1].read_text())
    assert record["sample_id"] == "B"
    entry = record["predictions"]["material"]
    assert entry["class_index"] == int(probs["material"][1].argmax())
    assert entry["predicted_class"] == spec["tasks"]["material"][entry["class_index"]]
    np.save(tmp_path / "bad.npy", x[:, :10])
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    with pytest.raises(DataError, match="10 features but the model was trained on 50"):
        datamodule.setup_predict(str(tmp_path / "bad.npy"), spec)


def test_bad_settings() -> None:
    with pytest.raises(ConfigError, match="stratify_column"):
        KmerMatrixDataModule("m.mat", "meta.tsv", tasks=["a"], stratify_column="b")
    with pytest.raises(ConfigError, match="in_memory"):
        KmerMatrixDataModule("m.mat", "meta.tsv", in_memory="sometimes")


def test_prediction_matches_feature_columns_by_id(
    datamodule: KmerMatrixDataModule, tmp_path: Path, caplog
) -> None:
    # a matrix of the same unitigs in another column order was predicted from shuffled inputs
    x = np.asarray(datamodule.dataset.x[:3])
    ids = np.array(datamodule.dataset.feature_ids)
    spec = datamodule.spec()
    perm = np.random.default_rng(0).permutation(50)
    samples = np.array(["A", "B", "C"])
    np.savez(tmp_path / "shuffled.npz", X=x[:, perm], sample_ids=samples, feature_ids=ids[perm])
    datamodule.setup_predict(str(tmp_path / "shuffled.npz"), spec)
    (batch,) = next(iter(datamodule.predict_dataloader()))
    assert torch.equal(batch.cpu(), torch.from_numpy(x))
    # other unitigs (same count) are refused with examples
    other = ids.copy()
    other[7] = "not_a_model_unitig"
    np.savez(tmp_path / "other.npz", X=x, sample_ids=samples, feature_ids=other)
    with pytest.raises(DataError, match=r"1 of the model's 50 feature ids are missing"):
        datamodule.setup_predict(str(tmp_path / "other.npz"), spec)
    # no ids in the file: taken in order, with a warning that says so
    np.savez(tmp_path / "plain.npz", X=x, sample_ids=samples)
    with caplog.at_level("WARNING"):
        datamodule.setup_predict(str(tmp_path / "plain.npz"), spec)
    assert "carries no feature ids" in caplog.text


def test_plain_numeric_unitig_ids_are_matched_with_a_warning(
    datamodule: KmerMatrixDataModule, tmp_path: Path, caplog
) -> None:
    # the synthetic matrix numbers its unitigs 0..49 as GGCAT does; another MUSET run with 50
    # unitigs has the same ids for other sequences. Before: predicted from without a word
    x = np.asarray(datamodule.dataset.x[:3])
    ids = np.array(datamodule.dataset.feature_ids)
    assert list(ids) == [str(i) for i in range(50)]
    spec = datamodule.spec()
    samples = np.array(["A", "B", "C"])
    np.savez(tmp_path / "run2.npz", X=x[:, ::-1], sample_ids=samples, feature_ids=ids)
    with caplog.at_level("WARNING"):
        datamodule.setup_predict(str(tmp_path / "run2.npz"), spec)
    assert "its 50 feature ids are plain unitig numbers" in caplog.text
    assert "built over the training unitigs" in caplog.text and "MUSET's -s" in caplog.text
    # sequences as ids (muset -s) are checked by the match itself: no warning
    caplog.clear()
    seq_spec = {**spec, "feature_ids": "\n".join(f"ACGT{'A' * i}" for i in range(50))}
    seqs = np.array([f"ACGT{'A' * i}" for i in range(50)])
    np.savez(tmp_path / "seq.npz", X=x, sample_ids=samples, feature_ids=seqs)
    with caplog.at_level("WARNING"):
        datamodule.setup_predict(str(tmp_path / "seq.npz"), seq_spec)
    assert "plain unitig numbers" not in caplog.text


def test_samples_whose_file_names_clash_keep_one_file_each(
    datamodule: KmerMatrixDataModule, tmp_path: Path
) -> None:
    """Before: ``A/1`` and ``A_1`` both wrote ``A_1_predictions.json``, the second sample's
    predictions replacing the first's (and ``ERR1``/``err1`` did on macOS and Windows)."""
    x = np.asarray(datamodule.dataset.x[:4])
    ids = np.array(["A/1", "A_1", "ERR1", "err1"])
    np.savez(tmp_path / "new.npz", X=x, sample_ids=ids)
    spec = datamodule.spec()
    datamodule.setup_predict(str(tmp_path / "new.npz"), spec)
    probs = {t: torch.softmax(torch.randn(4, len(c)), -1) for t, c in spec["tasks"].items()}
    written = datamodule.write_predictions([{"probs": probs}], tmp_path / "out", spec)
    assert len({p.name.casefold() for p in written}) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)
    assert [json.loads(p.read_text())["sample_id"] for p in written] == list(ids)
    assert all(p.name.startswith(("A_1-", "ERR1-", "err1-")) for p in written)
