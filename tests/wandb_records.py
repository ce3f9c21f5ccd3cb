"""Read the records of an offline W&B run file (``run-<id>.wandb``) to check what was logged.

The file is a header followed by 32 KiB blocks of length-prefixed chunks (full, first, middle,
last) that carry protobuf ``Record`` messages.
"""

from __future__ import annotations

import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7


def read_records(path: Path) -> list:
    """Every Record in the file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending, payloads = HEADER, b"", []
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            payloads.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            payloads.append(pending + chunk)
    return [pb.Record.FromString(p) for p in payloads]


def logged_values(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(history key -> values in order, summary key -> last value) of a run file."""
    history: dict[str, list[str]] = {}
    summary: dict[str, str] = {}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                history.setdefault(item.key or "/".join(item.nested_key), []).append(
                    item.value_json
                )
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = item.value_json
    return history, summary
