"""Images of more than 8 bits a pixel are scaled, or refused, never clipped; bombs are refused.

PIL's ``convert("L")`` clips a 16-bit PNG at 255 (almost white) and a float TIFF to 0 (black);
these files are written in those real formats with Pillow and read back through the dataset.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.images.datamodule import ImageListDataset
from trainlab.data.images.folder import scan_class_folders
from trainlab.data.images.statistics import channel_statistics
from trainlab.errors import DataError


def _write(folder: Path, name: str, array: np.ndarray) -> tuple[str, str]:
    (folder / name.split("/")[0]).mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(folder / name)
    return name, name.split("/")[0]


def _dataset(folder: Path, entries: list, channels: int = 1) -> ImageListDataset:
    return ImageListDataset(folder, entries, ["dark", "light"], 8, channels, cache=True)


def test_sixteen_bit_png_is_scaled_linearly_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16).reshape(8, 8)
    dark = np.full((8, 8), 20000, dtype=np.uint16)
    light = np.full((8, 8), 50000, dtype=np.uint16)
    entries = [
        _write(tmp_path, "dark/ramp.png", ramp),
        _write(tmp_path, "dark/a.png", dark),
        _write(tmp_path, "light/b.png", light),
    ]
    with Image.open(tmp_path / "dark/a.png") as image:
        assert image.mode == "I;16"  # the real 16-bit PNG mode, not an 8-bit file
    images = _dataset(tmp_path, entries).images
    expected = np.round(ramp / 257).astype(np.uint8)
    assert np.array_equal(images[0, 0].numpy(), expected)
    assert int(images[1].unique()) == 78 and int(images[2].unique()) == 195  # 20000, 50000
    mean, _ = channel_statistics(images[1:])
    assert mean[0] == pytest.approx((78 + 195) / 2 / 255, abs=1e-6)  # not 1.0 (all white)
    rgb = _dataset(tmp_path, entries, channels=3).images
    assert rgb.shape == (3, 3, 8, 8) and all(np.array_equal(c, expected) for c in rgb[0].numpy())


def test_float_pixels_are_refused_with_the_file(tmp_path: Path) -> None:
    entries = [_write(tmp_path, "dark/f.tif", np.full((8, 8), 0.5, dtype=np.float32))]
    with pytest.raises(DataError, match=r"dark/f\.tif holds 32-bit floating-point pixels"):
        _dataset(tmp_path, entries)


def test_twelve_bit_data_is_scaled_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entries = [
        _write(tmp_path, f"dark/{i}.png", np.full((8, 8), 4000 + i, dtype=np.uint16))
        for i in range(3)
    ]
    with caplog.at_level(logging.WARNING, logger="trainlab.data.images.datamodule"):
        images = _dataset(tmp_path, entries).images
    assert int(images.max()) == 16  # round(4002 / 257)
    warnings = [r.getMessage() for r in caplog.records if "16-bit image" in r.getMessage()]
    assert len(warnings) == 1 and "brightest pixel is 4000" in warnings[0], warnings


def test_eight_bit_images_decode_as_before(tmp_path: Path) -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    entries = [_write(tmp_path, "light/g.png", grey)]
    assert np.array_equal(_dataset(tmp_path, entries).images[0, 0].numpy(), grey)


def test_a_decompression_bomb_is_refused_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 48 kB PNG declaring 20,000 x 20,000 pixels: PIL refuses it outside OSError
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # only to write it
    raw = tmp_path / "raw"
    entries = [_write(raw, "dark/ok.png", np.zeros((8, 8), dtype=np.uint8))]
    (raw / "light").mkdir()
    Image.new("1", (20000, 20000)).save(raw / "light" / "bomb.png")
    monkeypatch.undo()
    assert (raw / "light" / "bomb.png").stat().st_size < 100_000
    with pytest.raises(DataError, match=r"light/bomb\.png declares more pixels than PIL"):
        scan_class_folders(raw)  # what `trainlab split` runs
    with pytest.raises(DataError, match=r"bomb\.png declares more pixels .* downscale it"):
        _dataset(raw, [*entries, ("light/bomb.png", "light")])  # split made before it came


def test_a_png_whose_text_chunk_inflates_past_pils_limit_is_refused_with_the_file(
    tmp_path: Path,
) -> None:
    # a 2 kB zTXt chunk that inflates to 2 MB: PIL stops at 1 MB with a bare ValueError, which
    # ended `trainlab split`, the training start and predict in a traceback without the file
    from PIL import PngImagePlugin

    from trainlab.data.images.statistics import inspect_images

    raw = tmp_path / "raw"
    entries = [_write(raw, "dark/ok.png", np.zeros((8, 8), dtype=np.uint8))]
    (raw / "light").mkdir()
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "A" * (2 << 20), zip=True)
    Image.new("L", (8, 8)).save(raw / "light" / "inflates.png", pnginfo=text)
    assert (raw / "light" / "inflates.png").stat().st_size < 10_000
    with pytest.raises(DataError, match=r"light/inflates\.png is not a readable image"):
        scan_class_folders(raw)
    with pytest.raises(DataError, match=r"light/inflates\.png: Decompressed data too large"):
        inspect_images(raw, ["dark/ok.png", "light/inflates.png"])
    with pytest.raises(DataError, match=r"light/inflates\.png: Decompressed data too large"):
        _dataset(raw, [*entries, ("light/inflates.png", "light")])


def test_images_of_several_frames_are_named_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # an animated GIF and a 3-page TIFF: training reads their first frame, which was silent
    raw = tmp_path / "raw"
    _write(raw, "dark/still.png", np.zeros((8, 8), dtype=np.uint8))
    frames = [Image.new("L", (8, 8), v) for v in (0, 128, 255)]
    (raw / "light").mkdir()
    frames[0].save(raw / "light" / "moving.gif", save_all=True, append_images=frames[1:])
    frames[0].save(raw / "light" / "stack.tif", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="trainlab.data.images.folder"):
        scan_class_folders(raw)
    warned = [r.getMessage() for r in caplog.records if "several frames" in r.getMessage()]
    assert len(warned) == 1 and "2 image(s)" in warned[0] and "moving.gif" in warned[0], warned
