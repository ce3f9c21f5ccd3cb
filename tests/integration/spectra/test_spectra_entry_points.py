"""The spectra experiments carry the production defaults; `trainlab convert` writes tables and
fails on bad files; nnPU trains under simulated DDP (two CPU processes)."""

import json

import pytest
from spectra_runs import QUIET, best_checkpoint, compose_train, train_experiment
from tests.unit.data.spectra.spectra_files import ms1, ms2, write_mgf


@pytest.mark.parametrize(
    "name,polarity,loss", [("bce_pos", 1, "bce"), ("bce_neg", 0, "bce"), ("nnpu", None, "nnpu")]
)
def test_experiments_default_to_the_small_data_recipe(name, polarity, loss):
    cfg = compose_train([f"experiment=spectra/{name}"])
    net = cfg.model.net
    assert (net.d_model, net.n_layers, net.dropout, net.instrument_embedding_dim) == (
        128,
        2,
        0.3,
        16,
    )
    # the embedded data and a few thousand converted spectra: rates that move in ~30 steps an
    # epoch (test_spectra_beats_baseline checks they reach the linear baseline)
    assert (cfg.model.linear_lr, cfg.model.encoder_lr, cfg.model.weight_decay) == (1e-3, 3e-4, 1e-3)
    assert (cfg.trainer.max_epochs, cfg.data.batch_size) == (40, 64)
    assert (cfg.data.polarity, cfg.model.loss) == (polarity, loss)
    # threshold-free monitors: BCE (whose probabilities give the prior) on the log-loss,
    # nnPU on AUROC
    monitor, mode = ("val/loss", "min") if loss == "bce" else ("val/auroc", "max")
    assert (cfg.monitor, cfg.mode) == (monitor, mode)
    assert cfg.callbacks.early_stopping.monitor == monitor
    assert cfg.callbacks.early_stopping.patience == 8
    assert cfg.callbacks.model_checkpoint.monitor == monitor
    assert cfg.callbacks.model_checkpoint.filename == "best"
    assert cfg.callbacks.last_checkpoint.filename == "last"
    assert cfg.data._target_.endswith("SpectraDataModule")
    # the researchers' million-row recipe, stacked; the monitor stays the experiment's
    production = compose_train([f"experiment=[spectra/{name},spectra/production]"])
    assert (production.model.linear_lr, production.model.encoder_lr) == (1e-5, 5e-6)
    assert (production.trainer.max_epochs, production.data.batch_size) == (30, 256)
    assert production.callbacks.early_stopping.patience == 10
    assert (production.monitor, production.data.polarity) == (monitor, polarity)
    small = compose_train([f"experiment=[spectra/{name},spectra/small_data]"])
    assert (small.model.linear_lr, small.data.batch_size) == (1e-3, 64)


def test_convert_writes_tables_and_fails_on_bad_files(run_cli, log_dir, tmp_path, capsys):
    scans = [ms1(1, [100.0, 200.0], [5.0, 10.0]), ms2(2, 200.0, label="1"), ms2(3, 100.0)]
    (tmp_path / "in").mkdir()
    good = write_mgf(tmp_path / "in" / "good.mgf", scans)
    (tmp_path / "in" / "bad.mgf").write_text("BEGIN IONS\nPEPMASS=abc\n100 1\nEND IONS\n")
    root = tmp_path / "root"
    args = [f"root={root}", "label_column=LABEL", QUIET]
    assert run_cli("convert", f"inputs=[{good}]", "run_name=ok", *args) == 0
    report = json.loads((log_dir / "convert" / "runs" / "ok" / "convert_report.json").read_text())
    assert report["rows_written"] == 2 and report["files"][0]["status"] == "written"
    assert run_cli("convert", f"inputs={tmp_path / 'in'}", "run_name=bad", *args) == 2
    err = capsys.readouterr().err
    assert "bad.mgf" in err and "rejected" in err
    report = json.loads((log_dir / "convert" / "runs" / "bad" / "convert_report.json").read_text())
    statuses = {f["path"].rsplit("/", 1)[-1]: f["status"] for f in report["files"]}
    assert statuses == {"bad.mgf": "rejected", "good.mgf": "already present"}


@pytest.mark.slow
def test_nnpu_under_ddp_sim(run_cli, log_dir, tmp_path):
    run_dir, metrics = train_experiment(
        run_cli, log_dir, "nnpu", tmp_path / "data", "trainer=ddp_sim", "trainer.max_epochs=2"
    )
    assert {"val/recall", "val/loss", "test/recall"} <= set(metrics)
    best_checkpoint(run_dir)
    assert (run_dir / "plots" / "val_probabilities.png").is_file()
