"""`hydra.sweeper.mode=async`: start the workers, follow them (or detach), finish the sweep.

Batch mode launches `n_jobs` trials and waits for the slowest before asking again; a worker
whose trial was pruned after one epoch sits idle until the batch's longest trial ends. Here
each worker asks its next trial as soon as its last one ends (`_worker.py`), so no worker
waits on another. Local workers are processes of this machine, one per slot (`slots.py`:
GPU shares or CPU core groups); with `hydra/launcher=trainlab_slurm` they are the tasks of
one SLURM job array, submitted through the same executor as batch jobs (container, setup
lines, requeue).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.core.search.lease import WORKERS_DIR, file_lock
from trainlab.core.search.sweep_state import (
    FINAL,
    STATE_FILE,
    live_workers,
    read_state,
    write_state,
)
from trainlab.errors import ConfigError, TrainlabError
from trainlab.io import atomic_write_json

if TYPE_CHECKING:
    import optuna

    from ._engine import OptunaSearch

log = logging.getLogger("hydra_plugins.trainlab_sweeper")

DEFAULT_HEARTBEAT_S = 15.0
# sbatch flags (in hydra.launcher.additional_parameters) that give a task GPUs
GPU_SBATCH_FLAGS = frozenset({"gpus", "gpus-per-task", "gpus-per-node", "gres"})
FOLLOW_POLL_S = 1.0


def heartbeat_interval(settings: dict[str, Any]) -> float:
    value = settings.get("heartbeat_s")
    value = DEFAULT_HEARTBEAT_S if value is None else value
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1.0
    if value <= 0:
        raise ConfigError(
            f"hydra.sweeper.heartbeat_s={settings.get('heartbeat_s')!r} must be a positive "
            "number of seconds, e.g. 15 (a worker silent for 4 beats loses its trial)."
        )
    return value


class WorkersFailedError(TrainlabError):
    """Every worker stopped before the study had `n_trials` finished trials."""


def is_slurm(launcher: Any) -> bool:
    """Whether the sweep's launcher submits to SLURM (then workers are array tasks).

    Compared by name: Hydra's plugin scan can load the submitit launcher's module a second
    time, and then `isinstance` against a fresh import is False for its own SLURM launcher
    (seen with `TRAINLAB_CONFIG_DIR` and `PYTHONPATH=src`).
    """
    module = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"
    return any(
        cls.__name__ == "SlurmLauncher" and cls.__module__ == module
        for cls in type(launcher).__mro__
    )


class AsyncSweep:
    """The foreground side of an async sweep."""

    def __init__(self, search: OptunaSearch, arguments: list[str]) -> None:
        self.search = search
        self.arguments = arguments
        self.settings = search.settings
        self.sweep_dir = search.sweep_dir
        self.workers_dir = self.sweep_dir / WORKERS_DIR
        self.heartbeat_s = heartbeat_interval(self.settings)
        self.detach = bool(self.settings.get("detach", False))
        self.slurm = is_slurm(search.launcher)

    def run(self, space: Any, settings: dict[str, str]) -> list:
        from trainlab.core.redaction import redact_text
        from trainlab.core.search.trials import counted

        from ._engine import _log_summary, metric_names, save_multirun_config

        search = self.search
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_if_running()
        # before any worker exists: a worker must not meet a half-configured study
        slots = self._slots()
        save_multirun_config(search.config, self.sweep_dir)
        # No worker is alive (checked above): RUNNING trials are a dead sweep's, retried.
        study = search._open_study(space, settings)
        remaining = search.n_trials - counted(study)
        n_workers = max(1, min(len(slots), remaining))
        write_state(
            self.sweep_dir,
            mode="async",
            status="running",
            error=None,
            ended=None,
            study_name=study.study_name,
            storage=redact_text(search.storage_spec),
            n_trials=search.n_trials,
            metrics=metric_names(search.config, search.directions),
            directions=list(search.directions),
            heartbeat_s=self.heartbeat_s,
            backend="slurm" if self.slurm else "local",
            workers=n_workers,
            started=time.time(),
            command=redact_text(" ".join(sys.argv)),
        )
        if remaining <= 0:
            log.info("study %r already has %d finished trials", study.study_name, search.n_trials)
            finish(search, study)
            _log_summary(study, self.sweep_dir)
            return []
        self._clear_worker_files()
        worker = self._worker(n_workers)
        if self.slurm:
            handles = self._submit_slurm(worker, n_workers)
        else:
            handles = self._start_local(worker, slots[:n_workers])
        if self.detach:
            print_detached(self.sweep_dir, n_workers, self.slurm)
            return []
        try:
            self._follow(study, handles)
        except KeyboardInterrupt:
            self._stop(handles)
            from trainlab.core.search.trials import end_all_interrupted

            end_all_interrupted(study, search.storage, "the sweep was interrupted")
            write_state(self.sweep_dir, status="failed", error="interrupted (Ctrl-C)")
            raise
        status = read_state(self.sweep_dir)
        if status.get("status") not in FINAL:  # the last worker did not (it was killed)
            status = finish(search, study)
        _log_summary(study, self.sweep_dir)
        if status["status"] == "failed":
            raise WorkersFailedError(status["error"])
        return []

    def _refuse_if_running(self) -> None:
        state_file = self.sweep_dir / STATE_FILE
        earlier = read_state(self.sweep_dir) if state_file.is_file() else {}
        queued = queued_slurm_workers(earlier.get("slurm_jobs") or [])
        if queued:
            raise ConfigError(
                f"the sweep in {self.sweep_dir} still has SLURM worker jobs in the queue "
                f"({', '.join(queued)}); a re-run now would submit a second set of workers. "
                f"Fix: follow it with `trainlab sweep wait {self.sweep_dir}`, or `scancel` "
                "those jobs and re-run to resume the study."
            )
        refuse_live_workers(self.sweep_dir, self.heartbeat_s)

    def _slots(self) -> list:
        from trainlab.core.search.slots import (
            WorkerSlot,
            assign_slots,
            available_cpus,
            visible_gpus,
        )

        workers = self.settings.get("workers")
        if self.slurm:
            # one array task per worker index; each task's devices come from hydra.launcher,
            # and a task splits them into slots itself (`_worker.task_slots`)
            check_slurm_shares(self.settings, dict(self.search.launcher.params))
            count = int(workers or self.search.n_jobs)
            return [WorkerSlot(i, "", 0) for i in range(count)]
        gpus_per_trial = self.settings.get("gpus_per_trial")
        gpus = visible_gpus() if gpus_per_trial != 0 else []
        if gpus_per_trial is None and gpus:
            gpus_per_trial = 1  # unset on a GPU machine: one worker per device
        return assign_slots(
            gpus,
            gpus_per_trial,
            available_cpus(),
            self.settings.get("cpus_per_trial"),
            workers,
        )

    def _clear_worker_files(self) -> None:
        self.workers_dir.mkdir(parents=True, exist_ok=True)
        for path in self.workers_dir.glob("*.json"):
            path.unlink()

    def _worker(self, n_workers: int) -> Any:
        from hydra.core.singleton import Singleton

        from ._task import TrialTask
        from ._worker import AsyncWorker

        task = self.search.launcher.task_function
        if isinstance(task, TrialTask):
            task = task.task_function
        return AsyncWorker(
            settings=dict(self.settings),
            config=self.search.config,
            hydra_context=self.search.hydra_context,
            task_function=task,
            arguments=list(self.arguments),
            singleton_state=Singleton.get_state(),
            tasks=n_workers,
        )

    def _start_local(self, worker: Any, slots: list) -> list[subprocess.Popen]:
        import cloudpickle
        from hydra.core.hydra_config import HydraConfig

        pickle_path = self.workers_dir / "worker.pkl"
        with pickle_path.open("wb") as handle:
            cloudpickle.dump(worker, handle)
        cwd = str(self.search.config.hydra.runtime.cwd) if HydraConfig.initialized() else None
        processes = [
            start_worker_process(pickle_path, self.workers_dir, slot, slot.index, cwd)
            for slot in slots
        ]
        write_state(self.sweep_dir, pids=[p.pid for p in processes])
        return processes

    def _submit_slurm(self, worker: Any, n_workers: int) -> list:
        from hydra_plugins.trainlab_launcher.launcher import make_executor

        launcher = self.search.launcher
        settings = dict(launcher.params)
        cwd = str(self.search.config.hydra.runtime.cwd)
        executor, python = make_executor(settings, [cwd, str(self.sweep_dir)])
        if python:
            log.info("each worker's Python: %s", python)
        jobs = executor.map_array(worker, list(range(n_workers)))
        ids = [job.job_id for job in jobs]
        log.info("SLURM job array of %d workers: %s", n_workers, ", ".join(ids))
        write_state(self.sweep_dir, slurm_jobs=ids)
        return jobs

    def _follow(self, study: optuna.Study, handles: list) -> None:
        """Progress lines as trials finish, until every worker has ended."""
        from optuna.trial import TrialState

        from trainlab.core.console import StepProgress
        from trainlab.core.search.trials import counted

        from ._engine import best_so_far, metric_names

        search = self.search
        names = metric_names(search.config, search.directions)
        start = counted(study)
        progress = StepProgress("trial", max(search.n_trials - start, 0), log)
        seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
        while True:
            alive = [h for h in handles if not _ended(h)]
            for trial in study.get_trials(deepcopy=False):
                if trial.number in seen or not trial.state.is_finished():
                    continue
                seen.add(trial.number)
                from trainlab.core.search.trials import not_run

                if not_run(trial):
                    if trial.user_attrs.get("trainlab_interrupted"):
                        log.warning("trial %d %s", trial.number, trial.user_attrs.get("error"))
                    continue
                if trial.state == TrialState.COMPLETE:
                    shown = ", ".join(f"{v:.4g}" for v in trial.values)
                    detail = f"#{trial.number} {shown} {trial.params}"
                else:
                    detail = f"#{trial.number} {trial.state.name.lower()}"
                progress.step(detail + best_so_far(study, names))
            if not alive:
                break
            time.sleep(FOLLOW_POLL_S)
        for handle in handles:
            code = _exit_code(handle)
            if code not in (0, None):
                log.warning("worker %s ended with %s", _handle_name(handle), code)

    def _stop(self, handles: list) -> None:
        for handle in handles:
            if isinstance(handle, subprocess.Popen):
                if handle.poll() is None:
                    os.killpg(handle.pid, signal.SIGTERM)
            else:
                handle.cancel(check=False)
        for handle in handles:
            if isinstance(handle, subprocess.Popen):
                try:
                    handle.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(handle.pid, signal.SIGKILL)
                    handle.wait()


def refuse_live_workers(sweep_dir: Path, heartbeat_s: float) -> None:
    """Stops a sweeper whose folder has live async workers (a detached sweep still runs)."""
    live = live_workers(sweep_dir, heartbeat_s)
    if live:
        who = ", ".join(f"{w.get('index')}@{w.get('host')}:{w.get('pid')}" for w in live)
        raise ConfigError(
            f"the sweep in {sweep_dir} still has {len(live)} live worker(s) ({who}). "
            f"Fix: follow it with `trainlab sweep wait {sweep_dir}`, or stop those "
            "workers (kill <pid> / scancel <job>) and re-run to resume the study."
        )


def check_slurm_shares(settings: dict[str, Any], launcher: dict[str, Any]) -> None:
    """Refuse GPU shares on SLURM before submitting when the tasks would get no GPU."""
    from trainlab.core.search.slots import KEY, gpus_per_worker

    share = settings.get("gpus_per_trial")
    if not share:
        return
    gpus_per_worker(share)  # a bad value first
    extra = {str(k).replace("_", "-") for k in (launcher.get("additional_parameters") or {})}
    asked = launcher.get("gpus_per_node") or launcher.get("gres") or extra & GPU_SBATCH_FLAGS
    if not asked:
        raise ConfigError(
            f"{KEY}.gpus_per_trial={share} splits each SLURM array task's GPUs into worker "
            "slots, but hydra.launcher.gpus_per_node and hydra.launcher.gres are null: the "
            "tasks would get no GPU. Fix: hydra.launcher.gpus_per_node=1 (with "
            f"gpus_per_trial={share}: {round(1 / float(share)) if share < 1 else 1} workers "
            f"per task), or {KEY}.gpus_per_trial=0 for CPU workers."
        )


def queued_slurm_workers(job_ids: list[str]) -> list[str]:
    """`<job> <state>` of the sweep's SLURM worker tasks still pending or running.

    A worker counts as live by its heartbeat only once it runs; a task still PENDING has
    none, so without this a re-run during the wait submitted a second array.
    """
    import shutil

    arrays = {str(job_id).split("_")[0] for job_id in job_ids}
    if not arrays:
        return []
    if shutil.which("squeue") is None:
        log.warning(
            "cannot check SLURM jobs %s of this sweep: no squeue here; if they still run, a "
            "second set of workers joins them (they share the study safely)",
            ", ".join(sorted(arrays)),
        )
        return []
    listing = subprocess.run(
        ["squeue", "--noheader", "--format=%F %i %T"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if listing.returncode != 0:
        raise TrainlabError(
            f"squeue failed ({listing.stderr.strip()[:300]}), so it is unknown whether this "
            f"sweep's SLURM workers ({', '.join(sorted(arrays))}) are still queued. Fix: check "
            "`squeue`, then re-run."
        )
    queued = []
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in arrays:
            queued.append(f"{parts[1]} {parts[2]}")
    return queued


def _ended(handle: Any) -> bool:
    if isinstance(handle, subprocess.Popen):
        return handle.poll() is not None
    return handle.done()


def _exit_code(handle: Any) -> Any:
    if isinstance(handle, subprocess.Popen):
        return handle.returncode
    try:
        handle.result()
    except Exception as err:
        return f"{type(err).__name__}: {str(err)[-500:]}"
    return 0


def _handle_name(handle: Any) -> str:
    return f"pid {handle.pid}" if isinstance(handle, subprocess.Popen) else f"job {handle.job_id}"


def print_detached(sweep_dir: Path, n_workers: int, slurm: bool) -> None:
    where = "SLURM array tasks" if slurm else "local processes"
    print(
        f"\nasync sweep detached: {n_workers} workers ({where})\n"
        f"  sweep folder: {sweep_dir}\n"
        f"  progress:     trainlab sweep status {sweep_dir}\n"
        f"  re-attach:    trainlab sweep wait {sweep_dir}\n"
        "The last worker to finish writes optimization_results.yaml, trials.csv and the plots.",
        flush=True,
    )


def finish(search: OptunaSearch, study: optuna.Study, by: str = "the sweeper") -> dict[str, Any]:
    """Writes the final results and plots and the sweep's final status, under the lock, once.

    Workers that end together each find the others gone and call this: both wrote every final
    file and plot in turn (seen in the two-worker test, 0.9 s apart). The first writes and
    records which trials its results are of (``results_of``); a later call that finds the same
    trials leaves the files as they are.
    """
    from trainlab.core.search.trials import counted

    from ._engine import SweepFailedError, metric_names
    from ._results import RESULTS_FILE, TRIALS_FILE, write_plots, write_results

    sweep_dir = search.sweep_dir
    with file_lock(sweep_dir / WORKERS_DIR / "results.lock"):
        of = trials_digest(study)
        earlier = read_state(sweep_dir) if (sweep_dir / STATE_FILE).is_file() else {}
        if earlier.get("status") in FINAL and earlier.get("results_of") == of:
            log.info("%s: the final results are written already (by %s)", by, earlier.get("by"))
            return earlier
        log.info("%s is the last: writing the final results", by)
        status, error = "finished", None
        try:
            search._check_failure_rate(study)
        except SweepFailedError as err:
            status, error = "failed", str(err)
        done = counted(study)
        if status == "finished" and done < search.n_trials:
            errors = [
                f"worker {w.get('index')}: {w.get('state')}"
                for w in _worker_states(sweep_dir)
                if str(w.get("state", "")).startswith("error")
            ]
            exhausted = any(
                "exhausted" in str(w.get("state", "")) for w in _worker_states(sweep_dir)
            )
            if not exhausted:
                status = "failed"
                error = (
                    f"the workers stopped with {done} of {search.n_trials} trials finished"
                    + (f" ({'; '.join(errors)})" if errors else "")
                    + f". Their logs: {sweep_dir / WORKERS_DIR}/*.log; re-running the same "
                    "command resumes the study."
                )
        write_results(study, sweep_dir, search.storage_spec)
        if search.settings.get("plots", True):
            write_plots(study, sweep_dir, metric_names(search.config, search.directions))
        return write_state(
            sweep_dir,
            status=status,
            error=error,
            ended=time.time(),
            results=[str(sweep_dir / RESULTS_FILE), str(sweep_dir / TRIALS_FILE)],
            results_of=of,
            by=by,
        )


def trials_digest(study: optuna.Study) -> str:
    """What the final results are of: each trial's number, state and values."""
    import hashlib

    text = ";".join(
        f"{t.number}:{t.state.name}:{t.values}" for t in study.get_trials(deepcopy=False)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _worker_states(sweep_dir: Path) -> list[dict]:
    from trainlab.core.search.sweep_state import worker_files

    return worker_files(sweep_dir)


def start_worker_process(
    pickle_path: Path,
    workers_dir: Path,
    slot: Any,
    index: int,
    cwd: str | None,
    task_slot: int = 0,
) -> subprocess.Popen:
    """One worker process on this machine, with its slot's devices and threads.

    Used for local workers and for the extra workers of a SLURM array task split into slots
    (`task_slot` > 0). The worker's status file is written at once, so it is seen as alive
    before its first heartbeat.
    """
    env = dict(os.environ)
    # before the worker imports torch: CUDA reads it once, at initialisation
    env["CUDA_VISIBLE_DEVICES"] = slot.cuda_visible_devices
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(slot.threads)
    command = [
        sys.executable,
        "-m",
        "hydra_plugins.trainlab_sweeper._worker",
        str(pickle_path),
        str(index),
        str(slot.threads),
    ]
    if task_slot:
        command.append(str(task_slot))
    with (workers_dir / f"{index}.log").open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # local: its own session, so a detached worker outlives this terminal's Ctrl-C;
            # inside a SLURM task: the task's, so SLURM's signals and cleanup reach it
            start_new_session=not task_slot,
        )
    # seen as alive from now on: a second sweeper started before the worker's first
    # heartbeat must find it (the worker rewrites this file on every beat)
    atomic_write_json(
        workers_dir / f"{index}.json",
        {
            "index": index,
            "host": os.uname().nodename,
            "pid": process.pid,
            "state": "starting",
            "trial": None,
            "seen": time.time(),
        },
    )
    log.info(
        "worker %d: pid %d, GPUs %s, %d threads, log %s",
        index,
        process.pid,
        slot.cuda_visible_devices or "none (CPU)",
        slot.threads,
        workers_dir / f"{index}.log",
    )
    return process


def finish_if_last(search: OptunaSearch, study: optuna.Study, index: int) -> None:
    """A worker's last act: the final results, once no trial runs and no other worker lives
    (a worker killed while idle still looks alive until its grace period ends, so this waits
    that long at most). A followed sweep's sweeper finishes it only where no worker did."""
    from optuna.trial import TrialState

    from trainlab.core.search.lease import MISSED_BEATS

    interval = heartbeat_interval(search.settings)
    deadline = time.time() + (MISSED_BEATS + 1) * interval
    while True:
        if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return  # its worker tells it and finishes after
        others = [w for w in live_workers(search.sweep_dir, interval) if w.get("index") != index]
        if not others:
            break
        if any(w.get("state") == "trial" for w in others) or time.time() > deadline:
            return
        time.sleep(min(interval, 2.0))
    finish(search, study, by=f"worker {index}")
