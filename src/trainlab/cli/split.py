"""``trainlab split data_dir=data/<name> folds=5 test_ratio=0.15 seed=42``."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from trainlab.cli.app import entry_point
from trainlab.core.schema import Schema

log = logging.getLogger("trainlab.split")

SPLIT_SCHEMA = Schema(
    keys={
        "task_name": "str",
        "data_dir": "str",
        "folds": "int",
        "test_ratio": "float",
        "seed": "int",
        "overwrite": "bool",
        "max_pixels": "int",
        "embedded": "str | None",
        "paths": "dict",
        "skip_existing": "bool",
        "run_name": "str | None",
        "resume": "str | None",
    },
    required={"data_dir"},
)


def run(cfg: DictConfig) -> None:
    """Write the split files and print what was written."""
    from trainlab.data.images.split import split_folder

    data_dir = Path(cfg.data_dir)
    if cfg.embedded == "digits" and not (data_dir / "raw").is_dir():
        from trainlab.data.images.digits import write_digits

        count = write_digits(data_dir)
        log.info("wrote scikit-learn's %d digits images under %s/raw", count, data_dir)
    if cfg.skip_existing and (data_dir / "splits" / "test.txt").is_file():
        log.info("%s/splits exists; keeping it (skip_existing=true)", data_dir)
        return
    result = split_folder(
        data_dir, cfg.folds, cfg.test_ratio, cfg.seed, cfg.overwrite, cfg.max_pixels
    )
    log.info(
        "%d classes: test set %d images, %d folds over the other %d -> %s",
        len(result.classes),
        result.n_test,
        result.folds,
        result.n_rest,
        result.split_dir,
    )


main = entry_point("split", SPLIT_SCHEMA)(run)

if __name__ == "__main__":
    main()
