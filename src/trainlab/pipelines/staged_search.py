"""Staged search: each stage's sweep ends by writing `best_config.yaml` in its sweep folder.

A stage is an ordinary sweep (`python train.py -m hparams_search=text/stage1_coarse ...`); the
Hydra callback `WriteBestConfig` reads the sweeper's `optimization_results.yaml` when the
multirun ends and writes `best_config.yaml` beside it (and beside the sweeper's `trials.csv`).
A stage started with `best_config=<previous stage>/best_config.yaml` trains every trial from the
previous best (trial parameters still win, see trainlab.core.best_config), and its own
best_config.yaml carries the previous values forward, so the last stage's file is complete.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from trainlab.core.best_config import flatten, read_best_config, unflatten
from trainlab.errors import ConfigError
from trainlab.io import atomic_write_text

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"
BEST_FILE = "best_config.yaml"


def best_config_from_results(
    results: dict[str, Any],
    previous: dict[str, Any] | None,
    group_names: set[str],
    meta: dict[str, Any],
    trained: Any = None,
) -> dict[str, Any]:
    """The content of best_config.yaml: previous best values, then this stage's best params.

    Args:
        results: the sweeper's optimization_results.yaml.
        previous: the best config this stage started from (or None).
        group_names: config groups (a best param with such a name is a group choice).
        meta: facts about the stage, stored under `_search`.
        trained: the best trial's resolved run config (its `config.yaml`), or None. A value
            carried from `previous` that the trial trained with another value of (a fixed
            override of this stage wins over `best_config`) is written as trained.
    """
    params = results.get("best_params")
    if params is None:
        raise ConfigError(
            "the sweep finished without a best trial (every trial failed or was pruned): "
            "no best_config.yaml. Look at trials.csv in the sweep folder."
        )
    values = flatten(previous or {})
    if trained is not None:
        values = _as_trained(values, trained)
    choices = dict((previous or {}).get("_choices") or {})
    for key, value in params.items():
        if key in group_names:
            choices[key] = value
        else:
            values[key] = value
    best = {
        "_search": {
            **meta,
            "best_value": results.get("best_value"),
            "best_trial": results.get("best_trial"),
            "best_job_dir": results.get("best_job_dir"),
        },
        **unflatten(values),
    }
    if choices:
        best["_choices"] = choices
    return best


def _as_trained(values: dict[str, Any], trained: Any) -> dict[str, Any]:
    """`values` with each key set to what the trial's run config holds, where it differs.

    A stage's fixed override of a key of the best config it started from wins over that file
    in every trial (`model.optimizer.weight_decay=0.0` on the command line); carried forward
    unchanged, best_config.yaml named the previous stage's 0.00635 for a trial that trained
    with 0.0, and a refit from it trained a configuration no trial had evaluated.
    """
    missing = object()
    out = dict(values)
    for key, value in values.items():
        used = OmegaConf.select(trained, key, default=missing)
        if used is missing:
            continue
        if OmegaConf.is_config(used):
            used = OmegaConf.to_container(used, resolve=True)
        if used != value:
            log.warning(
                "best_config: %s=%r comes from the best config this stage started from, but "
                "the best trial trained with %r (a fixed setting of this stage); written as %r",
                key,
                value,
                used,
                used,
            )
            out[key] = used
    return out


def _trained_config(results: dict[str, Any]) -> Any:
    """The best trial's resolved run config (`<best_job_dir>/config.yaml`), or None."""
    job_dir = results.get("best_job_dir")
    path = Path(str(job_dir)) / "config.yaml" if job_dir else None
    if path is None or not path.is_file():
        return None
    return OmegaConf.load(path)


class WriteBestConfig(Callback):
    """Hydra callback: write `best_config.yaml` into the sweep folder when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():  # the sweep folder's path interpolates ${hydra:...}
            HydraConfig.instance().set_config(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        results_path = sweep_dir / RESULTS_FILE
        if not results_path.is_file():
            log.warning("no %s in %s: best_config.yaml not written", RESULTS_FILE, sweep_dir)
            return
        import yaml

        results = yaml.safe_load(results_path.read_text(encoding="utf-8")) or {}
        started_from = config.get("best_config")
        previous = read_best_config(started_from) if started_from else None
        choices = OmegaConf.to_container(config.hydra.runtime.choices)
        meta = {
            "stage": choices.get("hparams_search"),
            "experiment": config.get("experiment_name"),
            "metric": config.get("optimized_metric"),
            "direction": results.get("direction"),
            "sweep_dir": str(sweep_dir),
            "started_from": str(started_from) if started_from else None,
        }
        best = best_config_from_results(
            results, previous, set(choices), meta, _trained_config(results)
        )
        header = (
            f"# Best values of the {meta['stage']} search ({meta['metric']} = "
            f"{results.get('best_value')}, trial {results.get('best_trial')}).\n"
            f"# Train with them: python train.py experiment={meta['experiment']} "
            f"best_config={sweep_dir / BEST_FILE}\n"
        )
        text = header + yaml.safe_dump(best, sort_keys=False)
        path = atomic_write_text(sweep_dir / BEST_FILE, text)
        log.info("wrote %s", path)
