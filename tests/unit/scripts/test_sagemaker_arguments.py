"""How SageMaker's hyperparameters and paths become Hydra overrides."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location(
    "sagemaker_entrypoint_unit", REPO / "scripts" / "sagemaker" / "entrypoint.py"
)
entrypoint = importlib.util.module_from_spec(spec)
sys.modules["sagemaker_entrypoint_unit"] = entrypoint
spec.loader.exec_module(entrypoint)


def test_arguments_in_all_forms():
    parsed = entrypoint.parse_arguments(
        ["train", "--lr", "0.1", '--name="adam"', "--flag", "--layers", "[1, 2]"]
    )
    assert parsed == {"lr": 0.1, "name": "adam", "flag": True, "layers": [1, 2]}
    with pytest.raises(SystemExit, match="expected --key value"):
        entrypoint.parse_arguments(["lr", "0.1"])


def test_values_in_hydra_grammar():
    overrides = entrypoint.hyperparameter_overrides(
        {
            "model__optimizer__lr": 0.01,
            "tags": ["a", "b"],
            "deterministic": True,
            "resume": None,
            "+trainer.limit_train_batches": 3,
            "overrides": "experiment=images/digits 'tags=[x, y]'",
        }
    )
    assert overrides == [
        "model.optimizer.lr=0.01",
        "tags=[a,b]",
        "deterministic=true",
        "resume=null",
        "+trainer.limit_train_batches=3",
        "experiment=images/digits",
        "tags=[x, y]",
    ]


def test_paths_from_sm_variables_and_layout(tmp_path):
    root = tmp_path / "ml"
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"seed": "3", "lr": "0.5"})
    )
    paths = entrypoint.SageMakerPaths.from_environment(
        {"TRAINLAB_SM_ROOT": str(root), "SM_CHANNEL_EXTRA": "/mnt/extra", "SM_MODEL_DIR": "/m"}
    )
    assert paths.channels == {
        "train": root / "input" / "data" / "train",
        "extra": Path("/mnt/extra"),
    }
    command, run_dir = entrypoint.build_command(paths, ["--lr", "0.25"])
    assert run_dir == Path("/m")
    assert command[-2:] == ["seed=3", "lr=0.25"]
    assert f"hydra.run.dir={Path('/m')}" in command
    assert "++paths.channels.extra=/mnt/extra" in command
