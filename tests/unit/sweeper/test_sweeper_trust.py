"""Sweeps that stay comparable: resume after SIGKILL without repeats, fixed settings kept,
no test split in trials, searched keys the config uses (tests/unit/sweeper/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from optuna.trial import TrialState

from trainlab.core.search.settings import CHANGES_ATTR, SETTINGS_ATTR
from trainlab.core.search.trials import DUPLICATE_ATTR, INTERRUPTED_ATTR, params_key
from trainlab.errors import ConfigError, RunFolderError

# 4 x 2 = 8 parameter sets; 6 random draws from them repeat one almost surely (p = 0.98)
DISCRETE = (
    "hydra.sweeper.params.x='choice(0, 1, 2, 3)'",
    "hydra.sweeper.n_trials=6",
)


def finished_sets(study) -> list[str]:
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return [
        params_key(t.params)
        for t in study.get_trials(states=done)
        if not t.user_attrs.get(INTERRUPTED_ATTR) and DUPLICATE_ATTR not in t.user_attrs
    ]


def test_sweep_killed_with_sigkill_resumes_without_repeating_finished_sets(toy_app):
    command = [sys.executable, str(toy_app.root / "app.py"), *toy_app.argv(DISCRETE)]
    command.append("sleep_on_trial=3")
    killed = subprocess.Popen(
        command,
        cwd=toy_app.root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = toy_app.calls_file.with_suffix(".slept")
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "the fourth trial never started"
            time.sleep(0.1)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    number = int(marker.read_text())  # the trial that was training when killed
    assert toy_app.study().trials[number].state == TrialState.RUNNING

    resumed = subprocess.run(command, cwd=toy_app.root, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    study = toy_app.study()
    sets = finished_sets(study)
    assert len(sets) == len(set(sets)) == 6, [t.params for t in study.trials]
    lost = study.trials[number]
    assert lost.user_attrs[INTERRUPTED_ATTR]
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == number)
    assert retry.params == lost.params and retry.state == TrialState.COMPLETE
    # every skipped repeat names the finished trial it repeated, and ran no job
    ran = {c["number"] for c in toy_app.calls()}
    for trial in study.trials:
        if DUPLICATE_ATTR in trial.user_attrs:
            assert trial.number not in ran
            first = study.trials[trial.user_attrs[DUPLICATE_ATTR]]
            assert first.params == trial.params


@pytest.mark.slow  # 6.7 s: a sweep process starts and trains before the second one
def test_a_second_sweeper_on_a_running_sweep_is_refused(toy_app):
    # Before, the second sweeper marked the live sweep's trial 0 as interrupted, ran its
    # parameters again as trial 1, and the first sweeper died telling trial 0
    # (UpdateFinishedTrialError); the study held more trials than n_trials.
    command = [sys.executable, str(toy_app.root / "app.py"), *toy_app.argv(DISCRETE)]
    first = subprocess.Popen(
        [*command, "sleep_on_trial=0"],
        cwd=toy_app.root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = toy_app.calls_file.with_suffix(".slept")
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "the first sweep's trial never started"
            time.sleep(0.1)
        with pytest.raises(RunFolderError, match=f"PID {first.pid} .*sweep wait"):
            toy_app.run(*DISCRETE, "sleep_on_trial=0")  # the same command
        study = toy_app.study()
        assert [t.state for t in study.trials] == [TrialState.RUNNING]
        assert [c["pid"] for c in toy_app.calls()] == [first.pid]
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_exhausted_discrete_space_stops_the_sweep(toy_app):
    toy_app.run("hydra.sweeper.params.x='choice(0, 1)'", "hydra.sweeper.n_trials=6")
    sets = finished_sets(toy_app.study())
    assert sorted(sets) == sorted(set(sets)) and len(sets) == 4  # 2 x 2 points, no more


def test_resume_with_a_changed_fixed_setting_is_refused_before_any_job(toy_app):
    toy_app.run("hydra.sweeper.n_trials=2", "steps=1")
    with pytest.raises(ConfigError) as refused:
        toy_app.run("hydra.sweeper.n_trials=3", "steps=2", "fail_when=100")
    message = str(refused.value)
    assert "steps: 1 -> 2" in message and "fail_when: (not set) -> 100" in message
    assert "hydra.sweeper.allow_changed_settings=true" in message
    assert len(toy_app.calls()) == 2  # nothing launched
    assert len(toy_app.study().trials) == 2
    # n_trials, the sampler and other sweeper settings may change: not a fixed setting
    toy_app.run("hydra.sweeper.n_trials=3", "steps=1")
    assert len(toy_app.calls()) == 3

    toy_app.run("hydra.sweeper.n_trials=4", "steps=2", "hydra.sweeper.allow_changed_settings=true")
    study = toy_app.study()
    assert study.user_attrs[SETTINGS_ATTR]["steps"] == "2"
    (change,) = study.user_attrs[CHANGES_ATTR]
    assert change["changes"] == {"steps": ["1", "2"]} and change["before_trial"] == 3
    assert change["allowed_by"] == "hydra.sweeper.allow_changed_settings=true"


def test_resume_over_another_search_space_is_refused(toy_app):
    # Before, the resumed study reported trial 1 (x=2.23) as the best of a search that now
    # asked for x in interval(3, 4)
    toy_app.run("hydra.sweeper.n_trials=2")
    narrower = "hydra.sweeper.params.x='interval(3, 4)'"
    with pytest.raises(ConfigError) as refused:
        toy_app.run("hydra.sweeper.n_trials=3", narrower)
    assert "hydra.sweeper.params.x: FloatDistribution(" in str(refused.value)
    assert len(toy_app.calls()) == 2 and len(toy_app.study().trials) == 2
    toy_app.run("hydra.sweeper.n_trials=3")  # the same space resumes
    toy_app.run("hydra.sweeper.n_trials=4", narrower, "hydra.sweeper.allow_changed_settings=true")
    (change,) = toy_app.study().user_attrs[CHANGES_ATTR]
    assert list(change["changes"]) == ["hydra.sweeper.params.x"]


def test_a_study_recorded_before_its_space_was_resumes(toy_app):
    toy_app.run("hydra.sweeper.n_trials=1")
    study = toy_app.study()
    old = {k: v for k, v in study.user_attrs[SETTINGS_ATTR].items() if "params" not in k}
    study.set_user_attr(SETTINGS_ATTR, old)  # as trainlab wrote it before
    toy_app.run("hydra.sweeper.n_trials=2")
    assert "hydra.sweeper.params.y" in toy_app.study().user_attrs[SETTINGS_ATTR]


def test_trials_do_not_evaluate_the_test_split(toy_app):
    toy_app.run("hydra.sweeper.n_trials=2")
    assert [c["test"] for c in toy_app.calls()] == [False, False]
    assert "test=false" in toy_app.study().trials[0].user_attrs["overrides"]
    toy_app.run("hydra.sweeper.n_trials=3", "hydra.sweeper.test_in_trials=true")
    assert toy_app.calls()[-1]["test"] is True


def test_a_searched_key_the_config_does_not_use_stops_before_the_first_trial(toy_app):
    with pytest.raises(ConfigError, match=r"(?s)names keys this config does not use.*\bz\b"):
        toy_app.run("+hydra.sweeper.params.z='interval(0, 1)'")
    assert toy_app.calls() == []


def test_searched_keys_are_removed_from_the_command_line(toy_app):
    toy_app.run("hydra.sweeper.n_trials=2", "~hydra.sweeper.params.y")
    assert {c["y"] for c in toy_app.calls()} == {"a"}  # the config's value, not searched
    assert list(toy_app.study().trials[0].params) == ["x"]


def test_for_each_entries_follow_a_list_of_the_config(toy_app):
    toy_app.run(
        "hydra.sweeper.n_trials=2",
        "+tasks=[p,q]",
        "+w={p: 1.0, q: 1.0}",
        "+hydra.sweeper.params.w={for_each: '${tasks}', search: 'interval(0.5, 2.0)'}",
    )
    for trial in toy_app.study().trials:
        assert sorted(trial.params) == ["w.p", "w.q", "x", "y"]
        assert all(0.5 <= trial.params[k] <= 2.0 for k in ("w.p", "w.q"))


def test_results_count_a_lost_and_retried_trial_once(tmp_path) -> None:
    """A trial lost with its worker runs again as a new trial, and a repeated parameter set is
    skipped: optimization_results.yaml counts neither as a failure (trainlab sweep status and
    n_trials do not either); they are listed apart under `not_counted`."""
    import optuna
    import yaml

    from hydra_plugins.trainlab_sweeper._results import write_results
    from trainlab.core.optuna_study import default_storage_spec, open_storage
    from trainlab.core.search.trials import RETRY_ATTR, end_interrupted, tell_quietly

    spec = default_storage_spec(tmp_path, "sqlite")
    storage = open_storage(spec)
    study = optuna.create_study(study_name="lost", storage=storage)
    first = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(first, 0.5)
    lost = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # its worker dies
    end_interrupted(study, storage, lost.number, "lost: no heartbeat")
    retry = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    assert retry.user_attrs[RETRY_ATTR] == lost.number and retry.params == lost.params
    study.tell(retry, 0.25)
    repeat = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    repeat.set_user_attr(DUPLICATE_ATTR, first.number)
    tell_quietly(study, repeat, state=TrialState.FAIL)

    write_results(study, tmp_path, spec)
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 2, "pruned": 0, "fail": 0}
    assert results["not_counted"] == {"lost_and_retried": 1, "repeats_skipped": 1}
    assert results["best_trial"] == retry.number


def test_status_counts_every_slot_worker_of_a_split_slurm_task() -> None:
    """sweep.json counts SLURM array tasks; a task split into 4 slots has 4 workers."""
    from trainlab.cli.sweep import status_line

    summary = {
        "counts": {"finished": 3, "pruned": 0, "failed": 0, "running": 3, "retried": 1},
        "done": 3,
        "n_trials": 6,
        "best": None,
        "metric": "val/acc",
        "state": {"mode": "async", "status": "running", "workers": 1},
        "live_workers": [{}, {}, {}],
        "known_workers": 4,
        "eta_s": None,
    }
    assert "3/4 workers alive" in status_line(summary)
