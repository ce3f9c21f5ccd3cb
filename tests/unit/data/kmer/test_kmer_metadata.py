"""Metadata TSVs as real exports write them: blank groups, ragged rows, missing-value terms."""

from pathlib import Path

import pytest

from trainlab.data.kmer.metadata import encode_labels, read_metadata
from trainlab.errors import DataError


def write_tsv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def test_samples_without_a_group_are_each_their_own_group(tmp_path: Path) -> None:
    meta = write_tsv(
        tmp_path / "meta.tsv",
        "Run_accession\tsample_type\tproject\nS1\tA\tP1\nS2\tB\t\nS3\tA\tNA\nS4\tB\t  \n",
    )
    frame = read_metadata(meta, task_columns=["sample_type"], group_column="project")
    groups = encode_labels(frame, ["sample_type"], "project").groups.tolist()
    assert groups[0] == "P1"
    # before: the three blank cells came back as one shared NaN group
    assert len(set(groups)) == 4
    assert all(isinstance(g, str) for g in groups)


@pytest.mark.parametrize(
    ("host_cells", "message"),
    [
        (["", "NA", "", ""], r"task 'host' has no label \(all 4 rows"),
        (["human", "human", "", "human"], r"task 'host' has one class \['human'\]"),
    ],
    ids=["no_labels", "one_class"],
)
def test_a_task_needs_two_classes(tmp_path: Path, host_cells: list[str], message: str) -> None:
    rows = [f"S{i}\t{'AB'[i % 2]}\t{h}" for i, h in enumerate(host_cells)]
    meta = write_tsv(tmp_path / "meta.tsv", "Run_accession\tsample_type\thost\n" + "\n".join(rows))
    frame = read_metadata(meta, task_columns=["sample_type", "host"])
    # before: encoded as a task with 0 (or 1) classes; training then ended in an IndexError
    # from argmax over an empty head (or a task scoring 1.0 that lifted the mean over tasks)
    with pytest.raises(DataError, match=message) as err:
        encode_labels(frame, ["sample_type", "host"], source=str(meta))
    assert str(meta) in str(err.value) and "data.tasks" in str(err.value)


def test_trailing_tabs_keep_columns_in_place(tmp_path: Path) -> None:
    # spreadsheet exports often end data rows (not the header) with a tab; pandas then took
    # the first column as the index and shifted every column left: the labels became the ids
    meta = write_tsv(
        tmp_path / "meta.tsv",
        "Run_accession\tsample_type\tproject\nS1\tA\tP1\t\nS2\tB\tP2\t\nS3\tA\tP3\t\n",
    )
    frame = read_metadata(meta, task_columns=["sample_type"], group_column="project")
    assert frame["Run_accession"].tolist() == ["S1", "S2", "S3"]
    assert frame["sample_type"].tolist() == ["A", "B", "A"]
    assert frame["project"].tolist() == ["P1", "P2", "P3"]


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ("S1\tA\tP1\textra\nS2\tB\tP2\n", "first data row has more fields"),
        ("S1\tA\tP1\nS2\tB\tP2\textra\n", r"meta.tsv:3: 4 tab-separated fields"),
    ],
    ids=["first_row", "later_row"],
)
def test_a_row_longer_than_the_header_is_refused(tmp_path: Path, rows: str, where: str) -> None:
    meta = write_tsv(tmp_path / "meta.tsv", "Run_accession\tsample_type\tproject\n" + rows)
    # before: the first shifted all columns (ids became labels); the second was a
    # pandas ParserError traceback
    with pytest.raises(DataError, match=where) as err:
        read_metadata(meta, task_columns=["sample_type"], group_column="project")
    assert str(meta) in str(err.value) and "3 columns" in str(err.value)


def test_labels_differing_only_in_case_or_spacing_are_refused(tmp_path: Path) -> None:
    meta = write_tsv(
        tmp_path / "meta.tsv",
        "Run_accession\tsample_type\nS1\tSoil\nS2\tsoil \nS3\tgut  content\nS4\tgut content\n",
    )
    frame = read_metadata(meta, task_columns=["sample_type"])
    # before: four classes, 'Soil' and 'soil' (and the two spellings of gut content) learned
    # and scored as different classes
    with pytest.raises(DataError, match=r"task 'sample_type'.*\['Soil', 'soil'\]") as err:
        encode_labels(frame, ["sample_type"], source=str(meta))
    assert "['gut  content', 'gut content']" in str(err.value) and str(meta) in str(err.value)


