"""A SLURM array task split into worker slots: which slots, early errors, requeue marks."""

from __future__ import annotations

import optuna
import pytest

from hydra_plugins.trainlab_sweeper._async import check_slurm_shares
from hydra_plugins.trainlab_sweeper._worker import (
    SLURM_JOB_ATTR,
    TASK_SLOT_ATTR,
    mark_requeued,
    task_slots,
)
from trainlab.core.search.lease import REQUEUED_ATTR
from trainlab.errors import ConfigError


@pytest.fixture
def task_env(monkeypatch: pytest.MonkeyPatch):
    """This process as a SLURM task with the given GPUs and cores."""

    def set_up(gpus: str | None, cores: int) -> None:
        if gpus is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", gpus)
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))

    return set_up


def test_a_task_without_shares_stays_one_worker(task_env) -> None:
    task_env("0", 8)
    assert task_slots({"gpus_per_trial": None, "cpus_per_trial": None}) == []


def test_a_quarter_gpu_puts_four_workers_on_the_tasks_gpu(task_env) -> None:
    task_env("3", 8)  # SLURM gave this task the node's GPU 3
    slots = task_slots({"gpus_per_trial": 0.25})
    assert [s.cuda_visible_devices for s in slots] == ["3"] * 4
    assert {s.threads for s in slots} == {2}


def test_half_gpus_on_a_two_gpu_task_pair_workers_per_device(task_env) -> None:
    task_env("2,5", 4)
    slots = task_slots({"gpus_per_trial": 0.5})
    assert [s.cuda_visible_devices for s in slots] == ["2", "2", "5", "5"]


def test_core_groups_split_a_cpu_task(task_env) -> None:
    task_env(None, 6)
    slots = task_slots({"cpus_per_trial": 2})
    assert [(s.cuda_visible_devices, s.threads) for s in slots] == [("", 2)] * 3


def test_a_gpu_share_in_a_task_without_gpus_names_the_key(task_env) -> None:
    task_env("", 4)
    with pytest.raises(ConfigError, match=r"gpus_per_trial=0\.25 but this machine has no visible"):
        task_slots({"gpus_per_trial": 0.25})


def test_gpu_shares_on_slurm_without_gpus_asked_stop_before_submitting() -> None:
    with pytest.raises(ConfigError, match=r"hydra.launcher.gpus_per_node=1 \(with gpus_per_trial"):
        check_slurm_shares({"gpus_per_trial": 0.25}, {"gpus_per_node": None, "gres": None})
    with pytest.raises(ConfigError, match="does not split a GPU evenly"):
        check_slurm_shares({"gpus_per_trial": 0.3}, {"gpus_per_node": 1})
    check_slurm_shares({"gpus_per_trial": 0.25}, {"gpus_per_node": 1})
    check_slurm_shares({"gpus_per_trial": 0.25}, {"additional_parameters": {"gpus_per_task": 1}})
    check_slurm_shares({"gpus_per_trial": 0}, {})


def test_a_requeue_marks_every_running_trial_of_the_task(tmp_path) -> None:
    spec = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=spec)
    ours = [study.ask(), study.ask()]
    other, done = study.ask(), study.ask()
    for slot, trial in enumerate(ours):
        trial.set_user_attr(SLURM_JOB_ATTR, "7_0")
        trial.set_user_attr(TASK_SLOT_ATTR, slot)
    other.set_user_attr(SLURM_JOB_ATTR, "7_1")  # another array task
    done.set_user_attr(SLURM_JOB_ATTR, "7_0")
    study.tell(done, 1.0)
    mark_requeued(None, (spec, "s"), "7_0")
    marked = {t.number for t in study.get_trials() if REQUEUED_ATTR in t.user_attrs}
    assert marked == {ours[0].number, ours[1].number}


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="needs a machine where torch sees no GPU"
)
def test_a_gpu_slot_torch_cannot_see_is_recorded_and_shown(monkeypatch, caplog) -> None:
    """A slot's CUDA_VISIBLE_DEVICES on a machine without CUDA: the trials train on CPU, and
    the worker's record and `trainlab sweep status` say so instead of passing for a GPU."""
    from hydra_plugins.trainlab_sweeper._worker import cuda_devices_seen
    from trainlab.cli.sweep import gpu_slots_without_cuda

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    with caplog.at_level("WARNING", logger="hydra_plugins.trainlab_sweeper"):
        assert cuda_devices_seen(5) == 0
    assert "worker 5 was given GPU(s) 2,3" in caplog.text and "train on CPU" in caplog.text
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda_devices_seen(5) is None  # a CPU slot: nothing to see
    workers = [
        {"index": 0, "cuda_visible_devices": "2,3", "cuda_devices_seen": 0},
        {"index": 1, "cuda_visible_devices": "", "cuda_devices_seen": None},
        {"index": 2, "cuda_visible_devices": "4", "cuda_devices_seen": 1},
        {"index": 3, "cuda_visible_devices": "5"},  # written before this record existed
    ]
    assert gpu_slots_without_cuda(workers) == ["0 (GPUs 2,3, torch saw 0)"]
