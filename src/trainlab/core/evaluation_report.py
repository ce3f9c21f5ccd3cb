"""evaluation_report.json: the full metrics of a model on one split, from its predict_step.

Classifiers give `{"probs": {task: (B, C)}, "target": {task: (B,)}}`; span models give
`{"start", "end", "span_target": {"start", "end", "valid"}}`; joint models give both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainlab.io import atomic_write_json
from trainlab.metrics.evaluation import classification_metrics, span_metrics


def predict_outputs(model: Any, datamodule: Any, loader: Any) -> list[dict[str, Any]]:
    """predict_step outputs over a loader, on the CPU, in eval mode."""
    model = model.cpu().eval()
    outputs = []
    with torch.inference_mode():
        for index, batch in enumerate(loader):
            if hasattr(datamodule, "on_after_batch_transfer"):
                batch = datamodule.on_after_batch_transfer(batch, 0)
            outputs.append(model.predict_step(batch, index))
    return outputs


GROUP_KEYS = (
    "n",
    "accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "auroc",
    "confusion_matrix",
    "undefined",
)


def build_evaluation_report(
    outputs: list[dict[str, Any]],
    tasks: dict[str, list[str]] | None,
    groups: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Per task classification metrics and, when the model predicts spans, span metrics.

    `groups` ({name: a value per row}, e.g. each row's criterion) adds, for a single task,
    `by_<name>`: the classification metrics of each value's rows (undefined ones None).
    """
    report: dict[str, Any] = {}
    if outputs and "probs" in outputs[0] and "target" in outputs[0] and tasks:
        targets = {task: torch.cat([o["target"][task] for o in outputs]).numpy() for task in tasks}
        probs = {
            task: torch.cat([o["probs"][task] for o in outputs]).float().numpy() for task in tasks
        }
        report["tasks"] = {
            task: classification_metrics(targets[task], probs[task], classes)
            for task, classes in tasks.items()
        }
        if len(tasks) == 1:
            task = next(iter(tasks))
            report.update(report["tasks"][task])
            for name, values in (groups or {}).items():
                if len(values) != len(targets[task]):
                    raise ValueError(f"{len(values)} {name} values for {len(targets[task])} rows")
                report[f"by_{name}"] = _by_group(values, targets[task], probs[task], tasks[task])
    if outputs and "span_target" in outputs[0]:
        valid = torch.cat([o["span_target"]["valid"] for o in outputs]).bool()

        def cat(key: str, inner: str | None = None) -> torch.Tensor:
            rows = [o[key][inner] if inner else o[key] for o in outputs]
            return torch.cat(rows)[valid]

        copies = None
        if "alt_start" in outputs[0]["span_target"]:
            copies = _padded_alternatives(outputs, valid)
        report["evidence"] = span_metrics(
            cat("start"), cat("end"), cat("span_target", "start"), cat("span_target", "end"), copies
        )
    return report


def _padded_alternatives(outputs: list[dict[str, Any]], valid: torch.Tensor):
    """The batches' (B, K) alternative spans, padded with -1 to one K, on the valid rows."""
    width = max(o["span_target"]["alt_start"].shape[1] for o in outputs)
    parts = []
    for key in ("alt_start", "alt_end"):
        rows = [o["span_target"][key] for o in outputs]
        rows = [torch.nn.functional.pad(r, (0, width - r.shape[1]), value=-1) for r in rows]
        parts.append(torch.cat(rows)[valid])
    return parts[0], parts[1]


def _by_group(values: list[str], targets, probs, classes: list[str]) -> dict[str, Any]:
    import numpy as np

    values = np.asarray(values)
    by = {}
    for value in sorted(set(values.tolist())):
        rows = values == value
        metrics = classification_metrics(targets[rows], probs[rows], classes)
        by[value] = {key: metrics[key] for key in GROUP_KEYS if key in metrics}
    return by


def write_evaluation_report(
    run_dir: Path, model: Any, datamodule: Any, *, split: str = "test", extra: dict | None = None
) -> Path | None:
    """Write `run_dir/evaluation_report.json` for `split`; None when the model cannot predict."""
    from trainlab.data.contract import DataModuleContract

    contract = isinstance(datamodule, DataModuleContract)
    loader = datamodule.report_dataloaders().get(split) if contract else None
    if loader is None and split == "test" and hasattr(datamodule, "test_dataloader"):
        loader = datamodule.test_dataloader()
    if loader is None or not hasattr(model, "predict_step"):
        return None
    # Span data over posts longer than max_length: the whole post, read in windows
    windowed = getattr(datamodule, "evaluation_windows", None)
    plan = windowed(split) if callable(windowed) else None
    if plan is not None:
        loader, merge, windows = plan
        outputs = merge(predict_outputs(model, datamodule, loader))
        extra = {**(extra or {}), "windows": windows}
    else:
        outputs = predict_outputs(model, datamodule, loader)
    groups = getattr(datamodule, "report_groups", None)
    # a head that never saw a label (no labelled training row) has no figures to report
    tasks = getattr(model, "scored_tasks", getattr(model, "tasks", None))
    report = build_evaluation_report(outputs, tasks, groups(split) if callable(groups) else None)
    if not report:
        return None
    whole = (extra or {}).get("evidence_baselines")
    if whole is not None and "evidence" in report:  # the model's figure on the same inputs
        whole["model"] = {k: report["evidence"][k] for k in ("exact_match", "token_f1")}
    return atomic_write_json(
        Path(run_dir) / "evaluation_report.json", {"split": split, **(extra or {}), **report}
    )
