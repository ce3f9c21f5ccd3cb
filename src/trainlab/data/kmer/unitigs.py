"""The identity of a MUSET run's unitigs: a digest of the `unitigs.fa` beside its matrix.

GGCAT numbers a run's unitigs from 0, so the plain-number ids of two MUSET runs' matrices
match while their column 7 holds other sequences: predicting on another run's matrix read the
wrong unitigs without a word (only a warning that the ids could not be checked). MUSET writes
the unitigs' sequences to `unitigs.fa` beside `unitigs.frac.mat`; its digest is saved in the
model's spec at training and compared at prediction (`features.check_unitigs`).

The digest covers each record's id (the header's first word) and sequence, in file order: the
rest of a header (GGCAT's `LN:i:`, `KC:i:`, `km:f:` annotations, which follow the samples'
counts) and line endings (CRLF) do not change it, so two runs with the same unitigs under the
same ids have the same digest.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlab.errors import DataError

log = logging.getLogger(__name__)
#: The MUSET companion file of a matrix, looked for beside it.
UNITIGS_FILE = "unitigs.fa"
#: Spec keys: the digest, the number of unitigs and the file it was taken from.
SPEC_DIGEST = "unitigs_sha256"
SPEC_COUNT = "unitigs_count"
SPEC_FILE = "unitigs_file"
_CHUNK = 64 << 20


@dataclass(frozen=True)
class UnitigsDigest:
    """The digest of a `unitigs.fa`, its record count and path."""

    sha256: str
    count: int
    path: Path

    def spec(self) -> dict[str, object]:
        return {SPEC_DIGEST: self.sha256, SPEC_COUNT: self.count, SPEC_FILE: str(self.path)}


def find_unitigs(matrix_path: str | Path) -> Path | None:
    """`unitigs.fa` beside the matrix, or None."""
    path = Path(matrix_path).parent / UNITIGS_FILE
    return path if path.is_file() else None


def unitigs_digest(path: str | Path) -> UnitigsDigest:
    """SHA-256 over the records' ids and sequences (header annotations left out)."""
    path = Path(path)
    digest = hashlib.sha256()
    count = 0
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            text = carry + chunk
            if count == 0 and text.lstrip()[:1] not in (b">", b""):
                raise DataError(
                    f"{path} is not a FASTA file (it does not start with a '>' header): a MUSET "
                    f"{UNITIGS_FILE} holds the unitigs of the matrix beside it. Move the file "
                    "away or replace it with the unitigs.fa of the MUSET run."
                )
            # whole records only: the last one may go on in the next chunk
            cut = text.rfind(b"\n>") + 1
            if cut == 0:
                carry = text
                continue
            count += _update(digest, text[:cut])
            carry = text[cut:]
    count += _update(digest, carry)
    if count == 0:
        raise DataError(
            f"{path} holds no unitig (no '>' header): a MUSET {UNITIGS_FILE} holds the unitigs "
            "of the matrix beside it. Replace it with the unitigs.fa of the MUSET run."
        )
    return UnitigsDigest(digest.hexdigest(), count, path)


def digest_beside(matrix_path: str | Path) -> UnitigsDigest | None:
    """The digest of the `unitigs.fa` beside a matrix (None when there is none), logged."""
    path = find_unitigs(matrix_path)
    if path is None:
        return None
    found = unitigs_digest(path)
    log.info("%s: %d unitigs, sha256 %s", path, found.count, found.sha256[:16])
    return found


def _update(digest: Any, records: bytes) -> int:
    """Feed whole records as `>id<LF>sequence`; returns how many there were.

    Kept: each header's `>` and id and the line end after it (which ends the id), and the
    sequence bytes; dropped: the rest of a header, carriage returns and the line ends inside
    and after a sequence, so re-wrapped sequences give the same bytes. 94 MB (400,000
    unitigs of 200 bases) took 2-6 s on the loaded 2-core test machine, a plain SHA-256 of the
    file 0.7 s; a numpy version of this loop was no faster there.
    """
    lines = records.replace(b"\r", b"").split(b"\n")
    kept = [line.split(None, 1)[0] + b"\n" if line[:1] == b">" else line for line in lines]
    digest.update(b"".join(kept))
    return sum(1 for line in lines if line[:1] == b">")
