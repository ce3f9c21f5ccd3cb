"""hydra.sweeper.mode=async on the toy app: real worker processes, the real study storage.

Pruning in async mode runs on the real digits model: tests/integration/sweeps/test_async_digits.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from trainlab.core.optuna_study import default_storage_spec, open_storage
from trainlab.core.search.lease import HEARTBEAT_ATTR, WORKER_ATTR
from trainlab.core.search.trials import INTERRUPTED_ATTR, RETRY_ATTR, counted

ASYNC = [
    "hydra.sweeper.mode=async",
    "hydra.sweeper.workers=2",
    "hydra.sweeper.heartbeat_s=1",
]


def enqueue(toy_app, *params: dict) -> None:
    """Creates the study and fixes the first trials' parameters (the order workers get them)."""
    storage = open_storage(default_storage_spec(toy_app.sweep_dir, "sqlite"))
    study = optuna.create_study(study_name="toy", storage=storage, direction="minimize")
    for p in params:
        study.enqueue_trial(p)


def test_two_workers_finish_n_trials_without_a_barrier(toy_app):
    # Trial 0 takes 6 s, the others a moment: with a barrier (batch mode, n_jobs=2) the
    # second worker would wait for trial 0 before its next trial.
    enqueue(toy_app, {"duration": 6.0}, *[{"duration": 0.05}] * 3)
    done = toy_app.run_subprocess(
        *ASYNC, "hydra.sweeper.n_trials=4", "+hydra.sweeper.params.duration='choice(0.05, 6.0)'"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    study = toy_app.study()
    assert counted(study) == 4
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    long, *short = study.trials
    assert long.params["duration"] == 6.0
    # the other worker ran every short trial, one after another, while trial 0 still ran
    assert {t.user_attrs[WORKER_ATTR] for t in short} != {long.user_attrs[WORKER_ATTR]}
    inside = [
        t
        for t in short
        if long.datetime_start < t.datetime_start and t.datetime_complete < long.datetime_complete
    ]
    assert len(inside) >= 2, [(t.number, t.datetime_start, t.datetime_complete) for t in short]
    first, second = sorted(inside, key=lambda t: t.datetime_start)[:2]
    assert second.datetime_start >= first.datetime_complete
    # each worker ran its trials in its own process, job folder N holds trial N
    calls = toy_app.calls()
    assert len({c["pid"] for c in calls}) == 2 and sorted(c["number"] for c in calls) == [
        0,
        1,
        2,
        3,
    ]
    for t in study.trials:
        assert t.user_attrs["job_dir"] == str(toy_app.sweep_dir / str(t.number))
        assert HEARTBEAT_ATTR in t.user_attrs
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 4, "pruned": 0, "fail": 0}
    state = json.loads((toy_app.sweep_dir / "sweep.json").read_text())
    assert state["mode"] == "async" and state["status"] == "finished" and state["workers"] == 2
    # both workers end together (trial 0's and the idle one) and each finds the other gone:
    # before, both wrote every final file in turn; now the second leaves them be
    logs = [p.read_text() for p in sorted((toy_app.sweep_dir / ".workers").glob("*.log"))]
    writers = [log for log in logs if "is the last: writing the final results" in log]
    assert len(logs) == 2 and len(writers) == 1, logs
    assert state["by"] in ("worker 0", "worker 1")


