"""Near copies (a picture re-saved as JPEG or resized) stay in one part of the split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainlab.data.images.near_copies import near_copy_pairs, thumbnail
from trainlab.data.images.split import split_folder


def _photo(rng: np.random.Generator, cls: int, width: int = 128, height: int = 96) -> Image.Image:
    """A photo-like picture: a smooth random background and a shape of the class."""
    cells = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    image = cells.resize((width, height), Image.BICUBIC)
    side = int(rng.integers(20, 40))
    x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw = ImageDraw.Draw(image)
    (draw.ellipse if cls == 0 else draw.rectangle)([x, y, x + side, y + side], fill=colour)
    return image


def _folder_with_near_copies(root: Path) -> list[tuple[str, str]]:
    """Two classes of 15 pictures; every third has a JPEG (quality 70) or a half-size copy."""
    rng = np.random.default_rng(0)
    copies = []
    for cls, name in enumerate(("cat", "dog")):
        folder = root / "raw" / name
        folder.mkdir(parents=True)
        for i in range(15):
            image = _photo(rng, cls)
            image.save(folder / f"{i}.png")
            if i % 3 == 0:
                copy = f"{i}_copy.jpg" if i % 2 else f"{i}_copy.png"
                if i % 2:
                    image.save(folder / copy, quality=70)
                else:
                    image.resize((64, 48), Image.LANCZOS).save(folder / copy)
                copies.append((f"raw/{name}/{i}.png", f"raw/{name}/{copy}"))
    return copies


def test_resaved_and_resized_copies_go_to_the_part_of_their_original(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: only equal pixels were copies; 2 of these 10 copies were in test with their
    original in training and 5 in another part than their original (fold 0)."""
    copies = _folder_with_near_copies(tmp_path)
    with caplog.at_level(logging.WARNING):
        split_folder(tmp_path, folds=3, test_ratio=0.2, seed=0)
    assert "10 file(s) are near copies of others of their class" in caplog.text
    assert "class cat: 5, class dog: 5" in caplog.text
    for k in range(3):
        for name in ("test.txt", f"fold_{k}_train.txt", f"fold_{k}_val.txt"):
            members = set((tmp_path / "splits" / name).read_text().split())
            for original, copy in copies:
                assert (original in members) == (copy in members), (name, copy)


