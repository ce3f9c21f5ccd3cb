"""Where a run writes: one folder per run, never shared with an earlier run unless resuming.

Hydra's ``hydra.run.dir`` calls :func:`choose_run_dir` through the ``trainlab_run_dir``
resolver, so Hydra's own files, the logs and our artifacts all land in the folder chosen here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from trainlab.errors import RunFolderError

STATUS_FILE = "status.json"
# The folders chosen by this invocation, kept in the environment so that the jobs it starts
# in other processes (submitit, SLURM job arrays, requeued jobs) compose the same sweep folder
# instead of a new timestamped one. Each entry point starts afresh (forget_run_dirs).
CHOSEN_ENV = "TRAINLAB_CHOSEN_RUN_DIRS"


def _chosen() -> dict[str, str]:
    try:
        return json.loads(os.environ.get(CHOSEN_ENV, "{}"))
    except json.JSONDecodeError:
        return {}


def choose_run_dir(
    base: str,
    run_name: str | None = None,
    resume: str | None = None,
    resume_finished: bool = False,
) -> str:
    """Pick the run folder once per invocation (and its child processes) for the same arguments.

    - ``resume=<path>``: the run folder of that checkpoint or folder;
    - ``run_name`` set: ``base/run_name`` (a stable name, reused by ``resume=auto`` and requeues);
    - ``resume=auto`` without a name: the newest unfinished run under ``base`` with a
      ``last.ckpt``, or a new folder when there is none;
    - otherwise a new timestamped folder, suffixed ``_1``, ``_2``... when that name is taken.
    """
    key = "|".join((str(base), str(run_name), str(resume)))
    chosen = _chosen()
    if key not in chosen:
        try:
            folder = _choose(Path(base), run_name, resume)
            if _none(resume) and not resume_finished:
                refuse_finished(folder)
        except RunFolderError as err:
            # Raised while Hydra resolves hydra.run.dir, before it writes anything: leave at
            # once with the message (an exception here would reach the user as a traceback).
            print(f"\nerror: {err}", file=sys.stderr)
            raise SystemExit(2) from err
        chosen[key] = str(folder)
        os.environ[CHOSEN_ENV] = json.dumps(chosen)
    return chosen[key]


def forget_run_dirs() -> None:
    """Forget the folders chosen so far, so the next invocation picks its own."""
    os.environ.pop(CHOSEN_ENV, None)


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "None", "null") else value


def _choose(base: Path, run_name: str | None, resume: str | None) -> Path:
    run_name, resume = _none(run_name), _none(resume)
    if resume not in (None, "auto"):
        return run_dir_of(Path(resume))
    if run_name:
        folder = base / run_name
        if resume is None and (folder / "checkpoints").is_dir():
            raise RunFolderError(
                f"{folder} already holds checkpoints of an earlier run. Continue it with "
                f"resume=auto, or start a new run with another run_name"
            )
        return folder
    if resume == "auto":
        candidate = latest_unfinished_run(base)
        if candidate is not None:
            return candidate
    return new_run_dir(base)


def refuse_finished(folder: Path) -> None:
    """Raise when ``folder`` holds a finished run (resuming it needs ``resume_finished=true``)."""
    if read_status(folder).get("status") == "finished":
        raise RunFolderError(
            f"{folder} holds a finished run; refusing to resume it. To train it further, raise "
            f"trainer.max_epochs and pass resume_finished=true"
        )


def run_dir_of(path: Path) -> Path:
    """The run folder of a checkpoint file or run folder given to ``resume``/``ckpt_path``."""
    path = path.expanduser()
    if path.is_file() and path.suffix == ".ckpt":
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if path.is_dir():
        return path
    raise RunFolderError(
        f"resume={path}: no such checkpoint or run folder. Use resume=auto, or the path of a "
        f"run folder or of its checkpoints/last.ckpt"
    )


def new_run_dir(base: Path) -> Path:
    """A fresh folder name under ``base`` that no earlier run uses."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    candidate = base / stamp
    suffix = 0
    while candidate.exists():
        suffix += 1
        candidate = base / f"{stamp}_{suffix}"
    return candidate


def read_status(run_dir: Path) -> dict:
    """The run's status record, or an empty dict when it has none."""
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}


def latest_unfinished_run(base: Path) -> Path | None:
    """The newest run folder under ``base`` with a last.ckpt and no finished status."""
    if not base.is_dir():
        return None
    runs = [
        p
        for p in base.iterdir()
        if (p / "checkpoints" / "last.ckpt").is_file()
        and read_status(p).get("status") != "finished"
    ]
    return max(runs, key=lambda p: (p / "checkpoints" / "last.ckpt").stat().st_mtime, default=None)
