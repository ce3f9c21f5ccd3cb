"""Tables written in each Lance storage format this pylance writes load identically.

pylance 14.0.2 writes ``data_storage_version`` legacy (= 0.1), 2.0, 2.1 and 2.2 (= stable, the
default); 2.3 (= next) is marked unstable by Lance itself and 3.0 is refused. The legacy format
reads an empty string back as null, which made two tables of empty ``mzml_filepath`` "the same
file" before ``as_schema_types`` filled missing text.
"""

import lance
import pyarrow as pa
import pytest

from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra
from trainlab.data.spectra.table_checks import checked_fingerprints

SPEC = {"n_train": 60, "n_validation": 30, "n_test": 30, "min_peaks": 3, "max_peaks": 8}
TABLES = ("train_data", "validation_data", "test_1")
FORMATS = {"legacy": "0.1", "2.0": "2.0", "2.1": "2.1", "2.2": "2.2"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectra")
    generate_spectra(root, SyntheticSpec(**SPEC))
    return root


def blanked(table: pa.Table) -> pa.Table:
    """As other pipelines write them: empty compound names and converted-file paths."""
    for name in ("compound_name", "mzml_filepath"):
        table = table.set_column(
            table.column_names.index(name), name, pa.array([""] * table.num_rows)
        )
    return table


def loaded(root) -> dict:
    dm = SpectraDataModule(str(root), batch_size=1000, loader={"num_workers": 0})
    dm.setup("fit")
    dm.setup("test")
    batches = {
        split: {k: v.tolist() for k, v in data[list(range(len(data)))].items()}
        for split, data in dm.datasets.items()
    }
    prints = {
        name: checked_fingerprints(lance.dataset(str(root / name)), name).tolist()
        for name in TABLES
    }
    runs = {
        name: {k: (v.path, v.keys.tolist()) for k, v in dm._prints(s).items()}
        for s, name in zip(("train", "val", "test"), TABLES, strict=True)
    }
    return {"counts": dm.label_counts, "batches": batches, "prints": prints, "runs": runs}


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory):
    root = tmp_path_factory.mktemp("default_format")
    for name in TABLES:
        lance.write_dataset(blanked(lance.dataset(str(source / name)).to_table()), str(root / name))
    assert lance.dataset(str(root / "train_data")).data_storage_version == "2.2"
    return loaded(root)


@pytest.mark.parametrize("version", list(FORMATS))
def test_each_storage_format_loads_the_same_rows(source, reference, tmp_path, version):
    for name in TABLES:
        table = blanked(lance.dataset(str(source / name)).to_table())
        lance.write_dataset(table, str(tmp_path / name), data_storage_version=version)
    assert lance.dataset(str(tmp_path / "train_data")).data_storage_version == FORMATS[version]
    assert loaded(tmp_path) == reference
