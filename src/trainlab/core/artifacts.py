"""The files that describe a run: config, command line, git state, hardware, status, summary."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.core.redaction import redact, redact_text
from trainlab.core.run_dir import STATUS_FILE, read_status
from trainlab.io import atomic_write_json, atomic_write_text

# flat metric names of a run (metrics.json): the last epoch's figures carry LAST as a prefix
LAST = "last_epoch/"
TESTED_EPOCH = "tested_checkpoint/epoch"
LAST_EPOCH = "last_epoch/epoch"


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
    resolved = redact_text(OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_text(_next_free(run_dir / "config.yaml"), resolved)
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])
    text = f"command: {command}\ncwd: {Path.cwd()}\noverrides:\n"
    text += "".join(f"  - {o}\n" for o in overrides) or "  []\n"
    atomic_write_text(_next_free(run_dir / "command.txt"), redact_text(text))
    commit, diff = git_state(Path.cwd())
    atomic_write_text(_next_free(run_dir / "git.txt"), f"commit: {commit}\n")
    if diff:
        atomic_write_text(_next_free(run_dir / "git.diff"), redact_text(diff))
    atomic_write_json(_next_free(run_dir / "hardware.json"), redact(hardware))


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
    atomic_write_json(run_dir / STATUS_FILE, redact(record))
    return record


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """``summary.txt``: status, timing, best validation score and its epoch, then the metrics.

    The metrics come in sections (:func:`metric_sections`): the tested checkpoint's validation,
    test and training figures side by side, then the last epoch's, labelled as such. Extra
    sections go in ``summary["sections"]`` as ``(title, {name: value})`` pairs.
    """
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
    ]
    sections = [*metric_sections(summary.get("metrics") or {}), *summary.get("sections", [])]
    for title, values in sections:
        lines.append(f"{title}:")
        lines.extend(f"  {key}: {_fmt(value)}" for key, value in sorted(values.items()))
    from trainlab.core.baselines import format_baselines

    lines += format_baselines(
        summary.get("baselines"), summary.get("metrics") or {}, summary.get("duration_s")
    )
    return atomic_write_text(run_dir / "summary.txt", redact_text("\n".join(lines) + "\n"))


def metric_sections(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Group flat run metrics (see ``core.validation_record``) into titled summary sections."""
    tested = metrics.get(TESTED_EPOCH)
    last = metrics.get(LAST_EPOCH)
    at = f"epoch {int(tested)}" if isinstance(tested, float) else "epoch unknown"
    groups: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        if key in (TESTED_EPOCH, LAST_EPOCH):
            continue
        if key.startswith(LAST):
            if last is None:  # e.g. ddp_spawn: the epoch number stayed in the child processes
                title = "last epoch (the final one; may differ from the tested checkpoint)"
            elif last != tested:
                title = f"last epoch (epoch {int(last)}), NOT the tested checkpoint"
            else:
                title = f"last epoch (epoch {int(last)}), = the tested checkpoint"
        elif key.startswith("val/"):
            title = f"validation of the tested checkpoint ({at})"
        elif key.startswith("test/"):
            title = "test of the tested checkpoint"
        elif key.startswith("train/"):
            title = f"training figures of the tested checkpoint's epoch ({at})"
        else:
            title = "other metrics"
        groups.setdefault(title, {})[key] = value
    order = ("validation", "test", "training", "last epoch", "other")
    rank = {title: [title.startswith(o) for o in order].index(True) for title in groups}
    return sorted(groups.items(), key=lambda item: rank[item[0]])


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
