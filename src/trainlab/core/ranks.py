"""Runs whose DDP processes were started by SLURM (one task per device) or torchrun.

Each such process runs the whole ``trainlab train``, not only Lightning's fit. Before this
module every rank claimed the run folder: under ``torchrun --nproc_per_node=2 -m
trainlab.cli.main train ... trainer.strategy=ddp run_name=x`` rank 1 stopped at once with "is
in use by PID <rank 0>" and the run failed (the same holds for SLURM tasks, which docs/slurm.md
named the way to train on several GPUs). Now rank 0 owns the run folder (lock, metadata,
status, data preparation, reports); the other ranks wait until rank 0 has prepared the data,
then build the same run and join its fit and test, writing nothing of their own there.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError, RunFolderError

log = logging.getLogger(__name__)
READY_PREFIX = ".data_ready-"  # + the launch's id: rank 0 wrote it once the data was set up


def _environment_rank(environ: Mapping[str, str]) -> int:
    """The global rank torchrun (RANK) or SLURM (SLURM_PROCID) gave this process."""
    key = "RANK" if "TORCHELASTIC_RUN_ID" in environ else "SLURM_PROCID"
    return int(environ.get(key, "0") or 0)


def started_rank(
    trainer_cfg: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> int | None:
    """This process's global rank when SLURM or torchrun started the DDP ranks; else None."""
    from trainlab.core.launch_guard import processes_per_node, started_outside

    environ = os.environ if environ is None else environ
    world = processes_per_node(trainer_cfg) * int(trainer_cfg.get("num_nodes", 1) or 1)
    if world <= 1 or not started_outside(world, environ):
        return None
    return _environment_rank(environ)


def started_as_follower(environ: Mapping[str, str] | None = None) -> bool:
    """From the environment alone (Hydra resolves the run folder before the config exists):
    whether SLURM or torchrun started this process as a DDP rank other than 0."""
    environ = os.environ if environ is None else environ
    if _environment_rank(environ) == 0:
        return False
    if "TORCHELASTIC_RUN_ID" in environ:
        return True
    interactive = environ.get("SLURM_JOB_NAME") in ("bash", "interactive")
    return not interactive and int(environ.get("SLURM_NTASKS", "1") or 1) > 1


def launch_id(environ: Mapping[str, str] | None = None) -> str:
    """One id shared by the ranks of this launch, another for a restart or requeue."""
    environ = os.environ if environ is None else environ
    if "TORCHELASTIC_RUN_ID" in environ:
        parts = [environ["TORCHELASTIC_RUN_ID"], environ.get("TORCHELASTIC_RESTART_COUNT", "0")]
    else:
        parts = [environ.get("SLURM_JOB_ID", "?"), environ.get("SLURM_RESTART_COUNT", "0")]
    return "-".join(p.replace(os.sep, "_") for p in parts)


def check_run_folder_shared(rank: int | None, run_name: Any, multirun: bool) -> None:
    """Ranks started apart must agree on the run folder: a named run, or a launcher's job."""
    if rank is None or run_name or multirun:
        return
    raise ConfigError(
        "this process is one of several DDP ranks started by SLURM or torchrun, and each "
        "would name its own time-stamped run folder (they can differ by a second). Fix: give "
        "the run a name, run_name=<name>, or send it through launcher=slurm"
    )


def data_ready(run_dir: Path) -> None:
    """Rank 0: the data is prepared and set up; the other ranks may read it."""
    marker = Path(run_dir) / f"{READY_PREFIX}{launch_id()}"
    marker.write_text(f"{os.getpid()}\n", encoding="utf-8")


def wait_for_data(run_dir: Path, timeout_s: float = 6 * 3600, poll_s: float = 0.5) -> None:
    """The other ranks: wait until rank 0 has prepared the data of this launch.

    Raises:
        RunFolderError: rank 0 recorded a failure, or nothing came within ``timeout_s``.
    """
    import json

    marker = Path(run_dir) / f"{READY_PREFIX}{launch_id()}"
    started, said = time.monotonic(), False
    while not marker.is_file():
        status = Path(run_dir) / "status.json"
        try:
            record = json.loads(status.read_text(encoding="utf-8")) if status.is_file() else {}
        except (OSError, ValueError):
            record = {}
        if record.get("status") == "failed" and status.stat().st_mtime > time.time() - (
            time.monotonic() - started
        ):
            raise RunFolderError(
                f"rank 0 of this run failed before its data was ready ({record.get('error')}); "
                f"see {run_dir}/train.log"
            )
        if time.monotonic() - started > timeout_s:
            raise RunFolderError(
                f"rank 0 did not prepare the data of {run_dir} within {timeout_s:.0f} s "
                f"({marker.name} never appeared): is rank 0 running?"
            )
        if not said and time.monotonic() - started > 10:
            log.info("waiting for rank 0 to prepare the data (%s)", marker)
            said = True
        time.sleep(poll_s)
