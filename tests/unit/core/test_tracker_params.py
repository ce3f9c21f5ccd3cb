"""Hyperparameters for trackers: flat keys, redaction, MLflow's limits on a real store."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from trainlab.core.tracker_params import (
    MLFLOW_PARAMS_PER_BATCH,
    flat_params,
    mlflow_value_limit,
    send_hyperparameters,
    tracker_config,
)


def test_flat_params_keep_targets_and_turn_lists_into_text(monkeypatch) -> None:
    monkeypatch.setenv("LAB_API_TOKEN", "tok-123456789")
    config = tracker_config(
        {
            "model": {"net": {"_target_": "a.B", "dims": [8, 4]}, "optimizer": {"lr": 0.1}},
            "data": {"root": None, "token": "tok-123456789", "empty": {}},
        }
    )
    assert flat_params(config) == {
        "model.net._target_": "a.B",
        "model.net.dims": "[8, 4]",
        "model.optimizer.lr": 0.1,
        "data.root": "null",
        "data.token": "***",
        "data.empty": "{}",
    }


def test_mlflow_params_in_batches_cut_to_the_limit_and_kept_on_resume(
    tmp_path: Path, caplog, monkeypatch
) -> None:
    pytest.importorskip("mlflow")
    from trainlab.core.mlflow_logger import TrainlabMLFlowLogger

    # a file store: the same client-side limits, without SQLite's schema migrations (~10 s)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    n = MLFLOW_PARAMS_PER_BATCH * 2 + 17  # three log_batch requests
    config = {"p": {f"k{i}": i for i in range(n)}, "long": "x" * (mlflow_value_limit() + 100)}
    logger = TrainlabMLFlowLogger(experiment_name="e", run_name="e/r", tracking_uri=uri)
    send_hyperparameters([logger], config)
    # the store of this run is not exported to the runs this process starts next
    assert "MLFLOW_TRACKING_URI" not in os.environ
    params = logger.experiment.get_run(logger.run_id).data.params
    assert len(params) == n + 1
    assert len(params["long"]) == mlflow_value_limit()
    assert params["long"].endswith("(cut; whole value in config.yaml)")
    # a resumed run continues the MLflow run: a changed value is reported, not an error
    again = TrainlabMLFlowLogger(experiment_name="e", tracking_uri=uri, run_id=logger.run_id)
    with caplog.at_level(logging.WARNING):
        send_hyperparameters([again], {**config, "p": {**config["p"], "k0": -1}, "new": 1})
    params = again.experiment.get_run(logger.run_id).data.params
    assert params["p.k0"] == "0" and params["new"] == "1"
    assert "1 changed on resume (p.k0)" in caplog.text
