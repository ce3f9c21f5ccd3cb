"""Baselines of each outer fold, and their columns in the CV results tables.

Each fold's majority class and logistic regression (on the k-mer features) are fitted on the
rows its model was fitted on and scored on its test rows; the results table then shows, per
task and metric, the model's mean over folds beside the baselines' means, and
``baselines_by_fold.md`` the same per fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trainlab.core.baselines import SHORT_NAMES, compute_baselines
from trainlab.metrics.baselines import BASELINE_NAMES
from trainlab.pipelines.kmer_cv.aggregate import aggregate_metrics, nest_metrics

COLUMNS = tuple(SHORT_NAMES[name] for name in BASELINE_NAMES)


def fold_baselines(
    node: Any, datamodule: Any, train: np.ndarray, test: np.ndarray
) -> dict[str, Any] | None:
    """Baselines on a fold's rows: ``{"scores": {baseline: {task: {metric: v}}}, "seconds"}``."""
    datamodule.use_rows(train, None, test)
    block = compute_baselines(node, datamodule)
    if block is None:
        return None
    return {
        **block,
        "scores": {name: nest_metrics(flat, "test") for name, flat in block["scores"].items()},
    }


def add_baseline_columns(rows: list[dict], records: Sequence[dict]) -> list[dict]:
    """``results_table`` rows with the baselines' means over folds (``majority``, ``logreg``)."""
    folds = [r.get("baselines") for r in records]
    if not folds or any(f is None for f in folds):
        return rows
    means = {
        SHORT_NAMES[name]: aggregate_metrics([f["scores"][name] for f in folds])
        for name in BASELINE_NAMES
        if all(name in f["scores"] for f in folds)
    }
    for row in rows:
        for column, aggregated in means.items():
            stats = aggregated.get(row["task"], {}).get(row["metric"])
            row[column] = stats["mean"] if stats else float("nan")
    return rows


def baselines_by_fold_markdown(records: Sequence[dict]) -> str | None:
    """Markdown table: fold, task, metric, the model's test score and each baseline's."""
    if not records or any(r.get("baselines") is None for r in records):
        return None
    names = [n for n in BASELINE_NAMES if n in records[0]["baselines"]["scores"]]
    header = "| fold | task | metric | model | " + " | ".join(SHORT_NAMES[n] for n in names) + " |"
    lines = [header, "|---|---|---|---:|" + "---:|" * len(names)]
    for record in sorted(records, key=lambda r: r["fold_id"]):
        model = record["test_metrics"]
        scores = record["baselines"]["scores"]
        for task in scores[names[0]]:
            for metric in scores[names[0]][task]:
                values = [model.get(task, {}).get(metric)]
                values += [scores[n].get(task, {}).get(metric) for n in names]
                cells = " | ".join("-" if v is None else f"{v:.4f}" for v in values)
                lines.append(f"| {record['fold_id']} | {task} | {metric} | {cells} |")
    return "\n".join(lines) + "\n"
