"""What each experiment tracker receives besides the metrics: hyperparameters, tags, artifacts.

The resolved config, redacted (core.redaction: secrets never reach a logger), goes to

- CSV: ``csv/hparams.yaml`` holds the config as nested YAML;
- TensorBoard: ``hparams.yaml`` and, when the run ends, the HParams plugin's summaries with the
  flat config (``model.optimizer.lr``), ``run.status`` and the final metrics as ``final/<name>``
  (the tested checkpoint's figures of metrics.json), so the HParams tab compares runs;
- MLflow: every flat key as a param (batches of 100, values cut to MLflow's limit), tags
  (experiment, run folder, git commit), and when the run ends metrics.json as ``final/<name>``
  metrics and config.yaml, summary.txt, metrics.json and reports/ as artifacts, plus the
  best checkpoint with ``log_best_checkpoint: true`` (core/mlflow_logger.py);
- W&B: the nested config as the run's config, and metrics.json and the status in its summary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# MLflow's request limits (mlflow/utils/validation.py, and the REST API's LogBatch: at most
# 100 params per request); the value limit is the installed client's (6000 since MLflow 2.x)
MLFLOW_PARAMS_PER_BATCH = 100
MLFLOW_METRICS_PER_BATCH = 1000
MLFLOW_KEY_LENGTH = 250
MLFLOW_TAG_LENGTH = 5000
FINAL_PREFIX = "final/"
CUT = " ... (cut; whole value in config.yaml)"


def kind_of(logger: Any) -> str:
    """The Lightning logger class a logger is or derives from: ``MLFlowLogger``, ..."""
    names = [cls.__name__ for cls in type(logger).__mro__]
    known = ("MLFlowLogger", "TensorBoardLogger", "WandbLogger", "CSVLogger")
    return next((name for name in names if name in known), type(logger).__name__)


def tracker_config(plain_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved config as trackers may see it: secrets as ***."""
    from trainlab.core.redaction import redact

    return redact(dict(plain_cfg))


def flat_params(config: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """``{"model": {"optimizer": {"lr": 0.001}}}`` -> ``{"model.optimizer.lr": 0.001}``.

    Lists and None become text (``[32, 64]``, ``null``): trackers take scalars only.
    ``_target_`` keys stay: a changed class is a changed setting worth comparing by.
    """
    from trainlab.core.best_config import flatten

    flat = {}
    for key, value in flatten(config, skip_private=False).items():
        if isinstance(value, bool | int | float | str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value, default=str)
    return flat


def mlflow_value_limit() -> int:
    """The longest param value the installed MLflow accepts."""
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
    except ImportError:  # an MLflow without the constant: its old documented limit
        return 500
    return int(MAX_PARAM_VAL_LENGTH)


def send_hyperparameters(loggers: list[Any], plain_cfg: Mapping[str, Any]) -> None:
    """Give every tracker the run's (redacted) config; once per run, at its start."""
    config = tracker_config(plain_cfg)
    flat = flat_params(config)
    for logger in loggers:
        kind = kind_of(logger)
        try:
            if kind == "CSVLogger":
                logger.log_hyperparams(config)  # csv/hparams.yaml: the nested config
            elif kind == "TensorBoardLogger":
                logger.hparams.update(flat)  # hparams.yaml now; the HParams tab at the end
            elif kind == "WandbLogger":
                logger.experiment.config.update(config, allow_val_change=True)
            elif kind == "MLFlowLogger":
                _mlflow_params(logger, flat)
                _mlflow_tags(logger, plain_cfg)
        except Exception as err:  # a tracker that cannot take them must not stop the run
            log.warning("could not send the hyperparameters to %s: %s", kind, err)


def _mlflow_params(logger: Any, flat: Mapping[str, Any]) -> None:
    from mlflow.entities import Param

    client, run_id = logger.experiment, logger.run_id
    limit = mlflow_value_limit()
    logged = client.get_run(run_id).data.params  # a resumed run already holds its params
    params, changed = [], []
    for key, value in flat.items():
        text = str(value)
        if len(text) > limit:
            text = text[: limit - len(CUT)] + CUT
        key = key[:MLFLOW_KEY_LENGTH]
        if key in logged:
            if logged[key] != text:
                changed.append(key)  # MLflow params are immutable
            continue
        params.append(Param(key, text))
    for start in range(0, len(params), MLFLOW_PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + MLFLOW_PARAMS_PER_BATCH])
    if changed:
        log.warning(
            "MLflow keeps the first value of a param: %d changed on resume (%s); this "
            "attempt's values are in its config.yaml",
            len(changed),
            ", ".join(changed[:5]),
        )


