"""Checkpoints load as plain data only (core.checkpoint)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.core.checkpoint import plain_data, read_checkpoint
from trainlab.errors import CheckpointError


class Color(enum.IntEnum):
    RED = 1


@dataclass
class Report:
    total: int
    names: list


def test_metadata_made_plain_loads_with_weights_only(tmp_path: Path) -> None:
    meta = {
        "f": np.float64(1.5),
        "i": np.int64(3),
        "s": np.str_("label"),
        "a": np.arange(3),
        "t": (np.float32(2.0), Path("/x")),
        "e": Color.RED,
        "d": Report(2, [np.int32(1)]),
    }
    raw = tmp_path / "raw.ckpt"
    torch.save({"state_dict": {}, "trainlab": {"config": {}, "spec": meta}}, raw)
    with pytest.raises(CheckpointError, match=r"not plain data \(it calls numpy"):
        read_checkpoint(raw)  # numpy objects would need arbitrary unpickling
    plain = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}, "trainlab": {"config": {}, "spec": plain_data(meta)}}, plain)
    spec = read_checkpoint(plain)["trainlab"]["spec"]
    assert spec == {
        "f": 1.5,
        "i": 3,
        "s": "label",
        "a": [0, 1, 2],
        "t": (2.0, "/x"),
        "e": 1,
        "d": {"total": 2, "names": [1]},
    }
    assert type(spec["i"]) is int and type(spec["e"]) is int and type(spec["s"]) is str


@pytest.mark.parametrize("meta", [{"config": {}}, {"spec": {}}, {"config": "x", "spec": {}}, "x"])
def test_incomplete_trainlab_metadata_is_named(tmp_path: Path, meta) -> None:
    path = tmp_path / "edited.ckpt"
    torch.save({"state_dict": {}, "trainlab": meta}, path)
    with pytest.raises(CheckpointError, match=r"edited.ckpt: its trainlab metadata lacks"):
        read_checkpoint(path)
