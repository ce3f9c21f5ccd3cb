"""``trainlab eval ckpt_path=...``: test metrics and reports of a checkpoint."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point
from trainlab.core.schema import Schema

EVAL_SCHEMA = Schema(
    keys={
        "task_name": "str",
        "ckpt_path": "str",
        "data": "dict | None",
        "trainer": "dict",
        "paths": "dict",
        "extras": "dict",
        "baselines": "dict | None",
        "run_name": "str | None",
        "resume": "str | None",
        "seed": "int",
    },
    required={"ckpt_path"},
    target_groups=(),
)


def run(cfg: DictConfig) -> Any:
    """Evaluate and return the metrics."""
    from trainlab.core.evaluate import evaluate

    return evaluate(cfg)


main = entry_point("eval", EVAL_SCHEMA)(run)

if __name__ == "__main__":
    main()
