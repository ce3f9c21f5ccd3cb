"""``trainlab refit experiment=... [best_config=...] seeds=[0,1,2]``: one config, several seeds."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point, task_overrides
from trainlab.cli.train import TRAIN_SCHEMA
from trainlab.core.schema import Schema

REFIT_SCHEMA = Schema(keys={**TRAIN_SCHEMA.keys, "seeds": "list"}, required={"seeds"})


def run(cfg: DictConfig) -> Any:
    """Train once per seed; return the mean of ``optimized_metric`` for sweepers."""
    from trainlab.pipelines.refit import refit

    summary = refit(cfg, task_overrides())
    name = cfg.get("optimized_metric")
    return summary["mean"].get(name) if name else None


main = entry_point("refit", REFIT_SCHEMA)(run)

if __name__ == "__main__":
    main()
