"""The row check is remembered per table version, and identical spectra are found under any
name: across the splits of a root (refused) and within one table (warned)."""

import logging
import shutil

import lance
import numpy as np
import pyarrow as pa
import pytest

from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra
from trainlab.data.spectra.table_checks import checked_fingerprints, checked_folder, content_key
from trainlab.errors import DataError

SPEC = {"n_train": 60, "n_validation": 30, "n_test": 30, "min_peaks": 3, "max_peaks": 8}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectra")
    generate_spectra(root, SyntheticSpec(**SPEC))
    return root


def table(source, name: str) -> pa.Table:
    return lance.dataset(str(source / name)).to_table()


def renamed(rows: pa.Table, name: str, first_scan: int) -> pa.Table:
    """The same spectra under another file name, path and scan numbers."""
    n = rows.num_rows
    for column, values in (
        ("source_file", pa.array([name] * n)),
        ("mzml_filepath", pa.array([f"/elsewhere/{name}"] * n)),
        ("ms2_scan_number", pa.array(range(first_scan, first_scan + n), pa.int32())),
    ):
        rows = rows.set_column(rows.column_names.index(column), column, values)
    return rows


def root_with(source, tmp_path, **tables: pa.Table):
    root = tmp_path / "root"
    root.mkdir()
    for name in ("train_data", "validation_data", "test_1"):
        if name in tables:
            lance.write_dataset(tables[name], str(root / name))
        else:
            shutil.copytree(source / name, root / name)
    return root


def setup_fit(root, **settings) -> SpectraDataModule:
    dm = SpectraDataModule(str(root), batch_size=8, loader={"num_workers": 0}, **settings)
    dm.setup("fit")
    return dm


def test_spectra_copied_into_the_test_table_under_other_names_are_refused(source, tmp_path):
    train = table(source, "train_data")
    copies = renamed(train.take([5, 17, 40]), "other.mzML", 90_000)
    test = pa.concat_tables([table(source, "test_1"), copies])
    root = root_with(source, tmp_path, test_1=test)
    with pytest.raises(DataError) as error:
        setup_fit(root)
    message = str(error.value)
    assert "train_data and " in message and "test_1 hold 3 identical spectra" in message
    first = test.num_rows - 3
    assert "train_data row 5 (" in message and f"= test_1 row {first} (other.mzML, MS2" in message
    assert "Remove the rows from one of the tables" in message
    assert "data.allow_identical_spectra=true" in message  # the way out, named


def test_identical_spectra_kept_on_purpose_proceed_with_a_warning_giving_the_count(
    source, tmp_path, caplog
):
    train = table(source, "train_data")
    test = pa.concat_tables([table(source, "test_1"), renamed(train.take([5, 17]), "rep.mzML", 9)])
    root = root_with(source, tmp_path, test_1=test)
    with caplog.at_level(logging.WARNING, logger="trainlab.data.spectra.datamodule"):
        dm = setup_fit(root, allow_identical_spectra=True)
        dm.setup("test")
    assert "test_1 hold 2 identical spectra" in caplog.text
    assert "data.allow_identical_spectra=true" in caplog.text
    assert len(dm.datasets["test"]) == test.num_rows  # kept, nothing dropped


def test_spectra_shared_by_validation_and_training_are_refused(source, tmp_path):
    train = table(source, "train_data")
    validation = pa.concat_tables(
        [table(source, "validation_data"), renamed(train.take([0]), "v.mzML", 7)]
    )
    root = root_with(source, tmp_path, validation_data=validation)
    with pytest.raises(DataError, match=r"validation_data hold 1 identical spectra"):
        setup_fit(root)


def test_a_spectrum_repeated_within_one_table_is_warned_about(source, tmp_path, caplog):
    train = table(source, "train_data")
    repeated = pa.concat_tables([train, renamed(train.take([1, 2]), "again.mzML", 80_000)])
    root = root_with(source, tmp_path, train_data=repeated)
    with caplog.at_level(logging.WARNING, logger="trainlab.data.spectra.datamodule"):
        dm = setup_fit(root)
    assert "train_data: 2 row(s) hold the same spectrum" in caplog.text
    assert "row 1 (" in caplog.text and f"= row {train.num_rows} (again.mzML" in caplog.text
    assert len(dm.datasets["train"]) == repeated.num_rows  # kept: a warning, not a refusal


