"""`trainlab cv`: nested cross-validation in modes optimize | aggregate | train | full."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.redaction import redact
from trainlab.core.search.settings import check_settings, flatten_settings
from trainlab.errors import ConfigError
from trainlab.io import atomic_write_json
from trainlab.pipelines.kmer_cv.final import aggregate, train_final
from trainlab.pipelines.kmer_cv.fold import build_data, fold_result, write_fold_plan
from trainlab.pipelines.kmer_cv.launch import run_fold_jobs, set_threads, submit_finish_after
from trainlab.pipelines.kmer_cv.rules import REDO_KEY, check_folder_rules, versions

log = logging.getLogger(__name__)
MODES = ("optimize", "aggregate", "train", "full")
# settings that change what finished folds and trials mean; a resumed run must keep them
RESUME_KEYS = (
    "data",
    "model",
    "trainer",
    "monitor",
    "deterministic",
    "cv.monitor_mode",
    "cv.n_folds",
    "cv.n_inner_splits",
    "cv.seed",
    "cv.search_space",
    "cv.max_epochs",
    "cv.patience",
    "cv.validation_split",
    "cv.sampler",
    "cv.pruner",
)
SETTINGS_FILE = "cv_settings.json"
ALLOW_KEY = "cv.allow_changed_settings"


def run_cv(cfg: DictConfig) -> dict[str, Any]:
    """Run the stages of `cfg.mode` in `output_dir`, resuming what an earlier call finished."""
    mode = cfg.mode
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r}: use one of {list(MODES)}.")
    out_dir = Path(cfg.get("output_dir") or cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_threads(cfg)
    summary: dict[str, Any] = {"output_dir": str(out_dir), "mode": mode}
    datamodule = None
    if mode in ("optimize", "full"):
        datamodule = build_data(cfg)
        if not cfg.get("hyperparams"):
            check_search_space(cfg, datamodule)
        # after the checks: a refused start must not leave settings a fixed rerun trips over
        _check_resume_settings(cfg, out_dir)
        write_fold_plan(cfg, datamodule, out_dir)
        status = {k: fold_result(out_dir, k, cfg) for k in range(int(cfg.cv.n_folds))}
        todo = [k for k, (path, why) in status.items() if path is None or why]
        again = [k for k in todo if status[k][0] is not None]
        # each fold logs why, once, when it sets its earlier result aside
        note = f"; {again} again, their earlier results set aside" if again else ""
        log.info("outer folds to run: %s (launcher %s%s)", todo, cfg.cv.launcher, note)
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
    """Refuse to mix results of different settings in one folder (unless allowed: recorded)."""
    # written as *** where a secret was (core.redaction), on both sides of the comparison
    current = flatten_settings(redact({key: _select(cfg, key) for key in RESUME_KEYS}))
    path = out_dir / "cv_results" / SETTINGS_FILE
    redo = bool(cfg.cv.get("redo_other_rules", False))
    if not path.is_file():
        check_folder_rules(out_dir, {}, redo)  # results written before the settings were
        atomic_write_json(path, {**versions(), "settings": current, "changes": []})
        return
    stored = json.loads(path.read_text())
    if "settings" not in stored:  # written before changes were recorded: plain key -> value
        stored = {"settings": flatten_settings(stored), "changes": []}
    allow = bool(cfg.cv.get("allow_changed_settings", False))
    changes = check_settings(
        stored["settings"], current, allow, str(out_dir), ALLOW_KEY, "another run_name"
    )
    if changes:
        log.warning("%s: settings changed, allowed by %s=true:\n%s", out_dir, ALLOW_KEY, changes)
        stored["changes"].append(
            {
                "changes": changes,
                "allowed_by": f"{ALLOW_KEY}=true",
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
        stored["settings"] = current
    # results of other k-mer CV rules: refused, or redone with cv.redo_other_rules=true
    redone = check_folder_rules(out_dir, stored, redo)
    if redone:
        log.warning(
            "%s: redone under this trainlab's rules (%s=true): %s", out_dir, REDO_KEY, redone
        )
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        stored["changes"].append({"redone": redone, "by": f"{REDO_KEY}=true", "time": stamp})
    if changes or redone or {k: stored.get(k) for k in versions()} != versions():
        atomic_write_json(path, {**stored, **versions()})


def check_search_space(cfg: DictConfig, datamodule: Any) -> None:
    """Before the first trial: every searched key is used, and a point of the space builds.

    Building the model once with the space's first values catches keys that only the model
    can judge, e.g. a loss weight for a task the data does not have.
    """
    from trainlab.core.build import build_model
    from trainlab.core.search.consumed import check_consumed
    from trainlab.pipelines.kmer_cv.params import apply_params
    from trainlab.pipelines.kmer_cv.search_space import KEY, parse_search_space

    space = parse_search_space(cfg.cv.search_space)
    keys = [*space.searched.distributions, *space.fixed]
    check_consumed(cfg, keys, KEY)
    point = {**space.fixed, **space.searched.first_point()}
    try:
        build_model(apply_params(cfg, point), datamodule.spec())
    except ConfigError as err:
        raise ConfigError(f"{KEY}: a trial's model cannot be built: {err}") from err


def _select(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
