"""Batches from a Lance spectra table: one ``take`` per batch, zero-padded tensors.

The sampler yields whole batches of row positions; the dataset turns one such batch into
tensors with a single Lance ``take``. The dataset opens the table lazily, once per process, and
never pickles the open handle, so it works with fork, spawn and forkserver workers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import torch
import torch.distributed as dist
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler

from trainlab.data.spectra.schema import N_INSTRUMENT_SETTINGS, NEGATIVE_INDEX, POSITIVE_INDEX
from trainlab.data.spectra.store import as_schema_types
from trainlab.errors import DataError

BATCH_COLUMNS = ["mz_array", "intensity_array", "precursor_mz", "instrument_settings", "label"]


def pad_lists(column: pa.ChunkedArray | pa.Array) -> torch.Tensor:
    """A list<float32> column -> ``(rows, longest)`` float32 tensor, zero-padded on the right."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    offsets = column.offsets.to_numpy()
    lengths = np.diff(offsets)
    values = column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    width = int(lengths.max()) if len(lengths) else 0
    out = np.zeros((len(lengths), max(width, 1)), dtype=np.float32)
    out[np.arange(out.shape[1]) < lengths[:, None]] = values
    return torch.from_numpy(out)


class SpectraBatches(Dataset):
    """Item ``i`` of this dataset is a *batch*: a sequence of positions into ``rows``.

    Args:
        uri: the Lance table folder.
        rows: table row indices this dataset covers (e.g. one polarity), in a fixed order.
    """

    def __init__(self, uri: str, rows: np.ndarray) -> None:
        self.uri = str(uri)
        self.rows = np.asarray(rows, dtype=np.int64)
        self._dataset = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_dataset"], state["_pid"] = None, None  # each worker opens its own handle
        return state

    @property
    def dataset(self):
        """The open Lance dataset of this process (opened on first use)."""
        if self._dataset is None or self._pid != os.getpid():
            import lance

            self._dataset = lance.dataset(self.uri)
            self._pid = os.getpid()
        return self._dataset

    def __getitem__(self, positions: Sequence[int]) -> dict[str, torch.Tensor]:
        positions = np.sort(np.asarray(positions, dtype=np.int64))
        rows = self.rows[positions]
        table = as_schema_types(self.dataset.take(rows, columns=BATCH_COLUMNS), self.uri)
        settings = table.column("instrument_settings").combine_chunks()
        settings = settings.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        settings = torch.from_numpy(settings.reshape(len(rows), N_INSTRUMENT_SETTINGS).copy())
        return {
            "mz": pad_lists(table.column("mz_array")),
            "intensity": pad_lists(table.column("intensity_array")),
            "precursor_mz": torch.from_numpy(table.column("precursor_mz").to_numpy().copy()),
            "instrument_settings": settings,
            "label": torch.from_numpy(table.column("label").to_numpy().copy()),
            "polarity": _polarity(settings),
            "index": torch.from_numpy(rows.copy()),
        }


def _polarity(settings: torch.Tensor) -> torch.Tensor:
    positive = settings[:, POSITIVE_INDEX] == 1
    negative = settings[:, NEGATIVE_INDEX] == 1
    return torch.where(positive, 1, torch.where(negative, 0, -1)).long()


class BatchSampler(DistributedSampler):
    """Yields batches of positions, each replica (DDP rank) a disjoint share of the batches.

    Like ``DistributedSampler`` but over whole batches: the epoch's (shuffled) order is cut into
    batches, padded by repeating the first batches so every replica gets the same number, and
    batch ``k`` goes to replica ``k % num_replicas``. Being a DistributedSampler, Lightning
    keeps it as it is under DDP and calls :meth:`set_epoch` each epoch.

    ``pad=False`` (validation and test) repeats nothing: a repeated batch was scored twice by
    the metrics summed across replicas (``trainlab.data.eval_shares``); the replicas then get
    different numbers of batches, which evaluation allows and a training step's gradient sync
    does not. ``num_replicas=1, rank=0`` gives every batch (reports read on rank 0 alone).
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
        pad: bool = True,
    ) -> None:
        # DistributedSampler.__init__ wants a dataset and a process group; we need neither.
        distributed = dist.is_available() and dist.is_initialized()
        self.num_replicas = num_replicas or (dist.get_world_size() if distributed else 1)
        self.rank = rank if rank is not None else (dist.get_rank() if distributed else 0)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside 0..{self.num_replicas - 1}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.seed, self.drop_last, self.epoch, self.pad = seed, drop_last, 0, pad
        if not pad and 0 < self._batches() < self.num_replicas:
            # a replica without a batch skips the epoch-end sync the others wait in (a hang)
            raise DataError(
                f"{self._batches()} batch(es) of {batch_size} for {self.num_replicas} DDP "
                "processes: each process needs one. Fix: a smaller data.batch_size, or "
                "trainer.devices=1"
            )

    def _batches(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def _n_batches(self) -> int:
        full = self._batches()
        if not self.pad:
            return full
        return math.ceil(full / self.num_replicas) * self.num_replicas

    def __len__(self) -> int:
        return len(range(self.rank, self._n_batches(), self.num_replicas))

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        batches = [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        total = self._n_batches()
        if batches:
            batches += [batches[i % len(batches)] for i in range(total - len(batches))]
        for batch in batches[self.rank : total : self.num_replicas]:
            yield batch.tolist()

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently, and identically on every replica, in each epoch."""
        self.epoch = epoch
