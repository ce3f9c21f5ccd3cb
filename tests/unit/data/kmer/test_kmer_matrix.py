"""MUSET text matrices as they arrive: empty, compressed, other separators, blank lines."""

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest

from trainlab.data.kmer.matrix import load_matrix
from trainlab.data.kmer.metadata import read_metadata
from trainlab.errors import DataError

ROWS = "0 0.1 0.2 0.3\n1 0.4 0.5 0.6\n2 0.7 0.8 0.9\n"


def matrix_files(tmp_path: Path, content: bytes, name: str = "unitigs.frac.mat") -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "kmtricks.fof").write_text("A : a.fq\nB : b.fq\nC : c.fq\n")
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_empty_files_are_named(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, b"")
    # before: pandas EmptyDataError tracebacks, for the matrix and for the metadata
    with pytest.raises(DataError, match=r"unitigs\.frac\.mat is empty"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")
    meta = tmp_path / "meta.tsv"
    meta.write_bytes(b"")
    with pytest.raises(DataError, match=r"meta\.tsv is empty"):
        read_metadata(meta, task_columns=["sample_type"])


@pytest.mark.parametrize(
    ("compress", "kind"), [(gzip.compress, "gzip"), (bz2.compress, "bzip2")], ids=["gz", "bz2"]
)
def test_compressed_matrix_says_decompress(tmp_path: Path, compress, kind: str) -> None:
    matrix = matrix_files(tmp_path, compress(ROWS.encode()), "unitigs.frac.mat.gz")
    # before: "could not broadcast input array from shape (3,3) into shape (3,1)"
    with pytest.raises(DataError, match=f"{kind}-compressed") as err:
        load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert "data.matrix_path" in str(err.value)


def test_tab_separated_matrix_reads_like_the_space_separated_one(tmp_path: Path) -> None:
    spaced = load_matrix(matrix_files(tmp_path / "s", ROWS.encode()), cache_dir=tmp_path / "c")
    tabbed = matrix_files(tmp_path / "t", ROWS.replace(" ", "\t").encode())
    # before: "has 0 sample columns but the fof lists 3 samples"
    loaded = load_matrix(tabbed, cache_dir=tmp_path / "c")
    assert loaded.feature_ids == spaced.feature_ids == ["0", "1", "2"]
    assert (loaded.values == spaced.values).all()


def test_runs_of_spaces_are_named_not_blamed_on_the_fof(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, ROWS.replace(" ", "  ").encode())
    # before: "has 6 sample columns but the fof lists 3 samples. Use the kmtricks.fof of the
    # run that produced this matrix"
    with pytest.raises(DataError, match=r"unitigs\.frac\.mat:1: .*single spaces"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ROWS + "\n\n", r"unitigs\.frac\.mat:4: the line is blank"),
        (
            ROWS.replace("1 0.4 0.5 0.6", "1 0.4 0.5"),
            r"unitigs\.frac\.mat:2: .* 2 values, 3 needed",
        ),
    ],
    ids=["trailing_blank_lines", "row_one_short"],
)
def test_malformed_rows_are_named_as_what_they_are(
    tmp_path: Path, content: str, message: str
) -> None:
    matrix = matrix_files(tmp_path, content.encode())
    # before: both read "a NaN or missing value (the cell is 'nan'/'NA' or empty) in sample
    # column 1 (3) of this unitig row"
    with pytest.raises(DataError, match=message):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_npz_ids_saved_as_objects_are_refused_with_the_fix(tmp_path: Path) -> None:
    ids = np.array(["S1", "S2"], dtype=object)  # what `frame.index.to_numpy()` gives
    np.savez(tmp_path / "m.npz", X=np.eye(2, dtype=np.float32), sample_ids=ids)
    # before: "ValueError: Object arrays cannot be loaded when allow_pickle=False" traceback
    with pytest.raises(DataError, match=r"m\.npz: 'sample_ids' is an array of Python objects"):
        load_matrix(tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("name", "cell", "message"),
    [
        ("unitigs.frac.mat", "-0.2", r"unitigs\.frac\.mat:2: -0\.2 in sample column 2, .*negative"),
        ("unitigs.abundance.mat", "-3", r"unitigs\.abundance\.mat:2: -3 in sample column 2"),
        ("unitigs.frac.mat", "1.5", r"unitigs\.frac\.mat:2: 1\.5 in sample column 2, .*\[0, 1\]"),
    ],
    ids=["negative_fraction", "negative_abundance", "fraction_above_1"],
)
def test_values_muset_cannot_write_are_refused(
    tmp_path: Path, name: str, cell: str, message: str
) -> None:
    matrix = matrix_files(tmp_path, ROWS.replace("0.5", cell).encode(), name)
    # before: loaded as they were and trained on
    with pytest.raises(DataError, match=message):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_abundances_above_1_are_fine(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, ROWS.replace("0.5", "12.5").encode(), "unitigs.abundance.mat")
    assert float(load_matrix(matrix, cache_dir=tmp_path / "cache").values[1, 1]) == 12.5


