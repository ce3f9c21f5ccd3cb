"""The spectra tables as a plain feature matrix, for the linear baseline.

One row per MS2 scan: the 22 instrument settings (already standardised at conversion) and the
precursor m/z; no peaks. A model that cannot beat a logistic regression on these has learnt
nothing from the spectra themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab.data.spectra.store import as_schema_types, flat_settings

FEATURES = "22 instrument settings + precursor m/z"


def spectra_feature_matrix(uri: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 23) float64, labels (n,)) of the given rows of a Lance table."""
    import lance

    rows = np.asarray(rows, dtype=np.int64)
    table = lance.dataset(str(uri)).take(
        rows, columns=["instrument_settings", "precursor_mz", "label"]
    )
    table = as_schema_types(table, str(uri))
    settings = flat_settings(table.column("instrument_settings"), table.num_rows)
    precursor = table.column("precursor_mz").to_numpy().astype(np.float64)
    features = np.column_stack([settings.astype(np.float64), precursor])
    labels = table.column("label").to_numpy().astype(np.int64)
    # unknown settings may be NaN in hand-made tables: the mean after standardisation
    return np.nan_to_num(features, nan=0.0), labels


def spectra_polarities(uri: str, rows: np.ndarray) -> np.ndarray:
    """The polarity code (1 positive, 0 negative, -1 unknown) of the given rows of a table."""
    import lance

    from trainlab.data.spectra.schema import polarity_of

    rows = np.asarray(rows, dtype=np.int64)
    table = lance.dataset(str(uri)).take(rows, columns=["instrument_settings"])
    table = as_schema_types(table, str(uri))
    return polarity_of(flat_settings(table.column("instrument_settings"), table.num_rows))


def spectra_baseline_features(batches: Any) -> tuple[str, np.ndarray, np.ndarray, str]:
    """``("pu", features, labels, description)`` of a split's ``SpectraBatches``."""
    features, labels = spectra_feature_matrix(batches.uri, batches.rows)
    return "pu", features, labels, FEATURES
