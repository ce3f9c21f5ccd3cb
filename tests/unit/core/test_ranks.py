"""Which process of a SLURM- or torchrun-started DDP run owns the run folder."""

from __future__ import annotations

import pytest

from trainlab.core.ranks import check_run_folder_shared, started_as_follower, started_rank
from trainlab.errors import ConfigError

TWO_CPUS = {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}
TORCHRUN = {"TORCHELASTIC_RUN_ID": "abc", "RANK": "1", "WORLD_SIZE": "2"}
SLURM = {"SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_JOB_NAME": "train"}


@pytest.mark.parametrize(
    ("environ", "rank", "follower"),
    [
        (TORCHRUN, 1, True),
        ({**TORCHRUN, "RANK": "0"}, 0, False),
        (SLURM, 1, True),
        ({**SLURM, "SLURM_PROCID": "0"}, 0, False),
        ({**SLURM, "SLURM_JOB_NAME": "interactive"}, None, False),  # salloc: Lightning spawns
        ({}, None, False),
    ],
)
def test_the_rank_comes_from_torchrun_or_slurm(environ, rank, follower) -> None:
    assert started_rank(TWO_CPUS, environ) == rank
    assert started_as_follower(environ) is follower


def test_one_device_is_no_ddp_run() -> None:
    assert started_rank({**TWO_CPUS, "devices": 1}, TORCHRUN) is None


def test_ranks_started_apart_need_a_run_name_or_a_launcher() -> None:
    with pytest.raises(ConfigError, match="run_name=<name>"):
        check_run_folder_shared(1, None, multirun=False)
    check_run_folder_shared(1, "x", multirun=False)
    check_run_folder_shared(0, None, multirun=True)
    check_run_folder_shared(None, None, multirun=False)
