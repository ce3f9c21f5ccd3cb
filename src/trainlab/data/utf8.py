"""One check for text files that must be UTF-8 (and hold no NUL byte): where the first other
byte is, and the fix."""

from __future__ import annotations

from pathlib import Path

from trainlab.errors import DataError


def check_utf8(path: Path, key: str | None = None) -> None:
    """Raise DataError naming the byte offset and line of the first byte that is not UTF-8,
    or of the first NUL byte.

    Never a guessed encoding: a wrong guess (Latin-1 for cp1252, say) changes characters
    without a word. ``key``: the config key that points at the file, named in the fix.
    """
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Excel's "Unicode Text" export: the cp1252 advice below would turn it into NUL bytes
        point = f" and point {key} at it" if key else ""
        raise DataError(
            f"{path} is UTF-16 text (it starts with a UTF-16 byte order mark, as Excel's "
            "'Unicode Text' export writes), not UTF-8. Convert it: `iconv -f utf-16 -t utf-8 "
            f"{path} > {path.stem}.utf8{path.suffix}`{point}."
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        point = f", and point {key} at the converted file" if key else ""
        raise DataError(
            f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} at byte offset {err.start} "
            f"(line {line}) cannot be decoded ({err.reason}). Re-save it as UTF-8, e.g. "
            f"`iconv -f cp1252 -t utf-8 {path} > {path.stem}.utf8{path.suffix}` for a file "
            f"from Windows (or `-f` the encoding it was written in){point}."
        ) from None
    nul = data.find(b"\x00")
    if nul >= 0:  # valid UTF-8, but no text: 'so\x00il' was a class of its own
        raise nul_error(path, nul, data.count(b"\n", 0, nul) + 1)


def nul_error(path: Path, offset: int, line: int) -> DataError:
    """The error for a NUL byte in a text file: no text holds one, and blocks of them are
    what an interrupted copy or write leaves."""
    return DataError(
        f"{path}, line {line}: a NUL byte (byte offset {offset}), which no text holds; blocks "
        "of them are left by an interrupted copy or write. Get a complete copy of the file, or "
        f"remove them: `tr -d '\\000' < {path} > {path.stem}.clean{path.suffix}`."
    )
