"""Training images enlarged far or squeezed out of shape are counted per class in a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.images.datamodule import ImageFolderDataModule


def test_tracking_pixels_and_strips_are_warned_with_counts_per_class(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a class holding 1x1 GIFs (tracking pixels of a scraped page) and 80x10 strips
    trained on them at 16x16 without a word."""
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "raw" / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "raw" / cls / f"{i}.png")
    for i in range(3):
        Image.new("RGB", (1, 1), (40 * i, 0, 0)).save(tmp_path / "raw" / "dog" / f"pixel{i}.gif")
    Image.new("RGB", (80, 10), (9, 9, 9)).save(tmp_path / "raw" / "cat" / "strip.png")
    train = [f"raw/{c}/{i}.png" for c in ("cat", "dog") for i in range(4)]
    train += ["raw/cat/strip.png"] + [f"raw/dog/pixel{i}.gif" for i in range(3)]
    lists = {"fold_0_train": train, "fold_0_val": ["raw/cat/4.png", "raw/dog/4.png"]}
    lists["test"] = ["raw/cat/5.png", "raw/dog/5.png"]
    (tmp_path / "splits").mkdir()
    for name, rows in lists.items():
        (tmp_path / "splits" / f"{name}.txt").write_text("\n".join(rows) + "\n")
    dm = ImageFolderDataModule(str(tmp_path), image_size=16)
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    assert "3 of 12 training images are enlarged more than 2x to 16x16" in caplog.text
    assert "e.g. raw/dog/pixel0.gif (1x1); by class: dog 3 of 7" in caplog.text
    squeezed = "1 of 12 training images have sides more than 3x apart and are squeezed to a "
    assert squeezed in caplog.text
    assert "square 16x16, e.g. raw/cat/strip.png (80x10); by class: cat 1 of 5" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # images of the size trained on: nothing to say
        ImageFolderDataModule(str(tmp_path), image_size=2).setup("fit")
    assert "enlarged" not in caplog.text
