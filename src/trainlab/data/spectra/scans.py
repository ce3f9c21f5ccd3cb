"""Scans read from MGF and mzML files (pyteomics) into one plain record type.

mzML gives everything from its cvParams; scan numbers come from the nativeID
(:mod:`trainlab.data.spectra.native_ids`), else the spectrum's index + 1, and the precursor's
``spectrumRef`` names the MS1 scan it was selected from. MGF entries use these parameters
(case-insensitive): ``MSLEVEL`` (default 2), ``SCANS`` (else the scan in ``TITLE``: a
``NativeID:"..."`` part, ``scan=N`` or a TPP ``base.start.end.charge`` title, else the entry's
position + 1; a range or list of summed scans reads as its first),
``PEPMASS``, ``CHARGE``, ``IONMODE`` or ``POLARITY`` (else the sign of ``CHARGE``),
``RTINSECONDS`` (a range ``start-end`` of summed spectra reads as its start),
``ION_INJECTION_TIME``, ``COLLISION_ENERGY``, ``ACTIVATION`` (CID or HCD),
``ISOLATION_WIDTH``, ``SPECTRUM_TYPE`` (centroid or profile), ``SCAN_WINDOW_LOWER``,
``SCAN_WINDOW_UPPER``, ``COMPOUND_NAME`` or ``NAME``, ``MZML_FILEPATH``, and the label column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.spectra.native_ids import (
    NativeId,
    native_id_in_title,
    parse_native_id,
    scan_from_title,
)
from trainlab.data.spectra.schema import MAX_PEAKS, MIN_RELATIVE_INTENSITY, NEGATIVE, POSITIVE

_TRUE = {"1", "1.0", "true", "yes", "y", "identified", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "unlabeled", "unlabelled", "f", ""}
# PSI-MS dissociation terms, the more specific children first (MS:1002481 is HCD proper)
_ACTIVATIONS = {
    "higher energy beam-type collision-induced dissociation": "hcd",
    "beam-type collision-induced dissociation": "hcd",
    "trap-type collision-induced dissociation": "cid",
    "collision-induced dissociation": "cid",
}
_NUMBER = r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
_RANGE = rf"(?:{_NUMBER})(?:\s*-\s*(?:{_NUMBER}))?"
# Matrix Science's MGF: RTINSECONDS and SCANS of summed spectra are a range or list of ranges
_RANGE_LIST = re.compile(rf"\s*({_NUMBER})(?:\s*-\s*(?:{_NUMBER}))?(?:\s*,\s*{_RANGE})*\s*")


@dataclass
class Scan:
    """One MS1 or MS2 scan with the fields the spectra table needs; None where unknown."""

    position: int
    scan_number: int
    ms_level: int
    mz: np.ndarray
    intensity: np.ndarray
    polarity: int | None = None
    retention_time_s: float | None = None
    injection_time_ms: float | None = None
    total_ion_current: float | None = None
    base_peak_intensity: float | None = None
    window_lower: float | None = None
    window_upper: float | None = None
    spectrum_type: str | None = None
    precursor_mz: float | None = None
    precursor_charge: int | None = None
    precursor_intensity: float | None = None
    collision_energy: float | None = None
    activation: str | None = None
    isolation_width: float | None = None
    label: str | None = None
    compound_name: str | None = None
    mzml_filepath: str | None = None
    # the spectrum's own identifier (mzML nativeID, MGF NativeID in the title)
    native_id: str | None = None
    # the precursor's spectrumRef: the nativeID of the MS1 scan it was selected from
    precursor_ref: str | None = None
    # whether scan_number counts acquisitions over the file (Thermo/scan=/spectrum= forms)
    number_ordered: bool = False
    # peaks in the raw spectrum (set when the peaks are filtered or dropped)
    peak_count: int | None = None
    # raw peaks whose m/z repeats one before them (merged by `merge_repeated_mz`)
    repeated_mz: int = 0
    # an MS1 spectrum without a centroid/profile flag whose peaks are spaced as profile data
    looks_profile: bool = False


def filter_peaks(
    mz: np.ndarray,
    intensity: np.ndarray,
    max_peaks: int = MAX_PEAKS,
    min_relative_intensity: float = MIN_RELATIVE_INTENSITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep peaks at >= ``min_relative_intensity`` of the base peak, the ``max_peaks`` most
    intense of them, sorted by m/z; intensities become sqrt(intensity / base peak)."""
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    keep = np.isfinite(mz) & np.isfinite(intensity) & (intensity > 0)
    mz, intensity = mz[keep], intensity[keep]
    if len(mz) == 0:
        return mz.astype(np.float32), intensity.astype(np.float32)
    relative = intensity / intensity.max()
    keep = relative >= min_relative_intensity
    mz, relative = mz[keep], relative[keep]
    if len(mz) > max_peaks:
        top = np.argpartition(-relative, max_peaks - 1)[:max_peaks]
        mz, relative = mz[top], relative[top]
    order = np.argsort(mz, kind="stable")
    return mz[order].astype(np.float32), np.sqrt(relative[order]).astype(np.float32)


