"""Where outer-fold jobs run: in this process, as local processes, or as a SLURM job array."""

from __future__ import annotations

import logging
import shlex
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.console import StepProgress
from trainlab.core.shell_values import check_shell_values
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)
LAUNCHERS = ("sequential", "local", "slurm")


def set_threads(cfg: DictConfig) -> None:
    """Apply `cv.torch_threads` to this process."""
    import torch

    threads = cfg.cv.get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))


def _job_config(sealed_cfg: dict) -> DictConfig:
    """The job's config with its secrets back (core.job_secrets), output redacted."""
    from trainlab.core.job_secrets import protect_job_output, unseal

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    protect_job_output()  # the job's stdout/stderr are files in <run>/jobs/
    cfg = OmegaConf.create(unseal(sealed_cfg))
    set_threads(cfg)
    return cfg


def fold_job(sealed_cfg: dict, fold: int, out_dir: str) -> dict:
    """Entry point of a fold job in another process (pickled by submitit)."""
    from trainlab.core.job_secrets import redacted_failure
    from trainlab.pipelines.kmer_cv.fold import run_fold

    try:
        return run_fold(_job_config(sealed_cfg), fold, Path(out_dir))
    except Exception as err:  # submitit pickles the traceback text into <run>/jobs/
        raise redacted_failure(err) from None


def finish_job(sealed_cfg: dict, out_dir: str) -> dict:
    """Aggregate the folds and train the final model (the job after a SLURM array)."""
    from trainlab.core.job_secrets import redacted_failure
    from trainlab.pipelines.kmer_cv.final import aggregate, train_final

    try:
        cfg = _job_config(sealed_cfg)
        aggregate(cfg, Path(out_dir))
        return train_final(cfg, Path(out_dir))
    except Exception as err:
        raise redacted_failure(err) from None


def sealed_config(cfg: DictConfig) -> tuple[dict, dict[str, str]]:
    """The resolved config for a job's pickle, secrets replaced (core/job_secrets.py)."""
    from trainlab.core.job_secrets import seal

    return seal(OmegaConf.to_container(cfg, resolve=True))


def run_fold_jobs(
    cfg: DictConfig, folds: list[int], out_dir: Path, datamodule: Any = None
) -> list[Any]:
    """Run (or, with SLURM and wait=false, submit) the given folds; returns results or jobs."""
    launcher = cfg.cv.launcher
    if launcher not in LAUNCHERS:
        raise ConfigError(f"cv.launcher={launcher!r}: use one of {list(LAUNCHERS)}.")
    if not folds:
        return []
    if launcher == "sequential":
        from trainlab.pipelines.kmer_cv.fold import run_fold

        progress = StepProgress("outer fold", len(folds), log)
        records = []
        for k in folds:
            records.append(run_fold(cfg, k, out_dir, datamodule))
            progress.step(f"fold {k} finished")
        return records
    import submitit

    from trainlab.core.job_secrets import carried

    plain, carriers = sealed_config(cfg)
    if launcher == "local":
        local = cfg.cv.local
        executor = submitit.LocalExecutor(folder=str(out_dir / "jobs" / "%j"))
        executor.update_parameters(timeout_min=int(local.timeout_min))
        results = []
        width = max(1, int(local.n_parallel))
        progress = StepProgress("outer fold", len(folds), log)
        for start in range(0, len(folds), width):
            wave = folds[start : start + width]
            with carried(carriers):  # the job processes inherit them at start
                jobs = [executor.submit(fold_job, plain, k, str(out_dir)) for k in wave]
            log.info("local fold jobs %s: %s", wave, [j.job_id for j in jobs])
            for k, job in zip(wave, jobs, strict=True):
                results.append(job.result())
                progress.step(f"fold {k} finished")
        return results
    with carried(carriers):  # sbatch exports the submitting environment to the jobs
        return _slurm(cfg, plain, folds, out_dir)


def _same_code() -> list[str]:
    """sbatch setup lines that make jobs import the trainlab this process runs."""
    import trainlab

    root = shlex.quote(str(Path(trainlab.__file__).resolve().parents[1]))
    return [f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}"]


def _slurm(cfg: DictConfig, plain: dict, folds: list[int], out_dir: Path) -> list[Any]:
    import submitit

    if shutil.which("sbatch") is None:
        raise ConfigError(
            "cv.launcher=slurm but `sbatch` is not on PATH: run on a SLURM login node, or use "
            "cv.launcher=local (parallel processes) or sequential."
        )
    slurm = cfg.cv.slurm
    check_shell_values(slurm, "cv.slurm", flag_maps=("additional",))  # written into sbatch
    executor = submitit.AutoExecutor(folder=str(out_dir / "jobs" / "%j"), cluster="slurm")
    extra = OmegaConf.to_container(slurm.additional, resolve=True) if slurm.additional else {}
    executor.update_parameters(
        name="kmer_cv_fold",
        timeout_min=int(slurm.timeout_min),
        cpus_per_task=int(slurm.cpus_per_task),
        mem_gb=float(slurm.mem_gb),
        gpus_per_node=int(slurm.gpus_per_node),
        slurm_partition=slurm.partition,
        slurm_array_parallelism=int(slurm.array_parallelism),
        slurm_additional_parameters=extra,
        slurm_setup=_same_code(),
    )
    n = len(folds)
    jobs = executor.map_array(fold_job, [plain] * n, folds, [str(out_dir)] * n)
    log.info("SLURM fold array: %s (folds %s)", jobs[0].job_id.split("_")[0], folds)
    if slurm.wait:
        return [job.result() for job in jobs]
    return jobs


def submit_finish_after(cfg: DictConfig, jobs: list[Any], out_dir: Path) -> Any:
    """Submit aggregation + final training to start when every fold job has succeeded."""
    import submitit

    slurm = cfg.cv.slurm
    check_shell_values(slurm, "cv.slurm", flag_maps=("additional",))
    from trainlab.core.job_secrets import carried

    plain, carriers = sealed_config(cfg)
    executor = submitit.AutoExecutor(folder=str(out_dir / "jobs" / "%j"), cluster="slurm")
    ids = ":".join(job.job_id for job in jobs)
    extra = OmegaConf.to_container(slurm.additional, resolve=True) if slurm.additional else {}
    executor.update_parameters(
        name="kmer_cv_final",
        timeout_min=int(slurm.timeout_min),
        cpus_per_task=int(slurm.cpus_per_task),
        mem_gb=float(slurm.mem_gb),
        gpus_per_node=int(slurm.gpus_per_node),
        slurm_partition=slurm.partition,
        slurm_additional_parameters={**extra, "dependency": f"afterok:{ids}"},
        slurm_setup=_same_code(),
    )
    with carried(carriers):
        return executor.submit(finish_job, plain, str(out_dir))
