"""Two search stages with the trainlab sweeper, the second from the first's best, then refit."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
FAST = [
    "experiment=text/criteria",
    "model.net.encoder=tiny",
    "+model.net.tiny={hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}",
    "data.synthetic_posts=60",
    "data.tiny_vocab_size=400",
    "trainer.max_epochs=1",
    "logger=[csv]",
    "~callbacks.progress_bar",
    "~callbacks.model_summary",
    "extras.print_config=false",
    "hydra.sweeper.plots=false",
]


def trainlab(*args, root):
    env = {**os.environ, "TRAINLAB_ROOT": str(root), "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "trainlab.cli.main", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


@pytest.mark.slow
def test_two_stage_search_then_refit(tmp_path):
    pytest.importorskip("optuna")
    sweeps = tmp_path / "logs" / "train" / "multiruns"
    started = time.time()
    trainlab(
        "train", "-m", *FAST, "hparams_search=text/stage0_sanity", "run_name=stage0", root=tmp_path
    )
    stage0 = sweeps / "stage0"
    best0 = yaml.safe_load((stage0 / "best_config.yaml").read_text())
    assert best0["_search"]["stage"] == "text/stage0_sanity"
    assert best0["model"]["optimizer"]["lr"] in (5e-5, 2e-4)
    with open(stage0 / "trials.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2

    trainlab(
        "train",
        "-m",
        *FAST,
        "hparams_search=text/stage1_coarse",
        "run_name=stage1",
        f"best_config={stage0 / 'best_config.yaml'}",
        "hydra.sweeper.n_trials=2",
        "trainer.max_epochs=2",
        root=tmp_path,
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

    trainlab(
        "refit",
        *FAST[:-1],
        f"best_config={stage1 / 'best_config.yaml'}",
        "seeds=[0,1]",
        "run_name=refit",
        root=tmp_path,
    )
    summary = json.loads(
        (tmp_path / "logs" / "refit" / "runs" / "refit" / "refit_summary.json").read_text()
    )
    assert summary["seeds"] == [0, 1] and "test/f1_macro" in summary["std"]
    config = yaml.safe_load((Path(summary["runs"][0]["run_dir"]) / "config.yaml").read_text())
    assert config["model"]["optimizer"]["lr"] == best1["model"]["optimizer"]["lr"]
    print(f"two-stage search (2 + 2 trials, tiny encoder): {search_seconds:.1f} s")
