"""Split logic: stratified, disjoint folds, one shared test set, refusals and errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.images.split import make_splits, read_split, split_folder
from trainlab.errors import DataError, RunFolderError


def _folder(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        (root / "raw" / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = Image.new("L", (4, 4), color=i % 255)
            image.putpixel((0, 0), sum(map(ord, name)) % 256)  # no copies across classes
            image.save(root / "raw" / name / f"{i}.png")
    return root


def test_folds_are_stratified_disjoint_and_share_one_test_set() -> None:
    labels = [0] * 60 + [1] * 30 + [2] * 10
    test, folds = make_splits(labels, folds=5, test_ratio=0.2, seed=1)
    y = np.asarray(labels)
    assert Counter(y[test]) == {0: 12, 1: 6, 2: 2}
    rest = set(range(len(y))) - set(test)
    val_union: list[int] = []
    for train, val in folds:
        assert set(train).isdisjoint(val)
        assert set(train) | set(val) == rest
        assert set(test).isdisjoint(train) and set(test).isdisjoint(val)
        val_union.extend(val)
        shares = Counter(y[val])
        assert shares[0] >= 2 * shares[1] - 1  # class ratio kept within rounding
    assert sorted(val_union) == sorted(rest)  # each remaining item validates exactly once


def test_split_writes_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"cat": 12, "dog": 8})
    result = split_folder(root, folds=3, test_ratio=0.25, seed=0)
    assert result.classes == ["cat", "dog"]
    test = read_split(root / "splits" / "test.txt", root)
    assert len(test) == result.n_test == 5
    assert all(path.startswith("raw/") for path, _ in test)
    before = {p.name: p.read_text() for p in (root / "splits").iterdir()}
    with pytest.raises(RunFolderError, match="overwrite=true"):
        split_folder(root, folds=3, test_ratio=0.25, seed=5)
    assert {p.name: p.read_text() for p in (root / "splits").iterdir()} == before
    split_folder(root, folds=2, test_ratio=0.25, seed=5, overwrite=True)
    assert not (root / "splits" / "fold_2_train.txt").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: (r / "raw" / "empty").mkdir(parents=True), "is empty"),
        (lambda r: None, "at least two"),
        (lambda r: (r / "raw" / "b" / "IMG_0001.HEIC").write_text("x"), r"HEIC.*convert"),
        (lambda r: (r / "raw" / "b" / "broken.png").write_bytes(b"not a png"), "not a readable"),
    ],
)
def test_bad_folders_give_clear_errors(tmp_path: Path, make, message: str) -> None:
    root = _folder(tmp_path / "ds", {"a": 10})
    if message != "at least two":
        _folder(root, {"b": 10})
    make(root)
    with pytest.raises(DataError, match=message):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)


def test_missing_split_file_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="trainlab split data_dir="):
        read_split(tmp_path / "splits" / "fold_0_train.txt", tmp_path)


def test_too_small_class_for_the_folds(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"a": 10, "b": 3})
    with pytest.raises(DataError, match="smallest class has 3"):
        split_folder(root, folds=5, test_ratio=0.2, seed=0)


def test_copies_of_an_image_stay_in_one_part_and_the_rest_splits_as_before(tmp_path: Path) -> None:
    import shutil

    root = _folder(tmp_path / "ds", {"cat": 12, "dog": 12})
    plain = split_folder(root, folds=3, test_ratio=0.25, seed=0).split_dir
    before = {p.name: p.read_text() for p in plain.glob("*.txt")}
    for k in range(3):  # three copies of cat/0.png under other names, in the same class
        shutil.copy(root / "raw" / "cat" / "0.png", root / "raw" / "cat" / f"copy{k}.png")
    split_folder(root, folds=3, test_ratio=0.25, seed=0, overwrite=True)
    copies = {"raw/cat/0.png", *(f"raw/cat/copy{k}.png" for k in range(3))}
    parts = {p.name: set(p.read_text().split()) for p in plain.glob("*.txt")}
    for name, members in parts.items():
        assert not members & copies or copies <= members, name  # all four or none
        # the other files fall exactly where they fell without the copies
        assert members - copies == set(before[name].split()) - copies, name


def test_one_image_under_two_classes_is_refused(tmp_path: Path) -> None:
    import shutil

    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    shutil.copy(root / "raw" / "cat" / "2.png", root / "raw" / "dog" / "odd.png")
    with pytest.raises(DataError, match=r"raw/cat/2\.png = raw/dog/odd\.png.*two labels"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    assert not (root / "splits").exists()


def test_images_in_sub_folders_of_a_class_folder_belong_to_that_class(tmp_path: Path) -> None:
    """Before: cat/2023/*.png were skipped without a word (or the class was refused as empty)."""
    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    nested = root / "raw" / "cat" / "2023" / "june"
    nested.mkdir(parents=True)
    for i in range(4):
        (root / "raw" / "cat" / f"{i}.png").rename(nested / f"{i}.png")
    (root / "raw" / "dog" / ".ipynb_checkpoints").mkdir()
    (root / "raw" / "dog" / ".ipynb_checkpoints" / "x.txt").write_text("hidden")
    split_folder(root, folds=2, test_ratio=0.25, seed=0)
    entries = {
        entry
        for name in ("test.txt", "fold_0_train.txt", "fold_0_val.txt")
        for entry in read_split(root / "splits" / name, root)
    }
    assert len(entries) == 12
    assert {name for _, name in entries} == {"cat", "dog"}
    assert ("raw/cat/2023/june/0.png", "cat") in entries


def test_a_broken_link_in_a_class_folder_is_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    (root / "raw" / "cat" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match=r"gone\.png is a symbolic link to .*nowhere\.png"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)


@pytest.mark.parametrize("side", [64, 1200])  # 1200: decoded at reduced scale (draft)
def test_a_truncated_jpeg_is_refused_by_split_not_by_the_first_run(
    tmp_path: Path, side: int
) -> None:
    """Before: verify() read the headers only; the split was written and training stopped."""
    import io

    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")
    (root / "raw" / "cat" / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match=r"cut\.jpg cannot be decoded .*cut short"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    assert not (root / "splits").exists()


def test_copies_with_the_same_pixels_but_other_bytes_stay_in_one_part(tmp_path: Path) -> None:
    """A PNG and a BMP of every picture: before, 6 of 11 test pictures had a copy in training."""
    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (tmp_path / "raw" / name).mkdir(parents=True)
        for i in range(10):
            image = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
            image.save(tmp_path / "raw" / name / f"{i}.png")
            image.save(tmp_path / "raw" / name / f"{i}.bmp")
    split_folder(tmp_path, folds=2, test_ratio=0.3, seed=0)

    def pictures(name: str) -> set[str]:
        return {rel.rsplit(".", 1)[0] for rel in (tmp_path / "splits" / name).read_text().split()}

    assert pictures("test.txt").isdisjoint(pictures("fold_0_train.txt"))
    assert pictures("fold_0_val.txt").isdisjoint(pictures("fold_0_train.txt"))


def test_an_edited_test_list_that_overlaps_training_is_refused_or_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A curator's own test.txt: before, the same file or a copy in training went unnoticed."""
    import logging
    import shutil

    from trainlab.data.images.datamodule import ImageFolderDataModule

    root = _folder(tmp_path / "ds", {"cat": 8, "dog": 8})
    split_folder(root, folds=2, test_ratio=0.25, seed=0)
    test_list = root / "splits" / "test.txt"
    original = test_list.read_text()
    trained = (root / "splits" / "fold_0_train.txt").read_text().split()[0]
    test_list.write_text(original + trained + "\n")
    with pytest.raises(DataError, match=rf"both in fold_0_train.txt and in test .*{trained}"):
        ImageFolderDataModule(str(root)).setup()
    shutil.copy(root / trained, root / "raw" / "cat" / "copy.png")
    test_list.write_text(original + "raw/cat/copy.png\n")
    with caplog.at_level(logging.WARNING):
        ImageFolderDataModule(str(root)).setup()
    assert "1 image(s) of test are copies (=: the same pixels)" in caplog.text
    assert f"raw/cat/copy.png = {trained}" in caplog.text


def test_a_file_listed_twice_or_in_validation_and_test_is_refused(tmp_path: Path) -> None:
    """Before: a test.txt listing a file twice counted it twice in every test figure, and a
    file in both the validation and the test list was scored on test after the checkpoint was
    chosen on it, both without a word."""
    from trainlab.data.images.datamodule import ImageFolderDataModule

    root = _folder(tmp_path / "ds", {"cat": 8, "dog": 8})
    split_folder(root, folds=2, test_ratio=0.25, seed=0)
    test_list = root / "splits" / "test.txt"
    original = test_list.read_text()
    tested = original.split()[0]
    test_list.write_text(original + tested + "\n")
    with pytest.raises(
        DataError, match=rf"1 file\(s\) are listed more than once in test .*{tested}"
    ):
        ImageFolderDataModule(str(root)).setup()
    validated = (root / "splits" / "fold_0_val.txt").read_text().split()[0]
    test_list.write_text(original + validated + "\n")
    with pytest.raises(DataError, match=rf"both in val and in test .*{validated}"):
        ImageFolderDataModule(str(root)).setup()
    test_list.write_text(original)
    ImageFolderDataModule(str(root)).setup()  # the lists as split wrote them pass


def test_split_lines_outside_raw_take_the_class_of_their_folder(tmp_path: Path) -> None:
    root = _folder(tmp_path / "ds", {"cat": 2})
    (tmp_path / "list.txt").write_text(
        f"{root}/raw/cat/0.png\nraw/cat/a/b/1.png\nother/dog/2.png\n"
    )
    assert [name for _, name in read_split(tmp_path / "list.txt", root)] == ["cat", "cat", "dog"]


def test_files_that_are_not_images_are_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the first Thumbs.db, desktop.ini or sidecar stopped the split."""
    import logging

    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    for junk in ("cat/Thumbs.db", "cat/desktop.ini", "dog/0.json", "dog/notes.txt"):
        (root / "raw" / junk).write_bytes(b"\x00 not an image")
    Image.new("RGB", (4, 4), (9, 8, 7)).save(root / "raw" / "dog" / "saved.JFIF", "JPEG")
    with caplog.at_level(logging.WARNING):
        result = split_folder(root, folds=2, test_ratio=0.25, seed=0)
    assert result.n_test + result.n_rest == 13  # 12 PNGs and the .JFIF
    assert "left out 4 file(s)" in caplog.text and ".db: 1" in caplog.text
    listed = " ".join(p.read_text() for p in (root / "splits").glob("fold_0_*.txt"))
    listed += (root / "splits" / "test.txt").read_text()
    assert "saved.JFIF" in listed and "Thumbs" not in listed


def test_class_names_in_two_unicode_forms_are_refused_and_case_twins_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: café (NFC) and café (NFD) trained as two classes that print the same."""
    import logging
    import unicodedata

    composed, decomposed = (unicodedata.normalize(f, "café") for f in ("NFC", "NFD"))
    root = _folder(tmp_path / "ds", {composed: 6, decomposed: 6, "tea": 6})
    with pytest.raises(DataError, match=r"'cafe\\u0301' and 'caf\\xe9'.*written in two ways"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    spaced = _folder(tmp_path / "spaced", {"tea": 6, "tea ": 6, "milk": 6})
    with pytest.raises(DataError, match=r"'tea' and 'tea '.*written in two ways"):
        split_folder(spaced, folds=2, test_ratio=0.2, seed=0)
    letters = _folder(tmp_path / "letters", {"A": 6, "a": 6})
    with caplog.at_level(logging.WARNING):
        assert split_folder(letters, folds=2, test_ratio=0.2, seed=0).classes == ["A", "a"]
    assert "class folders A and a" in caplog.text and "differ only by case" in caplog.text


def test_loose_images_and_a_test_set_missing_a_class_are_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: images outside any class folder and a class absent from test.txt went unnoticed."""
    import logging

    from trainlab.data.images.datamodule import ImageFolderDataModule

    root = _folder(tmp_path / "ds", {"cat": 8, "dog": 8, "owl": 8})
    Image.new("L", (4, 4)).save(root / "raw" / "stray.png")
    with caplog.at_level(logging.WARNING):
        split_folder(root, folds=2, test_ratio=0.25, seed=0)
    assert "left out 1 image(s) lying directly in" in caplog.text and "stray.png" in caplog.text
    test_list = root / "splits" / "test.txt"
    test_list.write_text("".join(f"{r}\n" for r in test_list.read_text().split() if "owl" not in r))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        dm = ImageFolderDataModule(str(root))
        dm.setup()
    assert "test split holds no images of class(es) ['owl']" in caplog.text
    assert dm.classes == ["cat", "dog", "owl"] and set(dm.datasets["test"].targets.tolist()) == {
        0,
        1,
    }


def test_a_missing_raw_folder_names_what_the_data_folder_holds_and_the_fix(
    tmp_path: Path,
) -> None:
    """Before: "<dir>/raw does not exist: put one folder per class ...", also when the class
    folders were right there, one level up, or data_dir named the raw/ folder itself."""
    root = _folder(tmp_path / "ds", {"cat": 6, "wild dog": 6})
    for name in ("cat", "wild dog"):
        (root / "raw" / name).rename(root / name)
    (root / "raw").rmdir()
    with pytest.raises(DataError, match=r"ds has no raw/ folder; it holds 2 folder\(s\) of images"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    with pytest.raises(DataError, match=r"mkdir raw && mv cat 'wild dog' raw/"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    (root / "raw").mkdir()
    for name in ("cat", "wild dog"):
        (root / name).rename(root / "raw" / name)
    with pytest.raises(DataError, match=rf"is itself the raw/ folder .*data_dir={root}$"):
        split_folder(root / "raw", folds=2, test_ratio=0.2, seed=0)
    with pytest.raises(DataError, match=r"data_dir .*nowhere does not exist"):
        split_folder(tmp_path / "nowhere", folds=2, test_ratio=0.2, seed=0)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"no raw/ folder \(it holds readme.txt\): put one folder"):
        split_folder(tmp_path / "notes", folds=2, test_ratio=0.2, seed=0)
    split_folder(root, folds=2, test_ratio=0.2, seed=0)  # the fix works


def test_a_file_name_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    """A Latin-1 name from an old Windows zip: before, split decoded every image and stopped in
    a traceback (UnicodeEncodeError: surrogates not allowed) writing the lists."""
    import os

    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    name = os.fsencode(root / "raw" / "dog") + b"/caf\xe9.png"
    Image.new("L", (4, 4), 99).save(os.fsdecode(name))
    with pytest.raises(DataError, match=r"caf\\udce9\.png.* is not named in UTF-8 .*caf\xe9\.png"):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)
    assert not (root / "splits").exists()


def test_palette_images_of_other_colours_are_not_copies(tmp_path: Path) -> None:
    """A palette image's bytes are indices: before, a red and a blue square saved as GIF had one
    digest and split refused them as one image filed under two classes. The same palette
    picture as PNG and BMP (palettes stored differently) is still one picture."""
    for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / "raw" / cls).mkdir(parents=True)
        for i in range(5):
            index = np.zeros((8, 8), np.uint8)
            index[i : i + 3, 1:6] = 1
            image = Image.fromarray(index, "P")
            image.putpalette([255, 255, 255, *colour])
            image.save(tmp_path / "raw" / cls / f"{i}.gif")
    Image.open(tmp_path / "raw" / "red" / "0.gif").save(tmp_path / "raw" / "red" / "0.bmp")
    split_folder(tmp_path, folds=2, test_ratio=0.2, seed=0)
    for name in ("test.txt", "fold_0_train.txt", "fold_0_val.txt"):
        members = set((tmp_path / "splits" / name).read_text().split())
        assert ("raw/red/0.gif" in members) == ("raw/red/0.bmp" in members)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"it is empty \(0 bytes"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(40), r"a HEIC/HEIF photo .* named \.jpg"),
        (b"\n<!DOCTYPE html><html><body>Not found</body></html>", r"an HTML page .* again"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", r"git lfs pull"),
    ],
)
def test_a_file_named_jpg_that_is_not_an_image_says_what_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Before, each was 'cannot identify image file', whatever it held."""
    root = _folder(tmp_path / "ds", {"cat": 6, "dog": 6})
    (root / "raw" / "cat" / "photo.jpg").write_bytes(content)
    with pytest.raises(DataError, match=r"photo\.jpg is not a readable image: .*" + message):
        split_folder(root, folds=2, test_ratio=0.2, seed=0)


def test_avif_and_jpeg_2000_images_are_read_not_left_out(tmp_path: Path) -> None:
    """Before: left out as 'not images' with a warning, so a class of web downloads shrank to
    its JPEGs (and one of AVIFs only was 'empty')."""
    from PIL import features

    if not (features.check("avif") and features.check("jpg_2000")):
        pytest.skip("this Pillow decodes no AVIF or JPEG 2000")
    root = _folder(tmp_path / "ds", {"cat": 3, "dog": 3})
    rng = np.random.default_rng(0)
    for i in range(3):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "raw" / "cat" / f"web{i}.avif")
        Image.fromarray(pixels[::-1]).save(root / "raw" / "dog" / f"scan{i}.jp2")
    split_folder(root, folds=2, test_ratio=0.3, seed=0)
    listed = " ".join(
        (root / "splits" / name).read_text()
        for name in ("test.txt", "fold_0_train.txt", "fold_0_val.txt")
    )
    assert all(f"web{i}.avif" in listed and f"scan{i}.jp2" in listed for i in range(3))
