"""How a run ends on the record: status.json, logger runs, and SIGTERM turned into an exit."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def record_status(run_dir: Path, status: str, **extra: Any) -> None:
    """``set_status``, and when even that cannot be written (a full disk), say so on stderr.

    The process exits non-zero in both cases (the caller re-raises), so a scheduler or a shell
    still sees the failure when ``status.json`` could not be updated.
    """
    from trainlab.core.artifacts import set_status

    try:
        set_status(run_dir, status, **extra)
    except OSError as err:
        detail = f" ({extra['error']})" if "error" in extra else ""
        print(
            f"\nerror: run {run_dir} ended {status}{detail}, and its status.json could not be "
            f"updated: {err}",
            file=sys.stderr,
        )


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` inside the block, so the run is recorded as interrupted.

    Only where nobody else handles SIGTERM (submitit and SLURM setups install their own handler
    for requeueing and keep it) and only in the main thread, where Python delivers signals.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
