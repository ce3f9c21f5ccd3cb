"""``trainlab cv``: nested cross-validation + aggregation + final model (k-mer pipeline)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.app import entry_point
from trainlab.core.schema import COMPONENT_KEYS, RUN_KEYS, Schema

CV_SCHEMA = Schema(
    keys={
        **RUN_KEYS,
        "mode": "str",
        "monitor": "str",
        "output_dir": "str | None",
        "hyperparams": "str | dict | None",
        "cv": "dict",
        "final": "dict",
        **COMPONENT_KEYS,
    },
)


def run(cfg: DictConfig) -> Any:
    """Run the stages of ``mode`` and return their summary."""
    from trainlab.core.allowlist import check_params
    from trainlab.pipelines.kmer_cv.params import load_hyperparams

    # hyperparameter JSON comes from files others wrote: checked before torch is imported
    check_params(load_hyperparams(cfg.get("hyperparams")), f"hyperparams={cfg.hyperparams}")

    from trainlab.core.console import route_lightning_logs
    from trainlab.core.seeding import seed_everything
    from trainlab.pipelines.kmer_cv.runner import run_cv

    route_lightning_logs()
    seed_everything(cfg.seed, cfg.deterministic, cfg.cudnn_benchmark)
    return run_cv(cfg)


main = entry_point("cv", CV_SCHEMA)(run)

if __name__ == "__main__":
    main()
