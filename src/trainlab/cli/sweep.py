"""`trainlab sweep status|wait <folder>`: follow a sweep from any shell, e.g. a detached one.

    trainlab sweep status logs/train/multiruns/images_optuna
    trainlab sweep wait logs/train/multiruns/images_optuna     # progress lines until it ends

`wait` exits 0 when the sweep finished, 1 when it failed or its workers are gone, 2 on a
wrong folder. Not a Hydra app: it reads the sweep folder only (sweep.json, the study, the
workers' status files), so it starts fast and needs no config.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from trainlab.core.console import format_duration
from trainlab.errors import TrainlabError


def status_line(summary: dict[str, Any]) -> str:
    """`7/20 done (5 finished, 1 pruned, 1 failed), 2 running | best val/acc 0.98 (#3) | ...`."""
    counts = summary["counts"]
    parts = [
        f"{summary['done']}/{summary['n_trials']} done ({counts['finished']} finished, "
        f"{counts['pruned']} pruned, {counts['failed']} failed), {counts['running']} running"
    ]
    if counts["retried"]:
        parts[0] += f", {counts['retried']} lost and retried"
    best = summary["best"]
    if best is not None:
        parts.append(f"best {summary['metric']} {best['value']:.4g} (#{best['trial']})")
    state = summary["state"]
    if state.get("mode") == "async" and state.get("status") not in ("finished", "failed"):
        # sweep.json counts SLURM array tasks; a task split into slots has one status file
        # per slot worker (before: '3/1 workers alive' for one task of four slots)
        known = max(int(state.get("workers") or 0), summary.get("known_workers", 0))
        parts.append(f"{len(summary['live_workers'])}/{known or '?'} workers alive")
    if summary["eta_s"] is not None:
        parts.append(f"ETA {format_duration(summary['eta_s'])}")
    if summary.get("sweeper_gone"):
        parts.append("stopped: its sweeper is gone (killed?); re-run its command to resume")
    else:
        parts.append(str(state.get("status", "?")))
    return " | ".join(parts)


def print_status(folder: str) -> int:
    from trainlab.core.search.sweep_state import summarize, worker_files

    summary = summarize(folder)
    state = summary["state"]
    print(f"sweep {summary['folder']} ({state.get('mode', 'batch')}, study {state['study_name']})")
    print(status_line(summary))
    for worker in summary["live_workers"]:
        trial = worker.get("trial")
        doing = f"trial {trial}" if trial is not None else worker.get("state")
        print(f"  worker {worker.get('index')} {worker.get('host')}:{worker.get('pid')}: {doing}")
    blind = gpu_slots_without_cuda(worker_files(summary["folder"]))
    if blind:
        print(
            f"warning: worker(s) {', '.join(blind)} were given GPUs (CUDA_VISIBLE_DEVICES) but "
            "torch saw fewer CUDA devices: their trials trained on CPU (see .workers/*.json)"
        )
    if state.get("error"):
        print(f"error: {state['error']}")
    return 0


def gpu_slots_without_cuda(workers: list[dict[str, Any]]) -> list[str]:
    """`<index> (GPUs <ids>, torch saw <n>)` of each worker whose GPU slot torch did not see."""
    out = []
    for worker in workers:
        listed = str(worker.get("cuda_visible_devices") or "")
        given = [d for d in listed.split(",") if d.strip() and d.strip() != "-1"]
        seen = worker.get("cuda_devices_seen")
        if given and seen is not None and seen < len(given):
            out.append(f"{worker.get('index')} (GPUs {listed}, torch saw {seen})")
    return out


def wait(folder: str, interval: float, timeout: float | None) -> int:
    """Progress lines until the sweep ends; the results' paths, or why it failed."""
    from trainlab.core.search.lease import MISSED_BEATS
    from trainlab.core.search.sweep_state import FINAL, summarize, worker_files

    started = time.monotonic()
    last = None
    gone_since = None
    while True:
        summary = summarize(folder)
        state = summary["state"]
        line = status_line(summary)
        if line != last:
            print(line, flush=True)
            last = line
        if state.get("status") in FINAL:
            break
        if summary.get("sweeper_gone"):
            print(
                f"error: the sweeper of {summary['folder']} is gone without finishing "
                f"({summary['done']}/{summary['n_trials']} trials; it held sweep.lock and died). "
                "Fix: re-run the sweep's command to resume the study.",
                file=sys.stderr,
            )
            return 1
        # Workers that all stopped beating, or stopped with no one to finish: gone.
        workers = worker_files(summary["folder"]) if state.get("mode") == "async" else []
        if workers and not summary["live_workers"] and not summary["counts"]["running"]:
            gone_since = gone_since or time.monotonic()
            grace = (MISSED_BEATS + 2) * float(state.get("heartbeat_s", 15))
            if time.monotonic() - gone_since > grace:
                print(
                    f"error: no worker of the sweep in {summary['folder']} is alive and it "
                    f"did not finish ({summary['done']}/{summary['n_trials']} trials). Worker "
                    f"logs: {summary['folder']}/.workers/*.log (SLURM: .submitit/). Fix: "
                    "re-run the sweep's command to resume the study.",
                    file=sys.stderr,
                )
                return 1
        else:
            gone_since = None
        if timeout is not None and time.monotonic() - started > timeout:
            print(f"error: still running after --timeout {timeout:.0f} s", file=sys.stderr)
            return 1
        time.sleep(interval)
    if state["status"] == "failed":
        print(f"error: the sweep failed: {state.get('error')}", file=sys.stderr)
        return 1
    for path in state.get("results") or []:
        print(f"results: {path}")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="trainlab sweep", description="Follow a sweep from its folder (docs/sweeps.md)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="finished/running/pruned/failed, best so far, ETA")
    status.add_argument("folder", help="the sweep folder, e.g. logs/train/multiruns/<run_name>")
    waiting = sub.add_parser("wait", help="re-attach: progress lines until the sweep ends")
    waiting.add_argument("folder", help="the sweep folder, e.g. logs/train/multiruns/<run_name>")
    waiting.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
    waiting.add_argument("--timeout", type=float, default=None, help="give up after seconds")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "status":
            code = print_status(args.folder)
        else:
            code = wait(args.folder, args.interval, args.timeout)
    except TrainlabError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(code)


if __name__ == "__main__":
    main()
