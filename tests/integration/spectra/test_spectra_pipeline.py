"""The whole spectrum-quality pipeline on the synthetic data: BCE per polarity -> prior ->
nnPU -> predict, through the entry points' own task functions."""

import csv
import json

import pytest
from spectra_runs import best_checkpoint, run_task, train_experiment

from trainlab.cli.predict import PREDICT_SCHEMA
from trainlab.cli.predict import run as predict_run
from trainlab.cli.prior import PRIOR_SCHEMA
from trainlab.cli.prior import run as prior_run


@pytest.mark.slow
def test_bce_prior_nnpu_predict(tmp_path):
    bce_pos, metrics = train_experiment("bce_pos", tmp_path, "bce_pos")
    # BCE learns g(x) = P(labelled | x) <= c = 0.5, so it ranks well but calls few positives
    assert metrics["val/auroc"] > 0.8
    bce_neg, _ = train_experiment("bce_neg", tmp_path, "bce_neg")
    assert (bce_pos / "plots" / "val_probabilities.png").is_file()

    # the researchers' names hold '=', so Hydra needs them quoted
    checkpoints = f"checkpoints=['{best_checkpoint(bce_pos)}','{best_checkpoint(bce_neg)}']"
    prior = run_task(
        "prior",
        PRIOR_SCHEMA,
        prior_run,
        [checkpoints, "extras.print_config=false"],
        tmp_path / "logs" / "prior",
    )
    priors_file = tmp_path / "logs" / "prior" / "priors.json"
    written = json.loads(priors_file.read_text())
    assert set(written["priors"]) == {"positive", "negative"}
    for name, item in written["truth"].items():
        assert item["abs_error"] == pytest.approx(abs(item["estimated"] - item["true_prior"]))
        assert item["abs_error"] < 0.15, (name, item)
    assert prior["priors"] == written["priors"]

    nnpu, metrics = train_experiment("nnpu", tmp_path, "nnpu", [f"model.priors_file={priors_file}"])
    assert metrics["val/recall"] > 0.5

    out = tmp_path / "predictions"
    test_table = tmp_path / "data" / "spectra_synthetic" / "test_1"
    predict_run_dir = tmp_path / "logs" / "predict"
    paths = run_task(
        "predict",
        PREDICT_SCHEMA,
        predict_run,
        [
            f"ckpt_path='{best_checkpoint(nnpu)}'",
            f"input={test_table}",
            f"output_dir={out}",
            "+data.threshold_quantile=0.05",
            "extras.print_config=false",
        ],
        predict_run_dir,
    )
    assert [p.name for p in paths] == ["predictions.csv", "threshold.json"]
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 300
    assert list(rows[0]) == [
        "index",
        "probability",
        "label",
        "polarity",
        "source_file",
        "ms1_scan_number",
        "ms2_scan_number",
        "predicted",
    ]
    assert [int(r["index"]) for r in rows] == list(range(300))
    positives = [r for r in rows if r["label"] == "1"]
    called = sum(int(r["predicted"]) for r in positives)
    assert called >= 0.9 * len(positives)  # the 5th percentile keeps ~95 % of known positives
    assert {r["polarity"] for r in rows} == {"positive", "negative"}
