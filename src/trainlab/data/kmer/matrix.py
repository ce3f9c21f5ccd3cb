"""Readers of k-mer matrices: MUSET `unitigs.frac.mat` text, `.npy`, `.npz` and Parquet.

Every reader returns samples x features float32. MUSET writes one row per unitig
(`<unitig_id> <v_1> ... <v_N>`, space-separated, no header) with one column per sample in the
order of `kmtricks.fof`; we transpose it once into a memory-mapped binary cache and reuse it.
"""

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.kmer import cache
from trainlab.data.kmer.fof import find_fof, read_fof
from trainlab.errors import DataError

log = logging.getLogger(__name__)

BINARY_SUFFIXES = (".npy", ".npz", ".parquet", ".pq")
NPZ_VALUE_KEYS = ("X", "x", "values", "matrix", "data")
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


@dataclass
class KmerMatrix:
    """A samples x features float32 matrix (possibly memory-mapped) with its ids."""

    values: np.ndarray
    sample_ids: list[str]
    feature_ids: list[str]
    source: Path


def load_matrix(
    path: str | Path,
    fof_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> KmerMatrix:
    """Load a k-mer matrix as samples x features.

    Args:
        path: MUSET text matrix (any suffix but the binary ones), `.npy`, `.npz` or Parquet.
        fof_path: kmtricks fof giving the sample order; searched for when None and needed.
        cache_dir: where parsed text matrices are cached; default `.trainlab_cache` beside it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Matrix file {path} does not exist. Set data.matrix_path to its path.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = np.load(path, mmap_mode="r")
        return _with_ids(path, _check_2d(path, values), None, None, fof_path)
    if suffix == ".npz":
        return _load_npz(path, fof_path)
    if suffix in (".parquet", ".pq"):
        return _load_parquet(path, fof_path)
    _check_plain_text(path)
    sample_ids = read_fof(fof_path if fof_path is not None else find_fof(path))
    cache_dir = Path(cache_dir) if cache_dir is not None else path.parent / ".trainlab_cache"
    values, feature_ids = load_unitig_matrix(path, len(sample_ids), cache_dir)
    return KmerMatrix(values, sample_ids, feature_ids, path)


def _check_plain_text(path: Path) -> None:
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
    cached = cache.load_cached(entry, fp)
    if cached is not None:
        values, feature_ids = cached
        if values.shape[0] != n_samples:
            raise _column_count_error(path, values.shape[0], n_samples)
        log.info("Using cached matrix %s (%d x %d)", entry, *values.shape)
        return values, feature_ids
    log.info("Parsing %s (%.1f MB, %d unitigs) into %s", path, fp.size / 1e6, fp.n_lines, entry)
    shape = (n_samples, fp.n_lines)
    values, tmp = cache.open_cache_values(entry, shape)
    try:
        feature_ids = _parse_into(path, values, fp)
        values.flush()
        del values
        cache.commit_cache(entry, tmp, fp, shape, feature_ids)
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


def check_finite(path: Path, values: np.ndarray, rows_per_pass: int = 4096) -> None:
    """Raise DataError naming the first sample row and column holding NaN or inf."""
    for start in range(0, values.shape[0], rows_per_pass):
        block = np.asarray(values[start : start + rows_per_pass])
        bad = ~np.isfinite(block)
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            kind = "inf" if np.isinf(block[row, column]) else "NaN"
            raise DataError(
                f"{path}: {kind} at sample row {start + row} (0-based), feature column {column}. "
                "A k-mer matrix must hold finite numbers: fix the values (e.g. replace NaN by 0 "
                "where the k-mer is absent) and save it again."
            )


def _column_count_error(path: Path, got: int, expected: int) -> DataError:
    return DataError(
        f"{path} has {got} sample columns but the fof lists {expected} samples. "
        "Use the kmtricks.fof of the run that produced this matrix (data.fof_path=...)."
    )


def _check_2d(path: Path, values: np.ndarray) -> np.ndarray:
    if values.ndim != 2:
        raise DataError(f"{path}: expected a 2-D samples x features array, got {values.shape}.")
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{path}: holds {values.dtype} values; a k-mer matrix must be numeric.")
    # one pass over the file (memory-mapped, in row blocks) is cheap next to training on it
    check_finite(path, values)
    if values.dtype != np.float32:
        values = np.asarray(values, dtype=np.float32)
    return values


def _with_ids(
    path: Path,
    values: np.ndarray,
    sample_ids: list[str] | None,
    feature_ids: list[str] | None,
    fof_path: str | Path | None,
) -> KmerMatrix:
    if sample_ids is None:
        sample_ids = read_fof(fof_path if fof_path is not None else find_fof(path))
    if len(sample_ids) != values.shape[0]:
        raise DataError(
            f"{path} has {values.shape[0]} rows (samples) but {len(sample_ids)} sample ids "
            "were given. Binary matrices are samples x features; transpose it or fix the ids."
        )
    dupes = [i for i, n in Counter(sample_ids).items() if n > 1]
    if dupes:
        raise DataError(
            f"{path}: sample ids are duplicated: {dupes[:5]}. Each sample must appear once: fix "
            "the ids stored in the file ('sample_ids' of a .npz, 'sample_id' or the index of "
            "a Parquet file)."
        )
    if feature_ids is None:
        feature_ids = [str(i) for i in range(values.shape[1])]
    return KmerMatrix(values, list(sample_ids), list(feature_ids), path)


def _load_npz(path: Path, fof_path: str | Path | None) -> KmerMatrix:
    with np.load(path, allow_pickle=False) as archive:
        key = next((k for k in NPZ_VALUE_KEYS if k in archive.files), None)
        if key is None:
            raise DataError(
                f"{path} holds {archive.files}; expected the matrix under one of {NPZ_VALUE_KEYS}."
            )
        values = _check_2d(path, _npz_array(path, archive, key))
        sample_ids, feature_ids = (
            _npz_array(path, archive, name).astype(str).tolist() if name in archive else None
            for name in ("sample_ids", "feature_ids")
        )
    return _with_ids(path, values, sample_ids, feature_ids, fof_path)


def _npz_array(path: Path, archive, name: str) -> np.ndarray:
    """One array of the archive; object arrays (pickles) are never loaded."""
    try:
        return archive[name]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise DataError(
            f"{path}: {name!r} is an array of Python objects, which is stored as a pickle and "
            "never loaded. Save it as a plain array: ids with np.asarray(ids, dtype=str), "
            "values with np.asarray(values, dtype=np.float32)."
        ) from None


def _load_parquet(path: Path, fof_path: str | Path | None) -> KmerMatrix:
    """Parquet: one row per sample; ids in a `sample_id` column or a string index."""
    import pandas as pd

    frame = pd.read_parquet(path)
    sample_ids = None
    if "sample_id" in frame.columns:
        sample_ids = frame.pop("sample_id").astype(str).tolist()
    elif not isinstance(frame.index, pd.RangeIndex):
        sample_ids = frame.index.astype(str).tolist()
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataError(
            f"{path}: non-numeric feature columns {non_numeric[:5]}. Keep ids in 'sample_id' "
            "or the index and only numeric feature columns."
        )
    values = frame.to_numpy(dtype=np.float32)
    check_finite(path, values)
    return _with_ids(path, values, sample_ids, [str(c) for c in frame.columns], fof_path)
