"""The row check of a Lance spectra table, done once per table version.

``store.check_rows`` reads every peak of a table (about 6 s per 200k rows of 400 peaks here) and
training ran it on each open of each table, every run. A table that passed is remembered in
``<folder holding the table>/.trainlab_checked/``, keyed by what identifies its content: the
Lance version, the storage format and every fragment's data and deletion files (Lance names
data files by random ids, so a table deleted and written again under its old name and version
number is another key), together with the code of the check (an entry written by another
trainlab, whose check may have let through rows this one refuses, is not used). A table that
fails is not remembered: it is refused on every open. Each entry also keeps the rows' spectrum
fingerprints, for the identical-spectra check (``identical_spectra``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from trainlab.data.code_digest import code_digest
from trainlab.data.spectra.store import check_rows
from trainlab.io import atomic_open

log = logging.getLogger(__name__)
CHECKED_FOLDER = ".trainlab_checked"
# the code that decides what the check accepts and what it stores
CHECK_MODULES = ("store.py", "schema.py", "table_checks.py")


def checked_fingerprints(dataset, where: str) -> np.ndarray:
    """``check_rows(dataset, where)``'s fingerprints, from the entry of this table version
    when one exists; otherwise checked (raising on a bad row) and remembered."""
    uri = Path(dataset.uri)
    entry = uri.parent / CHECKED_FOLDER / f"{uri.name}-{content_key(dataset)}.npy"
    if entry.is_file():
        try:
            prints = np.load(entry, allow_pickle=False)
            if prints.dtype == np.uint64 and prints.shape == (dataset.count_rows(),):
                return prints
        except (OSError, ValueError):
            pass  # a damaged entry: check again
    prints = check_rows(dataset, where)
    _remember(entry, prints)
    return prints


def content_key(dataset) -> str:
    """A digest of what identifies a table version's rows and of the checking code."""
    digest = hashlib.sha256()
    fragments = [fragment.metadata.to_json() for fragment in dataset.get_fragments()]
    digest.update(
        json.dumps(
            [dataset.version, dataset.data_storage_version, fragments],
            sort_keys=True,
            default=str,
        ).encode()
    )
    digest.update(_check_code_key().encode())
    return digest.hexdigest()[:20]


def _check_code_key() -> str:
    digest = hashlib.sha256()
    for name in CHECK_MODULES:
        digest.update(code_digest((Path(__file__).parent / name).read_bytes()).encode())
    return digest.hexdigest()[:16]


def _remember(entry: Path, prints: np.ndarray) -> None:
    """Write ``entry`` (replacing the table's older entries); a read-only data folder only
    means the check runs again next time."""
    try:
        entry.parent.mkdir(exist_ok=True)
        table = entry.name.rsplit("-", 1)[0]
        for old in entry.parent.iterdir():
            if old.name.rsplit("-", 1)[0] == table and old.suffix == ".npy":
                old.unlink(missing_ok=True)
        with atomic_open(entry) as handle:
            np.save(handle, prints, allow_pickle=False)
    except OSError as err:
        log.info("%s: could not remember the row check (%s); it runs again next time", entry, err)
