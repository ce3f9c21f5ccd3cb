"""Small MGF and mzML files written by the tests themselves."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np


def ms1(scan: int, mz, intensity, polarity: str = "positive", rt_min: float = 1.0) -> dict:
    """An MS1 scan description for :func:`write_mzml` / :func:`write_mgf`."""
    return {
        "scan": scan,
        "level": 1,
        "mz": mz,
        "intensity": intensity,
        "polarity": polarity,
        "rt_min": rt_min,
    }


def ms2(
    scan: int,
    precursor: float | None,
    polarity: str = "positive",
    rt_min: float = 1.01,
    label: str | None = None,
    name: str | None = None,
) -> dict:
    """An MS2 scan description (a few fragment peaks) for the writers."""
    return {
        "scan": scan,
        "level": 2,
        "mz": [50.0, 60.0],
        "intensity": [1.0, 2.0],
        "polarity": polarity,
        "rt_min": rt_min,
        "precursor": precursor,
        "label": label,
        "name": name,
    }


def _binary(values, accession: str, name: str) -> str:
    data = base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode()
    return (
        f'<binaryDataArray encodedLength="{len(data)}">'
        '<cvParam cvRef="MS" accession="MS:1000523" name="64-bit float" value=""/>'
        '<cvParam cvRef="MS" accession="MS:1000576" name="no compression" value=""/>'
        f'<cvParam cvRef="MS" accession="{accession}" name="{name}" value=""/>'
        f"<binary>{data}</binary></binaryDataArray>"
    )


THERMO_ID = "controllerType=0 controllerNumber=1 scan={scan}"


def acquisition(cycles: int = 4, per_cycle: int = 3, seconds_per_scan: float = 0.4) -> list[dict]:
    """A small DDA run in acquisition order: each cycle one MS1 scan, then ``per_cycle`` MS2
    scans whose precursors are peaks of that MS1 scan (distinct m/z, increasing times)."""
    scans, number, seconds = [], 1, 60.0
    for cycle in range(cycles):
        peaks = [300.0 + 50 * k + 7.3 * cycle for k in range(per_cycle)]
        intensity = [100.0 * (k + 1) + 10 * cycle for k in range(per_cycle)]
        scans.append(ms1(number, peaks, intensity, rt_min=seconds / 60.0))
        first = number
        for precursor in peaks:
            number, seconds = number + 1, seconds + seconds_per_scan
            scan = ms2(number, precursor, rt_min=seconds / 60.0)
            scan["ms1"] = first
            scans.append(scan)
        number, seconds = number + 1, seconds + seconds_per_scan
    return scans


def dda_run(cycles: int, per_cycle: int = 6, seed: int = 0, run: str = "run") -> list[dict]:
    """A simulated DDA run with a learnable label: each MS1 scan has 20-60 peaks, its most
    intense peaks are selected for MS2, and an MS2 scan is identified (``s["peptide"]``) with a
    probability rising with its precursor's intensity and charge 2 (about 8 % of scans).

    Real search results depend on far more than this; the point is a signal that a model can
    find in the converted rows (precursor intensity and charge), so that training curves mean
    something.
    """
    rng = np.random.default_rng(seed)
    scans, number, seconds = [], 1, 60.0
    for _ in range(cycles):
        n = int(rng.integers(20, 60))
        mz = np.sort(rng.uniform(350, 1200, n)).round(4)
        intensity = rng.lognormal(10, 1.5, n).round(1)
        scans.append(ms1(number, mz.tolist(), intensity.tolist(), rt_min=seconds / 60))
        first = number
        for k in np.argsort(-intensity)[:per_cycle]:
            number, seconds = number + 1, seconds + float(rng.uniform(0.05, 0.3))
            charge = int(rng.choice([1, 2, 3], p=[0.2, 0.5, 0.3]))
            logit = 1.6 * (np.log10(intensity[k]) - 5.2) + (1.5 if charge == 2 else -1.0)
            scan = ms2(number, float(mz[k]), rt_min=seconds / 60)
            scan.update(
                ms1=first,
                charge=charge,
                precursor_intensity=float(intensity[k]),
                peptide=f"{run.upper()}PEP{number}K"
                if rng.random() < 1 / (1 + np.exp(-(logit - 3.6)))
                else None,
            )
            scans.append(scan)
        number, seconds = number + 1, seconds + float(rng.uniform(0.3, 0.6))
    return scans


def ms1_first(scans: list[dict]) -> list[dict]:
    """The same scans stored as some converters write them: every MS1 first, then the MS2."""
    return [s for s in scans if s["level"] == 1] + [s for s in scans if s["level"] == 2]


def _spectrum(index: int, s: dict, label_param: str | None, id_format: str, refs: bool) -> str:
    pol = (
        '<cvParam cvRef="MS" accession="MS:1000130" name="positive scan" value=""/>'
        if s["polarity"] == "positive"
        else '<cvParam cvRef="MS" accession="MS:1000129" name="negative scan" value=""/>'
    )
    parts = [
        f'<spectrum index="{index}" id="{id_format.format(scan=s["scan"], index=index)}" '
        f'defaultArrayLength="{len(s["mz"])}">',
        f'<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="{s["level"]}"/>',
        pol,
        '<cvParam cvRef="MS" accession="MS:1000127" name="centroid spectrum" value=""/>',
    ]
    if s.get("label") is not None and label_param:
        parts.append(f'<userParam name="{label_param}" value="{s["label"]}"/>')
    parts.append(
        '<scanList count="1"><scan>'
        f'<cvParam cvRef="MS" accession="MS:1000016" name="scan start time" value="{s["rt_min"]}" '
        'unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"/>'
        '<cvParam cvRef="MS" accession="MS:1000927" name="ion injection time" value="25" '
        'unitCvRef="UO" unitAccession="UO:0000028" unitName="millisecond"/>'
        '<scanWindowList count="1"><scanWindow>'
        '<cvParam cvRef="MS" accession="MS:1000501" name="scan window lower limit" value="100"/>'
        '<cvParam cvRef="MS" accession="MS:1000500" name="scan window upper limit" value="1500"/>'
        "</scanWindow></scanWindowList></scan></scanList>"
    )
    if s["level"] == 2 and s["precursor"] is not None:
        parts.append(
            '<precursorList count="1">'
            + (
                f'<precursor spectrumRef="{id_format.format(scan=s["ms1"], index=-1)}">'
                if refs and s.get("ms1") is not None
                else "<precursor>"
            )
            + "<isolationWindow>"
            f'<cvParam cvRef="MS" accession="MS:1000827" name="isolation window target m/z" '
            f'value="{s["precursor"]}"/>'
            '<cvParam cvRef="MS" accession="MS:1000828" name="isolation window lower offset" '
            'value="0.5"/>'
            '<cvParam cvRef="MS" accession="MS:1000829" name="isolation window upper offset" '
            'value="0.5"/></isolationWindow>'
            '<selectedIonList count="1"><selectedIon>'
            f'<cvParam cvRef="MS" accession="MS:1000744" name="selected ion m/z" '
            f'value="{s["precursor"]}"/>'
            '<cvParam cvRef="MS" accession="MS:1000041" name="charge state" '
            f'value="{s.get("charge", 1)}"/>'
            '<cvParam cvRef="MS" accession="MS:1000042" name="peak intensity" '
            f'value="{s.get("precursor_intensity", 1000)}"/>'
            "</selectedIon></selectedIonList>"
            '<activation><cvParam cvRef="MS" accession="MS:1000422" '
            'name="beam-type collision-induced dissociation" value=""/>'
            '<cvParam cvRef="MS" accession="MS:1000045" name="collision energy" value="30"/>'
            "</activation></precursor></precursorList>"
        )
    parts.append(
        '<binaryDataArrayList count="2">'
        + _binary(s["mz"], "MS:1000514", "m/z array")
        + _binary(s["intensity"], "MS:1000515", "intensity array")
        + "</binaryDataArrayList></spectrum>"
    )
    return "".join(parts)


def write_mzml(
    path: Path,
    scans: list[dict],
    label_param: str | None = None,
    id_format: str = THERMO_ID,
    refs: bool = False,
) -> Path:
    """Write ``scans`` as a minimal valid mzML file (hand-written, following mzML 1.1).

    ``id_format`` makes each nativeID from ``{scan}`` and ``{index}``; with ``refs`` each MS2
    precursor names its MS1 scan (``scan["ms1"]``) in ``spectrumRef`` (forms with ``{scan}``).
    """
    body = "\n".join(_spectrum(i, s, label_param, id_format, refs) for i, s in enumerate(scans))
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">'
        '<cvList count="2"><cv id="MS" fullName="PSI-MS" version="4.1.0" '
        'URI="https://raw.githubusercontent.com/HUPO-PSI/psi-ms-CV/master/psi-ms.obo"/>'
        '<cv id="UO" fullName="Unit Ontology" URI="http://ontologies.berkeleybop.org/uo.obo"/>'
        "</cvList>"
        f'<run id="test"><spectrumList count="{len(scans)}">\n{body}\n'
        "</spectrumList></run></mzML>\n"
    )
    return path


def write_mgf(path: Path, scans: list[dict], label_param: str = "LABEL") -> Path:
    """Write ``scans`` as an MGF file with the parameters the converter reads."""
    blocks = []
    for s in scans:
        lines = [
            "BEGIN IONS",
            f"TITLE=test.{s['scan']}.{s['scan']} scan={s['scan']}",
            f"MSLEVEL={s['level']}",
            f"SCANS={s['scan']}",
            f"RTINSECONDS={s['rt_min'] * 60}",
            f"IONMODE={s['polarity']}",
            "ION_INJECTION_TIME=25",
        ]
        if s["level"] == 2:
            if s["precursor"] is not None:
                lines.append(f"PEPMASS={s['precursor']} 1000")
            lines += [
                "CHARGE=1+" if s["polarity"] == "positive" else "CHARGE=1-",
                "ACTIVATION=HCD",
                "COLLISION_ENERGY=30",
                "ISOLATION_WIDTH=1.0",
            ]
            if s.get("label") is not None:
                lines.append(f"{label_param}={s['label']}")
            if s.get("name"):
                lines.append(f"COMPOUND_NAME={s['name']}")
        lines += [f"{m} {i}" for m, i in zip(s["mz"], s["intensity"], strict=True)]
        lines.append("END IONS")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")
    return path