def test_a_near_copy_under_another_class_is_named_not_joined(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(1)
    for cls, name in enumerate(("cat", "dog")):
        (tmp_path / "raw" / name).mkdir(parents=True)
        for i in range(6):
            _photo(rng, cls).save(tmp_path / "raw" / name / f"{i}.png")
    Image.open(tmp_path / "raw" / "cat" / "2.png").save(tmp_path / "raw" / "dog" / "odd.jpg")
    with caplog.at_level(logging.WARNING):
        split_folder(tmp_path, folds=2, test_ratio=0.2, seed=0)
    assert "1 pair(s) of images filed under different classes" in caplog.text
    assert "raw/cat/2.png ~ raw/dog/odd.jpg" in caplog.text


def test_distinct_pictures_are_not_near_copies(tmp_path: Path) -> None:
    """No pair among 1,797 real digits (too small: not compared), the same digits enlarged to
    32x32 (closest pair 7.4 levels apart), nor 150 photo-like pictures of two classes."""
    from trainlab.data.images.digits import write_digits

    write_digits(tmp_path)
    digits = sorted((tmp_path / "raw").rglob("*.png"))
    assert near_copy_pairs([thumbnail(Image.open(p)) for p in digits]) == []
    enlarged = [thumbnail(Image.open(p).resize((32, 32), Image.BILINEAR)) for p in digits]
    assert all(t is not None for t in enlarged) and near_copy_pairs(enlarged) == []
    rng = np.random.default_rng(2)
    photos = [thumbnail(_photo(rng, i % 2)) for i in range(150)]
    assert near_copy_pairs(photos) == []


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P", "CMYK", "1"])
def test_thumbnails_of_other_modes_match_their_8_bit_rgb_copy(mode: str) -> None:
    rng = np.random.default_rng(3)
    image = _photo(rng, 0).convert("L").convert("RGB")
    grey = np.asarray(image.convert("L"), dtype=np.uint16)
    other = {
        "I;16": Image.fromarray(grey * 257),
        "RGBA": image.convert("RGBA"),
        "P": image.convert("P", palette=Image.ADAPTIVE, colors=256),
        "CMYK": image.convert("CMYK"),
        "1": image.convert("L").point(lambda v: 255 if v > 127 else 0).convert("1"),
    }[mode]
    reference = image if mode != "1" else other.convert("RGB")
    assert len(near_copy_pairs([thumbnail(reference), thumbnail(other)])) == 1


def _not_again(path: Path):
    raise AssertionError(f"{path} decoded again")


def test_a_hand_made_test_list_with_near_copies_of_training_images_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, only byte-identical copies between a hand-made test.txt and training were named:
    a JPEG re-save and a half-size copy of training pictures were tested on without a word."""
    from trainlab.data.images import folder
    from trainlab.data.images.datamodule import ImageFolderDataModule
    from trainlab.errors import DataError

    rng = np.random.default_rng(0)
    root = tmp_path / "ds"
    for cls, name in enumerate(("cat", "dog")):
        (root / "raw" / name).mkdir(parents=True)
        for i in range(8):
            _photo(rng, cls).save(root / "raw" / name / f"{i}.png")
    split_folder(root, folds=2, test_ratio=0.25, seed=0)
    with caplog.at_level(logging.WARNING):
        ImageFolderDataModule(str(root)).setup()  # the lists as split wrote them
    assert "copies" not in caplog.text
    trained = (root / "splits" / "fold_0_train.txt").read_text().split()
    cats = [rel for rel in trained if "/cat/" in rel]
    Image.open(root / cats[0]).save(root / "raw" / "cat" / "resaved.jpg", quality=70)
    Image.open(root / cats[1]).resize((64, 48), Image.LANCZOS).save(root / "raw/cat/half.png")
    test_list = root / "splits" / "test.txt"
    original = test_list.read_text()
    test_list.write_text(original + "raw/cat/resaved.jpg\nraw/cat/half.png\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        ImageFolderDataModule(str(root)).setup()
    assert "2 image(s) of test are copies (=: the same pixels) or near copies" in caplog.text
    assert f"raw/cat/resaved.jpg ~ {cats[0]}" in caplog.text
    assert f"raw/cat/half.png ~ {cats[1]}" in caplog.text
    # the next start repeats the warning from splits/.checked_lists without decoding the images
    assert len(list((root / "splits" / ".checked_lists").glob("fold_0_train-*.json"))) == 1
    with monkeypatch.context() as patch:
        patch.setattr(folder, "pixel_fingerprint", _not_again)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            ImageFolderDataModule(str(root)).setup()
    assert f"raw/cat/half.png ~ {cats[1]}" in caplog.text
    # the same picture listed under another class is refused, as trainlab split refuses it
    Image.open(root / cats[0]).save(root / "raw" / "dog" / "same.bmp")
    test_list.write_text(original + "raw/dog/same.bmp\n")
    with pytest.raises(
        DataError, match=rf"copies \(the same pixels\) .*{cats[0]} = raw/dog/same.bmp"
    ):
        ImageFolderDataModule(str(root)).setup()


def test_a_photo_stored_sideways_with_an_exif_tag_is_a_near_copy_of_its_upright_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A phone photo (pixels sideways, Orientation 6) and the same picture saved upright by an
    editor are one picture to a viewer and to training; before, their thumbnails were compared
    as stored (95 levels apart) and they were split as two pictures."""
    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    for cls, name in enumerate(("cat", "dog")):
        (raw / name).mkdir(parents=True)
        for i in range(8):
            _photo(rng, cls).save(raw / name / f"{i}.png")
    upright = _photo(rng, 0)
    upright.save(raw / "cat" / "upright.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns the stored pixels 90 degrees clockwise
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    sideways.save(raw / "cat" / "phone.jpg", quality=95, exif=exif.tobytes())
    with caplog.at_level(logging.WARNING):
        split_folder(tmp_path, folds=2, test_ratio=0.25, seed=0)
    assert "raw/cat/upright.jpg ~ raw/cat/phone.jpg" in caplog.text
    for name in ("test.txt", "fold_0_train.txt", "fold_0_val.txt"):
        members = set((tmp_path / "splits" / name).read_text().split())
        assert ("raw/cat/upright.jpg" in members) == ("raw/cat/phone.jpg" in members)


def test_an_icon_with_transparency_is_a_near_copy_of_it_flattened_on_white(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Training shows transparent areas white, whatever colour the file stores under them; the
    thumbnails compared that stored colour: an icon with black under its transparent pixels and
    the same icon as a JPEG on white were 220 levels apart, split as two pictures."""
    rng = np.random.default_rng(4)
    raw = tmp_path / "raw"
    for cls, name in enumerate(("cat", "dog")):
        (raw / name).mkdir(parents=True)
        for i in range(8):
            _photo(rng, cls).save(raw / name / f"{i}.png")
    icon = np.zeros((64, 64, 4), np.uint8)  # transparent, stored black
    icon[16:48, 16:48] = (200, 30, 30, 255)
    Image.fromarray(icon, "RGBA").save(raw / "cat" / "icon.png")
    flat = np.where(icon[..., 3:] == 0, 255, icon[..., :3]).astype(np.uint8)
    Image.fromarray(flat).save(raw / "cat" / "icon_from_site.jpg", quality=90)
    with caplog.at_level(logging.WARNING):
        split_folder(tmp_path, folds=2, test_ratio=0.25, seed=0)
    assert "raw/cat/icon_from_site.jpg ~ raw/cat/icon.png" in caplog.text


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_a_wide_gamut_photo_is_a_near_copy_of_its_srgb_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, suffix: str
) -> None:
    """Training converts both to sRGB (0.1 levels apart); the thumbnails compared the stored
    numbers: a Display P3 photo and its sRGB copy (what a website serves) were 13 to 24 levels
    apart and split as two pictures."""
    import io

    from icc_profiles import P3_PRIMARIES, _rgb_profile
    from PIL import ImageCms

    rng = np.random.default_rng(5)
    raw = tmp_path / "raw"
    for cls, name in enumerate(("cat", "dog")):
        (raw / name).mkdir(parents=True)
        for i in range(8):
            _photo(rng, cls).save(raw / name / f"{i}.png")
    photo = _photo(rng, 0, width=512, height=384)  # reduced before its colours are converted
    photo.save(raw / "cat" / "from_site.jpg", quality=90)
    profile = _rgb_profile("Display P3", P3_PRIMARIES, 2.2)
    to_p3 = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(profile)), "RGB", "RGB"
    )
    ImageCms.applyTransform(photo, to_p3).save(raw / "cat" / f"phone.{suffix}", icc_profile=profile)
    with caplog.at_level(logging.WARNING):
        split_folder(tmp_path, folds=2, test_ratio=0.25, seed=0)
    assert f"raw/cat/phone.{suffix} ~ raw/cat/from_site.jpg" in caplog.text
