"""MGF and mzML files -> spectra tables (the data side of ``trainlab convert``).

Every input file is read and checked completely before anything is written; each good file is
then appended as its own Lance version, so a file that fails leaves every earlier file's rows in
place. Files whose name is already in the table are skipped, which makes a rerun after a fix
safe. Each MS2 scan becomes one row holding the MS1 scan its precursor was selected from
(:mod:`trainlab.data.spectra.pairing`); labels come from a label column, a CSV of identified
scans or search-engine identification files (:mod:`trainlab.data.spectra.identifications`).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trainlab.data.spectra.convert_checks import check_rows, constant_settings
from trainlab.data.spectra.convert_identical import IdenticalSpectraCheck
from trainlab.data.spectra.identifications import IdentificationLinker
from trainlab.data.spectra.instrument import STANDARDIZATION_FILE, Standardizer
from trainlab.data.spectra.pairing import compact, pair_scans
from trainlab.data.spectra.rows import RowBuilder
from trainlab.data.spectra.scans import (
    PROFILE_MEDIAN_SPACING,
    PROFILE_MIN_POINTS,
    Scan,
    read_mgf,
    read_mzml,
)
from trainlab.data.spectra.schema import SPECTRA_SCHEMA, RowProblem
from trainlab.data.spectra.shared_runs import (
    PRINT_COLUMNS,
    RunPrint,
    describe,
    find_shared,
    proven,
    run_prints,
    table_prints,
)
from trainlab.data.spectra.store import (
    conform,
    find_problems,
    format_problems,
    list_spectra_tables,
    open_spectra,
    table_uri,
    write_spectra,
)
from trainlab.errors import DataError

READERS = {".mgf": read_mgf, ".mzml": read_mzml}
BAD_ROW_POLICIES = ("error", "skip")
PROFILE_POLICIES = ("error", "keep")
_SCAN_COLUMNS = ("ms2_scan_number", "scan", "scans", "scan_number")
_FILE_COLUMNS = ("source_file", "filename", "file", "mzml_file")


@dataclass
class FileResult:
    """What happened to one input file."""

    path: Path
    status: str = "pending"  # written | rejected | already present | no MS2 scans
    rows: int = 0
    labelled: int = 0
    problems: list[str] = field(default_factory=list)
    # how MS2 scans were paired with MS1 scans, and the plausibility checks of the rows
    pairing: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    table: pa.Table | None = None
    raw_settings: np.ndarray | None = None

    @property
    def warnings(self) -> list[str]:
        """Signs of a wrong pairing or odd settings (the file is still written)."""
        return self.checks.get("warnings", [])


@dataclass
class ConvertReport:
    """The outcome of one conversion: per-file results and where the rows went."""

    root: Path
    table: str
    files: list[FileResult]
    standardization: Path | None = None
    # per identification file: PSMs read, passing the filter, matched / unmatched / ambiguous
    identifications: list[dict] = field(default_factory=list)
    # numeric settings with one value over every row written (they carry no information)
    constant_settings: list[str] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        """Rows appended by this conversion."""
        return sum(f.rows for f in self.files if f.status == "written")

    @property
    def failed(self) -> list[FileResult]:
        """Files rejected because they, or rows in them, do not fit the schema."""
        return [f for f in self.files if f.status == "rejected"]

    def summary(self) -> str:
        """Human-readable lines: one per file, then the total."""
        lines = [f"{f.path}: {f.status}, {f.rows} rows ({f.labelled} labelled)" for f in self.files]
        for f in self.files:
            lines += [f"  {problem}" for problem in f.problems]
            lines += [f"  warning: {w}" for w in f.warnings]
        for ids in self.identifications:
            lines.append(
                f"{ids['path']}: {ids['passing']} PSMs pass ({ids['filter']}), "
                f"{ids['matched']} matched, {ids['unmatched']} unmatched, "
                f"{ids['ambiguous']} ambiguous"
            )
        lines.append(f"{self.rows_written} rows written to {table_uri(self.root, self.table)}")
        return "\n".join(lines)


def load_identified_scans(path: str | Path) -> dict[tuple[str, int], str]:
    """(file stem, MS2 scan number) -> compound name, from a CSV of identified scans.

    The CSV needs a file column (source_file, filename, file or mzml_file) and a scan column
    (ms2_scan_number, scan, scans or scan_number); compound_name is optional. Files are matched
    by name without folder and extension, whatever the case, so ``Run1.RAW`` matches
    ``/data/run1.mzML``. The header's most frequent of ``,`` ``;`` and tab separates the
    columns; cells are stripped; a byte-order mark and rows of empty cells (as spreadsheets
    export them) are ignored.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = handle.readline()
            handle.seek(0)
            # ';' from spreadsheets in decimal-comma locales, tabs from search tools
            reader = csv.DictReader(handle, delimiter=max(",;\t", key=header.count))
            columns = {c.strip().lower(): c for c in reader.fieldnames or []}
            file_col = next((columns[c] for c in _FILE_COLUMNS if c in columns), None)
            scan_col = next((columns[c] for c in _SCAN_COLUMNS if c in columns), None)
            if file_col is None or scan_col is None:
                raise DataError(
                    f"{path}: needs a file column (one of {_FILE_COLUMNS}) and a scan column "
                    f"(one of {_SCAN_COLUMNS}); it has {reader.fieldnames}"
                )
            name_col = columns.get("compound_name")
            identified = {}
            for row in reader:
                row = {k: (v or "").strip() for k, v in row.items() if isinstance(v, str)}
                if not any(row.values()):
                    continue
                try:
                    scan = int(float(row[scan_col]))
                except (KeyError, ValueError) as err:
                    raise DataError(
                        f"{path}, line {reader.line_num}: scan {row.get(scan_col)!r} is not a "
                        "number; give the MS2 scan number or remove the line"
                    ) from err
                key = (_stem(row.get(file_col, "")).lower(), scan)
                identified[key] = row.get(name_col, "") if name_col else ""
            return identified
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read labels CSV {path}: {err}") from err


