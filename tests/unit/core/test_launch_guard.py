"""DDP inside a Hydra multirun: refused unless the ranks start without re-running the command."""

from __future__ import annotations

import pytest

from trainlab.core.launch_guard import (
    check_ddp_in_multirun,
    check_ddp_relaunch,
    processes_per_node,
)
from trainlab.errors import ConfigError


@pytest.mark.parametrize(
    ("trainer", "expected"),
    [
        ({"devices": 2}, 2),
        ({"devices": "3"}, 3),
        ({"devices": [0, 1]}, 2),
        ({"devices": "0,1,2"}, 3),
        ({"devices": "auto", "accelerator": "cpu"}, 1),
        ({"devices": 1}, 1),
    ],
)
def test_processes_per_node(trainer, expected):
    assert processes_per_node(trainer) == expected


def test_ddp_in_multirun_is_refused_with_the_alternatives():
    with pytest.raises(ConfigError) as err:
        check_ddp_in_multirun({"strategy": "ddp", "devices": 2}, multirun=True, environ={})
    message = str(err.value)
    assert "ddp_spawn" in message and "launcher=slurm" in message
    assert "hydra.launcher.tasks_per_node=2" in message


@pytest.mark.parametrize(
    "trainer",
    [
        {"strategy": "ddp_spawn", "devices": 2},
        {"strategy": "ddp_fork", "devices": 2},
        {"strategy": "ddp", "devices": 1},
        {"strategy": "auto", "devices": 1},
        {
            "strategy": {
                "_target_": "lightning.pytorch.strategies.DDPStrategy",
                "start_method": "spawn",
            },
            "devices": 2,
        },
    ],
)
def test_in_process_starts_and_single_devices_pass(trainer):
    check_ddp_in_multirun(trainer, multirun=True, environ={})


def test_single_run_and_slurm_tasks_pass():
    trainer = {"strategy": "ddp", "devices": 2, "num_nodes": 2}
    check_ddp_in_multirun(trainer, multirun=False, environ={})
    check_ddp_in_multirun(trainer, multirun=True, environ={"SLURM_NTASKS": "4"})
    with pytest.raises(ConfigError, match=r"SLURM_NTASKS=1.*tasks_per_node=2"):
        check_ddp_in_multirun(trainer, multirun=True, environ={"SLURM_NTASKS": "1"})
    # an interactive SLURM shell does not start ranks
    with pytest.raises(ConfigError, match="ddp_spawn"):
        check_ddp_in_multirun(
            trainer, multirun=True, environ={"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "bash"}
        )


@pytest.mark.parametrize(
    "trainer",
    [
        {"strategy": "ddp", "devices": 2, "accelerator": "cpu"},
        # Lightning picks `ddp` (a re-run of the command) for several devices
        {"strategy": "auto", "devices": 2, "accelerator": "cpu"},
    ],
)
def test_ddp_started_by_rerunning_the_command_is_refused(trainer):
    # rank 1 re-ran `trainlab train` as a script: "can't open file '.../trainlab train'"
    with pytest.raises(ConfigError, match=r"re-running this command line.*ddp_spawn"):
        check_ddp_relaunch(trainer, environ={})


@pytest.mark.parametrize(
    ("trainer", "environ"),
    [
        ({"strategy": "ddp_spawn", "devices": 2}, {}),
        ({"strategy": "ddp", "devices": 1}, {}),
        ({"strategy": "ddp", "devices": 2}, {"SLURM_NTASKS": "2"}),
        ({"strategy": "ddp", "devices": 2}, {"TORCHELASTIC_RUN_ID": "x"}),
    ],
)
def test_ranks_started_in_process_or_from_outside_pass(trainer, environ):
    check_ddp_relaunch(trainer, environ=environ)
