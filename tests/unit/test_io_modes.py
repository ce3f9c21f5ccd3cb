"""Files written by the atomic writer get the mode a shell's `>` would give them."""

from __future__ import annotations

import os

import pytest

from trainlab.io import atomic_write_bytes, atomic_write_json, current_umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_follow_the_umask(tmp_path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        path = atomic_write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_a_replaced_file_keeps_its_mode(tmp_path) -> None:
    path = atomic_write_bytes(tmp_path / "x.bin", b"1")
    path.chmod(0o640)
    atomic_write_bytes(path, b"2")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_bytes() == b"2"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]  # no temporary file left
