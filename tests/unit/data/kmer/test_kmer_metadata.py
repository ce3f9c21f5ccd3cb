"""Metadata TSVs as real exports write them: blank groups, ragged rows, missing-value terms."""

from pathlib import Path

from trainlab.data.kmer.metadata import encode_labels, read_metadata


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
