"""One worker of an asynchronous sweep: ask a trial, run its job, tell the result, repeat.

Workers share nothing but the study storage and the sweep folder. Each runs its trials'
jobs in its own process one after the other, exactly as Hydra's basic launcher runs a batch
(`load_sweep_config` + `run_job`, job folder `<sweep>/<trial number>`), so the job's config,
run folder, pruning callback and result are those of a batch-mode trial.

A local worker is `python -m hydra_plugins.trainlab_sweeper._worker <pickle> <index>
<threads>` started by the sweeper with its own CUDA_VISIBLE_DEVICES; a SLURM worker is one
task of a submitit job array calling the same object, which submitit requeues on preemption.

A SLURM array task with `gpus_per_trial` or `cpus_per_trial` set splits its own allocation
into slots as a local sweep splits a machine (`slots.assign_slots`): `gpus_per_trial=0.25` on
a task with one GPU runs four workers on it. The task's process is the worker of slot 0 and
starts one worker process per further slot (task slot `j`, worker index `index + j * tasks`,
so indices stay unique across the array), then waits for them. On preemption every trial the
task was running is marked requeued, and each slot's worker comes back to its own trial.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from ._engine import OptunaSearch

log = logging.getLogger("hydra_plugins.trainlab_sweeper")

#: How often an idle worker looks again for work (waiting for the last trials or retries).
POLL_S = 1.0
#: Trial user attribute: the SLURM job (`<array>_<task>`) of the worker that runs it.
SLURM_JOB_ATTR = "trainlab_slurm_job"
#: Trial user attribute: the slot of its SLURM array task whose worker runs it (0: the task's
#: own process).
TASK_SLOT_ATTR = "trainlab_task_slot"
# This process's running trial (storage spec, trial id), for checkpoint(), which submitit
# calls from its signal handler: the worker object itself is pickled again, so it holds none.
_RUNNING: dict[str, tuple[str, int]] = {}
# This SLURM task's study (storage spec, study name), for checkpoint() to mark the trials of
# all its slots.
_TASK: dict[str, tuple[str, str]] = {}


class AsyncWorker:
    """Everything a worker process needs, picklable (cloudpickle, as submitit pickles jobs)."""

    def __init__(
        self,
        settings: dict[str, Any],
        config: Any,
        hydra_context: Any,
        task_function: Any,
        arguments: list[str],
        singleton_state: Any,
        tasks: int = 1,
    ) -> None:
        self.settings = settings
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.arguments = arguments
        self.singleton_state = singleton_state
        #: workers the sweeper started (SLURM: array tasks); slot workers' indices follow
        self.tasks = tasks

    def __call__(self, index: int, threads: int | None = None, task_slot: int = 0) -> str:
        """Runs trials until the study has `n_trials` finished ones; returns why it stopped.

        `threads` is None when submitit calls it as a SLURM array task: the task then splits
        into slots when the settings ask for shares (`task_slots`).
        """
        if threads is None and slurm_job_id() is not None:
            slots = task_slots(self.settings)
            if len(slots) > 1:
                return self.run_task_slots(index, slots)
        from hydra.core.singleton import Singleton
        from hydra.core.utils import configure_log, setup_globals

        from trainlab.core.optuna_study import open_storage
        from trainlab.core.search.lease import WORKERS_DIR, Heartbeat

        from ._async import finish_if_last, heartbeat_interval
        from ._engine import OptunaSearch

        Singleton.set_state(self.singleton_state)
        setup_globals()
        # the sweeper's own log lines (which trial this worker runs) go to the worker's log
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        search = OptunaSearch(
            settings=self.settings,
            config=self.config,
            launcher=None,
            hydra_context=self.hydra_context,
            validate_batch=lambda batch: None,
        )
        space, _ = search.prepare(self.arguments, check=False)
        study = search.worker_study(space, index)
        info = {
            "index": index,
            "host": os.uname().nodename,
            "pid": os.getpid(),
            "slurm_job": slurm_job_id(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda_devices_seen": cuda_devices_seen(index),
            "threads": threads,
        }
        status_file = search.sweep_dir / WORKERS_DIR / f"{index}.json"
        heartbeat = Heartbeat(
            open_storage(search.storage_spec), status_file, heartbeat_interval(self.settings), info
        ).start()
        _TASK["study"] = (search.storage_spec, study.study_name)
        state = "done"
        try:
            state = WorkerLoop(self, search, study, space, index, heartbeat, task_slot).run()
            return state
        except BaseException as err:
            state = f"error: {type(err).__name__}: {err}"[:2000]
            raise
        finally:
            heartbeat.stop(state)
            finish_if_last(search, study, index)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's requeue hook (preemption, time limit): the same worker comes back,
        first finishes the trial it was running (in its run folder, from last.ckpt), then goes
        on asking. The trial is marked requeued so other workers leave it to it meanwhile."""
        import contextlib

        import submitit

        with contextlib.suppress(Exception):  # requeue anyway; the lease then decides
            mark_requeued(_RUNNING.get("trial"), _TASK.get("study"), slurm_job_id())
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)

    def run_task_slots(self, index: int, slots: list) -> str:
        """This SLURM task as several workers: slot 0 here, one process per further slot."""
        import cloudpickle

        from trainlab.core.search.lease import WORKERS_DIR

        from ._async import start_worker_process

        workers_dir = Path(str(self.config.hydra.sweep.dir)).resolve() / WORKERS_DIR
        workers_dir.mkdir(parents=True, exist_ok=True)
        pickle_path = workers_dir / f"task_{index}.pkl"
        with pickle_path.open("wb") as handle:
            cloudpickle.dump(self, handle)
        cwd = str(self.config.hydra.runtime.cwd)
        log.info("SLURM task of worker %d: %d worker slots", index, len(slots))
        children = [
            start_worker_process(
                pickle_path, workers_dir, slot, index + j * self.tasks, cwd, task_slot=j
            )
            for j, slot in enumerate(slots[1:], start=1)
        ]
        # this process is slot 0: its share of the devices before anything initialises CUDA
        os.environ["CUDA_VISIBLE_DEVICES"] = slots[0].cuda_visible_devices
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(slots[0].threads)
        try:
            return self(index, slots[0].threads, 0)
        finally:
            for child in children:
                code = child.wait()
                if code:
                    log.warning("worker process %d of this task exited with %s", child.pid, code)


