"""SIGKILL the k-mer CV inside a trial, between trials and in a fold's retrain; the resumed
folds' results equal an uninterrupted run's (parameters, scores, weights, the search)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
# One CV run killed three times in a row and started again after each kill with the same
# command (a CV run resumes its folder): inside trial 1 of fold 0 (its second inner split,
# epoch 1; the first split and epoch 0 of the second have saved states), between trials 1 and 2,
# and in epoch 1 of fold 0's retrain (a Trainer fit: redone from its seed).
KILLS = [
    "lean_batch:fold_0_trial1_split1:1:0",
    "cv_trial_end:fold_0:1",
    "train_batch:1:0",
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
        if not t.user_attrs.get("trainlab_interrupted")
    )


def test_killed_cv_folds_resume_identical(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    plan = [{"args": [*CV, "run_name=reference"]}]
    plan += [{"args": [*CV, "run_name=killed"], "kill_at": point} for point in KILLS]
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
    assert exits == [0, -9, -9, -9, 0], output  # every kill point was reached
    reference, killed = logs / "cv" / "runs" / "reference", logs / "cv" / "runs" / "killed"
    retried = [t for t in trials_run(killed, 0) if t[0] == 1]
    assert len(retried) == 1, "trial 1 ran to an end once, after its retry"
    for fold in (0, 1):
        ours, theirs = fold_record(killed, fold), fold_record(reference, fold)
        assert ours == theirs, fold  # parameters, test scores per task, epoch, baselines
        assert trials_run(killed, fold) == trials_run(reference, fold), fold
        weights = [
            torch.load(run / "cv_results" / f"fold_{fold}" / "best.ckpt", weights_only=True)
            for run in (reference, killed)
        ]
        for key, tensor in weights[0]["state_dict"].items():
            assert torch.equal(tensor, weights[1]["state_dict"][key]), (fold, key)
        assert not (killed / "cv_results" / f"fold_{fold}" / "trial_states").exists()
