"""Baselines beside every reported score: the same training rows, the same test rows.

The DataModule hands over its rows as arrays (``baseline_features(split)`` of the DataModule
contract, ``trainlab.data.contract``), ``trainlab.metrics.baselines`` fits and scores, and
this module times it, writes ``baselines.json`` and formats the table that ``summary.txt``, the
evaluation report and the CV results print beside the model's numbers.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.errors import ConfigError
from trainlab.metrics.baselines import (
    BASELINE_NAMES,
    LINEAR,
    MAJORITY,
    LinearSettings,
    PriorRule,
    classification_baselines,
    pu_baselines,
)

log = logging.getLogger(__name__)
BASELINES_FILE = "baselines.json"
DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "linear": True,
    # Logistic regression costs about rows x features x iterations: past this many training
    # cells (e.g. 16,000 RGB images of 32x32) only the majority baseline runs, with a note.
    "max_train_cells": 50_000_000,
    "C": 1.0,
    "max_iter": 1000,
}
SHORT_NAMES = {"majority": "majority", "logistic_regression": "logreg"}


def baseline_settings(node: Any) -> dict[str, Any]:
    """The ``baselines`` config node with defaults filled; unknown keys are refused."""
    if node is None:
        return {**DEFAULTS, "enabled": False}
    given = dict(node)
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"baselines.{unknown[0]} is not a baselines setting; use one of {sorted(DEFAULTS)} "
            f"(e.g. baselines.enabled=false to switch them off)"
        )
    settings = {**DEFAULTS, **given}
    for key in ("enabled", "linear"):
        if not isinstance(settings[key], bool):
            raise ConfigError(f"baselines.{key}={settings[key]!r}: use true or false")
    return settings


def _features(datamodule: Any, split: str) -> tuple[str, np.ndarray, Any, str] | None:
    """(kind, features, labels, description) of a split, or None when the data has none."""
    from trainlab.data.contract import DataModuleContract

    if isinstance(datamodule, DataModuleContract):
        return datamodule.baseline_features(split)
    return None


def has_split(datamodule: Any, split: str) -> bool:
    """Whether the DataModule holds rows of ``split`` (after setup)."""
    rows = getattr(datamodule, "rows", None)
    if isinstance(rows, dict):
        return split in rows and len(rows[split]) > 0
    datasets = getattr(datamodule, "datasets", None)
    return isinstance(datasets, dict) and split in datasets and len(datasets[split]) > 0


def model_threshold(model: Any) -> float:
    """The probability at which a PU model calls a spectrum positive in its metrics (0.5)."""
    metrics = getattr(model, "metrics", None)
    try:
        return float(metrics["test_metrics"].threshold)
    except (TypeError, KeyError, AttributeError):
        return 0.5


def model_prior_rule(model: Any, split: str = "test") -> tuple[np.ndarray, np.ndarray] | None:
    """(class prior, labelled share) by polarity code behind an nnPU model's at-prior figures
    of ``split``; None for other models."""
    rule = getattr(model, "prior_rule", None)
    return rule(split) if callable(rule) else None


def _prior_rule(
    datamodule: Any, split: str, found: tuple[np.ndarray, np.ndarray] | None
) -> PriorRule | None:
    """The model's at-prior rule on the rows of ``split``, for the baselines (None: none)."""
    polarities = getattr(datamodule, "baseline_polarities", None)
    if found is None or not callable(polarities):
        return None
    return PriorRule(np.asarray(polarities(split)), *found)


def model_max_span_len(model: Any) -> int | None:
    """The longest span a span model decodes (its ``max_span_len``), None for any length."""
    value = getattr(model, "max_span_len", None)
    return int(value) if isinstance(value, int | float) else None


def _span_rows(datamodule: Any, split: str) -> dict[str, np.ndarray] | None:
    """Token arrays and gold spans of a split's rows with a span target (text evidence/joint)."""
    tensors = getattr(getattr(datamodule, "datasets", {}).get(split), "tensors", None)
    if not isinstance(tensors, dict):
        return None
    from trainlab.metrics.span_baselines import span_rows

    return span_rows(tensors)


def _one_class(labels: Any) -> bool:
    return isinstance(labels, dict) and all(len(np.unique(y[y >= 0])) < 2 for y in labels.values())


