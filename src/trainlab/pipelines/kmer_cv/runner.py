"""`trainlab cv`: nested cross-validation in modes optimize | aggregate | train | full."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.redaction import redact
from trainlab.errors import ConfigError
from trainlab.io import atomic_write_json
from trainlab.pipelines.kmer_cv.final import aggregate, train_final
from trainlab.pipelines.kmer_cv.fold import build_data, finished_result, write_fold_plan
from trainlab.pipelines.kmer_cv.launch import run_fold_jobs, set_threads, submit_finish_after

log = logging.getLogger(__name__)
MODES = ("optimize", "aggregate", "train", "full")
# settings that change what finished folds and trials mean; a resumed run must keep them
RESUME_KEYS = ("data", "model", "cv.n_folds", "cv.n_inner_splits", "cv.seed", "cv.search_space")


def run_cv(cfg: DictConfig) -> dict[str, Any]:
    """Run the stages of `cfg.mode` in `output_dir`, resuming what an earlier call finished."""
    mode = cfg.mode
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r}: use one of {list(MODES)}.")
    out_dir = Path(cfg.get("output_dir") or cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_threads(cfg)
    if mode in ("optimize", "full"):
        _check_resume_settings(cfg, out_dir)
    summary: dict[str, Any] = {"output_dir": str(out_dir), "mode": mode}
    datamodule = None
    if mode in ("optimize", "full"):
        datamodule = build_data(cfg)
        write_fold_plan(cfg, datamodule, out_dir)
        todo = [k for k in range(int(cfg.cv.n_folds)) if finished_result(out_dir, k) is None]
        log.info("outer folds to run: %s (launcher %s)", todo, cfg.cv.launcher)
        jobs = run_fold_jobs(cfg, todo, out_dir, datamodule)
        if cfg.cv.launcher == "slurm" and not cfg.cv.slurm.wait and todo:
            summary["fold_jobs"] = [job.job_id for job in jobs]
            if mode == "full":
                summary["final_job"] = submit_finish_after(cfg, jobs, out_dir).job_id
            print(f"submitted: {summary}. Results appear under {out_dir}/cv_results.")
            return summary
    if mode in ("aggregate", "full"):
        summary["aggregate"] = aggregate(cfg, out_dir)
    if mode in ("train", "full"):
        summary["final"] = train_final(cfg, out_dir, datamodule)
    return summary


def _check_resume_settings(cfg: DictConfig, out_dir: Path) -> None:
    """Refuse to mix results of different settings in one folder."""
    # written as *** where a secret was (core.redaction), on both sides of the comparison
    current = redact({key: _select(cfg, key) for key in RESUME_KEYS})
    path = out_dir / "cv_results" / "cv_settings.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        changed = [k for k in RESUME_KEYS if stored.get(k) != current[k]]
        if changed:
            raise ConfigError(
                f"{out_dir} holds CV results made with other {changed}. Resume with the same "
                "settings, or start a new folder with another run_name."
            )
        return
    atomic_write_json(path, current)


def _select(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
