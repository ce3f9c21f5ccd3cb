"""Spectra tables: schema, writer/reader round trip, appends, rows that do not fit."""

import lance
import numpy as np
import pyarrow as pa
import pytest

from trainlab.data.spectra.schema import (
    SPECTRA_SCHEMA,
    nth_test_table,
    polarity_of,
)
from trainlab.data.spectra.store import (
    list_spectra_tables,
    open_spectra,
    read_spectra,
    write_spectra,
)
from trainlab.errors import DataError


def rows(n: int = 3, polarity: str = "positive", start: int = 0) -> pa.Table:
    settings = []
    for i in range(n):
        s = [float(i)] * 14 + [0.0] * 8
        s[15 if polarity == "positive" else 14] = 1.0
        settings.append(s)
    return pa.table(
        {
            "ms1_scan_number": [start + 10 * i for i in range(n)],
            "ms2_scan_number": [start + 10 * i + 1 for i in range(n)],
            "mz_array": [[100.0 + i, 200.5] for i in range(n)],
            "intensity_array": [[1.0, 0.25] for _ in range(n)],
            "instrument_settings": settings,
            "precursor_mz": [200.5] * n,
            "label": [float(i % 2) for i in range(n)],
            "compound_name": [f"c{i}" for i in range(n)],
            "source_file": ["run.mzML"] * n,
            "dataset_id": ["MSV1"] * n,
            "mzml_filepath": ["/data/run.mzML"] * n,
        }
    )


def test_schema_is_exactly_the_researchers_schema():
    assert [(f.name, str(f.type)) for f in SPECTRA_SCHEMA] == [
        ("ms1_scan_number", "int32"),
        ("ms2_scan_number", "int32"),
        ("mz_array", "list<item: float>"),
        ("intensity_array", "list<item: float>"),
        ("instrument_settings", "list<item: float>"),
        ("precursor_mz", "float"),
        ("label", "float"),
        ("compound_name", "string"),
        ("source_file", "string"),
        ("dataset_id", "string"),
        ("mzml_filepath", "string"),
    ]


def test_round_trip_and_append(tmp_path):
    first, second = rows(3), rows(2, polarity="negative", start=100)
    assert write_spectra(first, tmp_path, "train_data") == 3
    assert write_spectra(second, tmp_path, "train_data", mode="append") == 2
    back = read_spectra(tmp_path, "train_data")
    assert back.schema.equals(SPECTRA_SCHEMA)
    expected = pa.concat_tables([first, second]).cast(SPECTRA_SCHEMA)
    assert back.equals(expected)
    dataset = open_spectra(tmp_path, "train_data")
    taken = dataset.take([4, 0], columns=["ms2_scan_number", "precursor_mz"])
    assert taken.column("ms2_scan_number").to_pylist() == [111, 1]
    settings = np.array(back.column("instrument_settings").to_pylist())
    assert polarity_of(settings).tolist() == [1, 1, 1, 0, 0]


def test_table_names(tmp_path):
    write_spectra(rows(), tmp_path, nth_test_table(2))
    write_spectra(rows(), tmp_path, "validation_data")
    assert list_spectra_tables(tmp_path) == ["test_2", "validation_data"]
    with pytest.raises(DataError, match="train_data, validation_data, test_<n>"):
        write_spectra(rows(), tmp_path, "training")
    with pytest.raises(DataError, match="no Lance table"):
        open_spectra(tmp_path, "train_data")


def test_bad_rows_are_named_and_nothing_is_written(tmp_path):
    write_spectra(rows(), tmp_path, "train_data")
    bad = rows(4).to_pylist()
    bad[1]["instrument_settings"] = [0.0] * 21
    bad[2]["intensity_array"] = [1.0]
    bad[3]["label"] = 0.5
    with pytest.raises(DataError) as info:
        write_spectra(pa.Table.from_pylist(bad), tmp_path, "train_data")
    message = str(info.value)
    assert "row 1, column 'instrument_settings': has 21 values, expected 22" in message
    assert "row 2, column 'intensity_array'" in message
    assert "row 3, column 'label': is 0.5" in message
    assert open_spectra(tmp_path, "train_data").count_rows() == 3


def test_unknown_polarity_and_missing_columns_are_refused(tmp_path):
    no_polarity = rows(1).to_pylist()
    no_polarity[0]["instrument_settings"] = [0.0] * 22
    with pytest.raises(DataError, match="polarity is not one-hot"):
        write_spectra(pa.Table.from_pylist(no_polarity), tmp_path, "train_data")
    with pytest.raises(DataError, match="missing columns"):
        write_spectra(rows(1).drop_columns(["label"]), tmp_path, "train_data")


def test_append_to_a_table_of_another_schema_is_refused(tmp_path):
    lance.write_dataset(pa.table({"a": [1]}), str(tmp_path / "train_data"))
    with pytest.raises(DataError, match="missing column 'ms1_scan_number'"):
        write_spectra(rows(1), tmp_path, "train_data")
    with pytest.raises(DataError, match="exists"):
        write_spectra(rows(1), tmp_path, "train_data", mode="create")
