"""Run folders are never shared with an earlier run unless resuming; writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.core import run_dir as rd
from trainlab.errors import RunFolderError
from trainlab.io import atomic_write_json, write_new


def test_new_folders_never_collide(tmp_path: Path) -> None:
    first = rd.new_run_dir(tmp_path)
    first.mkdir()
    second = rd.new_run_dir(tmp_path)
    assert second != first and second.name.startswith(first.name)


def test_named_folder_with_checkpoints_needs_resume(tmp_path: Path) -> None:
    (tmp_path / "exp" / "checkpoints").mkdir(parents=True)
    with pytest.raises(RunFolderError, match="resume=auto"):
        rd._choose(tmp_path, "exp", None)
    assert rd._choose(tmp_path, "exp", "auto") == tmp_path / "exp"


def test_auto_picks_the_newest_unfinished_run(tmp_path: Path) -> None:
    for name, status in (("a", "finished"), ("b", "interrupted")):
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        (tmp_path / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
        atomic_write_json(tmp_path / name / "status.json", {"status": status})
    assert rd._choose(tmp_path, None, "auto") == tmp_path / "b"
    assert rd.run_dir_of(tmp_path / "b" / "checkpoints" / "last.ckpt") == tmp_path / "b"


def test_write_new_refuses_to_replace(tmp_path: Path) -> None:
    write_new(tmp_path / "x.txt", "one")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "x.txt", "two")
    assert (tmp_path / "x.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temporary left behind
