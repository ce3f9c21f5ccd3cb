"""The spectra experiments compose with the production defaults; convert runs as a command;
nnPU trains under simulated DDP (two CPU processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from spectra_runs import FAST_DATA, FAST_MODEL, QUIET, compose_config, run_task

from trainlab.cli.train import TRAIN_SCHEMA
from trainlab.core.schema import validate
from trainlab.core.train import train

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "name,polarity,loss", [("bce_pos", 1, "bce"), ("bce_neg", 0, "bce"), ("nnpu", None, "nnpu")]
)
def test_experiments_have_the_production_defaults(tmp_path, name, polarity, loss):
    cfg = compose_config("train", [f"experiment=spectra/{name}"], tmp_path)
    validate(cfg, TRAIN_SCHEMA)
    net = cfg.model.net
    assert (net.d_model, net.n_layers, net.dropout, net.instrument_embedding_dim) == (
        128,
        2,
        0.3,
        16,
    )
    assert (cfg.model.linear_lr, cfg.model.encoder_lr, cfg.model.weight_decay) == (1e-5, 5e-6, 1e-3)
    assert (cfg.trainer.max_epochs, cfg.data.batch_size) == (30, 256)
    assert (cfg.data.polarity, cfg.model.loss) == (polarity, loss)
    assert cfg.monitor == "val/recall" and cfg.mode == "max"
    assert cfg.callbacks.early_stopping.patience == 10
    assert cfg.callbacks.model_checkpoint.monitor == "val/recall"
    assert cfg.callbacks.model_checkpoint.filename == (
        "best_model-epoch={epoch:02d}-val_recall={val/recall:.4f}"
    )
    assert OmegaConf.select(cfg, "data._target_").endswith("SpectraDataModule")


def test_convert_command_writes_tables_and_fails_on_bad_files(tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "unit" / "data" / "spectra"))
    from spectra_files import ms1, ms2, write_mgf

    scans = [ms1(1, [100.0, 200.0], [5.0, 10.0]), ms2(2, 200.0, label="1"), ms2(3, 100.0)]
    (tmp_path / "in").mkdir()
    good = write_mgf(tmp_path / "in" / "good.mgf", scans)
    (tmp_path / "in" / "bad.mgf").write_text("BEGIN IONS\nPEPMASS=abc\n100 1\nEND IONS\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "TRAINLAB_LOG_DIR": str(tmp_path / "logs"),
    }
    command = [
        sys.executable,
        "-m",
        "trainlab.cli.main",
        "convert",
        f"inputs=[{good}]",
        f"root={tmp_path / 'root'}",
        "label_column=LABEL",
        "extras.print_config=false",
        "run_name=ok",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(
        (tmp_path / "logs" / "convert" / "runs" / "ok" / "convert_report.json").read_text()
    )
    assert report["rows_written"] == 2 and report["files"][0]["status"] == "written"
    command[4:6] = [f"inputs={tmp_path / 'in'}", f"root={tmp_path / 'root2'}"]
    command[-1] = "run_name=bad"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "bad.mgf" in done.stderr and "rejected" in done.stderr


@pytest.mark.slow
def test_nnpu_under_ddp_sim(tmp_path):
    overrides = [
        "experiment=spectra/nnpu",
        "trainer=ddp_sim",
        "trainer.max_epochs=2",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}",
        *FAST_MODEL,
        *FAST_DATA,
        *QUIET,
    ]
    out = tmp_path / "logs" / "ddp"
    metrics = run_task("train", TRAIN_SCHEMA, lambda cfg: train(cfg, overrides), overrides, out)
    assert {"val/recall", "val/loss", "test/recall"} <= set(metrics)
    assert list((out / "checkpoints").glob("best_model-epoch=*-val_recall=*.ckpt"))
    assert (out / "plots" / "val_probabilities.png").is_file()