def _stem(name: str) -> str:
    return Path(str(name).replace("\\", "/")).name.split(".")[0]


def convert_files(
    paths: Iterable[str | Path],
    root: str | Path,
    table: str = "train_data",
    *,
    label_column: str | None = None,
    labels_csv: str | Path | None = None,
    identifications: Iterable[str | Path] | None = None,
    identification_filter: dict | None = None,
    identification_matching: dict | None = None,
    dataset_id: str | None = None,
    on_bad_row: str = "error",
    standardization: str | Path | None = None,
    max_seconds_since_ms1: float = 30.0,
    on_profile: str = "error",
    on_file: Callable[[FileResult, float], None] | None = None,
) -> ConvertReport:
    """Convert MGF/mzML ``paths`` and append them to ``<root>/<table>``.

    Args:
        paths: input files (``.mgf`` or ``.mzML``).
        root: folder holding the tables.
        table: ``train_data``, ``validation_data`` or ``test_<n>``.
        label_column: MGF parameter or mzML userParam holding 1 (identified) / 0.
        labels_csv: CSV of identified scans (see :func:`load_identified_scans`).
        identifications: idXML, mzIdentML, pepXML or mzTab files; scans with a target PSM
            passing ``identification_filter`` are labelled 1 with the peptide as compound name.
        identification_filter: see :class:`~trainlab.data.spectra.identifications.PsmFilter`.
        identification_matching: see
            :class:`~trainlab.data.spectra.identifications.MatchTolerance`.
        dataset_id: value of the ``dataset_id`` column; default the file's folder name.
        on_bad_row: ``error`` rejects a file with any bad row; ``skip`` drops bad rows and
            lists them in the report.
        standardization: instrument statistics JSON to use instead of
            ``<root>/instrument_standardization.json`` (fitted on the first conversion).
        max_seconds_since_ms1: rows further from their MS1 scan are flagged in the report.
        on_profile: ``error`` rejects a file whose rows' MS1 spectra are flagged profile data;
            ``keep`` writes it with a warning (see :func:`_profile_problem`).
        on_file: called with each file's result and the seconds spent reading it (progress
            lines: the caller owns the console).
    """
    identifications = list(identifications or [])
    given = [
        n
        for n, v in (
            ("label_column", label_column),
            ("labels_csv", labels_csv),
            ("identifications", identifications),
        )
        if v
    ]
    if len(given) > 1:
        raise DataError(f"give one source of labels, not both {' and '.join(given)}")
    if on_bad_row not in BAD_ROW_POLICIES:
        raise DataError(f"on_bad_row={on_bad_row!r} is not one of {BAD_ROW_POLICIES}")
    if on_profile not in PROFILE_POLICIES:
        raise DataError(f"on_profile={on_profile!r} is not one of {PROFILE_POLICIES}")
    root = Path(root)
    paths = [Path(p) for p in paths]
    table_uri(root, table)  # check the name before reading any file
    given = _given_standardizer(root, standardization)
    identified = load_identified_scans(labels_csv) if labels_csv else None
    csv_name = Path(labels_csv).name if labels_csv else None
    linker = (
        IdentificationLinker(identifications, paths, identification_filter, identification_matching)
        if identifications
        else None
    )
    present = _files_in_table(root, table)
    other_tables: dict[str, dict] | None = None  # run prints of the root's other tables
    results = []
    seen: dict[str, Path] = {}
    for path in paths:
        result = FileResult(path)
        started = time.monotonic()
        again = seen.get(path.name) == path.resolve()  # the same file given twice
        if path.name in present or again:
            result.status = "already present"
        elif path.name in seen:
            result.status = "rejected"
            result.problems.append(
                f"{path}: another input, {seen[path.name]}, has the same file name; the table "
                "tells files apart by name (source_file, labels, reruns), so rename one"
            )
        else:
            labels = _Labels(identified, linker, label_column, csv_name)
            _read_file(result, labels, dataset_id, on_bad_row, max_seconds_since_ms1, on_profile)
            if result.status == "pending":
                if other_tables is None:
                    other_tables = _other_tables(root, table)
                _check_other_tables(result, table, other_tables)
        seen.setdefault(path.name, path.resolve())
        if on_file is not None:
            on_file(result, time.monotonic() - started)
        if linker is not None and result.status != "pending" and not again:
            linker.skip(path, f"spectra file {result.status}")
        results.append(result)
    report = ConvertReport(root, table, results)
    if linker is not None:
        report.identifications = linker.reports()
    good = [r for r in results if r.status == "pending"]
    if not good:
        return report
    everything = np.concatenate([r.raw_settings for r in good])
    report.constant_settings = constant_settings(everything)
    report.standardization, standardizer = _standardizer(root, given, everything)
    identical = IdenticalSpectraCheck(root, table)
    for result in good:
        identical.check(result.table, result.checks, result.path.name)
        settings = standardizer.transform(result.raw_settings)
        rows = result.table.set_column(
            SPECTRA_SCHEMA.get_field_index("instrument_settings"),
            "instrument_settings",
            pa.array(list(settings), type=pa.list_(pa.float32())),
        )
        write_spectra(rows, root, table, mode="append")
        result.status, result.table, result.raw_settings = "written", None, None
    return report


