"""Readers of k-mer matrices: MUSET `unitigs.frac.mat` text, `.npy`, `.npz` and Parquet.

Every reader returns samples x features float32. The MUSET text matrix has its own module
(`text_matrix`: parsed once into a memory-mapped binary cache); the binary formats are read here.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.kmer.fof import find_fof, read_fof
from trainlab.data.kmer.text_matrix import check_plain_text, load_unitig_matrix
from trainlab.errors import DataError

BINARY_SUFFIXES = (".npy", ".npz", ".parquet", ".pq")
NPZ_VALUE_KEYS = ("X", "x", "values", "matrix", "data")


@dataclass
class KmerMatrix:
    """A samples x features float32 matrix (possibly memory-mapped) with its ids."""

    values: np.ndarray
    sample_ids: list[str]
    feature_ids: list[str]
    source: Path
    #: False when the file carried no feature ids and they are the column numbers
    feature_ids_given: bool = True


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
        with _readable_array(path):
            values = np.load(path, mmap_mode="r")
        return _with_ids(path, _check_2d(path, values), None, None, fof_path)
    if suffix == ".npz":
        with _readable_array(path):
            return _load_npz(path, fof_path)
    if suffix in (".parquet", ".pq"):
        return _load_parquet(path, fof_path)
    check_plain_text(path)
    sample_ids = read_fof(fof_path if fof_path is not None else find_fof(path))
    cache_dir = Path(cache_dir) if cache_dir is not None else path.parent / ".trainlab_cache"
    values, feature_ids = load_unitig_matrix(path, sample_ids, cache_dir)
    return KmerMatrix(values, sample_ids, feature_ids, path)


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
    given = feature_ids is not None
    if feature_ids is None:
        feature_ids = [str(i) for i in range(values.shape[1])]
    _check_feature_ids(path, values, feature_ids)
    return KmerMatrix(values, list(sample_ids), list(feature_ids), path, given)


def _check_feature_ids(path: Path, values: np.ndarray, feature_ids: list[str]) -> None:
    """One id per column, each once: a repeat means matrices were joined column-wise."""
    if len(feature_ids) != values.shape[1]:
        raise DataError(
            f"{path} has {values.shape[1]} feature columns but {len(feature_ids)} feature ids "
            "('feature_ids' of a .npz): save one id per column."
        )
    if len(set(feature_ids)) == len(feature_ids):
        return
    seen: dict[str, int] = {}
    repeats = Counter(feature_ids)
    for column, feature in enumerate(feature_ids):
        if feature in seen:
            n_ids = sum(1 for n in repeats.values() if n > 1)
            raise DataError(
                f"{path}: {n_ids} feature ids are on more than one column, e.g. {feature!r} on "
                f"columns {seen[feature]} and {column} (0-based). Each unitig is one feature: "
                "repeated ids mean matrices were joined (two MUSET runs number their unitigs "
                "alike). Use the matrix of one run over all the samples."
            )
        seen[feature] = column


@contextmanager
def _readable_array(path: Path) -> Iterator[None]:
    """Turn numpy's errors on a damaged ``.npy``/``.npz`` into a DataError naming the file.

    A header declaring more data than the file holds ("mmap length is greater than file size",
    or for an .npz "Unable to allocate 37.3 GiB" / an EOF), a negative dimension, a header that
    is not a dict, a pickled array or a file that is not a zip archive ended in a bare numpy
    traceback, mostly without the file name.
    """
    import tokenize
    import zipfile

    magic = b"\x93NUMPY" if path.suffix.lower() == ".npy" else b"PK"
    with path.open("rb") as handle:
        head = handle.read(len(magic))
    if head != magic:  # numpy would try it as a pickle, and suggest allow_pickle=True
        raise DataError(
            f"{path} is not a numpy {path.suffix} file (it starts with {head!r}, not {magic!r}); "
            "write it with np.save/np.savez, or give a MUSET text matrix a text suffix"
        )
    try:
        yield
    except (
        ValueError,
        OSError,
        EOFError,
        MemoryError,
        SyntaxError,
        tokenize.TokenError,
        zipfile.BadZipFile,
    ) as err:
        raise DataError(
            f"{path} cannot be read as a numpy array ({type(err).__name__}: {str(err)[:200]}): "
            "it is cut short, damaged, declares more data than it holds, or was not written by "
            "np.save/np.savez; write it again, e.g. np.save(path, values.astype(np.float32))"
        ) from None


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

    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(
            f"{path} cannot be read as Parquet ({type(err).__name__}: {str(err)[:200]}): it is "
            "cut short, damaged or another format; write it again with DataFrame.to_parquet"
        ) from None
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
