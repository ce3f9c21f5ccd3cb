"""Lance tables written by the researchers' own pipelines (not by ``trainlab convert``): read
correctly when valid, refused with the row, the column and the fix when not."""

import shutil

import lance
import numpy as np
import pyarrow as pa
import pytest

from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra
from trainlab.errors import DataError

SPEC = {"n_train": 40, "n_validation": 20, "n_test": 20, "min_peaks": 3, "max_peaks": 6}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectra")
    generate_spectra(root, SyntheticSpec(**SPEC))
    return root


def train_rows(source) -> pa.Table:
    return lance.dataset(str(source / "train_data")).to_table()


def with_column(table: pa.Table, name: str, values: list, type: pa.DataType) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values, type))


def foreign_root(source, tmp_path, train: pa.Table, **write_options):
    """A root whose train_data another pipeline wrote with ``lance.write_dataset``."""
    root = tmp_path / "root"
    root.mkdir(parents=True)
    for name in ("validation_data", "test_1"):
        shutil.copytree(source / name, root / name)
    lance.write_dataset(train, str(root / "train_data"), **write_options)
    return root


def setup_fit(root) -> SpectraDataModule:
    dm = SpectraDataModule(str(root), polarity=None, batch_size=8, loader={"num_workers": 0})
    dm.setup("fit")
    return dm


def settings_of(table: pa.Table) -> list[list[float]]:
    return table.column("instrument_settings").to_pylist()


def bad_tables(table: pa.Table) -> dict[str, tuple[pa.Table, str]]:
    settings = settings_of(table)
    mz = table.column("mz_array").to_pylist()
    intensity = table.column("intensity_array").to_pylist()
    labels = table.column("label").to_pylist()
    floats = pa.list_(pa.float32())
    mixed = [s[:20] if i == 3 else [*s, 0.0, 0.0] if i == 4 else s for i, s in enumerate(settings)]
    nan = [[float("nan"), *s[1:]] if i == 2 else s for i, s in enumerate(settings)]
    longer = [[*m, 2000.0] if i == 1 else m for i, m in enumerate(mz)]
    raw = [[v * 1e6 for v in x] if i == 5 else x for i, x in enumerate(intensity)]
    many = [list(np.linspace(100, 1000, 401)) if i == 6 else m for i, m in enumerate(mz)]
    many_i = [[0.5] * 401 if i == 6 else x for i, x in enumerate(intensity)]
    huge = [[*m[:-1], 1e30] if i == 4 else m for i, m in enumerate(mz)]
    precursors = table.column("precursor_mz").to_pylist()
    return {
        # 20 + 24 values: 44 = 2 x 22, so the flat reshape misread every later row silently
        "settings_mixed": (
            with_column(table, "instrument_settings", mixed, floats),
            r"row 3, column 'instrument_settings': has 20 values, expected 22; "
            r"row 4, column 'instrument_settings': has 24 values",
        ),
        "settings_24": (
            with_column(table, "instrument_settings", [[*s, 0.0, 0.0] for s in settings], floats),
            "row 0, column 'instrument_settings': has 24 values, expected 22",
        ),
        "settings_nan": (
            with_column(table, "instrument_settings", nan, floats),
            "row 2, column 'instrument_settings': has NaN",
        ),
        "label_2": (
            with_column(table, "label", [2.0, *labels[1:]], pa.float32()),
            "row 0, column 'label': is 2.0, expected 0 or 1",
        ),
        "label_null": (
            with_column(table, "label", [labels[0], None, *labels[2:]], pa.float32()),
            "row 1, column 'label': value is missing",
        ),
        "peak_lengths": (
            with_column(table, "mz_array", longer, floats),
            "row 1, column 'intensity_array': has .* peaks but mz_array",
        ),
        "raw_intensities": (
            with_column(table, "intensity_array", raw, floats),
            r"row 5, column 'intensity_array': goes up to 1e\+06; expected sqrt\(I / base peak\)",
        ),
        "over_400_peaks": (
            with_column(
                with_column(table, "mz_array", many, floats), "intensity_array", many_i, floats
            ),
            "row 6, column 'mz_array': has 401 peaks, at most 400",
        ),
        # before: trained on, its sinusoid m/z encodings noise
        "mz_1e30": (
            with_column(table, "mz_array", huge, floats),
            r"row 4, column 'mz_array': goes up to 1e\+30; expected m/z <= 1e\+06",
        ),
        "precursor_1e30": (
            with_column(
                table, "precursor_mz", [*precursors[:3], 1e30, *precursors[4:]], pa.float32()
            ),
            r"row 3, column 'precursor_mz': is 1e\+30, expected > 0 and <= 1e\+06",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "settings_mixed",
        "settings_24",
        "settings_nan",
        "label_2",
        "label_null",
        "peak_lengths",
        "raw_intensities",
        "over_400_peaks",
        "mz_1e30",
        "precursor_1e30",
    ],
)
def test_rows_that_break_the_schema_are_refused_with_row_column_and_fix(source, tmp_path, case):
    table, message = bad_tables(train_rows(source))[case]
    root = foreign_root(source, tmp_path, table)
    with pytest.raises(DataError, match=message) as error:
        setup_fit(root)
    assert "train_data" in str(error.value) and "trainlab convert" in str(error.value)


