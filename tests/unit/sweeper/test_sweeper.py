"""The trainlab Optuna sweeper run for real on a toy Hydra app (tests/unit/sweeper/conftest.py)."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
import yaml
from optuna.trial import TrialState

from hydra_plugins.trainlab_sweeper._engine import SweepFailedError
from trainlab.core.optuna_study import PRUNED_ATTR
from trainlab.core.search.trials import INTERRUPTED_ATTR
from trainlab.errors import ConfigError


def _states(study) -> Counter:
    return Counter(t.state for t in study.trials)


def test_sweep_writes_results_and_gives_each_job_its_trial(toy_app):
    toy_app.run("hydra.sweeper.n_trials=5", "hydra.sweeper.plots=true")

    study = toy_app.study()
    assert _states(study) == {TrialState.COMPLETE: 5}
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(study.best_value)
    assert results["best_params"] == study.best_params
    assert results["best_job_dir"] == str(toy_app.sweep_dir / str(study.best_trial.number))
    assert results["trials"] == {"complete": 5, "pruned": 0, "fail": 0}
    rows = list(csv.DictReader((toy_app.sweep_dir / "trials.csv").open()))
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3, 4]
    assert {r["state"] for r in rows} == {"COMPLETE"}
    for png in ("optimization_history.png", "param_importances.png"):
        assert (toy_app.sweep_dir / png).read_bytes()[:4] == b"\x89PNG"
    # Job folder N runs trial N, and its config says where the trial lives.
    for call in toy_app.calls():
        overrides = toy_app.sweep_dir / str(call["number"]) / ".hydra" / "overrides.yaml"
        text = overrides.read_text()
        assert f"++trainlab_trial.number={call['number']}" in text
        assert "optuna.db" in text
        trial = study.trials[call["number"]]
        assert trial.params == {"x": call["x"], "y": call["y"]}


def test_resume_after_hard_crash_reruns_only_the_lost_trial(toy_app):
    crashed = toy_app.run_subprocess("crash_on_trial=2")
    assert crashed.returncode == 3, crashed.stderr[-2000:]
    assert _states(toy_app.study()) == {TrialState.COMPLETE: 2, TrialState.RUNNING: 1}

    resumed = toy_app.run_subprocess("crash_on_trial=2")  # the same command
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming study 'toy'" in resumed.stdout + resumed.stderr

    study = toy_app.study()
    lost = study.trials[2]
    assert lost.state == TrialState.FAIL and lost.user_attrs[INTERRUPTED_ATTR]
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == 2)
    assert retry.params == lost.params and retry.state == TrialState.COMPLETE
    assert _states(study)[TrialState.COMPLETE] == 4  # n_trials counts finished trials
    numbers = [c["number"] for c in toy_app.calls()]
    assert numbers == [0, 1, 2, 3, 4]  # finished trials 0 and 1 did not run again


def test_interrupted_sweep_resumes_in_process(toy_app):
    with pytest.raises(KeyboardInterrupt):
        toy_app.run("interrupt_on_trial=1")
    study = toy_app.study()
    assert study.trials[1].state == TrialState.FAIL
    assert study.trials[2].state == TrialState.WAITING  # its parameters, queued again

    toy_app.run("interrupt_on_trial=1")
    study = toy_app.study()
    assert _states(study) == {TrialState.COMPLETE: 4, TrialState.FAIL: 1}
    assert study.trials[2].params == study.trials[1].params
    assert [c["number"] for c in toy_app.calls()] == [0, 1, 2, 3, 4]


def test_rerun_of_finished_study_runs_nothing_and_more_trials_extend_it(toy_app):
    toy_app.run("hydra.sweeper.n_trials=3")
    toy_app.run("hydra.sweeper.n_trials=3")
    assert len(toy_app.calls()) == 3
    toy_app.run("hydra.sweeper.n_trials=5")
    calls = toy_app.calls()
    assert [c["number"] for c in calls] == [0, 1, 2, 3, 4]
    # A resumed seeded sampler moves its seed on instead of proposing trial 0 again.
    assert len({c["x"] for c in calls}) == 5


def test_failed_trials_keep_traceback_and_sweep_goes_on_within_failure_rate(toy_app):
    toy_app.run("hydra.sweeper.n_trials=6", "hydra.sweeper.max_failure_rate=1.0", "fail_when=0")
    study = toy_app.study()
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert failed and complete and len(study.trials) == 6
    for trial in failed:
        assert trial.params["x"] > 0
        assert trial.user_attrs["error"].startswith("ValueError: x=")
        assert "app.py" in trial.user_attrs["traceback"]
        assert "raise ValueError" in trial.user_attrs["traceback"]


def test_sweep_stops_once_failure_rate_is_passed(toy_app):
    # Every trial fails; 0.25 * 8 = 2 failures are tolerated, the third stops the sweep.
    with pytest.raises(SweepFailedError, match=r"3 of 8 trials failed.*max_failure_rate=0.25"):
        toy_app.run(
            "hydra.sweeper.n_trials=8", "hydra.sweeper.max_failure_rate=0.25", "fail_when=-10"
        )
    assert len(toy_app.calls()) == 3
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["trials"]["fail"] == 3 and results["best_trial"] is None


def test_nan_or_missing_objective_is_a_failure(toy_app):
    toy_app.run("hydra.sweeper.n_trials=2", "hydra.sweeper.max_failure_rate=1.0", "return_nan=true")
    trials = toy_app.study().trials
    assert all(t.state == TrialState.FAIL for t in trials)
    assert "needs 1 number" in trials[0].user_attrs["error"]


def test_multi_objective_writes_pareto_front(toy_app):
    toy_app.run(
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.direction=[minimize,minimize]",
        "hydra.sweeper.sampler.name=nsgaii",
        "hydra.sweeper.plots=true",
        "objectives=2",
    )
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["directions"] == ["minimize", "minimize"]
    front = toy_app.study().best_trials
    assert sorted(s["trial"] for s in results["solutions"]) == sorted(t.number for t in front)
    assert all(len(s["values"]) == 2 for s in results["solutions"])
    assert (toy_app.sweep_dir / "pareto_front.png").exists()
    assert (toy_app.sweep_dir / "optimization_history_1.png").exists()


def test_pruner_prunes_through_the_study_storage(toy_app):
    toy_app.run(
        "hydra.sweeper.n_trials=8",
        "+hydra.sweeper.pruner={name: median, n_startup_trials: 2}",
        "steps=4",
    )
    study = toy_app.study()
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned, "some of the worse trials must be pruned"
    for trial in pruned:
        assert trial.user_attrs[PRUNED_ATTR] == max(trial.intermediate_values)
        assert trial.user_attrs[PRUNED_ATTR] < 3  # stopped before the last step
    assert study.user_attrs["trainlab_pruner"] == {"name": "median", "n_startup_trials": 2}
    results = yaml.safe_load((toy_app.sweep_dir / "optimization_results.yaml").read_text())
    assert results["trials"]["pruned"] == len(pruned)


def test_pruning_out_of_process_with_submitit_local(toy_app):
    # As users run it: `python app.py -m`, each job in its own submitit process. The
    # threshold pruner makes the outcome independent of which trial finishes first.
    done = toy_app.run_subprocess(
        "hydra/launcher=submitit_local",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "+hydra.sweeper.pruner={name: threshold, upper: 3.0}",
        "steps=3",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    calls = toy_app.calls()
    assert len({c["pid"] for c in calls}) == 4  # one process per job
    study = toy_app.study()
    for call in calls:
        trial = study.trials[call["number"]]
        first_report = (call["x"] - 2) ** 2 + (call["y"] == "b") + 0.2
        if first_report > 3.0:
            assert trial.state == TrialState.PRUNED
            assert trial.user_attrs[PRUNED_ATTR] == 0
        else:
            assert trial.state == TrialState.COMPLETE
    assert {t.state for t in study.trials} == {TrialState.PRUNED, TrialState.COMPLETE}


def test_journal_storage_and_grid_sampler(toy_app):
    toy_app.run(
        "hydra.sweeper.storage_kind=journal",
        "hydra.sweeper.sampler.name=grid",
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.params.x='range(0, 3)'",
    )
    assert (toy_app.sweep_dir / "optuna.journal").exists()
    assert not (toy_app.sweep_dir / "optuna.db").exists()
    seen = {(c["x"], c["y"]) for c in toy_app.calls()}
    assert seen == {(x, y) for x in (0, 1, 2) for y in ("a", "b")}  # n_trials capped at 6


def test_command_line_sweeps_join_the_search_space(toy_app):
    toy_app.run("hydra.sweeper.n_trials=3", "y=c,d", "hydra.sweeper.params.x=1.5")
    calls = toy_app.calls()
    assert {c["y"] for c in calls} <= {"c", "d"}
    assert all(c["x"] == 1.5 for c in calls)


def test_custom_search_space_adds_conditional_parameters(toy_app, tmp_path):
    (tmp_path / "toy_space.py").write_text(
        "def extend(cfg, trial):\n"
        "    if trial.params['y'] == 'b':\n"
        "        trial.suggest_float('steps_unused', 0, 1)\n"
        "    return {'objectives': 1}\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        toy_app.run(
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.custom_search_space=toy_space.extend",
            "+steps_unused=0",
        )
    finally:
        sys.path.remove(str(tmp_path))
    for trial in toy_app.study().trials:
        assert ("steps_unused" in trial.params) == (trial.params["y"] == "b")
        assert "objectives=1" in trial.user_attrs["overrides"]


def test_direction_of_existing_study_must_match(toy_app):
    toy_app.run("hydra.sweeper.n_trials=1")
    with pytest.raises(ConfigError, match="optimises \\['minimize'\\]"):
        toy_app.run("hydra.sweeper.n_trials=2", "hydra.sweeper.direction=maximize")


def test_pruner_with_several_objectives_is_refused(toy_app):
    with pytest.raises(ConfigError, match="cannot prune multi-objective"):
        toy_app.run("hydra.sweeper.direction=[minimize,maximize]", "+hydra.sweeper.pruner=median")


def test_changed_search_space_of_a_study_is_a_config_error(toy_app):
    toy_app.run("hydra.sweeper.n_trials=1")
    # refused with the recorded space, before a trial is asked (tests/.../test_sweeper_trust.py)
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.params\.y: CategoricalDistribution"):
        toy_app.run("hydra.sweeper.n_trials=2", "hydra.sweeper.params.y='choice(c, d)'")
    assert len(toy_app.study().trials) == 1
    assert len(toy_app.calls()) == 1  # no job ran with the unfit parameters
