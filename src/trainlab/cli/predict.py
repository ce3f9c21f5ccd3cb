"""``trainlab predict ckpt_path=... input=...``: predictions from a checkpoint alone."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point
from trainlab.core.schema import Schema

PREDICT_SCHEMA = Schema(
    keys={
        "task_name": "str",
        "ckpt_path": "str",
        "input": "str",
        "output_dir": "str | None",
        "data": "dict | None",
        "trainer": "dict",
        "paths": "dict",
        "extras": "dict",
        "run_name": "str | None",
        "resume": "str | None",
        "seed": "int",
    },
    required={"ckpt_path", "input"},
    target_groups=(),
)


def run(cfg: DictConfig) -> Any:
    """Predict and return the written files."""
    from trainlab.core.predict import predict

    return predict(cfg)


main = entry_point("predict", PREDICT_SCHEMA)(run)

if __name__ == "__main__":
    main()