def test_duplicated_ids_stored_in_a_binary_matrix_name_that_file(tmp_path: Path) -> None:
    from trainlab.data.kmer.dataset import load_kmer_dataset

    ids = np.array(["S1", "S2", "S2"])
    np.savez(tmp_path / "m.npz", X=np.eye(3, dtype=np.float32), sample_ids=ids)
    meta = tmp_path / "meta.tsv"
    meta.write_text("Run_accession\tsample_type\nS1\tA\nS2\tB\nS3\tA\n")
    # before: "Fix the kmtricks.fof so each sample appears once" (there was no fof; a fof
    # with duplicates never gets this far, read_fof refuses it)
    with pytest.raises(DataError, match=r"sample ids are duplicated: \['S2'\]") as err:
        load_kmer_dataset(tmp_path / "m.npz", meta, tasks=["sample_type"])
    assert str(tmp_path / "m.npz") in str(err.value) and "kmtricks.fof" not in str(err.value)


NUMERIC_FOF = "1 : /r/a.fq\n2 : /r/b.fq\n3 : /r/c.fq\n"  # the ids MUSET's README fof recipe gives
COUNTS = "0 0.50 2.00 0.00\n1 1.00 0.00 3.00\n"
COUNTS_T = [[0.5, 1.0], [2.0, 0.0], [0.0, 3.0]]


