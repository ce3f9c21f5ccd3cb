"""scripts/sagemaker/entrypoint.py on a fake /opt/ml tree: a real digits training."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

spec = importlib.util.spec_from_file_location(
    "sagemaker_entrypoint", REPO / "scripts" / "sagemaker" / "entrypoint.py"
)
entrypoint = importlib.util.module_from_spec(spec)
sys.modules["sagemaker_entrypoint"] = entrypoint
spec.loader.exec_module(entrypoint)


@pytest.fixture
def opt_ml(tmp_path, sweep_digits_dir, sweep_env, monkeypatch) -> Path:
    """SageMaker's layout: hyperparameters.json, a `digits` channel, model and output folders."""
    root = tmp_path / "opt" / "ml"
    shutil.copytree(sweep_digits_dir, root / "input" / "data" / "digits")
    config = root / "input" / "config"
    config.mkdir(parents=True)
    # The SageMaker SDK writes every value JSON-encoded as a string.
    hyperparameters = {
        "trainer.max_epochs": "2",
        "model__optimizer__lr": "0.005",
        "data.batch_size": "32",
        "overrides": json.dumps(
            "extras.print_config=false callbacks.progress_bar=null logger=csv test=false "
            "+trainer.limit_train_batches=3 +trainer.limit_val_batches=2"
        ),
    }
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    monkeypatch.setenv("TRAINLAB_SM_ROOT", str(root))
    for key in [k for k in __import__("os").environ if k.startswith("SM_")]:
        monkeypatch.delenv(key)
    return root


@pytest.mark.slow
def test_training_lands_in_the_model_folder(opt_ml):
    # Command-line hyperparameters (script mode) win over the JSON file.
    assert entrypoint.main(["--data.batch_size", "16", "--seed=7"]) == 0
    model = opt_ml / "model"
    assert (model / "checkpoints" / "best.ckpt").is_file()
    metrics = json.loads((model / "metrics.json").read_text())
    assert "val/acc" in metrics
    config = yaml.safe_load((model / ".hydra" / "config.yaml").read_text())
    assert config["data"]["batch_size"] == 16 and config["seed"] == 7
    assert config["trainer"]["max_epochs"] == 2
    assert config["model"]["optimizer"]["lr"] == 0.005
    # the experiment's data.data_dir, ${paths.data_dir}/digits, is the `digits` channel
    assert config["paths"]["data_dir"] == str(opt_ml / "input" / "data")
    assert config["paths"]["channels"] == {"digits": str(opt_ml / "input" / "data" / "digits")}
    assert not (opt_ml / "output" / "failure").exists()


@pytest.mark.slow
def test_checkpointed_job_trains_in_checkpoints_and_copies_to_model(opt_ml):
    (opt_ml / "checkpoints").mkdir()
    assert entrypoint.main([]) == 0
    assert (opt_ml / "checkpoints" / "run" / "checkpoints" / "last.ckpt").is_file()
    assert (opt_ml / "model" / "checkpoints" / "best.ckpt").is_file()
    assert json.loads((opt_ml / "model" / "status.json").read_text())["status"] == "finished"


def test_failure_is_written_where_sagemaker_reads_it(opt_ml):
    assert entrypoint.main(["--trainer.max_epochz", "2"]) != 0
    failure = (opt_ml / "output" / "failure").read_text()
    assert "max_epochz" in failure
