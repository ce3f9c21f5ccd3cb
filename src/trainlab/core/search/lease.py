"""Leases of an asynchronous sweep: a trial whose worker died runs again elsewhere.

A worker stamps its RUNNING trial with the time (`trainlab_heartbeat`) every `interval`
seconds from a thread, and its own status file (`<sweep>/.workers/<k>.json`) with it. Any
worker that finds a RUNNING trial whose stamp is older than `stale_after` ends it as
interrupted (`trials.end_interrupted`: FAIL with `trainlab_interrupted`, parameters queued
again with `retry_of`), under a file lock so two workers never queue the same retry twice.

Why our own stamp rather than Optuna's heartbeat: Optuna's (`heartbeat_interval` and
`fail_stale_trials`) exists for RDBStorage only, and the journal file is the storage meant
for shared file systems, where SLURM workers on several nodes meet.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.core.search.trials import end_interrupted
from trainlab.io import atomic_write_json

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: Trial user attribute: when the trial's worker last said it is alive (Unix time).
HEARTBEAT_ATTR = "trainlab_heartbeat"
#: Trial user attribute: which worker runs the trial ("<index>@<host>:<pid>").
WORKER_ATTR = "trainlab_worker"
#: Trial user attribute: its SLURM worker was preempted and requeued while running it (time).
REQUEUED_ATTR = "trainlab_requeued_at"
#: A lease is lost after this many missed heartbeats.
MISSED_BEATS = 4
# A requeued worker comes back to its own trial (resume=auto in its run folder); SLURM makes
# a requeued job wait before it is eligible again (cred_expire: 120 s by default, 142 s
# measured on the local cluster before it shortened it; docs/slurm.md), plus queueing: its
# trial is kept that long before others retry it.
REQUEUE_GRACE_S = 900.0
WORKERS_DIR = ".workers"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive `flock` on `path` (created if needed), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def worker_name(index: int) -> str:
    """`<index>@<host>:<pid>`: enough to find the process from a status line."""
    return f"{index}@{socket.gethostname()}:{os.getpid()}"


def last_sign_of_life(trial: optuna.trial.FrozenTrial) -> float:
    """The trial's last heartbeat; its start where it has none (a batch sweep's trial)."""
    beat = trial.user_attrs.get(HEARTBEAT_ATTR)
    if beat is not None:
        return float(beat)
    start = trial.datetime_start
    return start.timestamp() if start is not None else 0.0


def reap_stale(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    stale_after: float,
    lock: Path,
    now: Callable[[], float] = time.time,
) -> list[int]:
    """Ends RUNNING trials whose lease ran out; returns their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    ended = []
    with file_lock(lock):
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            silent = now() - last_sign_of_life(trial)
            if silent <= stale_after:
                continue
            requeued = trial.user_attrs.get(REQUEUED_ATTR)
            if requeued is not None and now() - float(requeued) <= REQUEUE_GRACE_S:
                continue  # its worker comes back to it
            who = trial.user_attrs.get(WORKER_ATTR, "its worker")
            why = f"lost: {who} sent no heartbeat for {silent:.0f} s (killed or preempted)"
            try:
                end_interrupted(study, storage, trial.number, why)
            except UpdateFinishedTrialError:  # its worker told it just now: it was alive
                continue
            ended.append(trial.number)
    return ended


class Heartbeat:
    """A daemon thread that keeps this worker's lease (and status file) fresh.

    Args:
        storage: the study storage (its own handle: the thread writes while trials train).
        status_file: `<sweep>/.workers/<k>.json`, rewritten on every beat.
        interval: seconds between beats.
        info: fixed fields of the status file (index, host, pid, SLURM job id, ...).
    """

    def __init__(
        self,
        storage: optuna.storages.BaseStorage,
        status_file: Path,
        interval: float,
        info: dict[str, Any],
    ) -> None:
        self.storage = storage
        self.status_file = status_file
        self.interval = interval
        self.info = dict(info)
        self.trial: tuple[int, int] | None = None  # (trial id, number)
        self.state = "starting"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="trainlab-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def hold(self, trial_id: int | None, number: int | None, state: str) -> None:
        """Records what the worker does now (a trial, or `idle`/`done`) and beats at once."""
        with self._lock:
            self.trial = None if trial_id is None else (trial_id, int(number))
            self.state = state
        self.beat()

    def beat(self) -> None:
        with self._lock:
            trial, state = self.trial, self.state
        now = time.time()
        if trial is not None:
            try:
                self.storage.set_trial_user_attr(trial[0], HEARTBEAT_ATTR, now)
            except Exception as err:  # finished meanwhile, or the storage is busy: next beat
                log.debug("heartbeat of trial %d skipped: %s", trial[1], err)
        status = {**self.info, "state": state, "trial": trial[1] if trial else None, "seen": now}
        with contextlib.suppress(OSError):
            atomic_write_json(self.status_file, status)

    def stop(self, state: str = "done") -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.hold(None, None, state)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
