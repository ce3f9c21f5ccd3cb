"""SpectraDataModule: polarity filter, one take per batch, padding, shuffling, sharding."""

import json
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.loading import BatchSampler, SpectraBatches, pad_lists
from trainlab.data.spectra.store import read_spectra
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra
from trainlab.errors import DataError

SPEC = {"n_train": 300, "n_validation": 100, "n_test": 50, "min_peaks": 3, "max_peaks": 9}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectra")
    generate_spectra(root, SyntheticSpec(**SPEC))
    return root


def test_pad_lists_zero_pads_to_the_longest_row():
    import pyarrow as pa

    column = pa.chunked_array([pa.array([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]])]).cast(
        pa.list_(pa.float32())
    )
    sliced = column.combine_chunks().slice(1, 2)  # offsets that do not start at 0
    assert pad_lists(sliced).tolist() == [[3.0, 0.0, 0.0], [4.0, 5.0, 6.0]]


@pytest.mark.parametrize("polarity", [1, 0, None])
def test_polarity_filter_and_batches(root, polarity):
    dm = SpectraDataModule(str(root), polarity=polarity, batch_size=32, loader={"num_workers": 0})
    dm.prepare_data()
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    rows = torch.cat([b["index"] for b in batches])
    assert len(rows) == len(set(rows.tolist()))  # each training row once per epoch
    table = read_spectra(root, "train_data")
    settings = np.array(table.column("instrument_settings").to_pylist())
    expected = {1: settings[:, 15] == 1, 0: settings[:, 14] == 1, None: np.ones(300, bool)}
    assert sorted(rows.tolist()) == np.flatnonzero(expected[polarity]).tolist()
    batch = batches[0]
    assert set(batch) == {
        "mz",
        "intensity",
        "precursor_mz",
        "instrument_settings",
        "label",
        "polarity",
        "index",
    }
    lengths = [len(table.column("mz_array")[i].as_py()) for i in batch["index"].tolist()]
    assert batch["mz"].shape == (len(lengths), max(lengths))
    for row, n in enumerate(lengths):
        assert (batch["mz"][row, :n] > 0).all() and (batch["mz"][row, n:] == 0).all()
        assert (batch["intensity"][row, n:] == 0).all()
    if polarity is not None:
        assert (batch["polarity"] == polarity).all()
    spec = dm.spec()
    assert spec["tasks"] == {"label": ["unlabeled", "identified"]}
    assert spec["polarity"] == polarity


def test_one_take_per_batch(root, monkeypatch):
    dm = SpectraDataModule(str(root), batch_size=64)
    dm.setup("fit")
    dataset = dm.datasets["train"]
    calls = []
    original = type(dataset.dataset).take
    monkeypatch.setattr(
        type(dataset.dataset),
        "take",
        lambda self, *a, **k: calls.append(1) or original(self, *a, **k),
    )
    batches = list(dm.train_dataloader())
    assert len(calls) == len(batches) == 5


def test_shuffling_changes_with_the_epoch_and_is_seeded():
    sampler = BatchSampler(100, 10, shuffle=True, seed=1)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert sorted(i for b in first for i in b) == list(range(100))
    assert list(BatchSampler(25, 10, shuffle=False)) == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]


