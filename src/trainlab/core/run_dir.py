"""Where a run writes: one folder per run, claimed before anything is written into it.

Hydra's ``hydra.run.dir`` (and ``hydra.sweep.dir``) calls :func:`choose_run_dir` through the
``trainlab_run_dir`` resolver, so Hydra's own files, the logs and our artifacts all land in the
folder chosen and locked here. Which existing folder a resume continues in is decided by
:mod:`trainlab.core.resume`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from trainlab.core import run_lock
from trainlab.errors import RunFolderError

STATUS_FILE = "status.json"
# The folders chosen by this invocation, kept in the environment so that the jobs it starts
# in other processes (submitit, SLURM job arrays, requeued jobs) compose the same sweep folder
# instead of a new timestamped one. Each entry point starts afresh (forget_run_dirs). Only the
# process that chose a folder claims it; its jobs work in subfolders they claim themselves.
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
    experiment: str | None = None,
) -> str:
    """Pick and claim the run folder once per invocation (and its child processes).

    - ``resume=<path>``: the run folder of that checkpoint or folder;
    - ``run_name`` set: ``base/run_name`` (a stable name, reused by ``resume=auto`` and requeues);
    - ``resume=auto`` without a name: the newest unfinished run of the same experiment under
      ``base`` with a ``last.ckpt``, or a new folder when there is none;
    - otherwise a new timestamped folder, suffixed ``_1``, ``_2``... when that name is taken.

    The folder is locked for this process (:mod:`trainlab.core.run_lock`): a second live start
    on it is refused at once.
    """
    from trainlab.core.resume import none_if_empty, refuse_finished, resume_folder

    key = "|".join((str(base), str(run_name), str(resume), str(experiment)))
    chosen = _chosen()
    if key not in chosen:
        try:
            folder = resume_folder(Path(base), run_name, resume, experiment)
            if folder is None:
                folder = new_run_dir(Path(base))
            elif none_if_empty(resume) and not resume_finished:
                refuse_finished(folder)
            run_lock.claim(folder)
        except RunFolderError as err:
            # Raised while Hydra resolves hydra.run.dir, before it writes anything: leave at
            # once with the message (an exception here would reach the user as a traceback).
            print(f"\nerror: {err}", file=sys.stderr)
            raise SystemExit(2) from err
        chosen[key] = str(folder)
        os.environ[CHOSEN_ENV] = json.dumps(chosen)
    return chosen[key]


def forget_run_dirs() -> None:
    """Forget (and unlock) the folders chosen so far, so the next invocation picks its own."""
    os.environ.pop(CHOSEN_ENV, None)
    run_lock.release_all()


def new_run_dir(base: Path) -> Path:
    """Create a fresh folder under ``base`` that no other run uses, and return it.

    The folder is made with an exclusive ``mkdir``: of runs started in the same second, each
    gets its own ``_1``, ``_2``... suffix instead of sharing one folder.
    """
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    candidate = base / stamp
    suffix = 0
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = base / f"{stamp}_{suffix}"


def read_status(run_dir: Path) -> dict:
    """The run's status record, or an empty dict when it has none."""
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}
