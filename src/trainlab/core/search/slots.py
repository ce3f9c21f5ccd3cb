"""Worker slots of an asynchronous sweep: which devices and how many threads each worker gets.

A slot is one worker process. With GPUs, `gpus_per_trial` decides the packing: 0.25 puts four
workers on each device (small models fill a GPU), 2 gives each worker a pair of devices. The
device ids go into the worker's `CUDA_VISIBLE_DEVICES` before it imports torch, so Lightning
inside sees exactly its share. Without GPUs each worker gets a group of `cpus_per_trial`
cores and limits torch's threads to it: two trials each using every core would slow each
other down more than running them one after the other.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass

from trainlab.errors import ConfigError

KEY = "hydra.sweeper"
# A CPU-only worker's default core group when neither workers nor cpus_per_trial is set.
DEFAULT_CPUS_PER_TRIAL = 4


@dataclass(frozen=True)
class WorkerSlot:
    """One worker's share of the machine."""

    index: int
    #: CUDA_VISIBLE_DEVICES for the worker ("" hides every GPU: a CPU worker).
    cuda_visible_devices: str
    #: torch (and OpenMP/MKL) threads of the worker.
    threads: int


def visible_gpus() -> list[str]:
    """This process's GPU ids as CUDA_VISIBLE_DEVICES would name them (empty: none)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
        if not ids:
            return []
    # no device files: no GPU, and no 1-2 s spent importing torch to learn it
    if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd")):
        return []
    import torch

    count = torch.cuda.device_count()
    if listed is not None:
        return ids[:count] if count else []
    return [str(i) for i in range(count)]


def available_cpus() -> int:
    """Cores this process may run on (its affinity, which SLURM and taskset restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def gpus_per_worker(gpus_per_trial: float) -> tuple[int, int]:
    """(devices per worker, workers per device) of a `gpus_per_trial` value.

    Raises:
        ConfigError: a fraction that does not split a device evenly (0.3), or a non-integer
            count above one (1.5).
    """
    value = float(gpus_per_trial)
    if value <= 0 or math.isnan(value):
        raise ConfigError(
            f"{KEY}.gpus_per_trial={gpus_per_trial!r} must be positive, or 0/null for CPU "
            "workers. Fix: e.g. gpus_per_trial=0.25 (four trials per GPU) or 1."
        )
    if value < 1:
        share = round(1 / value)
        if abs(share * value - 1) > 1e-6:
            raise ConfigError(
                f"{KEY}.gpus_per_trial={gpus_per_trial!r} does not split a GPU evenly. "
                "Fix: 1/k of a GPU, e.g. 0.5, 0.25 or 0.125."
            )
        return 1, share
    if value != int(value):
        raise ConfigError(
            f"{KEY}.gpus_per_trial={gpus_per_trial!r}: above one GPU only whole numbers work. "
            "Fix: e.g. gpus_per_trial=2."
        )
    return int(value), 1


def assign_slots(
    gpus: list[str],
    gpus_per_trial: float | None,
    cpus: int,
    cpus_per_trial: int | None = None,
    workers: int | None = None,
) -> list[WorkerSlot]:
    """The worker slots of this machine.

    Args:
        gpus: visible GPU ids (`visible_gpus()`); empty on a CPU-only machine.
        gpus_per_trial: a device share per worker; None or 0 runs CPU workers.
        cpus: cores available (`available_cpus()`).
        cpus_per_trial: torch threads per worker; None shares the cores evenly (CPU workers
            default to groups of `DEFAULT_CPUS_PER_TRIAL` when `workers` is None too).
        workers: how many workers; None takes every slot. More than the slots is an error.

    Raises:
        ConfigError: GPUs asked for where there are none, or more workers than slots.
    """
    if cpus_per_trial is not None and (int(cpus_per_trial) != cpus_per_trial or cpus_per_trial < 1):
        raise ConfigError(
            f"{KEY}.cpus_per_trial={cpus_per_trial!r} must be a positive integer (cores per "
            "worker), or null to share the cores evenly."
        )
    if workers is not None and (int(workers) != workers or workers < 1):
        raise ConfigError(
            f"{KEY}.workers={workers!r} must be a positive integer, or null for one per slot."
        )
    if gpus_per_trial:
        per_worker, share = gpus_per_worker(gpus_per_trial)  # a bad value first, GPUs or not
        if not gpus:
            raise ConfigError(
                f"{KEY}.gpus_per_trial={gpus_per_trial} but this machine has no visible GPU "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}). Fix: "
                f"{KEY}.gpus_per_trial=0 for CPU workers (one per cpus_per_trial cores), or "
                "run the sweep on a GPU machine."
            )
        if per_worker > len(gpus):
            raise ConfigError(
                f"{KEY}.gpus_per_trial={gpus_per_trial} but only {len(gpus)} GPU(s) are "
                f"visible ({','.join(gpus)}). Fix: gpus_per_trial={len(gpus)} or fewer."
            )
        groups = [
            ",".join(gpus[i : i + per_worker])
            for i in range(0, len(gpus) - per_worker + 1, per_worker)
        ]
        devices = [group for group in groups for _ in range(share)]
    else:
        if workers is None:
            workers = max(1, cpus // (cpus_per_trial or DEFAULT_CPUS_PER_TRIAL))
        devices = [""] * workers
    if workers is None:
        workers = len(devices)
    if workers > len(devices):
        raise ConfigError(
            f"{KEY}.workers={workers} but there are only {len(devices)} slots "
            f"({len(gpus)} GPU(s) at gpus_per_trial={gpus_per_trial}). Fix: workers=null "
            "(one per slot), fewer workers, or a smaller gpus_per_trial."
        )
    threads = int(cpus_per_trial) if cpus_per_trial else max(1, cpus // workers)
    return [WorkerSlot(i, devices[i], threads) for i in range(workers)]
