"""The files that describe a run: config, command line, git state, hardware, status, summary."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.run_dir import STATUS_FILE, read_status
from trainlab.io import atomic_write_json, atomic_write_text


def _next_free(path: Path) -> Path:
    """``path`` itself, or ``name.<n>.suffix`` when a resumed attempt already wrote it."""
    if not path.exists():
        return path
    n = 1
    while (candidate := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    return candidate


def write_run_metadata(
    run_dir: Path, cfg: DictConfig, overrides: list[str], hardware: dict[str, Any]
) -> None:
    """Resolved config, command line and overrides, git commit and diff, hardware report.

    A resumed attempt writes numbered copies beside the first ones; nothing is replaced.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_yaml(cfg, resolve=True)
    atomic_write_text(_next_free(run_dir / "config.yaml"), resolved)
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])
    text = f"command: {command}\ncwd: {Path.cwd()}\noverrides:\n"
    text += "".join(f"  - {o}\n" for o in overrides) or "  []\n"
    atomic_write_text(_next_free(run_dir / "command.txt"), text)
    commit, diff = git_state(Path.cwd())
    atomic_write_text(_next_free(run_dir / "git.txt"), f"commit: {commit}\n")
    if diff:
        atomic_write_text(_next_free(run_dir / "git.diff"), diff)
    atomic_write_json(_next_free(run_dir / "hardware.json"), hardware)


def git_state(cwd: Path) -> tuple[str, str]:
    """Current commit (or a reason there is none) and the uncommitted diff."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)

    try:
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return "not a git checkout", ""
        return head.stdout.strip(), run("diff", "HEAD").stdout
    except (OSError, subprocess.SubprocessError):
        return "git not available", ""


def set_status(run_dir: Path, status: str, **extra: Any) -> dict[str, Any]:
    """Update ``status.json`` (running, finished, failed, interrupted) atomically."""
    record = read_status(run_dir)
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    record.setdefault("started", now)
    record["status"] = status
    record["updated"] = now
    record.setdefault("attempts", 0)
    if status == "running":
        record["attempts"] += 1
    if status in ("running", "finished"):
        record.pop("error", None)
    record.update(extra)
    atomic_write_json(run_dir / STATUS_FILE, record)
    return record


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """``summary.txt``: status, timing, best validation score and its epoch, final metrics."""
    lines = [
        f"status: {summary.get('status')}",
        f"experiment: {summary.get('experiment')}",
        f"started: {summary.get('started')}",
        f"finished: {summary.get('finished')}",
        f"duration: {summary.get('duration_s', 0):.1f} s",
        f"epochs: {summary.get('epochs')}",
        f"monitor: {summary.get('monitor')} ({summary.get('mode')})",
        f"best {summary.get('monitor')}: {_fmt(summary.get('best_score'))} "
        f"at epoch {summary.get('best_epoch')}",
        f"best checkpoint: {summary.get('best_checkpoint')}",
        "final metrics:",
    ]
    for key, value in sorted((summary.get("metrics") or {}).items()):
        lines.append(f"  {key}: {_fmt(value)}")
    from trainlab.core.baselines import format_baselines

    lines += format_baselines(
        summary.get("baselines"), summary.get("metrics") or {}, summary.get("duration_s")
    )
    return atomic_write_text(run_dir / "summary.txt", "\n".join(lines) + "\n")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
