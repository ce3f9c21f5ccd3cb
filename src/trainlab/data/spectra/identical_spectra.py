"""Rows holding the same spectrum: the same precursor m/z and MS1 peaks, whatever their names.

The run check (``shared_runs``) recognises a run in two tables by half of its spectra or by its
file path; a few rows copied from one table into another under other file names and scan
numbers passed it, and the model was then tested on spectra it trained on. Here every row is
compared: rows whose fingerprints (``store.spectrum_fingerprint``) match are read and compared
in full, so a reported row is identical, not a hash collision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trainlab.data.spectra.store import as_schema_types

CONTENT_COLUMNS = ["precursor_mz", "mz_array", "intensity_array", "source_file", "ms2_scan_number"]
_TAKE_ROWS = 8192
EXAMPLES = 5


@dataclass
class Identical:
    """Rows of one table (``rows``) identical to rows of another (or of the same) table."""

    rows: int = 0  # rows with an identical row elsewhere (in the second table, or earlier)
    examples: list[tuple[str, str]] = field(default_factory=list)  # (one row, its copy)

    def describe(self, first: str = "", second: str = "") -> str:
        """``train_data row 3 (a.mzML, MS2 scan 12) = test_1 row 0 (b.mzML, MS2 scan 7); ...``"""
        first, second = (f"{first} " if first else ""), (f"{second} " if second else "")
        return "; ".join(f"{first}{a} = {second}{b}" for a, b in self.examples)


def _contents(uri: str, rows: np.ndarray) -> tuple[list[bytes], list[str]]:
    """(the spectrum bytes, a short name) of each of ``rows`` of a table."""
    import lance

    dataset = lance.dataset(uri)
    keys: list[bytes] = []
    names: list[str] = []
    for start in range(0, len(rows), _TAKE_ROWS):
        part = rows[start : start + _TAKE_ROWS]
        table = as_schema_types(dataset.take(part, columns=CONTENT_COLUMNS), uri)
        found, named = table_contents(table)
        keys += found
        names += [f"row {row} ({name})" for row, name in zip(part, named, strict=True)]
    return keys, names


def table_contents(table: pa.Table) -> tuple[list[bytes], list[str]]:
    """(the spectrum bytes, ``file, MS2 scan n``) of each row of a table of ``CONTENT_COLUMNS``
    in the schema's types."""
    precursor = table.column("precursor_mz").to_numpy()
    starts = np.concatenate(
        [[0], np.cumsum(pc.list_value_length(table.column("mz_array")).to_numpy())]
    )
    mz = pc.list_flatten(table.column("mz_array")).to_numpy()
    intensity = pc.list_flatten(table.column("intensity_array")).to_numpy()
    files = table.column("source_file").to_pylist()
    scans = table.column("ms2_scan_number").to_pylist()
    keys, names = [], []
    for i in range(table.num_rows):
        a, b = starts[i], starts[i + 1]
        keys.append(precursor[i].tobytes() + mz[a:b].tobytes() + b"|" + intensity[a:b].tobytes())
        names.append(f"{files[i] or 'no source_file'}, MS2 scan {scans[i]}")
    return keys, names


def rows_in_table(uri: str, prints: np.ndarray, new: pa.Table, new_prints: np.ndarray) -> Identical:
    """Rows of ``new`` (rows not written yet, ``CONTENT_COLUMNS`` in the schema's types)
    identical to a row of the table at ``uri`` (``prints``: one fingerprint per table row)."""
    candidates = np.intersect1d(prints, new_prints)
    if not len(candidates):
        return Identical()
    keys, names = _contents(uri, np.flatnonzero(np.isin(prints, candidates)))
    return _matches(dict(zip(keys, names, strict=True)), new, new_prints, candidates)


def rows_in_rows(
    first: pa.Table, first_prints: np.ndarray, new: pa.Table, new_prints: np.ndarray
) -> Identical:
    """Rows of ``new`` identical to a row of ``first`` (both as in ``rows_in_table``)."""
    candidates = np.intersect1d(first_prints, new_prints)
    if not len(candidates):
        return Identical()
    keys, names = table_contents(first.take(np.flatnonzero(np.isin(first_prints, candidates))))
    return _matches(dict(zip(keys, names, strict=True)), new, new_prints, candidates)


def _matches(
    seen: dict[bytes, str], new: pa.Table, new_prints: np.ndarray, candidates: np.ndarray
) -> Identical:
    found = Identical()
    picked = np.flatnonzero(np.isin(new_prints, candidates))
    for key, name in zip(*table_contents(new.take(picked)), strict=True):
        if key in seen:
            found.rows += 1
            if len(found.examples) < EXAMPLES:
                found.examples.append((seen[key], name))
    return found


def rows_repeated(new: pa.Table, new_prints: np.ndarray) -> Identical:
    """Rows of ``new`` (as in ``rows_in_table``) identical to an earlier row of ``new``."""
    values, counts = np.unique(new_prints, return_counts=True)
    picked = np.flatnonzero(np.isin(new_prints, values[counts > 1]))
    return _repeats(zip(*table_contents(new.take(picked)), strict=True))


def across(
    first: tuple[str, np.ndarray, np.ndarray], second: tuple[str, np.ndarray, np.ndarray]
) -> Identical:
    """Rows of ``second`` identical to a row of ``first``; each is (uri, table rows, their
    fingerprints)."""
    (uri_a, rows_a, prints_a), (uri_b, rows_b, prints_b) = first, second
    candidates = np.intersect1d(prints_a, prints_b)
    if not len(candidates):
        return Identical()
    picked_a = rows_a[np.isin(prints_a, candidates)]
    picked_b = rows_b[np.isin(prints_b, candidates)]
    keys_a, names_a = _contents(uri_a, picked_a)
    seen = dict(zip(keys_a, names_a, strict=True))
    found = Identical()
    for key, name in zip(*_contents(uri_b, picked_b), strict=True):
        if key in seen:
            found.rows += 1
            if len(found.examples) < EXAMPLES:
                found.examples.append((seen[key], name))
    return found


def within(uri: str, rows: np.ndarray, prints: np.ndarray) -> Identical:
    """Rows of a table identical to an earlier row of the same table."""
    values, counts = np.unique(prints, return_counts=True)
    repeated = values[counts > 1]
    if not len(repeated):
        return Identical()
    picked = rows[np.isin(prints, repeated)]
    return _repeats(zip(*_contents(uri, picked), strict=True))


def _repeats(rows: Iterable[tuple[bytes, str]]) -> Identical:
    """The rows (full contents, name) whose contents an earlier row has, with examples."""
    seen: dict[bytes, str] = {}
    found = Identical()
    for key, name in rows:
        if key in seen:
            found.rows += 1
            if len(found.examples) < EXAMPLES:
                found.examples.append((seen[key], name))
        else:
            seen[key] = name
    return found
