"""Readers of MUSET/kmtricks layouts, binary matrices, the cache and metadata alignment."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab.data.kmer import cache
from trainlab.data.kmer.dataset import load_kmer_dataset
from trainlab.data.kmer.fof import find_fof, fof_candidates, read_fof
from trainlab.data.kmer.matrix import load_matrix
from trainlab.errors import DataError

IDS = ["ERR001", "SRR002", "ERR003"]
# 4 unitigs x 3 samples, as MUSET writes it
VALUES = np.array(
    [[0.0, 0.5, 1.0], [0.25, 0.0, 0.75], [1.0, 1.0, 0.0], [0.125, 0.375, 0.5]], dtype=np.float32
)


def write_mat(path: Path, values: np.ndarray = VALUES, trailing: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{i} " + " ".join(f"{v:g}" for v in row) + trailing for i, row in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_fof(path: Path, ids: list[str] = IDS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{s} : /reads/{s}_1.fq.gz ; /reads/{s}_2.fq.gz\n" for s in ids))
    return path


def write_meta(path: Path, ids: list[str], labels: list[str] | None = None) -> Path:
    labels = labels or ["ancient", "modern", ""][: len(ids)] + ["modern"] * (len(ids) - 3)
    rows = ["Run_accession\tsample_type\tproject"]
    rows += [f"{s}\t{lab}\tP{i % 2}" for i, (s, lab) in enumerate(zip(ids, labels, strict=True))]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "fof_rel",
    ["kmtricks.fof", "kmer_matrix/kmtricks.fof", "../kmer_matrix/kmtricks.fof"],
    ids=["beside", "kmer_matrix_next_to_it", "parent_kmer_matrix"],
)
def test_real_layouts_load_transposed(tmp_path: Path, fof_rel: str) -> None:
    matrix = write_mat(tmp_path / "run" / "muset" / "unitigs.frac.mat")
    write_fof((matrix.parent / fof_rel).resolve())
    loaded = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert loaded.sample_ids == IDS
    assert loaded.feature_ids == ["0", "1", "2", "3"]
    assert loaded.values.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(loaded.values), VALUES.T)


def test_fof_search_order_prefers_beside(tmp_path: Path) -> None:
    matrix = write_mat(tmp_path / "run" / "muset" / "unitigs.frac.mat")
    write_fof(tmp_path / "run" / "kmer_matrix" / "kmtricks.fof", ["c", "b", "a"])
    assert find_fof(matrix) == tmp_path / "run" / "kmer_matrix" / "kmtricks.fof"
    write_fof(matrix.parent / "kmer_matrix" / "kmtricks.fof", ["b", "a", "c"])
    assert find_fof(matrix) == matrix.parent / "kmer_matrix" / "kmtricks.fof"
    write_fof(matrix.parent / "kmtricks.fof")
    assert find_fof(matrix) == matrix.parent / "kmtricks.fof"
    assert fof_candidates(matrix)[0] == matrix.parent / "kmtricks.fof"


def test_missing_fof_lists_where_it_looked(tmp_path: Path) -> None:
    matrix = write_mat(tmp_path / "run" / "unitigs.frac.mat")
    with pytest.raises(DataError) as err:
        load_matrix(matrix)
    for place in fof_candidates(matrix):
        assert str(place) in str(err.value)


def test_fof_errors(tmp_path: Path) -> None:
    dup = tmp_path / "dup.fof"
    dup.write_text("A : a.fq\nB : b.fq\nA : c.fq\n")
    with pytest.raises(DataError, match="'A' already on line 1"):
        read_fof(dup)
    bad = tmp_path / "bad.fof"
    bad.write_text("A a.fq\n")
    with pytest.raises(DataError, match=r"bad\.fof:1"):
        read_fof(bad)


def test_trailing_spaces_and_column_mismatch(tmp_path: Path) -> None:
    matrix = write_mat(tmp_path / "m.mat", trailing=" ")
    write_fof(tmp_path / "kmtricks.fof")
    np.testing.assert_array_equal(np.asarray(load_matrix(matrix).values), VALUES.T)
    write_fof(tmp_path / "kmtricks.fof", [*IDS, "extra"])
    other = write_mat(tmp_path / "m2.mat", VALUES + 0.0)  # new content, no cache hit
    with pytest.raises(DataError, match="3 sample columns but the fof lists 4"):
        load_matrix(other)


def test_malformed_values_name_the_line(tmp_path: Path) -> None:
    matrix = tmp_path / "m.mat"
    matrix.write_text("0 0.1 0.2 0.3\n1 0.1 0.2\n")
    write_fof(tmp_path / "kmtricks.fof")
    with pytest.raises(DataError, match=r"m.mat:2"):
        load_matrix(matrix)
    matrix.write_text("0 0.1 x 0.3\n")
    # before: "cannot parse ... (could not convert string to float: 'x')", without the line
    with pytest.raises(DataError, match=r"m.mat:1: unitig '0' holds 'x' in sample column 2"):
        load_matrix(matrix)


def test_cache_is_reused_and_keyed_by_content(tmp_path: Path, monkeypatch) -> None:
    matrix = write_mat(tmp_path / "unitigs.frac.mat")
    write_fof(tmp_path / "kmtricks.fof")
    first = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert isinstance(first.values, np.memmap)
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and (entries[0] / "meta.json").is_file()

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again although the cache is valid")

    monkeypatch.setattr("trainlab.data.kmer.text_matrix._parse_into", no_parse)
    again = load_matrix(matrix, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(again.values), VALUES.T)
    monkeypatch.undo()

    write_mat(matrix, VALUES[:, ::-1])  # same size, other content
    changed = load_matrix(matrix, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(changed.values), VALUES[:, ::-1].T)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_fingerprint_counts_lines_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"a\nb\nc")
    fp = cache.fingerprint(path)
    assert (fp.n_lines, fp.size) == (3, 5)
    path.write_bytes(b"a\nb\nd")
    assert cache.fingerprint(path).sha256 != fp.sha256


def test_npy_npz_parquet(tmp_path: Path) -> None:
    x = VALUES.T.copy()
    np.save(tmp_path / "m.npy", x)
    write_fof(tmp_path / "kmtricks.fof")
    npy = load_matrix(tmp_path / "m.npy")
    assert npy.sample_ids == IDS
    np.testing.assert_array_equal(np.asarray(npy.values), x)

    np.savez(tmp_path / "m.npz", X=x, sample_ids=np.array(["a", "b", "c"]))
    npz = load_matrix(tmp_path / "m.npz")
    assert npz.sample_ids == ["a", "b", "c"]
    np.savez(tmp_path / "bad.npz", other=x)
    with pytest.raises(DataError, match="expected the matrix under"):
        load_matrix(tmp_path / "bad.npz")

    frame = pd.DataFrame(x, columns=["u0", "u1", "u2", "u3"])
    frame.insert(0, "sample_id", ["s1", "s2", "s3"])
    frame.to_parquet(tmp_path / "m.parquet")
    pq = load_matrix(tmp_path / "m.parquet")
    assert pq.sample_ids == ["s1", "s2", "s3"] and pq.feature_ids == ["u0", "u1", "u2", "u3"]
    np.testing.assert_array_equal(pq.values, x)

    np.save(tmp_path / "wrong.npy", x.T)  # unitigs x samples: 4 rows, 3 fof ids
    with pytest.raises(DataError, match="4 rows"):
        load_matrix(tmp_path / "wrong.npy")


def dataset_files(tmp_path: Path, meta_ids: list[str], labels=None) -> tuple[Path, Path]:
    matrix = write_mat(tmp_path / "unitigs.frac.mat")
    write_fof(tmp_path / "kmtricks.fof")
    return matrix, write_meta(tmp_path / "meta.tsv", meta_ids, labels)


def test_dataset_aligns_by_id_and_keeps_missing_labels(tmp_path: Path) -> None:
    matrix, meta = dataset_files(
        tmp_path, ["ERR003", "ERR001", "SRR002"], ["", "modern", "ancient"]
    )
    ds = load_kmer_dataset(matrix, meta, tasks=["sample_type"], group_column="project")
    assert ds.sample_ids == IDS
    assert ds.tasks == {"sample_type": ["ancient", "modern"]}
    assert ds.y[:, 0].tolist() == [1, 0, -1]
    assert ds.groups.tolist() == ["P1", "P0", "P0"]
    assert ds.class_counts() == {"sample_type": [1, 1]}


@pytest.mark.parametrize(
    ("meta_ids", "message"),
    [
        (["ERR001", "SRR002"], r"count mismatch.*3 samples.*2 rows.*'ERR003'"),
        (["ERR001", "SRR002", "ERR003", "X9"], r"count mismatch.*in .*only: 1 \['X9'\]"),
        (["ERR001", "SRR002", "X9"], r"1 matrix samples lack metadata \['ERR003'\].*\['X9'\]"),
        (["ERR001", "SRR002", "SRR002"], r"duplicated: \['SRR002'\]"),
    ],
    ids=["fewer_rows", "more_rows", "ids_differ", "duplicate_metadata"],
)
def test_alignment_errors(tmp_path: Path, meta_ids: list[str], message: str) -> None:
    matrix, meta = dataset_files(tmp_path, meta_ids, ["modern"] * len(meta_ids))
    with pytest.raises(DataError, match=message):
        load_kmer_dataset(matrix, meta, tasks=["sample_type"])


def test_extra_metadata_allowed_when_asked(tmp_path: Path) -> None:
    matrix, meta = dataset_files(tmp_path, [*IDS, "X9"], ["modern", "ancient"] * 2)
    ds = load_kmer_dataset(matrix, meta, tasks=["sample_type"], allow_extra_metadata=True)
    assert ds.sample_ids == IDS and len(ds.y) == 3


def test_duplicate_matrix_ids_and_unknown_columns(tmp_path: Path) -> None:
    from trainlab.data.kmer.metadata import align_metadata, read_metadata

    meta = write_meta(tmp_path / "meta.tsv", IDS)
    frame = read_metadata(meta, "Run_accession", ["sample_type"])
    with pytest.raises(DataError, match=r"Matrix sample ids are duplicated: \['ERR001'\]"):
        align_metadata(["ERR001", "ERR001", "ERR003"], frame)
    with pytest.raises(DataError, match=r"columns \['material'\] not found"):
        read_metadata(meta, "Run_accession", ["sample_type", "material"])