def worker_running(toy_app, number: int) -> dict:
    """The status file of the worker that runs trial `number` (waits for it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for path in (toy_app.sweep_dir / ".workers").glob("*.json"):
            try:
                worker = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if worker.get("trial") == number:
                return worker
        time.sleep(0.2)
    raise AssertionError(f"no worker reported trial {number}")


def test_a_killed_workers_trial_is_retried_by_the_other(toy_app):
    # The first trial numbered >= 1 "trains" for 300 s; its worker is SIGKILLed meanwhile.
    overrides = (*ASYNC, "hydra.sweeper.n_trials=4", "sleep_on_trial=1")
    sweep = subprocess.Popen(
        [sys.executable, str(toy_app.root / "app.py"), *toy_app.argv(overrides)],
        cwd=toy_app.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        slept = toy_app.calls_file.with_suffix(".slept")
        deadline = time.monotonic() + 120
        while not slept.exists():
            assert time.monotonic() < deadline and sweep.poll() is None
            time.sleep(0.2)
        number = int(slept.read_text())
        worker = worker_running(toy_app, number)
        os.kill(worker["pid"], signal.SIGKILL)
        output, _ = sweep.communicate(timeout=120)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, output[-3000:]
    study = toy_app.study()
    assert counted(study) == 4
    lost = study.trials[number]
    assert lost.state == TrialState.FAIL and lost.user_attrs[INTERRUPTED_ATTR]
    assert "no heartbeat" in lost.user_attrs["error"]
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_ATTR) == number]
    assert retry.state == TrialState.COMPLETE and retry.params == lost.params
    assert retry.user_attrs[WORKER_ATTR] != lost.user_attrs[WORKER_ATTR]
    assert not any(t.state == TrialState.RUNNING for t in study.trials)
    assert f"worker pid {worker['pid']} ended with -9" in output


def test_detach_then_status_and_wait(toy_app, capsys):
    from trainlab.cli.main import main

    done = toy_app.run_subprocess(
        *ASYNC, "hydra.sweeper.detach=true", "hydra.sweeper.n_trials=4", "duration=0.5"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = str(toy_app.sweep_dir)
    assert f"trainlab sweep wait {folder}" in done.stdout
    # returned at once: the workers have not finished the sweep yet
    assert json.loads((toy_app.sweep_dir / "sweep.json").read_text())["status"] == "running"
    # a second sweeper on the same folder would start more workers on the same study
    again = toy_app.run_subprocess(*ASYNC, "hydra.sweeper.n_trials=4")
    assert again.returncode != 0 and "still has 2 live worker(s)" in again.stderr
    assert f"trainlab sweep wait {folder}" in again.stderr

    def trainlab(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        return exit_.value.code

    assert trainlab("sweep", "status", folder) == 0
    assert "running" in capsys.readouterr().out
    assert trainlab("sweep", "wait", folder, "--interval", "0.5") == 0
    out = capsys.readouterr().out
    assert "4/4 done (4 finished, 0 pruned, 0 failed)" in out
    assert f"results: {folder}/optimization_results.yaml" in out
    # the last worker wrote the final results
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["trials"]["complete"] == 4
    assert trainlab("sweep", "status", folder) == 0
    assert "| best objective" in capsys.readouterr().out

    # resume: the same command with a larger n_trials runs just the missing trial
    more = toy_app.run_subprocess(*ASYNC, "hydra.sweeper.n_trials=5", "duration=0.5")
    assert more.returncode == 0, more.stderr[-3000:]
    assert counted(toy_app.study()) == 5 and len(toy_app.calls()) == 5

    assert trainlab("sweep", "wait", str(toy_app.root)) == 2
    err = capsys.readouterr().err
    assert "is not a sweep folder" in err and "Fix:" in err


def test_gpus_per_trial_without_a_gpu_is_a_clear_error(toy_app):
    done = toy_app.run_subprocess(
        "hydra.sweeper.mode=async",
        "hydra.sweeper.gpus_per_trial=0.5",
        env_extra={"CUDA_VISIBLE_DEVICES": ""},
    )
    assert done.returncode != 0
    assert "no visible GPU" in done.stderr and "gpus_per_trial=0" in done.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("hydra.sweeper.mode=fast", r"mode='fast' is unknown. Fix: one of \('batch', 'async'\)"),
        ("hydra.sweeper.gpus_per_trial=0.3", "does not split a GPU evenly. Fix: 1/k"),
        ("hydra.sweeper.workers=0", "workers=0 must be a positive integer"),
        ("hydra.sweeper.heartbeat_s=0", "heartbeat_s=0.0 must be a positive number"),
    ],
)
def test_bad_async_settings_stop_before_any_worker(toy_app, setting, message):
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        toy_app.run("hydra.sweeper.mode=async", setting)
    assert not (toy_app.sweep_dir / ".workers").exists() and not toy_app.calls()


def test_detach_without_async_mode_is_refused(toy_app):
    from trainlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"detach=true needs hydra\.sweeper\.mode=async"):
        toy_app.run("hydra.sweeper.detach=true")
    assert not toy_app.calls()


def test_failed_async_sweep_is_reported_by_the_sweeper_and_by_wait(toy_app, capsys):
    from trainlab.cli.main import main

    # every trial raises; max_failure_rate 0: the first failure stops the workers
    done = toy_app.run_subprocess(*ASYNC, "hydra.sweeper.n_trials=4", "fail_when=-10")
    assert done.returncode != 0
    assert "1 of 4 trials failed" in done.stderr or "2 of 4 trials failed" in done.stderr
    state = json.loads((toy_app.sweep_dir / "sweep.json").read_text())
    assert state["status"] == "failed" and "max_failure_rate" in state["error"]
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "wait", str(toy_app.sweep_dir)])
    assert exit_.value.code == 1
    assert "error: the sweep failed" in capsys.readouterr().err


def test_the_final_results_are_written_once_for_the_same_trials(tmp_path):
    # Two workers that end together each find the other gone and finish the sweep: before,
    # both wrote optimization_results.yaml, trials.csv and the plots in turn (seen 0.9 s
    # apart in the two-worker test above)
    from omegaconf import OmegaConf

    from hydra_plugins.trainlab_sweeper._async import finish
    from hydra_plugins.trainlab_sweeper._engine import OptunaSearch
    from trainlab.core.search.sweep_state import write_state

    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "job": {"name": "t"}}})
    settings = {"n_trials": 2, "plots": False, "mode": "async"}
    search = OptunaSearch(settings, config, None, None, lambda batch: None)
    study = optuna.create_study(study_name="t")  # in memory: a SQLite study takes seconds
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    write_state(tmp_path, mode="async", status="running")
    results = tmp_path / "optimization_results.yaml"

    assert finish(search, study)["status"] == "finished"
    first = results.stat().st_ino  # a write renames a new file into place
    assert finish(search, study)["status"] == "finished"
    assert results.stat().st_ino == first
    # another trial since: the results are of other trials and written again
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    finish(search, study)
    assert results.stat().st_ino != first
    assert yaml.safe_load(results.read_text())["trials"]["complete"] == 3
