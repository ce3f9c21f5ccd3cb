"""The Optuna sweeper on the real digits model: pruning in and out of process, resume, DDP guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from trainlab.core.optuna_study import PRUNED_ATTR, default_storage_spec, open_storage

from .conftest import REPO, digits_args

STUDY = "images_optuna"


def sweep_dir(logs: Path) -> Path:
    return logs / "train" / "multiruns" / STUDY  # run_name of hparams_search/images_optuna


def load_study(logs: Path) -> optuna.Study:
    storage = open_storage(default_storage_spec(sweep_dir(logs), "sqlite"))
    return optuna.load_study(study_name=STUDY, storage=storage)


def queue_good_then_useless(logs: Path) -> None:
    """Fix the trial order: lr=0.01 learns; lr=0 cannot, so the median pruner stops it."""
    storage = open_storage(default_storage_spec(sweep_dir(logs), "sqlite"))
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize")
    study.enqueue_trial({"model.optimizer.lr": 0.01})
    study.enqueue_trial({"model.optimizer.lr": 0.0})


def pruning_sweep_args(digits: Path, *extra: str) -> list[str]:
    return [
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.params=null",
        "model.optimizer.lr=choice(0.0, 0.01)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "hydra.sweeper.plots=false",
        *digits_args(digits),
        *extra,
    ]


def check_pruned_useless_trial(logs: Path) -> None:
    study = load_study(logs)
    good, useless = study.trials
    assert good.params == {"model.optimizer.lr": 0.01} and good.state == TrialState.COMPLETE
    assert useless.params == {"model.optimizer.lr": 0.0} and useless.state == TrialState.PRUNED
    assert useless.user_attrs[PRUNED_ATTR] == 0  # stopped at its first validation
    assert list(useless.intermediate_values) == [0]
    assert sorted(good.intermediate_values) == [0, 1, 2]  # one report per epoch
    # The pruned trial's run folder says it did not finish; the good one finished.
    status = (Path(useless.user_attrs["job_dir"]) / "status.json").read_text()
    assert '"failed"' in status and "TrialPruned" in status
    assert (Path(good.user_attrs["job_dir"]) / "metrics.json").is_file()
    results = yaml.safe_load((sweep_dir(logs) / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"model.optimizer.lr": 0.01}
    assert results["trials"] == {"complete": 1, "pruned": 1, "fail": 0}
    assert results["best_value"] == pytest.approx(good.value)


@pytest.mark.slow
def test_pruning_in_process(train_cli, sweep_digits_dir, sweep_env):
    queue_good_then_useless(sweep_env)
    assert train_cli(*pruning_sweep_args(sweep_digits_dir)) == 0
    check_pruned_useless_trial(sweep_env)


@pytest.mark.slow
def test_pruning_out_of_process_with_submitit_local(train_cli, sweep_digits_dir, sweep_env):
    queue_good_then_useless(sweep_env)
    args = pruning_sweep_args(sweep_digits_dir, "launcher=submitit_local")
    assert train_cli(*args) == 0
    check_pruned_useless_trial(sweep_env)
    # each job ran in its own submitit process and wrote its logs there
    assert len(list((sweep_dir(sweep_env) / ".submitit").glob("*/*_log.out"))) == 2


@pytest.mark.slow
def test_killed_sweep_resumes_with_the_same_command(sweep_digits_dir, sweep_env):
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.plots=false",
        "hydra.sweeper.pruner=none",
        *digits_args(sweep_digits_dir),
    ]
    first = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # kill it while its second trial trains
            time.sleep(1)
            try:
                trials = load_study(sweep_env).trials
            except Exception:  # the study does not exist yet
                continue
            states = [t.state for t in trials]
            # RUNNING from `ask()` on, before its parameters are drawn: a kill in between left
            # a partly drawn trial, whose retry drew the rest afresh (seen once under load)
            drawn = len(trials) == 2 and len(trials[1].params) == len(trials[0].params)
            if states == [TrialState.COMPLETE, TrialState.RUNNING] and drawn:
                break
        else:
            pytest.fail("the sweep never reached its second trial")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming study 'images_optuna'" in done.stdout + done.stderr
    trials = load_study(sweep_env).trials
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,  # killed while running
        TrialState.COMPLETE,  # its parameters, run again
        TrialState.COMPLETE,
    ]
    assert trials[2].params == trials[1].params and trials[2].user_attrs["retry_of"] == 1
    # job folder N holds trial N; trial 0 ran once, and nothing overwrote the killed one
    assert (sweep_dir(sweep_env) / "0" / "metrics.json").is_file()
    assert not (sweep_dir(sweep_env) / "1" / "metrics.json").exists()


def test_ddp_inside_a_multirun_is_refused(train_cli, sweep_digits_dir, sweep_env, capsys):
    code = train_cli(
        "-m",
        "seed=1,2",
        "+trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        *digits_args(sweep_digits_dir),
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "ddp_spawn" in err and "launcher=slurm" in err
    assert not list(sweep_env.rglob("*.ckpt"))


@pytest.mark.slow
def test_sweep_trials_leave_the_test_split_alone(train_cli, sweep_digits_dir, sweep_env):
    # no `test=false` on the command line: the sweeper adds it to every trial
    quick = [o for o in digits_args(sweep_digits_dir) if o != "test=false"]
    code = train_cli(
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.params=null",
        "model.optimizer.lr=choice(0.01, 0.02)",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.pruner=none",
        "hydra.sweeper.plots=false",
        *quick,
    )
    assert code == 0
    (trial,) = load_study(sweep_env).trials
    job = Path(trial.user_attrs["job_dir"])
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics and not [k for k in metrics if k.startswith("test/")]
    assert list((job / "reports").glob("val_*")) and not list((job / "reports").glob("test_*"))
    assert "test=false" in trial.user_attrs["overrides"]


def test_a_diverged_trial_is_pruned_and_the_sweep_goes_on(train_cli, sweep_digits_dir, sweep_env):
    # lr=1e38 turns the weights to NaN in its first epoch; the trial ends with TrainingDiverged.
    # With max_failure_rate 0 (the default) a failure would stop the sweep: pruned instead.
    storage = open_storage(default_storage_spec(sweep_dir(sweep_env), "sqlite"))
    study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize")
    study.enqueue_trial({"model.optimizer.lr": 1e38})
    study.enqueue_trial({"model.optimizer.lr": 0.01})
    args = [
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.params=null",
        "model.optimizer.lr=choice(1e38, 0.01)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.pruner=null",
        "hydra.sweeper.plots=false",
        *digits_args(sweep_digits_dir),
    ]
    assert train_cli(*args) == 0
    diverged, good = load_study(sweep_env).trials
    assert diverged.state == TrialState.PRUNED and good.state == TrialState.COMPLETE
    assert "training diverged in epoch 0" in diverged.user_attrs["diverged"]
    results = yaml.safe_load((sweep_dir(sweep_env) / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 1, "pruned": 1, "fail": 0}
    assert results["best_params"] == {"model.optimizer.lr": 0.01}
