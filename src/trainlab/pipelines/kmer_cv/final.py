"""Aggregation over outer folds and the final model on all samples."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from trainlab.core.redaction import redact
from trainlab.core.search.aggregate import aggregate_params
from trainlab.data.kmer.folds import validation_split
from trainlab.errors import DataError
from trainlab.io import atomic_write_json, atomic_write_text
from trainlab.pipelines.kmer_cv.aggregate import (
    OVERALL,
    STD_NOTE,
    aggregate_metrics,
    plot_results,
    results_table,
    table_markdown,
    table_text,
)
from trainlab.pipelines.kmer_cv.baselines import add_baseline_columns, baselines_by_fold_markdown
from trainlab.pipelines.kmer_cv.fit import Monitor, fit_rows, fit_seed, monitor_of
from trainlab.pipelines.kmer_cv.fold import build_data, fold_result, searched_fewer
from trainlab.pipelines.kmer_cv.params import apply_params, load_hyperparams, used_params
from trainlab.pipelines.kmer_cv.rules import (
    check_final_rules,
    other_rules_error,
    rules_of,
    versions,
)
from trainlab.pipelines.kmer_cv.search_space import parse_search_space

log = logging.getLogger(__name__)
#: How a tie of a choice parameter's mode is broken, as aggregated_results.json records it.
TIE_BREAK = (
    "a tie of a choice parameter's mode goes to the value whose folds have the better mean "
    "inner-CV score (each fold's best search objective, `inner_fold_scores`); equal or missing "
    "inner scores: the first of the tied values in the search space's choice(). The outer test "
    "scores (`outer_fold_scores`) are reported only and never choose a parameter."
)


def aggregate(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    """Combine the finished folds: best_hyperparameters.json, aggregated_results.json, table."""
    results_dir = Path(out_dir) / "cv_results"
    records, missing, stale = [], [], []
    for fold in range(int(cfg.cv.n_folds)):
        path, why = fold_result(out_dir, fold)
        if path is None:
            missing.append(fold)
        else:
            records.append(json.loads(path.read_text()))
            if why:  # computed under other k-mer CV rules
                stale.append((f"fold {fold}", rules_of(records[-1])))
    if stale:
        raise other_rules_error(out_dir, stale, _settings(out_dir))
    if missing:
        raise DataError(
            f"{results_dir}: folds {missing} have no results yet. Run `trainlab cv mode=optimize` "
            "with the same run_name first (finished folds are kept)."
        )
    short = {r["fold_id"]: n for r in records if (n := searched_fewer(r, cfg)) is not None}
    if short:
        raise _short_search_error(results_dir, cfg, short, records)
    monitor = monitor_of(cfg)
    scores = [outer_score(r["test_metrics"], monitor) for r in records]
    inner = [inner_score(r) for r in records]
    best, rules = aggregate_params(
        # each width over the folds whose network had that layer (rule entry `folds`)
        [used_params(r["best_params"]) for r in records],
        # ties are broken by the searches' inner scores: the outer test scores estimate the
        # final model and must not choose its parameters (they did before, probe: relu chosen
        # by its fold's test 0.95 over gelu, whose fold's search scored 0.90 vs 0.70)
        inner,
        parse_search_space(cfg.cv.search_space).searched,
        maximize=monitor.mode == "max",
    )
    aggregated = aggregate_metrics([r["test_metrics"] for r in records])
    rows = add_baseline_columns(results_table(aggregated), records)
    if by_fold := baselines_by_fold_markdown(records):
        atomic_write_text(results_dir / "baselines_by_fold.md", by_fold)
    atomic_write_json(results_dir / "best_hyperparameters.json", best)
    record = {
        "std": STD_NOTE,
        "test_metrics": aggregated,
        "hyperparameters": rules,
        "tie_break": TIE_BREAK,
        "inner_fold_scores": {"metric": monitor.key, "values": inner},
        # reported, never used to choose a parameter
        "outer_fold_scores": {"metric": _test_key(monitor), "values": scores},
    }
    atomic_write_json(results_dir / "aggregated_results.json", record)
    atomic_write_text(results_dir / "results_table.md", table_markdown(rows))
    plot_results(aggregated, results_dir / "results.png")
    print(f"\nNested CV over {len(records)} outer folds (test folds):\n{table_text(rows)}")
    print(f"Aggregated hyperparameters (rule per parameter):\n{params_text(rules)}")
    return {"best_hyperparameters": best, "aggregated": aggregated, "table": rows}


def _short_search_error(
    results_dir: Path, cfg: DictConfig, short: dict[int, int], records: list[dict]
) -> DataError:
    """Folds that searched fewer trials than cv.n_trials: the counts and the value to pass.

    Before: "... (fold: trials {0: 3, 1: 3}) ... or aggregate with the cv.n_trials they ran",
    which left the user to work out the value.
    """
    counts = ", ".join(f"fold {k}: {n}" for k, n in sorted(short.items()))
    fewest = min(short.values())
    mixed = len(set(short.values())) > 1 or len(short) < len(records)
    return DataError(
        f"{results_dir}: the folds' searches ran fewer trials than cv.n_trials="
        f"{cfg.cv.n_trials} asks for ({counts}). To aggregate what they ran, pass "
        f"cv.n_trials={fewest}: `trainlab cv mode=aggregate cv.n_trials={fewest}` with the same "
        f"run_name{' (the fewest any fold ran; the others ran more)' if mixed else ''}. Or run "
        "`trainlab cv mode=optimize` with the same run_name to extend their searches to "
        f"cv.n_trials={cfg.cv.n_trials} (finished trials are kept)."
    )


def _settings(out_dir: Path) -> dict:
    path = Path(out_dir) / "cv_results" / "cv_settings.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _test_key(monitor: Monitor) -> str:
    return "test/" + monitor.key.split("/", 1)[1]


def inner_score(record: dict) -> float | None:
    """A fold's inner score: its search's best objective (mean over its inner validation
    splits of the monitor); None for a fold trained with given hyperparams (no search)."""
    value = (record.get("search") or {}).get("best_inner_score")
    return None if value is None else float(value)


def outer_score(test_metrics: dict[str, dict[str, float]], monitor: Monitor) -> float:
    """A fold's test score of the monitored metric (`val/x` -> overall x, `val/t/x` -> t's x)."""
    parts = monitor.key.split("/")[1:]
    task, metric = (OVERALL, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    value = test_metrics.get(task, {}).get(metric)
    if value is None:
        raise DataError(
            f"the fold results hold no test {task}/{metric} (the test counterpart of "
            f"monitor={monitor.key}); rerun the folds with this monitor."
        )
    return float(value)


def params_text(rules: dict[str, dict[str, Any]]) -> str:
    """One line per parameter: key = result  (rule; fold values)."""
    lines = []
    for key, entry in rules.items():
        values = ", ".join(_short(v) for v in entry["values"])
        # a subset of the folds (e.g. a width of a layer only some folds had): named
        folds = "folds" if "folds" not in entry else "folds " + ", ".join(map(str, entry["folds"]))
        lines.append(f"  {key} = {_short(entry['result'])}  ({entry['rule']}; {folds}: {values})")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def train_final(cfg: DictConfig, out_dir: Path, datamodule: Any = None) -> dict[str, Any]:
    """Train on all samples with the aggregated (or given) parameters; epoch chosen on a
    stratified validation split. A finished final training is not redone; one trained with
    other parameters than those asked for now is refused."""
    final_dir = Path(out_dir) / "final_model"
    config_path = final_dir / "final_training_config.json"
    params = load_hyperparams(cfg.get("hyperparams"))
    source = "hyperparams"
    if not params:
        best_path = Path(out_dir) / "cv_results" / "best_hyperparameters.json"
        if not best_path.is_file():
            raise DataError(
                f"{best_path} is missing: run `trainlab cv mode=aggregate` first, or give "
                "hyperparams=<json file or object> to train with chosen parameters."
            )
        params, source = json.loads(best_path.read_text()), str(best_path)
        problems = parse_search_space(cfg.cv.search_space).searched.problems(
            params, require_all=False
        )
        if problems:
            raise DataError(
                f"{best_path} holds values outside cv.search_space:\n  "
                + "\n  ".join(problems)
                + "\nFix: rerun `trainlab cv mode=aggregate` with the search space of the "
                "folds, or give hyperparams=<json> explicitly."
            )
    # a final model of other k-mer CV rules: refused, or moved aside with cv.redo_other_rules
    check_final_rules(out_dir, bool(cfg.cv.get("redo_other_rules", False)), _settings(out_dir))
    if config_path.is_file():
        return _finished_final(config_path, params, source)
    datamodule = datamodule or build_data(cfg)
    data = datamodule.load()
    rows = np.arange(len(data.y))
    fit, val = validation_split(
        rows, datamodule.strata(), cfg.final.validation_split, int(cfg.seed), data.groups
    )
    final_cfg = apply_params(cfg, params)
    started = time.time()
    result = fit_rows(
        final_cfg,
        datamodule,
        fit,
        val,
        max_epochs=cfg.final.max_epochs,
        patience=cfg.final.patience,
        checkpoint_dir=final_dir / "checkpoints",
        seed=fit_seed(int(cfg.seed)),
    )
    atomic_write_json(final_dir / "training_history.json", result.history)
    encoders = {task: {c: i for i, c in enumerate(classes)} for task, classes in data.tasks.items()}
    atomic_write_json(final_dir / "label_encoders.json", encoders)
    record = {
        "hyperparameters": params,
        "hyperparameters_source": source,
        "n_samples": len(rows),
        "n_train": len(fit),
        "n_validation": len(val),
        "validation_split": cfg.final.validation_split,
        "monitor": monitor_of(cfg).key,
        "best_epoch": result.best_epoch,
        "best_validation_score": result.best_score,
        "best_model_path": str(result.checkpoint) if result.checkpoint else None,
        "duration_s": time.time() - started,
        **versions(),  # the k-mer CV rules and trainlab that trained it (rules.py)
        # secrets as *** (core.redaction): the record is a file of the shared run folder
        "config": redact(OmegaConf.to_container(final_cfg, resolve=True)),
    }
    atomic_write_json(config_path, record)  # written last: marks the final training finished
    log.info("final model: %s (%s %.4f)", result.checkpoint, monitor_of(cfg).key, result.best_score)
    return record


def _finished_final(config_path: Path, params: dict[str, Any], source: str) -> dict[str, Any]:
    """The record of a finished final training, if it was trained with `params`.

    Before, a finished final model was returned whatever parameters were asked for now (new
    `hyperparams=`, or a new aggregation after longer searches), so `final_model/` silently
    held a model of other parameters than `best_hyperparameters.json`.
    """
    record = json.loads(config_path.read_text())
    # both sides as JSON holds them (floats and tuples as a file read back gives them)
    if record.get("hyperparameters") != json.loads(json.dumps(params)):
        old, new = record.get("hyperparameters") or {}, json.loads(json.dumps(params))
        changed = [
            f"{key}: {old.get(key, '<unset>')} -> {new.get(key, '<unset>')}"
            for key in sorted(set(old) | set(new))
            if old.get(key, "<unset>") != new.get(key, "<unset>")
        ]
        raise DataError(
            f"{config_path.parent} holds a final model trained with other hyperparameters than "
            f"{source} gives now:\n  "
            + "\n  ".join(changed)
            + "\nFix: move that folder away to train the final model again with these "
            "parameters, or use another run_name."
        )
    log.info("final model already trained (%s)", config_path.parent)
    return record
