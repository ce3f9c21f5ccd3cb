"""A digest of the data a run trains on, kept in its checkpoints, so that a resume that reads
the data from a new place (``resume_data_moved=true``) is checked to read the same data.

A resume reads the data the run was trained with; a data location that changed was refused,
because nothing told that the new place holds the same data (``ln -s NEW OLD`` was the way on).
A DataModule that can digest its content cheaply (``content_digest()``: the k-mer matrix, labels,
ids and groups as loaded) has it recorded at training; a resume with the data at a new path and
``resume_data_moved=true`` digests the data found there and goes on only when the two agree.
"""

from __future__ import annotations

import logging
from typing import Any

from trainlab.errors import RunFolderError

log = logging.getLogger(__name__)
KEY = "data_digest"  # in checkpoint["trainlab"]


def data_digest(datamodule: Any) -> str | None:
    """The DataModule's ``content_digest()``, None for one without it."""
    digest = getattr(datamodule, "content_digest", None)
    return digest() if callable(digest) else None


def check_moved_data(
    checkpoint: dict[str, Any] | None, found: str | None, moved: list[str], path: str
) -> None:
    """Raise unless the data at the new place has the digest ``path``'s run recorded."""
    recorded = ((checkpoint or {}).get("trainlab") or {}).get(KEY)
    keys = ", ".join(moved)
    if recorded is None or found is None:
        what = "this data set gives none" if found is None else "its run recorded none"
        raise RunFolderError(
            f"resume_data_moved=true: {path} cannot be checked against the data at the new "
            f"place ({keys}): there is no digest of the data it was trained with ({what}; "
            "trainlab records one for k-mer data since this version). Fix: link the old place "
            "to the new one (ln -s NEW OLD) and resume without the new location"
        )
    if recorded != found:
        raise RunFolderError(
            f"resume_data_moved=true: the data at the new place ({keys}) is not the data "
            f"{path} was trained with (digest {found[:16]} there, {recorded[:16]} recorded): "
            "continuing would train one run on two data sets. Fix: point the data keys at a "
            "copy of the data it was trained with, or start a new run"
        )
    log.info("resume: the data moved (%s); its digest matches the one the run recorded", keys)