def test_insdc_missing_value_terms_are_missing_labels(tmp_path: Path) -> None:
    cells = ["soil", "not collected", "Not Provided", "missing: control sample", "gut"]
    cells += ["restricted access", "not applicable", "missing"]
    rows = [f"S{i}\t{c}\t{c}" for i, c in enumerate(cells)]
    meta = write_tsv(
        tmp_path / "meta.tsv", "Run_accession\tsample_type\tproject\n" + "\n".join(rows) + "\n"
    )
    frame = read_metadata(meta, task_columns=["sample_type"], group_column="project")
    labels = encode_labels(frame, ["sample_type"], "project")
    # before: each INSDC term (what ENA/SRA exports hold where a value is absent) was a class
    assert labels.tasks == {"sample_type": ["gut", "soil"]}
    assert labels.y[:, 0].tolist() == [1, -1, -1, -1, 0, -1, -1, -1]
    assert len(set(labels.groups.tolist())) == len(cells)  # each its own group


def test_rows_of_empty_cells_are_blank_lines(tmp_path: Path) -> None:
    # spreadsheet exports end with rows of tabs; before: "meta.tsv:4: empty Run_accession"
    meta = write_tsv(
        tmp_path / "meta.tsv", "Run_accession\tsample_type\nS1\tA\nS2\tB\n\t\n \t \n\n"
    )
    frame = read_metadata(meta, task_columns=["sample_type"])
    assert frame["Run_accession"].tolist() == ["S1", "S2"]


def test_an_empty_id_is_reported_on_its_own_line(tmp_path: Path) -> None:
    meta = write_tsv(tmp_path / "meta.tsv", "Run_accession\tsample_type\n\nS1\tA\n\n\tB\nS3\tA\n")
    # before: line 3 (pandas skips blank lines, the row number did not count them)
    with pytest.raises(DataError, match=r"meta\.tsv:5: empty Run_accession"):
        read_metadata(meta, task_columns=["sample_type"])


def test_a_comment_above_the_header_is_shown_as_the_header(tmp_path: Path) -> None:
    meta = write_tsv(
        tmp_path / "meta.tsv", "# exported from ENA\nRun_accession\tsample_type\nS1\tA\nS2\tB\n"
    )
    # the longer-row check must still show what it took for the header
    with pytest.raises(DataError, match=r"header \(line 1\) has 1 columns: \['# exported from"):
        read_metadata(meta, task_columns=["sample_type"])


@pytest.mark.parametrize(
    ("fof_ids", "meta_ids", "hint"),
    [
        (["ERR1", "ERR2", "ERR3"], ["err1", "ERR2", "ERR3"], "(e.g. fof 'ERR1', metadata 'err1')"),
        (
            ["ERR1", "ERR2", "ERR3"],
            ["ERR1.fastq.gz", "ERR2", "ERR3"],
            "(e.g. fof 'ERR1', metadata 'ERR1.fastq.gz')",
        ),
        # MUSET's generate_fof names each mate of a pair: two fof samples per run
        (["ERR1_1", "ERR1_2", "ERR2_1"], ["ERR1", "ERR2"], "3 of the matrix samples differ"),
    ],
    ids=["case", "read_file_suffix", "mates"],
)
def test_ids_that_differ_only_in_case_or_suffix_are_named_never_matched(
    tmp_path: Path, fof_ids: list[str], meta_ids: list[str], hint: str
) -> None:
    from trainlab.data.kmer.metadata import align_metadata

    rows = "".join(f"{s}\t{'AB'[i % 2]}\n" for i, s in enumerate(meta_ids))
    meta = write_tsv(tmp_path / "meta.tsv", "Run_accession\tsample_type\n" + rows)
    frame = read_metadata(meta, task_columns=["sample_type"])
    # before: the ids were listed, with no word that they differ only in case or suffix
    with pytest.raises(DataError, match="only in case or by a read-file suffix") as err:
        align_metadata(fof_ids, frame)
    assert hint in str(err.value)


def test_a_utf16_metadata_file_is_named_as_such(tmp_path) -> None:
    # Excel's "Unicode Text" export; before: "byte 0xff ... iconv -f cp1252", which gives NULs
    path = tmp_path / "meta.tsv"
    path.write_bytes("Run_accession\tsample_type\nS0\tgut\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"is UTF-16 text .* `iconv -f utf-16 -t utf-8"):
        read_metadata(path, task_columns=["sample_type"])


def test_a_nul_byte_in_the_metadata_is_refused_with_its_line(tmp_path: Path) -> None:
    # before: read, and 'so\x00il' became a class of its own beside 'soil'
    path = tmp_path / "meta.tsv"
    path.write_bytes(b"Run_accession\tsample_type\nS1\tsoil\nS2\tso\x00il\nS3\tgut\n")
    with pytest.raises(DataError, match=r"meta\.tsv, line 3: a NUL byte \(byte offset 39\)"):
        read_metadata(path, task_columns=["sample_type"])
