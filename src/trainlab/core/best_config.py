"""`best_config=<path>`: merge the best values of a search into a composed config.

A best config is a YAML file of nested values (`model: {optimizer: {lr: 3e-5}}`), as written
by a search stage (see trainlab.pipelines.staged_search). It is merged after Hydra composed the
config and before the config checks, with this precedence:

    config files  <  best_config  <  command-line overrides

so `best_config=... model.optimizer.lr=1e-4` still trains with 1e-4. Keys starting with `_`
hold metadata (`_search`: where the values came from; `_choices`: config-group choices such as
`model: text_shared`, which cannot be merged as values and must match the composed config).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from trainlab.errors import ConfigError

KEY = "best_config"


def read_best_config(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a best-config YAML file."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"{KEY}={path}: no such file. Give the best_config.yaml of a search stage's sweep "
            "folder, e.g. best_config=logs/train/multiruns/<stamp>/best_config.yaml."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{KEY}={path}: not valid YAML ({err}).") from err
    if not isinstance(data, Mapping):
        raise ConfigError(f"{KEY}={path}: expected a mapping of config values at the top.")
    return dict(data)


def flatten(
    values: Mapping[str, Any], prefix: str = "", skip_private: bool = True
) -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; keys starting with `_` are metadata and skipped, unless
    ``skip_private`` is false (a changed `_target_` is a changed setting)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key)
        if skip_private and key.startswith("_"):
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}.", skip_private))
        else:
            flat[dotted] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = str(dotted).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def override_keys(overrides: Iterable[str]) -> set[str]:
    """The dotted keys that command-line overrides set (`+a.b=1`, `~a`, `a=x` -> a.b, a, a)."""
    keys = set()
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~").strip()
        if key and not key.startswith("hydra."):
            keys.add(key)
    return keys


def apply_best_config(
    cfg: DictConfig, overrides: Iterable[str], choices: Mapping[str, Any] | None = None
) -> list[str]:
    """Merge `cfg.best_config` into `cfg` in place; return the dotted keys it set.

    Args:
        cfg: the composed config (with a `best_config` key; null means nothing to do).
        overrides: this job's command-line overrides; their keys win over the best config.
        choices: the config-group choices Hydra made (to check `_choices`).

    Raises:
        ConfigError: missing/invalid file, a key that the config does not have, or a group
            choice that differs from the composed one.
    """
    path = cfg.get(KEY)
    if not path:
        return []
    values = read_best_config(path)
    explicit = override_keys(overrides)
    for group, wanted in (values.get("_choices") or {}).items():
        if group in explicit or choices is None:
            continue
        if str(choices.get(group)) != str(wanted):
            raise ConfigError(
                f"{KEY}={path} was found with {group}={wanted}, but this run composed "
                f"{group}={choices.get(group)}. Add `{group}={wanted}` to the command line."
            )
    applied = []
    for dotted, value in flatten(values).items():
        if any(dotted == k or dotted.startswith(f"{k}.") for k in explicit):
            continue  # the command line wins
        parent, _, leaf = dotted.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not isinstance(node, DictConfig) or leaf not in node:
            raise ConfigError(
                f"{KEY}={path}: `{dotted}` is not a key of this config. The file belongs to "
                "another experiment, or the config changed; edit the file or remove the key."
            )
        with open_dict(cfg):
            OmegaConf.update(cfg, dotted, value, merge=False)
        applied.append(dotted)
    return applied
