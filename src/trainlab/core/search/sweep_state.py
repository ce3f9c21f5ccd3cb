"""`<sweep>/sweep.json`: what a running or finished sweep is, read by `trainlab sweep`.

The sweeper writes it when it starts (mode, study, storage, n_trials, workers, their SLURM
jobs or process ids) and whoever finishes the sweep (the foreground sweeper, or the last
async worker of a detached sweep) sets `status` to `finished` or `failed`. `summarize` adds
what the study and the workers' status files say now.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from trainlab.core.search.lease import MISSED_BEATS, WORKERS_DIR
from trainlab.core.search.sweep_lock import sweeper_gone
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_json

STATE_FILE = "sweep.json"
FINAL = ("finished", "failed")


class NotASweepError(TrainlabError):
    """The folder given to `trainlab sweep` holds no sweep."""


def write_state(folder: Path, **fields: Any) -> dict[str, Any]:
    """Merges `fields` into `<folder>/sweep.json` (atomically); returns the new content."""
    path = Path(folder) / STATE_FILE
    state = json.loads(path.read_text()) if path.is_file() else {}
    state.update(fields)
    atomic_write_json(path, state)
    return state


def read_state(folder: str | Path) -> dict[str, Any]:
    """The content of `<folder>/sweep.json`.

    Raises:
        NotASweepError: no such folder, or no sweep.json in it.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise NotASweepError(
            f"{path} is not a folder. Fix: pass the sweep folder the sweeper printed, e.g. "
            "logs/train/multiruns/<run_name>."
        )
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise NotASweepError(
            f"{path} is not a sweep folder (no {STATE_FILE}). Fix: pass the folder the "
            "sweeper printed (logs/train/multiruns/<run_name>); sweeps started before "
            f"trainlab wrote {STATE_FILE} have optimization_results.yaml there instead."
        )
    try:
        return json.loads(state_file.read_text())
    except json.JSONDecodeError as err:
        raise NotASweepError(f"{state_file} is not valid JSON ({err}).") from err


def worker_files(folder: Path) -> list[dict[str, Any]]:
    """The workers' status files (`<sweep>/.workers/<k>.json`), unreadable ones skipped."""
    out = []
    for path in sorted((Path(folder) / WORKERS_DIR).glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def live_workers(folder: Path, heartbeat_s: float, now: float | None = None) -> list[dict]:
    """Workers that beat within their grace period and have not stopped."""
    now = time.time() if now is None else now
    grace = MISSED_BEATS * heartbeat_s
    return [
        w
        for w in worker_files(folder)
        if not str(w.get("state", "")).startswith(("done", "error"))
        and (now - float(w.get("seen", 0)) <= grace or _worker_process_runs_here(w))
    ]


def _worker_process_runs_here(worker: dict[str, Any]) -> bool:
    """A worker of this machine whose process still runs, whatever its heartbeat's age.

    A worker's first beat comes after it has imported torch and Lightning: 10-20 s on a loaded
    machine, past the grace period of a short `heartbeat_s`. Judged by heartbeat alone, a
    second sweeper started then took the starting workers for dead and started its own on the
    same study. Linux only (/proc); elsewhere the heartbeat decides, as before.
    """
    if worker.get("host") != os.uname().nodename:
        return False
    try:
        cmdline = Path(f"/proc/{int(worker['pid'])}/cmdline").read_bytes()
    except (KeyError, OSError, TypeError, ValueError):
        return False
    return b"hydra_plugins.trainlab_sweeper._worker" in cmdline  # not a reused pid


def summarize(folder: str | Path) -> dict[str, Any]:
    """Counts, best so far, live workers and ETA of the sweep in `folder`."""
    import optuna
    from optuna.trial import TrialState

    from trainlab.core.optuna_study import open_storage
    from trainlab.core.search.trials import INTERRUPTED_ATTR, not_run

    folder = Path(folder).expanduser().resolve()
    state = read_state(folder)
    if "***" in state["storage"]:
        raise NotASweepError(
            f"{folder / STATE_FILE}: the study's storage is a database URL with credentials, "
            f"which the file does not keep ({state['storage']}). Fix: follow the study with "
            "optuna-dashboard <url>, or keep the study in the sweep folder (storage=null)."
        )
    storage = open_storage(state["storage"])
    try:
        study = optuna.load_study(study_name=state["study_name"], storage=storage)
    except KeyError:
        trials = []
        directions = []
    else:
        trials = study.get_trials(deepcopy=False)
        directions = [d.name.lower() for d in study.directions]
    ran = [t for t in trials if not not_run(t)]
    counts = {
        "finished": sum(t.state == TrialState.COMPLETE for t in ran),
        "pruned": sum(t.state == TrialState.PRUNED for t in ran),
        "failed": sum(t.state == TrialState.FAIL for t in ran),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "retried": sum(bool(t.user_attrs.get(INTERRUPTED_ATTR)) for t in trials),
    }
    done = counts["finished"] + counts["pruned"] + counts["failed"]
    durations = [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in ran
        if t.state.is_finished() and t.datetime_start and t.datetime_complete
    ]
    heartbeat_s = float(state.get("heartbeat_s", 15))
    live = live_workers(folder, heartbeat_s) if state.get("mode") == "async" else []
    n_trials = int(state.get("n_trials", 0))
    best = None
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(directions) == 1 and complete:
        pick = max if directions[0] == "maximize" else min
        top = pick(complete, key=lambda t: t.value)
        best = {"trial": top.number, "value": top.value, "params": dict(top.params)}
    # a batch sweeper killed (SIGKILL, a lost login node) left status "running" and a RUNNING
    # trial: status showed "1 running | ETA 1.2 s | running" and `wait` waited for ever
    gone = state.get("mode") != "async" and state.get("status") not in FINAL
    gone = gone and sweeper_gone(folder)
    eta = None
    if durations and state.get("status") not in FINAL and done < n_trials and not gone:
        mean = sum(durations) / len(durations)
        if state.get("mode") == "async":
            # remaining trials x mean duration, spread over the workers alive now (at least one)
            eta = (n_trials - done) * mean / max(len(live), 1)
        else:
            # batches of n_jobs trials, each told when the batch ends: a trial's duration is its
            # batch's. Counted one by one, n_jobs=2 gave 51.9 s where two batches of 13 s were
            # left (27.2 s for the last one)
            eta = math.ceil((n_trials - done) / max(int(state.get("n_jobs") or 1), 1)) * mean
    return {
        "folder": str(folder),
        "state": state,
        "counts": counts,
        "done": done,
        "n_trials": n_trials,
        "best": best,
        "metric": (state.get("metrics") or ["objective"])[0],
        "live_workers": live,
        # every worker of this run that wrote a status file (SLURM: each slot of each task)
        "known_workers": len(worker_files(folder)) if state.get("mode") == "async" else 0,
        "mean_trial_s": sum(durations) / len(durations) if durations else None,
        "eta_s": eta,
        "sweeper_gone": gone,
    }
