"""Images are decoded as a viewer shows them: EXIF orientation applied, transparency on white.

The files are real formats written with Pillow (a JPEG with an EXIF orientation tag, RGBA and
palette PNGs with transparency) and read back through the dataset and the predict path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainlab.data.images.datamodule import ImageFolderDataModule, ImageListDataset

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _sideways_photo(path: Path) -> None:
    """A phone-style JPEG: pixels stored lying on their side, EXIF orientation 6 (turn 90 cw).

    Stored: left half red, right half blue (16 x 8). Shown: top half red, bottom half blue.
    """
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:, :8], stored[:, 8:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(stored).save(path, exif=exif, quality=100)


def _decoded(root: Path, rel: str, channels: int = 3, **options) -> torch.Tensor:
    return ImageListDataset(root, [(rel, "a")], ["a"], 8, channels, True, **options).images[0]


def test_a_photo_with_an_exif_orientation_is_turned_upright(tmp_path: Path) -> None:
    """Before: the model saw the stored pixels, left red / right blue, i.e. lying on its side."""
    _sideways_photo(tmp_path / "raw" / "a" / "portrait.jpg")
    image = _decoded(tmp_path, "raw/a/portrait.jpg").int()
    red, blue = image[0], image[2]
    assert (red[:3] > 200).all() and (blue[:3] < 60).all()  # top rows red
    assert (blue[-3:] > 200).all() and (red[-3:] < 60).all()  # bottom rows blue


def test_transparent_pixels_are_white_whatever_colour_is_stored_under_them(
    tmp_path: Path,
) -> None:
    """Before: transparent pixels kept the hidden colour, white in one file and black in the
    other, though both files look the same."""
    folder = tmp_path / "raw" / "a"
    folder.mkdir(parents=True)
    for name, hidden in (("white.png", 255), ("black.png", 0)):
        rgba = np.zeros((8, 8, 4), np.uint8)
        rgba[..., :3] = hidden
        rgba[:4] = (0, 200, 0, 255)  # an opaque green top half
        Image.fromarray(rgba, "RGBA").save(folder / name)
    palette = Image.frombytes("P", (8, 8), bytes([1] * 32 + [0] * 32))
    palette.putpalette([255, 0, 255, 0, 200, 0] + [0] * 762)  # index 0 (transparent): magenta
    palette.save(folder / "palette.png", transparency=0)
    grey_alpha = np.zeros((8, 8, 2), np.uint8)  # LA: all transparent, stored black
    Image.fromarray(grey_alpha, "LA").save(folder / "grey.png")
    expected = torch.zeros(3, 8, 8, dtype=torch.uint8)
    expected[1, :4] = 200
    expected[:, 4:] = 255
    for name in ("white.png", "black.png", "palette.png"):
        assert torch.equal(_decoded(tmp_path, f"raw/a/{name}"), expected), name
    assert (_decoded(tmp_path, "raw/a/grey.png", channels=1) == 255).all()


def test_the_spec_carries_the_decoding_and_old_checkpoints_keep_theirs(tmp_path: Path) -> None:
    _sideways_photo(tmp_path / "new" / "portrait.jpg")
    dm = ImageFolderDataModule(str(tmp_path))
    spec = {
        "tasks": {"label": ["a", "b"]},
        "image_size": 8,
        "in_channels": 3,
        "mean": [0.5] * 3,
        "std": [0.5] * 3,
    }
    dm.setup_predict(str(tmp_path / "new"), {**spec, "as_displayed": True})
    upright = dm._predict_dataset[0][0].int()
    assert (upright[0, :3] > 200).all() and (upright[0, -3:] < 60).all()
    # a checkpoint from before the spec recorded it was trained on the stored pixels
    dm.setup_predict(str(tmp_path / "new"), spec)
    stored = dm._predict_dataset[0][0].int()
    assert (stored[0, :, :3] > 200).all() and (stored[0, :, -3:] < 60).all()  # left red


def test_predict_on_a_folder_leaves_out_files_that_are_not_images(tmp_path: Path) -> None:
    """Before: a Thumbs.db in the folder stopped predict ('cannot read image .../Thumbs.db')."""
    _sideways_photo(tmp_path / "new" / "portrait.jpg")
    (tmp_path / "new" / "Thumbs.db").write_bytes(b"\x00")
    dm = ImageFolderDataModule(str(tmp_path))
    spec = {"tasks": {"label": ["a"]}, "image_size": 8, "in_channels": 3}
    dm.setup_predict(str(tmp_path / "new"), {**spec, "mean": [0.5] * 3, "std": [0.5] * 3})
    assert [Path(p).name for p in dm._predict_dataset.paths] == ["portrait.jpg"]
    assert len(next(iter(dm.predict_dataloader()))[0]) == 1


def test_predictions_csv_keeps_commas_in_file_and_class_names(tmp_path: Path) -> None:
    """Before: 'IMG 1, copy.png' and class 'cat, wild' shifted every later column."""
    import csv

    (tmp_path / "new").mkdir()
    for name in ("IMG 1, copy.png", "plain.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "new" / name)
    spec = {
        "tasks": {"label": ["cat, wild", "dog"]},
        "image_size": 8,
        "in_channels": 3,
        "mean": [0.5] * 3,
        "std": [0.5] * 3,
    }
    dm = ImageFolderDataModule(str(tmp_path))
    dm.setup_predict(str(tmp_path / "new"), spec)
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    (written,) = dm.write_predictions([{"probs": {"label": probs}}], tmp_path, spec)
    with written.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["path"]).name for r in rows] == ["IMG 1, copy.png", "plain.png"]
    assert [r["predicted"] for r in rows] == ["cat, wild", "dog"]
    assert rows[0]["prob_cat, wild"] == "0.900000" and rows[1]["prob_dog"] == "0.800000"


def test_predict_needs_no_training_data(tmp_path: Path) -> None:
    """Before: Lightning's setup("predict") read the training splits: on a machine without them
    `trainlab predict` stopped with 'split file .../fold_0_train.txt is missing'."""
    _sideways_photo(tmp_path / "new" / "portrait.jpg")
    dm = ImageFolderDataModule(str(tmp_path / "training_data_not_here"))
    spec = {"tasks": {"label": ["a", "b"]}, "image_size": 8, "in_channels": 3}
    dm.setup_predict(str(tmp_path / "new"), {**spec, "mean": [0.5] * 3, "std": [0.5] * 3})
    dm.setup("predict")  # what Trainer.predict calls
    assert dm.datasets == {}
    assert next(iter(dm.predict_dataloader()))[0].shape == (1, 3, 8, 8)


def test_a_16_bit_png_with_a_transparent_grey_value_is_scaled_not_clipped(tmp_path: Path) -> None:
    """Made white before its 16-bit pixels were scaled, a 16-bit PNG with a tRNS chunk came out
    all white (255): converting I;16 to RGBA clips every value above 255."""
    values = np.full((8, 8), 30000, np.uint16)
    values[0, 0] = 0  # the transparent grey value
    (tmp_path / "raw" / "a").mkdir(parents=True)
    Image.fromarray(values).save(tmp_path / "raw" / "a" / "deep.png", transparency=0)
    image = _decoded(tmp_path, "raw/a/deep.png", channels=1)[0]
    assert image[0, 0] == 255  # the transparent pixel: white
    assert (image.flatten()[1:] == round(30000 / 257)).all()  # 117, as without transparency


def test_a_large_jpeg_decodes_at_reduced_scale_to_nearly_the_same_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: every 12 MP photo was decoded whole to be resized to 32 px (0.29 s each)."""
    from PIL import ImageFilter, JpegImagePlugin

    noise = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    photo = Image.fromarray(noise).resize((1600, 1200), Image.BICUBIC)
    (tmp_path / "raw" / "a").mkdir(parents=True)
    photo.filter(ImageFilter.GaussianBlur(3)).save(tmp_path / "raw" / "a" / "big.jpg", quality=92)
    scales = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = draft(self, mode, size)
        scales.append(result[1][2] if result else 1)  # the box's width: pixels kept per row
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    reduced = _decoded(tmp_path, "raw/a/big.jpg").float()
    assert scales == [200]  # 1600 / 8
    whole = _decoded(tmp_path, "raw/a/big.jpg", jpeg_draft=False).float()
    assert (reduced - whole).abs().mean() < 1.0  # under one grey level


