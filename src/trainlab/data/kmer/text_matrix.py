"""MUSET text unitig matrices (`unitigs.frac.mat`, `unitigs.abundance.mat`), parsed once.

MUSET writes one row per unitig (`<unitig_id> <v_1> ... <v_N>`, space-separated, no header) with
one column per sample in the order of `kmtricks.fof`; we transpose it once into a memory-mapped
binary cache (`cache`) and reuse it. Every check made while parsing is skipped when a cached
entry is used, which is why the cache is keyed on this module's code (`cache.reader_key`).
"""

import logging
import os
from pathlib import Path

import numpy as np

from trainlab.data.kmer import cache
from trainlab.errors import DataError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 << 20
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
)
_DECOMPRESS = {
    "gzip": "gunzip -k",
    "bzip2": "bunzip2 -k",
    "xz": "unxz -k",
    "zstd": "unzstd",
    "zip": "unzip",
}


def check_plain_text(path: Path) -> None:
    """Refuse an empty or compressed text matrix before it is parsed (and cached)."""
    with path.open("rb") as handle:
        head = handle.read(6)
    if not head:
        raise DataError(
            f"{path} is empty. Point data.matrix_path at the unitigs.frac.mat MUSET wrote."
        )
    kind = next((name for magic, name in _COMPRESSED if head.startswith(magic)), None)
    if kind is not None:
        raise DataError(
            f"{path} is {kind}-compressed; the text matrix is read uncompressed (it is parsed "
            f"once into a cache). Decompress it (e.g. `{_DECOMPRESS[kind]} {path}`) and set "
            "data.matrix_path to the decompressed file."
        )


def load_unitig_matrix(
    path: str | Path, n_samples: int, cache_dir: str | Path
) -> tuple[np.ndarray, list[str]]:
    """Samples x unitigs float32 memmap of a MUSET text matrix, parsed once then cached."""
    path = Path(path)
    fp = cache.fingerprint(path)
    entry = cache.cache_entry(cache_dir, path, fp)
    header_lines = 0
    cached, stale = cache.load_cached(entry, fp, header_lines)
    if cached is not None:
        values, feature_ids = cached
        if values.shape[0] != n_samples:
            raise _column_count_error(path, values.shape[0], n_samples)
        log.info("Using cached matrix %s (%d x %d)", entry, *values.shape)
        return values, feature_ids
    size = f"{fp.size / 1e6:.1f} MB, {fp.n_lines} unitigs"
    if stale is None:
        log.info("Parsing %s (%s) into %s", path, size, entry)
    else:  # one line saying why the earlier parse is not used
        log.info(
            "Parsing %s (%s) again into %s: the cached parse is not used, %s",
            path,
            size,
            entry,
            stale,
        )
    shape = (n_samples, fp.n_lines)
    values, tmp = cache.open_cache_values(entry, shape)
    try:
        feature_ids = _parse_into(path, values, fp)
        values.flush()
        del values
        cache.commit_cache(entry, tmp, fp, shape, feature_ids, header_lines)
    finally:
        if tmp.exists():
            os.unlink(tmp)
    return np.load(entry / "values.npy", mmap_mode="r"), feature_ids


def _parse_into(path: Path, out: np.ndarray, fp: cache.Fingerprint) -> list[str]:
    """Parse unitig rows in chunks with the pandas C parser and write them transposed."""
    import pandas as pd

    n_samples, n_unitigs = out.shape
    chunk_rows = max(1, int(_CHUNK_BYTES / max(1, fp.size / max(1, n_unitigs))))
    feature_ids: list[str] = []
    start = 0
    # MUSET's fractions lie in [0, 1]; its abundances are means of k-mer counts, >= 0
    high = 1.0 if ".frac." in path.name else np.inf
    reader = pd.read_csv(
        path,
        sep=_separator(path),
        header=None,
        index_col=0,
        dtype={0: str},
        chunksize=chunk_rows,
        engine="c",
        compression=None,  # never guessed from the suffix: compressed files are refused above
        skip_blank_lines=False,
    )
    try:
        for chunk in reader:
            block = chunk.to_numpy(dtype=np.float32)
            if block.shape[1] == n_samples + 1 and np.isnan(block[:, -1]).all():
                block = block[:, :-1]  # trailing space at line ends
            if block.shape[1] != n_samples:
                raise _column_count_error(path, block.shape[1], n_samples)
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                row = int(np.argmax(bad))
                line, unitig = start + row + 1, chunk.index[row]
                raise _bad_value_error(path, line, block[row], n_samples, unitig)
            _check_range(path, block, start, high)
            out[:, start : start + len(block)] = block.T
            feature_ids.extend(chunk.index.astype(str))
            start += len(block)
            log.info("  parsed %d / %d unitigs (%.0f%%)", start, n_unitigs, 100 * start / n_unitigs)
    except ValueError as exc:
        raise DataError(
            f"{path}: cannot parse as a MUSET unitig matrix ({exc}). Expected space-separated "
            "'<unitig_id> <v_1> ... <v_N>' lines with numeric values and no header."
        ) from exc
    if start != n_unitigs:
        raise DataError(f"{path}: read {start} unitig rows but the file has {n_unitigs} lines.")
    return feature_ids


