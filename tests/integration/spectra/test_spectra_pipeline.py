"""The whole spectrum-quality pipeline on the synthetic data through the real commands:
BCE per polarity -> trainlab prior -> nnPU with the estimated priors -> trainlab predict."""

import csv
import json

import pytest
from spectra_runs import QUIET, best_checkpoint, train_experiment


@pytest.mark.slow
def test_bce_prior_nnpu_predict(run_cli, log_dir, tmp_path):
    data = tmp_path / "data"
    bce_pos, metrics = train_experiment(run_cli, log_dir, "bce_pos", data)
    # BCE learns P(labelled | x), at most c for positives: it ranks well
    assert metrics["val/auroc"] > 0.8
    assert (bce_pos / "plots" / "val_probabilities.png").is_file()
    bce_neg, _ = train_experiment(run_cli, log_dir, "bce_neg", data)

    pair = f"{best_checkpoint(bce_pos)},{best_checkpoint(bce_neg)}"
    assert run_cli("prior", f"checkpoints=[{pair}]", "run_name=prior", QUIET) == 0
    priors_file = log_dir / "prior" / "runs" / "prior" / "priors.json"
    written = json.loads(priors_file.read_text())
    assert set(written["priors"]) == {"positive", "negative"}
    for name, item in written["truth"].items():
        assert item["abs_error"] == pytest.approx(abs(item["estimated"] - item["true_prior"]))
        # 0.083 for negative mode with best.ckpt = lowest val/loss (0.294 when it was the best
        # val/auroc epoch, under 0.08 with the old val/recall monitor)
        assert item["abs_error"] < 0.09, (name, item)

    nnpu, metrics = train_experiment(
        run_cli, log_dir, "nnpu", data, f"model.priors_file={priors_file}"
    )
    assert metrics["val/recall"] > 0.8

    out = tmp_path / "predictions"
    assert (
        run_cli(
            "predict",
            f"ckpt_path={best_checkpoint(nnpu)}",
            f"input={data / 'spectra_synthetic' / 'test_1'}",
            f"output_dir={out}",
            "+data.threshold_quantile=0.05",
            QUIET,
        )
        == 0
    )
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
    assert json.loads((out / "threshold.json").read_text())["quantile"] == 0.05
