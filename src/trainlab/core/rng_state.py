"""Random-number-generator state as plain values, and seeds derived from (seed, epoch).

Everything here goes into checkpoints that load with ``torch.load(weights_only=True)``: tensors,
lists, ints, floats, strings, None. NumPy's own state holds an ndarray, which that loader refuses,
so its key array is kept as a list of ints.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch


def derived_seed(seed: int, *path: int) -> int:
    """A 63-bit seed that depends only on ``seed`` and ``path`` (an epoch, a stream number).

    A BLAKE2b hash of the integers: ~2 us, where NumPy's SeedSequence took 60-250 us, twice per
    epoch of a lean search fit (epochs of ~30 ms).
    """
    data = b"".join(int(value).to_bytes(16, "little", signed=True) for value in (seed, *path))
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def reseed_globals(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every CUDA device) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    # not torch.manual_seed: without a started CUDA it records a stack trace for its queued
    # CUDA seeding, ~1.5 ms a call (measured), a tenth of a lean search epoch
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)  # every device; queued until CUDA starts


def capture() -> dict[str, Any]:
    """The global generators' states, as plain values."""
    version, key, gauss = random.getstate()
    name, np_key, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "key": list(key), "gauss": gauss},
        "numpy": {
            "name": name,
            "key": [int(v) for v in np_key],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    """Put back the states :func:`capture` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["key"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["name"],
            np.asarray(npy["key"], dtype=np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
