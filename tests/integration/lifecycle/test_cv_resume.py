"""SIGKILL the k-mer CV inside a trial, between trials and in a fold's retrain; the resumed
folds' results equal an uninterrupted run's (parameters, scores, weights, the search)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.conftest import REPO, subprocess_env

CV = [
    "cv",
    "experiment=kmer/diana",
    "data.synthetic={n_samples:120,n_unitigs:120,n_projects:8,seed:1}",
    "mode=optimize",
    "cv.n_folds=2",
    "cv.n_inner_splits=2",
    "cv.n_trials=3",
    "cv.max_epochs=4",
    "cv.patience=2",
    "cv.sampler.n_startup_trials=1",
    "cv.trial_checkpoint_s=0",  # lean trial fits save at every epoch end
    "baselines.linear=false",  # the majority baseline only: the logistic regression takes ~2 s
    "trainer.accelerator=cpu",
    "extras.print_config=false",
]
# One CV run killed several times in a row and started again after each kill with the same
# command (a CV run resumes its folder). The default chain: inside trial 1 of fold 0 (its second
# inner split, epoch 1: the first split and epoch 0 of the second have saved states), then
# between trials 1 and 2. The slow chains add a fold's retrain (a Trainer fit: redone from its
# seed), a kill before any state was saved, right after a save, between trials of fold 1 and
# inside fold 1's trials (with fold 0 finished and read back).
CHAINS = [
    pytest.param(
        ["lean_batch:fold_0_trial1_split1:1:0", "cv_trial_end:fold_0:1"],
        id="in_trial_between_trials",
    ),
    pytest.param(
        ["lean_batch:fold_0_trial1_split1:1:0", "cv_trial_end:fold_0:1", "train_batch:1:0"],
        id="and_fold_retrain",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        [
            "lean_batch:fold_0_trial0_split0:0:0",
            "lean_epoch_end:fold_0_trial2_split0:1",
            "cv_trial_end:fold_1:0",
            "lean_batch:fold_1_trial1_split1:1:0",
            "train_batch:2:0",
        ],
        id="five_other_points",
        marks=pytest.mark.slow,
    ),
]
# what differs between two runs by design: when, where, and Optuna's trial numbers (a retried
# trial gets a new number; its index, `best_trial`, is the same)
VOLATILE = ("timestamp", "best_model_path")


def fold_record(run: Path, fold: int) -> dict:
    (path,) = (run / "cv_results" / f"fold_{fold}").glob("multitask_fold_*_results_*.json")
    record = json.loads(path.read_text())
    record["search"].pop("best_optuna_trial")
    record["baselines"].pop("seconds")
    return {k: v for k, v in record.items() if k not in VOLATILE}


def trials_run(run: Path, fold: int) -> list[tuple]:
    """(index, parameters, state, value, reports) of every trial that ran to an end."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = run / "cv_results" / f"fold_{fold}" / "optuna.journal"
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=f"fold_{fold}", storage=storage)
    return sorted(
        (t.user_attrs["trainlab_index"], t.params, t.state.name, t.value, t.intermediate_values)
        for t in study.get_trials(deepcopy=False)
        if "trainlab_index" in t.user_attrs  # not an interrupted trial or a skipped repeat
        and not t.user_attrs.get("trainlab_interrupted")
    )


@pytest.mark.parametrize("kills", CHAINS)
def test_killed_cv_folds_resume_identical(tmp_path: Path, kills: list[str]) -> None:
    logs = tmp_path / "logs"
    # the uninterrupted reference runs beside the killed one (its own copy of the synthetic
    # data: both write it on first use)
    reference_data = {"TRAINLAB_DATA_DIR": str(tmp_path / "reference_data")}
    plan = [{"args": [*CV, "run_name=reference"], "env": reference_data, "background": True}]
    plan += [{"args": [*CV, "run_name=killed"], "kill_at": point} for point in kills]
    plan += [{"args": [*CV, "run_name=killed"]}]
    env = {**subprocess_env(logs), "TRAINLAB_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.lifecycle.forked_cli", json.dumps(plan)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, output
    exits = json.loads(result.stdout.strip().splitlines()[-1])["exits"]
    assert exits == [0] + [-9] * len(kills) + [0], output  # every kill point was reached
    reference, killed = logs / "cv" / "runs" / "reference", logs / "cv" / "runs" / "killed"
    for fold in (0, 1):
        indices = [t[0] for t in trials_run(killed, fold)]
        assert indices == [0, 1, 2], "each trial ran to an end once (a cut one after its retry)"
    for fold in (0, 1):
        ours, theirs = fold_record(killed, fold), fold_record(reference, fold)
        assert ours == theirs, fold  # parameters, test scores per task, epoch, baselines
        assert trials_run(killed, fold) == trials_run(reference, fold), fold
        weights = [
            torch.load(
                run / "cv_results" / f"fold_{fold}" / "checkpoints" / "best.ckpt", weights_only=True
            )
            for run in (reference, killed)
        ]
        for key, tensor in weights[0]["state_dict"].items():
            assert torch.equal(tensor, weights[1]["state_dict"][key]), (fold, key)
        assert not (killed / "cv_results" / f"fold_{fold}" / "trial_states").exists()
