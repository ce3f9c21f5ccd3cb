"""core.seen_rows: what a checkpoint keeps of its training rows, and the rows found again."""

from __future__ import annotations

import io

import torch

from trainlab.core.seen_rows import digests, record, seen_in


class Rows:
    def __init__(self, **splits: list[str]) -> None:
        self.splits = splits

    def row_keys(self, split: str) -> list[str]:
        return self.splits[split]


def test_rows_found_again_by_role_and_position_after_a_weights_only_round_trip():
    kept = record(Rows(train=["raw/a/1.png", "raw/b/2.png", "raw/a/1.png"], val=["raw/c/3.png"]))
    buffer = io.BytesIO()
    torch.save({"seen_rows": kept}, buffer)
    buffer.seek(0)
    kept = torch.load(buffer, weights_only=True)["seen_rows"]
    assert kept["train"].dtype == torch.int64 and kept["train"].numel() == 2  # one per file
    test = ["raw/x/9.png", "raw/c/3.png", "raw/b/2.png", "raw/B/2.png"]
    assert seen_in(kept, test) == {"train": [2], "val": [1]}
    assert seen_in(kept, ["raw/x/9.png"]) == {"train": [], "val": []}


def test_a_datamodule_without_row_names_records_nothing():
    assert record(object()) is None
    assert seen_in(None, ["a"]) == {}
    assert digests([]).numel() == 0
