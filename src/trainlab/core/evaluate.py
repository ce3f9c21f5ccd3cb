"""Evaluate a checkpoint on its test split, reproducing the test metrics of training."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainlab.core.baselines import (
    beside_model,
    format_baselines,
    model_max_span_len,
    run_baselines,
    whole_post_baselines,
)
from trainlab.core.checkpoint import restore_datamodule, restore_model
from trainlab.core.evaluation_report import write_evaluation_report
from trainlab.core.hardware import hardware_report, loader_defaults
from trainlab.core.train import _write_reports
from trainlab.core.trainer_factory import inference_trainer
from trainlab.errors import CheckpointError
from trainlab.io import atomic_write_json

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint's model; write ``metrics.json`` and reports in this run's folder."""
    run_dir = Path(cfg.paths.output_dir)
    restored = restore_model(cfg.ckpt_path, cfg.get("data") or None)
    datamodule = restore_datamodule(restored, loader_defaults(hardware_report()))
    datamodule.prepare_data()
    datamodule.setup("test")
    # spec() is the one member every DataModule has: training could not build a model without it
    _check_same_classes(datamodule.spec(), restored.spec, cfg.ckpt_path)
    _check_unseen(datamodule, restored, cfg.ckpt_path)
    trainer = inference_trainer(cfg.trainer, run_dir)
    results = trainer.test(restored.model, datamodule=datamodule, verbose=True)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    atomic_write_json(run_dir / "metrics.json", {"ckpt_path": str(cfg.ckpt_path), **metrics})
    _write_reports(cfg, run_dir, restored.model, datamodule, None, [], 0)
    baselines = beside_model(run_baselines(cfg, run_dir, restored.model, datamodule), metrics)
    extra: dict[str, Any] = {"ckpt_path": str(cfg.ckpt_path), "baselines": baselines}
    whole = whole_post_baselines(
        cfg.get("baselines"), datamodule, max_span_len=model_max_span_len(restored.model)
    )
    if whole:  # two inputs, two tables: say which each one used
        extra["evidence_baselines"] = whole
        if baselines:
            baselines["inputs"] = TRUNCATED_INPUTS
    write_evaluation_report(run_dir, restored.model, datamodule, extra=extra)
    if baselines:
        log.info("%s", "\n".join(format_baselines(baselines, metrics)))
    if whole:
        model = {f"evidence/{k}": v for k, v in (whole.get("model") or {}).items()}
        block = {**whole, "scores": {n: _keyed(v) for n, v in whole["scores"].items()}}
        lines = format_baselines(block, model)
        lines[0] = f"evaluation report, evidence on {whole['inputs']}:\n" + lines[0]
        log.info("%s", "\n".join(lines))
    log.info("evaluation of %s written to %s", cfg.ckpt_path, run_dir)
    return metrics


TRUNCATED_INPUTS = (
    "one sequence of data.max_length tokens per example, as in training and the test loop "
    "(test/em, test/token_f1); the evaluation report's evidence figures read whole posts, "
    "their baselines are in evidence_baselines"
)


def _keyed(scores: dict[str, Any]) -> dict[str, Any]:
    return {f"evidence/{k}": v for k, v in scores.items()}


def _check_same_classes(spec: dict[str, Any], trained: dict[str, Any], path: Any) -> None:
    if "tasks" in spec and "tasks" in trained and spec["tasks"] != trained["tasks"]:
        raise CheckpointError(
            f"the data's classes {spec['tasks']} differ from those {path} was trained on "
            f"{trained['tasks']}: evaluate on data with the same class folders"
        )


def _check_unseen(datamodule: Any, restored: Any, path: Any) -> None:
    """Refuse a test split holding rows the checkpoint's run trained on or chose it on."""
    from trainlab.core.seen_rows import seen_in
    from trainlab.errors import DataError

    named = getattr(datamodule, "row_keys", None)
    if named is None or restored.seen_rows is None:
        return
    test = list(named("test"))
    for role, found in seen_in(restored.seen_rows, test).items():
        if not found:
            continue
        what = "training rows" if role == "train" else "validation rows (its best epoch)"
        example = repr(test[found[0]][:80])
        raise DataError(
            f"{len(found)} of the {len(test)} test rows were {what} of {path} (e.g. "
            f"{example}): its test scores would count them as unseen. The split changed since "
            "training (a new `trainlab split ... overwrite=true`, another data.split_seed?), or "
            "the test data "
            "holds copies of training data: evaluate on the split the model was trained with, "
            "or on data it has not seen"
        )
