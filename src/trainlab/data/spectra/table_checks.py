"""The row check of a Lance spectra table, done once per table version.

``store.check_rows`` reads every peak of a table (about 6 s per 200k rows of 400 peaks here) and
training ran it on each open of each table, every run. A table that passed is remembered in the
user's cache folder (``checked_folder()``), never in the data folder: entries that travelled
with a copied or shared data folder were taken as proof of a check, and one planted there
(its name is computed from the table's metadata) let a row with label 2.0 into training.

An entry is keyed by what identifies the table version's content: the Lance version, the
storage format, the schema and every fragment's data and deletion files (Lance names data files
by random ids, so a table deleted and written again under its old name and version number is
another key), together with the code of the check (an entry written by another trainlab, whose
check may have let through rows this one refuses, is not used), and bound to those files
themselves: device, inode, size, modification and change time of each. A file rewritten in
place or a copy of the table (new inodes, new change times, which no user can set) is checked
again. A table that fails is not remembered: it is refused on every open. Each entry also keeps
the rows' spectrum fingerprints, for the identical-spectra check (``identical_spectra``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from trainlab.data.code_digest import code_digest
from trainlab.data.spectra.store import check_rows
from trainlab.io import atomic_open

log = logging.getLogger(__name__)
#: the environment variable naming the cache folder (default: $XDG_CACHE_HOME/trainlab or
#: ~/.cache/trainlab); the row-check entries go to its `spectra_checked/`
CACHE_ENV = "TRAINLAB_CACHE_DIR"
CHECKED_FOLDER = "spectra_checked"
# the code that decides what the check accepts and what it stores
CHECK_MODULES = ("store.py", "schema.py", "table_checks.py")


def checked_folder() -> Path:
    """Where passed row checks are remembered: the user's cache, outside every data folder."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser() / CHECKED_FOLDER
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "trainlab" / CHECKED_FOLDER


def checked_fingerprints(dataset, where: str) -> np.ndarray:
    """``check_rows(dataset, where)``'s fingerprints, from the entry of this table version
    when one exists; otherwise checked (raising on a bad row) and remembered."""
    key = content_key(dataset)
    entry = None if key is None else checked_folder() / f"{_table_name(dataset)}-{key}.npy"
    if entry is not None and entry.is_file():
        try:
            prints = np.load(entry, allow_pickle=False)
            if prints.dtype == np.uint64 and prints.shape == (dataset.count_rows(),):
                return prints
        except (OSError, ValueError):
            pass  # a damaged entry: check again
    prints = check_rows(dataset, where)
    if entry is not None:
        _remember(entry, prints)
    return prints


def content_key(dataset) -> str | None:
    """A digest of what identifies a table version's rows, of the files holding them (their
    stat) and of the checking code; None when a file cannot be found (then nothing is kept)."""
    digest = hashlib.sha256()
    fragments = [fragment.metadata.to_json() for fragment in dataset.get_fragments()]
    files = _file_stats(Path(dataset.uri), fragments)
    if files is None:
        return None
    digest.update(
        json.dumps(
            [
                dataset.version,
                dataset.data_storage_version,
                str(dataset.schema),
                fragments,
                files,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    )
    digest.update(_check_code_key().encode())
    return digest.hexdigest()[:20]


def _file_stats(uri: Path, fragments: list[dict]) -> list[list] | None:
    """(name, device, inode, size, mtime, ctime) of each data file the fragments name and of
    every deletion file: a stat each, about 10 us (the row check reads every peak)."""
    paths = [uri / "data" / entry["path"] for fragment in fragments for entry in fragment["files"]]
    deletions = uri / "_deletions"
    if deletions.is_dir():
        paths += sorted(deletions.iterdir())
    stats = []
    for path in paths:
        try:
            found = path.stat()
        except OSError:
            return None  # a file elsewhere (another storage base): check on every open
        stats.append(
            [
                path.name,
                found.st_dev,
                found.st_ino,
                found.st_size,
                found.st_mtime_ns,
                found.st_ctime_ns,
            ]
        )
    return stats


def _table_name(dataset) -> str:
    """The table's folder name and a digest of its resolved path: one table, one entry."""
    uri = Path(dataset.uri).resolve()
    return f"{uri.name}-{hashlib.sha256(str(uri).encode()).hexdigest()[:12]}"


@functools.cache
def _check_code_key() -> str:
    # once per process: reading and digesting the three modules took ~25 ms, most of a key
    digest = hashlib.sha256()
    for name in CHECK_MODULES:
        digest.update(code_digest((Path(__file__).parent / name).read_bytes()).encode())
    return digest.hexdigest()[:16]


def _remember(entry: Path, prints: np.ndarray) -> None:
    """Write ``entry`` (replacing the same table's older entries); a cache folder that cannot
    be written only means the check runs again next time."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        table = entry.name.rsplit("-", 1)[0]
        for old in entry.parent.iterdir():
            if old.name.rsplit("-", 1)[0] == table and old.suffix == ".npy":
                old.unlink(missing_ok=True)
        with atomic_open(entry) as handle:
            np.save(handle, prints, allow_pickle=False)
    except OSError as err:
        log.info("%s: could not remember the row check (%s); it runs again next time", entry, err)
