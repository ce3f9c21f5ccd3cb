"""Figures a run leaves in its folder: learning curves read back from the CSV logger.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot: no global backend switch, no
figure registry to leak from a long sweep), imported inside the functions: start-up time.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path

from trainlab.io import atomic_write_bytes

log = logging.getLogger(__name__)

LEARNING_CURVES = "learning_curves.png"
# the CSV logger's file inside a run folder (configs/logger/csv.yaml)
CSV_METRICS = Path("csv") / "metrics.csv"


def new_figure(width: float, height: float):  # -> matplotlib.figure.Figure
    """A figure bound to the Agg canvas (PNG output without a display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def read_epoch_metrics(path: Path) -> dict[int, dict[str, float]]:
    """``{epoch: {metric: value}}`` of the train/ and val/ columns of a Lightning ``metrics.csv``.

    Lightning writes one row per logging call (training epoch, validation, learning rate), so an
    epoch's figures are spread over several rows; a resumed run appends rows, the latest wins.
    """
    epochs: dict[int, dict[str, float]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                epoch = int(float(row.get("epoch") or "nan"))
            except ValueError:  # rows without an epoch (learning rate at step 0)
                continue
            for key, text in row.items():
                if not key or not key.startswith(("train/", "val/")) or not text:
                    continue
                try:
                    epochs.setdefault(epoch, {})[key] = float(text)
                except ValueError:
                    continue
    return epochs


def best_epoch(series: list[tuple[int, float]], mode: str) -> tuple[int, float] | None:
    """(epoch, value) of the best finite value (the first one on ties, as checkpoints keep)."""
    finite = [(e, v) for e, v in series if not math.isnan(v)]
    if not finite:
        return None
    if mode == "max":
        return max(finite, key=lambda item: (item[1], -item[0]))
    return min(finite, key=lambda item: (item[1], item[0]))


def _series(epochs: dict[int, dict[str, float]], key: str) -> list[tuple[int, float]]:
    return [(e, values[key]) for e, values in sorted(epochs.items()) if key in values]


def learning_curves_png(
    epochs: dict[int, dict[str, float]], monitor: str, mode: str, title: str = ""
) -> bytes:
    """Losses (left) and the monitored metric (right) per epoch, the best epoch marked."""
    keys = sorted({k for values in epochs.values() for k in values})
    # the overall losses first, then per-task ones (a multi-task model logs one per head)
    losses = [k for k in ("train/loss", "val/loss") if k in keys]
    losses += [k for k in keys if k.endswith("/loss") and k not in losses][: 6 - len(losses)]
    metric_keys = [] if monitor in losses else [monitor]
    twin = monitor.replace("val/", "train/", 1)
    if metric_keys and twin != monitor and twin in keys:
        metric_keys.append(twin)
    panels = [("loss", losses)] + ([(monitor, metric_keys)] if metric_keys else [])
    best = best_epoch(_series(epochs, monitor), mode)

    figure = new_figure(5.2 * len(panels), 4.0)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, names) in zip(axes, panels, strict=True):
        for name in names:
            points = _series(epochs, name)
            if points:
                xs, ys = zip(*points, strict=True)
                # one colour per stage in both panels: training dashed blue, validation orange
                train = name.startswith("train/")
                colour = (
                    "tab:blue" if train else "tab:orange" if name in (monitor, "val/loss") else None
                )
                ax.plot(
                    xs,
                    ys,
                    "--" if train else "-",
                    color=colour,
                    marker="o",
                    markersize=3,
                    label=name,
                )
        if best is not None:
            ax.axvline(
                best[0], color="grey", linestyle=":", linewidth=1.2, label=f"best epoch ({best[0]})"
            )
            if monitor in names:
                ax.plot(
                    [best[0]],
                    [best[1]],
                    "*",
                    color="crimson",
                    markersize=13,
                    label=f"best {monitor} {best[1]:.4f}",
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    direction = "higher is better" if mode == "max" else "lower is better"
    figure.suptitle(f"{title + ': ' if title else ''}{monitor} ({direction})", fontsize=11)
    return png_bytes(figure)


def write_learning_curves(
    run_dir: str | Path,
    monitor: str,
    mode: str,
    metrics_csv: str | Path | None = None,
    title: str = "",
) -> Path | None:
    """``<run_dir>/learning_curves.png`` from the run's CSV metrics; None where there are none.

    A figure is a convenience: a missing CSV logger (``logger=tensorboard``) or a drawing error
    leaves a log line, never a failed run.
    """
    run_dir = Path(run_dir)
    title = title or run_dir.name
    source = Path(metrics_csv) if metrics_csv else run_dir / CSV_METRICS
    if not source.is_file():
        log.info("no learning curves: %s is missing (the csv logger is off)", source)
        return None
    try:
        epochs = read_epoch_metrics(source)
        if not epochs:
            return None
        png = learning_curves_png(epochs, monitor, mode, title)
    except Exception as err:  # a figure must not fail a finished run
        log.warning("could not draw the learning curves from %s: %s", source, err)
        return None
    return atomic_write_bytes(run_dir / LEARNING_CURVES, png)


def write_epoch_curves(
    folder: str | Path, epochs: dict[int, dict[str, float]], monitor: str, mode: str, title: str
) -> Path | None:
    """``<folder>/learning_curves.png`` from recorded epochs (``core.progress.EpochRecord``)."""
    if not epochs:
        return None
    try:
        png = learning_curves_png(epochs, monitor, mode, title)
    except Exception as err:  # a figure must not fail a finished fit
        log.warning("could not draw the learning curves of %s: %s", folder, err)
        return None
    return atomic_write_bytes(Path(folder) / LEARNING_CURVES, png)


PRIOR_SCORES = "prior_scores.png"


def prior_scores_png(panels: list[dict]) -> bytes:
    """Per polarity: the model's scores on the labelled set, labelled vs unlabeled rows.

    Each panel is ``{"name", "prob", "label", "estimate"}`` (``estimate`` a
    ``metrics.class_prior.PriorEstimate``). The line marks c, the mean score of the labelled
    positives; the title gives the prior s / c and the AUROC the estimate rests on.
    """
    import numpy as np

    figure = new_figure(5.0 * max(len(panels), 1), 3.8)
    axes = figure.subplots(1, max(len(panels), 1), squeeze=False)[0]
    bins = np.linspace(0.0, 1.0, 41)
    for ax, panel in zip(axes, panels, strict=False):
        prob, label = np.asarray(panel["prob"], float), np.asarray(panel["label"])
        estimate = panel["estimate"]
        for value, name, colour in ((1, "labelled", "tab:orange"), (0, "unlabeled", "tab:blue")):
            scores = prob[label == value]
            if scores.size:
                weights = np.full(scores.size, 1.0 / scores.size)
                ax.hist(
                    scores,
                    bins=bins,
                    weights=weights,
                    alpha=0.55,
                    color=colour,
                    label=f"{name} ({scores.size})",
                )
        ax.axvline(
            estimate.label_frequency,
            color="crimson",
            linestyle="--",
            label=f"c = {estimate.label_frequency:.3f}",
        )
        ax.set_title(
            f"{panel['name']}: prior {estimate.prior:.3f}{' (clipped)' if estimate.clipped else ''}"
            f" = s {estimate.labelled_share:.3f} / c, "
            f"AUROC {estimate.auroc:.3f}",
            fontsize=9,
        )
        ax.set_xlim(0, 1)
        ax.set_xlabel("predicted probability (BCE model)")
        ax.set_ylabel("share of the group's rows")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return png_bytes(figure)


def write_prior_scores(folder: str | Path, panels: list[dict]) -> Path | None:
    """``<folder>/prior_scores.png`` (see :func:`prior_scores_png`); None when not drawn."""
    if not panels:
        return None
    try:
        png = prior_scores_png(panels)
    except Exception as err:  # a figure must not lose the estimates
        log.warning("could not draw %s: %s", PRIOR_SCORES, err)
        return None
    return atomic_write_bytes(Path(folder) / PRIOR_SCORES, png)
