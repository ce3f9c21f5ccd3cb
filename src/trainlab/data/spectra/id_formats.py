"""Peptide-spectrum matches (PSMs) from idXML, mzIdentML, pepXML and mzTab files (pyteomics).

Each reader returns the rank-1 PSMs of a file as :class:`Psm` records with what linking and
filtering need: the spectrum reference (nativeID), scan number, retention time in seconds,
precursor m/z, the spectra file it came from, decoy flag, q-value and scores. A value a file
does not give is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from trainlab.errors import DataError

PROTON = 1.007276467
FORMATS = {".idxml": "idXML", ".mzid": "mzIdentML", ".pepxml": "pepXML", ".mztab": "mzTab"}
_TPP_SPECTRUM = re.compile(r"^(.*)\.(\d+)\.(\d+)\.(\d+)$")
# mzIdentML SpectrumIdentificationItem keys that are not scores
_NOT_SCORES = {
    "calculatedMassToCharge",
    "experimentalMassToCharge",
    "chargeState",
    "rank",
    "passThreshold",
    "calculatedPI",
}


@dataclass
class Psm:
    """One rank-1 peptide-spectrum match."""

    peptide: str
    decoy: bool | None = None
    proteins: list[str] = field(default_factory=list)
    qvalue: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    charge: int | None = None
    mz: float | None = None
    rt_s: float | None = None
    ref: str | None = None  # nativeID of the spectrum (``scan=5``, ``index=3`` ...)
    scan: int | None = None  # scan number when the file gives one apart from ``ref``
    run: str | None = None  # file name of the spectra file (no folder)
    # why ``rt_s`` is None although the file gives a time (a time without a unit)
    rt_problem: str | None = None
    # the file's own main score and its direction, where it says (idXML)
    main_score: str | None = None
    higher_better: bool | None = None

    def describe(self) -> str:
        """A short line for reports."""
        where = self.ref or (f"scan {self.scan}" if self.scan is not None else None)
        if where is None:
            where = f"RT {self.rt_s} s, m/z {self.mz}"
        return f"{self.peptide} ({where})"


def format_of(path: str | Path) -> str | None:
    """``idXML``, ``mzIdentML``, ``pepXML``, ``mzTab`` from the file name; None if unknown."""
    name = Path(path).name.lower()
    if name.endswith((".pep.xml", ".pepxml")):
        return "pepXML"
    if name.endswith(".mzidentml"):
        return "mzIdentML"
    return FORMATS.get(Path(name).suffix)


def file_name(location: object) -> str | None:
    """The bare file name of a path or ``file://`` URL as identification files write them."""
    if location is None or str(location).strip() in ("", "null"):
        return None
    text = str(location).strip()
    if text.lower().startswith("file:"):
        text = unquote(urlparse(text).path) or text[5:]
    return text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None


def is_qvalue_name(name: str) -> bool:
    """Whether a score name is a q-value (``PSM-level q-value``, ``MS-GF:QValue`` ...)."""
    return "qvalue" in re.sub(r"[\s_\-]", "", name.lower())


def read_psms(path: str | Path) -> tuple[str, list[Psm]]:
    """(format, rank-1 PSMs) of one identification file."""
    kind = format_of(path)
    reader = {
        "idXML": read_idxml,
        "mzIdentML": read_mzid,
        "pepXML": read_pepxml,
        "mzTab": read_mztab,
    }.get(kind)
    if reader is None:
        raise ValueError(
            f"unknown identification format {Path(path).name!r}; "
            "use .idXML, .mzid, .pepXML/.pep.xml or .mzTab"
        )
    return kind, reader(path)


def read_idxml(path: str | Path) -> list[Psm]:
    """OpenMS idXML: each PeptideIdentification's best PeptideHit, with its run's spectra_data."""
    from pyteomics.openms import idxml

    psms, number = [], 0
    with idxml.IDXML(str(path)) as reader:
        for run in reader.iterfind("IdentificationRun"):
            protein_id = run.get("ProteinIdentification") or {}
            if isinstance(protein_id, list):
                protein_id = protein_id[0] if protein_id else {}
            files = _bracket_list(protein_id.get("spectra_data"))
            for ident in run.get("PeptideIdentification", []) or []:
                psm = _idxml_psm(ident, files, path, number)
                number += 1
                if psm is not None:
                    psms.append(psm)
    return psms


