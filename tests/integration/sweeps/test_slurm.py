"""launcher=slurm on a real single-node SLURM cluster (scripts/slurm/local-cluster.sh).

The cluster is started once per session and stopped again (by PID) if this session started
it; where it cannot start (not root, no apt) every test here is skipped with the reason.
"""

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
import torch
import yaml
from optuna.trial import TrialState

from trainlab.core.optuna_study import default_storage_spec, open_storage

from .conftest import REPO, digits_args

pytestmark = pytest.mark.slurm


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "train.py"), *args]


def array_job_ids(sweep: Path) -> list[str]:
    """SLURM ids of the jobs a sweep submitted (`<array>_<task>`, or `<id>` for a single job)."""
    folder = sweep / ".submitit"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0].isdigit())


def sacct_states(job: str) -> list[str]:
    """Every state sacct recorded for `job`, requeued attempts included (-D)."""
    for _ in range(60):  # accounting lags the controller by a moment
        out = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-D", "-j", job, "-o", "State"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if out and not {"PENDING", "RUNNING"} & set(out):
            return out
        time.sleep(1)
    return out


def test_multirun_is_one_job_array(slurm_cluster, sweep_digits_dir, sweep_env):
    started = time.monotonic()
    done = subprocess.run(
        sweep_command(
            "-m", "launcher=slurm", "run_name=grid", "seed=1,2", *digits_args(sweep_digits_dir)
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = sweep_env / "train" / "multiruns" / "grid"
    jobs = [j for j in array_job_ids(sweep) if "_" in j]  # the array's tasks: <array>_<task>
    assert len(jobs) == 2 and len({j.split("_")[0] for j in jobs}) == 1  # one array, two tasks
    for job in jobs:
        assert sacct_states(job) == ["COMPLETED"]
    for number in (0, 1):
        status = json.loads((sweep / str(number) / "status.json").read_text())
        assert status["status"] == "finished"
        assert (sweep / str(number) / "metrics.json").is_file()
    print(f"SLURM job array of 2 digits runs: {time.monotonic() - started:.0f} s")


def test_failing_and_cancelled_jobs_are_reported_failed(slurm_cluster, sweep_digits_dir, sweep_env):
    """A job that raises, and a job killed by SLURM, both end as FAIL trials; nothing hangs."""
    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    command = sweep_command(
        "-m",
        "hparams_search=images_optuna",
        "launcher=slurm",
        "hydra.sweeper.params=null",
        "data.batch_size=choice(-4)",  # the DataLoader refuses a negative batch size
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.plots=false",
        *digits_args(sweep_digits_dir),
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode != 0
    assert "1 of 1 trials failed" in done.stdout + done.stderr
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    trial = optuna.load_study(study_name="images_optuna", storage=storage).trials[0]
    assert trial.state == TrialState.FAIL
    assert "batch_size" in trial.user_attrs["error"]
    assert "Traceback" in trial.user_attrs["traceback"]

    # A job cancelled by SLURM: without accounting submitit would wait for it forever.
    sweep = sweep.with_name("cancel")
    command[command.index("data.batch_size=choice(-4)")] = "data.batch_size=choice(64)"
    command[command.index("trainer.max_epochs=3")] = "trainer.max_epochs=50"
    command += ["run_name=cancel", "hydra.sweeper.study_name=cancel"]
    sweeper = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job = wait_for_running_job(sweep, sweeper, after=[])
        subprocess.run(["scancel", job], check=True)
        output, _ = sweeper.communicate(timeout=600)
    finally:
        sweeper.kill()
    assert sweeper.returncode != 0 and "1 of 1 trials failed" in output, output[-3000:]
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    trial = optuna.load_study(study_name="cancel", storage=storage).trials[0]
    assert trial.state == TrialState.FAIL
    assert "launcher failed" in trial.user_attrs["error"]
    assert "CANCELLED" in sacct_states(job)[0]


def wait_for_running_job(
    sweep: Path, sweeper: subprocess.Popen, after: list[str], timeout: float = 300
) -> str:
    """The id of the first job of `sweep` (not in `after`) that SLURM runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sweeper.poll() is not None:
            raise AssertionError(f"the sweep ended early:\n{sweeper.stdout.read()[-3000:]}")
        new = [j for j in array_job_ids(sweep) if j not in after]
        if new:
            state = subprocess.run(
                ["squeue", "-h", "-j", new[0], "-o", "%T"], capture_output=True, text=True
            ).stdout.strip()
            if state == "RUNNING":
                return new[0]
        time.sleep(1)
    raise AssertionError("no new SLURM job started running")


def preempt_after_an_epoch(command: list[str], sweep: Path, runs: list[Path]) -> str:
    """Run a SLURM sweep, SIGUSR2 its first job once every run in `runs` has finished an epoch
    (the preemption notice SLURM sends before a time limit: submitit catches it and requeues the
    job, same id, into the same run folders), and return the job id after the sweep ended well."""
    sweeper = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job = wait_for_running_job(sweep, sweeper, after=[])
        deadline = time.monotonic() + 600
        while not all((run / "checkpoints" / "last.ckpt").exists() for run in runs):
            assert time.monotonic() < deadline and sweeper.poll() is None
            time.sleep(0.2)
        subprocess.run(["scancel", "--signal=USR2", job], check=True)
        output, _ = sweeper.communicate(timeout=900)
    finally:
        sweeper.kill()
    assert sweeper.returncode == 0, output[-3000:]
    return job


def preempt_async_sweep(command: list[str], sweep: Path, runs: list[Path]) -> optuna.Study:
    """`preempt_after_an_epoch` on an async sweep; its study once the job was requeued."""
    job = preempt_after_an_epoch(command, sweep, runs)
    assert "REQUEUED" in sacct_states(job)
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    return optuna.load_study(study_name="images_optuna", storage=storage)


def test_preempted_job_requeues_and_resumes_in_its_run_folder(
    slurm_cluster, sweep_digits_dir, sweep_env
):
    epochs, batches = 8, 4
    command = sweep_command(
        "launcher=slurm",
        "run_name=requeue",
        *digits_args(
            sweep_digits_dir,
            f"trainer.max_epochs={epochs}",
            f"+trainer.limit_train_batches={batches}",
            "callbacks.early_stopping=null",
        ),
    )
    run = sweep_env / "train" / "multiruns" / "requeue" / "0"
    job = preempt_after_an_epoch(command, run.parent, [run])
    states = sacct_states(job)
    assert "REQUEUED" in states and states[-1] == "COMPLETED", states
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["attempts"] == 2
    log = (run / "train.log").read_text()
    assert "resuming from" in log and "last.ckpt" in log
    # The same number of optimiser steps as an uninterrupted run: the lost partial epoch
    # was trained again, nothing was trained twice.
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == epochs * batches
    assert last["epoch"] == epochs - 1


@pytest.mark.slow  # 88 s with the digits split: ~5 s to detach, ~66 s to finish
def test_async_sweep_detaches_and_survives_a_cancelled_worker(
    slurm_cluster, sweep_digits_dir, sweep_env
):
    """Async workers as one SLURM job array: the sweeper returns at once, a cancelled worker's
    trial is retried by the other, `trainlab sweep wait` re-attaches and sees it finish."""
    from trainlab.core.search.trials import INTERRUPTED_ATTR, RETRY_ATTR, counted

    started = time.monotonic()
    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    done = subprocess.run(
        sweep_command(
            "-m",
            "hparams_search=images_optuna",
            "launcher=slurm",
            "hydra.sweeper.mode=async",
            "hydra.sweeper.workers=2",
            "hydra.sweeper.detach=true",
            "hydra.sweeper.heartbeat_s=2",
            "hydra.sweeper.n_trials=3",
            "hydra.sweeper.pruner=none",
            *digits_args(sweep_digits_dir, "trainer.max_epochs=6"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"trainlab sweep wait {sweep}" in done.stdout
    detached_s = time.monotonic() - started
    state = json.loads((sweep / "sweep.json").read_text())
    assert state["status"] == "running" and len(state["slurm_jobs"]) == 2
    # The same command again while the array is queued or running would add a second set of
    # workers: it is refused, naming the jobs, before anything is submitted.
    again = subprocess.run(done.args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2, again.stderr[-3000:]
    assert "still has SLURM worker jobs in the queue" in again.stderr, again.stderr[-3000:]
    assert json.loads((sweep / "sweep.json").read_text())["slurm_jobs"] == state["slurm_jobs"]

    # Cancel the worker of the first trial while it trains (a node lost, a preemption).
    deadline = time.monotonic() + 300
    victim = None
    while victim is None:
        assert time.monotonic() < deadline, "no worker started a trial"
        for path in (sweep / ".workers").glob("*.json"):
            try:
                worker = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if worker.get("trial") is not None and worker.get("slurm_job"):
                victim = worker
                break
        time.sleep(0.5)
    subprocess.run(["scancel", victim["slurm_job"]], check=True)

    status = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "sweep", "status", str(sweep)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0 and "running" in status.stdout, status.stderr
    waited = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "sweep", "wait", str(sweep), "--interval", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert waited.returncode == 0, waited.stdout[-2000:] + waited.stderr[-2000:]
    assert f"results: {sweep / 'optimization_results.yaml'}" in waited.stdout
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    study = optuna.load_study(study_name="images_optuna", storage=storage)
    assert counted(study) == 3
    lost = study.trials[victim["trial"]]
    assert lost.state == TrialState.FAIL and lost.user_attrs[INTERRUPTED_ATTR]
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_ATTR) == lost.number]
    assert retry.state == TrialState.COMPLETE and retry.params == lost.params
    assert "CANCELLED" in sacct_states(victim["slurm_job"])[0]
    # the surviving worker, the last one, wrote the final results and plots
    assert (sweep / "optimization_history.png").is_file()
    print(
        f"async SLURM sweep: detached after {detached_s:.0f} s, "
        f"finished after {time.monotonic() - started:.0f} s"
    )


@pytest.mark.slow  # 70 s here; SLURM may keep a requeued job waiting ~120 s before it runs
def test_preempted_async_worker_comes_back_to_its_trial(slurm_cluster, sweep_digits_dir, sweep_env):
    """A worker preempted mid-trial (SIGUSR2, as before a time limit) is requeued by submitit
    and finishes the same trial in the same run folder from last.ckpt; nothing is retried."""
    from trainlab.core.search.trials import counted

    epochs, batches = 8, 4
    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    command = sweep_command(
        "-m",
        "hparams_search=images_optuna",
        "launcher=slurm",
        "hydra.sweeper.mode=async",
        "hydra.sweeper.workers=1",
        "hydra.sweeper.heartbeat_s=2",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.pruner=none",
        "hydra.sweeper.plots=false",
        *digits_args(
            sweep_digits_dir,
            f"trainer.max_epochs={epochs}",
            f"+trainer.limit_train_batches={batches}",
        ),
    )
    run = sweep / "0"
    study = preempt_async_sweep(command, sweep, [run])
    assert counted(study) == 1 and len(study.trials) == 1  # the same trial, not a retry
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE and "trainlab_requeued_at" in trial.user_attrs
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["attempts"] == 2
    assert "resuming from" in (run / "train.log").read_text()
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == epochs * batches


def _slot_sweep(sweep_digits_dir: Path, n_trials: int, *extra: str) -> list[str]:
    """An async sweep of one SLURM array task with 2 cores, split into 2 one-core workers."""
    return sweep_command(
        "-m",
        "hparams_search=images_optuna",
        "launcher=slurm",
        "hydra.launcher.cpus_per_task=2",
        "hydra.sweeper.mode=async",
        "hydra.sweeper.workers=1",
        "hydra.sweeper.cpus_per_trial=1",
        "hydra.sweeper.heartbeat_s=2",
        f"hydra.sweeper.n_trials={n_trials}",
        "hydra.sweeper.pruner=none",
        *digits_args(sweep_digits_dir, *extra),
    )


def test_one_slurm_task_runs_a_worker_per_core_group(slurm_cluster, sweep_digits_dir, sweep_env):
    """`cpus_per_trial=1` in a 2-core array task: two workers share the task, one core each."""
    from hydra_plugins.trainlab_sweeper._worker import TASK_SLOT_ATTR
    from trainlab.core.search.lease import WORKER_ATTR
    from trainlab.core.search.trials import counted

    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    done = subprocess.run(
        _slot_sweep(sweep_digits_dir, 4), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (job,) = json.loads((sweep / "sweep.json").read_text())["slurm_jobs"]
    assert sacct_states(job) == ["COMPLETED"]
    workers = {
        int(p.stem): json.loads(p.read_text()) for p in (sweep / ".workers").glob("[0-9]*.json")
    }
    assert sorted(workers) == [0, 1]  # slot 1's index: 0 + 1 * (1 task)
    assert {w["slurm_job"] for w in workers.values()} == {job}
    assert {w["threads"] for w in workers.values()} == {1}
    assert len({w["pid"] for w in workers.values()}) == 2
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    study = optuna.load_study(study_name="images_optuna", storage=storage)
    assert counted(study) == 4 and len(study.trials) == 4
    assert {t.user_attrs[TASK_SLOT_ATTR] for t in study.trials} == {0, 1}
    assert {t.user_attrs[WORKER_ATTR].split("@")[0] for t in study.trials} == {"0", "1"}
    assert (sweep / "optimization_results.yaml").is_file()


@pytest.mark.slow  # ~80 s here, with SLURM's hold on a requeued job
def test_a_preempted_split_task_brings_every_slot_back_to_its_trial(
    slurm_cluster, sweep_digits_dir, sweep_env
):
    """SIGUSR2 to a task running two slot workers: both trials are marked requeued, the task
    comes back, and each slot finishes its own trial from last.ckpt; nothing is retried."""
    from hydra_plugins.trainlab_sweeper._worker import TASK_SLOT_ATTR
    from trainlab.core.search.lease import REQUEUED_ATTR
    from trainlab.core.search.trials import counted

    epochs, batches = 8, 4
    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    command = _slot_sweep(
        sweep_digits_dir,
        2,
        "hydra.sweeper.plots=false",
        f"trainer.max_epochs={epochs}",
        f"+trainer.limit_train_batches={batches}",
    )
    # both slots are inside their trial, an epoch done
    study = preempt_async_sweep(command, sweep, [sweep / "0", sweep / "1"])
    assert counted(study) == 2 and len(study.trials) == 2  # the same trials, no retries
    assert {t.user_attrs[TASK_SLOT_ATTR] for t in study.trials} == {0, 1}
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE and REQUEUED_ATTR in trial.user_attrs
        run = sweep / str(trial.number)
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "finished" and status["attempts"] == 2, trial.number
        last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        assert last["global_step"] == epochs * batches


@pytest.mark.slow  # ~4 min here: 8 workers on 2 cores
@pytest.mark.skipif(torch.cuda.is_available(), reason="the fake GPUs' ids would be real ones here")
def test_slurm_tasks_split_their_gpus_into_fractional_slots(
    slurm_fake_gpus, sweep_digits_dir, sweep_env
):
    """Two array tasks, each given 2 (fake) GPUs by SLURM, `gpus_per_trial=0.5`: each task
    runs 4 workers, two per device, every worker on its own share of the task's devices. torch
    sees no CUDA here: the trials train on CPU, finish, and the sweep says so."""
    from hydra_plugins.trainlab_sweeper._worker import SLURM_JOB_ATTR, TASK_SLOT_ATTR
    from trainlab.core.search.lease import WORKER_ATTR
    from trainlab.core.search.trials import counted

    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    done = subprocess.run(
        sweep_command(
            "-m",
            "hparams_search=images_optuna",
            "launcher=slurm",
            "hydra.launcher.gpus_per_node=2",
            "hydra.sweeper.mode=async",
            "hydra.sweeper.workers=2",
            "hydra.sweeper.gpus_per_trial=0.5",
            "hydra.sweeper.heartbeat_s=2",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.pruner=none",
            "hydra.sweeper.plots=false",
            *digits_args(sweep_digits_dir, "trainer.max_epochs=2"),
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    jobs = json.loads((sweep / "sweep.json").read_text())["slurm_jobs"]
    assert len(jobs) == 2
    for job in jobs:
        assert sacct_states(job) == ["COMPLETED"]
        tres = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-j", job, "-o", "AllocTRES"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "gres/gpu=2" in tres, tres  # SLURM itself gave the task two GPUs

    workers = {
        int(p.stem): json.loads(p.read_text()) for p in (sweep / ".workers").glob("[0-9]*.json")
    }
    assert sorted(workers) == list(range(8))  # task t's slot j is worker t + 2 j
    given = []
    for task, job in enumerate(jobs):
        mine = [workers[task + 2 * slot] for slot in range(4)]
        assert {w["slurm_job"] for w in mine} == {job}
        assert len({w["pid"] for w in mine}) == 4
        devices = [w["cuda_visible_devices"] for w in mine]
        # slots 0 and 1 share the task's first GPU, slots 2 and 3 its second
        assert devices[0] == devices[1] != devices[2] == devices[3], devices
        given += devices[::2]
    # the two tasks got disjoint GPUs of the node's four, each worker exactly one of them
    assert sorted(given) == ["0", "1", "2", "3"], given
    # no CUDA behind the fake devices: every worker recorded that torch saw none
    assert {w["cuda_devices_seen"] for w in workers.values()} == {0}

    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    study = optuna.load_study(study_name="images_optuna", storage=storage)
    assert counted(study) == 8
    assert {t.state for t in study.trials} == {TrialState.COMPLETE}
    for trial in study.trials:
        index = int(trial.user_attrs[WORKER_ATTR].split("@")[0])
        worker = workers[index]
        assert trial.user_attrs[SLURM_JOB_ATTR] == worker["slurm_job"]
        task = jobs.index(worker["slurm_job"])
        assert trial.user_attrs[TASK_SLOT_ATTR] == (index - task) // 2
        run = sweep / str(trial.number)
        assert json.loads((run / "status.json").read_text())["status"] == "finished"
        # the run itself records the CPU it trained on, not the slot's GPU
        hardware = json.loads((run / "hardware.json").read_text())
        assert hardware["cuda_available"] is False and hardware["gpus"] == []
    status = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "sweep", "status", str(sweep)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "8/8 done (8 finished" in status.stdout, status.stdout
    assert "trained on CPU" in status.stdout and "0 (GPUs " in status.stdout, status.stdout


@pytest.mark.slow  # ~5 min here: 4 workers on 2 cores, 8 s of lost heartbeats
@pytest.mark.skipif(torch.cuda.is_available(), reason="the fake GPUs' ids would be real ones here")
def test_a_killed_slot_worker_is_retried_and_counted_once(
    slurm_fake_gpus, sweep_digits_dir, sweep_env
):
    """One task of 2 (fake) GPUs at gpus_per_trial=0.5; slot 1's worker is SIGKILLed mid-trial
    (an OOM kill): its trial is lost and run again by a slot worker still alive; the results
    file, trials.csv and `trainlab sweep status` count that parameter set once."""
    from trainlab.core.search.trials import INTERRUPTED_ATTR, RETRY_ATTR, counted

    sweep = sweep_env / "train" / "multiruns" / "images_optuna"
    done = subprocess.run(
        sweep_command(
            "-m",
            "hparams_search=images_optuna",
            "launcher=slurm",
            "hydra.launcher.gpus_per_node=2",
            "hydra.sweeper.mode=async",
            "hydra.sweeper.workers=1",
            "hydra.sweeper.gpus_per_trial=0.5",
            "hydra.sweeper.detach=true",
            "hydra.sweeper.heartbeat_s=2",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.pruner=none",
            "hydra.sweeper.plots=false",
            *digits_args(sweep_digits_dir, "trainer.max_epochs=6"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (job,) = json.loads((sweep / "sweep.json").read_text())["slurm_jobs"]
    deadline = time.monotonic() + 600
    while True:  # slot 1's worker (index 1), inside a trial with an epoch done
        assert time.monotonic() < deadline, "slot 1's worker never trained a trial"
        try:
            victim = json.loads((sweep / ".workers" / "1.json").read_text())
        except (OSError, json.JSONDecodeError):
            victim = {}
        number = victim.get("trial")
        if number is not None and (sweep / str(number) / "checkpoints" / "last.ckpt").exists():
            break
        time.sleep(0.5)
    assert victim["slurm_job"] == job and victim["cuda_visible_devices"] in ("0", "1", "2", "3")
    os.kill(victim["pid"], signal.SIGKILL)

    waited = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "sweep", "wait", str(sweep), "--interval", "2"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert waited.returncode == 0, waited.stdout[-2000:] + waited.stderr[-2000:]
    assert sacct_states(job) == ["COMPLETED"]  # the task's other slots ended it well
    storage = open_storage(default_storage_spec(sweep, "sqlite"))
    study = optuna.load_study(study_name="images_optuna", storage=storage)
    assert counted(study) == 6 and len(study.trials) == 7
    lost = study.trials[number]
    assert lost.state == TrialState.FAIL and lost.user_attrs[INTERRUPTED_ATTR]
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_ATTR) == number]
    assert retry.state == TrialState.COMPLETE and retry.params == lost.params
    assert retry.user_attrs["trainlab_worker"].split("@")[0] != "1"

    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 6, "pruned": 0, "fail": 0}
    assert results["not_counted"] == {"lost_and_retried": 1, "repeats_skipped": 0}
    rows = (sweep / "trials.csv").read_text().splitlines()[1:]
    assert len(rows) == 7 and sum(r.endswith(",FAIL") for r in rows) == 1
    status = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "sweep", "status", str(sweep)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "6/6 done (6 finished, 0 pruned, 0 failed), 0 running, 1 lost and retried" in (
        status.stdout
    ), status.stdout
    task_log = "".join(p.read_text() for p in (sweep / ".submitit").rglob("*_log.*"))
    assert f"worker process {victim['pid']} of this task exited with -9" in task_log


def test_ddp_over_two_slurm_tasks_trains_in_one_run_folder(
    slurm_cluster, sweep_digits_dir, sweep_env
):
    """One SLURM task per device (docs/slurm.md's multi-GPU way), on CPU: each task runs the
    whole `trainlab train`. Before, both claimed the run folder; the loser was refused and the
    winner waited for it at the process-group start until the job's time limit."""
    done = subprocess.run(
        sweep_command(
            "launcher=slurm",
            "run_name=ranks",
            "trainer=ddp_sim",
            "trainer.strategy=ddp",
            "hydra.launcher.tasks_per_node=2",
            "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.timeout_min=4",
            *digits_args(sweep_digits_dir, "test=true", "+trainer.limit_test_batches=2"),
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = sweep_env / "train" / "multiruns" / "ranks" / "0"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    jobs = array_job_ids(sweep_env / "train" / "multiruns" / "ranks")
    logs = sorted(
        (sweep_env / "train" / "multiruns" / "ranks" / ".submitit" / jobs[0]).glob("*_log.out")
    )
    assert len(logs) == 2  # two tasks, one per rank
    assert "test/acc" in json.loads((run / "metrics.json").read_text())
