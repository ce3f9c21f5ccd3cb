"""The Hydra Sweeper plugin class; the search itself lives in `_engine`."""

from __future__ import annotations

import os
import sys
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# Importing config registers `hydra/sweeper=trainlab_optuna` with the ConfigStore.
from .config import TrainlabOptunaSweeperConf  # noqa: F401


class TrainlabOptunaSweeper(Sweeper):
    """Optuna search over Hydra overrides with pruning, resume and result files."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        from ._task import TrialTask

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=TrialTask(task_function), config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from trainlab.errors import TrainlabError

        from ._engine import OptunaSearch

        assert self.config is not None and self.hydra_context is not None
        try:
            search = OptunaSearch(
                settings=self.settings,
                config=self.config,
                launcher=self.launcher,
                hydra_context=self.hydra_context,
                validate_batch=self.validate_batch_is_legal,
            )
            return search.run(arguments)
        except TrainlabError as err:
            # Hydra would print a traceback; a bad setting deserves its message alone, as a
            # single run's does. HYDRA_FULL_ERROR=1 keeps Hydra's convention: the exception.
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"\nerror: {err}", file=sys.stderr)
            raise SystemExit(2) from err
