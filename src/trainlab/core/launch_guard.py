"""Refuse launches that would silently go wrong, before any work starts.

Lightning starts the extra ranks of `strategy=ddp` by running the same command line again.
Inside a Hydra multirun (`-m`) that command line is the whole sweep: every extra rank would
run the sweep a second time, with other parameters (and, with the Optuna sweeper, new trials).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from trainlab.errors import ConfigError

# Strategies whose ranks Lightning starts inside this process (no re-run of the command).
IN_PROCESS_STARTS = ("ddp_spawn", "ddp_fork", "ddp_notebook", "spawn", "fork", "xla", "single")


def processes_per_node(trainer_cfg: Mapping[str, Any]) -> int:
    """How many processes Lightning starts per node for this trainer config."""
    devices = trainer_cfg.get("devices", 1)
    accelerator = str(trainer_cfg.get("accelerator", "auto")).lower()
    if not isinstance(devices, int | str):  # a list (or ListConfig) of device indices
        return len(devices)
    text = str(devices).strip().lower()
    if text in ("-1", "auto"):
        if accelerator in ("gpu", "cuda", "auto"):
            import torch

            count = torch.cuda.device_count()
            if count or accelerator != "auto":
                return count
        return 1 if text == "auto" else os.cpu_count() or 1
    if "," in text:  # "0,1": device indices
        return len([d for d in text.split(",") if d.strip()])
    return int(text)


def _starts_in_process(strategy: Any) -> bool:
    if isinstance(strategy, Mapping):
        target = str(strategy.get("_target_", "")).lower()
        method = str(strategy.get("start_method", "popen")).lower()
        return "spawn" in target or method in ("spawn", "fork", "forkserver")
    return str(strategy or "auto").lower().startswith(IN_PROCESS_STARTS)


def started_outside(world: int, environ: Mapping[str, str]) -> bool:
    """True when SLURM (one task per rank) or torchrun started this process as a rank."""
    if "TORCHELASTIC_RUN_ID" in environ:
        return True
    tasks = environ.get("SLURM_NTASKS")
    interactive = environ.get("SLURM_JOB_NAME") in ("bash", "interactive")
    return tasks is not None and not interactive and int(tasks) == world


def check_ddp_relaunch(
    trainer_cfg: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """Raise ConfigError when Lightning would start the extra ranks by re-running the command.

    It re-runs ``sys.argv`` as a script (or ``python -m`` module) with Hydra overrides added;
    trainlab's entry points rewrite ``sys.argv`` for Hydra, so the re-run is not a trainlab
    command: ``trainlab train ... trainer=ddp_sim trainer.strategy=ddp`` (2 gloo processes)
    ended with rank 1's "can't open file '.../trainlab train'" and rc 137 after start-up, the
    same through ``python train.py`` and ``python -m trainlab.cli.main train`` (rank 1 there
    printed the list of subcommands).
    """
    environ = os.environ if environ is None else environ
    per_node = processes_per_node(trainer_cfg)
    world = per_node * int(trainer_cfg.get("num_nodes", 1) or 1)
    strategy = trainer_cfg.get("strategy", "auto")
    if per_node <= 1 or _starts_in_process(strategy) or started_outside(world, environ):
        return
    raise ConfigError(
        f"trainer.strategy={strategy!r} with trainer.devices={trainer_cfg.get('devices')}: "
        "Lightning would start the other processes by re-running this command line, which "
        "trainlab's entry points cannot be re-run as. Fix: trainer.strategy=ddp_spawn "
        "(trainer=ddp_sim on CPU), or let SLURM start one task per device (launcher=slurm "
        f"with hydra.launcher.tasks_per_node={per_node}), or torchrun."
    )


def check_ddp_in_multirun(
    trainer_cfg: Mapping[str, Any], multirun: bool, environ: Mapping[str, str] | None = None
) -> None:
    """Raise ConfigError when a multirun job would start DDP ranks by re-running the command."""
    if not multirun:
        return
    environ = os.environ if environ is None else environ
    per_node = processes_per_node(trainer_cfg)
    world = per_node * int(trainer_cfg.get("num_nodes", 1) or 1)
    strategy = trainer_cfg.get("strategy", "auto")
    if world <= 1 or _starts_in_process(strategy):
        return
    slurm_tasks = environ.get("SLURM_NTASKS")
    if slurm_tasks is not None and environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        if int(slurm_tasks) == world:
            return  # SLURM started one task per rank; Lightning re-runs nothing
        raise ConfigError(
            f"trainer.devices={trainer_cfg.get('devices')} x num_nodes needs {world} SLURM tasks, "
            f"but this job has SLURM_NTASKS={slurm_tasks}. Fix: "
            f"hydra.launcher.tasks_per_node={per_node} (launcher=slurm), one task per device."
        )
    raise ConfigError(
        f"trainer.strategy={strategy!r} with {world} processes inside a Hydra multirun (-m): "
        "Lightning would start every extra rank by re-running this command line, which runs "
        "the whole sweep again with other parameters. Fix: trainer.strategy=ddp_spawn "
        "(trainer=ddp_sim on CPU), or launcher=slurm with "
        f"hydra.launcher.tasks_per_node={per_node} so that SLURM starts the ranks, or run the "
        "runs one by one without -m."
    )
