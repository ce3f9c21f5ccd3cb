"""One sweeper per sweep folder: `<sweep>/sweep.lock`, held with `flock` while a sweeper runs.

A sweeper that opens a study marks every RUNNING trial as left by a dead sweep and queues its
parameters again. Started on a folder whose sweep still runs, a second batch sweeper did that to
the live sweep's trial: the trial ran twice (trials 0 and 1 with the same parameters), the
study held 5 trials for n_trials=3, and the first sweeper died telling its finished job
(`UpdateFinishedTrialError: Trial#0 has already finished`). Async sweeps refused only once
workers had written a status file, so two started together both passed.

The kernel releases the lock when the process ends, SIGKILL included, so a killed sweep
resumes at once. The host, PID and start time in the file are for the message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from pathlib import Path

from trainlab.errors import RunFolderError

LOCK_FILE = "sweep.lock"
_HELD: dict[str, int] = {}


def claim_sweep(folder: Path) -> None:
    """Lock the sweep folder for this process; refuse when another live sweeper holds it."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _HELD:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunFolderError(f"cannot lock {path}: {err}") from err
        fields = dict(line.split("=", 1) for line in holder.splitlines() if "=" in line)
        who = (
            f"PID {fields.get('pid', '?')} on host {fields.get('host', '?')}"
            f" (since {fields.get('started', '?')})"
        )
        raise RunFolderError(
            f"the sweep in {folder} is being run by another sweeper, {who}. A second one "
            "would take that sweep's running trials for interrupted ones and run them again. "
            f"Fix: follow it with `trainlab sweep wait {folder}` (re-run the command after it "
            "ended to extend or resume it), or start this search elsewhere (another run_name "
            "or hydra.sweep.dir)."
        ) from None
    record = f"host={socket.gethostname()}\npid={os.getpid()}\n"
    record += f"started={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)
    _HELD[key] = fd


def release_sweep(folder: Path) -> None:
    """Unlock the sweep folder (the file stays, emptied)."""
    fd = _HELD.pop(str(Path(folder).resolve()), None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)


def sweeper_gone(folder: Path) -> bool:
    """Whether the sweeper that last held `<folder>/sweep.lock` died holding it.

    A sweeper that ends empties the file; one killed (SIGKILL, a lost node) leaves its host and
    PID there and the kernel frees the lock. False where nothing says so: no file, an empty one
    (ended, or a sweep from before the lock), or a lock still held.
    """
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        if not holder.strip():
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False  # held: the sweeper runs
    finally:
        os.close(fd)
    return True