@dataclass
class _Labels:
    """Where one conversion's labels come from: a labels CSV, identification files or a
    label column (None of them: every row is unlabeled)."""

    csv: dict | None
    linker: IdentificationLinker | None
    column: str | None
    csv_name: str | None = None
    # labels CSV entries of this file that match no MS2 scan, or none for this file at all
    warnings: list[str] = field(default_factory=list)
    # labels CSV entries that cannot label this file right (the file is rejected)
    problems: list[str] = field(default_factory=list)

    def identified(self, path: Path, scans: list[Scan]) -> dict[int, str] | None:
        """File position of each identified MS2 scan -> compound name; None: label column."""
        ms2 = [s for s in scans if s.ms_level == 2]
        if self.linker is not None:
            return self.linker.identified(path, ms2)
        if self.csv is not None:
            return self._from_csv(path, ms2)
        return None if self.column else {}

    def _from_csv(self, path: Path, ms2: list[Scan]) -> dict[int, str]:
        stem = _stem(path.name).lower()
        found = {
            s.position: self.csv[(stem, s.scan_number)]
            for s in ms2
            if (stem, s.scan_number) in self.csv
        }
        wanted = {scan for name, scan in self.csv if name == stem}
        self._refuse_shared_numbers(path, ms2, wanted)
        missing = sorted(wanted - {s.scan_number for s in ms2})
        if not wanted:
            names = sorted({name for name, _ in self.csv})
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            self.warnings.append(
                f"{self.csv_name} names no scan of {path.name} (its files: {shown}), so every "
                "row is unlabeled; name this file in its file column (folder, extension and "
                "case do not matter)"
            )
        elif missing:
            self.warnings.append(
                f"{len(missing)} scan(s) that {self.csv_name} names for {stem} are not MS2 scans "
                f"of {path.name}: {missing[:10]}; check the scan column holds MS2 scan numbers "
                "of this file"
            )
        return found

    def _refuse_shared_numbers(self, path: Path, ms2: list[Scan], wanted: set[int]) -> None:
        """A scan number the CSV names that several MS2 spectra of the file carry cannot say
        which one was identified: Bruker TDF nativeIDs (``frame=F scan=S``) number a spectrum
        by its frame, which holds several PASEF precursors. Before, every MS2 spectrum of the
        frame was labelled identified (2 labels for one identified precursor)."""
        by_number: dict[int, list[Scan]] = {}
        for scan in ms2:
            if scan.scan_number in wanted:
                by_number.setdefault(scan.scan_number, []).append(scan)
        shared = sorted(n for n, found in by_number.items() if len(found) > 1)
        if shared:
            example = by_number[shared[0]]
            spectra = ", ".join(
                f"{s.native_id or s.position} (m/z {s.precursor_mz})" for s in example[:3]
            )
            self.problems.append(
                f"{path}: {len(shared)} MS2 scan number(s) that {self.csv_name} names belong to "
                f"several MS2 spectra of the file, so the CSV does not say which was identified "
                f"(e.g. {shared[0]}: {len(example)} spectra, {spectra}); Bruker TDF nativeIDs "
                "number spectra by frame, and a frame holds several precursors. Give the labels "
                "as identifications=[...] files, whose spectrum references (nativeIDs) name one "
                "spectrum each"
            )


