"""A flat feature matrix of a spectra table for linear baselines: the 22 instrument settings and
the precursor m/z, one row per MS2 scan, with the PU labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.data.spectra.instrument import SETTING_NAMES
from trainlab.data.spectra.schema import polarity_of
from trainlab.data.spectra.store import flat_settings, read_spectra

FEATURE_NAMES = (*SETTING_NAMES, "precursor_mz")


def baseline_features(
    root: str | Path, table: str, polarity: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of ``<root>/<table>``: X is ``(N, 23)`` float32 (settings as stored, already
    standardised, then precursor m/z; names in ``FEATURE_NAMES``), y the 1/0 labels. Rows are
    in table order; ``polarity`` (1 positive, 0 negative) keeps one polarity as the
    DataModule's ``data.polarity`` does."""
    rows = read_spectra(root, table, columns=["instrument_settings", "precursor_mz", "label"])
    settings = flat_settings(rows.column("instrument_settings"), rows.num_rows)
    precursor = rows.column("precursor_mz").to_numpy().astype(np.float32)
    x = np.concatenate([settings, precursor[:, None]], axis=1)
    y = rows.column("label").to_numpy().astype(np.float32)
    if polarity is not None:
        keep = polarity_of(settings) == int(polarity)
        x, y = x[keep], y[keep]
    return x, y
