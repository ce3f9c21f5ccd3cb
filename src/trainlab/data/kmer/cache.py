"""Binary cache of parsed unitig matrices: a `.npy` file (memory-mapped on load) + JSON sidecar.

The cache entry is keyed by the source file's name, size and SHA-256 (streamed, about 1.5 GB/s),
so an edited or replaced matrix is parsed again while an unchanged one is reused. A cached entry
skips every check the parser makes, so it is also keyed on the reader: `reader_key()` digests the
code of `READER_MODULES`, and an entry written by other reader code (an older trainlab, whose
checks may have let through values the current one refuses) is parsed again, with a log line
saying why. No version number has to be remembered; `tests/unit/data/kmer/test_kmer_cache.py`
checks that the code a cache hit skips lives in those modules.

An entry is bound to the very files it was made from and of: meta.json records the stat
(device, inode, size, modification and change time) of the source matrix and of values.npy,
and an entry whose files do not match is parsed again. The cache lives beside the matrix by
default, so it travelled with a copied or shared folder: a values.npy put there (its meta.json
only needs the matrix's SHA-256, which anyone can compute) replaced every value of the matrix
without a word. A copy has new inodes and change times, which no user can set.
"""

import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.code_digest import code_digest
from trainlab.io import atomic_write_text, commit_temporary, temporary_path

# the layout of an entry (values.npy + the fields of meta.json); 1 had no reader key, 2 no stats
CACHE_VERSION = 3
# the code that decides what a parse accepts and what it stores
READER_MODULES = ("trainlab.data.kmer.text_matrix", "trainlab.data.kmer.cache")
_BLOCK = 1 << 24


@dataclass(frozen=True)
class Fingerprint:
    """Size, content hash and line count of a text file, from one streaming pass."""

    size: int
    sha256: str
    n_lines: int

    @property
    def key(self) -> str:
        """Short name of the cache entry."""
        return f"{self.size}-{self.sha256[:16]}"


def fingerprint(path: str | Path) -> Fingerprint:
    """Hash a file and count its lines in one pass over fixed-size blocks."""
    digest = hashlib.sha256()
    n_lines = 0
    size = 0
    last = b"\n"
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while read := handle.readinto(buffer):
            chunk = view[:read]
            digest.update(chunk)
            n_lines += buffer.count(b"\n", 0, read)
            size += read
            last = bytes(chunk[-1:])
    if size and last != b"\n":
        n_lines += 1  # last line without newline
    return Fingerprint(size=size, sha256=digest.hexdigest(), n_lines=n_lines)


@functools.cache
def reader_key() -> str:
    """Digest of the reader's code: changes whenever what a parse accepts or stores may change."""
    digest = hashlib.sha256()
    for name in READER_MODULES:
        origin = importlib.util.find_spec(name).origin
        if origin and Path(origin).is_file():
            digest.update(code_digest(Path(origin).read_bytes()).encode())
        else:  # a frozen or zipped install without files: its version stands for the code
            from importlib.metadata import version

            digest.update(f"{name}=={version('trainlab')}".encode())
    return digest.hexdigest()[:16]


def cache_entry(cache_dir: str | Path, source: str | Path, fp: Fingerprint) -> Path:
    """Folder of the cache entry for `source` with fingerprint `fp`."""
    return Path(cache_dir) / f"{Path(source).name}-{fp.key}"


def file_stat(path: str | Path) -> list[int]:
    """What ties an entry to one file: device, inode, size, mtime and ctime (ns)."""
    found = Path(path).stat()
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def load_cached(
    entry: Path, fp: Fingerprint, header_lines: int, source: str | Path
) -> tuple[tuple[np.ndarray, list[str]] | None, str | None]:
    """Memory-map a complete cache entry: `((values, feature_ids), None)`.

    Otherwise `(None, why)`, `why` saying why an existing entry cannot be used (None when there
    is no entry), for the log line of the parse that replaces it.
    """
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None, None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, "its meta.json cannot be read"
    if meta.get("version") != CACHE_VERSION:
        return None, (
            f"it was written by an older trainlab (cache format {meta.get('version')}, now "
            f"{CACHE_VERSION}), whose reader lacks checks the current one makes"
        )
    if meta.get("reader") != reader_key():
        return None, (
            f"it was written by other matrix-reader code ({meta.get('reader')}, now "
            f"{reader_key()}), whose checks may differ"
        )
    if meta.get("size") != fp.size or meta.get("sha256") != fp.sha256:
        return None, "it holds the parse of another file"
    if meta.get("header_lines") != header_lines:
        return None, (
            f"it read line 1 as {'a header' if meta.get('header_lines') else 'data'}, which is "
            f"now read as {'a header' if header_lines else 'data'} (the fof's ids changed)"
        )
    try:
        made_here = meta.get("source_stat") == file_stat(source)
        made_here = made_here and meta.get("values_stat") == file_stat(entry / "values.npy")
    except OSError:
        made_here = False
    if not made_here:
        return None, (
            "it was not written here for this very file, or was changed since (the stat of the "
            "matrix or of values.npy differs: a cache that came with a copied folder is not "
            "trusted)"
        )
    try:
        values = np.load(entry / "values.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None, "its values.npy is damaged (truncated or overwritten)"
    if list(values.shape) != meta.get("shape") or values.dtype != np.float32:
        return None, "its values.npy does not have the shape it recorded"
    return (values, meta["feature_ids"]), None


def open_cache_values(entry: Path, shape: tuple[int, int]) -> tuple[np.memmap, Path]:
    """Create a writable float32 `.npy` memmap under a temporary name in `entry`."""
    tmp = temporary_path(entry / "values.npy")
    values = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    return values, tmp


def commit_cache(
    entry: Path,
    tmp_values: Path,
    fp: Fingerprint,
    shape: tuple[int, int],
    feature_ids: list[str],
    header_lines: int,
    source: str | Path,
) -> None:
    """Move the values into place and write the sidecar last, so only complete entries load."""
    commit_temporary(tmp_values, entry / "values.npy")
    meta = {
        "source_stat": file_stat(source),
        "values_stat": file_stat(entry / "values.npy"),  # after the rename, which sets ctime
        "version": CACHE_VERSION,
        "reader": reader_key(),
        "header_lines": header_lines,
        "size": fp.size,
        "sha256": fp.sha256,
        "shape": list(shape),
        "feature_ids": feature_ids,
    }
    atomic_write_text(entry / "meta.json", json.dumps(meta))