def _other_tables(root: Path, table: str) -> dict[str, dict[str, RunPrint]]:
    return {
        name: table_prints(table_uri(root, name))
        for name in list_spectra_tables(root)
        if name != table
    }


def _check_other_tables(
    result: FileResult, table: str, others: dict[str, dict[str, RunPrint]]
) -> None:
    """Reject a file whose run another table of the root holds (found by its spectra or its
    path); the same file name alone is a warning. Train, validation and test tables must hold
    different runs, or the figures of the model are measured on spectra it trained on."""
    mine = run_prints(result.table.select(PRINT_COLUMNS))
    for name, prints in others.items():
        shared = find_shared(prints, mine)
        if proven(shared):
            result.status = "rejected"
            result.problems.append(
                f"{result.path}: its run is already in {name} of this root "
                f"({describe(proven(shared))}): one run must stay in one table, or {table} "
                f"and {name} share spectra and the model is tested on spectra it trained on. "
                f"Leave it out of this conversion, or, if it belongs in {table}, remove it from "
                f"{name} (delete <root>/{name} and convert that table's other files again)"
            )
            return
        if shared:
            result.checks.setdefault("warnings", []).append(
                f"{name} of this root has a file of the same name ({describe(shared)}), with "
                "other spectra: if it is the same run, leave this file out"
            )


