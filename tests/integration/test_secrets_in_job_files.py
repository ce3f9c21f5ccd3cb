"""Secrets reach no file of a run or sweep folder when jobs run in other processes (submitit).

docs/security.md#3: the k-mer CV's local/SLURM fold jobs and Hydra's submitit launchers pickle
a job's arguments and result into the run or sweep folder; the planted secrets must be in none
of those bytes, while the jobs themselves still see the real values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainlab.cli.main import main

SECRET_KEY = "sk-planted-4f9c2a7e1b"
SECRET_PASSWORD = "pl4nted-db-pw"
DB_URL = f"postgresql://alice:{SECRET_PASSWORD}@db.lab.org/x"


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TRAINLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRAINLAB_TEST_API_KEY", SECRET_KEY)
    monkeypatch.setenv("TRAINLAB_TEST_DB_URL", DB_URL)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "logs"


def leaks(root: Path) -> list[str]:
    """Every file under root (pickles, logs, databases) that holds a planted secret's bytes."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [
                f"{path.relative_to(root)}: {s}"
                for s in (SECRET_KEY, SECRET_PASSWORD)
                if s.encode() in data
            ]
    return found


@pytest.mark.slow  # ~75 s here: two fold processes that each import torch, then a final fit
def test_cv_local_fold_jobs_write_no_secret(secrets: Path) -> None:
    # the fold jobs receive the planted values (they are in the config the folds train with):
    # a tag with the URI and an experiment name with the key, resolved from the environment
    main(
        [
            "cv",
            "experiment=kmer/diana",
            "data.synthetic={n_samples:96,n_unitigs:64,n_projects:6,seed:1}",
            "cv.n_folds=2",
            "cv.n_inner_splits=2",
            "cv.n_trials=1",
            "cv.max_epochs=2",
            "cv.patience=1",
            "cv.sampler.n_startup_trials=1",
            "final.max_epochs=2",
            "trainer.accelerator=cpu",
            "extras.print_config=false",
            "run_name=secret",
            "mode=full",
            "cv.launcher=local",
            "cv.local.n_parallel=2",
            "experiment_name=exp-${oc.env:TRAINLAB_TEST_API_KEY}",
            "tags=[a,'${oc.env:TRAINLAB_TEST_DB_URL}']",
        ]
    )
    run = secrets / "cv" / "runs" / "secret"
    jobs = [p for p in (run / "jobs").iterdir() if p.name.isdigit()]
    assert len(jobs) == 2 and all(list(j.glob("*_submitted.pkl")) for j in jobs), jobs
    assert len(list(run.glob("cv_results/fold_*/multitask_fold_*.json"))) == 2
    assert (run / "final_model" / "final_training_config.json").is_file()
    assert not leaks(run), leaks(run)
    record = json.loads((run / "final_model" / "final_training_config.json").read_text())
    assert record["config"]["tags"] == ["a", "postgresql://***@db.lab.org/x"]
    assert record["config"]["experiment_name"] == "exp-***"


def test_failed_sweep_job_pickles_no_secret(secrets: Path, capsys) -> None:
    # a job whose error message names the secret (a data path holding it): submitit pickles
    # the failed job's result into the sweep folder's .submitit/
    with pytest.raises(SystemExit):  # Hydra reports the failed job and exits
        main(
            [
                "train",
                "-m",
                "launcher=submitit_local",
                "seed=1",
                "extras.print_config=false",
                "data.embedded=null",
                "data.data_dir=/nonexistent/${oc.env:TRAINLAB_TEST_API_KEY}",
                "logger=csv",
            ]
        )
    err = capsys.readouterr().err
    assert "data.data_dir=/nonexistent/***` does not hold" in err, err[-2000:]
    assert SECRET_KEY not in err
    sweep = next((secrets / "train" / "multiruns").iterdir())
    assert list(sweep.rglob("*_result.pkl")), "submitit wrote no result pickle"
    assert not leaks(sweep), leaks(sweep)


# one digits trial: one epoch of two training batches and one validation batch
ONE_TRIAL_SWEEP = [
    "train",
    "-m",
    "hparams_search=images_optuna",
    "hydra.sweeper.n_trials=1",
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "extras.print_config=false",
    "logger=csv",
]


def test_async_sweep_workers_write_no_secret(secrets: Path) -> None:
    # async workers are processes started from a pickle in the sweep folder
    # (.workers/worker.pkl) that log to .workers/<k>.log and stamp the study: none of those
    # bytes may hold the secrets the trials' configs resolve from the environment
    main(
        [
            *ONE_TRIAL_SWEEP,
            "hydra.sweeper.mode=async",
            "hydra.sweeper.workers=1",
            "experiment_name=exp-${oc.env:TRAINLAB_TEST_API_KEY}",
            "tags=[a,'${oc.env:TRAINLAB_TEST_DB_URL}']",
        ]
    )
    sweep = secrets / "train" / "multiruns" / "images_optuna"
    assert (sweep / ".workers" / "worker.pkl").is_file()
    assert "COMPLETE" in (sweep / "trials.csv").read_text()
    assert not leaks(secrets), leaks(secrets)


def test_sweep_records_no_secret_typed_on_the_command_line(secrets: Path) -> None:
    # The study records the fixed settings (to refuse a changed resume), the sweeper saves
    # multirun.yaml and optimization_results.yaml: all three held a secret typed literally.
    # Hydra's own .hydra/*.yaml keep the command line as typed, and so does each trial's
    # `overrides` record in the study (optuna.db), which a requeued worker runs again
    # (docs/security.md); every other file must not.
    main([*ONE_TRIAL_SWEEP, f"tags=[a,'{DB_URL}']", f"experiment_name=exp-{SECRET_KEY}"])
    sweep = secrets / "train" / "multiruns" / "images_optuna"
    assert "COMPLETE" in (sweep / "trials.csv").read_text()
    found = [f for f in leaks(secrets) if "/.hydra/" not in f and "/optuna.db:" not in f]
    assert not found, found
    assert "exp-***" in (sweep / "multirun.yaml").read_text()
    assert "exp-***" in (sweep / "optimization_results.yaml").read_text()
