"""Config checks: unknown keys, wrong types, missing values, before torch is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from trainlab.cli.train import TRAIN_SCHEMA
from trainlab.core.schema import validate
from trainlab.errors import ConfigError

BASE = {
    "task_name": "train",
    "seed": 1,
    "deterministic": False,
    "cudnn_benchmark": False,
    "train": True,
    "test": True,
    "monitor": "val/acc",
    "mode": "max",
    "paths": {},
    "extras": {},
    "data": {
        "_target_": "trainlab.data.images.datamodule.ImageFolderDataModule",
        "data_dir": "x",
        "batch_size": 8,
    },
    "model": {
        "_target_": "trainlab.models.classification.MultiHeadClassifier",
        "net": {"_target_": "trainlab.nets.backbones.create_backbone", "name": "small_cnn"},
    },
    "trainer": {"_target_": "lightning.pytorch.Trainer", "max_epochs": 2},
}


def _cfg(**changes):
    cfg = OmegaConf.create(BASE)
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def test_a_valid_config_passes() -> None:
    validate(_cfg(), TRAIN_SCHEMA)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("data.batch_sise", 3, "unknown key `data.batch_sise`"),
        ("data.batch_size", "big", "`data.batch_size='big'` has type str, expected int"),
        ("trainer.max_epoch", 3, "did you mean `max_epochs`"),
        ("trainer.max_epochs", "ten", "expected int | None"),
        ("seeds", 3, "unknown key `seeds`"),
        ("deterministic", "yes", "expected bool"),
        ("data.data_dir", "???", "`data.data_dir` has no value"),
        ("model.class_weight", "none", "did you mean `class_weights`"),
    ],
)
def test_problems_name_key_value_and_fix(key: str, value, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(_cfg(**{key: value}), TRAIN_SCHEMA)
    assert expected in str(info.value)


def test_config_error_answers_without_importing_torch(tmp_path) -> None:
    code = (
        "import sys; from trainlab.cli.main import main\n"
        "try:\n    main(['train', 'data.batch_size=abc', 'extras.print_config=false'])\n"
        "except SystemExit as e:\n    print('exit', e.code)\n"
        "print('torch' in sys.modules, 'lightning' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"TRAINLAB_LOG_DIR": str(tmp_path / "logs"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert "expected int" in out.stderr
    assert out.stdout.strip().splitlines()[-2:] == ["exit 2", "False False"]


def test_inherited_constructors_are_checked_too() -> None:
    from trainlab.core.signatures import read_signature

    signature = read_signature("trainlab.data.text.tasks.TextCriteriaDataModule")
    assert signature is not None and "batch_size" in signature.params
    cfg = _cfg()
    cfg.data = {"_target_": "trainlab.data.text.tasks.TextCriteriaDataModule", "batch_sise": 4}
    with pytest.raises(ConfigError, match="did you mean `batch_size`"):
        validate(cfg, TRAIN_SCHEMA)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "data.loader.num_worker",
            2,
            "unknown key `data.loader.num_worker` (not a parameter of "
            "trainlab.data.loader_settings.LoaderSettings). did you mean `num_workers`?",
        ),
        ("data.loader.pin_memory", "yes", "`data.loader.pin_memory='yes'` has type str"),
        ("data.loader.num_workers", -1, "`data.loader.num_workers=-1` must be >= 0"),
        ("data.num_workers", 2, "`data.num_workers` is now `data.loader.num_workers`"),
    ],
)
def test_the_loader_node_is_checked(key: str, value, expected: str) -> None:
    cfg = _cfg(**{"data.loader": {"_target_": "trainlab.data.loader_settings.LoaderSettings"}})
    OmegaConf.update(cfg, key, value, force_add=True)
    with pytest.raises(ConfigError) as err:
        validate(cfg, TRAIN_SCHEMA)
    assert expected in str(err.value)
