"""SIGTERM during training: status.json says interrupted and the MLflow run ends KILLED."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.integration.lifecycle.runs import start


def test_sigterm_marks_the_run_and_its_logger_run_interrupted(
    digits_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    never = tmp_path / "never"
    wait = {"TRAINLAB_WAIT_AT": "train_batch:0:1", "TRAINLAB_WAIT_FOR": str(never)}
    process = start(digits_dir, log_dir, "run_name=term", "logger=[csv,mlflow]", env=wait)
    run_dir = log_dir / "train" / "runs" / "term"
    deadline = time.monotonic() + 300
    while not (tmp_path / "never.reached").exists():  # the run sits after its second batch
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0, output[-3000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "interrupted"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir}/mlflow.db")
    experiment = client.get_experiment_by_name("images/digits")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "KILLED"
