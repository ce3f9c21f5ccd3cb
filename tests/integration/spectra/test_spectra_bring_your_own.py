"""Bring your own data: mzML stored out of acquisition order + idXML without spectrum references
-> `trainlab convert` -> `trainlab train` with the small-data setting; best.ckpt is the epoch of
the lowest validation log-loss (threshold-free) and says so in its metadata."""

import json

import pytest
import torch
from spectra_runs import QUIET
from tests.conftest import FAST
from tests.unit.data.spectra.id_files import psms_of, write_idxml
from tests.unit.data.spectra.spectra_files import dda_run, ms1_first, write_mzml

TINY = [
    "model.net.d_model=16",
    "model.net.nhead=2",
    "model.net.dim_feedforward=32",
    "model.net.n_layers=1",
    "model.train_metric_rows=128",
]


def convert_run(run_cli, log_dir, raw, root, table: str, cycles: int, seed: int) -> int:
    """Write an MS1-first mzML and its idXML (no spectrum references), `trainlab convert` them
    into ``table``, check the report; returns the number of identified scans."""
    scans = dda_run(cycles, seed=seed, run=table)
    mzml = write_mzml(raw / f"{table}.mzML", ms1_first(scans))
    ids = write_idxml(raw / f"{table}.idXML", psms_of(scans, seed), None, refs=False)
    expected = sum(bool(s.get("peptide")) for s in scans if s["level"] == 2)
    args = [f"inputs=[{mzml}]", f"identifications=[{ids}]", f"root={root}"]
    assert run_cli("convert", *args, f"table={table}", f"run_name={table}", QUIET) == 0
    report_file = log_dir / "convert" / "runs" / table / "convert_report.json"
    report = json.loads(report_file.read_text())
    (spectra,) = report["files"]
    assert spectra["labelled"] == expected > 0
    assert spectra["pairing"]["stored_in_acquisition_order"] is False
    assert spectra["pairing"]["paired_by"]["scan start time"] == spectra["rows"]
    assert spectra["checks"]["warnings"] == []
    assert spectra["checks"]["negative_seconds_since_ms1"] == 0
    assert spectra["checks"]["distinct_ms1_scans"] == cycles
    (ids_report,) = report["identifications"]
    assert ids_report["matched"] == ids_report["passing"] == expected
    assert ids_report["matched_by_rt_mz"] == expected
    assert ids_report["unmatched"] == 0 and ids_report["decoys"] > 0
    return expected


def test_convert_out_of_order_mzml_with_idxml(run_cli, log_dir, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    convert_run(run_cli, log_dir, raw, tmp_path / "spectra", "train_data", 60, 1)


@pytest.mark.slow
def test_convert_identifications_and_train_on_them(run_cli, log_dir, tmp_path):
    raw, root = tmp_path / "raw", tmp_path / "spectra"
    raw.mkdir()
    convert_run(run_cli, log_dir, raw, root, "train_data", 300, 1)
    convert_run(run_cli, log_dir, raw, root, "validation_data", 100, 2)
    convert_run(run_cli, log_dir, raw, root, "test_1", 40, 3)
    epochs = 10
    assert (
        run_cli(
            "train",
            "experiment=[spectra/bce_pos,spectra/small_data]",
            f"data.root={root}",
            "data.synthetic=null",
            f"trainer.max_epochs={epochs}",
            f"callbacks.early_stopping.patience={epochs}",
            "run_name=byod",
            *TINY,
            *FAST,
        )
        == 0
    )
    run_dir = log_dir / "train" / "runs" / "byod"
    best = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    history = last["callbacks"]["MonitorHistory[val/loss]"]["history"]
    assert len(history) == epochs
    epoch, score = min(history, key=lambda item: item[1])
    meta = best["trainlab"]
    assert meta["monitor"] == "val/loss"
    assert (meta["epoch"], meta["score"]) == (epoch, score)
    assert best["epoch"] == epoch
    assert last["trainlab"]["epoch"] == epochs - 1
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # the best epoch's model, tested: precursor intensity and charge carry the label
    assert metrics["test/auroc"] > 0.6
