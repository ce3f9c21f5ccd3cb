"""PermutationBatchSampler and InMemoryDataLoader: DataLoader's own batches and generator states."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SubsetRandomSampler,
    TensorDataset,
)
from torch.utils.data.dataloader import _BaseDataLoaderIter

from trainlab.data.batch_sampler import PermutationBatchSampler, shuffled_batches
from trainlab.data.in_memory_loader import InMemoryDataLoader, keep_batch


class Rows(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.values = torch.arange(n) * 10

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.values[index]

    def __getitems__(self, indices: list[int] | torch.Tensor) -> torch.Tensor:
        return self.values.index_select(0, torch.as_tensor(indices, dtype=torch.long))


def _epochs(loader: DataLoader, generator: torch.Generator, epochs: int) -> list:
    seen = []
    for _ in range(epochs):
        seen.append([batch.tolist() for batch in loader])
        seen.append(generator.get_state())  # the state the next epoch starts from
    return seen


def _assert_same(expected: list, got: list) -> None:
    for want, have in zip(expected, got, strict=True):
        if isinstance(want, torch.Tensor):
            assert torch.equal(want, have)
        else:
            assert want == have


@pytest.mark.parametrize(("n", "batch_size"), [(70, 16), (64, 16), (5, 8)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_same_batches_and_generator_states_as_dataloader(
    n: int, batch_size: int, shuffle: bool
) -> None:
    dataset = Rows(n)
    torch_gen, ours_gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    theirs = DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=torch_gen, collate_fn=lambda b: b
    )
    ours = DataLoader(
        dataset,
        batch_sampler=shuffled_batches(dataset, batch_size, shuffle, ours_gen),
        generator=ours_gen,
        collate_fn=lambda b: b,
    )
    _assert_same(_epochs(theirs, torch_gen, 3), _epochs(ours, ours_gen, 3))
    assert len(ours) == len(theirs)


def test_drop_last_and_other_samplers_batch_like_batch_sampler() -> None:
    dataset = Rows(70)
    generator = torch.Generator().manual_seed(0)
    ours = PermutationBatchSampler(RandomSampler(dataset, generator=generator), 16, True)
    state = generator.get_state()
    batches = [b.tolist() for b in ours]
    generator.set_state(state)
    plain = list(BatchSampler(RandomSampler(dataset, generator=generator), 16, True))
    assert batches == plain and len(batches) == len(ours) == 4
    # a sampler of some rows only (as a DistributedSampler is): BatchSampler's own lists
    subset = PermutationBatchSampler(SubsetRandomSampler([1, 3, 5, 7, 9]), 2, False)
    batches = list(subset)
    assert all(isinstance(b, list) for b in batches)
    assert sorted(i for b in batches for i in b) == [1, 3, 5, 7, 9]


@pytest.mark.parametrize("shuffle", [True, False])
def test_in_memory_loader_takes_batches_directly_with_dataloaders_batches_and_states(
    shuffle: bool,
) -> None:
    dataset = Rows(70)
    torch_gen, ours_gen = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    theirs = DataLoader(
        dataset,
        batch_sampler=shuffled_batches(dataset, 16, shuffle, torch_gen),
        generator=torch_gen,
        collate_fn=keep_batch,
    )
    ours = InMemoryDataLoader(
        dataset,
        batch_sampler=shuffled_batches(dataset, 16, shuffle, ours_gen),
        generator=ours_gen,
        collate_fn=keep_batch,
    )
    assert ours._direct() and not isinstance(iter(ours), _BaseDataLoaderIter)
    _assert_same(_epochs(theirs, torch_gen, 3), _epochs(ours, ours_gen, 3))


def test_in_memory_loader_leaves_everything_else_to_torch() -> None:
    dataset = Rows(10)
    plain_items = TensorDataset(torch.arange(10))
    others = {
        "another collate": InMemoryDataLoader(dataset, batch_size=4, collate_fn=lambda b: b),
        "no __getitems__": InMemoryDataLoader(plain_items, batch_size=4, collate_fn=keep_batch),
        "pinned memory": InMemoryDataLoader(
            dataset, batch_size=4, collate_fn=keep_batch, pin_memory=True
        ),
        "workers": InMemoryDataLoader(dataset, batch_size=4, collate_fn=keep_batch, num_workers=1),
        "no batching": InMemoryDataLoader(dataset, batch_size=None, collate_fn=keep_batch),
    }
    for name, loader in others.items():
        assert not loader._direct(), name
    assert isinstance(iter(others["another collate"]), _BaseDataLoaderIter)
    assert [b.tolist() for b in others["another collate"]] == [
        [0, 10, 20, 30],
        [40, 50, 60, 70],
        [80, 90],
    ]
