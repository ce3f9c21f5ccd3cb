"""One mass-spec run in two tables (train and test): refused by convert and by training, found
by eval in another root, and said loudly by predict."""

import logging
import shutil

import pyarrow as pa
import pytest
from spectra_files import dda_run, write_mgf, write_mzml

from trainlab.data.spectra.convert import convert_files
from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.store import read_spectra, write_spectra
from trainlab.errors import DataError


def run(tmp_path, name: str, seed: int, folder: str = "raw", fmt: str = "mzML"):
    (tmp_path / folder).mkdir(exist_ok=True)
    scans = dda_run(4, per_cycle=3, seed=seed)
    writer = write_mzml if fmt == "mzML" else write_mgf
    return writer(tmp_path / folder / f"{name}.{fmt}", scans)


def test_convert_refuses_a_run_another_table_holds(tmp_path):
    root = tmp_path / "root"
    train = run(tmp_path, "run1", seed=1)
    assert convert_files([train], root).rows_written == 12
    copy = tmp_path / "raw" / "run1_copy.mzML"
    shutil.copy(train, copy)
    as_mgf = run(tmp_path, "run1", seed=1, fmt="mgf")  # the same run, written as MGF
    other = run(tmp_path, "run2", seed=2)
    same_name = run(tmp_path, "run2", seed=3, folder="lab2")  # another lab's run2
    convert_files([same_name], root, table="validation_data")
    report = convert_files([train, copy, as_mgf, other], root, table="test_1")
    status = {f.path.name: (f.status, " ".join(f.problems)) for f in report.files}
    assert status["run2.mzML"][0] == "written"
    message = status["run1.mzML"][1]
    assert status["run1.mzML"][0] == "rejected"
    assert "run1.mzML: its run is already in train_data of this root" in message
    assert "run1.mzML (same spectra: 12 of 12 spectra in both)" in message
    assert "tested on spectra it trained on" in message
    assert "run1.mzML / run1_copy.mzML (same spectra: 12 of 12" in status["run1_copy.mzML"][1]
    assert "run1.mzML / run1.mgf (same spectra: 12 of 12" in status["run1.mgf"][1]
    (written,) = [f for f in report.files if f.status == "written"]
    assert any("validation_data of this root has a file of the same name" in w for w in
               written.warnings)  # fmt: skip
    names = set(read_spectra(root, "test_1").column("source_file").to_pylist())
    assert names == {"run2.mzML"}


def _root_with(tmp_path, name, train, validation, test):
    root = tmp_path / name
    for table, rows in (("train_data", train), ("validation_data", validation), ("test_1", test)):
        write_spectra(rows, root, table, mode="create")
    return root


@pytest.fixture
def runs(tmp_path):
    """Three runs converted into one table each (one root per run)."""
    tables = {}
    for i in (1, 2, 3):
        convert_files([run(tmp_path, f"run{i}", seed=i)], tmp_path / f"r{i}")
        table = read_spectra(tmp_path / f"r{i}", "train_data")
        # converted without identifications: label some, a table of one class is refused
        labels = [float(k % 3 == 0) for k in range(table.num_rows)]
        index = table.schema.get_field_index("label")
        tables[i] = table.set_column(index, "label", pa.array(labels, pa.float32()))
    return tables


def test_training_refuses_tables_that_share_a_run(tmp_path, runs):
    good = _root_with(tmp_path, "good", runs[1], runs[2], runs[3])
    dm = SpectraDataModule(str(good), batch_size=8)
    dm.setup("fit")
    dm.setup("test")
    # the test table holds half of run 1's scans: refused before fitting, not after
    leaky = _root_with(tmp_path, "leaky", runs[1], runs[2], runs[1].slice(0, 6))
    with pytest.raises(DataError) as err:
        SpectraDataModule(str(leaky), batch_size=8).setup("fit")
    message = str(err.value)
    assert f"{leaky}/train_data and {leaky}/test_1 hold the same mass-spec run(s)" in message
    assert "run1.mzML (same spectra: 6 of 6 spectra in both)" in message
    # a run split by scans: other spectra, but the same converted file
    split = _root_with(tmp_path, "split", runs[1].slice(0, 8), runs[1].slice(8), runs[3])
    with pytest.raises(DataError, match=r"run1\.mzML \(same file: 0 of 4 spectra in both\)"):
        SpectraDataModule(str(split), batch_size=8).setup("fit")


def test_eval_and_predict_find_the_checkpoints_training_runs(tmp_path, runs, caplog):
    trained = _root_with(tmp_path, "trained", runs[1], runs[2], runs[3])
    dm = SpectraDataModule(str(trained), batch_size=8)
    dm.setup("fit")
    spec = dm.spec()
    assert set(spec["training_runs"]) == {"run1.mzML"}
    assert len(spec["training_runs"]["run1.mzML"]["sample"]) == 12
    # another root whose test table holds the training run (renamed): eval refuses
    renamed = runs[1].set_column(
        runs[1].schema.get_field_index("source_file"),
        "source_file",
        [["renamed.mzML"] * runs[1].num_rows],
    )
    other = _root_with(tmp_path, "other", runs[2], runs[3], renamed)
    evaluating = SpectraDataModule(str(other), batch_size=8)
    evaluating.use_trained_spec(spec)
    with pytest.raises(DataError, match=r"holds run\(s\) the checkpoint was trained on: "
                       r"run1\.mzML / renamed\.mzML \(same spectra: 12 of 12"):  # fmt: skip
        evaluating.setup("test")
    # predicting on it works, but says so
    predicting = SpectraDataModule(str(tmp_path / "unused"), batch_size=8)
    with caplog.at_level(logging.WARNING):
        predicting.setup_predict(str(other / "test_1"), spec)
    assert predicting.shared_training_runs
    assert "holds 1 run(s) the checkpoint was trained on" in caplog.text
    assert "do not measure the model or set a threshold" in caplog.text
    caplog.clear()
    predicting.setup_predict(str(other / "train_data"), spec)  # run 2: not trained on
    assert not predicting.shared_training_runs and "trained on" not in caplog.text
