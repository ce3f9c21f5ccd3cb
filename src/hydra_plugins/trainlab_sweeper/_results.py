"""Result files of a sweep: optimization_results.yaml, trials.csv and PNG plots."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainlab.core.redaction import redact_text
from trainlab.io import atomic_open, atomic_write_text

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("hydra_plugins.trainlab_sweeper")

RESULTS_FILE = "optimization_results.yaml"
TRIALS_FILE = "trials.csv"
# Long or structured attributes stay in the study (optuna-dashboard shows them), not in the CSV.
CSV_DROPPED_ATTRS = ("user_attrs_traceback", "user_attrs_overrides")


def results_summary(study: optuna.Study, storage_spec: str) -> dict[str, Any]:
    """The content of optimization_results.yaml."""
    from optuna.trial import TrialState

    from trainlab.core.search.trials import DUPLICATE_ATTR, INTERRUPTED_ATTR, not_run

    trials = study.get_trials(deepcopy=False)
    # A lost trial (its worker killed) is FAIL in the study and runs again as a new trial; a
    # repeat of finished parameters is FAIL and never runs. Counted as failures, a lost and
    # retried trial was in the results twice (fail: 1 and complete), and `fail` disagreed
    # with `trainlab sweep status` and with n_trials, which leave both out.
    ran = [t for t in trials if not not_run(t)]
    summary: dict[str, Any] = {
        "name": "optuna",
        "study_name": study.study_name,
        "storage": redact_text(storage_spec),  # a database URL may carry user:password
        "trials": {
            s.name.lower(): sum(t.state == s for t in ran)
            for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        },
        "not_counted": {
            "lost_and_retried": sum(bool(t.user_attrs.get(INTERRUPTED_ATTR)) for t in trials),
            "repeats_skipped": sum(DUPLICATE_ATTR in t.user_attrs for t in trials),
        },
    }
    directions = [d.name.lower() for d in study.directions]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(directions) == 1:
        summary["direction"] = directions[0]
        best = study.best_trial if complete else None
        summary["best_trial"] = best.number if best else None
        summary["best_value"] = best.value if best else None
        summary["best_params"] = dict(best.params) if best else None
        summary["best_overrides"] = best.user_attrs.get("overrides") if best else None
        summary["best_job_dir"] = best.user_attrs.get("job_dir") if best else None
    else:
        summary["directions"] = directions
        summary["solutions"] = [
            {
                "trial": t.number,
                "values": list(t.values),
                "params": dict(t.params),
                "job_dir": t.user_attrs.get("job_dir"),
            }
            for t in (study.best_trials if complete else [])
        ]
    return summary


def write_results(study: optuna.Study, folder: Path, storage_spec: str) -> None:
    """Writes optimization_results.yaml and trials.csv (atomically, after every batch)."""
    from trainlab.core.redaction import redact_text

    # best_overrides hold the command line's fixed overrides, a secret typed there included
    text = yaml.safe_dump(_plain(results_summary(study, storage_spec)), sort_keys=False)
    atomic_write_text(folder / RESULTS_FILE, redact_text(text))
    frame = study.trials_dataframe()
    frame = frame.drop(columns=[c for c in CSV_DROPPED_ATTRS if c in frame.columns])
    atomic_write_text(folder / TRIALS_FILE, redact_text(frame.to_csv(index=False)))


def _plain(value: Any) -> Any:
    """YAML-safe copy: numpy scalars and tuples become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def objective_label(name: str, direction: str) -> str:
    """``val/acc (maximize)``: an axis label that says which way is better."""
    return f"{name} ({direction})"


def write_plots(study: optuna.Study, folder: Path, names: list[str] | None = None) -> list[Path]:
    """Optimisation history and parameter importances per objective, Pareto front if several.

    Axes name the metric and its direction (``val/acc (maximize)``), not Optuna's "Objective
    Value". A plot that cannot be drawn yet (too few finished trials) is skipped with a log line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    directions = study.directions
    names = names or [f"objective {i}" for i in range(len(directions))]
    jobs: list[tuple[str, Any]] = []
    for i, direction in enumerate(directions):
        suffix = "" if len(directions) == 1 else f"_{i}"
        target = None if len(directions) == 1 else (lambda t, i=i: t.values[i])
        name = objective_label(names[i], direction.name.lower())
        # With a target, Optuna's importance evaluator assumes lower is better: a maximised
        # objective is ranked on its negation (importances only; no value is drawn)
        ranked = target
        if target is not None and direction.name.lower() == "maximize":
            ranked = lambda t, i=i: -t.values[i]  # noqa: E731
        jobs.append(
            (
                f"optimization_history{suffix}.png",
                lambda target=target, name=name: ovm.plot_optimization_history(
                    study, target=target, target_name=name
                ),
            )
        )
        jobs.append(
            (
                f"param_importances{suffix}.png",
                lambda target=ranked, name=name: ovm.plot_param_importances(
                    study, target=target, target_name=name
                ),
            )
        )
    if len(directions) in (2, 3):
        labels = [
            objective_label(n, d.name.lower()) for n, d in zip(names, directions, strict=True)
        ]
        jobs.append(("pareto_front.png", lambda: ovm.plot_pareto_front(study, target_names=labels)))

    written = []
    for filename, draw in jobs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # a short sweep: importances are drawn equal, the figure says so itself
                warnings.filterwarnings("ignore", message="The number of trials is too small")
                # the direction is handled above (ranked on the negation when maximised)
                warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
                axes = draw()
            figure = getattr(axes, "figure", None) or axes.flat[0].figure
            for ax in figure.axes:
                if ax.get_xlabel() == "Trial":  # trial numbers, not 0.5 steps
                    ax.xaxis.get_major_locator().set_params(integer=True)
            figure.tight_layout()
            with atomic_open(folder / filename) as handle:
                figure.savefig(handle, dpi=100, format="png")
            plt.close(figure)
            written.append(folder / filename)
        except Exception as err:  # a missing plot must not fail a finished sweep
            log.info("plot %s skipped: %s", filename, err)
    return written
