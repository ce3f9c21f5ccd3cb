"""`trainlab prior` and `trainlab predict` on the default (synthetic) data after one short BCE
run: the files, their numbers and the comparison with the known prior (accuracy is checked by
the slow pipeline test)."""

import csv
import json

import pytest
import torch
from spectra_runs import QUIET, best_checkpoint, train_experiment

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


def test_prior_and_predict_from_one_bce_checkpoint(run_cli, log_dir, tmp_path, capsys):
    data = tmp_path / "data"
    run_dir, metrics = train_experiment(
        run_cli, log_dir, "bce_pos", data, "trainer.max_epochs=1", "data.synthetic.n_train=400"
    )
    ckpt = best_checkpoint(run_dir)
    # best.ckpt says which epoch it is and its score (no longer in the file name)
    meta = torch.load(ckpt, weights_only=True)["trainlab"]
    assert (meta["epoch"], meta["monitor"]) == (0, "val/loss")
    assert meta["score"] == pytest.approx(metrics["val/loss"])
    # one short epoch leaves the classifier near chance (AUROC 0.59 measured), which `trainlab
    # prior` refuses; this test is about the files, so it forces them (test_pu_priors: refusal)
    forced = "force=true"
    assert run_cli("prior", f"checkpoints=['{ckpt}']", "run_name=p", forced, QUIET) == 0
    written = json.loads((log_dir / "prior" / "runs" / "p" / "priors.json").read_text())
    assert list(written["priors"]) == ["positive"]  # the checkpoint saw positive mode only
    estimate = written["estimates"]["positive"]
    assert estimate["prior"] == pytest.approx(
        min(1.0, estimate["labelled_share"] / estimate["label_frequency"])
    )
    assert written["truth"]["positive"]["true_prior"] == 0.4
    output = log_dir / "priors.json"
    assert run_cli("prior", f"checkpoints=['{ckpt}']", f"output={output}", forced, QUIET) == 0
    assert run_cli("prior", f"checkpoints=['{ckpt}']", f"output={output}", forced, QUIET) == 2
    assert "never overwritten" in capsys.readouterr().err

    table = data / "spectra_synthetic" / "test_1"
    out = tmp_path / "predicted"
    assert (
        run_cli(
            "predict",
            f"ckpt_path='{ckpt}'",
            f"input={table}",
            f"output_dir={out}",
            "+data.threshold=0.5",
            QUIET,
        )
        == 0
    )
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    truth = json.loads((data / "spectra_synthetic" / "synthetic.json").read_text())
    assert len(rows) == truth["tables"]["test_1"]["positive"]["rows"]  # positive mode only
    assert {r["polarity"] for r in rows} == {"positive"}
    assert all(r["predicted"] == str(int(float(r["probability"]) >= 0.5)) for r in rows)
    assert all(r["source_file"].startswith("synthetic_run_") for r in rows)
    assert json.loads((out / "threshold.json").read_text())["threshold"] == 0.5
