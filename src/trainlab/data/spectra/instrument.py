"""The 22 instrument settings: what each slot holds and how numeric slots are standardised.

Slots 0-13 are numeric acquisition settings, z-scored with statistics kept beside the tables in
``<root>/instrument_standardization.json`` (fitted on the first conversion into a root, reused by
every later append so all rows share one scale). Slots 14-21 are four one-hot pairs; a pair whose
value the file does not give stays (0, 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainlab.data.spectra.schema import N_INSTRUMENT_SETTINGS, NEGATIVE_INDEX, POSITIVE_INDEX
from trainlab.errors import DataError
from trainlab.io import atomic_write_json

NUMERIC_SETTINGS = (
    "ms1_retention_time_min",
    "ms1_injection_time_ms",
    "ms1_log10_total_ion_current",
    "ms1_log10_base_peak_intensity",
    "ms1_scan_window_lower_mz",
    "ms1_scan_window_upper_mz",
    "ms1_log10_peak_count",
    "ms2_injection_time_ms",
    "ms2_collision_energy",
    "isolation_window_width",
    "precursor_charge",
    "precursor_log10_intensity",
    "scans_since_ms1",
    "seconds_since_ms1",
)
ONE_HOT_PAIRS = (
    ("polarity", ("negative", "positive")),
    ("activation", ("cid", "hcd")),
    ("ms1_spectrum_type", ("centroid", "profile")),
    ("ms2_spectrum_type", ("centroid", "profile")),
)
N_NUMERIC = len(NUMERIC_SETTINGS)
SETTING_NAMES = NUMERIC_SETTINGS + tuple(
    f"{pair}_{value}" for pair, values in ONE_HOT_PAIRS for value in values
)
STANDARDIZATION_FILE = "instrument_standardization.json"
assert len(SETTING_NAMES) == N_INSTRUMENT_SETTINGS
assert SETTING_NAMES[NEGATIVE_INDEX] == "polarity_negative"
assert SETTING_NAMES[POSITIVE_INDEX] == "polarity_positive"


def raw_settings(
    numeric: dict[str, float | None], categorical: dict[str, str | None]
) -> np.ndarray:
    """One raw settings vector: numeric values (NaN where unknown), then the one-hot pairs."""
    unknown = set(numeric) - set(NUMERIC_SETTINGS)
    if unknown:
        raise ValueError(f"unknown numeric settings {sorted(unknown)}")
    vector = np.zeros(N_INSTRUMENT_SETTINGS, dtype=np.float64)
    for i, name in enumerate(NUMERIC_SETTINGS):
        value = numeric.get(name)
        vector[i] = np.nan if value is None else float(value)
    slot = N_NUMERIC
    for pair, values in ONE_HOT_PAIRS:
        chosen = categorical.get(pair)
        if chosen is not None:
            if chosen not in values:
                raise ValueError(f"{pair} is {chosen!r}, expected one of {values}")
            vector[slot + values.index(chosen)] = 1.0
        slot += 2
    return vector


class Standardizer:
    """Z-scores the numeric slots; unknown values (NaN) become 0, the mean."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, raw: np.ndarray) -> Standardizer:
        """Fit on an ``(N, 22)`` raw settings array, ignoring NaN; constant slots get std 1."""
        numeric = np.asarray(raw, dtype=np.float64)[:, :N_NUMERIC]
        finite = np.isfinite(numeric)
        count = finite.sum(axis=0)
        filled = np.where(finite, numeric, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.zeros(N_NUMERIC), where=count > 0)
        squares = np.where(finite, (numeric - mean) ** 2, 0.0).sum(axis=0)
        var = np.divide(squares, count, out=np.ones(N_NUMERIC), where=count > 0)
        std = np.sqrt(var)
        std[std < 1e-12] = 1.0
        return cls(mean, std)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Standardised ``(N, 22)`` float32 settings from raw ones."""
        out = np.array(raw, dtype=np.float64, copy=True).reshape(-1, N_INSTRUMENT_SETTINGS)
        numeric = (out[:, :N_NUMERIC] - self.mean) / self.std
        out[:, :N_NUMERIC] = np.where(np.isfinite(numeric), numeric, 0.0)
        return out.astype(np.float32)

    def differences(self, other: Standardizer) -> list[str]:
        """The numeric settings whose statistics differ from ``other``'s, with both values."""
        found = []
        for i, name in enumerate(NUMERIC_SETTINGS):
            ours, theirs = (self.mean[i], self.std[i]), (other.mean[i], other.std[i])
            if not np.allclose(ours, theirs, rtol=1e-9, atol=0.0):
                found.append(
                    f"{name}: mean {ours[0]:.6g}, std {ours[1]:.6g} "
                    f"vs mean {theirs[0]:.6g}, std {theirs[1]:.6g}"
                )
        return found

    def to_dict(self) -> dict:
        """JSON form: slot names with their mean and standard deviation."""
        return {
            "settings": list(NUMERIC_SETTINGS),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the statistics atomically to ``path``."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Standardizer:
        """Read statistics written by :meth:`save`, checking the slot names match."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            names, mean, std = data["settings"], data["mean"], data["std"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
            # TypeError: JSON that is not an object; RecursionError: arrays nested ~1000 deep
            raise DataError(
                f"{path}: cannot read instrument standardisation ({type(err).__name__}: "
                f"{str(err)[:200]}); delete it to refit"
            ) from None
        if not isinstance(names, list) or tuple(names) != NUMERIC_SETTINGS:
            raise DataError(
                f"{path}: settings {names} do not match this version's {list(NUMERIC_SETTINGS)}"
            )
        return cls(_statistic(path, "mean", mean), _statistic(path, "std", std))


def _statistic(path: Path, key: str, values: object) -> np.ndarray:
    """The ``mean`` or ``std`` list of a statistics file: N_NUMERIC finite numbers, std > 0.

    ``transform`` turns a non-finite z-score into 0 (an unknown value): a NaN mean or a zero
    std in the file made every row's setting 0, and a negative std flipped its sign, with no
    word (the file is part of a root that may come from elsewhere).
    """
    numbers = isinstance(values, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    array = np.asarray(values, dtype=np.float64) if numbers else None
    if array is None or array.shape != (N_NUMERIC,):
        raise DataError(
            f"{path}: {key!r} must be a list of {N_NUMERIC} numbers, one per setting; got "
            f"{str(values)[:120]}. Delete the file to refit, or restore the original"
        )
    bad = ~np.isfinite(array) | (array <= 0 if key == "std" else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        need = "a finite number > 0" if key == "std" else "a finite number"
        raise DataError(
            f"{path}: {key} of {NUMERIC_SETTINGS[i]!r} is {float(array[i])}, not {need} "
            f"({int(bad.sum())} such value(s)): the setting would read as 0 in every row, or "
            "with its sign flipped. Delete the file to refit, or restore the original"
        )
    return array