def retyped(table: pa.Table, case: str) -> pa.Table:
    """``table`` as another pipeline writes the same values (pandas, older pylance ...)."""
    doubles = pa.list_(pa.float64())
    if case == "pandas_types":  # int64, list<double>, double: pa.Table.from_pandas defaults
        types = {
            "ms1_scan_number": pa.int64(),
            "ms2_scan_number": pa.int64(),
            "mz_array": doubles,
            "intensity_array": doubles,
            "instrument_settings": doubles,
            "precursor_mz": pa.float64(),
            "label": pa.int64(),
        }
    elif case == "large_and_fixed_lists":
        types = {
            "mz_array": pa.large_list(pa.float32()),
            "intensity_array": pa.large_list(pa.float64()),
            "instrument_settings": pa.list_(pa.float32(), 22),
            "label": pa.bool_(),
        }
    elif case == "large_strings_and_string_labels":
        types = {"source_file": pa.large_string(), "mzml_filepath": pa.large_string()}
        labels = [str(int(v)) for v in table.column("label").to_pylist()]
        table = with_column(table, "label", labels, pa.string())
    elif case == "dictionary_strings_reordered_extra":
        source = table.column("source_file").combine_chunks().dictionary_encode()
        table = table.set_column(table.column_names.index("source_file"), "source_file", source)
        table = table.append_column("charge", pa.array([2] * table.num_rows, pa.int8()))
        return table.select(list(reversed(table.column_names)))
    return table.cast(
        pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in table.schema])
    )


@pytest.mark.parametrize(
    "case",
    [
        "pandas_types",
        "large_and_fixed_lists",
        "large_strings_and_string_labels",
        "dictionary_strings_reordered_extra",
    ],
)
def test_other_arrow_types_read_as_the_same_rows(source, tmp_path, case):
    from trainlab.data.spectra.tabular import spectra_feature_matrix

    expected = setup_fit(source)
    got = setup_fit(foreign_root(source, tmp_path, retyped(train_rows(source), case)))
    assert got.label_counts["train_data"] == expected.label_counts["train_data"]
    rows = expected.datasets["train"].rows
    first, second = expected.datasets["train"][range(8)], got.datasets["train"][range(8)]
    for key in ("mz", "intensity", "precursor_mz", "instrument_settings", "label", "polarity"):
        assert first[key].dtype == second[key].dtype, key
        assert np.array_equal(first[key].numpy(), second[key].numpy()), key
    features, labels = spectra_feature_matrix(got.datasets["train"].uri, rows)
    want_features, want_labels = spectra_feature_matrix(expected.datasets["train"].uri, rows)
    assert np.array_equal(features, want_features) and np.array_equal(labels, want_labels)