def test_old_checkpoints_decode_jpegs_whole(tmp_path: Path) -> None:
    dm = ImageFolderDataModule(str(tmp_path))
    assert dm.jpeg_draft
    dm.use_trained_spec({"image_size": 8, "in_channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3})
    assert not dm.jpeg_draft and not dm.as_displayed


def test_the_decoding_is_chosen_by_config_and_the_checkpoint_keeps_it(tmp_path: Path) -> None:
    """data.as_displayed / data.jpeg_draft turn the decoding off; the spec carries the choice."""
    (tmp_path / "splits").mkdir()
    for split in ("fold_0_train", "fold_0_val", "test"):
        _sideways_photo(tmp_path / "raw" / "a" / f"{split}.jpg")
        (tmp_path / "splits" / f"{split}.txt").write_text(f"raw/a/{split}.jpg\n")
    dm = ImageFolderDataModule(str(tmp_path), image_size=8, as_displayed=False, jpeg_draft=False)
    dm.setup("fit")
    spec = dm.spec()
    assert spec["as_displayed"] is False and spec["jpeg_draft"] is False
    stored = dm.datasets["train"].images[0]
    assert stored.shape[-2:] == (8, 8)
    # the stored pixels, lying on their side: left half red (channel 0), right half blue
    assert stored[0, :, :3].float().mean() > 200 and stored[2, :, 5:].float().mean() > 200
    restored = ImageFolderDataModule(str(tmp_path))  # defaults true, the checkpoint says false
    restored.use_trained_spec(spec)
    assert restored.as_displayed is False and restored.jpeg_draft is False
    with pytest.raises(Exception, match=r"data.jpeg_draft='yes': use true or false"):
        ImageFolderDataModule(str(tmp_path), jpeg_draft="yes")
