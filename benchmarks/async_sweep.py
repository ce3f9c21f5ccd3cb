"""Worker idle time of the same digits sweep in batch mode and in async mode, side by side.

    PYTHONPATH=src python benchmarks/async_sweep.py [--trials 30] [--short 4] [--long 30]

Both modes run the same trials in the same order: the study is created beforehand with the
trials enqueued (`trainer.max_epochs` drawn at random, seeded, from {short, long}; distinct
learning rates so no trial repeats another), pruning off, so every trial trains exactly its
epochs. Both get 2 workers of 1 thread each on this machine:

- batch: `launcher=submitit_local hydra.sweeper.n_jobs=2` -- two trials launched together,
  each in its own process, and the next two only after both ended (Hydra's barrier);
- async: `hydra.sweeper.mode=async hydra.sweeper.workers=2 hydra.sweeper.cpus_per_trial=1` --
  two worker processes, each asking its next trial as soon as its last one ended.

Worker idle fraction = 1 - (sum of trial busy time) / (workers x sweep wall time), where
- sweep wall time is the wall-clock time of the whole `train.py -m ...` command: start-up of
  the sweeper, of the workers or jobs, and the final results included (what a user waits for);
- a trial's busy time is the span of its Hydra job, the same in both modes: from Hydra's
  `on_job_start` to `on_job_end` callbacks (`JobTimer` below, writing `job_timer.json` into
  the job's folder), i.e. the task function itself: config checks, imports, data, training,
  artifacts.
Process start-up, config composition, asking and telling the study, and waiting at the
barrier are idle time. Async mode is printed last, as `worker idle fraction X` (goal <= 0.10).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GOAL = 0.10
WORKERS = 2
TIMER_FILE = "job_timer.json"


class JobTimer:
    """A Hydra callback in each job's process: when the job (the task function) ran."""

    def on_job_start(self, config, **kwargs) -> None:
        self.start = time.time()

    def on_job_end(self, config, job_return, **kwargs) -> None:
        folder = Path(str(config.hydra.runtime.output_dir))
        times = {"start": self.start, "end": time.time()}
        (folder / TIMER_FILE).write_text(json.dumps(times))


def trial_plan(trials: int, short: int, long: int, seed: int) -> list[dict]:
    """The enqueued parameters: epochs short or long at random (seeded), distinct lrs."""
    rng = random.Random(seed)
    return [
        {
            "trainer.max_epochs": rng.choice([short, long]),
            "model.optimizer.lr": round(0.002 + 1e-5 * i, 6),
        }
        for i in range(trials)
    ]


def prepare_study(folder: Path, name: str, plan: list[dict]) -> None:
    import optuna

    from trainlab.core.optuna_study import default_storage_spec, open_storage

    storage = open_storage(default_storage_spec(folder, "sqlite"))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for params in plan:
        study.enqueue_trial(params)


