"""What a run prints: plain unwrapped lines off a terminal, third-party noise dropped at its source.

A terminal gets Rich (colours, bars). A file, a pipe or a SLURM log gets one plain line per
message: Rich's console falls back to 80 columns there and broke paths mid-word, and a progress
bar's redraws are noise in a file. Messages that say nothing about the run (Lightning's tips,
the ``srun`` hint, a deprecation inside Lightning itself) are filtered at the logger or warning
that emits them; every other warning still shows.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from typing import Any

log = logging.getLogger(__name__)

#: Columns of Rich's console off a terminal: wide enough that no path is ever wrapped.
PLAIN_WIDTH = 10_000
PLAIN_FORMAT = "[%(asctime)s] %(levelname)s %(message)s"
PLAIN_DATE = "%Y-%m-%d %H:%M:%S"

LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
)
# where Lightning's rank_zero_info/rank_zero_warn messages are logged (which one depends on the
# import order, so all three carry the filter)
RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning_utilities.core.rank_zero",
)
# Starts of Lightning messages that say nothing about this run. The GPU/TPU lines repeat the
# hardware report trainlab logs first ("no GPU: training on CPU"); "GPU available: True, used:
# False" is kept, it tells a user their GPU sits idle.
DROPPED_PREFIXES = (
    "💡 Tip:",
    "GPU available: False, used: False",
    "TPU available: False, using: 0 TPU cores",
    "HPU available: False, using: 0 HPUs",
)
# (message regex, module regex) of warnings raised inside third-party code, not by a user's
# settings: the `srun` hint fires whenever a SLURM client is installed, although trainlab's SLURM
# launcher starts its jobs itself; the LeafSpec deprecation is Lightning 2.6 calling an API that
# torch 2.13 deprecated, nothing a user can change.
DROPPED_WARNINGS = (
    (
        r"The `srun` command is available on your system but is not used",
        r"lightning\.fabric\.plugins\.environments\.slurm",
    ),
    (
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        r"lightning\.pytorch\.utilities\._pytree",
    ),
)


def stdout_is_terminal() -> bool:
    """True when standard output is an interactive terminal (not a file, pipe or SLURM log)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class ConsoleHandler(logging.StreamHandler):
    """The console handler of Hydra's job logging (``configs/hydra/job_logging``).

    Rich on a terminal; off one, plain lines on stdout that carry the date and are never wrapped.
    A class rather than a factory function: the instantiation allowlist admits trainlab's
    classes, not its functions.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter(PLAIN_FORMAT, PLAIN_DATE))
        self.rich: logging.Handler | None = None
        if stdout_is_terminal():
            from rich.logging import RichHandler

            self.rich = RichHandler(show_path=False, markup=False)

    def emit(self, record: logging.LogRecord) -> None:
        if self.rich is not None:
            self.rich.emit(record)
        else:
            super().emit(record)


class DropMessages(logging.Filter):
    """Drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def route_lightning_logs() -> None:
    """Send Lightning's messages through the run's handlers (console + log file) only once.

    Lightning gives its loggers a stream handler of their own and stops them propagating when it
    is imported before logging is configured: with the run's handlers that printed each line
    twice (``eval``, ``prior``, ``predict``).
    """
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True


def drop_third_party_noise() -> None:
    """Filter the tips, hints and deprecations listed above where they are emitted (idempotent)."""
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(DROPPED_PREFIXES))
    for message, module in DROPPED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)


def configure_console() -> None:
    """Set up what a trainlab command prints; called once a Hydra job's logging is configured."""
    route_lightning_logs()
    drop_third_party_noise()
    if not stdout_is_terminal():
        import rich

        # Rich tables and trees (the config tree, Lightning's test table) at full length
        rich.reconfigure(width=PLAIN_WIDTH)


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03`` / ``4.2 s``: short enough for a progress line."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StepProgress:
    """``<what> i/N`` lines with the time per step and an ETA, for loops of long steps.

    CV folds and search trials, sweep trials, conversion files: each finished step logs one
    line, on a terminal and off one alike (these loops are minutes apart, a bar adds nothing).

    Args:
        what: The name of a step (``fold``, ``trial``, ``file``).
        total: How many steps this loop runs (steps finished by an earlier call excluded).
        logger: Where the lines go (the caller's logger, so its name shows in the log file).
    """

    def __init__(self, what: str, total: int, logger: logging.Logger | None = None) -> None:
        self.what = what
        self.total = max(int(total), 0)
        self.done = 0
        self.logger = logger or log
        self.started = time.monotonic()

    def eta(self) -> float | None:
        """Seconds left at the mean pace so far (None before the first step)."""
        if not self.done:
            return None
        pace = (time.monotonic() - self.started) / self.done
        return pace * max(self.total - self.done, 0)

    def step(self, detail: str = "") -> str:
        """Count one finished step and log its line; returns the line."""
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = self.eta()
        parts = [f"{self.what} {self.done}/{self.total}"]
        if detail:
            parts.append(detail)
        timing = f"{format_duration(elapsed)} elapsed"
        if self.done < self.total and eta is not None:
            timing += f", ETA {format_duration(eta)}"
        parts.append(timing)
        line = " | ".join(parts)
        self.logger.info("%s", line)
        return line


def finished_text(
    run_dir: Any,
    summary_path: Any,
    monitor: str,
    best_epoch: int | None,
    best_score: float | None,
    metrics: dict[str, float],
    per_line: int = 4,
) -> str:
    """The few lines a finished run prints; ``summary.txt`` in the run folder has everything.

    The whole summary on the console was 50 lines of a 60-line budget (``make train``).
    """
    head = "finished"
    if best_score is not None:
        head += f": best {monitor} {best_score:.4f} at epoch {best_epoch}"
    lines = [head]
    tests = [(k, v) for k, v in metrics.items() if k.startswith("test/")]
    for start in range(0, len(tests), per_line):
        chunk = tests[start : start + per_line]
        lines.append("  " + ", ".join(f"{k} {float(v):.4f}" for k, v in chunk))
    lines.append(f"results: {run_dir}")
    lines.append(f"all figures and the baselines: {summary_path}")
    lines.append(f"learning curves: {run_dir}/learning_curves.png | tensorboard --logdir {run_dir}")
    return "\n".join(lines)
