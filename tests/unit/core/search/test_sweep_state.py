"""Which workers of an async sweep count as alive (a second sweeper must not start more)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from trainlab.core.search.lease import WORKERS_DIR
from trainlab.core.search.sweep_state import live_workers
from trainlab.io import atomic_write_json

WORKER_MODULE = "hydra_plugins.trainlab_sweeper._worker"


def write_worker(folder: Path, index: int, pid: int, seen: float, state: str = "starting"):
    atomic_write_json(
        folder / WORKERS_DIR / f"{index}.json",
        {"index": index, "host": os.uname().nodename, "pid": pid, "state": state, "seen": seen},
    )


def test_a_starting_worker_is_alive_before_its_first_beat(tmp_path: Path) -> None:
    # a worker still importing torch on a loaded machine: its file is older than the grace
    # period, its process runs. Before, it counted as dead and a second sweeper started more.
    (tmp_path / WORKERS_DIR).mkdir()
    stale = time.time() - 3600
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", WORKER_MODULE])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_worker(tmp_path, 0, worker.pid, stale)
        write_worker(tmp_path, 1, other.pid, stale)  # a reused pid: some other program
        write_worker(tmp_path, 2, worker.pid, stale, state="done")
        assert [w["index"] for w in live_workers(tmp_path, heartbeat_s=1)] == [0]
        worker.kill()
        worker.wait()
        assert live_workers(tmp_path, heartbeat_s=1) == []
        write_worker(tmp_path, 3, 999_999_999, time.time())  # beat just now: alive
        assert [w["index"] for w in live_workers(tmp_path, heartbeat_s=1)] == [3]
    finally:
        for process in (worker, other):
            process.kill()
            process.wait()


def batch_sweep(tmp_path: Path) -> None:
    """A batch sweep's folder as the sweeper leaves it after 2 of 6 trials (n_jobs=2, 26 s)."""
    import datetime

    import optuna
    from optuna.distributions import FloatDistribution

    from trainlab.core.optuna_study import default_storage_spec, open_storage
    from trainlab.core.search.sweep_state import write_state

    spec = default_storage_spec(tmp_path, "sqlite")
    study = optuna.create_study(study_name="toy", storage=open_storage(spec))
    start = datetime.datetime(2026, 12, 1, 12, 0, 0)
    for value in (1.0, 2.0):
        trial = optuna.trial.create_trial(
            params={"x": value}, distributions={"x": FloatDistribution(0, 5)}, value=value
        )
        trial.datetime_start = start
        trial.datetime_complete = start + datetime.timedelta(seconds=26)
        study.add_trial(trial)
    write_state(
        tmp_path,
        mode="batch",
        status="running",
        study_name="toy",
        storage=spec,
        n_trials=6,
        n_jobs=2,
        metrics=["objective"],
        directions=["minimize"],
    )


def test_the_eta_of_a_batch_sweep_counts_batches_of_n_jobs(tmp_path: Path) -> None:
    # 2 of 6 trials done in one batch of n_jobs=2, 26 s: two batches (52 s) remain, not four
    # trials one after another (before: 104 s; 51.9 s measured where two 13 s batches were left)
    from trainlab.core.search.sweep_state import summarize, write_state

    batch_sweep(tmp_path)
    summary = summarize(tmp_path)
    assert summary["done"] == 2 and summary["best"]["trial"] == 0
    assert summary["eta_s"] == 52.0
    write_state(tmp_path, n_trials=5)  # 3 left: still two batches
    assert summarize(tmp_path)["eta_s"] == 52.0


def test_a_killed_batch_sweeper_is_reported_gone_not_running(tmp_path: Path, capsys) -> None:
    # SIGKILLed, a batch sweeper left status "running": `sweep status` said "1 running |
    # ETA 1.2 s | running" for ever and `sweep wait` never returned
    from trainlab.cli.sweep import status_line, wait
    from trainlab.core.search.sweep_lock import claim_sweep, release_sweep
    from trainlab.core.search.sweep_state import summarize

    batch_sweep(tmp_path)
    code = "import sys, time; from trainlab.core.search.sweep_lock import claim_sweep; "
    code += "claim_sweep(sys.argv[1]); print('held', flush=True); time.sleep(60)"
    sweeper = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sweeper.stdout.readline().strip() == "held"
        running = summarize(tmp_path)
        assert running["eta_s"] == 52.0 and not running.get("sweeper_gone")
    finally:
        sweeper.kill()
        sweeper.wait()
    gone = summarize(tmp_path)
    assert "stopped: its sweeper is gone" in status_line(gone)
    assert gone["sweeper_gone"] and gone["eta_s"] is None
    assert wait(str(tmp_path), interval=0.1, timeout=5) == 1
    assert "re-run the sweep's command" in capsys.readouterr().err
    claim_sweep(tmp_path)  # the resumed sweeper: running again
    assert not summarize(tmp_path)["sweeper_gone"]
    release_sweep(tmp_path)  # ended normally: not gone either
    assert not summarize(tmp_path)["sweeper_gone"]
