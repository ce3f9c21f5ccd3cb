"""Every rule of ``resume`` and ``run_name`` in one place: which folder, which checkpoint.

- ``run_name`` is one path component (no ``/``, ``..``, absolute paths).
- ``resume=<path>``: a run folder, or a checkpoint inside one (``<run>/checkpoints/*.ckpt``).
- ``resume=auto`` with ``run_name``: that folder; without: the newest run folder of the same task
  (the folder ``base`` is per task) and the same experiment that has a ``last.ckpt``, is not
  finished and is not held by a live process; a new folder when there is none.
- A finished run is not resumed unless ``resume_finished=true``.
- The checkpoint continued from must load; ``resume=auto`` falls back to the newest other
  checkpoint of the run that does, with a note.
- A resumed run keeps the settings it was trained with: a changed setting other than the
  training length, folders, trackers and console output (``RESUME_MAY_CHANGE``) is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trainlab.core.run_dir import read_status
from trainlab.core.run_lock import holder
from trainlab.errors import RunFolderError

log = logging.getLogger(__name__)
RUN_MARKERS = ("status.json", "config.yaml", ".hydra")
# Settings a resumed run may change: they decide neither the weights nor the figures of the
# epochs already trained (how long to train on, where files go, trackers, console output,
# machine-dependent loader settings). A key and everything under it.
RESUME_MAY_CHANGE = (
    "resume",
    "resume_finished",
    "resume_data_moved",
    "run_name",
    "train",
    "test",
    "tags",
    "paths",
    "logger",
    "extras",
    "allowed_targets",
    "best_config",
    "trainlab_trial",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "data.loader",
    "callbacks.progress_bar",
    "callbacks.epoch_lines",
    "callbacks.model_summary",
    "callbacks.lr_monitor",
)


def none_if_empty(value: Any) -> Any:
    """None for the ways a config or resolver spells "not set"."""
    return None if value in (None, "", "None", "null") else value


def check_run_name(run_name: str | None) -> None:
    """Refuse a ``run_name`` that is not one plain path component."""
    if run_name is None:
        return
    if not isinstance(run_name, str):
        # Hydra reads run_name=2024 as an int, 1e3 as 1000.0 and nan as a float: the folder
        # would not be named as typed (and a number crashed the run folder's resolver)
        raise RunFolderError(
            f"Hydra read run_name={run_name!r} as {type(run_name).__name__}, not as text, so "
            "the run folder would not be named as you typed it. Quote the value, e.g. "
            "run_name=\"'2024'\" (the shell passes the inner quotes to Hydra), or use a "
            "name with letters, e.g. run_name=run2024"
        )
    name = run_name
    if (
        name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or Path(name).is_absolute()
        or name.strip() != name
    ):
        raise RunFolderError(
            f"run_name={name!r} is not a plain folder name: use one name without '/', '\\', "
            f"'..' or surrounding spaces, e.g. run_name=digits_lr3e-3"
        )


def is_run_folder(path: Path) -> bool:
    """True for a folder a trainlab run wrote (it has a status, a config or Hydra's files)."""
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def run_dir_of(path: Path) -> Path:
    """The run folder of ``resume=<path>``: a run folder, or a checkpoint inside one."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".ckpt":
        run = path.parent.parent
        if path.parent.name == "checkpoints" and is_run_folder(run):
            return run
        raise RunFolderError(
            f"resume={path}: this checkpoint is not inside a run folder "
            f"(<run folder>/checkpoints/*.ckpt), so there is no run to continue. Give the run "
            f"folder or its checkpoints/last.ckpt; to test or predict with the weights use "
            f"`trainlab eval ckpt_path={path}`"
        )
    if is_run_folder(path):
        return path
    raise RunFolderError(
        f"resume={path}: no such run folder or checkpoint. Use resume=auto, or the path of a "
        f"run folder (logs/train/runs/<name>) or of its checkpoints/last.ckpt"
    )


def finished_by(folder: Path, status: dict[str, Any]) -> str | None:
    """Why ``folder`` counts as finished (its status, or its results), or None when it does not.

    ``metrics.json`` is written only when a run finishes (``core.train._finish``), so a run
    that has it finished whatever a hand-edited ``status.json`` says: before, changing
    "finished" to "running" made ``resume=auto`` train over the run and replace its results.
    """
    if status.get("status") == "finished":
        return "status.json says finished"
    if (Path(folder) / "metrics.json").is_file():
        said = status.get("status")
        return f"it holds its results, metrics.json, although status.json says {said!r}"
    return None


def refuse_finished(folder: Path) -> None:
    """Raise when ``folder`` holds a finished run (resuming it needs ``resume_finished=true``)."""
    why = finished_by(folder, read_status(folder))
    if why:
        raise RunFolderError(
            f"{folder} holds a finished run ({why}); refusing to resume it. To train it "
            f"further, raise trainer.max_epochs and pass resume_finished=true"
        )


def latest_unfinished_run(base: Path, experiment: str | None = None) -> Path | None:
    """The newest run under ``base`` of ``experiment`` with a last.ckpt, unfinished and free."""
    if not base.is_dir():
        return None
    runs = []
    for folder in base.iterdir():
        last = folder / "checkpoints" / "last.ckpt"
        if not last.is_file():
            continue
        status = read_status(folder)
        if finished_by(folder, status) or status.get("experiment") != experiment:
            continue
        if holder(folder) is not None:
            continue  # a live run, not one to continue
        runs.append((last.stat().st_mtime, folder))
    return max(runs, default=(0, None))[1]


RESULT_FILES = ("metrics.json", "evaluation_report.json", "predictions.csv")


def earlier_results(folder: Path) -> list[str]:
    """The result files (metrics, evaluation report, predictions) an earlier run left here."""
    if not folder.is_dir():
        return []
    found = [name for name in RESULT_FILES if (folder / name).is_file()]
    return found + sorted(p.name for p in folder.glob("*_predictions.json"))[:3]


def resume_folder(
    base: Path, run_name: str | None, resume: str | None, experiment: str | None
) -> Path | None:
    """The existing folder a run continues in, or None when it starts a new one."""
    run_name, resume = none_if_empty(run_name), none_if_empty(resume)
    check_run_name(run_name)
    if resume not in (None, "auto"):
        return run_dir_of(Path(resume))
    if run_name:
        folder = base / run_name
        if resume is None and (folder / "checkpoints").is_dir():
            raise RunFolderError(
                f"{folder} already holds checkpoints of an earlier run. Continue it with "
                f"resume=auto, or start a new run with another run_name"
            )
        results = earlier_results(folder) if resume is None else []
        if results:
            # before: a second `trainlab eval run_name=x` wrote over the first one's
            # metrics.json and evaluation_report.json
            raise RunFolderError(
                f"{folder} already holds the results of an earlier run "
                f"({', '.join(results)}); writing here would replace them. Give another "
                f"run_name, or move that folder away"
            )
        return folder
    if resume == "auto":
        return latest_unfinished_run(base, none_if_empty(experiment))
    return None


def resume_checkpoint(
    run_dir: Path, resume: str | None, resume_finished: bool = False
) -> tuple[str | None, dict[str, Any] | None]:
    """The checkpoint this run continues from and its content, loaded once to check it.

    (None, None): from scratch. The content goes to the Trainer's checkpoint IO
    (``AtomicCheckpointIO.preload``), so the file is read once, not once per check.
    """
    from trainlab.core.checkpoint_io import newest_good_checkpoint, read_resumable

    resume = none_if_empty(resume)
    folder = run_dir / "checkpoints"
    last = folder / "last.ckpt"
    if resume is None:
        if last.exists():
            raise RunFolderError(
                f"{run_dir} already holds checkpoints of an earlier run. Continue it with "
                f"resume=auto, or start a new run with another run_name"
            )
        return None, None
    if not resume_finished:
        refuse_finished(run_dir)
    if str(resume).endswith(".ckpt"):
        ckpt = Path(resume).expanduser()
        loaded, problem = read_resumable(ckpt) if ckpt.is_file() else (None, "it does not exist")
        if problem:
            raise RunFolderError(
                f"resume={resume}: cannot continue from it ({problem}). Use resume=auto to "
                f"continue from the newest checkpoint of {run_dir} that loads"
            )
        log.info("resuming from %s", ckpt)
        return str(ckpt), loaded
    if not any(folder.glob("*.ckpt")):
        log.info("resume=%s: no %s yet, starting from scratch", resume, last)
        return None, None
    good, loaded, notes = newest_good_checkpoint(folder, last)
    for note in notes:
        log.warning("%s; passing over it", note)
    if good is None:
        raise RunFolderError(
            f"resume={resume}: no checkpoint in {folder} loads ("
            + "; ".join(notes)
            + "). Move the folder's checkpoints away to train it from scratch with resume=auto"
        )
    if good != last:
        log.warning("resuming from %s instead of %s, which is missing or does not load", good, last)
    log.info("resuming from %s", good)
    return str(good), loaded


def changed_settings_on_resume(
    checkpoint: dict[str, Any] | None, current: dict[str, Any]
) -> dict[str, list[Any]]:
    """key -> [trained with, given now] for each setting a resume may not change.

    ``current`` is this run's resolved config; it is made plain and redacted as
    ``CheckpointMetadata`` stores it. A checkpoint without trainlab's config (written
    elsewhere) gives nothing to compare.
    """
    from trainlab.core.checkpoint import plain_data
    from trainlab.core.redaction import redact
    from trainlab.core.search.settings import changed_settings, flatten_settings

    stored = ((checkpoint or {}).get("trainlab") or {}).get("config")
    if not isinstance(stored, dict):
        return {}
    current = redact(plain_data(current))
    changes = changed_settings(flatten_settings(stored), flatten_settings(current))
    moved = (run_folder_of(stored), run_folder_of(current))
    return {
        key: values
        for key, values in changes.items()
        if not any(key == k or key.startswith(k + ".") for k in RESUME_MAY_CHANGE)
        and not _moved_with_the_run(values, *moved)
    }


def run_folder_of(config: dict[str, Any] | None) -> str | None:
    """The run folder a resolved config was composed for (``paths.output_dir``)."""
    folder = ((config or {}).get("paths") or {}).get("output_dir")
    return str(folder) if isinstance(folder, str) and folder else None


def _inside(path: Any, folder: str) -> str | None:
    """``path``'s place inside ``folder`` ("" for the folder itself), or None when outside."""
    if not isinstance(path, str):
        return None
    if path == folder:
        return ""
    return path[len(folder) :] if path.startswith(folder.rstrip("/") + "/") else None


