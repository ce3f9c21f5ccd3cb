"""Optuna's figures name the metric and its direction, not "Objective Value"."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import optuna
import pytest
from PIL import Image

from hydra_plugins.trainlab_sweeper._results import write_plots


def test_axes_name_the_metric_and_direction(tmp_path: Path, monkeypatch) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: 1 - (t.suggest_float("lr", 1e-4, 1e-1, log=True) - 0.01) ** 2, 4)
    labels: list[str] = []
    close = plt.close

    def record(figure=None):  # the real close, after noting what the figure says
        if figure is not None and hasattr(figure, "axes"):
            for ax in figure.axes:
                labels.extend([ax.get_xlabel(), ax.get_ylabel()])
                labels.extend(t.get_text() for t in ax.get_legend().get_texts())
        return close(figure)

    monkeypatch.setattr(plt, "close", record)
    written = write_plots(study, tmp_path, ["val/acc"])
    assert {p.name for p in written} == {"optimization_history.png", "param_importances.png"}
    assert "val/acc (maximize)" in labels
    assert not any("Objective Value" in label for label in labels), labels
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 400


@pytest.mark.parametrize("directions", [["minimize", "maximize"]])
def test_pareto_front_names_both_objectives(tmp_path: Path, directions, monkeypatch) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), 5)
    labels: list[str] = []
    close = plt.close

    def record(figure=None):
        if figure is not None and hasattr(figure, "axes"):
            labels.extend(
                label for ax in figure.axes for label in (ax.get_xlabel(), ax.get_ylabel())
            )
        return close(figure)

    monkeypatch.setattr(plt, "close", record)
    written = write_plots(study, tmp_path, ["val/loss", "val/acc"])
    assert "pareto_front.png" in {p.name for p in written}
    assert {"val/loss (minimize)", "val/acc (maximize)"} <= set(labels), labels
