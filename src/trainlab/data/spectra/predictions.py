"""The prediction CSV of the spectrum-quality model, with an optional decision threshold."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from trainlab.data.spectra.schema import POLARITY_NAMES, polarity_of
from trainlab.data.spectra.store import as_schema_types, flat_settings
from trainlab.errors import DataError
from trainlab.io import atomic_write_json, atomic_write_text

COLUMNS = [
    "index",
    "probability",
    "label",
    "polarity",
    "source_file",
    "ms1_scan_number",
    "ms2_scan_number",
]


def decision_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    threshold: float | None,
    quantile: float | None,
) -> float | None:
    """The given threshold, or the ``quantile`` of the labelled positives' probabilities."""
    if quantile is None:
        return threshold
    known = probabilities[labels == 1]
    if known.size == 0:
        raise DataError(
            f"threshold_quantile={quantile} needs labelled positives (label 1) in the predicted "
            "table; it has none: set data.threshold instead"
        )
    return float(np.quantile(known, quantile))


def write_prediction_files(
    dataset,
    index: np.ndarray,
    probabilities: np.ndarray,
    out_dir: Path,
    threshold: float | None = None,
    threshold_quantile: float | None = None,
) -> list[Path]:
    """Write ``predictions.csv`` (and ``threshold.json`` when thresholding); return the paths."""
    order = np.argsort(index, kind="stable")
    index, probabilities = np.asarray(index)[order], np.asarray(probabilities)[order]
    table = dataset.take(
        index,
        columns=[
            "label",
            "instrument_settings",
            "source_file",
            "ms1_scan_number",
            "ms2_scan_number",
        ],
    )
    table = as_schema_types(table, str(dataset.uri))
    labels = table.column("label").to_numpy()
    polarity = polarity_of(flat_settings(table.column("instrument_settings"), len(index)))
    cut = decision_threshold(probabilities, labels, threshold, threshold_quantile)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS + (["predicted"] if cut is not None else []))
    columns = zip(
        index.tolist(),
        probabilities.tolist(),
        labels.tolist(),
        polarity.tolist(),
        table.column("source_file").to_pylist(),
        table.column("ms1_scan_number").to_pylist(),
        table.column("ms2_scan_number").to_pylist(),
        strict=True,
    )
    for row, prob, label, pol, source, ms1, ms2 in columns:
        name = POLARITY_NAMES.get(pol, "unknown")
        line = [row, f"{prob:.6f}", int(label), name, source, ms1, ms2]
        writer.writerow(line + ([int(prob >= cut)] if cut is not None else []))
    written = [atomic_write_text(out_dir / "predictions.csv", buffer.getvalue())]
    if cut is not None:
        summary = {
            "threshold": cut,
            "source": "given" if threshold_quantile is None else "labelled positives",
            "quantile": threshold_quantile,
            "n_predicted_identified": int((probabilities >= cut).sum()),
            "n_rows": len(index),
        }
        written.append(atomic_write_json(out_dir / "threshold.json", summary))
    return written
