"""A DataLoader that, without workers, takes each batch straight from the dataset.

torch's single-process iterator wraps every ``next()`` in a profiler ``record_function``
(a Python-dispatched op in torch 2.13), a fetcher and a collate call. For data sets already in
memory whose ``__getitems__`` returns the finished batch, that was ~0.6 % of a digits training
step of ~22 ms (py-spy samples of ``benchmarks/overhead.py``, 2026-12-02) for no work at all.

Everything else is torch's: workers, pinned memory, iterable data sets, datasets without
``__getitems__`` and any other collate function go through ``DataLoader.__iter__`` unchanged.
The direct path draws the same base seed from the loader's generator that torch's iterator
draws before its sampler, so batches and generator states stay those of ``DataLoader``
(``tests/unit/data/test_batch_sampler.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset


def keep_batch(batch: Any) -> Any:
    """The collate function of data sets whose ``__getitems__`` returns the whole batch."""
    return batch


class InMemoryDataLoader(DataLoader):
    """``DataLoader`` with a direct worker-less path for ``__getitems__`` batches."""

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        if not self._direct():
            return super().__iter__()
        return self._direct_batches()

    def _direct(self) -> bool:
        return (
            self.num_workers == 0
            and not self.pin_memory
            and self.batch_sampler is not None
            and self.collate_fn is keep_batch
            and not isinstance(self.dataset, IterableDataset)
            and callable(getattr(self.dataset, "__getitems__", None))
        )

    def _direct_batches(self) -> Iterator[Any]:
        # torch's iterator draws its base seed from the generator before the sampler runs
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        fetch = self.dataset.__getitems__  # type: ignore[attr-defined]
        for index in self.batch_sampler:
            yield fetch(index)
