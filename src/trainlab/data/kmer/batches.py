"""In-memory batch iteration over tensors already on the training device.

A k-mer matrix fits in memory (the real one is 1.3 GB as float32), so a DataLoader with its
per-sample collation only adds overhead: one `index_select` per batch on the device is all a
step needs.
"""

from collections.abc import Iterator

import numpy as np
import torch


class TensorBatches:
    """Re-iterable batches of row subsets of `tensors` (all on one device).

    Args:
        tensors: tensors with the same first dimension (e.g. features and targets).
        batch_size: rows per batch.
        shuffle: a new permutation per pass, drawn from a generator seeded with `seed`.
        drop_last: drop a last batch smaller than `batch_size`; a last batch of 1 row is
            always dropped when shuffling, since BatchNorm cannot train on it.
    """

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.tensors = tensors
        self.n = int(tensors[0].shape[0])
        self.batch_size = max(1, int(batch_size))
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def _n_batches(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        if rest and not self.drop_last and not (self.shuffle and rest == 1 and full):
            full += 1
        return full

    def __len__(self) -> int:
        return self._n_batches()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n_batches = self._n_batches()
        if not self.shuffle:
            for b in range(n_batches):
                start = b * self.batch_size
                yield tuple(t[start : start + self.batch_size] for t in self.tensors)
            return
        device = self.tensors[0].device
        order = torch.randperm(self.n, generator=self.generator).to(device, non_blocking=True)
        for b in range(n_batches):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield tuple(t.index_select(0, index) for t in self.tensors)


def gather_rows(
    x: np.ndarray, y: np.ndarray | None, rows: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """Copy `rows` of the (possibly memory-mapped) arrays into tensors on `device`."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))  # sorted rows read a memmap sequentially
    xs = torch.from_numpy(np.ascontiguousarray(x[rows], dtype=np.float32)).to(device)
    if y is None:
        return (xs,)
    return xs, torch.from_numpy(np.ascontiguousarray(y[rows])).to(device)
