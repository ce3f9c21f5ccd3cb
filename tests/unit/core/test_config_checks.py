"""Value checks of a composed config and the check of unknown top-level overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from trainlab.cli.app import config_dir
from trainlab.core.config_checks import CV_MODES, unknown_override_keys, value_problems


def test_cv_modes_match_the_pipeline() -> None:
    from trainlab.pipelines.kmer_cv.runner import MODES

    assert tuple(MODES) == CV_MODES


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"data": {"batch_size": 0}}, "`data.batch_size=0` must be >= 1"),
        ({"model": {"optimizer": {"lr": "fast"}}}, "must be a number"),
        ({"model": {"net": {"dropout": 1.0}}}, "must lie in [0, 1)"),
        ({"trainer": {"max_epochs": -3}}, "must be >= -1"),
        ({"trainer": {"limit_val_batches": 2.5}}, "must lie in [0, 1]"),
        ({"cv": {"n_trials": 0}, "mode": "full"}, "`cv.n_trials=0` must be >= 1"),
        ({"cv": {}, "mode": "bogus"}, "is not one of ['optimize'"),
        ({"mode": "mx"}, "did you mean `mode=max`"),
        ({"monitor": "val/loss", "mode": "max"}, "`monitor=val/loss` improves as it falls"),
        ({"monitor": "val/acc", "mode": "min"}, "improves as it rises, but `mode` asks for its"),
        ({"monitor": "val/material/f1_macro", "mode": "min"}, "Set mode to max"),
        (
            {
                "monitor": "val/acc",
                "mode": "max",
                "callbacks": {"early_stopping": {"monitor": "val/loss", "mode": "max"}},
            },
            "`callbacks.early_stopping.monitor=val/loss` improves as it falls, but "
            "`callbacks.early_stopping.mode` asks for its largest value",
        ),
        (
            {"callbacks": {"model_checkpoint": {"monitor": "val/auroc", "mode": "min"}}},
            "Set callbacks.model_checkpoint.mode to max",
        ),
        (
            {
                "monitor": "val/my_score",
                "mode": "max",
                "callbacks": {"model_checkpoint": {"monitor": "val/my_score", "mode": "min"}},
            },
            "`callbacks.model_checkpoint.mode=min` runs against `mode=max` for the same monitor",
        ),
        (
            {"cv": {"monitor_mode": "max"}, "monitor": "val/loss", "mode": "full"},
            "`monitor=val/loss` improves as it falls, but `cv.monitor_mode` asks",
        ),
        ({"model": {"priors": {"positive": 0.0}}}, "must lie in (0, 1]"),
        ({"data": {"polarity": 2}}, "must be one of 0 or 1"),
        ({"model": {"beta": -0.5}}, "`model.beta=-0.5` must lie in [0, inf)"),
        ({"model": {"gamma": -1.0}}, "`model.gamma=-1.0` must lie in (0, 1]"),
        ({"model": {"gamma": 0}}, "`model.gamma=0` must lie in (0, 1]"),
        ({"data": {"window_overlap": -8}}, "`data.window_overlap=-8` must be >= 0"),
    ],
)
def test_bad_values_are_named(node: dict, expected: str) -> None:
    problems = value_problems(OmegaConf.create(node))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "node",
    [
        {"data": {"batch_size": 1, "polarity": None, "test_fraction": 0.2}},
        {"model": {"optimizer": {"lr": 1e-3, "weight_decay": 0}}},
        {"trainer": {"max_epochs": -1, "limit_val_batches": 3, "precision": "bf16-mixed"}},
        {"mode": "min"},
        {"monitor": "val/loss", "mode": "min"},
        {"monitor": "val/auroc", "mode": "max"},
        {"monitor": "val/my_score", "mode": "min"},  # a name of its own: not judged
        {"cv": {"n_trials": 2}, "monitor": "val/f1_weighted", "mode": "full"},
        {"cv": {"monitor_mode": "min"}, "monitor": "val/loss", "mode": "optimize"},
        {
            "monitor": "val/acc",
            "mode": "max",
            "callbacks": {
                "early_stopping": {"monitor": "val/loss", "mode": "min"},
                "model_checkpoint": {"monitor": "val/acc", "mode": "max"},
                "last_checkpoint": {"monitor": None},
            },
        },
        {"model": {"beta": 0.0, "gamma": 1.0}},
        {"cv": {"n_trials": 1, "n_folds": 2}, "mode": "aggregate"},
        {"data": {"window_overlap": None, "max_length": 256}},
        {"data": {"window_overlap": 0}},
    ],
)
def test_good_values_pass(node: dict) -> None:
    assert value_problems(OmegaConf.create(node)) == []


def test_fold_must_exist_and_the_folds_are_listed(tmp_path: Path) -> None:
    (tmp_path / "splits").mkdir()
    for k in (0, 1):
        (tmp_path / "splits" / f"fold_{k}_train.txt").write_text("")
    data = {"_target_": "x.ImageFolderDataModule", "data_dir": str(tmp_path), "fold": 4}
    problems = value_problems(OmegaConf.create({"data": data}))
    assert problems == [
        f"`data.fold=4` does not exist: {tmp_path / 'splits'} holds folds [0, 1]; "
        "set data.fold to one of them"
    ]
    data["fold"] = 1
    assert value_problems(OmegaConf.create({"data": data})) == []


def test_unknown_top_level_override_gets_a_suggestion_and_the_plus_hint() -> None:
    problems = unknown_override_keys(config_dir(), "train", ["seeed=3", "trainer.max_epochs=2"])
    assert len(problems) == 1
    assert "unknown key `seeed`" in problems[0] and "`seed`" in problems[0]
    assert "`+seeed=3`" in problems[0]
    # known keys, groups, additions and deletions are Hydra's to handle
    ok = ["seed=3", "experiment=kmer/diana", "+x=1", "~callbacks.lr_monitor", "hydra.verbose=1"]
    assert unknown_override_keys(config_dir(), "train", ok) == []


def test_moved_loader_keys_name_their_new_place() -> None:
    args = ["data.num_workers=2", "+data.pin_memory=true", "data.loader.prefetch_factor=2"]
    assert unknown_override_keys(config_dir(), "train", args) == [
        "`data.num_workers` is now `data.loader.num_workers`: write `data.loader.num_workers=2`",
        "`data.pin_memory` is now `data.loader.pin_memory`: write `data.loader.pin_memory=true`",
    ]
    assert unknown_override_keys(config_dir(), "train", ["data.loader.num_workers=2"]) == []


def test_a_reversed_top_level_pair_is_named_once_not_again_per_callback() -> None:
    cfg = OmegaConf.create(
        {
            "monitor": "val/loss",
            "mode": "max",
            "callbacks": {
                "model_checkpoint": {"monitor": "${monitor}", "mode": "${mode}"},
                "early_stopping": {"monitor": "${monitor}", "mode": "${mode}"},
            },
        }
    )
    problems = value_problems(cfg)
    assert len(problems) == 1 and problems[0].startswith("`monitor=val/loss` improves")