def test_the_synthetic_tables_have_no_identical_spectra(source, caplog):
    with caplog.at_level(logging.WARNING, logger="trainlab.data.spectra.datamodule"):
        setup_fit(source).setup("test")
    assert "same spectrum" not in caplog.text


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINLAB_CACHE_DIR", str(tmp_path / "cache"))
    return checked_folder()


def test_the_row_check_is_remembered_per_table_version(source, tmp_path, cache):
    root = root_with(source, tmp_path)
    uri = str(root / "train_data")
    first = checked_fingerprints(lance.dataset(uri), uri)
    assert not list(root.glob(".trainlab_*"))  # nothing kept in the data folder
    entries = sorted(cache.glob("train_data-*.npy"))
    assert len(entries) == 1
    assert np.array_equal(np.load(entries[0]), first)
    assert np.array_equal(checked_fingerprints(lance.dataset(uri), uri), first)
    # rows appended (a new version) are checked again: a bad one is refused, not passed on
    bad = table(source, "train_data").slice(0, 1)
    bad = bad.set_column(bad.column_names.index("label"), "label", pa.array([2.0], pa.float32()))
    lance.write_dataset(bad, uri, mode="append")
    with pytest.raises(DataError, match=r"row 60, column 'label': is 2.0"):
        checked_fingerprints(lance.dataset(uri), uri)
    # deleted and written again: version 1 again, other data files, checked again
    shutil.rmtree(uri)
    lance.write_dataset(pa.concat_tables([bad, table(source, "train_data")]), uri)
    assert lance.dataset(uri).version == 1
    with pytest.raises(DataError, match=r"row 0, column 'label': is 2.0"):
        checked_fingerprints(lance.dataset(uri), uri)


def with_bad_row(source, tmp_path):
    """A root whose train_data ends in a row labelled 2.0 (the check refuses it)."""
    root = root_with(source, tmp_path)
    uri = str(root / "train_data")
    bad = table(source, "train_data").slice(0, 1)
    bad = bad.set_column(bad.column_names.index("label"), "label", pa.array([2.0], pa.float32()))
    lance.write_dataset(bad, uri, mode="append")
    return root, uri


def test_an_entry_shipped_in_the_data_folder_is_not_taken_as_a_check(source, tmp_path, cache):
    # a copied or shared root carried `.trainlab_checked/<table>-<key>.npy`, whose name follows
    # from the table's metadata: a planted one let the row labelled 2.0 into training
    root, uri = with_bad_row(source, tmp_path)
    dataset = lance.dataset(uri)
    for folder in (root / ".trainlab_checked", root / "spectra_checked"):
        folder.mkdir()
        prints = np.arange(dataset.count_rows(), dtype=np.uint64)
        np.save(folder / f"train_data-{content_key(dataset)}.npy", prints)
    with pytest.raises(DataError, match=r"row 60, column 'label': is 2.0"):
        checked_fingerprints(dataset, uri)


def test_a_copy_or_a_rewritten_file_is_checked_again(source, tmp_path, cache):
    root = root_with(source, tmp_path)
    uri = str(root / "train_data")
    key = content_key(lance.dataset(uri))
    checked_fingerprints(lance.dataset(uri), uri)
    # a copy keeping every time stamp (cp -a): other files, so its own entry
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, copy_function=shutil.copy2)
    assert content_key(lance.dataset(str(copy / "train_data"))) != key
    checked_fingerprints(lance.dataset(str(copy / "train_data")), str(copy / "train_data"))
    assert len(list(cache.glob("train_data-*.npy"))) == 2
    # a data file rewritten in place, same size, its modification time put back: the change
    # time moved, so the key did too
    data = next((root / "train_data" / "data").iterdir())
    stat, content = data.stat(), data.read_bytes()
    data.write_bytes(content)
    import os

    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_mtime_ns == stat.st_mtime_ns
    assert content_key(lance.dataset(uri)) != key