def _moved_with_the_run(values: list[Any], old_run: str | None, new_run: str | None) -> bool:
    """A setting that only follows the run folder to its new place (checkpoint folders)."""
    if not old_run or not new_run or old_run == new_run:
        return False
    place = _inside(values[0], old_run)
    return place is not None and place == _inside(values[1], new_run)


def relocate_checkpoint_paths(checkpoint: dict[str, Any] | None, run_dir: Path) -> None:
    """Point the checkpoint callbacks' state of a run folder that was moved at its new place.

    Lightning restores a ``ModelCheckpoint``'s best scores and top-k files only when its
    folder is the one in the checkpoint; else it warns and keeps ``best_model_path`` alone, at
    the old place: the resumed run then took its first new checkpoint for the best and
    tested a file that is gone. The state is rewritten in memory; no file changes.
    """
    import os

    old_run = run_folder_of(((checkpoint or {}).get("trainlab") or {}).get("config"))
    # Lightning keeps its folder as a real path (links resolved)
    new_run = os.path.realpath(run_dir)
    if not old_run or os.path.realpath(old_run) == new_run:
        return
    old_runs = {old_run, os.path.realpath(old_run)}

    def moved(value: Any) -> Any:
        for old in old_runs:
            place = _inside(value, old)
            if place is not None:
                return new_run + place
        return value

    for key, state in ((checkpoint or {}).get("callbacks") or {}).items():
        if not (str(key).startswith("ModelCheckpoint") and isinstance(state, dict)):
            continue
        for name in ("dirpath", *CHECKPOINT_PATH_KEYS):
            if name in state:
                state[name] = moved(state[name])
        if isinstance(state.get("best_k_models"), dict):
            state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
    log.info("the run folder moved from %s to %s; its checkpoint paths follow it", old_run, new_run)