class WorkerLoop:
    """The ask-run-tell loop of one worker."""

    def __init__(
        self,
        worker: AsyncWorker,
        search: OptunaSearch,
        study: optuna.Study,
        space: Any,
        index: int,
        heartbeat: Any,
        task_slot: int = 0,
    ) -> None:
        from trainlab.core.search.lease import MISSED_BEATS, WORKERS_DIR

        from ._async import heartbeat_interval

        self.worker = worker
        self.search = search
        self.study = study
        self.space = space
        self.index = index
        self.heartbeat = heartbeat
        self.task_slot = task_slot
        self.stale_after = MISSED_BEATS * heartbeat_interval(worker.settings)
        self.lock = search.sweep_dir / WORKERS_DIR / "lease.lock"
        self.ask_lock = search.sweep_dir / WORKERS_DIR / "ask.lock"

    def run(self) -> str:
        from optuna.trial import TrialState

        from trainlab.core.search.lease import file_lock, reap_stale
        from trainlab.core.search.trials import SearchSpaceExhausted, not_run

        from ._engine import SweepFailedError

        search, study = self.search, self.study
        self.resume_requeued()
        ended = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        while True:
            reap_stale(study, search.storage, self.stale_after, self.lock)
            try:
                search._check_failure_rate(study)
            except SweepFailedError as err:
                log.error("worker %d stops: %s", self.index, err)
                return "done: too many failures"
            # Count and ask as one step among all workers: with the finished and the running
            # trials read apart, a trial told in between was in neither, and with workers
            # checking at once each saw the last free place; both gave a trial beyond
            # n_trials (measured: 9 of n_trials=8 with 8 SLURM slot workers).
            with file_lock(self.ask_lock):
                trials = study.get_trials(deepcopy=False)
                done = sum(t.state in ended and not not_run(t) for t in trials)
                if done >= search.n_trials:
                    return "done"
                running = [t for t in trials if t.state == TrialState.RUNNING]
                asked = None
                if done + len(running) < search.n_trials:
                    try:
                        asked = self.ask_one([t.params for t in running])
                    except SearchSpaceExhausted as err:
                        log.warning("%s Worker %d stops here.", err, self.index)
                        return "done: search space exhausted"
            if asked is None:
                # The last trials run elsewhere; stay to pick up a retry if their worker dies.
                self.heartbeat.hold(None, None, "idle")
                time.sleep(POLL_S)
                continue
            self.run_trial(*asked)

    def resume_requeued(self) -> None:
        """A requeued SLURM worker first finishes the trial its earlier run was running."""
        import optuna
        from optuna.trial import TrialState

        from trainlab.core.optuna_study import TrialRef

        job = slurm_job_id()
        if job is None:
            return
        study = self.study
        for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.user_attrs.get(SLURM_JOB_ATTR) != job:
                continue
            if frozen.user_attrs.get(TASK_SLOT_ATTR, 0) != self.task_slot:
                continue  # another slot's worker of the same task comes back to it
            log.info(
                "worker %d (job %s) was requeued: trial %d goes on", self.index, job, frozen.number
            )
            ref = TrialRef(self.search.storage_spec, study.study_name, frozen.number)
            overrides = [*frozen.user_attrs.get("overrides", []), *ref.as_overrides()]
            self.run_trial(optuna.trial.Trial(study, frozen._trial_id), overrides)

    def ask_one(self, taken: list[dict]) -> tuple[optuna.trial.Trial, list[str]]:
        """A new trial (RUNNING in the study from now on) and its job's overrides."""
        from trainlab.core.search.trials import ask_new

        search, study = self.search, self.study
        n_points = self.space.size() if search.custom_search_space is None else None
        return ask_new(
            study,
            lambda t: search._job_overrides(study, self.space, t),
            size=n_points,
            taken=taken,
        )

    def run_trial(self, trial: optuna.trial.Trial, overrides: list[str]) -> None:
        from trainlab.core.search.lease import WORKER_ATTR, worker_name

        search, study = self.search, self.study
        trial.set_user_attr(WORKER_ATTR, worker_name(self.index))
        job = slurm_job_id()
        if job is not None:
            trial.set_user_attr(SLURM_JOB_ATTR, job)
            trial.set_user_attr(TASK_SLOT_ATTR, self.task_slot)
        self.heartbeat.hold(trial._trial_id, trial.number, "trial")
        _RUNNING["trial"] = (search.storage_spec, trial._trial_id)
        log.info("worker %d: trial %d %s", self.index, trial.number, trial.params)
        try:
            result = self.run_job(trial.number, overrides)
        except KeyboardInterrupt:
            from trainlab.core.search.trials import end_interrupted

            end_interrupted(study, search.storage, trial.number, "its worker was interrupted")
            raise
        except Exception as err:
            from trainlab.errors import ConfigError

            from ._engine import _fail

            _fail(trial, err, study, reason="no job config for this trial")
            raise ConfigError(
                f"study {study.study_name!r} ({search.storage_spec}): trial {trial.number}'s "
                f"parameters do not make a job config: {type(err).__name__}: {err}. Fix the "
                "key in hydra.sweeper.params (or start a new search for another space)."
            ) from err
        finally:
            _RUNNING.pop("trial", None)
            self.heartbeat.hold(None, None, "telling")
        try:
            search._tell(study, trial, result)
        except Exception as err:  # ended by another worker that took this one for dead
            log.warning("worker %d: trial %d could not be told: %s", self.index, trial.number, err)
        self.write_results()

    def run_job(self, number: int, overrides: list[str]) -> Any:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import run_job
        from omegaconf import open_dict

        from ._task import TrialTask

        worker = self.worker
        sweep_config = worker.hydra_context.config_loader.load_sweep_config(
            worker.config, list(overrides)
        )
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{slurm_job_id() or 'local'}_{number}"
            sweep_config.hydra.job.num = number
        HydraConfig.instance().set_config(sweep_config)
        try:
            return run_job(
                hydra_context=worker.hydra_context,
                task_function=TrialTask(worker.task_function),
                config=sweep_config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        finally:
            from hydra.core.utils import configure_log

            configure_log(worker.config.hydra.hydra_logging, worker.config.hydra.verbose)

    def write_results(self) -> None:
        from trainlab.core.search.lease import WORKERS_DIR, file_lock

        from ._results import write_results

        with file_lock(self.search.sweep_dir / WORKERS_DIR / "results.lock"):
            write_results(self.study, self.search.sweep_dir, self.search.storage_spec)


def task_slots(settings: dict[str, Any]) -> list:
    """The worker slots of this SLURM array task: its GPUs split by `gpus_per_trial`, or its
    cores grouped by `cpus_per_trial`; empty (one worker, as before) when neither is set.

    The task's GPUs are those SLURM gave it (CUDA_VISIBLE_DEVICES), read without torch: CUDA
    must not be initialised in this process before slot 0 takes its share.
    """
    from trainlab.core.search.slots import assign_slots, available_cpus

    share, cores = settings.get("gpus_per_trial"), settings.get("cpus_per_trial")
    if not share and cores is None:
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    gpus = [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    return assign_slots(gpus if share else [], share, available_cpus(), cores, None)


def cuda_devices_seen(index: int) -> int | None:
    """How many CUDA devices torch sees in this worker; None when it was given no GPU.

    A GPU slot is only CUDA_VISIBLE_DEVICES: where torch sees fewer devices than listed (a
    CPU build of torch, a driver that does not load, SLURM's fake GPUs of the local test
    cluster), Lightning's `accelerator=auto` trains on CPU. The worker's status file records
    it and `trainlab sweep status` shows it, so a sweep never passes for a GPU sweep unseen.
    """
    listed = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    given = [d for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    if not given:
        return None
    import torch

    seen = torch.cuda.device_count()
    if seen < len(given):
        log.warning(
            "worker %d was given GPU(s) %s (CUDA_VISIBLE_DEVICES) but torch %s sees %d CUDA "
            "device(s): its trials train on CPU. Fix: a CUDA build of torch and a working "
            "driver (nvidia-smi) on the node, or hydra.sweeper.gpus_per_trial=0 for CPU "
            "workers.",
            index,
            listed,
            torch.__version__,
            seen,
        )
    return seen


def mark_requeued(
    running: tuple[str, int] | None, study: tuple[str, str] | None, job: str | None
) -> None:
    """Before a requeue: mark the trials this SLURM task runs (every slot's) as coming back."""
    from optuna.trial import TrialState

    from trainlab.core.optuna_study import open_storage
    from trainlab.core.search.lease import REQUEUED_ATTR

    now = time.time()
    if running is not None:
        open_storage(running[0]).set_trial_user_attr(running[1], REQUEUED_ATTR, now)
    if study is None or job is None:
        return
    handle = open_storage(study[0])
    study_id = handle.get_study_id_from_name(study[1])
    for trial in handle.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get(SLURM_JOB_ATTR) == job:
            handle.set_trial_user_attr(trial._trial_id, REQUEUED_ATTR, now)


def slurm_job_id() -> str | None:
    """`<array>_<task>` as squeue and scancel name an array task, else the job id."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def main(argv: list[str] | None = None) -> None:
    """`python -m hydra_plugins.trainlab_sweeper._worker <pickle> <index> <threads> [<slot>]`."""
    import cloudpickle

    args = list(sys.argv[1:] if argv is None else argv)
    pickle_path, index, threads = Path(args[0]), int(args[1]), int(args[2])
    task_slot = int(args[3]) if len(args) > 3 else 0
    with pickle_path.open("rb") as handle:
        worker = cloudpickle.load(handle)
    worker(index, threads, task_slot)


if __name__ == "__main__":
    main()
