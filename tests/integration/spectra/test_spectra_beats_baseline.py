"""The spectra experiments' DEFAULT recipe (model size, learning rates, batch) learns the embedded
data: on the same test rows its AUROC reaches the linear baseline's (logistic regression on the
22 instrument settings + precursor m/z) within a small margin, and average precision is logged
beside AUROC at validation and test and can be monitored."""

import json

import pytest
from spectra_runs import compose_train
from tests.conftest import FAST

# Smaller embedded set and fewer peaks for speed; the recipe itself is left as it is
SMALL_DATA = [
    "data.synthetic.n_train=2000",
    "data.synthetic.n_validation=500",
    "data.synthetic.n_test=800",
    "data.synthetic.min_peaks=4",
    "data.synthetic.max_peaks=12",
]
# On these rows the logistic regression reaches test AUROC ~0.9 (ceiling ~0.92: unlabeled
# positives rank like labelled ones); the production rates left the model at 0.46-0.49.
MARGIN = 0.03


def run(
    run_cli, log_dir, tmp_path, experiment: str, *extra: str, epochs: int = 3
) -> tuple[dict, dict]:
    name = experiment.replace("/", "_")
    status = run_cli(
        "train",
        f"experiment=spectra/{experiment}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"run_name={name}",
        *SMALL_DATA,
        *FAST,
        f"trainer.max_epochs={epochs}",
        *extra,
    )
    assert status == 0
    run_dir = log_dir / "train" / "runs" / name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    baselines = run_dir / "baselines.json"
    return metrics, json.loads(baselines.read_text())["scores"] if baselines.exists() else {}


# A narrower transformer for the default suite (the full one: ~45 s an epoch on 2 busy cores);
# the learning rates, batch, epochs' worth of steps and monitor are the experiment's own, and
# they are what failed before (the production rates stay at chance with either width).
NARROW = [
    "model.net.d_model=32",
    "model.net.nhead=4",
    "model.net.dim_feedforward=64",
    "model.net.n_layers=1",
]


def check_reaches_the_linear_baseline(run_cli, log_dir, tmp_path, experiment, *extra):
    cfg = compose_train([f"experiment=spectra/{experiment}"])
    assert cfg.data.batch_size == 64 and cfg.model.linear_lr == 1e-3  # not overridden here
    metrics, scores = run(run_cli, log_dir, tmp_path, experiment, *extra)
    linear = scores["logistic_regression"]
    assert linear["test/auroc"] > 0.85  # the embedded data carries the label in its settings
    assert metrics["test/auroc"] >= linear["test/auroc"] - MARGIN, (metrics, linear)
    for stage in ("val", "test"):
        assert 0 < metrics[f"{stage}/average_precision"] <= 1
    # AP beside AUROC for the baselines too; the prior's AP is the share of labelled rows
    assert metrics["test/average_precision"] > 2 * scores["majority"]["test/average_precision"]


def test_default_recipe_reaches_the_linear_baseline(run_cli, log_dir, tmp_path):
    check_reaches_the_linear_baseline(run_cli, log_dir, tmp_path, "bce_pos", *NARROW)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["bce_pos", "nnpu"])
def test_default_model_reaches_the_linear_baseline(run_cli, log_dir, tmp_path, experiment):
    # measured: bce_pos test AUROC 0.903 vs logreg 0.917 (282 s on 2 loaded cores)
    check_reaches_the_linear_baseline(run_cli, log_dir, tmp_path, experiment)


def test_average_precision_is_a_monitor(run_cli, log_dir, tmp_path):
    import torch

    run(
        run_cli,
        log_dir,
        tmp_path,
        "bce_neg",
        "monitor=val/average_precision",
        "mode=max",
        "baselines.enabled=false",
        *NARROW,
        epochs=1,
    )
    best = torch.load(
        log_dir / "train" / "runs" / "bce_neg" / "checkpoints" / "best.ckpt", weights_only=True
    )
    assert best["trainlab"]["monitor"] == "val/average_precision"
    assert 0 < best["trainlab"]["score"] <= 1
