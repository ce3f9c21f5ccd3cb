"""Validation and test rows shared out across DDP processes, each row scored exactly once.

Under DDP Lightning gives every val/test DataLoader a ``DistributedSampler``, which repeats the
first rows until the split divides by the number of processes; the metrics, summed across the
processes, then count those rows twice. On the embedded digits (fold 2: 305 validation rows)
a 2-process run logged val/acc 0.4314 (132/306), where the same checkpoint scores 0.4295
(131/305) in one process: a wrong monitor, best checkpoint and report. A val/test loader built
with :func:`eval_sampler` splits the rows without repeating any; the processes then score
different numbers of batches, which the evaluation loop allows (nothing syncs inside a step;
the metrics sync once, at the epoch's end). Being a ``DistributedSampler``, Lightning keeps it.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data.distributed import DistributedSampler

from trainlab.errors import DataError


class EveryRowOnce(DistributedSampler):
    """Rows ``rank, rank + replicas, ...`` of ``n``: disjoint shares, no row repeated.

    Args:
        n: Rows of the split.
        num_replicas: Processes sharing it.
        rank: This process.
        split: The split's name, for the error message.
    """

    def __init__(self, n: int, num_replicas: int, rank: int, split: str = "evaluation") -> None:
        # DistributedSampler.__init__ wants a dataset and a process group; this needs neither
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        if n < num_replicas:
            # a process without a batch skips the epoch-end sync the others wait in (a hang)
            raise DataError(
                f"the {split} split has {n} row(s) for {num_replicas} DDP processes: each "
                f"process needs at least one. Fix: a larger {split} split, or "
                "trainer.devices=1"
            )
        self.n, self.num_replicas, self.rank = n, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = False, 0, False, 0

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.num_replicas))


def eval_sampler(n: int, split: str = "evaluation") -> EveryRowOnce | None:
    """The sampler of a val/test loader built inside a DDP process; None in a single process.

    Only loaders that Lightning's evaluation loops read should use it: a report or baseline
    loader read by rank 0 alone must cover every row.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return EveryRowOnce(n, dist.get_world_size(), dist.get_rank(), split)
