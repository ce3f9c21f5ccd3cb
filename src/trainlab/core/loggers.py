"""Logger entries: keep one logger run per run folder, across resumes and requeues."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from trainlab.core.tracker_params import kind_of
from trainlab.io import atomic_write_json

IDS_FILE = "logger_ids.json"


def pin_logger_runs(logger_cfg: DictConfig | None, run_dir: Path) -> None:
    """Give W&B and MLflow entries the run id this folder used before (or a new, saved one).

    A resumed run then continues the same W&B run and the same MLflow run instead of opening
    new ones.
    """
    if not logger_cfg:
        return
    path = run_dir / IDS_FILE
    ids: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    changed = False
    for name, entry in logger_cfg.items():
        if not isinstance(entry, DictConfig):
            continue
        target = str(entry.get("_target_", ""))
        with open_dict(entry):
            _redact_labels(entry)
            if target.endswith("WandbLogger") and not entry.get("id"):
                ids.setdefault(name, uuid.uuid4().hex[:12])
                entry.id = ids[name]
                entry.resume = "allow"
                changed = True
            elif target.endswith("MLFlowLogger") and name in ids and not entry.get("run_id"):
                entry.run_id = ids[name]
    if changed:
        atomic_write_json(path, ids)


# What a logger stores as the run's description; its connection settings (tracking_uri, api
# keys) stay real, or the logger could not reach its server.
LABEL_KEYS = ("name", "group", "tags", "notes", "experiment_name", "run_name", "project", "prefix")


def _redact_labels(entry: DictConfig) -> None:
    """Write the labels of a logger entry with secrets as *** (core.redaction)."""
    from trainlab.core.redaction import redact

    for key in LABEL_KEYS:
        if key in entry and entry.get(key) is not None:
            value = (
                OmegaConf.to_container(entry[key], resolve=True)
                if OmegaConf.is_config(entry[key])
                else entry[key]
            )
            clean = redact(value)
            if clean != value:
                entry[key] = clean


def remember_logger_runs(loggers: list[Any], logger_cfg: DictConfig | None, run_dir: Path) -> None:
    """Save MLflow's run id once it started, so a resume (after a failure too) continues it."""
    if not logger_cfg:
        return
    path = run_dir / IDS_FILE
    ids: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    names = [n for n, e in logger_cfg.items() if isinstance(e, DictConfig) and "_target_" in e]
    for name, logger in zip(names, loggers, strict=False):
        # the private id: the public property would start a run that never began
        run_id = getattr(logger, "_run_id", None)
        if kind_of(logger) == "MLFlowLogger" and name not in ids and run_id:
            ids[name] = run_id
            atomic_write_json(path, ids)


def tensorboard_of(loggers: list[Any]) -> Any:
    """The TensorBoard logger among ``loggers``, if any."""
    return next((lg for lg in loggers if kind_of(lg) == "TensorBoardLogger"), None)


def as_plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain Python containers."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def close_loggers(
    loggers: list[Any], status: str = "finished", run_dir: Path | None = None
) -> None:
    """Finish logger runs with the run's outcome: ``finished``, ``failed`` or ``interrupted``.

    Called in a ``finally``: with ``run_dir``, the trackers first get the final metrics, the
    status and the run's files (core.tracker_params); then W&B runs are finished with a
    non-zero exit code when the run did not finish, MLflow runs end FINISHED, FAILED or
    KILLED. A logger that fails to close does not hide the run's own error.
    """
    import logging

    from trainlab.core.tracker_params import send_final

    send_final(loggers, run_dir, status)
    mlflow_status = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
    for logger in loggers:
        kind = kind_of(logger)
        try:
            if kind == "WandbLogger" and logger._experiment is not None:
                logger.experiment.finish(exit_code=0 if status == "finished" else 1)
            elif kind == "MLFlowLogger":
                logger.finalize(mlflow_status.get(status, "FAILED"))
        except Exception as err:
            logging.getLogger(__name__).warning("could not close %s: %s", kind, err)
