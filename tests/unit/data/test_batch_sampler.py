"""PermutationBatchSampler: DataLoader's own batches and generator states, as index slices."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SubsetRandomSampler

from trainlab.data.batch_sampler import PermutationBatchSampler, shuffled_batches


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
    expected, got = _epochs(theirs, torch_gen, 3), _epochs(ours, ours_gen, 3)
    for want, have in zip(expected, got, strict=True):
        if isinstance(want, torch.Tensor):
            assert torch.equal(want, have)
        else:
            assert want == have
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
