"""`trainlab cv` searches that a researcher can trust: resume after SIGKILL without repeats,
a search space that fits the data, the monitor in charge, settings kept on resume."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from tests.integration.test_kmer_cv import SMALL, cv

from trainlab.core.search.trials import DUPLICATE_ATTR, INTERRUPTED_ATTR, params_key

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRAINLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


ONE_FOLD_SEARCH = ["mode=optimize", "cv.n_folds=2", "cv.max_epochs=2", "cv.patience=1"]


def fold_study(run: Path, fold: int = 0) -> optuna.Study:
    folder = run / "cv_results" / f"fold_{fold}"
    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.load_study(study_name=folder.name, storage=storage)


def finished_sets(study: optuna.Study) -> list[str]:
    """Parameter sets of the trials that trained to an end (not interrupted, not skipped)."""
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return [
        params_key(t.params)
        for t in study.get_trials(states=done)
        if not t.user_attrs.get(INTERRUPTED_ATTR) and DUPLICATE_ATTR not in t.user_attrs
    ]


def test_killed_search_resumes_without_repeating_a_finished_parameter_set(env: Path) -> None:
    # A real `trainlab cv` process, killed with SIGKILL while fold 0 searches. Before the
    # fix the resumed TPE sampler started from the same seed and proposed trial 0 again.
    args = [*SMALL, "run_name=killed", *ONE_FOLD_SEARCH, "cv.n_trials=6"]
    args += ["cv.sampler.n_startup_trials=4", "cv.pruner.n_startup_trials=10"]
    command = [sys.executable, "-m", "trainlab.cli.main", "cv", *args]
    run = env / "logs" / "cv" / "runs" / "killed"
    child_env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    # SIGKILL at the first batch of the third trial, as a kill from outside would land: a
    # test that watched the journal and killed from here raced the trial (2-epoch trials on
    # the small data end within one poll, and the kill then fell between trials)
    killed_at = {**child_env, "TRAINLAB_KILL_AT": "lean_batch:fold_0_trial2_split0:0:0"}
    first = subprocess.Popen(
        command,
        cwd=env,
        env=killed_at,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert first.wait(timeout=240) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = fold_study(run).trials
    assert any(t.state == TrialState.RUNNING for t in before)  # killed inside a trial

    done = subprocess.run(
        command, cwd=env, env=child_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    study = fold_study(run)
    sets = finished_sets(study)
    assert len(sets) == len(set(sets)), "a finished parameter set was proposed again"
    complete = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(complete) == 6  # n_trials counts trained trials only
    killed = [t for t in study.trials if t.user_attrs.get(INTERRUPTED_ATTR)]
    assert killed, "the trial the kill interrupted is marked"
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == killed[0].number)
    assert retry.params == killed[0].params  # the one repeat allowed: the interrupted trial


def test_search_space_follows_the_data_tasks_and_dotted_keys_go_from_the_command_line(
    env: Path, capsys: pytest.CaptureFixture
) -> None:
    two_tasks = ["data.tasks=[sample_type,material]", "cv.n_trials=1", *ONE_FOLD_SEARCH]
    cv(
        "run_name=tasks",
        *two_tasks,
        "cv.search_space.data.batch_size=64",  # replaced: fixed instead of searched
        "~cv.search_space.model.net.dropout",  # removed: the model's default 0.3 stays
    )
    run = env / "logs" / "cv" / "runs" / "tasks" / "cv_results"
    study = fold_study(run.parent)
    params = study.trials[0].params
    assert sorted(k for k in params if "task_weights" in k) == [
        "model.task_weights.material",
        "model.task_weights.sample_type",
    ]
    assert "data.batch_size" not in params and "model.net.dropout" not in params
    record = json.loads(next((run / "fold_0").glob("multitask_fold_*.json")).read_text())
    assert record["best_params"]["data.batch_size"] == 64
    assert "model.net.dropout" not in record["best_params"]

    # no task-weight search at all
    cv("run_name=noweights", *two_tasks, "~cv.search_space.model.task_weights")
    params = fold_study(env / "logs" / "cv" / "runs" / "noweights").trials[0].params
    assert not [k for k in params if "task_weights" in k]

    # a weight for a task the data does not have, and a key no component takes: stopped
    # before the first trial, naming the key
    for bad, named in (
        ("+cv.search_space.model.task_weights_x='interval(0.5, 2.0)'", "model.task_weights_x"),
        ("+cv.search_space.model.task_weights.community_type=1.5", "community_type"),
    ):
        capsys.readouterr()
        with pytest.raises(SystemExit):
            cv("run_name=bad", *two_tasks, "~cv.search_space.model.task_weights", bad)
        err = capsys.readouterr().err
        assert named in err, err
        assert not (env / "logs" / "cv" / "runs" / "bad" / "cv_results").exists()


def test_monitor_drives_objective_epoch_choice_and_early_stopping(env: Path) -> None:
    cv(
        "run_name=loss",
        "mode=full",
        "monitor=val/loss",
        "cv.monitor_mode=min",
        "cv.n_folds=2",
        "cv.n_trials=1",
        "final.max_epochs=4",
        "final.patience=1",
    )
    run = env / "logs" / "cv" / "runs" / "loss"
    study = fold_study(run)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert all(t.value > 0.05 for t in study.get_trials(states=(TrialState.COMPLETE,)))
    final = json.loads((run / "final_model" / "final_training_config.json").read_text())
    assert final["monitor"] == "val/loss"
    history = json.loads((run / "final_model" / "training_history.json").read_text())
    losses = [row["val/loss"] for row in history]
    assert final["best_validation_score"] == pytest.approx(min(losses))
    assert final["best_epoch"] == losses.index(min(losses))
    aggregated = json.loads((run / "cv_results" / "aggregated_results.json").read_text())
    assert aggregated["outer_fold_scores"]["metric"] == "test/loss"


def test_resume_with_changed_settings_is_refused_unless_allowed(
    env: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["run_name=changed", "cv.n_trials=1", *ONE_FOLD_SEARCH]
    cv(*base)
    settings = env / "logs" / "cv" / "runs" / "changed" / "cv_results" / "cv_settings.json"
    kept = settings.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cv(*base, "cv.max_epochs=3", "data.batch_size=32")
    err = capsys.readouterr().err
    assert "cv.max_epochs: 2 -> 3" in err and "data.batch_size: 64 -> 32" in err, err
    assert "cv.allow_changed_settings=true" in err
    assert settings.read_bytes() == kept
    cv(*base, "cv.max_epochs=3", "cv.allow_changed_settings=true")
    record = json.loads(settings.read_text())
    assert record["changes"][0]["changes"] == {"cv.max_epochs": [2, 3]}
    assert record["settings"]["cv.max_epochs"] == 3


def test_diverged_trials_are_pruned_not_scored(env: Path, capsys: pytest.CaptureFixture) -> None:
    # lr 1e38 turns every trial's weights to NaN. Before, such a network still scored
    # (argmax of NaN logits is class 0): its trials completed and the fold went on with them.
    with pytest.raises(SystemExit):
        cv("run_name=diverged", *ONE_FOLD_SEARCH, "cv.search_space.model.optimizer.lr=1e38")
    assert "2 diverged (NaN weights)" in capsys.readouterr().err
    trials = fold_study(env / "logs" / "cv" / "runs" / "diverged").trials
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    assert all("training diverged in" in t.user_attrs["diverged"] for t in trials)
