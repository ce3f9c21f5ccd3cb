"""Pure aggregation over outer folds: test metrics and the results table.

The folds' best parameters are combined by trainlab.core.search.aggregate (by distribution).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.io import atomic_open

OVERALL = "overall"
METRICS = ("acc", "balanced_acc", "f1_macro", "f1_weighted")
#: The spread reported over outer folds, as the tables and aggregated_results.json say.
STD_NOTE = (
    "std: sample standard deviation over the outer folds (ddof=1, divisor n-1); "
    "'-' where a metric has one fold"
)


def nest_metrics(flat: dict[str, float], stage: str = "test") -> dict[str, dict[str, float]]:
    """`stage/task/metric` -> {task: {metric: value}}; `stage/metric` goes under `overall`."""
    nested: dict[str, dict[str, float]] = {}
    prefix = f"{stage}/"
    for key, value in flat.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split("/")
        task, metric = (OVERALL, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        nested.setdefault(task, {})[metric] = float(value)
    return nested


def drop_untrained_tasks(
    nested: dict[str, dict[str, float]], untrained: list[str]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """A fold's test metrics without the tasks its model had no labelled training row for.

    Such a task's head never saw a label, so its test figures describe an untrained head, and
    the baselines (which cannot be fitted without a label) leave it out: the model's mean
    over tasks then covered one task more than the baselines' beside it (probe: model 0.6667
    = mean(1.0, 0.3333 of the untrained head) against logreg 1.0 over the one task both had).
    The `overall` entry becomes the mean over the tasks kept, as the module computes it.
    """
    dropped = [task for task in untrained if task in nested and task != OVERALL]
    if not dropped:
        return nested, []
    kept = {t: m for t, m in nested.items() if t != OVERALL and t not in dropped}
    metrics = list(dict.fromkeys(m for values in kept.values() for m in values))
    overall = {m: float(np.mean([v[m] for v in kept.values() if m in v])) for m in metrics}
    return {**kept, OVERALL: overall}, dropped


def aggregate_metrics(per_fold: Sequence[dict[str, dict[str, float]]]) -> dict:
    """Per task and metric: mean, sample std (ddof=1), the number of folds and their values.

    The std is the sample standard deviation over the folds (divisor n-1), as fold scores
    are reported: the folds are a sample of the splits the data allows. It was the population
    std (ddof=0) before, smaller by sqrt((n-1)/n) (10.6 % with 5 folds, 29 % with 2) without
    the table saying which. With one fold (a task labelled in one test fold only) there is no
    spread to estimate: std is None, shown as '-'.
    The `overall` entry is the mean over tasks within each fold, unless the folds give it.
    """
    tasks = list(dict.fromkeys(t for fold in per_fold for t in fold if t != OVERALL))
    folds = [dict(fold) for fold in per_fold]
    for fold in folds:
        if OVERALL not in fold:
            metrics = dict.fromkeys(m for t in tasks for m in fold.get(t, {}))
            fold[OVERALL] = {
                m: float(np.mean([fold[t][m] for t in tasks if m in fold.get(t, {})]))
                for m in metrics
            }
    aggregated = {}
    for task in [*tasks, OVERALL]:
        metrics = list(dict.fromkeys(m for fold in folds for m in fold.get(task, {})))
        aggregated[task] = {}
        for metric in metrics:
            values = [float(f[task][metric]) for f in folds if metric in f.get(task, {})]
            aggregated[task][metric] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                "n": len(values),
                "values": values,
            }
    return aggregated


def results_table(aggregated: dict) -> list[dict]:
    """Rows (task, metric, mean, std, min, max, n), tasks first and `overall` last."""
    rows = []
    for task, metrics in aggregated.items():
        for metric, stats in metrics.items():
            values = stats["values"]
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "mean": stats["mean"],
                    "std": stats["std"],
                    "min": float(np.min(values)),
                    "max": float(np.max(values)),
                    "n": len(values),
                }
            )
    return rows


def _columns(rows: list[dict]) -> tuple[str, ...]:
    # baseline means (`majority`, `logreg`) follow when the rows carry them
    extra = tuple(k for k in ("majority", "logreg") if rows and k in rows[0])
    return ("mean", "std", "min", "max", *extra)


def _cell(value: float | None, width: int = 0) -> str:
    # no value (a std over one fold, a baseline without a loss): '-', never 'nan'
    text = "-" if value is None or np.isnan(value) else f"{value:.4f}"
    return f"{text:>{width}}"


def _notes(rows: list[dict]) -> list[str]:
    """The line saying which std this is, and one naming rows over fewer folds."""
    notes = [STD_NOTE + "."]
    most = max((r["n"] for r in rows if "n" in r), default=0)
    fewer = [f"{r['task']}/{r['metric']} ({r['n']})" for r in rows if r.get("n", most) < most]
    if fewer:
        notes.append(
            f"Over fewer than {most} folds (a task unlabelled in a test fold): "
            + (", ".join(fewer[:6]) + (f" and {len(fewer) - 6} more" if len(fewer) > 6 else ""))
        )
    return notes


def table_markdown(rows: list[dict]) -> str:
    """Markdown table of `results_table` rows, and what its std is."""
    columns = _columns(rows)
    lines = [
        "| task | metric | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for r in rows:
        numbers = " | ".join(_cell(r[k]) for k in columns)
        lines.append(f"| {r['task']} | {r['metric']} | {numbers} |")
    return "\n".join([*lines, "", *_notes(rows)]) + "\n"


def table_text(rows: list[dict]) -> str:
    """Fixed-width table of `results_table` rows, for the terminal."""
    task_w = max([len("task")] + [len(r["task"]) for r in rows])
    metric_w = max([len("metric")] + [len(r["metric"]) for r in rows])
    columns = _columns(rows)
    header = f"{'task':<{task_w}}  {'metric':<{metric_w}}  " + " ".join(f"{c:>8}" for c in columns)
    lines = [header, "-" * len(header)]
    for r in rows:
        numbers = " ".join(_cell(r[k], 8) for k in columns)
        lines.append(f"{r['task']:<{task_w}}  {r['metric']:<{metric_w}}  {numbers}")
    return "\n".join([*lines, *_notes(rows)]) + "\n"


def plot_results(aggregated: dict, path: str | Path) -> Path:
    """Mean +- sample std (ddof=1) per task and metric over the outer folds, fold values as
    dots; to `path`.

    Scores (0-1) and losses get their own panels: a loss of 6.15 drawn on the score axis was
    cut off at 1.05 and squeezed the scores.
    """
    from trainlab.core.plots import new_figure, png_bytes

    tasks = list(aggregated)
    metrics = list(dict.fromkeys(m for t in tasks for m in aggregated[t]))
    losses = [m for m in metrics if "loss" in m]
    panels = []
    for names, label, limits in (
        (
            [m for m in metrics if m not in losses],
            "test score over outer folds, mean ± sample std",
            (0.0, 1.05),
        ),
        (losses, "test loss over outer folds, mean ± sample std", None),
    ):
        shown = [t for t in tasks if any(m in aggregated[t] for m in names)]
        if names and shown:
            panels.append((names, shown, label, limits))
    shares = [max(1.5, len(shown) * (1 + 0.25 * len(names))) for names, shown, _, _ in panels]
    figure = new_figure(min(12.0, max(6.0, 0.8 * sum(shares) + 2.0)), 4.2)
    axes = figure.subplots(1, len(panels), squeeze=False, width_ratios=shares)[0]
    for ax, (names, shown, label, limits) in zip(axes, panels, strict=True):
        _bars(ax, aggregated, shown, names)
        ax.set_xticks(np.arange(len(shown)), shown, rotation=20, ha="right")
        if limits:
            ax.set_ylim(*limits)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(
            fontsize=8, ncols=min(len(names), 4), loc="lower center", bbox_to_anchor=(0.5, 1.0)
        )
    path = Path(path)
    with atomic_open(path) as handle:
        handle.write(png_bytes(figure, dpi=120))
    return path


def _bars(ax: Any, aggregated: dict, tasks: list[str], metrics: list[str]) -> None:
    width = 0.8 / max(1, len(metrics))
    for i, metric in enumerate(metrics):
        xs = np.arange(len(tasks)) + (i - (len(metrics) - 1) / 2) * width
        means = [aggregated[t].get(metric, {}).get("mean", np.nan) for t in tasks]
        stds = [aggregated[t].get(metric, {}).get("std") or 0.0 for t in tasks]
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=metric, alpha=0.8)
        for x, task in zip(xs, tasks, strict=True):
            values = aggregated[task].get(metric, {}).get("values", [])
            ax.scatter([x] * len(values), values, s=6, color="black", zorder=3)
