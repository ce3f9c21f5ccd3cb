"""Values that reach a shell script (sbatch) or a container command line are data, not shell.

submitit writes each SLURM setting as `#SBATCH --key='value'`: the value is quoted, but a
newline inside it ends the comment line and starts a bare shell line
(`partition='gpu<newline>touch x #'`). So every string bound for a script is refused when it
holds a control character, and every flag name must be a plain word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from trainlab.errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FLAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, bool]]:
    """(path, item, is_key) for every string, key and scalar in `value`."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}", key, True
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value, False


def shell_value_problems(settings: Any, path: str, flag_maps: tuple[str, ...] = ()) -> list[str]:
    """Why values of `settings` cannot go into a script: control characters, odd flag names.

    Args:
        settings: a launcher node (mapping or DictConfig).
        path: its config path, for the messages (`hydra.launcher`).
        flag_maps: keys of `settings` whose keys become `--flag` names (additional_parameters).
    """
    problems = []
    for where, item, is_key in _walk(settings, path):
        text = str(item) if item is not None else ""
        if _CONTROL.search(text):
            kind = "key" if is_key else "value"
            problems.append(
                f"`{where}` {kind} {text!r} holds a control character (newline, tab, escape "
                "...), which would break out of the line it is written on in the job script; "
                "remove it"
            )
    for name in flag_maps:
        flags = settings.get(name) if isinstance(settings, Mapping) else getattr(settings, name)
        for key in flags or {}:
            if not _FLAG.fullmatch(str(key)):
                problems.append(
                    f"`{path}.{name}` key {str(key)!r} is not a flag name (letters, digits, - "
                    "and _): it is written as `#SBATCH --<key>=...`"
                )
    return problems


def check_shell_values(settings: Any, path: str, flag_maps: tuple[str, ...] = ()) -> None:
    """Raise ConfigError naming each value of `settings` that cannot go into a script."""
    problems = shell_value_problems(settings, path, flag_maps)
    if problems:
        raise ConfigError("\n  - ".join(["refused before submitting any job:", *problems]))
