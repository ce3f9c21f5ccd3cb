"""Folders of data files are read through symbolic links the same way by every reader: links
to folders are entered (not dropped), a loop or a dangling link is refused naming the link,
and a link pointing outside the data folder is named in a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.images.folder import scan_class_folders
from trainlab.data.spectra.convert import iter_supported
from trainlab.errors import DataError


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """raw/cat and raw/dog with one image each, and a folder of photos outside raw/."""
    raw = tmp_path / "data" / "raw"
    _image(raw / "cat" / "a.png")
    _image(raw / "dog" / "b.png")
    _image(tmp_path / "shared" / "2023" / "c1.png")
    _image(tmp_path / "shared" / "2023" / "c2.png")
    return raw


def test_a_linked_folder_inside_a_class_folder_is_read(raw: Path, caplog) -> None:
    # before: rglob did not enter the link, and the class lost c1.png and c2.png silently
    (raw / "cat" / "2023").symlink_to(raw.parent.parent / "shared" / "2023")
    with caplog.at_level(logging.WARNING, logger="trainlab.data.folders"):
        classes = scan_class_folders(raw)
    assert classes["cat"] == ["raw/cat/2023/c1.png", "raw/cat/2023/c2.png", "raw/cat/a.png"]
    warned = [r.getMessage() for r in caplog.records if "point outside it" in r.getMessage()]
    assert len(warned) == 1 and "raw/cat/2023 -> " in warned[0], warned


def test_links_inside_the_data_folder_are_read_without_a_warning(raw: Path, caplog) -> None:
    (raw / "dog" / "same_as_a.png").symlink_to(raw / "cat" / "a.png")
    with caplog.at_level(logging.WARNING, logger="trainlab.data.folders"):
        classes = scan_class_folders(raw)
    assert classes["dog"] == ["raw/dog/b.png", "raw/dog/same_as_a.png"]
    assert not [r for r in caplog.records if "point outside it" in r.getMessage()]


def test_a_link_to_a_folder_above_it_is_refused_naming_the_link(raw: Path) -> None:
    (raw / "cat" / "loop").symlink_to(raw / "cat")  # before: skipped without a word
    with pytest.raises(DataError, match=r"cat/loop is a symbolic link to .*already read"):
        scan_class_folders(raw)


def test_a_dangling_link_is_refused_naming_it(raw: Path) -> None:
    (raw / "dog" / "gone.png").symlink_to(raw / "nowhere.png")
    with pytest.raises(DataError, match=r"dog/gone\.png is a symbolic link to .*does not exist"):
        scan_class_folders(raw)


def test_convert_reads_runs_in_a_linked_folder(tmp_path: Path) -> None:
    runs, shared = tmp_path / "runs", tmp_path / "shared"
    runs.mkdir(), shared.mkdir()
    (runs / "a.mgf").write_text("")
    (shared / "b.mzML").write_text("")
    (runs / "batch2").symlink_to(shared)  # before: b.mzML was not converted, without a word
    assert list(iter_supported([runs])) == [runs / "a.mgf", runs / "batch2" / "b.mzML"]