# Score types whose direction follows from what they are, whatever the engine: a q-value is the
# lowest FDR at which the PSM is accepted, a PEP the probability that it is wrong, an e-value /
# expect the number of random matches scoring as well, a p-value the chance of one. Only exact
# names: "-log10(e-value)", "OMSSA" (an e-value) or "Mascot score" are not certain from the name.
_LOWER_BETTER_BY_DEFINITION = {
    "qvalue",
    "psmlevelqvalue",
    "pep",
    "posteriorerrorprobability",
    "evalue",
    "expect",
    "expectationvalue",
    "pvalue",
}


def certain_direction(score_type: str) -> bool | None:
    """False for score types that are lower-better by definition (q-value, PEP, e-value,
    p-value, exact names only); None when the name alone does not tell."""
    key = re.sub(r"[\s_\-]", "", score_type.lower())
    return False if key in _LOWER_BETTER_BY_DEFINITION else None


def _idxml_psm(ident: dict, files: list[str], path: str | Path, number: int) -> Psm | None:
    hits = ident.get("PeptideHit") or []
    if not hits:
        return None
    score_type = str(ident.get("score_type") or "score")
    higher = ident.get("higher_score_better")
    if higher is None:
        # required by the IdXML schema (1.0-1.5: use="required", no default); OpenMS always
        # writes it. Guessing would invert the ranking of the hits for lower-better scores.
        higher = certain_direction(score_type)
        if higher is None:
            raise DataError(
                f"{path}, line {_idxml_line(path, number)}: PeptideIdentification "
                f"#{number + 1} (score_type={score_type!r}) has no higher_score_better, which "
                "the IdXML schema requires, and the score type does not say whether higher is "
                'better. Add higher_score_better="true" or "false" to its '
                "PeptideIdentification elements (export again with OpenMS IDFileConverter, "
                "which writes it), or give identifications in another format"
            )
    higher = bool(higher)
    hit = (max if higher else min)(hits, key=lambda h: float(h.get("score", 0.0)))
    scores = {k: float(v) for k, v in hit.items() if _is_number(v) and k not in ("charge", "score")}
    if "score" in hit:
        scores[score_type] = float(hit["score"])
    qvalue = scores.get(score_type) if is_qvalue_name(score_type) else _first_qvalue(scores)
    target_decoy = str(hit.get("target_decoy", "")).lower()
    run = file_name(files[_merge_index(ident, files, path, number)]) if files else None
    return Psm(
        peptide=str(hit.get("sequence", "")),
        decoy=None if not target_decoy else target_decoy == "decoy",
        proteins=[p.get("accession", "") for p in hit.get("protein", []) or []],
        qvalue=qvalue,
        scores=scores,
        charge=_int(hit.get("charge")),
        mz=_float(ident.get("MZ")),
        rt_s=_float(ident.get("RT")),  # OpenMS writes seconds, its one unit of time
        ref=ident.get("spectrum_reference"),
        run=run,
        main_score=score_type if "score" in hit else None,
        higher_better=higher,
    )


def _merge_index(ident: dict, files: list[str], path: str | Path, number: int) -> int:
    """The position in its run's ``spectra_data`` of the file a PeptideIdentification's
    spectrum is from: its ``id_merge_index``, or 0 when the run lists one file.

    Without it in a run of several files, the PSMs of every file were taken for the file the
    idXML is named after: run2's 10 PSMs labelled 10 scans of run1 (spectrum references) with
    run2's peptides, and run2 got no label. An index outside the list was taken as 0."""
    merge = ident.get("id_merge_index")
    where = f"{path}, line {{}}: PeptideIdentification #{number + 1}"
    if merge is None:
        if len(files) == 1:
            return 0
        raise DataError(
            where.format(_idxml_line(path, number)) + f" has no id_merge_index, but its "
            f"IdentificationRun's spectra_data lists {len(files)} spectra files "
            f"({', '.join(file_name(f) for f in files)}), so which one its spectrum is from is "
            "unknown. Split the idXML into one file per spectra file (OpenMS IDRipper), or give "
            "identifications that say each PSM's spectra file (id_merge_index)"
        )
    index = _int(merge)
    if index is None or not 0 <= index < len(files):
        raise DataError(
            where.format(_idxml_line(path, number)) + f" has id_merge_index={merge!r}, but its "
            f"IdentificationRun's spectra_data lists {len(files)} file(s) (index 0 to "
            f"{len(files) - 1}); fix or re-export the idXML"
        )
    return index


