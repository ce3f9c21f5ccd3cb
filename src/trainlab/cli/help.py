"""``trainlab <subcommand> --help``: the config groups and the composed config, quickly.

Hydra's own ``--help`` lists the options of each group by deep-copying its whole config
repository once per group (about 110 copies for ``train``), which takes most of a second. Here
the groups are read from the configs folder and the config is composed once, with the
overrides given, so ``--help`` answers in about half the time.
"""

from __future__ import annotations

import os
from pathlib import Path

HELP_FLAGS = ("--help", "-h")
# flags whose output only Hydra's own help can give
HYDRA_ONLY_FLAGS = ("--resolve", "--hydra-help", "--config-dir", "-cd", "--config-path", "-cp")


def wants_quick_help(argv: list[str]) -> bool:
    """True when ``argv`` asks for ``--help`` and nothing only Hydra's help understands."""
    flags = [arg.split("=", 1)[0] for arg in argv if arg.startswith("-")]
    return any(f in HELP_FLAGS for f in flags) and not any(f in HYDRA_ONLY_FLAGS for f in flags)


def config_groups(config_root: Path) -> dict[str, list[str]]:
    """Group path -> sorted option names, for every folder of YAML files outside ``hydra/``."""
    groups: dict[str, list[str]] = {}
    for path in sorted(config_root.rglob("*.yaml")):
        parts = path.relative_to(config_root).parts
        if len(parts) < 2 or parts[0] == "hydra":
            continue
        groups.setdefault("/".join(parts[:-1]), []).append(path.stem)
    return {group: sorted(options) for group, options in sorted(groups.items())}


def help_text(config_dir: str, config_name: str, argv: list[str]) -> str:
    """The help of one subcommand: usage, config groups, and its config with ``argv`` applied."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    overrides = [arg for arg in argv if not arg.startswith("-")]
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        cfg = compose(config_name, overrides=overrides)
    listed = config_groups(Path(config_dir))
    user = os.environ.get("TRAINLAB_CONFIG_DIR")
    if user and Path(user).expanduser().is_dir():  # the user's folder adds options (Hydra's too)
        for group, options in config_groups(Path(user).expanduser()).items():
            listed[group] = sorted({*listed.get(group, []), *options})
    groups = "\n".join(
        f"{group}: {', '.join(options)}" for group, options in sorted(listed.items())
    )
    return (
        f"trainlab {config_name}: a Hydra app over configs/{config_name}.yaml\n"
        f"usage: trainlab {config_name} [group=option ...] [key=value ...] [-m] "
        "[--cfg job] [--hydra-help]\n\n"
        "== Configuration groups ==\n"
        "Compose your configuration from those groups (group=option)\n\n"
        f"{groups}\n\n\n"
        "== Config ==\n"
        "Override anything in the config (foo.bar=value)\n\n"
        f"{OmegaConf.to_yaml(cfg)}\n\n"
        "Powered by Hydra (https://hydra.cc)\n"
        "Use --hydra-help to view Hydra specific help"
    )
