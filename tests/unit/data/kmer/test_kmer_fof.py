"""kmtricks fof files saved by other tools: a byte-order mark, CRLF, comments, spaces."""

from pathlib import Path

from trainlab.data.kmer.fof import read_fof


def test_byte_order_mark_is_not_part_of_the_first_id(tmp_path: Path) -> None:
    fof = tmp_path / "kmtricks.fof"
    fof.write_bytes("\ufeffERR1 : /r/a b.fq ; /r/c.fq\r\n# note\r\n\r\nERR2 : /r/d.fq\r\n".encode())
    # before: ['\ufeffERR1', 'ERR2']; the first sample then matched no metadata row
    assert read_fof(fof) == ["ERR1", "ERR2"]
