"""Read and write spectra tables in Lance, checking every row against the schema first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trainlab.data.spectra.schema import (
    COLUMNS,
    MAX_PEAKS,
    N_INSTRUMENT_SETTINGS,
    SPECTRA_SCHEMA,
    UNKNOWN_POLARITY,
    RowProblem,
    is_table_name,
    polarity_of,
)
from trainlab.errors import DataError

_MZ_COLUMNS = ("mz_array", "precursor_mz")
_STRING_COLUMNS = ("compound_name", "source_file", "dataset_id", "mzml_filepath")
_MAX_LISTED_PROBLEMS = 20
_CHECK_BATCH_ROWS = 16_384
# sqrt(I / base peak) is at most 1 (the base peak itself); float32 rounding stays far below this
_MAX_INTENSITY = 1.0 + 1e-4
# no mass analyser reads m/z this high (MALDI-TOF of large proteins reaches a few 1e5): a
# table's m/z of 1e30 was trained on, its sinusoid encodings noise (inf, and NaN, from ~1e34)
MAX_MZ = 1e6
WRITE_MODES = ("create", "append", "overwrite")


LANCE_SUFFIX = ".lance"


def table_uri(root: str | Path, name: str) -> Path:
    """Folder of table ``name`` under ``root``: ``<root>/<name>``, or ``<root>/<name>.lance`` (the
    name LanceDB and many pipelines give table folders) when only that one exists; refuses names
    outside the schema's table set."""
    if not is_table_name(name):
        raise DataError(
            f"table name {name!r} is not one of train_data, validation_data, test_<n>; "
            "pick one of those names (test_1, not test1)"
        )
    plain, suffixed = Path(root) / name, Path(root) / f"{name}{LANCE_SUFFIX}"
    if _is_lance(plain) and _is_lance(suffixed):
        raise DataError(
            f"{root} holds both {name} and {name}{LANCE_SUFFIX}: two tables of one name; "
            "remove or rename one"
        )
    return suffixed if _is_lance(suffixed) else plain


def list_spectra_tables(root: str | Path) -> list[str]:
    """Names of the spectra tables that exist under ``root`` (``.lance`` suffix dropped), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    names = {p.name.removesuffix(LANCE_SUFFIX) for p in root.iterdir() if _is_lance(p)}
    return sorted(n for n in names if is_table_name(n))


def _is_lance(path: Path) -> bool:
    return (path / "_versions").is_dir() or (path / "_latest.manifest").exists()


def other_lance_folders(root: Path) -> list[str]:
    """Lance tables in ``root`` and its sub-folders that are not spectra table names."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        if _is_lance(path):
            if not is_table_name(path.name.removesuffix(LANCE_SUFFIX)):
                found.append(path.name)
        else:
            found += [f"{path.name}/{p.name}" for p in sorted(path.iterdir()) if _is_lance(p)]
    return found


def open_spectra(root: str | Path, name: str):
    """Open table ``name`` under ``root`` as a ``lance.LanceDataset`` after checking its schema."""
    uri = table_uri(root, name)
    if not _is_lance(uri):
        found = ", ".join(list_spectra_tables(root)) or "none"
        others = other_lance_folders(Path(root))
        hint = (
            f"; other Lance tables there: {', '.join(others[:10])}. The tables must be named "
            "train_data, validation_data and test_<n> (test_1, not test1) and lie directly in "
            "data.root: rename the folders or set data.root to the folder that holds them"
            if others
            else "; write it with `trainlab convert` or the spectra generator"
        )
        raise DataError(f"no Lance table at {uri} (spectra tables under {root}: {found}){hint}")
    return open_spectra_folder(uri)


def open_spectra_folder(uri: str | Path):
    """Open the Lance table folder ``uri`` (any name: a table to predict on) after checking its
    schema."""
    import lance

    dataset = lance.dataset(str(uri))
    check_schema(dataset.schema, str(uri))
    return dataset


