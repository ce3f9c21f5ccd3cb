"""A PNG holding fewer rows of pixel data than its header declares is refused, not read black."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.images.datamodule import ImageFolderDataModule
from trainlab.data.images.png_rows import expected_rows, missing_png_rows
from trainlab.data.images.split import split_folder
from trainlab.errors import DataError


def _png(width: int, height: int, rows: bytes, interlaced: bool = False) -> bytes:
    """An 8-bit grey PNG written byte by byte around the filtered ``rows`` given."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, int(interlaced))
    signature = b"\x89PNG\r\n\x1a\n"
    return (
        signature
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _grey_rows(width: int, height: int, level: int, interlaced: bool = False) -> bytes:
    sizes = expected_rows(width, height, 8, 0, interlaced)
    return b"".join(b"\x00" + bytes([level]) * (n - 1) for n in sizes)


def _folder(root: Path) -> Path:
    for cls in ("cat", "dog"):
        (root / "raw" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (16, 16), 10 * i + (100 if cls == "dog" else 0)).save(
                root / "raw" / cls / f"{i}.png"
            )
    return root


def test_split_refuses_a_png_whose_data_stops_half_way(tmp_path: Path) -> None:
    """Before: PIL decoded the 8 missing rows as black, without an error, and the split was
    written; training read a picture half grey, half black. (An interlaced PNG cut so PIL
    raises "image file is truncated" itself.)"""
    root = _folder(tmp_path)
    rows = _grey_rows(16, 16, 200)
    (root / "raw" / "cat" / "half.png").write_bytes(_png(16, 16, rows[: len(rows) // 2]))
    with Image.open(root / "raw" / "cat" / "half.png") as image:
        image.load()  # PIL itself says nothing
    with pytest.raises(DataError, match=r"half\.png is a PNG whose pixel data stops at 50% of"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    assert not (root / "splits").exists()


def test_predict_refuses_it_and_complete_pngs_of_every_kind_pass(tmp_path: Path) -> None:
    rows = _grey_rows(16, 16, 200)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "half.png").write_bytes(_png(16, 16, rows[: 17 * 4]))
    dm = ImageFolderDataModule(str(tmp_path))
    spec = {"tasks": {"label": ["a"]}, "image_size": 8, "in_channels": 1}
    dm.setup_predict(str(tmp_path / "new"), {**spec, "mean": [0.5], "std": [0.5]})
    with pytest.raises(DataError, match=r"half\.png is a PNG whose pixel data stops at 25%"):
        dm._predict_dataset[0]
    # complete files: PIL's own in every mode, and interlaced ones of awkward sizes
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (13, 17, 3), dtype=np.uint8))
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        rgb.convert(mode).save(tmp_path / f"{mode}.png")
        assert missing_png_rows(tmp_path / f"{mode}.png") is None, mode
    for width, height in ((1, 1), (5, 3), (13, 17)):
        path = tmp_path / f"i{width}.png"
        path.write_bytes(_png(width, height, _grey_rows(width, height, 9, True), True))
        assert missing_png_rows(path) is None
        with Image.open(path) as image:
            assert np.asarray(image).tolist() == np.full((height, width), 9).tolist()
