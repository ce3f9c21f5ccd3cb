"""Every tracker receives the run's hyperparameters, read back through its own API or files.

docs/trackers.md: the flat, redacted config goes to MLflow (params, tags, artifacts),
TensorBoard (hparams.yaml and the HParams plugin with the final metrics), W&B offline (config
and summary) and the CSV logger (hparams.yaml).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from tests.conftest import only_run, train_args
from tests.wandb_records import read_records

SECRET_KEY = "sk-tracker-secret-93f1c"


def _mlflow_run(log_dir: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir}/mlflow.db")
    experiment = client.get_experiment_by_name("images/digits")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, runs
    return client, runs[0]


def _wandb_records(run: Path) -> tuple[dict, dict]:
    """(config, summary) of the offline W&B run file, once its writer has flushed both."""
    files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, files
    deadline = time.time() + 60
    while True:
        config, summary = {}, {}
        for record in read_records(files[0]):
            kind = record.WhichOneof("record_type")
            if kind == "config":
                for item in record.config.update:
                    config[item.key] = json.loads(item.value_json)
            elif kind == "summary":
                for item in record.summary.update:
                    summary[item.key or "/".join(item.nested_key)] = item.value_json
        if ("model" in config and "status" in summary) or time.time() > deadline:
            return config, summary
        time.sleep(1)


def test_every_tracker_receives_the_hyperparameters(
    run_cli, digits_dir: Path, log_dir: Path, monkeypatch
) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    monkeypatch.setenv("TRAINLAB_TRACKER_API_KEY", SECRET_KEY)
    args = train_args(
        digits_dir,
        "logger=[csv,tensorboard,wandb,mlflow]",
        "model.optimizer.lr=0.0123",
        "tags=[digits,'key-${oc.env:TRAINLAB_TRACKER_API_KEY}']",
        "logger.mlflow.log_best_checkpoint=true",
    )
    assert run_cli(*[a for a in args if a != "logger=csv"]) == 0
    run = only_run(log_dir)
    metrics = json.loads((run / "metrics.json").read_text())

    # MLflow: params (flat, redacted), tags, a readable run name, artifacts
    client, mlrun = _mlflow_run(log_dir)
    params = mlrun.data.params
    assert params["model.optimizer.lr"] == "0.0123"
    assert params["tags"] == '["digits", "key-***"]'
    assert len(params) > 100, len(params)  # more than one log_batch request
    tags = mlrun.data.tags
    assert tags["mlflow.runName"] == f"images/digits/{run.name}"
    assert tags["experiment"] == "images/digits" and tags["run_folder"] == str(run)
    commit = (run / "git.txt").read_text().split("commit:")[1].strip()
    if len(commit) == 40:
        assert tags["mlflow.source.git.commit"] == commit
    # the artifacts of the default SQLite store lie in the log folder, not in the current one
    assert mlrun.info.artifact_uri.startswith((log_dir / "mlruns").as_uri()), mlrun.info
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
    assert {"config.yaml", "summary.txt", "metrics.json", "reports", "checkpoints"} <= artifacts
    assert [a.path for a in client.list_artifacts(mlrun.info.run_id, "checkpoints")] == [
        "checkpoints/best.ckpt"
    ]
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.metrics["final/test/acc"] == pytest.approx(metrics["test/acc"], rel=1e-5)

    # TensorBoard: hparams.yaml, and the HParams plugin's session with the final metrics
    hparams = yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
    assert hparams["model.optimizer.lr"] == 0.0123 and "key-***" in hparams["tags"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["model.optimizer.lr"].number_value == pytest.approx(0.0123)
    assert start.hparams["run.status"].string_value == "finished"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert "final/test/acc" in metric_tags and "final/val/acc" in metric_tags
    final = events.Scalars("final/test/acc")
    assert final[-1].value == pytest.approx(metrics["test/acc"], rel=1e-5)

    # W&B offline: the nested config and the final metrics in the summary
    config, summary = _wandb_records(run)
    assert config["model"]["optimizer"]["lr"] == 0.0123
    assert config["tags"] == ["digits", "key-***"]
    assert json.loads(summary["status"]) == "finished"
    assert float(summary["val/acc"]) == pytest.approx(metrics["val/acc"], rel=1e-5)

    # CSV: hparams.yaml holds the nested config
    csv_hparams = yaml.safe_load((run / "csv" / "hparams.yaml").read_text())
    assert csv_hparams["model"]["optimizer"]["lr"] == 0.0123

    # the secret reached no tracker's files
    for root in (run, log_dir / "mlflow.db", log_dir / "mlruns"):
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        assert not [p for p in files if SECRET_KEY.encode() in p.read_bytes()]


def test_a_failed_run_shows_failed_in_every_tracker(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    # fails inside fit, after the trackers got the config: the checkpoint's monitor is missing
    args = train_args(
        digits_dir,
        "logger=[tensorboard,wandb,mlflow]",
        "trainer.max_epochs=1",
        "callbacks.model_checkpoint.monitor=val/nope",
    )
    assert run_cli(*[a for a in args if a != "logger=csv"]) != 0
    run = only_run(log_dir)
    assert json.loads((run / "status.json").read_text())["status"] == "failed"

    client, mlrun = _mlflow_run(log_dir)
    assert mlrun.info.status == "FAILED"
    assert mlrun.data.params["callbacks.model_checkpoint.monitor"] == "val/nope"
    assert "status.json" in {a.path for a in client.list_artifacts(mlrun.info.run_id)}

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    start = plugin_data_pb2.HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["run.status"].string_value == "failed"
    assert events.Scalars("final/finished")[-1].value == 0.0

    files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    deadline = time.time() + 60
    while time.time() < deadline:
        exits = [r.exit for r in read_records(files[0]) if r.WhichOneof("record_type") == "exit"]
        if exits:
            break
        time.sleep(1)
    assert exits and exits[-1].exit_code == 1
    _, summary = _wandb_records(run)
    assert json.loads(summary["status"]) == "failed"


def test_no_logger_at_all_trains(run_cli, digits_dir: Path, log_dir: Path) -> None:
    # the default learning-rate monitor made Lightning refuse `logger=[]` with a traceback
    assert run_cli(*train_args(digits_dir, "logger=[]", "trainer.max_epochs=1")) == 0
    run = only_run(log_dir)
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert not (run / "csv").exists()