def _mlflow_tags(logger: Any, plain_cfg: Mapping[str, Any]) -> None:
    from trainlab.core.redaction import redact_text

    run_dir = Path(str(plain_cfg.get("paths", {}).get("output_dir", ".")))
    tags = {
        "experiment": plain_cfg.get("experiment_name") or plain_cfg.get("task_name"),
        "run_folder": str(run_dir),
        "task": plain_cfg.get("task_name"),
        "mlflow.source.git.commit": _git_commit(run_dir),
    }
    client = logger.experiment
    for key, value in tags.items():
        if value:
            client.set_tag(logger.run_id, key, redact_text(str(value))[:MLFLOW_TAG_LENGTH])


def _git_commit(run_dir: Path) -> str | None:
    path = run_dir / "git.txt"  # core.artifacts: "commit: <sha>" or why there is none
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").partition("commit:")[2].strip()
    return text if len(text) == 40 else None


def send_final(loggers: list[Any], run_dir: Path | None, status: str) -> None:
    """At the end of a run (any outcome): final metrics, status and artifacts per tracker."""
    if run_dir is None:
        return
    path = run_dir / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    for logger in loggers:
        kind = kind_of(logger)
        try:
            if kind == "TensorBoardLogger":
                _tensorboard_hparams(logger, metrics, status)
            elif kind == "WandbLogger" and logger._experiment is not None:
                logger.experiment.summary.update({**metrics, "status": status})
            elif kind == "MLFlowLogger" and getattr(logger, "_run_id", None):
                _mlflow_final(logger, metrics)
                _mlflow_artifacts(logger, run_dir)
        except Exception as err:
            log.warning("could not send the final results to %s: %s", kind, err)


def _tensorboard_hparams(logger: Any, metrics: Mapping[str, float], status: str) -> None:
    """The HParams plugin's summaries: the flat config against the final metrics.

    The metrics get their own tags (``final/test/acc``) so the curves under ``test/acc`` keep
    their steps; a run without final metrics (failed early) still shows up, by its status.
    """
    params = {**logger.hparams, "run.status": status}
    final = {f"{FINAL_PREFIX}{k}": v for k, v in metrics.items()}
    final[f"{FINAL_PREFIX}finished"] = 1.0 if status == "finished" else 0.0
    logger.log_hyperparams(params, metrics=final)
    logger.finalize("success" if status == "finished" else status)  # flush the event file


def _mlflow_final(logger: Any, metrics: Mapping[str, float]) -> None:
    """metrics.json as ``final/<name>``: the run table then shows the tested checkpoint's
    figures (``val/acc`` there is the last logged epoch's)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [
        Metric(f"{FINAL_PREFIX}{k}"[:MLFLOW_KEY_LENGTH], v, now, 0) for k, v in metrics.items()
    ]
    for start in range(0, len(items), MLFLOW_METRICS_PER_BATCH):
        batch = items[start : start + MLFLOW_METRICS_PER_BATCH]
        logger.experiment.log_batch(logger._run_id, metrics=batch)


ARTIFACTS = ("config.yaml", "summary.txt", "metrics.json", "status.json", "reports")


def _mlflow_artifacts(logger: Any, run_dir: Path) -> None:
    client, run_id = logger.experiment, logger._run_id
    for name in ARTIFACTS:
        path = run_dir / name
        if path.is_dir():
            client.log_artifacts(run_id, str(path), artifact_path=name)
        elif path.is_file():
            client.log_artifact(run_id, str(path))
    best = run_dir / "checkpoints" / "best.ckpt"
    if getattr(logger, "log_best_checkpoint", False) and best.is_file():
        client.log_artifact(run_id, str(best), artifact_path="checkpoints")
