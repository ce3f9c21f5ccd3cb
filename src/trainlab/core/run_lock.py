"""A run folder belongs to one live process: a lock file holding host and PID, kept locked.

``<run folder>/run.lock`` is created (or reopened) and locked with ``flock`` for as long as the
process lives; the kernel releases the lock when the process dies, SIGKILL included, so a lock
left by a dead run is taken over (with a note) and one held by a live run refuses the second
start at once, naming that process. The host and PID written into the file are for people.

Shared file systems: the lock is only as good as the file system's ``flock`` across hosts. It
holds on local disks, NFSv4 and Lustre mounted with ``flock``; with Lustre's ``localflock`` or
NFS without lock support, two hosts can both take the same folder: give runs on such file
systems distinct ``run_name`` values (SLURM requeues reuse their own folder and are fine).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from trainlab.errors import RunFolderError

LOCK_FILE = "run.lock"
log = logging.getLogger(__name__)

# Open, locked handles of the folders this process claimed. A lock lives as long as its file
# descriptor, so the descriptors are kept for the life of the process (or until released).
_HELD: dict[str, int] = {}


def _describe(text: str) -> str:
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return f"PID {fields.get('pid', '?')} on host {fields.get('host', '?')}" + (
        f" (since {fields['started']})" if "started" in fields else ""
    )


def holder(folder: Path) -> str | None:
    """Who holds ``folder``'s lock now ("PID n on host h"), or None when nobody does."""
    path = Path(folder) / LOCK_FILE
    if str(Path(folder).resolve()) in _HELD:
        return _describe(path.read_text(encoding="utf-8", errors="replace"))
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _describe(os.pread(fd, 4096, 0).decode("utf-8", errors="replace"))
    finally:
        os.close(fd)
    return None


def claim(folder: Path) -> None:
    """Lock ``folder`` for this process, creating it; refuse when a live process holds it."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _HELD:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    try:
        # not through a link: the lock file is truncated and written below, and a run.lock
        # linked to a user's file (a run folder unpacked from someone's archive) emptied it
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise RunFolderError(f"cannot open {path}: {err}") from err
        raise RunFolderError(
            f"{path} is a symbolic link (to {os.readlink(path)}); trainlab writes its lock "
            f"into this file and would overwrite what the link points to. Remove the link "
            f"(rm {path}) and start again"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        previous = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunFolderError(f"cannot lock {path}: {err}") from err
        raise RunFolderError(
            f"{folder} is in use by {_describe(previous)}. Wait for that run to end (or stop "
            f"it), or start this one with another run_name"
        ) from None
    previous = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    if previous.strip():
        log.warning(
            "took over the lock of %s left by %s, which has ended", folder, _describe(previous)
        )
    record = (
        f"host={socket.gethostname()}\npid={os.getpid()}\n"
        f"started={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    ).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)
    os.fsync(fd)
    _HELD[key] = fd


def release(folder: Path) -> None:
    """Unlock ``folder`` (the file stays; its content is cleared so nobody sees a stale owner)."""
    fd = _HELD.pop(str(Path(folder).resolve()), None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)


def release_all() -> None:
    """Unlock every folder this process claimed (a new invocation in the same process)."""
    for key in list(_HELD):
        release(Path(key))
