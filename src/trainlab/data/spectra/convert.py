"""MGF and mzML files -> spectra tables (the data side of ``trainlab convert``).

Every input file is read and checked completely before anything is written; each good file is
then appended as its own Lance version, so a file that fails leaves every earlier file's rows in
place. Files whose name is already in the table are skipped, which makes a rerun after a fix
safe. Each MS2 scan becomes one row holding the preceding MS1 scan of the same polarity.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trainlab.data.spectra.instrument import STANDARDIZATION_FILE, Standardizer, raw_settings
from trainlab.data.spectra.scans import Scan, filter_peaks, parse_label, read_mgf, read_mzml
from trainlab.data.spectra.schema import N_INSTRUMENT_SETTINGS, SPECTRA_SCHEMA, RowProblem
from trainlab.data.spectra.store import (
    conform,
    find_problems,
    format_problems,
    open_spectra,
    table_uri,
    write_spectra,
)
from trainlab.errors import DataError

READERS = {".mgf": read_mgf, ".mzml": read_mzml}
BAD_ROW_POLICIES = ("error", "skip")
_SCAN_COLUMNS = ("ms2_scan_number", "scan", "scans", "scan_number")
_FILE_COLUMNS = ("source_file", "filename", "file", "mzml_file")


@dataclass
class FileResult:
    """What happened to one input file."""

    path: Path
    status: str = "pending"  # written | rejected | already present | no MS2 scans
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    table: pa.Table | None = None
    raw_settings: np.ndarray | None = None


@dataclass
class ConvertReport:
    """The outcome of one conversion: per-file results and where the rows went."""

    root: Path
    table: str
    files: list[FileResult]
    standardization: Path | None = None

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
        lines = [f"{f.path}: {f.status}, {f.rows} rows" for f in self.files]
        for f in self.files:
            lines += [f"  {problem}" for problem in f.problems]
        lines.append(f"{self.rows_written} rows written to {table_uri(self.root, self.table)}")
        return "\n".join(lines)


def load_identified_scans(path: str | Path) -> dict[tuple[str, int], str]:
    """(file stem, MS2 scan number) -> compound name, from a CSV of identified scans.

    The CSV needs a file column (source_file, filename, file or mzml_file) and a scan column
    (ms2_scan_number, scan, scans or scan_number); compound_name is optional. Files are matched
    by name without folder and extension, so ``run1.mzML`` matches ``/data/run1.mgf``.
    """
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
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
            for line, row in enumerate(reader, start=2):
                try:
                    scan = int(float(row[scan_col]))
                except (TypeError, ValueError) as err:
                    raise DataError(
                        f"{path}, line {line}: scan {row[scan_col]!r} is not a number"
                    ) from err
                key = (_stem(row[file_col]), scan)
                identified[key] = (row.get(name_col) or "") if name_col else ""
            return identified
    except OSError as err:
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
    dataset_id: str | None = None,
    on_bad_row: str = "error",
    standardization: str | Path | None = None,
) -> ConvertReport:
    """Convert MGF/mzML ``paths`` and append them to ``<root>/<table>``.

    Args:
        paths: input files (``.mgf`` or ``.mzML``).
        root: folder holding the tables.
        table: ``train_data``, ``validation_data`` or ``test_<n>``.
        label_column: MGF parameter or mzML userParam holding 1 (identified) / 0.
        labels_csv: CSV of identified scans (see :func:`load_identified_scans`).
        dataset_id: value of the ``dataset_id`` column; default the file's folder name.
        on_bad_row: ``error`` rejects a file with any bad row; ``skip`` drops bad rows and
            lists them in the report.
        standardization: instrument statistics JSON to use instead of
            ``<root>/instrument_standardization.json`` (fitted on the first conversion).
    """
    if label_column and labels_csv:
        raise DataError("give label_column or labels_csv, not both")
    if on_bad_row not in BAD_ROW_POLICIES:
        raise DataError(f"on_bad_row={on_bad_row!r} is not one of {BAD_ROW_POLICIES}")
    root = Path(root)
    table_uri(root, table)  # check the name before reading any file
    identified = load_identified_scans(labels_csv) if labels_csv else None
    present = _files_in_table(root, table)
    results = []
    for path in map(Path, paths):
        result = FileResult(path)
        if path.name in present:
            result.status = "already present"
        else:
            _read_file(result, identified, label_column, dataset_id, on_bad_row)
        results.append(result)
    report = ConvertReport(root, table, results)
    good = [r for r in results if r.status == "pending"]
    if not good:
        return report
    report.standardization, standardizer = _standardizer(root, standardization, good)
    for result in good:
        settings = standardizer.transform(result.raw_settings)
        rows = result.table.set_column(
            SPECTRA_SCHEMA.get_field_index("instrument_settings"),
            "instrument_settings",
            pa.array(list(settings), type=pa.list_(pa.float32())),
        )
        write_spectra(rows, root, table, mode="append")
        result.status, result.table, result.raw_settings = "written", None, None
    return report


def _files_in_table(root: Path, table: str) -> set[str]:
    try:
        dataset = open_spectra(root, table)
    except DataError:
        return set()
    names = dataset.to_table(columns=["source_file"]).column("source_file")
    return set(pc.unique(names).to_pylist())


def _standardizer(
    root: Path, given: str | Path | None, good: list[FileResult]
) -> tuple[Path, Standardizer]:
    if given is not None:
        return Path(given), Standardizer.load(given)
    path = root / STANDARDIZATION_FILE
    if path.exists():
        return path, Standardizer.load(path)
    standardizer = Standardizer.fit(np.concatenate([r.raw_settings for r in good]))
    return standardizer.save(path), standardizer


def _read_file(
    result: FileResult,
    identified: dict | None,
    label_column: str | None,
    dataset_id: str | None,
    on_bad_row: str,
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
    builder = _RowBuilder(path, identified, dataset_id or path.resolve().parent.name)
    position = 0
    try:
        for scan in reader(path, label_column):
            position = scan.position + 1
            builder.add(scan)
    except Exception as err:  # a parser error anywhere in the file rejects the whole file
        result.status = "rejected"
        result.problems.append(f"{path}: cannot read spectrum #{position} ({err})")
        return
    rows, raw, positions, problems = builder.finish()
    bad = {p.position for p in problems}
    if rows.num_rows:
        table = conform(rows, str(path))
        for p in find_problems(table):
            problems.append(RowProblem(positions[p.position], p.column, p.message))
            bad.add(positions[p.position])
    problems.sort(key=lambda p: p.position)
    if problems and on_bad_row == "error":
        result.status = "rejected"
        result.problems.append(format_problems(problems, f"{path} (position = spectrum index)"))
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
    result.table, result.raw_settings, result.rows = rows, raw, rows.num_rows


class _RowBuilder:
    """Pairs each MS2 scan with the latest MS1 scan of its polarity and collects rows."""

    def __init__(self, path: Path, identified: dict | None, dataset_id: str) -> None:
        self.path, self.identified, self.dataset_id = path, identified, dataset_id
        self.stem = _stem(path.name)
        self.last_ms1: dict[int | None, Scan] = {}
        self.columns: dict[str, list] = {name: [] for name in SPECTRA_SCHEMA.names}
        self.raw: list[np.ndarray] = []
        self.positions: list[int] = []
        self.problems: list[RowProblem] = []

    def add(self, scan: Scan) -> None:
        if scan.ms_level == 1:
            self.last_ms1[scan.polarity] = scan
            self.last_ms1[None] = scan
        elif scan.ms_level == 2:
            self._add_ms2(scan)

    def _problem(self, scan: Scan, column: str, message: str) -> None:
        self.problems.append(
            RowProblem(scan.position, column, f"scan {scan.scan_number}: {message}")
        )

    def _add_ms2(self, scan: Scan) -> None:
        ms1 = self.last_ms1.get(scan.polarity)
        polarity = scan.polarity if scan.polarity is not None else getattr(ms1, "polarity", None)
        label, compound = self._label(scan)
        if ms1 is None:
            return self._problem(scan, "mz_array", "no MS1 scan of its polarity before it")
        if polarity is None:
            return self._problem(scan, "instrument_settings", "polarity is not given")
        if scan.precursor_mz is None:
            return self._problem(scan, "precursor_mz", "precursor m/z is not given")
        if label is None:
            return self._problem(scan, "label", f"{scan.label!r} is not 1/0 or true/false")
        mz, intensity = filter_peaks(ms1.mz, ms1.intensity)
        raw = _settings(ms1, scan, polarity)
        self.raw.append(raw)
        self.positions.append(scan.position)
        values = {
            "ms1_scan_number": ms1.scan_number,
            "ms2_scan_number": scan.scan_number,
            "mz_array": mz,
            "intensity_array": intensity,
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

    def _label(self, scan: Scan) -> tuple[float | None, str]:
        if self.identified is not None:
            key = (self.stem, scan.scan_number)
            if key in self.identified:
                return 1.0, self.identified[key] or scan.compound_name or ""
            return 0.0, scan.compound_name or ""
        if scan.label is None:
            return 0.0, scan.compound_name or ""
        return parse_label(scan.label), scan.compound_name or ""

    def finish(self) -> tuple[pa.Table, np.ndarray, list[int], list[RowProblem]]:
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


def _settings(ms1: Scan, ms2: Scan, polarity: int) -> np.ndarray:
    raw_intensity = ms1.intensity[np.isfinite(ms1.intensity)]
    tic = ms1.total_ion_current or (float(raw_intensity.sum()) if len(raw_intensity) else None)
    bpi = ms1.base_peak_intensity or (float(raw_intensity.max()) if len(raw_intensity) else None)
    seconds = None
    if ms1.retention_time_s is not None and ms2.retention_time_s is not None:
        seconds = ms2.retention_time_s - ms1.retention_time_s
    numeric = {
        "ms1_retention_time_min": None
        if ms1.retention_time_s is None
        else ms1.retention_time_s / 60.0,
        "ms1_injection_time_ms": ms1.injection_time_ms,
        "ms1_log10_total_ion_current": _log10(tic),
        "ms1_log10_base_peak_intensity": _log10(bpi),
        "ms1_scan_window_lower_mz": ms1.window_lower,
        "ms1_scan_window_upper_mz": ms1.window_upper,
        "ms1_log10_peak_count": float(np.log10(1 + len(ms1.mz))),
        "ms2_injection_time_ms": ms2.injection_time_ms,
        "ms2_collision_energy": ms2.collision_energy,
        "isolation_window_width": ms2.isolation_width,
        "precursor_charge": ms2.precursor_charge,
        "precursor_log10_intensity": _log10(ms2.precursor_intensity),
        "scans_since_ms1": ms2.scan_number - ms1.scan_number,
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


def iter_supported(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand folders into their ``.mgf``/``.mzML`` files (sorted); keep files as given."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in READERS)
        else:
            yield path