def read_spectra(root: str | Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """Read table ``name`` (all rows, ``columns`` or all columns) into memory."""
    return as_schema_types(open_spectra(root, name).to_table(columns=columns))


def check_schema(schema: pa.Schema, where: str) -> None:
    """Raise ``DataError`` naming each missing column of ``schema`` and each column whose type does
    not read as the schema's (see :func:`reads_as`); other columns and the order do not matter."""
    wrong = []
    for field in SPECTRA_SCHEMA:
        if field.name not in schema.names:
            wrong.append(f"missing column {field.name!r} ({field.type})")
        elif not reads_as(schema.field(field.name).type, field.type, field.name):
            actual = schema.field(field.name).type
            why = " (float16 steps 0.5 m/z at m/z 1000)" if "halffloat" in str(actual) else ""
            wrong.append(f"column {field.name!r} is {actual}, expected {field.type}{why}")
    if wrong:
        raise DataError(
            f"{where} does not have the spectra schema: " + "; ".join(wrong) + ". Write these "
            "columns with the types of docs/spectra.md (Data), or convert the instrument files "
            "with `trainlab convert`"
        )


def reads_as(actual: pa.DataType, expected: pa.DataType, name: str = "") -> bool:
    """Whether a column of type ``actual`` is read as ``expected`` without changing its meaning.

    Other pipelines write the same values with other Arrow types: int64 scan numbers, list<double>
    or large_list / fixed_size_list peaks, float16/float64 numbers, large or dictionary-encoded
    strings, and labels as integers, booleans or "1"/"0" strings. They are cast on reading; a value
    that does not fit (an int64 scan number above 2**31, a label "yes") is refused by ``conform``.
    """
    if actual.equals(expected):
        return True
    if pa.types.is_dictionary(actual):
        return reads_as(actual.value_type, expected, name)
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(expected):
        if name in _MZ_COLUMNS and pa.types.is_float16(actual):
            return False  # float16 steps 0.5 m/z at m/z 1000: the precursor peak is lost
        if name == "label":
            return (
                pa.types.is_floating(actual)
                or pa.types.is_integer(actual)
                or pa.types.is_boolean(actual)
                or pa.types.is_string(actual)
                or pa.types.is_large_string(actual)
            )
        return pa.types.is_floating(actual)
    if pa.types.is_list(expected):
        lists = pa.types.is_list(actual) or pa.types.is_large_list(actual)
        lists = lists or pa.types.is_fixed_size_list(actual)
        return lists and reads_as(actual.value_type, expected.value_type, name)
    return False


def as_schema_types(table: pa.Table, where: str = "a spectra table") -> pa.Table:
    """``table`` with each column of the spectra schema cast to the schema's type (other columns
    as they are), and empty text for missing text; every reader of a Lance table goes through
    this. Lance's legacy storage format (``data_storage_version="legacy"``, 0.1) reads an empty
    string back as null: before this, two tables of such empty ``mzml_filepath`` values were
    refused as holding "the same file" ('None')."""
    for field in SPECTRA_SCHEMA:
        if field.name in table.column_names:
            i = table.column_names.index(field.name)
            column = table.column(i)
            if not column.type.equals(field.type):
                column = _cast(column, field, where)
            if field.name in _STRING_COLUMNS and column.null_count:
                column = pc.fill_null(column, "")
            table = table.set_column(i, field.name, column)
    return table


def _cast(column: pa.ChunkedArray, field: pa.Field, where: str, offset: int = 0) -> pa.ChunkedArray:
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        found = _first_uncastable(column, field.type)
        at = f" at row {offset + found[0]} (value {found[1]!r})" if found else ""
        raise DataError(
            f"{where}: column {field.name!r} of type {column.type} does not convert to "
            f"{field.type}{at} ({err}); write it as {field.type} (docs/spectra.md, Data)"
        ) from err


def _first_uncastable(column: pa.ChunkedArray, type_: pa.DataType) -> tuple[int, Any] | None:
    """The position and value of the first element of ``column`` that does not cast to
    ``type_`` (Arrow's error names the value, not its row); None when the type itself does not
    cast. Runs only after a failed cast, slice by slice."""
    flat = column.combine_chunks()
    for start in range(0, len(flat), 1024):
        part = flat.slice(start, 1024)
        try:
            part.cast(type_)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for j in range(len(part)):
                try:
                    part.slice(j, 1).cast(type_)
                except pa.ArrowNotImplementedError:
                    return None
                except pa.ArrowInvalid:
                    return start + j, part[j].as_py()
    return None


def _check_appendable(schema: pa.Schema, where: str) -> None:
    """Lance appends only rows of the table's exact schema: one another pipeline wrote with
    other types or extra columns is read (cast on reading) but not appended to."""
    check_schema(schema, where)
    if not schema.equals(SPECTRA_SCHEMA):
        other = [
            f"{f.name} ({f.type})"
            for f in schema
            if f.name not in COLUMNS or not f.type.equals(SPECTRA_SCHEMA.field(f.name).type)
        ]
        raise DataError(
            f"{where} was written by another pipeline with other columns or types "
            f"({', '.join(other) or 'column order'}); rows can be read from it but not appended "
            "to it. Write the new rows into a new table (test_<n>), or rewrite it with "
            "mode=overwrite"
        )


def conform(table: pa.Table, where: str, offset: int = 0) -> pa.Table:
    """Select and cast ``table``'s columns to the spectra schema; empty strings for null text.

    ``offset``: the table's first row in the whole table, for the row an error names."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(f"{where}: missing columns {missing}; every row needs all of {COLUMNS}")
    arrays = []
    for field in SPECTRA_SCHEMA:
        column = _cast(table.column(field.name), field, where, offset)
        if field.name in _STRING_COLUMNS:
            column = pc.fill_null(column, "")
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=SPECTRA_SCHEMA)


def find_problems(table: pa.Table) -> list[RowProblem]:
    """Every row of a conformed ``table`` that breaks a schema rule, with its position."""
    problems: list[RowProblem] = []
    n = table.num_rows
    for name in COLUMNS:
        if name in _STRING_COLUMNS and name != "source_file":
            continue
        column = table.column(name)
        if column.null_count:
            for i in np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)):
                problems.append(RowProblem(int(i), name, "value is missing"))
    if problems:
        return problems
    settings_len = pc.list_value_length(table.column("instrument_settings")).to_numpy()
    for i in np.flatnonzero(settings_len != N_INSTRUMENT_SETTINGS):
        problems.append(
            RowProblem(
                int(i),
                "instrument_settings",
                f"has {settings_len[i]} values, expected {N_INSTRUMENT_SETTINGS}",
            )
        )
    mz_len = pc.list_value_length(table.column("mz_array")).to_numpy()
    intensity_len = pc.list_value_length(table.column("intensity_array")).to_numpy()
    for i in np.flatnonzero(mz_len != intensity_len):
        problems.append(
            RowProblem(
                int(i), "intensity_array", f"has {intensity_len[i]} peaks but mz_array {mz_len[i]}"
            )
        )
    for i in np.flatnonzero(mz_len == 0):
        problems.append(RowProblem(int(i), "mz_array", "the MS1 spectrum has no peaks"))
    for i in np.flatnonzero(mz_len > MAX_PEAKS):
        problems.append(
            RowProblem(int(i), "mz_array", f"has {mz_len[i]} peaks, at most {MAX_PEAKS}")
        )
    problems += _check_peaks(table, mz_len)
    labels = table.column("label").to_numpy()
    for i in np.flatnonzero(~np.isin(labels, (0.0, 1.0))):
        problems.append(RowProblem(int(i), "label", f"is {labels[i]}, expected 0 or 1"))
    precursor = table.column("precursor_mz").to_numpy()
    for i in np.flatnonzero(~(np.isfinite(precursor) & (precursor > 0) & (precursor <= MAX_MZ))):
        problems.append(
            RowProblem(
                int(i), "precursor_mz", f"is {precursor[i]:g}, expected > 0 and <= {MAX_MZ:g}"
            )
        )
    if not any(p.column == "instrument_settings" for p in problems):
        settings = flat_settings(table.column("instrument_settings"), n)
        for i in np.flatnonzero(~np.isfinite(settings).all(axis=1)):
            problems.append(RowProblem(int(i), "instrument_settings", "has NaN or infinite values"))
        for i in np.flatnonzero(polarity_of(settings) == UNKNOWN_POLARITY):
            problems.append(
                RowProblem(
                    int(i),
                    "instrument_settings",
                    "polarity is not one-hot (index 14 = negative, 15 = positive)",
                )
            )
    return sorted(problems, key=lambda p: p.position)


def _check_peaks(table: pa.Table, mz_len: np.ndarray) -> list[RowProblem]:
    problems = []
    starts = np.concatenate([[0], np.cumsum(mz_len)])
    for column in ("mz_array", "intensity_array"):
        values = pc.list_flatten(table.column(column)).to_numpy()
        if len(values) != starts[-1]:
            continue  # length mismatch already reported
        if len(values) == 0:
            continue
        # two reductions (NaN propagates) decide whether any peak needs a closer look
        low, high = values.min(), values.max()
        limit = _MAX_INTENSITY if column == "intensity_array" else MAX_MZ
        if low >= 0 and high < np.inf and high <= limit:
            continue
        # a row index per bad peak only: a per-peak row index (np.repeat) took a third of the
        # check on 200k rows of 400 peaks
        bad = np.flatnonzero(~(values >= 0) | (values == np.inf))  # negative, NaN or infinite
        for i in np.unique(np.searchsorted(starts, bad, side="right") - 1):
            problems.append(RowProblem(int(i), column, "has negative, NaN or infinite values"))
        if column == "intensity_array":
            # raw ion counts instead of sqrt(I / base peak): the model would see another scale
            above = np.flatnonzero((values > _MAX_INTENSITY) & (values != np.inf))
            for i in np.unique(np.searchsorted(starts, above, side="right") - 1):
                top = float(values[starts[i] : starts[i + 1]].max())
                problems.append(
                    RowProblem(
                        int(i), column, f"goes up to {top:g}; expected sqrt(I / base peak) <= 1"
                    )
                )
        else:
            above = np.flatnonzero((values > MAX_MZ) & (values != np.inf))
            for i in np.unique(np.searchsorted(starts, above, side="right") - 1):
                top = float(values[starts[i] : starts[i + 1]].max())
                problems.append(
                    RowProblem(int(i), column, f"goes up to {top:g}; expected m/z <= {MAX_MZ:g}")
                )
    return problems


def check_rows(dataset, where: str) -> np.ndarray:
    """Raise ``DataError`` listing the rows of a Lance table that break a schema rule; return
    each row's :func:`spectrum_fingerprint` (found in the same pass).

    Reads every row once, in batches, with the rules ``write_spectra`` applies: tables written by
    other pipelines would otherwise be misread silently (a 24-value settings row shifts every
    later row; a 2.0 or missing label counts in no class; raw intensities change the scale).
    ``table_checks.checked_fingerprints`` keeps the result per table version.
    """
    shown: list[RowProblem] = []
    count, offset = 0, 0
    prints = []
    for batch in dataset.to_batches(columns=list(COLUMNS), batch_size=_CHECK_BATCH_ROWS):
        table = conform(pa.Table.from_batches([batch]), where, offset)
        problems = find_problems(table)
        count += len(problems)
        for p in problems[: _MAX_LISTED_PROBLEMS - len(shown)]:
            shown.append(RowProblem(p.position + offset, p.column, p.message))
        if not count:
            prints.append(spectrum_fingerprint(table))
        offset += batch.num_rows
    if count:
        more = f"; and {count - len(shown)} more" if count > len(shown) else ""
        raise DataError(
            f"{where}: {count} problem(s) in rows that do not fit the spectra schema (row = "
            f"position in the table): {'; '.join(str(p) for p in shown)}{more}. Fix them in the "
            "pipeline that wrote the table (docs/spectra.md, Data) or convert the instrument "
            "files with `trainlab convert`"
        )
    return np.concatenate(prints) if prints else np.zeros(0, dtype=np.uint64)


def spectrum_fingerprint(table: pa.Table) -> np.ndarray:
    """One uint64 per row of a conformed table from its precursor m/z, peak count and first,
    middle and last peaks: equal for identical spectra, and rarely for others (candidates are
    compared in full, see ``identical_spectra``). No pass over every peak: cheap on any table."""
    n_peaks = pc.list_value_length(table.column("mz_array")).to_numpy()
    starts = np.concatenate([[0], np.cumsum(n_peaks)])
    mz_values = pc.list_flatten(table.column("mz_array")).to_numpy()
    intensity_values = pc.list_flatten(table.column("intensity_array")).to_numpy()
    if len(mz_values) == 0 or len(intensity_values) != len(mz_values):
        mz_values = intensity_values = np.zeros(1, dtype=np.float32)  # rows refused anyway
    last = len(mz_values) - 1
    key = table.column("precursor_mz").to_numpy().view(np.uint32).astype(np.uint64)
    key = _mix(key ^ (n_peaks.astype(np.uint64) << np.uint64(32)))
    for at in (starts[:-1], starts[:-1] + n_peaks // 2, starts[1:] - 1):
        at = np.clip(at, 0, last)
        pair = (mz_values[at].view(np.uint32).astype(np.uint64) << np.uint64(32)) | (
            intensity_values[at].view(np.uint32).astype(np.uint64)
        )
        key = _mix(key ^ pair)
    return key


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # splitmix64's finaliser
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def flat_settings(column: pa.ChunkedArray | pa.Array, n_rows: int) -> np.ndarray:
    """An ``(n_rows, 22)`` float32 array from an ``instrument_settings`` column of full rows."""
    values = pc.list_flatten(column).to_numpy().astype(np.float32, copy=False)
    return values.reshape(n_rows, N_INSTRUMENT_SETTINGS)


def format_problems(problems: list[RowProblem], where: str) -> str:
    """One message listing the first problems of ``where`` and how many there are."""
    shown = "; ".join(str(p) for p in problems[:_MAX_LISTED_PROBLEMS])
    more = len(problems) - _MAX_LISTED_PROBLEMS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{where}: {len(problems)} row(s) do not fit the spectra schema: {shown}{tail}"


def write_spectra(table: pa.Table, root: str | Path, name: str, mode: str = "append") -> int:
    """Check every row of ``table``, then write it to ``<root>/<name>``; returns rows written.

    ``append`` creates the table when it does not exist. Nothing is written when any row breaks
    the schema, so a bad input never leaves a half-appended table behind.
    """
    import lance

    if mode not in WRITE_MODES:
        raise DataError(f"write mode {mode!r} is not one of {WRITE_MODES}")
    uri = table_uri(root, name)
    table = conform(table, str(uri))
    problems = find_problems(table)
    if problems:
        raise DataError(format_problems(problems, f"rows for {uri}"))
    exists = _is_lance(uri)
    if exists and mode == "append":
        _check_appendable(lance.dataset(str(uri)).schema, str(uri))
    if exists and mode == "create":
        raise DataError(f"{uri} exists; use mode=append to add rows or pick another root")
    effective = mode if exists or mode == "overwrite" else "create"
    uri.parent.mkdir(parents=True, exist_ok=True)
    lance.write_dataset(table, str(uri), schema=SPECTRA_SCHEMA, mode=effective)
    return table.num_rows