def run_mode(mode: str, plan: list[dict], short: int, long: int, logs: Path, data: Path) -> dict:
    """One sweep as a user runs it; returns wall time, busy time and the idle fraction."""
    name = f"bench_{mode}"
    folder = logs / "train" / "multiruns" / name
    prepare_study(folder, name, plan)
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "-m",
        "hparams_search=images_optuna",
        f"run_name={name}",
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.params=null",
        f"trainer.max_epochs=choice({short}, {long})",
        f"model.optimizer.lr=choice({', '.join(str(p['model.optimizer.lr']) for p in plan)})",
        f"hydra.sweeper.n_trials={len(plan)}",
        "hydra.sweeper.pruner=none",
        "hydra.sweeper.plots=false",
        f"data.data_dir={data}",
        "data.embedded=null",
        "test=false",
        "logger=csv",
        "extras.print_config=false",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
        "+hydra.callbacks.job_timer._target_=async_sweep.JobTimer",
        "+allowed_targets=[async_sweep.JobTimer]",
    ]
    if mode == "batch":
        command += ["launcher=submitit_local", f"hydra.sweeper.n_jobs={WORKERS}"]
    else:
        command += [
            "hydra.sweeper.mode=async",
            f"hydra.sweeper.workers={WORKERS}",
            "hydra.sweeper.cpus_per_trial=1",
        ]
    # one thread per trial in both modes (submitit's jobs inherit these)
    env = {**os.environ, "TRAINLAB_LOG_DIR": str(logs), "OMP_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    # every job process imports JobTimer as async_sweep (site-packages holds a `benchmarks`)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    started = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"{mode} sweep failed:\n{done.stderr[-3000:]}")
    ended = started + wall
    spans = {n: job_span(folder / str(n)) for n, _ in complete_trials(folder, name)}
    busy = [end - start for start, end in spans.values()]
    result = {
        "mode": mode,
        "trials": len(busy),
        "wall_s": wall,
        "busy_s": sum(busy),
        "idle_fraction": 1 - sum(busy) / (WORKERS * wall),
    }
    if mode == "async":  # where the idle time went, per worker
        by_worker: dict[str, list[tuple[float, float]]] = {}
        for number, worker in complete_trials(folder, name):
            by_worker.setdefault(worker, []).append(spans[number])
        first = last = gaps = 0.0
        for worker_spans in by_worker.values():
            worker_spans.sort()
            first += worker_spans[0][0] - started
            last += ended - worker_spans[-1][1]
            gaps += sum(b[0] - a[1] for a, b in itertools.pairwise(worker_spans))
        result.update(startup_s=first, between_s=gaps, tail_s=last)
    return result


def complete_trials(folder: Path, name: str) -> list[tuple[int, str]]:
    """(trial number, worker) of the study's complete trials."""
    import optuna

    from trainlab.core.optuna_study import default_storage_spec, open_storage

    storage = open_storage(default_storage_spec(folder, "sqlite"))
    study = optuna.load_study(study_name=name, storage=storage)
    return [
        (t.number, str(t.user_attrs.get("trainlab_worker", "batch")))
        for t in study.trials
        if t.state.name == "COMPLETE"
    ]


def job_span(run: Path) -> tuple[float, float]:
    """The job's (start, end) as JobTimer recorded it."""
    times = json.loads((run / TIMER_FILE).read_text())
    return times["start"], times["end"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # trials of 6-40 s here; with shorter ones the fixed ~0.7 s per trial and ~6 s per worker
    # weigh more (20 trials of 2 or 20 epochs: idle 0.166, docs/sweeps.md)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--short", type=int, default=4, help="epochs of a short trial")
    parser.add_argument("--long", type=int, default=30, help="epochs of a long trial")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    plan = trial_plan(args.trials, args.short, args.long, args.seed)
    epochs = [p["trainer.max_epochs"] for p in plan]
    print(f"{args.trials} digits trials, epochs {epochs}, {WORKERS} workers x 1 thread")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "digits"
        write_digits(data)
        split_folder(data, folds=3, test_ratio=0.15, seed=0)
        for mode in ("batch", "async"):
            r = run_mode(mode, plan, args.short, args.long, Path(tmp) / "logs", data)
            print(
                f"{mode:>5}: wall {r['wall_s']:.1f} s, trials busy {r['busy_s']:.1f} s, "
                f"{60 * r['trials'] / r['wall_s']:.2f} trials/min",
                flush=True,
            )
            if mode == "batch":
                print(f"batch worker idle fraction {r['idle_fraction']:.3f}", flush=True)
            else:
                print(
                    f"async idle, summed over workers: {r['startup_s']:.1f} s before the "
                    f"first trial, {r['between_s']:.1f} s between trials ({r['trials']} "
                    f"trials), {r['tail_s']:.1f} s after the last",
                    flush=True,
                )
    print(f"worker idle fraction {r['idle_fraction']:.3f} (goal <= {GOAL:.2f})")


if __name__ == "__main__":
    main()