def compute_baselines(
    node: Any,
    datamodule: Any,
    test_split: str = "test",
    prefix: str = "test",
    threshold: float = 0.5,
    max_span_len: int | None = None,
    prior_rule: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any] | None:
    """Fit the baselines on the ``train`` rows, score them on ``test_split``; None when off.

    ``prior_rule`` (an nnPU model's priors and labelled shares by polarity, see
    ``model_prior_rule``) scores PU baselines at the prior too, the figures nnPU leads with.

    Returns ``{"scores": {baseline: {metric: value}}, "seconds", "n_train", "n_test",
    "features", "notes"}``; ``scores`` keys are the model's metric keys (``test/acc``).
    Data with evidence spans (text evidence and joint) also get span baselines (``test/em``,
    ``test/token_f1``, decoded with at most ``max_span_len`` tokens as the model does).
    """
    settings = baseline_settings(node)
    if not settings["enabled"]:
        return None
    if not (has_split(datamodule, "train") and has_split(datamodule, test_split)):
        log.info("baselines skipped: the data has no train and %s rows", test_split)
        return None
    started = time.perf_counter()
    span_train, span_test = _span_rows(datamodule, "train"), _span_rows(datamodule, test_split)
    spans = span_train is not None and span_test is not None
    train = _features(datamodule, "train")
    test = _features(datamodule, test_split)
    if spans and (train is None or _one_class(train[2])):
        # evidence data: every row is a positive, there is no class to predict
        train = test = None
    if spans and train is None:
        block = _span_block(settings, span_train, span_test, prefix, max_span_len)
        block["seconds"] = time.perf_counter() - started
        log.info("baselines on %s: %.2f s", block["features"], block["seconds"])
        return block
    if train is None or test is None:
        log.info("baselines skipped: %s gives no baseline features", type(datamodule).__name__)
        return None
    kind, x_train, y_train, description = train
    _, x_test, y_test, _ = test
    cells = int(x_train.shape[0]) * int(x_train.shape[1])
    what = f"logistic regression skipped: {x_train.shape[0]} x {x_train.shape[1]} training cells"
    linear, notes, linear_settings = _linear_plan(settings, cells, what)
    if kind == "pu":
        rule = _prior_rule(datamodule, test_split, prior_rule)
        result = pu_baselines(
            x_train, y_train, x_test, y_test, linear_settings, threshold, prefix, linear, rule
        )
    else:
        tasks = datamodule.spec()["tasks"]
        result = classification_baselines(
            x_train, y_train, x_test, y_test, tasks, linear_settings, prefix, linear
        )
    block = {
        "scores": result.scores,
        "n_train": int(x_train.shape[0]),
        "n_test": int(x_test.shape[0]),
        "features": description,
        "notes": notes + result.notes,
    }
    if spans:
        span = _span_block(settings, span_train, span_test, prefix, max_span_len)
        for name, values in span["scores"].items():
            block["scores"].setdefault(name, {}).update(values)
        block["features"] += f"; {span['features']}"
        block["notes"] += span["notes"]
    seconds = time.perf_counter() - started
    block["seconds"] = seconds
    log.info("baselines on %s: %.2f s, %s", description, seconds, _short(result.scores, prefix))
    return block


def _linear_plan(
    settings: dict[str, Any], cells: int, skipped: str
) -> tuple[bool, list[str], LinearSettings]:
    """Whether the linear baseline runs (off past `max_train_cells`, noted), and its settings."""
    linear, notes = bool(settings["linear"]), []
    if linear and cells > settings["max_train_cells"]:
        linear = False
        notes.append(f"{skipped} > baselines.max_train_cells={settings['max_train_cells']}")
    return linear, notes, LinearSettings(C=float(settings["C"]), max_iter=int(settings["max_iter"]))


def _span_block(
    settings: dict[str, Any],
    train: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    prefix: str,
    max_span_len: int | None,
) -> dict[str, Any]:
    from trainlab.metrics.span_baselines import FEATURES, span_baselines

    cells = int(train["context_mask"].sum())
    what = f"span logistic regression skipped: {cells} training post tokens"
    linear, notes, linear_settings = _linear_plan(settings, cells, what)
    result = span_baselines(train, test, linear_settings, max_span_len, prefix, linear)
    return {
        "scores": result.scores,
        "n_train": len(train["start"]),
        "n_test": len(test["start"]),
        "features": FEATURES,
        "notes": notes + result.notes,
    }


def whole_post_baselines(
    node: Any, datamodule: Any, split: str = "test", max_span_len: int | None = None
) -> dict[str, Any] | None:
    """The span baselines on the inputs of the evaluation report's ``evidence``: whole posts
    read in windows (``data.window_overlap``), not the one truncated sequence per example that
    the test loop, ``test/em`` and the baselines of ``baselines.json`` use. None when off or
    the data has no windows (not span data)."""
    settings = baseline_settings(node)
    windowed = getattr(datamodule, "evaluation_post_windows", None)
    if not settings["enabled"] or not callable(windowed):
        return None
    train, windows = _span_rows(datamodule, "train"), windowed(split)
    if train is None or windows is None or len(train["start"]) == 0:
        return None
    from trainlab.metrics.span_baselines import FEATURES, whole_post_span_baselines

    started = time.perf_counter()
    cells = int(train["context_mask"].sum())
    what = f"span logistic regression skipped: {cells} training post tokens"
    linear, notes, linear_settings = _linear_plan(settings, cells, what)
    from trainlab.data.text.windows import merge_windows

    def merge(outputs: list[dict[str, Any]]) -> dict[str, Any]:
        return merge_windows(outputs, windows)

    result, n_test = whole_post_span_baselines(
        train, windows.tensors, windows.example_of, merge, linear_settings, max_span_len, linear
    )
    return {
        "inputs": (
            f"whole posts read in windows of data.max_length tokens overlapping by "
            f"data.window_overlap, as the model's evidence figures here ({windows.long_examples} "
            f"of {len(windows.windows_per_example)} examples needed more than one window)"
        ),
        "scores": result.scores,
        "n_train": len(train["start"]),
        "n_test": n_test,
        "features": FEATURES,
        "notes": notes + result.notes,
        "seconds": time.perf_counter() - started,
    }


