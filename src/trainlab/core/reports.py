"""Classification reports and confusion matrices for a trained classifier."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlab.io import atomic_write_bytes, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


def collect_predictions(outputs: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per task: (targets, predicted indices) of predict outputs; missing labels left out."""
    result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not outputs or "target" not in outputs[0]:
        return result
    for task in outputs[0]["probs"]:
        probs = torch.cat([o["probs"][task] for o in outputs])
        target = torch.cat([o["target"][task] for o in outputs])
        keep = target >= 0
        result[task] = (target[keep].numpy(), probs[keep].argmax(dim=-1).numpy())
    return result


def write_classification_reports(
    report_dir: Path,
    split: str,
    tasks: dict[str, list[str]],
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    tb_logger: Any = None,
    step: int = 0,
) -> list[Path]:
    """Text + JSON classification report and a confusion-matrix PNG per task for one split."""
    from sklearn.metrics import classification_report, confusion_matrix

    written: list[Path] = []
    for task, (y_true, y_pred) in predictions.items():
        if len(y_true) == 0:
            # every label of this task is missing in this split: nothing to report
            log.info("%s: no labelled %s rows, no classification report", split, task)
            continue
        classes = tasks[task]
        labels = list(range(len(classes)))
        prefix = f"{split}" if len(tasks) == 1 else f"{split}_{task}"
        kwargs = {"labels": labels, "target_names": classes, "zero_division": 0}
        text = classification_report(y_true, y_pred, digits=4, **kwargs)
        data = classification_report(y_true, y_pred, output_dict=True, **kwargs)
        written.append(atomic_write_text(report_dir / f"{prefix}_classification_report.txt", text))
        written.append(atomic_write_json(report_dir / f"{prefix}_classification_report.json", data))
        matrix = confusion_matrix(y_true, y_pred, labels=labels)
        png = confusion_matrix_png(matrix, classes, f"{split} {task}".strip())
        written.append(atomic_write_bytes(report_dir / f"{prefix}_confusion_matrix.png", png))
        if tb_logger is not None:
            _add_image(tb_logger, f"confusion_matrix/{prefix}", png, step)
    return written


def confusion_matrix_png(matrix: np.ndarray, classes: list[str], title: str) -> bytes:
    """A labelled confusion matrix (counts, row-normalised colours) as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    ax.imshow(matrix / rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix: {title}")
    if len(classes) <= 30:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                shade = "white" if matrix[i, j] / rows[i, 0] > 0.5 else "black"
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", color=shade, fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _add_image(tb_logger: Any, tag: str, png: bytes, step: int) -> None:
    import io

    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    tb_logger.experiment.add_image(tag, image, global_step=step, dataformats="HWC")
    tb_logger.experiment.flush()