def refuse_changed_settings(
    checkpoint: dict[str, Any] | None,
    current: dict[str, Any],
    path: str,
    data_moved: bool = False,
) -> list[str]:
    """Raise when this run's settings differ from those ``path`` was trained with.

    With ``data_moved`` (``resume_data_moved=true``), changed data locations alone are let
    through and returned: the caller checks the data there against the run's recorded digest
    (``core.data_digest.check_moved_data``) before training.

    Before: ``resume=auto model.optimizer.lr=0.1 data.batch_size=16`` continued a digits run
    without a word; the batch size changed from the resumed epoch on, the learning rate did
    not (Lightning restores the optimizer's own state, lr 0.003), and config.yaml recorded
    both new values: a run of two settings, described as neither.
    """
    from trainlab.core.search.settings import describe_changes

    changes = changed_settings_on_resume(checkpoint, current)
    places = [key for key in changes if _is_data_location(key)]
    if data_moved and places and len(places) == len(changes):
        return places
    if changes:
        moved = (
            f"\nThe data moved ({', '.join(places)})? A resume reads the data it was trained "
            "with: if the new place holds the same data, pass resume_data_moved=true (checked "
            "against the digest of the data the run recorded, k-mer data), or link the old "
            "place to the new one (ln -s NEW OLD) and resume without the new location."
            if places
            else ""
        )
        raise RunFolderError(
            f"resume: {path} was trained with other settings; continuing would mix two runs "
            f"in one. Changed (trained with -> given now):\n{describe_changes(changes)}\n"
            "Fix: resume with the settings it was trained with (drop these overrides), or "
            "start a new run with another run_name. A resume may change only the training "
            "length (trainer.max_epochs, max_steps, max_time), folders, loggers, console "
            "output and data.loader" + moved
        )
    return []


