"""What an entry point checks before anything from a config is built or submitted.

Two moments:

- before Hydra starts (`check_before_hydra`): Hydra itself instantiates `hydra.callbacks`, the
  sweeper, the launcher and the logging handlers before trainlab's task runs, so the config is
  composed once here (about 0.25 s) and those nodes are checked against the allowlist, and
  the launcher's values for shell control characters;
- in the job (`check_job_config`), after `best_config` was merged: every `_target_` of the
  job's config, at any depth, before torch is imported.

Both take the user's own `allowed_targets` only from the command line and configs/local/.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.cli.config_paths import trusted_config_dir
from trainlab.core import allowlist
from trainlab.core.shell_values import shell_value_problems
from trainlab.errors import ConfigError

# Hydra flags after which the next word is a value, not an override
_FLAGS_WITH_VALUE = ("-cd", "--config-dir", "-cp", "--config-path", "-cn", "--config-name")
LAUNCHER_FLAG_MAPS = ("additional_parameters",)


def check_job_config(cfg: DictConfig, overrides: list[str], config_dir: str, local: Any) -> None:
    """Allowlist check of a job's composed config; sets this run's user entries."""
    allowlist.use_extension(allowlist.trusted_extension(cfg, overrides, config_dir, local))
    allowlist.check_config(cfg)


def check_before_hydra(config_dir: str, config_name: str, argv: list[str]) -> None:
    """Compose the config as Hydra will and check what Hydra builds from it.

    Raises:
        ConfigError: a refused target in hydra.callbacks/sweeper/launcher/logging, an
            untrusted `allowed_targets`, or a launcher value with a control character.
    """
    cfg = _compose(config_dir, config_name, argv)
    if cfg is None:
        return  # Hydra reports a config it cannot compose in its own words
    overrides = _overrides(argv)
    choices = cfg.hydra.runtime.get("choices") or {}
    local = choices.get("local")
    extension = allowlist.trusted_extension(cfg, overrides, trusted_config_dir(local), local)
    allowlist.use_extension(extension)
    problems = allowlist.hydra_problems(cfg, allowlist.current())
    for key in cfg:
        if key != "hydra":  # the job's own targets: refused here before a run folder exists
            node = cfg._get_node(key)
            problems += allowlist.config_problems(
                node, allowlist.current(), path=str(key), skip_unresolved=True
            )
    launcher = cfg.hydra.get("launcher")
    if isinstance(launcher, DictConfig):
        problems += shell_value_problems(launcher, "hydra.launcher", LAUNCHER_FLAG_MAPS)
    if problems:
        raise ConfigError("\n  - ".join(["refused before any work:", *problems]))


def _overrides(argv: list[str]) -> list[str]:
    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in _FLAGS_WITH_VALUE:
            skip = True
            continue
        if not word.startswith("-"):
            words.append(word)
    return words


def _compose(config_dir: str, config_name: str, argv: list[str]) -> DictConfig | None:
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if any(w.split("=", 1)[0] in _FLAGS_WITH_VALUE for w in argv):
        return None  # another config folder or name: only Hydra knows how it composes
    try:
        parsed = OverridesParser.create().parse_overrides(_overrides(argv))
        # a sweep composes each job from the config without its sweep values, as here
        single = [o.input_line for o in parsed if not o.is_sweep_override()]
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            return compose(config_name, overrides=single, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError):
        return None