@pytest.mark.parametrize(
    ("header", "name", "fof"),
    [
        ("unitig_id 1 2 3\n", "unitigs.abundance.mat", NUMERIC_FOF),
        (" 1 2 3\n", "unitigs.abundance.mat", NUMERIC_FOF),  # pandas to_csv: empty corner
        ("1 2 3\n", "unitigs.abundance.mat", NUMERIC_FOF),  # R write.table: no corner
        ("unitig_id A B C\n", "unitigs.abundance.mat", None),
        # MUSET --output-format tsv, gunzipped: placeholders in fof order, a trailing tab
        ("unitig_id\tsample_0\tsample_1\tsample_2\t\n", "unitigs.abundance.tsv", None),
        ("unitig_id 0 1 2\n", "unitigs.abundance.mat", None),  # column numbers
    ],
    ids=["numeric_ids", "empty_corner", "no_corner", "text_ids", "muset_tsv", "column_numbers"],
)
def test_a_header_line_is_read_as_one(
    tmp_path: Path, header: str, name: str, fof: str | None
) -> None:
    rows = COUNTS.replace(" ", "\t") if "\t" in header else COUNTS
    matrix = matrix_files(tmp_path, (header + rows).encode(), name)
    if fof is not None:
        (tmp_path / "kmtricks.fof").write_text(fof)
    # before: numeric names became a unitig row 'unitig_id' (or 'nan') of values 1, 2, 3; text
    # names stopped with "cannot parse ... no header"
    loaded = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert loaded.feature_ids == ["0", "1"]
    np.testing.assert_array_equal(np.asarray(loaded.values), COUNTS_T)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "unitig_id C B A\n",
            r":1: the header names the fof's samples in another order \(column 1",
        ),
        (
            "unitig_id A B X\n",
            r":1: a header line naming 3 samples, 1 of them not in the fof .*'X'",
        ),
        ("unitig_id\tsample_0\tsample_1\n", r"has 2 sample columns but the fof lists 3"),
        ("unitig_id 7 8 9\n", r":1: a header line naming 3 samples, 3 of them not in the fof"),
    ],
    ids=["other_order", "other_samples", "placeholders_miscounted", "numeric_other_ids"],
)
def test_a_header_that_does_not_match_the_fof_is_refused(
    tmp_path: Path, header: str, message: str
) -> None:
    rows = COUNTS.replace(" ", "\t") if "\t" in header else COUNTS
    matrix = matrix_files(tmp_path, (header + rows).encode(), "unitigs.abundance.mat")
    with pytest.raises(DataError, match=message):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_a_row_without_its_unitig_id_is_refused(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, (b"0 0.5 2.0 0.0\n 1.0 0.0 3.0\n"), "u.abundance.mat")
    # before: read as a unitig named 'nan'
    with pytest.raises(DataError, match=r"u\.abundance\.mat:2: the row has no unitig id"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_the_combined_matrix_of_old_muset_is_named(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, b"0 0.00;0.00 2.00;1.00 1.50;0.50\n", "unitigs.mat")
    # before: "cannot parse ... (could not convert string to float: '0.00;0.00')"
    with pytest.raises(DataError, match=r"unitigs\.mat:1: .*'abundance;fraction' unitigs\.mat"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_a_header_is_checked_against_the_fof_of_each_run(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, ("x 5 7 9\n" + COUNTS).encode(), "unitigs.abundance.mat")
    (tmp_path / "kmtricks.fof").write_text("5 : a\n7 : b\n9 : c\n")
    assert load_matrix(matrix, cache_dir=tmp_path / "cache").feature_ids == ["0", "1"]
    # with another fof, line 1 names none of its samples: 'x' is no unitig id (line 2 starts
    # with one), so it is a header of other samples (before: a unitig 'x' of values 5, 7, 9;
    # the cached parse, made with line 1 skipped, is not used either way)
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\nC : c\n")
    with pytest.raises(DataError, match=r":1: the line starts with 'x', which is not a unitig"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


def test_a_csv_is_read_like_the_space_separated_matrix(tmp_path: Path) -> None:
    matrix = matrix_files(tmp_path, COUNTS.replace(" ", ",").encode(), "unitigs.csv")
    # before: "has 0 sample columns but the fof lists 3 samples. Use the kmtricks.fof of ..."
    np.testing.assert_array_equal(
        np.asarray(load_matrix(matrix, cache_dir=tmp_path / "cache").values), COUNTS_T
    )


def test_two_matrices_joined_are_refused(tmp_path: Path) -> None:
    run1, run2 = "0 0.1 0.2 0.3\n1 0.4 0.5 0.6\n", "0 0.9 0.8 0.7\n1 0.6 0.5 0.4\n2 0.1 0.1 0.1\n"
    matrix = matrix_files(tmp_path, (run1 + run2).encode())  # `cat run1.mat run2.mat`
    # before: read as 5 unitigs, two of each id, without a word
    with pytest.raises(DataError, match=r"2 unitig ids are on more than one row \(2 repeated "
                       r"rows\), e.g. '0' on lines 1 and 3"):  # fmt: skip
        load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("values.npy"))  # nothing cached


def test_a_unitig_row_that_spells_numeric_fof_ids_is_data(tmp_path: Path) -> None:
    # integer counts (a kmtricks-style matrix) on GGCAT unitig 7, against the ids 1 and 2
    matrix = matrix_files(tmp_path, b"7 1 2\n8 0 5\n", "unitigs.abundance.mat")
    (tmp_path / "kmtricks.fof").write_text("1 : a.fq\n2 : b.fq\n")
    loaded = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert loaded.feature_ids == ["7", "8"]
    np.testing.assert_array_equal(np.asarray(loaded.values), [[1, 0], [2, 5]])


def test_a_header_without_rows_and_a_blank_first_line_are_named(tmp_path: Path) -> None:
    # MUSET whose filters kept no unitig writes its TSV header alone
    only = matrix_files(tmp_path / "h", b"unitig_id\tsample_0\tsample_1\tsample_2\t\n", "u.tsv")
    # before: the header became the one unitig, of values 1, 2, 3 (then: EmptyDataError)
    with pytest.raises(DataError, match=r"u\.tsv holds a header line and no unitig row"):
        load_matrix(only, cache_dir=tmp_path / "cache")
    blank = matrix_files(tmp_path / "b", ("\n" + COUNTS).encode(), "unitigs.abundance.mat")
    # before: pandas' EmptyDataError traceback
    with pytest.raises(DataError, match=r"unitigs\.abundance\.mat:1: the line is blank"):
        load_matrix(blank, cache_dir=tmp_path / "cache")


def test_a_tab_separated_header_of_ids_with_spaces_is_read(tmp_path: Path) -> None:
    rows = COUNTS.replace(" ", "\t")
    matrix = matrix_files(tmp_path, ("unitig_id\tS 1\tS 2\tS 3\n" + rows).encode(), "u.tsv")
    (tmp_path / "kmtricks.fof").write_text("S 1 : a.fq\nS 2 : b.fq\nS 3 : c.fq\n")
    # before: "the line mixes tabs and spaces"
    loaded = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert loaded.sample_ids == ["S 1", "S 2", "S 3"] and loaded.feature_ids == ["0", "1"]
    np.testing.assert_array_equal(np.asarray(loaded.values), COUNTS_T)


def test_windows_line_ends_are_read_and_lone_carriage_returns_named(tmp_path: Path) -> None:
    crlf_text = ("unitig_id 1 2 3\n" + COUNTS).replace("\n", "\r\n")
    crlf = matrix_files(tmp_path / "w", crlf_text.encode(), "unitigs.abundance.mat")
    (tmp_path / "w" / "kmtricks.fof").write_text(NUMERIC_FOF.replace("\n", "\r\n"))
    loaded = load_matrix(crlf, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(loaded.values), COUNTS_T)
    mac = matrix_files(tmp_path / "m", COUNTS.replace("\n", "\r").encode(), "u.abundance.mat")
    # before: "cannot parse ... (could not broadcast input array from shape (3,2) into (3,1))"
    with pytest.raises(DataError, match=r"u\.abundance\.mat: lines end in a carriage return"):
        load_matrix(mac, cache_dir=tmp_path / "cache")


def test_binary_feature_ids_must_be_one_per_column_and_unique(tmp_path: Path) -> None:
    x = np.zeros((3, 4), dtype=np.float32)
    ids = np.array(["S1", "S2", "S3"])
    np.savez(tmp_path / "joined.npz", X=x, sample_ids=ids, feature_ids=np.array(["0", "1"] * 2))
    # before: loaded, two features of each id
    with pytest.raises(DataError, match=r"2 feature ids are on more than one column, e\.g\. '0' "
                       r"on columns 0 and 2"):  # fmt: skip
        load_matrix(tmp_path / "joined.npz")
    np.savez(tmp_path / "short.npz", X=x, sample_ids=ids, feature_ids=np.array(["0", "1", "2"]))
    with pytest.raises(DataError, match=r"has 4 feature columns but 3 feature ids"):
        load_matrix(tmp_path / "short.npz")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # before: a unitig 'sample' of values 5, 9, 12 (an abundance matrix), or "5 in sample
        # column 1, but a fraction matrix holds values in [0, 1]" (a fraction matrix)
        (
            "sample 5 9 12\n" + COUNTS,
            r"m\.mat:1: the line starts with 'sample', which is not a "
            r"unitig id .*then 3 numbers \(5 9 12\): a header .*sed -i 1d",
        ),
        ("samples 1 2 3\n" + COUNTS, r"m\.mat:1: the line starts with 'samples'"),
        # before: "a header line naming 3 samples, 3 of them not in the fof (e.g. 'a' ..."
        (
            "0 a b c\n" + COUNTS,
            r"m\.mat:1: unitig '0' holds 'a' in sample column 1, which is "
            r"not a number",
        ),
        # before: "cannot parse ... (could not convert string to float: 'x')", no line
        (COUNTS + "9 0.1 x 0.2\n", r"m\.mat:3: unitig '9' holds 'x' in sample column 2"),
        # before: "a header line naming 3 samples, 3 of them not in the fof (e.g. 'MUSET' ..."
        (
            "# MUSET v0.6 output\n" + COUNTS,
            r"m\.mat:1: a comment line \('# MUSET v0\.6 "
            r"output'\)\. A MUSET matrix has no comment lines.*sed -i 1d",
        ),
    ],
    ids=["numeric_header_word", "column_numbers_word", "row_of_words", "later_row", "comment"],
)
def test_first_lines_that_are_neither_header_nor_row_are_named(
    tmp_path: Path, content: str, message: str
) -> None:
    matrix = matrix_files(tmp_path, content.encode(), "m.mat")
    with pytest.raises(DataError, match=message):
        load_matrix(matrix, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("header", ["# unitig_id A B C\n", "#A B C\n"])
def test_a_header_behind_a_comment_sign_is_read(tmp_path: Path, header: str) -> None:
    # before: "a header line naming 4 samples, 1 of them not in the fof (e.g. 'unitig_id')"
    matrix = matrix_files(tmp_path, (header + COUNTS).encode(), "unitigs.abundance.mat")
    loaded = load_matrix(matrix, cache_dir=tmp_path / "cache")
    assert loaded.feature_ids == ["0", "1"]
    np.testing.assert_array_equal(np.asarray(loaded.values), COUNTS_T)


def test_rows_of_another_tool_with_word_ids_stay_data(tmp_path: Path) -> None:
    # ids that are no MUSET unitig ids on every row: line 1 is a row like the others
    matrix = matrix_files(tmp_path, b"utg_0 1 2 3\nutg_1 4 5 6\n", "unitigs.abundance.mat")
    assert load_matrix(matrix, cache_dir=tmp_path / "cache").feature_ids == ["utg_0", "utg_1"]


def _npy_header(shape: tuple[int, ...]) -> bytes:
    import io

    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("short.npy", _npy_header((100_000, 100_000)) + bytes(16), "mmap length is greater"),
        ("negative.npy", _npy_header((-5, 3)) + bytes(16), "negative dimensions"),
    ],
    ids=["declares_more_than_it_holds", "negative_shape"],
)
def test_a_damaged_binary_matrix_is_refused_with_the_file(tmp_path, name, content, said):
    # before: bare ValueError / BadZipFile tracebacks, most without the file name
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"{name} cannot be read as a numpy array .*{said}"):
        load_matrix(path)