def _idxml_line(path: str | Path, number: int) -> int | str:
    """Line of the ``number``-th PeptideIdentification (0-based) of an idXML file."""
    from lxml import etree

    for i, (_, element) in enumerate(etree.iterparse(str(path), tag="{*}PeptideIdentification")):
        if i == number:
            return element.sourceline
        element.clear()
    return "?"


def read_mzid(path: str | Path) -> list[Psm]:
    """mzIdentML: rank-1 SpectrumIdentificationItems with their result's spectrumID and time."""
    from pyteomics import mzid

    times = mzid_times(path)
    psms = []
    with mzid.MzIdentML(str(path), retrieve_refs=True) as reader:
        # both read the results in document order (pyteomics drops their ids)
        for result, (rt_s, rt_problem) in zip(reader, times, strict=True):
            items = [i for i in result.get("SpectrumIdentificationItem", []) if i.get("rank") == 1]
            for item in items:
                evidence = item.get("PeptideEvidenceRef") or []
                decoys = [bool(e.get("isDecoy")) for e in evidence if "isDecoy" in e]
                scores = {
                    k: float(v) for k, v in item.items() if k not in _NOT_SCORES and _is_number(v)
                }
                psms.append(
                    Psm(
                        peptide=str(item.get("PeptideSequence", "")),
                        decoy=all(decoys) if decoys else None,
                        proteins=[str(e.get("accession", "")) for e in evidence],
                        qvalue=_first_qvalue(scores),
                        scores=scores,
                        charge=_int(item.get("chargeState")),
                        mz=_float(item.get("experimentalMassToCharge")),
                        rt_s=rt_s,
                        rt_problem=rt_problem,
                        ref=result.get("spectrumID"),
                        run=file_name(result.get("location") or result.get("name")),
                    )
                )
    return psms


# Terms a SpectrumIdentificationResult gives its spectrum's time with, in order of preference:
# MS:1000016 "scan start time" (what mzIdentML 1.1/1.2 ask for), MS:1000894 "retention time",
# and the obsolete MS:1001114 "retention time(s)" that older exporters (Mascot) still write; then
# userParams of these names or "RT". The CV gives all three seconds or minutes as units. Not
# "local", "normalized" (iRT) or "predicted retention time": those are not acquisition times.
_RT_TERMS = ("MS:1000016", "MS:1000894", "MS:1001114")
_RT_NAMES = {"scan start time": 0, "retention time": 1, "retention time(s)": 2, "rt": 3}
_UNITS = {
    "uo:0000010": 1.0,
    "uo:0000031": 60.0,
    "uo:0000032": 3600.0,
    "second": 1.0,
    "seconds": 1.0,
    "minute": 60.0,
    "minutes": 60.0,
    "hour": 3600.0,
    "hours": 3600.0,
}


def mzid_times(path: str | Path) -> list[tuple[float | None, str | None]]:
    """Per SpectrumIdentificationResult in file order: (time in seconds, None), (None, why the
    time it gives is not read) or (None, None) when it gives none.

    Read from the XML itself: pyteomics drops a unit given by ``unitAccession`` alone (valid
    mzIdentML), and a time without a unit is not guessed (seconds and minutes are both used).
    """
    from lxml import etree

    times = []
    for _, result in etree.iterparse(str(path), tag="{*}SpectrumIdentificationResult"):
        found = []
        for param in result:
            tag = etree.QName(param).localname if isinstance(param.tag, str) else ""
            name = str(param.get("name", "")).strip()
            if tag == "cvParam" and param.get("accession") in _RT_TERMS:
                rank = _RT_TERMS.index(param.get("accession"))
            elif tag in ("cvParam", "userParam") and name.lower() in _RT_NAMES:
                rank = _RT_NAMES[name.lower()] + (0 if tag == "cvParam" else len(_RT_TERMS))
            else:
                continue
            found.append((rank, name, param.get("value"), param))
        if found:
            _, name, value, param = min(found, key=lambda f: f[0])
            times.append(_time_in_seconds(name, value, param))
        else:
            times.append((None, None))
        result.clear()
    return times


def _time_in_seconds(name: str, value: object, param) -> tuple[float | None, str | None]:
    number = _float(value)
    if number is None:
        return None, f"its {name!r} is not a number"
    units = [str(param.get(a, "")).strip().lower() for a in ("unitAccession", "unitName")]
    given = [u for u in units if u]
    factor = next((_UNITS[u] for u in given if u in _UNITS), None)
    if factor is not None:
        return number * factor, None
    if given:
        return None, f"its {name!r} is in {given[-1]!r}, not seconds or minutes"
    # a count of reasons in the report: no per-PSM values in the text
    return None, (
        f"its {name!r} has no unit (unitAccession UO:0000010 second or UO:0000031 minute), "
        "so it is not used"
    )


