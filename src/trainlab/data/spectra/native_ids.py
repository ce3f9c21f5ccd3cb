"""Scan numbers from spectrum identifiers: mzML nativeIDs, MGF titles, identification references.

The PSI-MS vocabulary (children of MS:1000767 "native spectrum identifier format") defines the
forms read here, as space-separated ``key=value`` pairs:

| form | term | number taken |
|---|---|---|
| ``controllerType=0 controllerNumber=1 scan=N`` | Thermo (MS:1000768) | N |
| ``scan=N`` | scan number only, Bruker/Agilent YEP, Bruker BAF, Shimadzu QTOF | N |
| ``scanId=N`` | Agilent MassHunter (MS:1001508) | N |
| ``spectrum=N`` | spectrum identifier (MS:1000777), SCIEX TOF/TOF | N |
| ``index=N`` | multiple peak list (MS:1000774): the 0-based position in the file | N |
| ``function=F process=P scan=S`` | Waters (MS:1000769): S restarts in every function | S |
| ``frame=F scan=S`` | Bruker TDF (MS:1002818) | F |
| ``file=...``, ``sample=.. cycle=..``, others | no scan number | none |

Only numbers that count acquisitions across the whole file (``ACQUISITION_ORDERED``) are used
to compute "scans since the MS1"; the others are identifiers only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# key whose value is the scan number, in order of preference
_NUMBER_KEYS = ("scan", "scanId", "spectrum", "index", "frame")
# forms whose numbers increase with acquisition over the whole file
ACQUISITION_ORDERED = frozenset({"thermo", "scan", "scanId", "spectrum", "frame"})
_PAIR = re.compile(r"([A-Za-z]+)=(\S+)")
_MGF_NATIVE = re.compile(r'NativeID:"([^"]+)"')
# Trans-Proteomic Pipeline titles: <base>.<start scan>.<end scan>.<charge>
_TPP_TITLE = re.compile(r"\.(\d+)\.(\d+)\.\d+(?:\s|$)")


@dataclass(frozen=True)
class NativeId:
    """A parsed identifier: its form (``thermo``, ``scan``, ``waters``, ``index``, ...) and the
    scan number it gives (None when the form has none)."""

    form: str
    number: int | None

    @property
    def acquisition_ordered(self) -> bool:
        """Whether the number counts acquisitions over the whole file."""
        return self.form in ACQUISITION_ORDERED and self.number is not None


def parse_native_id(text: object) -> NativeId | None:
    """The form and scan number of a nativeID; None when ``text`` has no ``key=value`` pairs.

    A bare integer (``"123"``) counts as a scan number.
    """
    if text is None:
        return None
    text = str(text).strip()
    if text.isdigit():
        return NativeId("scan", int(text))
    pairs = dict(_PAIR.findall(text))
    if not pairs:
        return None
    if "controllerType" in pairs and "scan" in pairs:
        return NativeId("thermo", _int(pairs["scan"]))
    if "function" in pairs and "scan" in pairs:
        return NativeId("waters", _int(pairs["scan"]))
    if "frame" in pairs:
        return NativeId("frame", _int(pairs["frame"]))
    for key in _NUMBER_KEYS:
        if key in pairs:
            return NativeId(key, _int(pairs[key]))
    return NativeId(next(iter(pairs)), None)


def native_id_in_title(title: object) -> str | None:
    """The ``NativeID:"..."`` part of an MGF title (msconvert, ThermoRawFileParser), if any."""
    match = _MGF_NATIVE.search(str(title)) if title is not None else None
    return match.group(1) if match else None


def scan_from_title(title: object) -> NativeId | None:
    """A scan number from an MGF ``TITLE``: its ``NativeID:"..."`` part (msconvert,
    ThermoRawFileParser), a ``scan=N`` anywhere, or a TPP ``base.start.end.charge`` title."""
    if title is None:
        return None
    text = str(title)
    native = native_id_in_title(text)
    if native:
        return parse_native_id(native)
    parsed = parse_native_id(text)
    if parsed is not None and parsed.number is not None and parsed.form != "index":
        return parsed
    tpp = _TPP_TITLE.search(text)
    if tpp:
        return NativeId("scan", int(tpp.group(1)))
    return None


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None