def test_types_that_change_the_values_are_refused_with_the_fix(source, tmp_path):
    table = train_rows(source)
    half = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.float16() if f.name == "precursor_mz" else f.type)
                for f in table.schema
            ]
        )
    )
    with pytest.raises(DataError, match=r"'precursor_mz' is halffloat.*float16 steps 0\.5 m/z"):
        setup_fit(foreign_root(source, tmp_path / "half", half))
    labels = ["1" if v else "0" for v in table.column("label").to_pylist()]
    labels[7] = "yes"  # one cell: the error names its row (before: only the value)
    words = with_column(table, "label", labels, pa.string())
    with pytest.raises(
        DataError,
        match=r"'label' of type string does not convert to float at row 7 \(value 'yes'\)",
    ):
        setup_fit(foreign_root(source, tmp_path / "words", words))
    missing = table.drop(["dataset_id"])
    with pytest.raises(DataError, match=r"missing column 'dataset_id' \(string\).*docs/spectra"):
        setup_fit(foreign_root(source, tmp_path / "missing", missing))


def test_appending_to_a_table_of_other_types_is_refused_not_a_lance_error(source, tmp_path):
    from trainlab.data.spectra.store import write_spectra

    root = foreign_root(source, tmp_path, retyped(train_rows(source), "pandas_types"))
    with pytest.raises(DataError, match=r"another pipeline.*mz_array \(list<item: double>\)"):
        write_spectra(train_rows(source), root, "train_data", mode="append")


@pytest.mark.parametrize("label", [0.0, 1.0])
@pytest.mark.parametrize("table", ["train_data", "validation_data"])
def test_a_polarity_of_one_class_only_is_refused(source, tmp_path, label, table):
    rows = train_rows(source)
    rows = with_column(rows, "label", [label] * rows.num_rows, pa.float32())
    root = tmp_path / "root"
    root.mkdir()
    for name in ("train_data", "validation_data", "test_1"):
        if name == table:
            lance.write_dataset(rows, str(root / name))
        else:
            shutil.copytree(source / name, root / name)
    if table == "validation_data":
        shutil.rmtree(root / "train_data")  # the validation table holds the training runs now
        shutil.copytree(source / "validation_data", root / "train_data")
    kind = "identified" if label else "unlabeled"
    with pytest.raises(DataError, match=rf"{table}: all \d+ \w+-mode rows are {kind}"):
        setup_fit(root)


def copy_tables(source, root, names: dict[str, str]):
    """``root`` holding the source's tables under other folder names."""
    for name, folder in names.items():
        shutil.copytree(source / name, root / folder)
    return root


def test_table_folders_named_with_the_lance_suffix_are_read(source, tmp_path):
    from trainlab.data.spectra.store import list_spectra_tables

    names = {n: f"{n}.lance" for n in ("train_data", "validation_data", "test_1")}
    root = copy_tables(source, tmp_path, names)
    assert list_spectra_tables(root) == ["test_1", "train_data", "validation_data"]
    dm = SpectraDataModule(str(root), polarity=None, batch_size=8, loader={"num_workers": 0})
    dm.setup()
    assert dm.label_counts["train_data"] == setup_fit(source).label_counts["train_data"]
    assert dm.datasets["test"].uri.endswith("test_1.lance")


@pytest.mark.parametrize(
    ("folders", "named"),
    [
        (
            {"train_data": "train_data", "validation_data": "validation_data", "test_1": "test1"},
            "test1",
        ),
        (
            {n: f"spectra/{n}" for n in ("train_data", "validation_data", "test_1")},
            "spectra/train_data",
        ),
    ],
)
def test_tables_under_other_names_or_folders_are_named_in_the_error(
    source, tmp_path, folders, named
):
    root = copy_tables(source, tmp_path, folders)
    dm = SpectraDataModule(str(root), polarity=None, batch_size=8, loader={"num_workers": 0})
    with pytest.raises(DataError, match=rf"other Lance tables there: .*{named}.*set data\.root"):
        dm.setup()


def test_predict_reads_a_table_folder_of_any_name(source, tmp_path):
    root = copy_tables(source, tmp_path, {"test_1": "plate7.lance"})
    dm = SpectraDataModule(str(source), batch_size=8, loader={"num_workers": 0})
    dm.setup_predict(str(root / "plate7.lance"), {})
    assert len(dm._predict) == lance.dataset(str(source / "test_1")).count_rows()


