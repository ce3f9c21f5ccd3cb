"""Rows of the spectra table from one file's paired scans: peaks, settings, labels, problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from trainlab.data.spectra.instrument import raw_settings
from trainlab.data.spectra.pairing import Pair
from trainlab.data.spectra.scans import Scan, parse_label
from trainlab.data.spectra.schema import N_INSTRUMENT_SETTINGS, SPECTRA_SCHEMA, RowProblem


class RowBuilder:
    """Collects one row per paired MS2 scan, or a :class:`RowProblem` when it cannot be a row.

    Args:
        path: the input file.
        dataset_id: value of the ``dataset_id`` column.
        identified: file position of each identified MS2 scan -> compound name (from a labels
            CSV or identification files; every other scan is unlabeled). None: labels come
            from each scan's label column.
    """

    def __init__(self, path: Path, dataset_id: str, identified: dict[int, str] | None) -> None:
        self.path, self.dataset_id, self.identified = path, dataset_id, identified
        self.columns: dict[str, list] = {name: [] for name in SPECTRA_SCHEMA.names}
        self.raw: list[np.ndarray] = []
        self.positions: list[int] = []
        self.problems: list[RowProblem] = []

    def add(self, pair: Pair) -> None:
        """One row from an MS2 scan and its MS1 scan (already compacted: filtered peaks)."""
        scan, ms1 = pair.ms2, pair.ms1
        polarity = scan.polarity if scan.polarity is not None else getattr(ms1, "polarity", None)
        label, compound = self._label(scan)
        if ms1 is None:
            return self._problem(scan, "mz_array", "no MS1 scan of its polarity acquired before it")
        if polarity is None:
            return self._problem(scan, "instrument_settings", "polarity is not given")
        if scan.precursor_mz is None:
            return self._problem(scan, "precursor_mz", "precursor m/z is not given")
        if label is None:
            return self._problem(scan, "label", f"{scan.label!r} is not 1/0 or true/false")
        raw = _settings(ms1, scan, polarity, pair.scans_since)
        self.raw.append(raw)
        self.positions.append(scan.position)
        values = {
            "ms1_scan_number": ms1.scan_number,
            "ms2_scan_number": scan.scan_number,
            "mz_array": ms1.mz,
            "intensity_array": ms1.intensity,
            # standardised when written; the raw one-hot part lets the rows be checked now
            "instrument_settings": np.nan_to_num(raw).astype(np.float32),
            "precursor_mz": scan.precursor_mz,
            "label": label,
            "compound_name": compound,
            "source_file": self.path.name,
            "dataset_id": self.dataset_id,
            "mzml_filepath": scan.mzml_filepath or str(self.path.resolve()),
        }
        for name, value in values.items():
            self.columns[name].append(value)

    def _problem(self, scan: Scan, column: str, message: str) -> None:
        self.problems.append(
            RowProblem(scan.position, column, f"scan {scan.scan_number}: {message}")
        )

    def _label(self, scan: Scan) -> tuple[float | None, str]:
        if self.identified is not None:
            if scan.position in self.identified:
                return 1.0, self.identified[scan.position] or scan.compound_name or ""
            return 0.0, scan.compound_name or ""
        if scan.label is None:
            return 0.0, scan.compound_name or ""
        return parse_label(scan.label), scan.compound_name or ""

    def finish(self) -> tuple[pa.Table, np.ndarray, list[int], list[RowProblem]]:
        """(rows, raw settings, file position of each row, problems)."""
        arrays = [
            pa.array(
                [np.asarray(v) for v in self.columns[f.name]]
                if pa.types.is_list(f.type)
                else self.columns[f.name],
                type=f.type,
            )
            for f in SPECTRA_SCHEMA
        ]
        raw = np.stack(self.raw) if self.raw else np.zeros((0, N_INSTRUMENT_SETTINGS))
        return (
            pa.Table.from_arrays(arrays, schema=SPECTRA_SCHEMA),
            raw,
            self.positions,
            self.problems,
        )


def _log10(value: float | None) -> float | None:
    return float(np.log10(value)) if value is not None and value > 0 else None


def _settings(ms1: Scan, ms2: Scan, polarity: int, scans_since: int | None) -> np.ndarray:
    seconds = None
    if ms1.retention_time_s is not None and ms2.retention_time_s is not None:
        seconds = ms2.retention_time_s - ms1.retention_time_s
    numeric = {
        "ms1_retention_time_min": None
        if ms1.retention_time_s is None
        else ms1.retention_time_s / 60.0,
        "ms1_injection_time_ms": ms1.injection_time_ms,
        "ms1_log10_total_ion_current": _log10(ms1.total_ion_current),
        "ms1_log10_base_peak_intensity": _log10(ms1.base_peak_intensity),
        "ms1_scan_window_lower_mz": ms1.window_lower,
        "ms1_scan_window_upper_mz": ms1.window_upper,
        "ms1_log10_peak_count": float(np.log10(1 + (ms1.peak_count or 0))),
        "ms2_injection_time_ms": ms2.injection_time_ms,
        "ms2_collision_energy": ms2.collision_energy,
        "isolation_window_width": ms2.isolation_width,
        "precursor_charge": ms2.precursor_charge,
        "precursor_log10_intensity": _log10(ms2.precursor_intensity),
        "scans_since_ms1": scans_since,
        "seconds_since_ms1": seconds,
    }
    categorical = {
        "polarity": "positive" if polarity == 1 else "negative",
        "activation": ms2.activation if ms2.activation in ("cid", "hcd") else None,
        "ms1_spectrum_type": ms1.spectrum_type
        if ms1.spectrum_type in ("centroid", "profile")
        else None,
        "ms2_spectrum_type": ms2.spectrum_type
        if ms2.spectrum_type in ("centroid", "profile")
        else None,
    }
    return raw_settings(numeric, categorical)
