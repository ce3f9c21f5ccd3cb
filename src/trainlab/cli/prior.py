"""``trainlab prior checkpoints=[...]``: class priors per polarity from BCE checkpoints."""

from __future__ import annotations

import json
import logging
from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point
from trainlab.core.schema import Schema

log = logging.getLogger("trainlab.prior")

PRIOR_SCHEMA = Schema(
    keys={
        "task_name": "str",
        "checkpoints": "list",
        "labelled_table": "str",
        "root": "str | None",
        "output": "str | None",
        "data": "dict | None",
        "trainer": "dict",
        "paths": "dict",
        "extras": "dict",
        "seed": "int",
        "run_name": "str | None",
        "resume": "str | None",
        "force": "bool",
    },
    required={"checkpoints"},
    target_groups=(),
)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Estimate, write priors.json, and print the priors (and errors on synthetic data)."""
    from trainlab.pipelines.pu_prior import estimate_priors

    result = estimate_priors(cfg)
    log.info("priors: %s -> %s", json.dumps(result["priors"]), result["path"])
    for name, item in result.get("truth", {}).items():
        log.info(
            "%s mode: estimated %.4f, true %.4f, error %.4f (empirical training prior %.4f)",
            name,
            item["estimated"],
            item["true_prior"],
            item["abs_error"],
            item["empirical_train_prior"],
        )
    return result


main = entry_point("prior", PRIOR_SCHEMA)(run)

if __name__ == "__main__":
    main()
