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
# what core.artifacts.set_status writes; anything else in status.json was not written by a run
STATUSES = ("running", "finished", "failed", "interrupted")
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
    from trainlab.core.ranks import started_as_follower
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
            refuse_links(folder)
            if not started_as_follower():  # DDP ranks > 0 share rank 0's folder (core.ranks)
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


def refuse_links(folder: Path) -> None:
    """Raise when ``folder`` (a run or sweep folder reused) holds a symbolic link.

    Hydra appends to ``train.log`` and rewrites ``.hydra/*.yaml`` with a plain ``open``, and
    Lightning's CSV logger its ``metrics.csv`` and ``hparams.yaml``: through a link each wrote
    into the file it points to, outside the run folder (seen: a named run whose ``train.log``
    and ``.hydra/config.yaml`` were links to a user's files appended to one and replaced the
    other). A linked folder (``reports``, ``checkpoints``) makes even atomic writes replace
    files of the same name where it points. Links inside a ``wandb`` folder are W&B's own
    (``latest-run``, ``debug.log``), which it replaces rather than writes through.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if "wandb" in here.relative_to(folder).parts:
            continue
        for name in sorted(dirs + files):
            path = here / name
            if path.is_symlink():
                raise RunFolderError(
                    f"{path} is a symbolic link (to {os.readlink(path)}); trainlab and Hydra "
                    f"write into the run folder (train.log, .hydra/, metrics, reports, "
                    f"checkpoints) and would write through it, outside {folder}. Remove the "
                    f"link (rm {path}) and start again; to keep runs on another disk, point "
                    f"paths.log_dir (TRAINLAB_LOG_DIR) there"
                )


def read_status(run_dir: Path) -> dict:
    """The run's status record, or an empty dict when it has none.

    Raises:
        RunFolderError: ``status.json`` is not a JSON object with one of ``STATUSES``. Before,
            a truncated file read as "no status", so a finished run was resumed and its
            results written over; a JSON list crashed ``resume=auto`` with an AttributeError.
    """
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        problem = None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        record, problem = None, f"it is not valid JSON ({err})"
    if problem is None and not isinstance(record, dict):
        problem = f"it holds a JSON {type(record).__name__}, not an object"
    elif problem is None and record.get("status") not in STATUSES:
        problem = f"its status is {record.get('status')!r}, not one of {', '.join(STATUSES)}"
    if problem:
        raise RunFolderError(
            f"{path} cannot be read: {problem}. It was edited or cut short, so whether this "
            f"run finished is unknown and trainlab neither resumes it nor writes into it. Fix: "
            f"restore the file; or, if the run did not finish, delete it (rm {path}): a run "
            f"with results (metrics.json) still counts as finished; or give another run_name"
        )
    return record