def _is_data_location(key: str) -> bool:
    """A data key naming a file or folder (data.data_dir, data.root, data.matrix_path ...)."""
    name = key.rsplit(".", 1)[-1]
    return key.startswith("data.") and (
        name in ("root", "data_dir") or name.endswith(("_dir", "_path", "_file"))
    )


# ModelCheckpoint's state: the files it deletes when a better checkpoint replaces them
CHECKPOINT_PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def refuse_escaping_checkpoint_paths(checkpoint: dict[str, Any] | None, path: str) -> None:
    """Raise when a ModelCheckpoint state in ``checkpoint`` names a file through ``..``.

    Lightning deletes the checkpoint a better one replaces if its path lies under the
    callback's folder, tested without resolving ``..``: a last.ckpt edited to name
    ``<run>/checkpoints/../../../../victim.txt`` made the resumed digits run delete that file,
    outside the run folder. Lightning writes these paths itself, never with ``..``.
    """
    states = (checkpoint or {}).get("callbacks") or {}
    for key, state in states.items():
        if not (str(key).startswith("ModelCheckpoint") and isinstance(state, dict)):
            continue
        named = [state.get(name) for name in CHECKPOINT_PATH_KEYS]
        named += list((state.get("best_k_models") or {}).keys())
        for value in named:
            if value and ".." in Path(str(value)).parts:
                raise RunFolderError(
                    f"resume: {path} names the file {value} in its checkpoint callback's state; "
                    "the '..' leads out of the run's checkpoints folder, and Lightning would "
                    "delete that file when a better checkpoint replaces it. Lightning never "
                    "writes such a path, so the checkpoint was edited: do not resume from it "
                    "(start a new run, or evaluate it with `trainlab eval ckpt_path=...`)"
                )
