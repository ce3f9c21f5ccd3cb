"""Find a PNG whose pixel data ends before its last row, which PIL fills with black silently.

PIL stops decoding a PNG when its zlib stream ends, and reports no error when the stream is
complete but holds fewer rows than the header declares (a writer that stopped half-way, a file
patched together from pieces): a 16x16 grey PNG with 8 rows of data decoded as 8 rows of its
grey and 8 of black, passed ``trainlab split`` and trained as a picture no viewer shows. Data
that stops inside a row, or a file cut off inside its data, is refused by PIL already ("image
file is truncated"); the silent case is a complete zlib stream ending at a row boundary.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

# samples a pixel, by PNG colour type (grey, RGB, palette, grey + alpha, RGBA)
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step)
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
ADAM7 += ((0, 1, 1, 2),)
# inflate at most this many bytes at a time: a small hostile file can declare gigabytes
PIECE = 1 << 24


def _row_bytes(width: int, bits: int, channels: int) -> int:
    return 1 + (width * bits * channels + 7) // 8  # the leading byte: the row's filter type


def expected_rows(width: int, height: int, bits: int, colour: int, interlaced: bool) -> list[int]:
    """The byte length of every row of filtered data, in stream order (all Adam7 passes)."""
    channels = CHANNELS[colour]
    if not interlaced:
        return [_row_bytes(width, bits, channels)] * height
    rows = []
    for x0, y0, dx, dy in ADAM7:
        pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_height = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pass_width and pass_height:
            rows += [_row_bytes(pass_width, bits, channels)] * pass_height
    return rows


def missing_png_rows(path: Path) -> float | None:
    """The share (0..1) of its declared pixel data that the PNG at ``path`` holds when it holds
    less; None when it holds it all, or is not a PNG this can read (PIL reports those)."""
    with open(path, "rb") as handle:
        if handle.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        inflate = zlib.decompressobj()
        header, got = None, 0
        while True:
            head = handle.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IHDR" and length == 13:
                header = struct.unpack(">IIBBBBB", handle.read(13))
                handle.seek(4, 1)
                continue
            if kind == b"IDAT":
                data = handle.read(length)
                while data and not inflate.eof:
                    got += len(inflate.decompress(data, PIECE))
                    data = inflate.unconsumed_tail
                handle.seek(4, 1)
                continue
            if kind in (b"IEND", b"fdAT"):  # fdAT: the later frames of an animated PNG
                break
            handle.seek(length + 4, 1)
    if header is None or header[3] not in CHANNELS:
        return None
    width, height, bits, colour, _, _, interlace = header
    expected = sum(expected_rows(width, height, bits, colour, interlace == 1))
    return got / expected if got < expected else None