def _files_in_table(root: Path, table: str) -> set[str]:
    try:
        dataset = open_spectra(root, table)
    except DataError:
        return set()
    names = dataset.to_table(columns=["source_file"]).column("source_file")
    return set(pc.unique(names).to_pylist())


def _given_standardizer(root: Path, given: str | Path | None) -> tuple[Path, Standardizer] | None:
    """The ``standardization=`` statistics, checked against those the root already holds."""
    if given is None:
        return None
    standardizer = Standardizer.load(given)
    kept = root / STANDARDIZATION_FILE
    if kept.exists() and kept.resolve() != Path(given).resolve():
        differences = Standardizer.load(kept).differences(standardizer)
        if differences:
            raise DataError(
                f"standardization={given} has other statistics than {kept}, which the tables "
                f"of {root} were written with ({differences[0]}); one root holds one scale. "
                f"Convert into a new root, or leave out standardization= to reuse {kept}"
            )
    return Path(given), standardizer


def _standardizer(
    root: Path, given: tuple[Path, Standardizer] | None, raw: np.ndarray
) -> tuple[Path, Standardizer]:
    path = root / STANDARDIZATION_FILE
    if given is not None:
        if not path.exists():  # later appends to this root must reuse the same statistics
            given[1].save(path)
        return given
    if path.exists():
        return path, Standardizer.load(path)
    standardizer = Standardizer.fit(raw)
    return standardizer.save(path), standardizer


def _read_file(
    result: FileResult,
    labels: _Labels,
    dataset_id: str | None,
    on_bad_row: str,
    max_seconds_since_ms1: float,
    on_profile: str = "error",
) -> None:
    path = result.path
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        result.status = "rejected"
        result.problems.append(f"{path}: unknown format {path.suffix!r}; use .mgf or .mzML")
        return
    if not path.is_file():
        result.status = "rejected"
        result.problems.append(f"{path}: no such file")
        return
    scans: list[Scan] = []
    position = 0
    try:
        for scan in reader(path, labels.column):
            position = scan.position
            scans.append(compact(scan))
            position += 1
    except Exception as err:  # a parser error anywhere in the file rejects the whole file
        result.status = "rejected"
        result.problems.append(f"{path}: cannot read spectrum #{position} ({err})")
        return
    pairs, result.pairing = pair_scans(scans)
    peak_warnings = _peak_warnings(path, pairs)
    profile = _profile_problem(path, pairs, on_profile)
    if profile and on_profile == "error":
        result.status = "rejected"
        result.problems.append(profile)
        return
    if profile:
        peak_warnings.insert(0, profile)
    identified = labels.identified(path, scans)
    if labels.problems:
        result.status = "rejected"
        result.problems.extend(labels.problems)
        return
    builder = RowBuilder(path, dataset_id or path.resolve().parent.name, identified)
    for pair in pairs:
        builder.add(pair)
    rows, raw, positions, problems = builder.finish()
    bad = {p.position for p in problems}
    if rows.num_rows:
        table = conform(rows, str(path))
        ms1, ms2 = table.column("ms1_scan_number"), table.column("ms2_scan_number")
        for p in find_problems(table):
            scans = f"scan {ms2[p.position]} (MS1 scan {ms1[p.position]})"
            problems.append(RowProblem(positions[p.position], p.column, f"{scans}: {p.message}"))
            bad.add(positions[p.position])
    problems.sort(key=lambda p: p.position)
    if problems and on_bad_row == "error":
        result.status = "rejected"
        result.problems.append(
            format_problems(problems, f"{path} (position = spectrum index)")
            + ". Fix the file, or convert with on_bad_row=skip to write it without these rows"
        )
        return
    if problems:
        result.problems.append("skipped: " + format_problems(problems, str(path)))
        keep = np.array([pos not in bad for pos in positions], dtype=bool)
        rows, raw = rows.filter(pa.array(keep)), raw[keep]
    if rows.num_rows == 0:
        result.status = "no MS2 scans"
        what = "is empty (no spectra)" if position == 0 else f"has {position} spectra, none MS2"
        result.problems.append(
            f"{path} {what}: each row is an MS2 scan paired with its MS1 scan, so it adds "
            "nothing; check that it is the right file (MS2 scans need MSLEVEL=2 in MGF or "
            "'ms level' 2 in mzML) or leave it out of inputs"
        )
        return
    result.checks = check_rows(
        raw, rows.column("ms1_scan_number").to_pylist(), result.pairing, max_seconds_since_ms1
    )
    result.checks["warnings"] += peak_warnings + labels.warnings
    result.table, result.raw_settings, result.rows = rows, raw, rows.num_rows
    result.labelled = int(pc.sum(rows.column("label")).as_py() or 0)


