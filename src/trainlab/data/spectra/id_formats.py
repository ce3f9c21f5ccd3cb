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

    psms = []
    with idxml.IDXML(str(path)) as reader:
        for run in reader.iterfind("IdentificationRun"):
            protein_id = run.get("ProteinIdentification") or {}
            if isinstance(protein_id, list):
                protein_id = protein_id[0] if protein_id else {}
            files = _bracket_list(protein_id.get("spectra_data"))
            for ident in run.get("PeptideIdentification", []) or []:
                psm = _idxml_psm(ident, files)
                if psm is not None:
                    psms.append(psm)
    return psms


def _idxml_psm(ident: dict, files: list[str]) -> Psm | None:
    hits = ident.get("PeptideHit") or []
    if not hits:
        return None
    higher = bool(ident.get("higher_score_better", True))
    hit = (max if higher else min)(hits, key=lambda h: float(h.get("score", 0.0)))
    score_type = str(ident.get("score_type") or "score")
    scores = {k: float(v) for k, v in hit.items() if _is_number(v) and k not in ("charge", "score")}
    if "score" in hit:
        scores[score_type] = float(hit["score"])
    qvalue = scores.get(score_type) if is_qvalue_name(score_type) else _first_qvalue(scores)
    target_decoy = str(hit.get("target_decoy", "")).lower()
    merge = ident.get("id_merge_index")
    run = None
    if files:
        index = int(merge) if merge is not None and int(merge) < len(files) else 0
        run = file_name(files[index]) if merge is not None or len(files) == 1 else None
    return Psm(
        peptide=str(hit.get("sequence", "")),
        decoy=None if not target_decoy else target_decoy == "decoy",
        proteins=[p.get("accession", "") for p in hit.get("protein", []) or []],
        qvalue=qvalue,
        scores=scores,
        charge=_int(hit.get("charge")),
        mz=_float(ident.get("MZ")),
        rt_s=_float(ident.get("RT")),
        ref=ident.get("spectrum_reference"),
        run=run,
        main_score=score_type if "score" in hit else None,
        higher_better=higher,
    )


def read_mzid(path: str | Path) -> list[Psm]:
    """mzIdentML: rank-1 SpectrumIdentificationItems with their result's spectrumID."""
    from pyteomics import mzid

    psms = []
    with mzid.MzIdentML(str(path), retrieve_refs=True) as reader:
        for result in reader:
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
                        rt_s=_seconds(result.get("scan start time")),
                        ref=result.get("spectrumID"),
                        run=file_name(result.get("location") or result.get("name")),
                    )
                )
    return psms


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


def _seconds(value: object) -> float | None:
    number = _float(value)
    if number is None:
        return None
    unit = str(getattr(value, "unit_info", "") or "second").lower()
    return number * 60.0 if unit.startswith("min") else number


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
