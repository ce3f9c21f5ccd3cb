"""`trainlab prior` and `trainlab predict` on the default (synthetic) data with one short BCE
run: the files, their numbers and the comparison with the known prior (accuracy is checked by
the slow pipeline test)."""

import csv
import json

import pytest
from spectra_runs import best_checkpoint, run_task, train_experiment

from trainlab.cli.predict import PREDICT_SCHEMA
from trainlab.cli.predict import run as predict_run
from trainlab.cli.prior import PRIOR_SCHEMA
from trainlab.cli.prior import run as prior_run
from trainlab.errors import ConfigError
from trainlab.pipelines.pu_prior import compare_with_truth


def test_compare_with_truth_reports_errors():
    truth = {
        "true_priors": {"positive": 0.4, "negative": 0.25},
        "tables": {"train_data": {"positive": {"empirical_prior": 0.38}}},
    }
    result = compare_with_truth({"positive": 0.45}, truth)
    assert list(result) == ["positive"]
    assert result["positive"]["abs_error"] == pytest.approx(0.05)
    assert result["positive"]["abs_error_vs_empirical"] == pytest.approx(0.07)


def test_prior_and_predict_from_one_bce_checkpoint(tmp_path):
    run_dir, _ = train_experiment(
        "bce_pos", tmp_path, "bce_pos", ["trainer.max_epochs=1", "data.synthetic.n_train=400"]
    )
    ckpt = best_checkpoint(run_dir)
    out = tmp_path / "logs" / "prior"
    result = run_task("prior", PRIOR_SCHEMA, prior_run, [f"checkpoints=['{ckpt}']"], out)
    written = json.loads((out / "priors.json").read_text())
    assert list(written["priors"]) == ["positive"]  # the checkpoint saw positive mode only
    estimate = written["estimates"]["positive"]
    assert estimate["prior"] == pytest.approx(
        min(1.0, estimate["labelled_share"] / estimate["label_frequency"])
    )
    assert written["truth"]["positive"]["true_prior"] == 0.4
    assert result["path"] == str(out / "priors.json")
    with pytest.raises(ConfigError, match="never overwritten"):
        run_task("prior", PRIOR_SCHEMA, prior_run, [f"checkpoints=['{ckpt}']"], out)

    table = tmp_path / "data" / "spectra_synthetic" / "test_1"
    paths = run_task(
        "predict",
        PREDICT_SCHEMA,
        predict_run,
        [f"ckpt_path='{ckpt}'", f"input={table}", "+data.threshold=0.5"],
        tmp_path / "logs" / "predict",
    )
    assert [p.name for p in paths] == ["predictions.csv", "threshold.json"]
    rows = list(csv.DictReader(paths[0].open()))
    truth = json.loads((tmp_path / "data" / "spectra_synthetic" / "synthetic.json").read_text())
    assert len(rows) == truth["tables"]["test_1"]["positive"]["rows"]  # positive mode only
    assert {r["polarity"] for r in rows} == {"positive"}
    assert all(r["predicted"] == str(int(float(r["probability"]) >= 0.5)) for r in rows)
    assert all(r["source_file"].startswith("synthetic_run_") for r in rows)