def read_pepxml(path: str | Path) -> list[Psm]:
    """pepXML: each spectrum_query's rank-1 search_hit (scores, PeptideProphet probability)."""
    from pyteomics import pepxml

    psms = []
    with pepxml.PepXML(str(path), use_index=False) as reader:
        for query in reader:
            hits = [h for h in query.get("search_hit", []) or [] if h.get("hit_rank", 1) == 1]
            if not hits:
                continue
            hit = hits[0]
            scores = {k: float(v) for k, v in (hit.get("search_score") or {}).items()}
            for result in hit.get("analysis_result", []) or []:
                prophet = result.get("peptideprophet_result") or result.get("interprophet_result")
                if prophet and "probability" in prophet:
                    scores[f"{result.get('analysis')}_probability"] = float(prophet["probability"])
            charge = _int(query.get("assumed_charge"))
            mass = _float(query.get("precursor_neutral_mass"))
            spectrum = _TPP_SPECTRUM.match(str(query.get("spectrum", "")))
            psms.append(
                Psm(
                    peptide=str(hit.get("peptide", "")),
                    proteins=[str(p.get("protein", "")) for p in hit.get("proteins", []) or []],
                    qvalue=_first_qvalue(scores),
                    scores=scores,
                    charge=charge,
                    mz=(mass + charge * PROTON) / charge if mass is not None and charge else None,
                    rt_s=_float(query.get("retention_time_sec")),
                    ref=query.get("spectrumNativeID"),
                    scan=_int(query.get("start_scan")),
                    run=spectrum.group(1) if spectrum else None,
                )
            )
    return psms


def read_mztab(path: str | Path) -> list[Psm]:
    """mzTab 1.0: PSM rows; score names from ``psm_search_engine_score[n]``, decoys from an
    ``opt_*decoy*`` column, spectra files from ``ms_run[n]-location``."""
    from pyteomics import mztab

    table = mztab.MzTab(str(path))
    meta = table.metadata
    frame = table.spectrum_match_table
    if frame is None or frame.empty:
        return []
    names = {
        f"search_engine_score[{key[key.index('[') + 1 : key.index(']')]}]": _cv_name(value)
        for key, value in meta.items()
        if key.startswith("psm_search_engine_score[")
    }
    decoy_column = next((c for c in frame.columns if "decoy" in str(c).lower()), None)
    psms = []
    for row in frame.to_dict("records"):
        scores = {
            names.get(col, col): float(row[col])
            for col in frame.columns
            if str(col).startswith("search_engine_score[") and _is_number(row[col])
        }
        run, ref = _mztab_ref(row.get("spectra_ref"), meta)
        decoy = row.get(decoy_column) if decoy_column else None
        psms.append(
            Psm(
                peptide=str(row.get("sequence", "")),
                decoy=None if decoy is None or str(decoy) == "null" else str(decoy) in ("1", "1.0"),
                proteins=[str(row.get("accession", ""))],
                qvalue=_first_qvalue(scores),
                scores=scores,
                charge=_int(row.get("charge")),
                mz=_float(row.get("exp_mass_to_charge")),
                rt_s=_float(str(row.get("retention_time", "")).split("|")[0]),
                ref=ref,
                run=run,
            )
        )
    return psms


def _mztab_ref(value: object, meta: dict) -> tuple[str | None, str | None]:
    if value is None or str(value) == "null":
        return None, None
    head, _, ref = str(value).partition(":")
    return file_name(meta.get(f"{head}-location")), ref or None


def _cv_name(value: object) -> str:
    """``[MS, MS:1002354, PSM-level q-value, ]`` -> ``PSM-level q-value`` (pyteomics may have
    unpacked it already)."""
    text = str(value)
    if text.startswith("["):
        parts = [p.strip() for p in text.strip("[]").split(",")]
        return parts[2] if len(parts) > 2 else text
    return text


def _bracket_list(value: object) -> list[str]:
    if value is None:
        return []
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",") if part.strip()]


def _first_qvalue(scores: dict[str, float]) -> float | None:
    names = sorted((n for n in scores if is_qvalue_name(n)), key=lambda n: "psm" not in n.lower())
    return scores[names[0]] if names else None


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return _float(value) is not None


def _float(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _int(value: object) -> int | None:
    number = _float(value)
    return None if number is None else int(number)
