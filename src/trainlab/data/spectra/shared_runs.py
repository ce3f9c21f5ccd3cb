"""Mass-spec runs found in two spectra tables: a model tested on spectra it trained on.

Rows of one run must stay in one table (train, validation or test): its MS2 scans share their MS1
spectra, the model's input, so a run in two tables gives optimistic figures without any error.
A run is recognised by what the rows hold (the schema has no run id):

- its spectra: (MS2 scan number, precursor m/z to 0.01) of a file, found for at least half of
  the rows of the smaller file in a file of the other table; this catches a renamed copy and the
  same run converted from mzML and MGF. Different runs share a few such pairs by chance (the same
  precursor at the same scan number), never half of them;
- its file: the same ``mzml_filepath`` (the converted file's resolved path), whatever the rows
  (a run split by scans between tables).

The same file name with other spectra and another path is only a hint (generic names such as
``sample1.mzML`` repeat across projects) and is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from trainlab.data.spectra.store import as_schema_types

PRINT_COLUMNS = ["source_file", "mzml_filepath", "ms2_scan_number", "precursor_mz"]
SAME_SPECTRA_SHARE = 0.5
SKETCH_SIZE = 32  # spectra kept per training file in the checkpoint (see `sketch`)


@dataclass
class RunPrint:
    """What identifies one source file's run: its name, path and spectra keys."""

    name: str
    path: str
    keys: np.ndarray  # unique int64 keys of (MS2 scan number, precursor m/z)

    @property
    def rows(self) -> int:
        return len(self.keys)


@dataclass
class SharedRun:
    """A run in two tables: the file in each, and how it was recognised."""

    first: str
    second: str
    shared: int  # spectra found in both (sampled ones for a checkpoint's sketch)
    rows: int  # spectra of the smaller file (sample size for a sketch)
    how: str  # "same spectra" | "same file" | "same file name"

    def __str__(self) -> str:
        names = self.first if self.first == self.second else f"{self.first} / {self.second}"
        if self.how == "same file name":
            return f"{names} (same file name, other spectra and path)"
        return f"{names} ({self.how}: {self.shared} of {self.rows} spectra in both)"


def spectrum_keys(scans: np.ndarray, precursor_mz: np.ndarray) -> np.ndarray:
    """One int64 per spectrum: the MS2 scan number and the precursor m/z in 0.01 steps (MGF
    and mzML of one run may write the m/z with other decimals)."""
    mz = np.round(np.asarray(precursor_mz, dtype=np.float64) * 100).astype(np.int64)
    return (np.asarray(scans, dtype=np.int64) << 24) | (mz & 0xFFFFFF)


def run_prints(table: pa.Table) -> dict[str, RunPrint]:
    """Source file name -> its :class:`RunPrint`, from a table with ``PRINT_COLUMNS``."""
    if table.num_rows == 0:
        return {}
    names = table.column("source_file").to_numpy(zero_copy_only=False).astype(str)
    paths = table.column("mzml_filepath").to_numpy(zero_copy_only=False).astype(str)
    keys = spectrum_keys(
        table.column("ms2_scan_number").to_numpy(), table.column("precursor_mz").to_numpy()
    )
    prints = {}
    for name in np.unique(names):
        rows = names == name
        prints[str(name)] = RunPrint(str(name), str(paths[rows][0]), np.unique(keys[rows]))
    return prints


def table_prints(uri: str | Path) -> dict[str, RunPrint]:
    """The run prints of a Lance spectra table (reads four small columns, no peaks)."""
    import lance

    table = lance.dataset(str(uri)).to_table(columns=PRINT_COLUMNS)
    return run_prints(as_schema_types(table, str(uri)))


def find_shared(first: dict[str, RunPrint], second: dict[str, RunPrint]) -> list[SharedRun]:
    """Runs of ``first`` found in ``second``; "same file name" ones are hints, not proof."""
    found: dict[tuple[str, str], SharedRun] = {}
    if first and second:
        names = list(first)
        keys = np.concatenate([first[n].keys for n in names])
        owner = np.repeat(np.arange(len(names)), [first[n].rows for n in names])
        order = np.argsort(keys, kind="stable")
        keys, owner = keys[order], owner[order]
        for other in second.values():
            at = np.searchsorted(keys, other.keys).clip(max=len(keys) - 1)
            hit = keys[at] == other.keys
            counts = np.bincount(owner[at[hit]], minlength=len(names))
            for i in np.flatnonzero(counts):
                mine = first[names[i]]
                smaller = min(mine.rows, other.rows)
                if counts[i] >= SAME_SPECTRA_SHARE * smaller:
                    found[mine.name, other.name] = SharedRun(
                        mine.name, other.name, int(counts[i]), smaller, "same spectra"
                    )
    by_path = {p.path: p for p in first.values() if p.path and "://" not in p.path}
    for other in second.values():
        mine = by_path.get(other.path)
        if mine is not None and (mine.name, other.name) not in found:
            shared = int(np.isin(other.keys, mine.keys).sum())
            smaller = min(mine.rows, other.rows)
            found[mine.name, other.name] = SharedRun(
                mine.name, other.name, shared, smaller, "same file"
            )
    for name in sorted(set(first) & set(second)):
        if not any(name in (s.first, s.second) for s in found.values()):
            found[name, name] = SharedRun(name, name, 0, 0, "same file name")
    return list(found.values())


def proven(shared: list[SharedRun]) -> list[SharedRun]:
    """The runs recognised by their spectra or file, not only by name."""
    return [s for s in shared if s.how != "same file name"]


def describe(shared: list[SharedRun], limit: int = 5) -> str:
    """``a.mzML (same spectra: 120 of 120 spectra in both), ...``"""
    more = f" and {len(shared) - limit} more" if len(shared) > limit else ""
    return ", ".join(str(s) for s in shared[:limit]) + more


def sketch(prints: dict[str, RunPrint], size: int = SKETCH_SIZE) -> dict[str, dict]:
    """A small record of a table's runs for a checkpoint: per file its path, spectra count and
    the ``size`` keys with the smallest hash (a uniform sample, the same for any copy of the
    file), so a later table can be checked for the training runs without the training table."""
    out = {}
    for name, run in prints.items():
        chosen = run.keys[np.argsort(_mix(run.keys), kind="stable")[:size]]
        out[name] = {"path": run.path, "rows": run.rows, "sample": sorted(int(k) for k in chosen)}
    return out


def find_in_sketch(record: dict[str, dict], prints: dict[str, RunPrint]) -> list[SharedRun]:
    """Runs of a checkpoint's :func:`sketch` found in a table's ``prints``."""
    found = []
    for name, run in record.items():
        sample = np.asarray(run.get("sample", []), dtype=np.int64)
        for other in prints.values():
            hits = int(np.isin(sample, other.keys).sum()) if len(sample) else 0
            if len(sample) and hits >= SAME_SPECTRA_SHARE * len(sample):
                found.append(SharedRun(name, other.name, hits, len(sample), "same spectra"))
            elif run.get("path") and "://" not in run["path"] and run["path"] == other.path:
                found.append(SharedRun(name, other.name, hits, len(sample), "same file"))
    return found


def _mix(keys: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mixing of the keys (splitmix64's finaliser), as a sampling order."""
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
