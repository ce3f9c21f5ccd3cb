"""kmtricks fof files saved by other tools: a byte-order mark, CRLF, comments, spaces."""

from pathlib import Path

from trainlab.data.kmer.fof import read_fof


def test_byte_order_mark_is_not_part_of_the_first_id(tmp_path: Path) -> None:
    fof = tmp_path / "kmtricks.fof"
    fof.write_bytes("\ufeffERR1 : /r/a b.fq ; /r/c.fq\r\n# note\r\n\r\nERR2 : /r/d.fq\r\n".encode())
    # before: ['\ufeffERR1', 'ERR2']; the first sample then matched no metadata row
    assert read_fof(fof) == ["ERR1", "ERR2"]


def test_a_nul_byte_in_the_fof_is_refused_with_its_line(tmp_path: Path) -> None:
    import pytest

    from trainlab.errors import DataError

    path = tmp_path / "kmtricks.fof"
    path.write_bytes(b"S1 : /r/S1.fq.gz\nS\x002 : /r/S2.fq.gz\n")  # before: sample id 'S\x002'
    with pytest.raises(DataError, match=r"kmtricks\.fof, line 2: a NUL byte"):
        read_fof(path)