def _short(scores: dict[str, dict[str, float]], prefix: str) -> str:
    parts = []
    for name, values in scores.items():
        key = next((k for k in values if k.count("/") == 1), None)
        if key:
            parts.append(f"{SHORT_NAMES.get(name, name)} {key} {values[key]:.4f}")
    return ", ".join(parts)


def write_baselines(run_dir: Path, block: dict[str, Any] | None) -> Path | None:
    """``baselines.json`` in the run folder (nothing when baselines are off)."""
    if block is None:
        return None
    from trainlab.io import atomic_write_json

    return atomic_write_json(Path(run_dir) / BASELINES_FILE, block)


def format_baselines(
    block: dict[str, Any] | None, model_metrics: dict[str, float], run_seconds: float | None = None
) -> list[str]:
    """Lines of a table: each metric of the baselines, the model's value beside theirs."""
    if not block:
        return []
    names = [n for n in BASELINE_NAMES if n in block["scores"]]
    keys = list(dict.fromkeys(k for n in names for k in block["scores"][n]))
    cost = f"{block['seconds']:.2f} s"
    if run_seconds:
        cost += f", {100 * block['seconds'] / run_seconds:.1f} % of the run"
    lines = [
        f"baselines (fitted on the {block['n_train']} training rows, scored on the same "
        f"{block['n_test']} test rows as the model; {block['features']}):"
    ]
    width = max([len("metric"), *map(len, keys)])
    header = f"  {'metric':<{width}}  {'model':>8}" + "".join(
        f"  {SHORT_NAMES.get(n, n):>8}" for n in names
    )
    lines.append(header)
    for key in keys:
        row = f"  {key:<{width}}  {_cell(model_metrics.get(key))}"
        row += "".join(f"  {_cell(block['scores'][n].get(key))}" for n in names)
        lines.append(row)
    lines.extend(f"  note: {note}" for note in block.get("notes", []))
    lines.extend(f"  warning: {text}" for text in baseline_warnings(block, model_metrics))
    # a line of its own, like the run's duration: the only figure that differs between reruns
    lines.append(f"duration of the baselines: {cost}")
    return lines


def baseline_warnings(block: dict[str, Any] | None, model_metrics: dict[str, float]) -> list[str]:
    """What the table says about the model when it loses to a baseline on every metric.

    Only metrics where higher is better (everything but losses) that the model and the
    baseline both have. A digits run at lr 1e12 scored test/acc 0.1000, the majority's 0.1000,
    and nothing said so.
    """
    if not block:
        return []

    def beaten_by(name: str, ties_lose: bool) -> list[str] | None:
        scores = block["scores"].get(name) or {}
        keys = [
            k
            for k, v in scores.items()
            if "loss" not in k and _finite(v) and _finite(model_metrics.get(k))
        ]
        if not keys:
            return None
        margin = 1e-9 if ties_lose else -1e-9
        if all(float(model_metrics[k]) <= float(scores[k]) + margin for k in keys):
            return keys
        return None

    out = []
    if keys := beaten_by(MAJORITY, ties_lose=True):
        out.append(
            f"the model does no better than always answering the most frequent class "
            f"(majority) on any of {', '.join(keys)}: it has learnt nothing usable"
        )
    elif keys := beaten_by(LINEAR, ties_lose=False):
        out.append(
            f"a logistic regression on the same inputs scores higher than the model on every "
            f"metric ({', '.join(keys)})"
        )
    return out


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _cell(value: Any) -> str:
    if value is None:
        return f"{'-':>8}"
    value = float(value)
    return f"{'nan':>8}" if math.isnan(value) else f"{value:8.4f}"


def run_baselines(cfg: Any, run_dir: Path, model: Any, datamodule: Any) -> dict[str, Any] | None:
    """The baselines of a finished run on its test rows, written to ``baselines.json``."""
    block = compute_baselines(
        cfg.get("baselines"),
        datamodule,
        threshold=model_threshold(model),
        max_span_len=model_max_span_len(model),
        prior_rule=model_prior_rule(model),
    )
    note = getattr(model, "threshold_note", None)
    if block is not None and callable(note) and note():
        block["notes"].append(note())  # e.g. nnPU: 0.5 is not its decision rule
    write_baselines(run_dir, block)
    return block


def beside_model(
    block: dict[str, Any] | None, model_metrics: dict[str, float]
) -> dict[str, Any] | None:
    """The block with the model's own values of the same metric keys under ``model``."""
    if block is None:
        return None
    keys = dict.fromkeys(k for scores in block["scores"].values() for k in scores)
    return {**block, "model": {k: model_metrics[k] for k in keys if k in model_metrics}}
