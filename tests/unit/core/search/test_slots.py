"""Worker slots of async sweeps: GPU shares, device groups, CPU core groups."""

from __future__ import annotations

import pytest

from trainlab.core.search.slots import WorkerSlot, assign_slots, gpus_per_worker
from trainlab.errors import ConfigError


def devices(slots: list[WorkerSlot]) -> list[str]:
    return [s.cuda_visible_devices for s in slots]


def test_a_quarter_gpu_puts_four_workers_on_each_device():
    slots = assign_slots(["0", "1"], 0.25, cpus=16)
    assert devices(slots) == ["0", "0", "0", "0", "1", "1", "1", "1"]
    assert [s.index for s in slots] == list(range(8))
    assert {s.threads for s in slots} == {2}  # 16 cores shared by 8 workers


def test_two_gpus_per_trial_gives_each_worker_a_pair():
    assert devices(assign_slots(["0", "1", "2", "3"], 2, cpus=8)) == ["0,1", "2,3"]
    # the ids CUDA_VISIBLE_DEVICES already narrowed to are kept
    assert devices(assign_slots(["4", "6"], 1, cpus=8)) == ["4", "6"]


def test_workers_take_the_first_slots_and_no_more_than_there_are():
    assert devices(assign_slots(["0", "1"], 0.5, cpus=4, workers=3)) == ["0", "0", "1"]
    with pytest.raises(ConfigError, match="only 4 slots"):
        assign_slots(["0", "1"], 0.5, cpus=4, workers=5)


def test_cpu_workers_get_core_groups_and_hide_the_gpus():
    slots = assign_slots([], None, cpus=8, cpus_per_trial=2)
    assert len(slots) == 4 and devices(slots) == [""] * 4 and {s.threads for s in slots} == {2}
    assert [s.threads for s in assign_slots([], 0, cpus=8, workers=2)] == [4, 4]
    assert len(assign_slots([], None, cpus=2)) == 1  # default groups of 4 cores, at least one


def test_gpu_shares_without_a_gpu_or_that_do_not_divide_are_refused():
    with pytest.raises(ConfigError, match=r"no visible GPU.*gpus_per_trial=0"):
        assign_slots([], 0.5, cpus=8)
    with pytest.raises(ConfigError, match="does not split a GPU evenly"):
        gpus_per_worker(0.3)
    with pytest.raises(ConfigError, match="whole numbers"):
        gpus_per_worker(1.5)
    with pytest.raises(ConfigError, match="only 2 GPU"):
        assign_slots(["0", "1"], 4, cpus=8)
    assert gpus_per_worker(0.125) == (1, 8) and gpus_per_worker(3) == (3, 1)
