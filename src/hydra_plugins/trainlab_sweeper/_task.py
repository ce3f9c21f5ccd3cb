"""The task function as the sweeper hands it to the launcher."""

from __future__ import annotations

import contextlib
import functools
import traceback
from typing import Any

TRACEBACK_ATTR = "trainlab_traceback"


class TrialTask:
    """Runs the task; a failure keeps its formatted traceback when pickled to the sweeper.

    Launchers that run jobs in other processes (submitit, SLURM) send the exception back
    pickled, which drops `__traceback__`; an attribute in the exception's `__dict__` survives.
    """

    def __init__(self, task_function: Any) -> None:
        self.task_function = task_function
        functools.update_wrapper(self, task_function)

    def __call__(self, cfg: Any) -> Any:
        try:
            return self.task_function(cfg)
        except Exception as err:
            # Exceptions with __slots__ cannot take attributes; they travel without it.
            with contextlib.suppress(AttributeError):
                setattr(err, TRACEBACK_ATTR, "".join(traceback.format_exception(err)))
            raise
