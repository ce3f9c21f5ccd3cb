"""A k-mer search trial scores the same in the lean loop as through the Lightning Trainer."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from trainlab.cli.app import register_resolvers
from trainlab.data.kmer.folds import kfold_splits
from trainlab.pipelines.kmer_cv.fit import fit_rows, trial_config
from trainlab.pipelines.kmer_cv.fold import build_data

CONFIGS = Path(__file__).resolve().parents[4] / "configs"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("kmer_trial")
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "cv",
            overrides=[
                "experiment=kmer/diana",
                "data.synthetic={n_samples:150,n_unitigs:80,n_projects:10,seed:2}",
                f"paths.data_dir={root / 'data'}",
                f"paths.root_dir={root}",
                f"paths.work_dir={root}",
                f"paths.output_dir={root / 'run'}",
                "trainer.accelerator=cpu",
            ],
        )
    datamodule = build_data(cfg)
    data = datamodule.load()
    rows = list(range(len(data.sample_ids)))
    train, val = kfold_splits(rows, datamodule.strata(), 3, 0, data.groups)[0]
    return cfg, datamodule, train, val


def test_lean_trial_equals_the_trainer_trial(setup) -> None:
    cfg, datamodule, train, val = setup
    trial = trial_config(cfg, {"model.optimizer.lr": 0.01, "data.batch_size": 32})
    results = {}
    for lean in (True, False):
        torch.manual_seed(0)  # the same initial weights and dropout masks
        results[lean] = fit_rows(
            trial, datamodule, train, val, max_epochs=30, patience=3, lean=lean
        )
    lean, reference = results[True], results[False]
    assert 3 < len(reference.history) < 30  # early stopping ended it
    assert [r["epoch"] for r in lean.history] == [r["epoch"] for r in reference.history]
    for ours, theirs in zip(lean.history, reference.history, strict=True):
        assert ours["val/f1_weighted"] == pytest.approx(theirs["val/f1_weighted"], abs=1e-6)
    assert (lean.best_score, lean.best_epoch) == pytest.approx(
        (reference.best_score, reference.best_epoch), abs=1e-6
    )


def test_seeded_lean_trial_equals_the_seeded_trainer_trial(setup) -> None:
    # seeded fits reseed every epoch from (seed, epoch): the lean loop itself, the Trainer
    # through trainlab.core.exact_resume.ExactResume; both must draw alike
    cfg, datamodule, train, val = setup
    trial = trial_config(cfg, {"model.optimizer.lr": 0.01, "data.batch_size": 32})
    lean, reference = (
        fit_rows(trial, datamodule, train, val, max_epochs=6, patience=30, lean=lean, seed=3)
        for lean in (True, False)
    )
    assert len(lean.history) == len(reference.history) == 6
    for ours, theirs in zip(lean.history, reference.history, strict=True):
        assert ours["val/f1_weighted"] == pytest.approx(theirs["val/f1_weighted"], abs=1e-6)


def test_deterministic_trials_go_through_the_trainer(setup, caplog) -> None:
    cfg, datamodule, train, val = setup
    trial = trial_config(cfg, {})
    trial.deterministic = True
    with caplog.at_level("INFO", logger="trainlab.pipelines.kmer_cv.fit"):
        result = fit_rows(trial, datamodule, train, val, max_epochs=2, patience=5, lean=True)
    assert "through the Lightning Trainer: deterministic=true" in caplog.text
    assert len(result.history) == 2


def test_a_seeded_fit_does_not_depend_on_what_ran_before(setup) -> None:
    cfg, datamodule, train, val = setup
    trial = trial_config(cfg, {})
    histories = []
    for draws in (1, 1000):
        torch.rand(draws)  # another RNG state, as after other folds or trials
        result = fit_rows(trial, datamodule, train, val, max_epochs=3, lean=True, seed=11)
        histories.append([row["val/f1_weighted"] for row in result.history])
    assert histories[0] == histories[1]


def test_scheduler_monitor_is_configurable_and_logged_in_lean_trials(setup) -> None:
    cfg, datamodule, train, val = setup
    plateau = {
        "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "_partial_": True,
        "mode": "max",
        "patience": 0,
        "factor": 0.5,
    }
    trial = trial_config(
        cfg,
        {"model.scheduler": plateau, "model.scheduler_monitor": "val/material/f1_macro"},
    )
    # the trial logs the CV monitor and the scheduler's key, nothing else
    assert list(trial.model.logged_metrics) == ["val/f1_weighted", "val/material/f1_macro"]
    from trainlab.core.build import build_model

    model = build_model(trial, datamodule.spec())
    assert model.scheduler_monitor == "val/material/f1_macro"
    result = fit_rows(trial, datamodule, train, val, max_epochs=4, patience=10, lean=True)
    assert {"val/f1_weighted", "val/material/f1_macro"} <= set(result.history[0])
