"""Atomic writes: results appear whole or not at all, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    with atomic_open(path) as handle:
        handle.write(data)
    return Path(path)


def _new_temporary(path: Path) -> tuple[int, str]:
    """An open temporary file beside ``path``, with the mode ``path`` will have."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes the file 0600 whatever the umask; give it the mode a shell's `>` would
    # (the old file's, else 0666 less the umask) so a lab group can read shared results
    os.fchmod(fd, _mode_for(path))
    return fd, tmp


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it (Linux), else by setting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically; numpy/torch scalars become plain numbers."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_new(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically, refusing to replace a file that already exists."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it")
    return atomic_write_text(path, text)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` only when the block ends without error.

    For writers that stream (checkpoints): the data goes to a temporary file in the same folder,
    is flushed and fsynced, then renamed over ``path`` (and the folder fsynced). On any
    error, a full disk included, the
    temporary file is removed and ``path`` keeps its earlier content. The file mode follows
    :func:`atomic_write_bytes`.
    """
    path = Path(path)
    fd, tmp = _new_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: without it a power cut can bring back the old name."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_path(path: str | os.PathLike) -> Path:
    """A fresh, unused name beside ``path`` for a writer that needs a path (a memmap).

    Write the file there, then :func:`commit_temporary` it into place.
    """
    fd, tmp = _new_temporary(Path(path))
    os.close(fd)
    return Path(tmp)


def commit_temporary(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Fsync the finished file ``tmp`` and rename it over ``path``; remove it on failure."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(Path(path).parent)
    return Path(path)
