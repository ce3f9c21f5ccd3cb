"""Images declaring more pixels than ``max_pixels`` are refused from their header, naming the
file and the key that raises the limit (PIL only warns between 89.5 M and 178.9 M pixels)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from trainlab.data.images.datamodule import ImageFolderDataModule
from trainlab.data.images.split import split_folder
from trainlab.errors import DataError


def _folder(root: Path, side: int = 16) -> Path:
    for cls in ("cat", "dog"):
        (root / "raw" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (side, side), 10 * i + (100 if cls == "dog" else 0)).save(
                root / "raw" / cls / f"{i}.png"
            )
    return root


def _black_png(path: Path, width: int, height: int) -> None:
    """A grey PNG of black rows: 90 M pixels fit in ~90 kB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    pack = zlib.compressobj(9)
    row = bytes(width + 1)
    data = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_split_refuses_an_image_in_pils_warning_zone_before_decoding_it(tmp_path: Path) -> None:
    """Before: PIL warned (DecompressionBombWarning, not in the log) and split decoded it: a
    262 kB RGB PNG of 10000 x 9000 pixels took 6.5 s and 1 GB."""
    root = _folder(tmp_path)
    _black_png(root / "raw" / "cat" / "huge.png", 10_000, 9_000)
    with pytest.raises(
        DataError, match=r"huge\.png is 10000x9000 = 90\.0 M pixels, more than the "
    ):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    assert not (root / "splits").exists()


def test_the_limit_is_a_key_of_split_train_and_predict(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    with pytest.raises(DataError, match=r"max_pixels=256 for trainlab split, data.max_pixels=256"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0, max_pixels=255)
    split_folder(root, folds=2, test_ratio=0.2, seed=0, max_pixels=256)
    with pytest.raises(DataError, match=r"0\.png is 16x16 = 0\.0 M pixels, more than the limit"):
        ImageFolderDataModule(str(root), max_pixels=100).setup("fit")
    dm = ImageFolderDataModule(str(root), max_pixels=256)
    dm.setup("fit")
    assert len(dm.datasets["train"]) + len(dm.datasets["val"]) + len(dm.datasets["test"]) == 10
    spec = {**dm.spec(), "mean": [0.5], "std": [0.5]}
    predictor = ImageFolderDataModule(str(root), max_pixels=100)
    predictor.setup_predict(str(root / "raw" / "cat"), spec)
    with pytest.raises(DataError, match=r"more than the limit"):
        predictor._predict_dataset[0]
    with pytest.raises(DataError, match=r"data.max_pixels=0: use a positive number"):
        ImageFolderDataModule(str(root), max_pixels=0)
