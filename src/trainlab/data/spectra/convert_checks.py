"""Plausibility checks on one converted file's rows, for the convert report.

A wrong MS1/MS2 pairing does not break the schema: it shows as negative or long times since the
MS1 scan, one MS1 scan for every row, or MS1 settings that do not vary. These checks count such
signs and turn them into warnings; they do not reject the file (a short run can be constant).
"""

from __future__ import annotations

import numpy as np

from trainlab.data.spectra.instrument import NUMERIC_SETTINGS

# MS1 settings that change from one survey scan to the next in any real run: constant values
# over many rows mean every row got the same MS1 scan
VARYING_SETTINGS = (
    "ms1_retention_time_min",
    "ms1_log10_total_ion_current",
    "ms1_log10_base_peak_intensity",
    "seconds_since_ms1",
)
_SECONDS = NUMERIC_SETTINGS.index("seconds_since_ms1")


def constant_settings(raw: np.ndarray) -> list[str]:
    """Numeric settings given in at least two rows whose given values are all equal."""
    raw = np.asarray(raw, dtype=np.float64)
    names = []
    for i, name in enumerate(NUMERIC_SETTINGS):
        values = raw[:, i][np.isfinite(raw[:, i])]
        if len(values) >= 2 and np.ptp(values) == 0:
            names.append(name)
    return names


def check_rows(
    raw: np.ndarray, ms1_numbers: list[int], summary: dict, max_seconds_since_ms1: float
) -> dict:
    """Counts and warnings for one file's rows.

    Args:
        raw: ``(N, 22)`` raw (not standardised) settings of the rows.
        ms1_numbers: the MS1 scan number of each row.
        summary: the pairing summary of :func:`trainlab.data.spectra.pairing.pair_scans`.
        max_seconds_since_ms1: longer times since the MS1 scan count as implausible.
    """
    raw = np.asarray(raw, dtype=np.float64)
    seconds = raw[:, _SECONDS] if len(raw) else np.zeros(0)
    seconds = seconds[np.isfinite(seconds)]
    negative = int((seconds < 0).sum())
    long = int((seconds > max_seconds_since_ms1).sum())
    constant = constant_settings(raw) if len(raw) else []
    distinct = len(set(ms1_numbers))
    checks = {
        "rows": len(raw),
        "distinct_ms1_scans": distinct,
        "seconds_since_ms1": _spread(seconds),
        "negative_seconds_since_ms1": negative,
        "long_seconds_since_ms1": long,
        "constant_settings": constant,
        "warnings": [],
    }
    warnings = checks["warnings"]
    if negative:
        warnings.append(
            f"{negative} row(s) have a negative time since their MS1 scan (the MS1 scan was "
            "acquired after the MS2 scan): the precursor spectrumRef or the scan start times "
            "of the file are wrong"
        )
    if long:
        warnings.append(
            f"{long} row(s) are more than {max_seconds_since_ms1:g} s after their MS1 scan "
            "(max_seconds_since_ms1): MS1 scans are missing from the file or not paired"
        )
    if len(raw) >= 2 and distinct == 1 and summary.get("ms1_scans", 0) > 1:
        warnings.append(
            f"all {len(raw)} rows got the same MS1 scan although the file has "
            f"{summary['ms1_scans']} MS1 scans"
        )
    suspicious = [name for name in constant if name in VARYING_SETTINGS]
    if suspicious and len(raw) >= 10:
        warnings.append(
            f"settings with zero variance over {len(raw)} rows that vary in real runs: "
            f"{', '.join(suspicious)}"
        )
    return checks


def _spread(values: np.ndarray) -> dict[str, float] | None:
    if not len(values):
        return None
    return {
        "min": round(float(values.min()), 4),
        "median": round(float(np.median(values)), 4),
        "max": round(float(values.max()), 4),
    }