def test_settings_that_are_not_z_scored_are_warned_about(source, tmp_path, caplog):
    import logging

    table = train_rows(source)
    raw = []
    for row in settings_of(table):
        row = list(row)
        row[0] = 60 + 30 * row[0]  # retention time in minutes
        row[5] = 2000.0  # scan window upper m/z
        raw.append(row)
    unscaled = with_column(table, "instrument_settings", raw, pa.list_(pa.float32()))
    with caplog.at_level(logging.WARNING, logger="trainlab.data.spectra.datamodule"):
        setup_fit(source)
    assert "do not look z-scored" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="trainlab.data.spectra.datamodule"):
        setup_fit(foreign_root(source, tmp_path, unscaled))
    assert "train_data: instrument settings slot(s) 0 ms1_retention_time_min (mean 6" in caplog.text
    assert "5 ms1_scan_window_upper_mz (mean 2e+03, std 0)" in caplog.text


def test_a_misnamed_test_table_is_refused_before_fitting(source, tmp_path):
    names = {"train_data": "train_data", "validation_data": "validation_data", "test_1": "test1"}
    root = copy_tables(source, tmp_path, names)
    dm = SpectraDataModule(str(root), polarity=None, batch_size=8, loader={"num_workers": 0})
    with pytest.raises(DataError, match=r"test_1 \(.*other Lance tables there: test1"):
        dm.setup("fit")
    shutil.rmtree(root / "test1")  # no test table at all: fitting goes on (test=false runs)
    dm.setup("fit")


def test_a_root_without_a_test_table_is_refused_before_fitting_when_the_run_tests(source, tmp_path):
    root = copy_tables(source, tmp_path, {n: n for n in ("train_data", "validation_data")})
    dm = SpectraDataModule(str(root), batch_size=8, loader={"num_workers": 0}, test_after_fit=True)
    with pytest.raises(DataError) as error:
        dm.setup("fit")
    message = str(error.value)
    assert f"{root} has no test table test_1 (spectra tables there: train_data, " in message
    assert "validation_data)" in message and "test=false" in message
    shutil.copytree(source / "test_1", root / "test_2")  # another test table: named as the fix
    with pytest.raises(DataError, match=r"Fix: data\.test_table=test_2 \(tables there: test_2\)"):
        dm.setup("fit")
    dm.test_table = "test_2"
    dm.setup("fit")
    assert "test" not in dm.datasets and dm._opened_test is not None


def test_the_data_config_follows_the_top_level_test_switch():
    from tests.integration.spectra.spectra_runs import compose_train

    assert compose_train(["experiment=spectra/nnpu"]).data.test_after_fit is True
    assert compose_train(["experiment=spectra/nnpu", "test=false"]).data.test_after_fit is False


def test_a_test_table_of_the_other_polarity_only_is_refused_before_fitting(source, tmp_path):
    from trainlab.data.spectra.schema import polarity_of
    from trainlab.data.spectra.store import flat_settings

    root = copy_tables(source, tmp_path, {"train_data": "train_data", "validation_data": "v"})
    (root / "v").rename(root / "validation_data")
    test = lance.dataset(str(source / "test_1")).to_table()
    negative = polarity_of(flat_settings(test.column("instrument_settings"), test.num_rows)) == 0
    lance.write_dataset(test.filter(pa.array(negative)), str(root / "test_1"))
    dm = SpectraDataModule(str(root), polarity=1, batch_size=8, loader={"num_workers": 0})
    with pytest.raises(DataError, match=r"test_1 has no rows of polarity 1 \(positive\)"):
        dm.setup("fit")
    fine = SpectraDataModule(str(source), polarity=1, batch_size=8, loader={"num_workers": 0})
    fine.setup("fit")
    assert "test" not in fine.datasets  # checked, set up only for the test
    fine.setup("test")
    assert fine.datasets["test"] is fine._opened_test