def test_a_file_that_is_not_numpy_is_not_unpickled_and_is_named(tmp_path: Path) -> None:
    # before: numpy's "contains pickled (object) data ... load it unsafely using allow_pickle"
    path = tmp_path / "text.npz"
    path.write_bytes(b"values,1,2\n")
    with pytest.raises(DataError, match=r"text\.npz is not a numpy \.npz file") as caught:
        load_matrix(path)
    assert "allow_pickle" not in str(caught.value)


def test_an_npz_declaring_a_huge_array_is_refused_with_the_file(tmp_path: Path) -> None:
    # 150 bytes declaring 10^18 float32 values: before, numpy's MemoryError traceback
    import zipfile

    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("values.npy", _npy_header((10**9, 10**9)) + bytes(16))
    with pytest.raises(DataError, match=r"huge\.npz cannot be read as a numpy array"):
        load_matrix(path)


def test_a_cut_short_parquet_matrix_is_refused_with_the_file(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"sample_id": ["S1", "S2"], "u0": [0.1, 0.2], "u1": [0.3, 0.4]})
    frame.to_parquet(tmp_path / "whole.parquet")
    data = (tmp_path / "whole.parquet").read_bytes()
    path = tmp_path / "cut.parquet"
    path.write_bytes(data[: len(data) // 2])  # before: pyarrow's ArrowInvalid traceback
    with pytest.raises(DataError, match=r"cut\.parquet cannot be read as Parquet .*to_parquet"):
        load_matrix(path)
