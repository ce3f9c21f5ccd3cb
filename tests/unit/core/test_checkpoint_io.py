"""Checkpoints and their RNG state: written whole or not at all, loadable with weights_only."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.core import rng_state
from trainlab.core.checkpoint_io import AtomicCheckpointIO
from trainlab.io import atomic_open


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"w": torch.arange(5)}, path)
    with pytest.raises(Exception, match="pickle"):
        io.save_checkpoint({"w": torch.arange(9), "bad": lambda: None}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_atomic_open_leaves_nothing_on_error(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write(b"new, half")
        raise RuntimeError("stop")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    rng_state.reseed_globals(rng_state.derived_seed(7, 3))
    np.random.normal()  # a cached gaussian is part of NumPy's state
    saved = rng_state.capture()
    torch.save({"rng": saved}, tmp_path / "c.ckpt")
    expected = (random.random(), np.random.rand(3).tolist(), torch.rand(3))
    loaded = torch.load(tmp_path / "c.ckpt", weights_only=True)["rng"]
    rng_state.restore(loaded)
    got = (random.random(), np.random.rand(3).tolist(), torch.rand(3))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_derived_seeds_depend_only_on_seed_and_epoch() -> None:
    assert rng_state.derived_seed(42, 3) == rng_state.derived_seed(42, 3)
    seeds = {rng_state.derived_seed(s, e) for s in (1, 2) for e in range(50)}
    assert len(seeds) == 100