def _row_ms1(pairs: list) -> list[Scan]:
    return list({id(p.ms1): p.ms1 for p in pairs if p.ms1 is not None}.values())


def _profile_problem(path: Path, pairs: list, on_profile: str) -> str | None:
    """Why MS1 spectra flagged "profile spectrum" (MS:1000128) make no rows worth training on.

    A row keeps the MS1 spectrum's 400 most intense points (``MAX_PEAKS``). Profile data samples
    each peak 10-20 times: on a simulated Orbitrap MS1 of 300 peaks (8 points a FWHM, 6,300
    points) the 400 points covered 68 of the 227 peaks a centroid spectrum keeps, each 6 times,
    and log10(peak count) read 21x too many peaks.
    """
    ms1 = _row_ms1(pairs)
    profile = sum(s.spectrum_type == "profile" for s in ms1)
    if not profile:
        return None
    action = (
        "or convert with on_profile=keep to write it anyway"
        if on_profile == "error"
        else "(written anyway: on_profile=keep)"
    )
    return (
        f"{path}: {profile} of the {len(ms1)} MS1 spectra its rows use are profile spectra "
        "('profile spectrum', MS:1000128): a row keeps an MS1 spectrum's 400 most intense "
        "points, which on profile data are a few dozen peaks sampled many times each, and its "
        f"peak count is 10-20x too high. {centroid_fix(path)}, {action}"
    )


def centroid_fix(path: Path) -> str:
    """How to centroid ``path`` with ProteoWizard msconvert. Its "vendor" picker reads only the
    vendor's raw file (and must be the first filter); given an mzML or MGF it falls back to a
    low-quality local-maximum picker without an error, so the converted file needs "cwt"."""
    return (
        'Centroid it: from the vendor raw file, msconvert <raw file> --filter "peakPicking '
        'vendor msLevel=1-" (the first filter: the vendor algorithm reads raw files only); '
        f'from this file, msconvert {path} --filter "peakPicking cwt msLevel=1-"'
    )


def _peak_warnings(path: Path, pairs: list) -> list[str]:
    """MS1 spectra without a flag that look like profile data; m/z values given twice."""
    ms1 = _row_ms1(pairs)
    warnings = []
    looks = sum(s.looks_profile for s in ms1)
    if looks:
        warnings.append(
            f"{looks} of the {len(ms1)} MS1 spectra the rows use give no centroid/profile flag "
            f"and look like profile data (median m/z step < {PROFILE_MEDIAN_SPACING} over "
            f"{PROFILE_MIN_POINTS}+ points): the rows then hold a few peaks sampled many times; "
            f"centroid the file. {centroid_fix(path)}"
        )
    repeated = [s.repeated_mz for s in ms1 if s.repeated_mz]
    if repeated:
        warnings.append(
            f"{len(repeated)} MS1 spectra give {sum(repeated)} m/z values more than once; the "
            "intensities of each repeated m/z were summed into one peak"
        )
    return warnings


def iter_supported(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand folders into their ``.mgf``/``.mzML`` files (sorted, through symbolic links,
    hidden ones left out: see ``trainlab.data.folders``); keep files as given."""
    from trainlab.data.folders import files_under

    for path in map(Path, paths):
        if path.is_dir():
            yield from (p for p in files_under(path) if p.suffix.lower() in READERS)
        else:
            yield path
