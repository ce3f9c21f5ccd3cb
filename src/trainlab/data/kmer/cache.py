"""Binary cache of parsed unitig matrices: a `.npy` file (memory-mapped on load) + JSON sidecar.

The cache entry is keyed by the source file's size and SHA-256 (streamed, about 1.5 GB/s), so an
edited or replaced matrix is parsed again while an unchanged one, even copied or renamed, is reused.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.io import atomic_write_text, commit_temporary, temporary_path

CACHE_VERSION = 1
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


def cache_entry(cache_dir: str | Path, source: str | Path, fp: Fingerprint) -> Path:
    """Folder of the cache entry for `source` with fingerprint `fp`."""
    return Path(cache_dir) / f"{Path(source).name}-{fp.key}"


def load_cached(entry: Path, fp: Fingerprint) -> tuple[np.ndarray, list[str]] | None:
    """Memory-map a complete cache entry, or None when absent, stale or from another version."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if (
        meta.get("version") != CACHE_VERSION
        or meta.get("size") != fp.size
        or meta.get("sha256") != fp.sha256
    ):
        return None
    try:
        values = np.load(entry / "values.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # truncated or overwritten: parse the matrix again
    if list(values.shape) != meta.get("shape") or values.dtype != np.float32:
        return None
    return values, meta["feature_ids"]


def open_cache_values(entry: Path, shape: tuple[int, int]) -> tuple[np.memmap, Path]:
    """Create a writable float32 `.npy` memmap under a temporary name in `entry`."""
    tmp = temporary_path(entry / "values.npy")
    values = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    return values, tmp


def commit_cache(
    entry: Path, tmp_values: Path, fp: Fingerprint, shape: tuple[int, int], feature_ids: list[str]
) -> None:
    """Move the values into place and write the sidecar last, so only complete entries load."""
    commit_temporary(tmp_values, entry / "values.npy")
    meta = {
        "version": CACHE_VERSION,
        "size": fp.size,
        "sha256": fp.sha256,
        "shape": list(shape),
        "feature_ids": feature_ids,
    }
    atomic_write_text(entry / "meta.json", json.dumps(meta))
