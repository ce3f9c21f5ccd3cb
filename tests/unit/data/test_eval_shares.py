"""Validation/test rows shared out across DDP ranks: every row scored exactly once."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader, DistributedSampler

from trainlab.data.eval_shares import EveryRowOnce, eval_sampler
from trainlab.errors import DataError


@pytest.mark.parametrize(("n", "replicas"), [(305, 2), (509, 2), (10, 3), (4, 4)])
def test_shares_are_disjoint_and_cover_every_row_once(n: int, replicas: int) -> None:
    shares = [list(EveryRowOnce(n, replicas, rank)) for rank in range(replicas)]
    assert sorted(i for share in shares for i in share) == list(range(n))
    assert [len(EveryRowOnce(n, replicas, r)) for r in range(replicas)] == [len(s) for s in shares]
    # torch's own sampler repeats rows until n divides by the ranks (305 -> 306)
    padded = sum(len(DistributedSampler(range(n), replicas, r, False)) for r in range(replicas))
    assert padded == n if n % replicas == 0 else padded > n


def test_lightning_keeps_it_and_batches_it_in_order() -> None:
    sampler = EveryRowOnce(7, 2, 1)
    assert isinstance(sampler, DistributedSampler)  # Lightning leaves a DistributedSampler be
    loader = DataLoader(list(range(7)), batch_size=2, sampler=sampler)
    assert [b.tolist() for b in loader] == [[1, 3], [5]]


def test_a_rank_without_rows_is_refused_and_one_process_needs_none() -> None:
    with pytest.raises(DataError, match=r"the val split has 1 row.* for 2 DDP processes"):
        EveryRowOnce(1, 2, 0, "val")
    assert eval_sampler(305, "val") is None  # no process group: the loader's own order
