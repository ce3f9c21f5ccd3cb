"""SLURM job arrays through submitit, optionally with each job inside a container."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

from .config import TrainlabSlurmConf  # noqa: F401  (registers hydra/launcher=trainlab_slurm)

log = logging.getLogger(__name__)

# Settings that configure the executor itself, not one job's sbatch flags.
_EXECUTOR_KEYS = ("submitit_folder", "max_num_timeout", "container")


def container_python(container: Mapping[str, Any] | None, bind_paths: Sequence[str]) -> str | None:
    """The shell command that starts Python inside the image, or None to use the host's."""
    if not container or not container.get("image"):
        return None
    binds = list(dict.fromkeys([*bind_paths, *(container.get("binds") or [])]))
    words = [str(container.get("runtime") or "apptainer"), "exec"]
    words += [str(option) for option in container.get("options") or []]
    for bind in binds:
        words += ["--bind", bind if ":" in bind else f"{bind}:{bind}"]
    words += [str(container["image"]), str(container.get("python") or "python")]
    return " ".join(shlex.quote(w) for w in words)


def make_executor(settings: Mapping[str, Any], bind_paths: Sequence[str]) -> tuple[Any, str | None]:
    """The submitit SLURM executor of `settings`, and the container's Python command if any.

    Every value is checked first: it is written into the sbatch script, where a control
    character (a newline above all) would start a shell line of its own.
    """
    import submitit

    from trainlab.core.shell_values import check_shell_values

    check_shell_values(
        {k: v for k, v in settings.items() if k != "setup"},
        "hydra.launcher",
        flag_maps=("additional_parameters",),
    )
    # `setup` lines are shell commands by design (module load ...): one line per entry
    check_shell_values({"setup": list(settings.get("setup") or [])}, "hydra.launcher")
    python = container_python(settings.get("container"), bind_paths)
    executor = submitit.AutoExecutor(
        folder=settings["submitit_folder"],
        cluster="slurm",
        slurm_max_num_timeout=settings.get("max_num_timeout", 0),
        slurm_python=python,
    )
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{
            key if key in shared else f"slurm_{key}": value
            for key, value in settings.items()
            if key not in _EXECUTOR_KEYS
        }
    )
    return executor, python


class TrainlabSlurmLauncher(SlurmLauncher):
    """Submits each batch of jobs as one SLURM job array; `container` wraps their Python."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> list[JobReturn]:
        assert self.config is not None
        settings = dict(self.params)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        cwd = str(self.config.hydra.runtime.cwd)
        executor, python = make_executor(settings, [cwd, str(sweep_dir)])
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("SLURM job array of %d jobs, sweep folder %s", len(job_overrides), sweep_dir)
        if python:
            log.info("each job's Python: %s", python)
        args = []
        for offset, overrides in enumerate(job_overrides):
            number = initial_job_idx + offset
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
            args.append(
                (
                    list(overrides),
                    "hydra.sweep.dir",
                    number,
                    f"job_id_for_{number}",
                    Singleton.get_state(),
                )
            )
        jobs = executor.map_array(self, *zip(*args, strict=True))
        return [job.results()[0] for job in jobs]