def merge_repeated_mz(mz: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(m/z, intensity, repeats): peaks of one exact m/z become one with the summed intensity.

    In a centroid spectrum an m/z given twice is one m/z position reported twice (spectra summed
    or appended by a converter); the ion current there is the sum (the TIC does not change).
    Kept apart they take two of the ``MAX_PEAKS`` places, give the model two tokens of one m/z,
    and each looks weaker against the base peak than the peak is.
    """
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    unique, inverse = np.unique(mz, return_inverse=True)
    repeats = len(mz) - len(unique)
    if not repeats:
        return mz, intensity, 0
    return unique, np.bincount(inverse, weights=intensity, minlength=len(unique)), repeats


# Profile data samples each peak 10-20 times, a few mDa apart (an Orbitrap at m/z 400: ~6 mDa);
# centroid MS1 peaks are isotopes or other ions, >= 0.05 Th apart but for chance neighbours.
PROFILE_MEDIAN_SPACING = 0.01
PROFILE_MIN_POINTS = 50


def looks_like_profile(mz: np.ndarray) -> bool:
    """Whether raw peaks are spaced as profile data (median m/z step < 0.01 over >= 50)."""
    mz = np.sort(np.asarray(mz, dtype=np.float64))
    return len(mz) >= PROFILE_MIN_POINTS and float(np.median(np.diff(mz))) < PROFILE_MEDIAN_SPACING


def parse_label(value: object) -> float | None:
    """1.0 or 0.0 from a label cell (1/0, true/false, yes/no); None when it is not a label."""
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    return None


def _polarity_word(value: object) -> int | None:
    text = str(value).strip().lower()
    if text in {"positive", "pos", "+", "1", "p"}:
        return POSITIVE
    if text in {"negative", "neg", "-", "0", "n"}:
        return NEGATIVE
    return None


def _float(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _scan_number(parsed: NativeId | None, position: int) -> tuple[int, bool]:
    """(scan number, whether it counts acquisitions); position + 1 when the id has none."""
    if parsed is not None and parsed.number is not None:
        return parsed.number, parsed.acquisition_ordered
    return position + 1, False


def read_mzml(path: str | Path, label_column: str | None = None) -> Iterator[Scan]:
    """Yield every spectrum of an mzML file as a :class:`Scan`, in file order."""
    from pyteomics import mzml

    class _Reader(mzml.MzML):
        def _determine_compression(self, info: dict) -> str:
            found = super()._determine_compression(info)
            if found == "no compression":  # pyteomics' answer for terms it cannot decode too
                _refuse_unknown_compression(info)
            return found

        def _decompress(self, source: bytes, compression_type: str | None = None) -> bytes:
            if compression_type == "zlib compression":
                return inflate_array(source)
            return super()._decompress(source, compression_type)

    rt_unit = rt_unit_in_file(path)
    with _Reader(str(path), decode_binary=True, use_index=False) as reader:
        for position, spectrum in enumerate(reader):
            yield _mzml_scan(spectrum, position, label_column, rt_unit)


# Unit Ontology terms for time, as mzML names the unit of "scan start time" (MS:1000016)
_TIME_UNITS = {"uo:0000010": "second", "uo:0000031": "minute", "uo:0000032": "hour"}
_TIME_FACTORS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_START_TIME_PARAM = re.compile(rb"<cvParam\b[^>]*accession=\"MS:1000016\"[^>]*>")
_ATTRIBUTE = re.compile(rb'(unitAccession|unitName)="([^"]*)"')
_SNIFF_BYTES = 64 << 20


def rt_unit_in_file(path: str | Path) -> str | None:
    """The unit of the file's first "scan start time", read from the XML itself.

    pyteomics keeps the unit only when the cvParam has ``unitCvRef`` or ``unitName``; with
    ``unitAccession`` alone (schema-valid) the value comes back without one, and seconds
    would be read as minutes (60x too late). None: the file gives no unit, or no start time
    within its first 64 MB.
    """
    with Path(path).open("rb") as handle:
        tail, read = b"", 0
        while read < _SNIFF_BYTES:
            chunk = handle.read(1 << 20)
            if not chunk:
                return None
            read += len(chunk)
            found = _START_TIME_PARAM.search(tail + chunk)
            if found:
                attributes = dict(_ATTRIBUTE.findall(found.group(0)))
                accession = attributes.get(b"unitAccession", b"").decode().lower()
                name = attributes.get(b"unitName", b"").decode().lower()
                return _TIME_UNITS.get(accession) or (name if name in _TIME_FACTORS else None)
            tail = chunk[-4096:]
    return None


# 2**24 values (128 MiB as float64): far above a profile MS1 spectrum (about 10**5 to 10**6
# points), far below what a hostile file can declare: zeros deflate ~1000:1, so a 0.5 MB mzML
# held a 50 M-point array (400 MB decoded, 0.9 GB peak memory), and 5 MB would hold 4 GB
MAX_ARRAY_BYTES = 8 << 24


def inflate_array(source: bytes) -> bytes:
    """A zlib-compressed binary array, inflated to at most ``MAX_ARRAY_BYTES`` (else refused)."""
    import zlib

    inflater = zlib.decompressobj()
    data = inflater.decompress(source, MAX_ARRAY_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(
            f"a zlib-compressed binary array inflates to more than {MAX_ARRAY_BYTES >> 23} M "
            "values (8-byte), far more than any spectrum holds: the file is damaged or made to "
            "exhaust memory; convert the raw file again"
        )
    return data


def _refuse_unknown_compression(info: dict) -> None:
    """Raise when a binary array names a compression pyteomics cannot decode: it would read the
    compressed bytes as plain floats (MS-Numpress without the pynumpress package)."""
    names = list(info) + list(info.get("name") or [])
    unknown = [str(n) for n in names if "compression" in str(n).lower()]
    if unknown:
        raise ValueError(
            f"its binary arrays use {unknown[0]!r}, which cannot be decoded here (MS-Numpress "
            "needs the pynumpress package): install pynumpress, or convert the raw file again "
            "without numpress (msconvert without --numpressAll/--numpressLinear)"
        )


def _mzml_scan(
    spectrum: dict, position: int, label_column: str | None, rt_unit: str | None = None
) -> Scan:
    scan_params = (spectrum.get("scanList") or {}).get("scan") or [{}]
    scan = scan_params[0]
    windows = (scan.get("scanWindowList") or {}).get("scanWindow") or [{}]
    precursors = (spectrum.get("precursorList") or {}).get("precursor") or [{}]
    precursor = precursors[0]
    ions = (precursor.get("selectedIonList") or {}).get("selectedIon") or [{}]
    ion = ions[0]
    isolation = precursor.get("isolationWindow") or {}
    activation = precursor.get("activation") or {}
    polarity = (
        POSITIVE
        if "positive scan" in spectrum
        else NEGATIVE
        if "negative scan" in spectrum
        else None
    )
    width = None
    lower, upper = (
        _float(isolation.get("isolation window lower offset")),
        _float(isolation.get("isolation window upper offset")),
    )
    if lower is not None and upper is not None:
        width = lower + upper
    kind = next((kind for term, kind in _ACTIVATIONS.items() if term in activation), None)
    charge = _float(ion.get("charge state"))
    native_id = spectrum.get("id")
    number, ordered = _scan_number(parse_native_id(native_id), int(spectrum.get("index", position)))
    return Scan(
        position=position,
        scan_number=number,
        number_ordered=ordered,
        native_id=None if native_id is None else str(native_id),
        precursor_ref=precursor.get("spectrumRef"),
        ms_level=_ms_level(spectrum),
        mz=np.asarray(spectrum.get("m/z array", []), dtype=np.float64),
        intensity=np.asarray(spectrum.get("intensity array", []), dtype=np.float64),
        polarity=polarity,
        retention_time_s=_seconds(scan.get("scan start time"), rt_unit),
        injection_time_ms=_float(scan.get("ion injection time")),
        total_ion_current=_float(spectrum.get("total ion current")),
        base_peak_intensity=_float(spectrum.get("base peak intensity")),
        window_lower=_float(windows[0].get("scan window lower limit")),
        window_upper=_float(windows[0].get("scan window upper limit")),
        spectrum_type="centroid"
        if "centroid spectrum" in spectrum
        else "profile"
        if "profile spectrum" in spectrum
        else None,
        precursor_mz=_float(ion.get("selected ion m/z")),
        precursor_charge=None if charge is None else int(charge),
        precursor_intensity=_float(ion.get("peak intensity")),
        collision_energy=_float(activation.get("collision energy")),
        activation=kind,
        isolation_width=width,
        label=None if label_column is None else spectrum.get(label_column),
    )


def _ms_level(spectrum: dict) -> int:
    """The spectrum's "ms level"; 1 when it gives none and has no precursor.

    An MS2 spectrum without "ms level" was read as MS1: the MS2 scans after it were paired with
    its fragment peaks as their MS1 spectrum, and the file was written without a word.
    """
    level = _float(spectrum.get("ms level"))
    if level is not None:
        return int(level)
    if "MS1 spectrum" in spectrum:
        return 1
    if (spectrum.get("precursorList") or {}).get("precursor") or "MSn spectrum" in spectrum:
        raise ValueError(
            f"spectrum {spectrum.get('id')!r} gives no 'ms level' (MS:1000511) but has a "
            "precursor: read as MS1, it would be paired as the MS1 spectrum of the MS2 scans "
            "after it. Add its 'ms level', or convert the raw file again with msconvert (it "
            "writes one for every spectrum)"
        )
    return 1


def _seconds(value: object, file_unit: str | None = None) -> float | None:
    """A scan start time in seconds: its own unit, else the file's (`rt_unit_in_file`), else
    minutes (what converters write when they give none)."""
    number = _float(value)
    if number is None:
        return None
    unit = str(getattr(value, "unit_info", None) or file_unit or "minute").lower()
    unit = _TIME_UNITS.get(unit, unit)
    factor = next((f for name, f in _TIME_FACTORS.items() if unit.startswith(name)), None)
    if factor is None:
        raise ValueError(
            f"scan start time {number} is in {unit!r}, not seconds, minutes or hours; "
            "convert the file again with msconvert (it writes minutes)"
        )
    return number * factor


def read_mgf(path: str | Path, label_column: str | None = None) -> Iterator[Scan]:
    """Yield every entry of an MGF file as a :class:`Scan`, in file order."""
    from pyteomics import mgf

    class _Reader(mgf.MGF):
        def _read_spectrum(self):  # pyteomics reads RTINSECONDS as one float
            return self._read_spectrum_lines(_rt_range_starts(self._source))

    key = None if label_column is None else label_column.lower()
    with _Reader(str(path), read_charges=True, convert_arrays=1) as reader:
        for position, entry in enumerate(reader):
            if entry is None:  # pyteomics' answer for a last entry without END IONS
                raise ValueError(
                    "the file ends inside an entry (BEGIN IONS without END IONS): it is cut "
                    "short, e.g. by an interrupted download or copy; get a complete copy"
                )
            params = {k.lower(): v for k, v in entry.get("params", {}).items()}
            yield _mgf_scan(entry, params, position, key)


def _rt_range_starts(lines: Iterable[str]) -> Iterator[str]:
    """MGF lines with ``RTINSECONDS=<start>-<end>[,...]`` (Matrix Science: for summed spectra
    a range or list, e.g. ``257-259,264``) as ``RTINSECONDS=<start>``."""
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip().upper() == "RTINSECONDS" and _float(value) is None:
            start = range_start(value)
            if start is None:
                raise ValueError(
                    f"RTINSECONDS={value.strip()!r} is neither seconds nor a range or list of "
                    "them ('257-259,264'); fix or remove that line"
                )
            line = f"RTINSECONDS={start}\n"
        yield line


def range_start(value: object) -> str | None:
    """The first number of an MGF range or list (``257-259,264`` -> ``257``); None otherwise."""
    match = _RANGE_LIST.fullmatch(str(value))
    return match.group(1) if match else None


def _mgf_scan(entry: dict, params: dict, position: int, label_key: str | None) -> Scan:
    pepmass = params.get("pepmass") or (None, None)
    charges = params.get("charge")
    charge = int(charges[0]) if charges is not None and len(charges) else None
    polarity = _polarity_word(params.get("ionmode", params.get("polarity", "")))
    if polarity is None and charge:
        polarity = POSITIVE if charge > 0 else NEGATIVE
    activation = str(params.get("activation", "")).strip().lower() or None
    spectrum_type = str(params.get("spectrum_type", "")).strip().lower() or None
    scans = params.get("scans")
    title = params.get("title")
    parsed = parse_native_id(range_start(scans) or scans) if scans else scan_from_title(title)
    number, ordered = _scan_number(parsed, position)
    return Scan(
        position=position,
        scan_number=number,
        number_ordered=ordered,
        native_id=native_id_in_title(title),
        ms_level=int(_float(params.get("mslevel")) or 2),
        mz=np.asarray(entry.get("m/z array", []), dtype=np.float64),
        intensity=np.asarray(entry.get("intensity array", []), dtype=np.float64),
        polarity=polarity,
        retention_time_s=_float(params.get("rtinseconds")),
        injection_time_ms=_float(params.get("ion_injection_time")),
        window_lower=_float(params.get("scan_window_lower")),
        window_upper=_float(params.get("scan_window_upper")),
        spectrum_type=spectrum_type,
        precursor_mz=_float(pepmass[0]),
        precursor_charge=None if charge is None else abs(charge),
        precursor_intensity=_float(pepmass[1]) if len(pepmass) > 1 else None,
        collision_energy=_float(params.get("collision_energy")),
        activation=activation,
        isolation_width=_float(params.get("isolation_width")),
        label=None if label_key is None else params.get(label_key),
        compound_name=params.get("compound_name", params.get("name")),
        mzml_filepath=params.get("mzml_filepath"),
    )
