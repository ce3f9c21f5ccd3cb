"""Where a run writes: one folder per run, never shared with an earlier run unless resuming.

Hydra's ``hydra.run.dir`` calls :func:`choose_run_dir` through the ``trainlab_run_dir``
resolver, so Hydra's own files, the logs and our artifacts all land in the folder chosen here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from trainlab.errors import RunFolderError

STATUS_FILE = "status.json"
_CHOSEN: dict[tuple[str, str, str], str] = {}


def choose_run_dir(base: str, run_name: str | None = None, resume: str | None = None) -> str:
    """Pick the run folder once per process for the same arguments.

    - ``resume=<path>``: the run folder of that checkpoint or folder;
    - ``run_name`` set: ``base/run_name`` (a stable name, reused by ``resume=auto`` and requeues);
    - ``resume=auto`` without a name: the newest unfinished run under ``base`` with a
      ``last.ckpt``, or a new folder when there is none;
    - otherwise a new timestamped folder, suffixed ``_1``, ``_2``... when that name is taken.
    """
    key = (str(base), str(run_name), str(resume))
    if key not in _CHOSEN:
        _CHOSEN[key] = str(_choose(Path(base), run_name, resume))
    return _CHOSEN[key]


def forget_run_dirs() -> None:
    """Forget the folders chosen so far, so the next invocation picks its own."""
    _CHOSEN.clear()


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
