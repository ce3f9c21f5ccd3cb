"""What every Hydra entry point shares: the config folder, resolvers, checks, clean errors."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainlab.cli.config_paths import config_dir, trusted_config_dir, user_config_dir
from trainlab.cli.help import help_text, wants_quick_help
from trainlab.cli.trust import check_before_hydra, check_job_config
from trainlab.core.best_config import apply_best_config
from trainlab.core.config_checks import unknown_override_keys
from trainlab.core.console import configure_console
from trainlab.core.redaction import redact_text
from trainlab.core.run_dir import choose_run_dir, forget_run_dirs
from trainlab.core.schema import Schema, validate
from trainlab.errors import TrainlabError

log = logging.getLogger("trainlab")


def launch_cwd() -> str:
    """Hydra's ``runtime.cwd`` where a job runs; the current folder where none does yet.

    A sweeper resolves ``hydra.sweep.dir`` (and through it ``paths``) before Hydra sets its
    runtime config, where ``${hydra:runtime.cwd}`` cannot resolve.
    """
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.cwd)
    return os.getcwd()


def register_resolvers() -> None:
    """Resolvers used by the config tree (idempotent)."""
    if not OmegaConf.has_resolver("trainlab_run_dir"):
        OmegaConf.register_new_resolver("trainlab_run_dir", choose_run_dir)
    if not OmegaConf.has_resolver("trainlab_cwd"):
        OmegaConf.register_new_resolver("trainlab_cwd", launch_cwd)
    if not OmegaConf.has_resolver("trainlab_basename"):
        # the last component of a path: an experiment named after its data folder
        OmegaConf.register_new_resolver("trainlab_basename", basename)
    if not OmegaConf.has_resolver("trainlab_folder_name"):
        OmegaConf.register_new_resolver("trainlab_folder_name", folder_name)


def basename(path: str | None) -> str:
    """The last component of ``path`` (``folder`` while no path is given yet)."""
    return "folder" if path is None else Path(str(path)).expanduser().resolve().name


def folder_name(name: str | None) -> str | None:
    """``name`` as one folder name: an experiment ``kmer/diana`` names the run ``kmer-diana``.

    run_name must be a single path component (core/resume.py), experiment names have a slash.
    """
    return None if name is None else str(name).strip().replace("/", "-").replace("\\", "-")


def is_multirun() -> bool:
    """True inside a Hydra multirun job (a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def task_overrides() -> list[str]:
    """The command-line overrides of this job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def hydra_choices() -> dict[str, Any]:
    """The config-group choices of this job (``model: text_criteria``, ...)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return dict(HydraConfig.get().runtime.choices)


def apply_extras(cfg: DictConfig) -> None:
    """Optional start-of-run niceties from the ``extras`` node.

    The resolved config is always in the run folder (``config.yaml``); the tree goes to the
    console only with ``extras.print_config=true``: it was 157 of ``make train``'s 262 lines.
    """
    extras = cfg.get("extras") or {}
    if extras.get("ignore_warnings"):
        import warnings

        warnings.filterwarnings("ignore")
    if extras.get("print_config") and not is_multirun():
        print_config_tree(cfg)


def print_config_tree(cfg: DictConfig) -> None:
    """Print the resolved config as a rich tree, one branch per top-level group."""
    from rich import print as rich_print
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("config", guide_style="dim")
    for key in cfg:
        node = cfg.get(key)
        text = OmegaConf.to_yaml(node, resolve=True) if OmegaConf.is_config(node) else str(node)
        text = redact_text(text)  # the console may be a SLURM log file
        tree.add(str(key)).add(Syntax(text, "yaml", theme="ansi_dark"))
    rich_print(tree)


def entry_point(config_name: str, schema: Schema) -> Callable[[Callable[[DictConfig], Any]], Any]:
    """Turn ``task(cfg)`` into a Hydra app that checks the config first and reports errors.

    A TrainlabError in a single run prints its message (no traceback) and exits with status 2;
    inside a sweep it propagates so the sweeper records the failed trial.
    """

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        import hydra

        register_resolvers()

        @functools.wraps(task)
        def run(cfg: DictConfig) -> Any:
            try:
                if "best_config" in cfg:
                    # best values of a search: above the config files, below the command line
                    apply_best_config(cfg, task_overrides(), hydra_choices())
                local = hydra_choices().get("local")
                check_job_config(cfg, task_overrides(), trusted_config_dir(local), local)
                validate(cfg, schema)
                configure_console()
                apply_extras(cfg)
                return task(cfg)
            except TrainlabError as err:
                if is_multirun():
                    raise
                print(f"\nerror: {err}", file=sys.stderr)
                sys.exit(2)

        hydra_app = hydra.main(
            config_path=config_dir(), config_name=config_name, version_base="1.3"
        )(run)

        @functools.wraps(task)
        def app() -> Any:
            # A new invocation chooses a new run folder (tests call several in one process).
            forget_run_dirs()
            try:
                user_config_dir()  # a wrong TRAINLAB_CONFIG_DIR stops here, with its value
                check_before_hydra(config_dir(), config_name, sys.argv[1:])
            except TrainlabError as err:
                print(f"\nerror: {err}", file=sys.stderr)
                sys.exit(2)
            if wants_quick_help(sys.argv[1:]):
                try:
                    text = help_text(config_dir(), config_name, sys.argv[1:])
                except Exception:  # a broken override: Hydra's help reports it its own way
                    return hydra_app()
                print(text)
                return None
            unknown = unknown_override_keys(config_dir(), config_name, sys.argv[1:])
            if unknown:
                print(
                    "\nerror: " + "\n  - ".join(["invalid command line:", *unknown]),
                    file=sys.stderr,
                )
                sys.exit(2)
            try:
                return hydra_app()
            finally:
                forget_run_dirs()  # unlock the run folders this invocation claimed

        return app

    return decorate
