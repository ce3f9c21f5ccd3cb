"""``trainlab train`` / ``python train.py``: one training run, or a sweep with ``-m``."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point, is_multirun, task_overrides
from trainlab.core.schema import COMPONENT_KEYS, RUN_KEYS, Schema

TRAIN_SCHEMA = Schema(
    keys={
        **RUN_KEYS,
        "resume_finished": "bool",
        "resume_data_moved": "bool",
        "train": "bool",
        "test": "bool",
        "monitor": "str",
        "mode": "str",
        "optimized_metric": "str | None",
        "best_config": "str | None",
        "trainlab_trial": "dict | None",
        **COMPONENT_KEYS,
        "privacy": "dict | None",
    },
    target_groups=("data", "model", "privacy"),
)


def run(cfg: DictConfig) -> Any:
    """Train, then return the value of ``optimized_metric`` for sweepers."""
    from trainlab.core.launch_guard import check_ddp_in_multirun, check_ddp_relaunch
    from trainlab.core.ranks import check_run_folder_shared, started_rank
    from trainlab.core.train import train

    check_ddp_in_multirun(cfg.trainer, is_multirun())
    check_ddp_relaunch(cfg.trainer)
    check_run_folder_shared(started_rank(cfg.trainer), cfg.get("run_name"), is_multirun())

    metrics = train(cfg, task_overrides())
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


main = entry_point("train", TRAIN_SCHEMA)(run)

if __name__ == "__main__":
    main()
