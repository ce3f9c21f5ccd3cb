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
