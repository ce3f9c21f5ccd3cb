"""MS2 scan -> the MS1 scan its precursor was selected from, whatever order the file stores them.

Converters write spectra in different orders: some interleave MS1 and MS2 as acquired, others
store every MS1 spectrum first and the MS2 spectra after them. Pairing by file order then gives
every MS2 scan the last MS1 scan of the file (a real run: 1,120 MS2 rows, one MS1 scan, negative
"seconds since MS1"). So each MS2 scan is paired, in this order of preference, with

1. the MS1 scan its precursor's ``spectrumRef`` names (mzML), when that scan is in the file;
2. the latest MS1 scan of the same polarity by scan start time (at or before the MS2 scan);
3. only when the file gives no scan start times: the latest MS1 scan before it in the file.

An MS1 scan whose polarity the file does not give (MGF survey scans have no CHARGE and often no
IONMODE, while an MS2 entry's CHARGE=2+ gives its polarity) counts as either polarity.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from trainlab.data.spectra.scans import (
    Scan,
    filter_peaks,
    looks_like_profile,
    merge_repeated_mz,
)
from trainlab.data.spectra.schema import NEGATIVE, POSITIVE

BY_REFERENCE = "precursor spectrumRef"
BY_TIME = "scan start time"
BY_FILE_ORDER = "file order"


@dataclass
class Pair:
    """One MS2 scan with its MS1 scan (None: none found), how it was found and the number of
    scans acquired between them."""

    ms2: Scan
    ms1: Scan | None
    how: str
    scans_since: int | None = None


def compact(scan: Scan) -> Scan:
    """Keep what a row needs: an MS1 scan's filtered peaks (with TIC, base peak and peak count of
    the raw spectrum filled in), no peaks for MS2 scans. A file's scans then fit in memory."""
    raw = np.asarray(scan.intensity, dtype=np.float64)
    scan.peak_count = len(scan.mz)
    if scan.ms_level == 1:
        if len(scan.mz) != len(raw):  # e.g. an MGF peak line without its intensity
            raise ValueError(
                f"scan {scan.scan_number}: {len(scan.mz)} m/z values but {len(raw)} intensities; "
                "every peak needs both (an MGF peak line is '<m/z> <intensity>')"
            )
        if scan.spectrum_type is None:
            scan.looks_profile = looks_like_profile(scan.mz)
        scan.mz, raw, scan.repeated_mz = merge_repeated_mz(scan.mz, raw)
        scan.intensity = raw
        scan.peak_count = len(scan.mz)
        finite = raw[np.isfinite(raw)]
        if scan.total_ion_current is None and len(finite):
            scan.total_ion_current = float(finite.sum())
        if scan.base_peak_intensity is None and len(finite):
            scan.base_peak_intensity = float(finite.max())
        scan.mz, scan.intensity = filter_peaks(scan.mz, scan.intensity)
    else:
        scan.mz = scan.intensity = np.zeros(0, dtype=np.float32)
    return scan


class _Ms1Index:
    """MS1 scans of one polarity sorted by (scan start time, file position)."""

    def __init__(self, scans: list[Scan]) -> None:
        self.scans = sorted(scans, key=lambda s: (s.retention_time_s, s.position))
        self.times = [s.retention_time_s for s in self.scans]

    def latest_at(self, seconds: float) -> Scan | None:
        i = bisect.bisect_right(self.times, seconds)
        return self.scans[i - 1] if i else None


def pair_scans(scans: list[Scan]) -> tuple[list[Pair], dict]:
    """Pair every MS2 scan of one file (file order kept); returns the pairs and a summary:
    how many were paired each way, whether the file is stored in acquisition order, and the
    MS1 and MS2 counts."""
    ms1 = [s for s in scans if s.ms_level == 1]
    ms2 = [s for s in scans if s.ms_level == 2]
    by_id = {s.native_id: s for s in ms1 if s.native_id}
    timed = [s for s in ms1 if s.retention_time_s is not None]
    by_time = {None: _Ms1Index(timed)}
    for polarity in {s.polarity for s in scans if s.polarity is not None}:
        by_time[polarity] = _Ms1Index([s for s in timed if s.polarity in (polarity, None)])
    rank = _acquisition_rank(scans)
    pairs, last = [], {}
    refs_not_found = 0
    for scan in scans:  # file order: only used for the file-order fallback
        if scan.ms_level == 1:
            last[scan.polarity] = last[None] = scan
            if scan.polarity is None:
                last[POSITIVE] = last[NEGATIVE] = scan
            continue
        if scan.ms_level != 2:
            continue
        ms1_scan, how = None, BY_FILE_ORDER
        if scan.precursor_ref:
            ms1_scan = by_id.get(scan.precursor_ref)
            how = BY_REFERENCE
            refs_not_found += ms1_scan is None
        if ms1_scan is None and scan.retention_time_s is not None and timed:
            index = by_time[None] if scan.polarity is None else by_time.get(scan.polarity)
            ms1_scan = index.latest_at(scan.retention_time_s) if index else None
            how = BY_TIME
        if ms1_scan is None and (scan.retention_time_s is None or not timed):
            ms1_scan, how = last.get(scan.polarity), BY_FILE_ORDER
        pairs.append(Pair(scan, ms1_scan, how, _scans_since(scan, ms1_scan, rank)))
    counts = Counter(p.how for p in pairs if p.ms1 is not None)
    summary = {
        "ms1_scans": len(ms1),
        "ms2_scans": len(ms2),
        "stored_in_acquisition_order": _in_acquisition_order(scans),
        "paired_by": {how: counts.get(how, 0) for how in (BY_REFERENCE, BY_TIME, BY_FILE_ORDER)},
        "precursor_refs_not_in_file": refs_not_found,
    }
    return pairs, summary


def _acquisition_rank(scans: list[Scan]) -> dict[int, int]:
    """File position -> rank in acquisition order (scan start time, then file position)."""
    key = (
        (lambda s: (s.retention_time_s, s.position))
        if all(s.retention_time_s is not None for s in scans)
        else (lambda s: (0.0, s.position))
    )
    return {s.position: rank for rank, s in enumerate(sorted(scans, key=key))}


def _scans_since(ms2: Scan, ms1: Scan | None, rank: dict[int, int]) -> int | None:
    if ms1 is None:
        return None
    if ms2.number_ordered and ms1.number_ordered:
        return ms2.scan_number - ms1.scan_number
    return rank[ms2.position] - rank[ms1.position]


def _in_acquisition_order(scans: list[Scan]) -> bool | None:
    times = [s.retention_time_s for s in scans]
    if any(t is None for t in times):
        return None
    return bool(all(a <= b for a, b in itertools.pairwise(times)))
