"""Two search stages with the trainlab sweeper, the second from the first's best, then refit."""

import csv
import json
import time
from pathlib import Path

import pytest
import yaml
from text_runs import TINY_ENCODER, run_trainlab

FAST = [
    "experiment=text/criteria",
    *TINY_ENCODER,
    "trainer.max_epochs=1",
    "hydra.sweeper.plots=false",
]


@pytest.mark.slow
def test_two_stage_search_then_refit(tmp_path):
    sweeps = tmp_path / "logs" / "train" / "multiruns"
    started = time.time()
    run_trainlab(
        "train",
        "-m",
        *FAST,
        "hparams_search=text/stage0_sanity",
        "run_name=stage0",
        root=tmp_path,
        timeout=900,
    )
    stage0 = sweeps / "stage0"
    best0 = yaml.safe_load((stage0 / "best_config.yaml").read_text())
    assert best0["_search"]["stage"] == "text/stage0_sanity"
    assert best0["model"]["optimizer"]["lr"] in (5e-5, 2e-4)
    with open(stage0 / "trials.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2

    run_trainlab(
        "train",
        "-m",
        *FAST,
        "hparams_search=text/stage1_coarse",
        "run_name=stage1",
        f"best_config={stage0 / 'best_config.yaml'}",
        "hydra.sweeper.n_trials=2",
        "trainer.max_epochs=2",
        root=tmp_path,
        timeout=900,
    )
    stage1 = sweeps / "stage1"
    best1 = yaml.safe_load((stage1 / "best_config.yaml").read_text())
    assert best1["_search"]["started_from"] == str(stage0 / "best_config.yaml")
    assert {"lr", "weight_decay"} <= best1["model"]["optimizer"].keys()
    assert best1["data"]["batch_size"] in (16, 32)
    # the trial that won ran with exactly these values
    job = Path(best1["_search"]["best_job_dir"])
    ran = yaml.safe_load((job / "config.yaml").read_text())
    assert ran["model"]["optimizer"]["lr"] == best1["model"]["optimizer"]["lr"]
    search_seconds = time.time() - started

    run_trainlab(
        "refit",
        *FAST[:-1],
        f"best_config={stage1 / 'best_config.yaml'}",
        "seeds=[0,1]",
        "run_name=refit",
        root=tmp_path,
        timeout=900,
    )
    summary = json.loads(
        (tmp_path / "logs" / "refit" / "runs" / "refit" / "refit_summary.json").read_text()
    )
    assert summary["seeds"] == [0, 1] and "test/f1_macro" in summary["std"]
    config = yaml.safe_load((Path(summary["runs"][0]["run_dir"]) / "config.yaml").read_text())
    assert config["model"]["optimizer"]["lr"] == best1["model"]["optimizer"]["lr"]
    print(f"two-stage search (2 + 2 trials, tiny encoder): {search_seconds:.1f} s")