def _separator(path: Path) -> str:
    """Single spaces as MUSET writes them, or tabs; refuse runs of spaces and mixtures.

    A run of spaces is not squeezed: in a space-separated file it is also how an empty
    cell looks, and reading it either way could shift values into other samples' columns.
    """
    with path.open("rb") as handle:
        line = handle.readline().rstrip()
    if b"\t" in line and b" " not in line:
        return "\t"
    if b"\t" in line or b"  " in line:
        what = "mixes tabs and spaces" if b"\t" in line else "has two spaces in a row"
        raise DataError(
            f"{path}:1: the line {what}; MUSET separates values by single spaces (tabs are "
            "read too, one per value). Squeeze padded columns (`tr -s ' '`) or fill the empty "
            "cell, then point data.matrix_path at the fixed file."
        )
    return " "


def _check_range(path: Path, block: np.ndarray, start: int, high: float) -> None:
    """Refuse a value MUSET cannot write: below 0, or above 1 in a fraction matrix."""
    outside = (block < 0) | (block > high)
    if not outside.any():
        return
    row, column = (int(i) for i in np.argwhere(outside)[0])
    value = block[row, column]
    if value < 0:
        why = "a MUSET matrix holds no negative values. Use the matrix MUSET wrote"
    else:
        why = (
            f"a fraction matrix ({path.name}) holds values in [0, 1]. Use the fractions MUSET "
            "wrote (--out-frac), or if these are abundances, name the file unitigs.abundance.mat"
        )
    raise DataError(
        f"{path}:{start + row + 1}: {value:g} in sample column {column + 1}, but {why}."
    )


def _bad_value_error(
    path: Path, line: int, values: np.ndarray, n_samples: int, unitig: object
) -> DataError:
    """NaN, inf, a missing cell, a short row or a blank line, named as what it is."""
    fix = (
        f"Every row must be '<unitig_id>' followed by {n_samples} finite numbers separated by "
        "single spaces: fix or drop the row, or regenerate the matrix."
    )
    finite = np.isfinite(values)
    if not isinstance(unitig, str) and np.isnan(values).all():  # pandas: no id, no values
        return DataError(
            f"{path}:{line}: the line is blank. A MUSET matrix has one unitig per line and no "
            f"blank lines: delete it (e.g. `sed -i '/^[[:space:]]*$/d' {path}`)."
        )
    column = int(np.argmax(~finite))
    if np.isnan(values[column:]).all():
        return DataError(
            f"{path}:{line}: unitig {unitig!r} holds {column} values, {n_samples} needed (or "
            f"its last {n_samples - column} are NaN/NA). {fix}"
        )
    what = (
        "an infinite value (inf)"
        if np.isinf(values[column])
        else "a NaN or missing value (the cell is 'nan'/'NA' or empty)"
    )
    return DataError(
        f"{path}:{line}: {what} in sample column {column + 1} of this unitig row. {fix}"
    )


def _column_count_error(path: Path, got: int, expected: int) -> DataError:
    return DataError(
        f"{path} has {got} sample columns but the fof lists {expected} samples. "
        "Use the kmtricks.fof of the run that produced this matrix (data.fof_path=...)."
    )