@pytest.mark.parametrize(
    "n,batch,replicas,drop_last", [(100, 10, 2, False), (95, 10, 3, False), (95, 10, 2, True)]
)
def test_ddp_shards_are_disjoint_equal_and_cover_the_epoch(n, batch, replicas, drop_last):
    shards = [
        list(BatchSampler(n, batch, True, 7, drop_last, num_replicas=replicas, rank=r))
        for r in range(replicas)
    ]
    assert len({len(s) for s in shards}) == 1  # same step count on every rank
    assert all(
        len(s) == len(BatchSampler(n, batch, True, 7, drop_last, replicas, r))
        for r, s in enumerate(shards)
    )
    seen = [i for shard in shards for b in shard for i in b]
    full = (n // batch) * batch if drop_last else n
    assert len(set(seen)) == full
    assert len(seen) - full < replicas * batch  # padding is at most one batch per rank


@pytest.mark.parametrize("n,batch,replicas", [(25, 10, 2), (95, 10, 3), (100, 10, 2)])
def test_evaluation_shares_score_every_row_once(n, batch, replicas):
    # val/test batches padded to a multiple of the ranks were scored twice by the metrics
    # summed across ranks (25 rows, 2 ranks: rows 0-9 counted twice)
    shares = [
        list(BatchSampler(n, batch, False, num_replicas=replicas, rank=r, pad=False))
        for r in range(replicas)
    ]
    seen = sorted(i for share in shares for b in share for i in b)
    assert seen == list(range(n))
    assert [len(s) for s in shares] == [
        len(BatchSampler(n, batch, False, num_replicas=replicas, rank=r, pad=False))
        for r in range(replicas)
    ]
    with pytest.raises(DataError, match=r"1 batch.* for 2 DDP processes"):
        BatchSampler(5, 10, False, num_replicas=2, rank=0, pad=False)


def test_dataset_pickles_without_its_open_handle(root):
    dataset = SpectraBatches(str(root / "train_data"), np.arange(10))
    _ = dataset[[0, 1]]
    assert dataset._dataset is not None
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._dataset is None
    assert torch.equal(clone[[3, 1]]["index"], torch.tensor([1, 3]))


def test_spawn_workers_read_the_same_batches(root):
    dataset = SpectraBatches(str(root / "validation_data"), np.arange(100))
    sampler = BatchSampler(100, 25, shuffle=False)
    loader = DataLoader(
        dataset, batch_size=None, sampler=sampler, num_workers=1, multiprocessing_context="spawn"
    )
    in_workers = [b["index"].tolist() for b in loader]
    assert in_workers == [b["index"].tolist() for b in (dataset[i] for i in sampler)]


def test_setup_errors_name_the_fix(root, tmp_path):
    with pytest.raises(DataError, match=r"data\.polarity=2"):
        SpectraDataModule(str(root), polarity=2)
    with pytest.raises(DataError, match="no Lance table"):
        SpectraDataModule(str(tmp_path), synthetic=None).setup("fit")
    dm = SpectraDataModule(str(root))
    with pytest.raises(DataError, match="not a Lance spectra table"):
        dm.setup_predict(str(tmp_path), {})


def test_workers_never_start_by_plain_fork(root):
    dm = SpectraDataModule(str(root), loader={"num_workers": 2})
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.multiprocessing_context.get_start_method() in ("forkserver", "spawn")
    spawn = {"num_workers": 2, "multiprocessing_context": "spawn"}
    chosen = SpectraDataModule(str(root), loader=spawn)
    chosen.setup("fit")
    assert chosen.train_dataloader().multiprocessing_context.get_start_method() == "spawn"


def test_predict_on_a_lone_table_writes_the_csv(root, tmp_path):
    import csv

    from trainlab.data.spectra.store import write_spectra

    table = read_spectra(root, "test_1").slice(0, 40)
    write_spectra(table, tmp_path / "elsewhere", "test_7")
    dm = SpectraDataModule(str(tmp_path / "never_written"), batch_size=16, threshold_quantile=0.05)
    dm.setup_predict(str(tmp_path / "elsewhere" / "test_7"), {})
    dm.prepare_data()  # must not write the synthetic set while predicting
    dm.setup("predict")
    assert not (tmp_path / "never_written").exists()
    batches = list(dm.predict_dataloader())
    outputs = [{"prob": b["index"].float() / 40, "index": b["index"]} for b in reversed(batches)]
    paths = dm.write_predictions(outputs, tmp_path / "out", {})
    rows = list(csv.DictReader(paths[0].open()))
    assert [int(r["index"]) for r in rows] == list(range(40))
    assert [float(r["probability"]) for r in rows] == pytest.approx([i / 40 for i in range(40)])
    labels = table.column("label").to_numpy()
    assert [int(r["label"]) for r in rows] == labels.astype(int).tolist()
    assert [int(r["ms2_scan_number"]) for r in rows] == table.column("ms2_scan_number").to_pylist()
    # one cut per polarity: the 5th percentile of that polarity's labelled positives
    probs = np.array([i / 40 for i in range(40)])
    modes = np.array([r["polarity"] for r in rows])
    assert set(modes) == {"positive", "negative"}
    summary = json.loads(paths[1].read_text())
    cuts = summary["threshold"]
    assert summary["source"] == "labelled positives, per polarity"
    for mode in ("positive", "negative"):
        known = probs[(labels == 1) & (modes == mode)]
        assert cuts[mode] == pytest.approx(np.quantile(known, 0.05))
        assert summary["by_polarity"][mode]["n_labelled_positives"] == len(known)
    expected = [int(p >= cuts[m]) for p, m in zip(probs, modes, strict=True)]
    assert [int(r["predicted"]) for r in rows] == expected


def test_thresholds_per_polarity_keep_the_asked_share_of_each(root, tmp_path):
    from trainlab.data.spectra.predictions import decision_thresholds

    rng = np.random.default_rng(0)
    polarity = np.repeat([0, 1], 500)
    labels = rng.integers(0, 2, 1000)
    probs = np.where(polarity == 1, rng.uniform(0.5, 1, 1000), rng.uniform(0, 0.5, 1000))
    cuts = decision_thresholds(probs, labels, polarity, None, 0.05)
    for mode in (0, 1):  # one pooled cut kept ~100 % of one mode and ~90 % of the other
        known = probs[(labels == 1) & (polarity == mode)]
        assert np.mean(known >= cuts[mode]) == pytest.approx(0.95, abs=0.01)
    assert decision_thresholds(probs, labels, polarity, {"negative": 0.2, "positive": 0.7}, None)[
        0
    ] == pytest.approx(0.2)
    with pytest.raises(DataError, match="it lacks positive"):
        decision_thresholds(probs, labels, polarity, {"negative": 0.2}, None)
    with pytest.raises(DataError, match="its negative-mode rows have none"):
        decision_thresholds(probs, np.where(polarity == 0, 0, labels), polarity, None, 0.05)
    with pytest.raises(DataError, match=r"data.threshold.positive=1.5 must be a probability"):
        SpectraDataModule(str(root), threshold={"negative": 0.2, "positive": 1.5})


def test_predict_refuses_a_table_on_another_instrument_scale(tmp_path):
    from spectra_files import acquisition, write_mzml

    from trainlab.data.spectra.convert import convert_files

    scans = acquisition(cycles=2, per_cycle=2)
    convert_files([write_mzml(tmp_path / "train.mzML", scans)], tmp_path / "train")
    later = acquisition(cycles=2, per_cycle=2, seconds_per_scan=2.0)
    convert_files([write_mzml(tmp_path / "new.mzML", later)], tmp_path / "new", table="test_1")
    spec = SpectraDataModule(str(tmp_path / "train")).spec()
    dm = SpectraDataModule(str(tmp_path / "unused"))
    with pytest.raises(DataError, match="on another scale") as err:
        dm.setup_predict(str(tmp_path / "new" / "test_1"), spec)
    assert "standardization=" in str(err.value) and "seconds_since_ms1" in str(err.value)
    dm.setup_predict(str(tmp_path / "train" / "train_data"), spec)  # its own root: same scale
    dm.setup_predict(str(tmp_path / "new" / "test_1"), {})  # checkpoints without the statistics


def test_predict_refuses_rows_of_a_polarity_the_checkpoint_never_saw(root):
    # before: `+data.polarity=null` at predict time lifted a negative-mode checkpoint's filter
    # and it scored positive-mode rows without a word
    negative_only = {"polarity": 0, "label_counts": {"negative": [90, 20], "positive": [0, 0]}}
    dm = SpectraDataModule(str(root), polarity=None, batch_size=16)
    with pytest.raises(DataError, match=r"holds \['positive'\] spectra, which the checkpoint"):
        dm.setup_predict(str(root / "test_1"), negative_only)
    # older checkpoints without label_counts: the trained polarity decides
    with pytest.raises(DataError, match=r"trained on \['negative'\] spectra only"):
        dm.setup_predict(str(root / "test_1"), {"polarity": 0})
    SpectraDataModule(str(root), polarity=0, batch_size=16).setup_predict(
        str(root / "test_1"), negative_only
    )
    both = {"polarity": None, "label_counts": {"negative": [9, 2], "positive": [9, 3]}}
    dm.setup_predict(str(root / "test_1"), both)
    dm.setup_predict(str(root / "test_1"), {})  # nothing recorded: nothing to check


def test_predict_on_a_table_of_the_other_polarity_does_not_advise_lifting_the_filter(tmp_path):
    # before: "... has no rows of polarity 0 (negative); set data.polarity=null or another
    # value", which made a negative-mode checkpoint score positive-mode spectra
    spec = SyntheticSpec(**{**SPEC, "n_train": 20, "n_validation": 20, "n_test": 20})
    generate_spectra(tmp_path, SyntheticSpec(**{**spec.__dict__, "positive_mode_share": 1.0}))
    dm = SpectraDataModule(str(tmp_path), polarity=0, batch_size=16)
    with pytest.raises(DataError, match="no rows of polarity 0") as error:
        dm.setup_predict(str(tmp_path / "test_1"), {"polarity": 0})
    assert "checkpoint trained on the table's polarity" in str(error.value)
    assert "set data.polarity=null" not in str(error.value)
