"""Search-engine identifications -> labels: which MS2 scans were identified, as which peptide.

``trainlab convert ... identifications=[run1.idXML]`` reads the files
(:mod:`trainlab.data.spectra.id_formats`), keeps target PSMs that pass a q-value or score
threshold (:class:`PsmFilter`), and links each to one MS2 scan of the spectra file it came from:

1. by its spectrum reference: the scan with that nativeID, else the scan with that scan number
   (``scan=N``, pepXML ``start_scan``), else for ``index=N`` the N-th spectrum of a spectra file
   of the same format;
2. otherwise by retention time and precursor m/z within :class:`MatchTolerance`; the nearest
   scan wins (distance in units of the tolerances) and a PSM with several candidates counts as
   ambiguous.

Every PSM ends up matched or unmatched with a reason; the counts per identification file go to
``convert_report.json``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.spectra.id_formats import Psm, is_qvalue_name, read_psms
from trainlab.data.spectra.native_ids import parse_native_id
from trainlab.data.spectra.scans import Scan
from trainlab.errors import DataError

EXAMPLES = 5


@dataclass
class PsmFilter:
    """Which PSMs count as identifications.

    Attributes:
        max_qvalue: keep targets with q-value <= this: the file's PSM q-values, else q-values
            from target-decoy competition on ``score`` (decoys must be in the file). None:
            no q-value filter.
        score: score name for ``score_threshold`` or target-decoy q-values; None = the file's
            main score (idXML), else the first score whose direction is known.
        score_threshold: keep targets whose ``score`` passes this instead of a q-value.
        higher_score_better: direction of ``score``; None = known for common scores.
        decoy_prefixes: protein accession prefixes marking decoys where a file has no decoy
            flag.
    """

    max_qvalue: float | None = 0.01
    score: str | None = None
    score_threshold: float | None = None
    higher_score_better: bool | None = None
    decoy_prefixes: tuple[str, ...] = ("DECOY_", "REV_", "rev_", "XXX_", "decoy_")


@dataclass
class MatchTolerance:
    """How far a PSM may be from an MS2 scan when it is linked without a spectrum reference."""

    rt_tolerance_s: float = 5.0
    mz_tolerance_ppm: float = 20.0


def _settings(cls: type, given: dict | None, key: str) -> Any:
    given = dict(given or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise DataError(f"{key}.{unknown[0]} is not a setting; use one of {sorted(names)}")
    if "decoy_prefixes" in given:
        given["decoy_prefixes"] = tuple(given["decoy_prefixes"] or ())
    return cls(**given)


def score_direction(name: str) -> bool | None:
    """True when higher is better for a score of this name, False when lower, None unknown."""
    n = name.lower().replace(" ", "").replace("-", "").replace("_", "")
    if n == "pep" or n.endswith(":pep") or "posteriorerror" in n or is_qvalue_name(name):
        return False
    if any(k in n for k in ("expect", "evalue", "pvalue")):
        return False
    if any(k in n for k in ("probability", "xcorr", "hyperscore", "score")):
        return True
    return None


def target_decoy_qvalues(scores: np.ndarray, decoy: np.ndarray, higher: bool) -> np.ndarray:
    """q-values by target-decoy competition: FDR at a threshold = decoys / targets above it,
    q-value = the lowest FDR at which a PSM is kept."""
    order = np.argsort(-scores if higher else scores, kind="stable")
    decoys = np.cumsum(decoy[order])
    targets = np.cumsum(~decoy[order])
    fdr = decoys / np.maximum(targets, 1)
    q_sorted = np.minimum.accumulate(fdr[::-1])[::-1]
    q = np.empty_like(q_sorted)
    q[order] = q_sorted
    return q


def select(psms: list[Psm], rule: PsmFilter, source: str) -> tuple[list[Psm], dict]:
    """The target PSMs passing ``rule``, and counts for the report."""
    for psm in psms:
        if psm.decoy is None:
            psm.decoy = bool(psm.proteins) and all(
                p.startswith(rule.decoy_prefixes) for p in psm.proteins
            )
    decoy = np.array([bool(p.decoy) for p in psms], dtype=bool)
    counts = {"psms": len(psms), "decoys": int(decoy.sum()), "targets": int((~decoy).sum())}
    if rule.score_threshold is not None:
        name, higher = _score_of(psms, rule, source)
        values = np.array([p.scores.get(name, np.nan) for p in psms], dtype=float)
        keep = values >= rule.score_threshold if higher else values <= rule.score_threshold
        description = f"{name} {'>=' if higher else '<='} {rule.score_threshold:g}"
    elif rule.max_qvalue is not None:
        qvalues, how = _qvalues(psms, decoy, rule, source)
        keep = qvalues <= rule.max_qvalue
        description = f"q-value <= {rule.max_qvalue:g} ({how})"
    else:
        keep = np.ones(len(psms), dtype=bool)
        description = "every target PSM (no threshold)"
    keep &= ~decoy
    counts.update(filter=description, passing=int(keep.sum()))
    return [p for p, k in zip(psms, keep, strict=True) if k], counts


def _qvalues(
    psms: list[Psm], decoy: np.ndarray, rule: PsmFilter, source: str
) -> tuple[np.ndarray, str]:
    if psms and rule.score is None and all(p.qvalue is not None for p in psms):
        return np.array([p.qvalue for p in psms], dtype=float), "the file's q-values"
    if not decoy.any():
        raise DataError(
            f"{source}: no q-values and no decoy PSMs, so no FDR can be estimated. Give "
            "identification_filter.score=<name> identification_filter.score_threshold=<value>, "
            "or identification_filter.max_qvalue=null to keep every target PSM (files exported "
            "already filtered)"
        )
    name, higher = _score_of(psms, rule, source)
    values = np.array([p.scores.get(name, np.nan) for p in psms], dtype=float)
    values = np.where(np.isfinite(values), values, -np.inf if higher else np.inf)
    return target_decoy_qvalues(values, decoy, higher), f"target-decoy on {name}"


def _score_of(psms: list[Psm], rule: PsmFilter, source: str) -> tuple[str, bool]:
    names = Counter(n for p in psms for n in p.scores)
    name = rule.score
    if name is None:
        main = next((p.main_score for p in psms if p.main_score), None)
        known = [n for n in names if not is_qvalue_name(n) and score_direction(n) is not None]
        name = main or (known[0] if known else None)
    if name is None or name not in names:
        raise DataError(
            f"{source}: score {name!r} is not in the file (scores: {sorted(names)}); give "
            "identification_filter.score=<one of them>"
        )
    higher = rule.higher_score_better
    if higher is None:
        higher = next((p.higher_better for p in psms if p.main_score == name), None)
    if higher is None:
        higher = score_direction(name)
    if higher is None:
        raise DataError(
            f"{source}: is a higher {name!r} better? Give "
            "identification_filter.higher_score_better=true or false"
        )
    return name, higher


@dataclass
class _IdFile:
    path: Path
    kind: str
    counts: dict
    # spectra file (input path) -> PSMs to link there
    by_input: dict[Path, list[Psm]] = field(default_factory=dict)
    outcome: Counter = field(default_factory=Counter)
    unmatched_reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, key: str, psm: Psm, reason: str = "") -> None:
        self.outcome[key] += 1
        if key == "unmatched":
            self.unmatched_reasons[reason] += 1
        if key in ("unmatched", "ambiguous") and len(self.examples[key]) < EXAMPLES:
            self.examples[key].append(psm.describe() + (f": {reason}" if reason else ""))


class IdentificationLinker:
    """Reads identification files once, then links their PSMs to each spectra file's scans.

    Args:
        paths: identification files.
        inputs: the spectra files of this conversion.
        psm_filter: :class:`PsmFilter` settings (a dict from the config).
        tolerance: :class:`MatchTolerance` settings (a dict from the config).
    """

    def __init__(
        self,
        paths: list[str | Path],
        inputs: list[Path],
        psm_filter: dict | None = None,
        tolerance: dict | None = None,
    ) -> None:
        self.rule = _settings(PsmFilter, psm_filter, "identification_filter")
        self.tolerance = _settings(MatchTolerance, tolerance, "identification_matching")
        self.inputs = list(inputs)
        self.files: list[_IdFile] = []
        for path in map(Path, paths):
            if not path.is_file():
                raise DataError(f"identifications: {path} does not exist")
            try:
                kind, psms = read_psms(path)
            except DataError:
                raise
            except Exception as err:
                raise DataError(
                    f"identifications: cannot read {path} ({type(err).__name__}: {err}); "
                    "check that it is a complete idXML, mzIdentML, pepXML or mzTab file"
                ) from err
            kept, counts = select(psms, self.rule, str(path))
            id_file = _IdFile(path, kind, counts)
            for psm in kept:
                target, reason = self._spectra_file(psm, path)
                if target is None:
                    id_file.note("unmatched", psm, reason)
                else:
                    id_file.by_input.setdefault(target, []).append(psm)
            self.files.append(id_file)
        self._taken: dict[Path, dict[int, tuple[float, Psm]]] = defaultdict(dict)
        # counts made while linking each spectra file, undone if that file is not written
        self._notes: dict[Path, list[tuple[_IdFile, str, str]]] = {}

    def _spectra_file(self, psm: Psm, source: Path) -> tuple[Path | None, str]:
        if psm.run:
            for path in self.inputs:
                if path.name == psm.run:
                    return path, ""
            for path in self.inputs:
                if _stem(path.name) == _stem(psm.run):
                    return path, ""
            return None, f"its spectra file {psm.run} is not among the inputs"
        for path in self.inputs:
            if _stem(path.name) == _stem(source.name):
                return path, ""
        if len(self.inputs) == 1:
            return self.inputs[0], ""
        return None, (
            "the identification file names no spectra file; name it after its spectra file "
            "(run1.idXML for run1.mzML) or convert one spectra file at a time"
        )

    def skip(self, path: Path, reason: str) -> None:
        """The spectra file ``path`` is not written: its PSMs become unmatched."""
        self._taken.pop(path, None)
        for id_file, key, why in self._notes.pop(path, []):
            id_file.outcome[key] -= 1
            if key == "unmatched":
                id_file.unmatched_reasons[why] -= 1
                if not id_file.unmatched_reasons[why]:
                    del id_file.unmatched_reasons[why]
        for id_file in self.files:
            for psm in id_file.by_input.pop(path, []):
                id_file.note("unmatched", psm, reason)

    def identified(self, path: Path, ms2: list[Scan]) -> dict[int, str]:
        """Link the PSMs of spectra file ``path`` to its MS2 scans: position -> peptide."""
        index = _ScanIndex(ms2, path, self.tolerance)
        taken = self._taken[path]
        notes = self._notes.setdefault(path, [])
        for id_file in self.files:

            def note(key: str, psm: Psm, reason: str = "", id_file: _IdFile = id_file) -> None:
                id_file.note(key, psm, reason)
                notes.append((id_file, key, reason))

            for psm in id_file.by_input.get(path, []):
                scan, how, candidates = index.find(psm)
                if scan is None:
                    note("unmatched", psm, how)
                    continue
                note("matched", psm)
                note(f"matched_by_{how}", psm)
                if candidates > 1:
                    note("ambiguous", psm, f"{candidates} scans within tolerance")
                if how == "reference" and index.far_in_time(psm, scan):
                    note("reference_rt_mismatch", psm)
                rank = psm.qvalue if psm.qvalue is not None else np.inf
                if scan.position in taken:
                    note("same_scan", psm)
                    if rank >= taken[scan.position][0]:
                        continue
                taken[scan.position] = (rank, psm)
        return {position: psm.peptide for position, (_, psm) in taken.items()}

    def reports(self) -> list[dict]:
        """Per identification file: PSM counts, the filter, and how their linking went."""
        out = []
        for f in self.files:
            o = f.outcome
            out.append(
                {
                    "path": str(f.path),
                    "format": f.kind,
                    **f.counts,
                    "matched": o["matched"],
                    "matched_by_reference": o["matched_by_reference"],
                    "matched_by_rt_mz": o["matched_by_rt_mz"],
                    "ambiguous": o["ambiguous"],
                    "unmatched": o["unmatched"],
                    "unmatched_reasons": dict(f.unmatched_reasons),
                    "same_scan": o["same_scan"],
                    "reference_rt_mismatch": o["reference_rt_mismatch"],
                    "tolerances": {
                        "rt_s": self.tolerance.rt_tolerance_s,
                        "mz_ppm": self.tolerance.mz_tolerance_ppm,
                    },
                    "examples": dict(f.examples),
                }
            )
        return out


class _ScanIndex:
    """One spectra file's MS2 scans, looked up by nativeID, scan number, index or RT + m/z."""

    def __init__(self, ms2: list[Scan], path: Path, tolerance: MatchTolerance) -> None:
        self.path, self.tolerance = path, tolerance
        self.by_native = {s.native_id: s for s in ms2 if s.native_id}
        self.by_position = {s.position: s for s in ms2}
        self.by_number: dict[int, list[Scan]] = defaultdict(list)
        for s in ms2:
            if s.number_ordered or s.native_id:
                self.by_number[s.scan_number].append(s)
        timed = [s for s in ms2 if s.retention_time_s is not None and s.precursor_mz]
        timed.sort(key=lambda s: s.retention_time_s)
        self.timed = timed
        self.times = np.array([s.retention_time_s for s in timed], dtype=float)
        self.mzs = np.array([s.precursor_mz for s in timed], dtype=float)

    def find(self, psm: Psm) -> tuple[Scan | None, str, int]:
        """(scan, how: ``reference`` | ``rt_mz`` | the reason it is unmatched, candidates)."""
        scan = self._by_reference(psm)
        if scan is not None:
            return scan, "reference", 1
        if psm.rt_s is None or psm.mz is None:
            reason = "its spectrum reference is not in the file" if psm.ref else ""
            if psm.rt_problem and psm.mz is not None:  # a time was given but cannot be read
                reason = (
                    f"{reason + ' and ' if reason else ''}{psm.rt_problem}: give the time's unit "
                    "in the identification file (or spectrum references that are in the file)"
                )
            return None, reason or "no spectrum reference, retention time or precursor m/z", 0
        tol = self.tolerance
        lo = np.searchsorted(self.times, psm.rt_s - tol.rt_tolerance_s, side="left")
        hi = np.searchsorted(self.times, psm.rt_s + tol.rt_tolerance_s, side="right")
        dt = (self.times[lo:hi] - psm.rt_s) / tol.rt_tolerance_s
        dppm = (self.mzs[lo:hi] - psm.mz) / psm.mz * 1e6 / tol.mz_tolerance_ppm
        inside = np.flatnonzero(np.abs(dppm) <= 1.0)
        if not len(inside):
            return None, "no MS2 scan within the retention time and m/z tolerances", 0
        best = inside[np.argmin(dt[inside] ** 2 + dppm[inside] ** 2)]
        return self.timed[lo + best], "rt_mz", len(inside)

    def _by_reference(self, psm: Psm) -> Scan | None:
        if psm.ref and psm.ref.strip() in self.by_native:
            return self.by_native[psm.ref.strip()]
        parsed = parse_native_id(psm.ref) if psm.ref else None
        if parsed is not None and parsed.form == "index" and parsed.number is not None:
            same_format = (
                psm.run is not None and Path(psm.run).suffix.lower() == self.path.suffix.lower()
            )
            return self.by_position.get(parsed.number) if same_format else None
        number = parsed.number if parsed is not None and parsed.number is not None else psm.scan
        found = self.by_number.get(number, []) if number is not None else []
        return found[0] if len(found) == 1 else None

    def far_in_time(self, psm: Psm, scan: Scan) -> bool:
        if psm.rt_s is None or scan.retention_time_s is None:
            return False
        return abs(psm.rt_s - scan.retention_time_s) > self.tolerance.rt_tolerance_s


def _stem(name: str) -> str:
    return Path(str(name).replace("\\", "/")).name.split(".")[0]
