"""Which rows a model was trained and selected on, kept in its checkpoints, so that `trainlab
eval` can refuse a test split holding any of them.

The split check at training (``data.images.split.check_no_leak``) compares the split files of
one moment. After `trainlab split ... overwrite=true` (new folds, a new test list) or on a copy of
the data split again, `trainlab eval` scored the same checkpoint on the new test list without a
word: on the embedded digits (5 folds, seed 42, then seed 1), 233 of the 270 new test images
had been fold 0's training (182) or validation (51) images.

A row is named by a key its DataModule gives (image files: the path under the data folder; text:
the post's text; k-mer matrices: the sample id). Spectra need none of this: their checkpoints
keep a sketch of the mass-spec runs they were trained on (``data.spectra.shared_runs``), which
eval already checks.
Each key is kept as 8 bytes of its BLAKE2b digest in a sorted int64 tensor: 8 bytes a row in
the checkpoint (12 KB for the digits' 1,527 training and validation images), loadable with
``weights_only=True``; two different keys share a digest with odds ~n^2 / 2^65.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

ROLES = ("train", "val")  # trained on; chose the checkpoint (early stopping, best.ckpt)


def _digest(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def digests(keys: Iterable[str]) -> Any:
    """The sorted unique int64 digests of ``keys`` (a torch tensor)."""
    import torch

    return torch.tensor(sorted({_digest(k) for k in keys}), dtype=torch.int64)


def record(datamodule: Any) -> dict[str, Any] | None:
    """The digests of the rows each role used, from a DataModule that names its rows
    (``row_keys(split)``); None for one that does not."""
    named = getattr(datamodule, "row_keys", None)
    if named is None:
        return None
    return {role: digests(named(role)) for role in ROLES}


def seen_in(recorded: Any, keys: list[str]) -> dict[str, list[int]]:
    """For each role of ``recorded``, the positions in ``keys`` of the rows it used."""
    import torch

    if not isinstance(recorded, dict) or not keys:
        return {}
    mine = torch.tensor([_digest(k) for k in keys], dtype=torch.int64)
    found: dict[str, list[int]] = {}
    for role in ROLES:
        used = recorded.get(role)
        if torch.is_tensor(used) and used.numel():
            found[role] = torch.isin(mine, used).nonzero().flatten().tolist()
    return found
