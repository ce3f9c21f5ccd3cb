"""Refit: train one configuration once per seed and report the mean and spread of its metrics.

Each seed trains in its own folder `<refit run>/seed_<k>/` through the ordinary one-run core;
`refit_summary.json` in the refit folder holds every run's final metrics with their mean and
sample standard deviation. The data split does not change with the seed (it has its own
`data.split_seed`), so the spread measures training variance only.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from trainlab.core.console import StepProgress
from trainlab.errors import ConfigError
from trainlab.io import atomic_write_json

log = logging.getLogger(__name__)

SUMMARY_FILE = "refit_summary.json"


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample std (0 for one run) of every metric all runs report."""
    keys = set.intersection(*(set(r["metrics"]) for r in runs)) if runs else set()
    mean, std = {}, {}
    for key in sorted(keys):
        values = [float(r["metrics"][key]) for r in runs]
        mean[key] = statistics.fmean(values)
        std[key] = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std}


def refit(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """Train `cfg` once per seed in `cfg.seeds`; write and return the summary."""
    from trainlab.core.train import train

    seeds = [int(s) for s in (cfg.get("seeds") or [])]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds={seeds}: give distinct seeds, e.g. seeds=[0,1,2].")
    base = Path(cfg.paths.output_dir)
    started = time.time()
    runs = []
    progress = StepProgress("refit seed", len(seeds), log)
    for seed in seeds:
        run_cfg = copy.deepcopy(cfg)
        with open_dict(run_cfg):
            run_cfg.seed = seed
            run_cfg.paths.output_dir = str(base / f"seed_{seed}")
            run_cfg.pop("seeds", None)
        log.info("refit: seed %d -> %s", seed, run_cfg.paths.output_dir)
        metrics = train(run_cfg, [*overrides, f"seed={seed}"])
        runs.append({"seed": seed, "run_dir": run_cfg.paths.output_dir, "metrics": metrics})
        # Written after every seed, so an interrupted refit still leaves its finished runs.
        _write(base, cfg, runs, started)
        progress.step(f"seed {seed} finished")
    summary = _write(base, cfg, runs, started)
    monitor = str(cfg.get("optimized_metric") or cfg.get("monitor") or "")
    for key in (f"test/{monitor.split('/', 1)[-1]}", monitor):
        if key in summary["mean"]:
            log.info(
                "refit over %d seeds: %s = %.4f ± %.4f",
                len(seeds),
                key,
                summary["mean"][key],
                summary["std"][key],
            )
    return summary


def _write(base: Path, cfg: DictConfig, runs: list[dict], started: float) -> dict[str, Any]:
    summary = {
        "experiment": cfg.get("experiment_name"),
        "best_config": cfg.get("best_config"),
        "seeds": [r["seed"] for r in runs],
        "duration_s": time.time() - started,
        **summarise(runs),
        "runs": runs,
    }
    atomic_write_json(base / SUMMARY_FILE, summary)
    return summary
