"""The prediction CSV of the spectrum-quality model, with an optional decision threshold."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
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


def decision_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    polarity: np.ndarray,
    threshold: float | Mapping[str, float] | None,
    quantile: float | None,
) -> dict[int, float] | None:
    """One cut per polarity present: the given threshold, or the ``quantile`` of that
    polarity's labelled positives' probabilities.

    Per polarity because everything else PU is (priors, labelled shares, the non-negative
    correction): one quantile over both modes kept 95.7 % of the positive mode's labelled
    positives and 91.9 % of the negative mode's at threshold_quantile=0.05 (3-epoch nnPU,
    synthetic validation table), not 95 % of each.
    """
    present = [int(p) for p in np.unique(polarity)]
    if quantile is None and threshold is None:
        return None
    if quantile is None:
        if not isinstance(threshold, Mapping):
            return {p: float(threshold) for p in present}
        by_name = {str(k): float(v) for k, v in threshold.items()}
        unknown = sorted(set(by_name) - set(POLARITY_NAMES.values()))
        missing = [POLARITY_NAMES.get(p, str(p)) for p in present]
        missing = [name for name in missing if name not in by_name]
        if unknown or missing:
            raise DataError(
                f"data.threshold={dict(threshold)} must give a number for each polarity of the "
                f"predicted rows ({', '.join(POLARITY_NAMES.get(p, str(p)) for p in present)})"
                + (f"; it lacks {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + " (names: positive, negative), or one number for all"
            )
        return {p: by_name[POLARITY_NAMES[p]] for p in present}
    cuts = {}
    for p in present:
        known = probabilities[(labels == 1) & (polarity == p)]
        if known.size == 0:
            name = POLARITY_NAMES.get(p, str(p))
            raise DataError(
                f"threshold_quantile={quantile} needs labelled positives (label 1) of each "
                f"polarity in the predicted table; its {name}-mode rows have none. Fix: predict "
                f"the other polarity alone (+data.polarity=...), or set data.threshold "
                "(a number, or one per polarity: {negative: 0.3, positive: 0.4})"
            )
        cuts[p] = float(np.quantile(known, quantile))
    return cuts


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
    cuts = decision_thresholds(probabilities, labels, polarity, threshold, threshold_quantile)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS + (["predicted"] if cuts is not None else []))
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
        writer.writerow(line + ([int(prob >= cuts[pol])] if cuts is not None else []))
    written = [atomic_write_text(out_dir / "predictions.csv", buffer.getvalue())]
    if cuts is not None:
        by_polarity = {}
        for p, cut in cuts.items():
            rows = polarity == p
            by_polarity[POLARITY_NAMES.get(p, str(p))] = {
                "threshold": cut,
                "n_rows": int(rows.sum()),
                "n_labelled_positives": int((rows & (labels == 1)).sum()),
                "n_predicted_identified": int((rows & (probabilities >= cut)).sum()),
            }
        values = set(cuts.values())
        summary = {
            # one number when one cut applies to every row; else one per polarity, the form
            # data.threshold takes to apply them to another table
            "threshold": values.pop()
            if len(values) == 1
            else {name: b["threshold"] for name, b in by_polarity.items()},
            "source": "given" if threshold_quantile is None else "labelled positives, per polarity",
            "quantile": threshold_quantile,
            "n_predicted_identified": sum(
                b["n_predicted_identified"] for b in by_polarity.values()
            ),
            "n_rows": len(index),
            "by_polarity": by_polarity,
        }
        written.append(atomic_write_json(out_dir / "threshold.json", summary))
    return written
