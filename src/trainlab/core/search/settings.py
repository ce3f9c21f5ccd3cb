"""The fixed settings a study was made with, and the check that a resume keeps them.

Trials are only comparable when everything that is not searched stays the same: a sweep
resumed with `trainer.max_epochs=2` after trials that trained one epoch would rank the new
trials against the old ones. A study stores its fixed settings (experiment and every override
that is not searched) in a user attribute; a resume with other settings is refused, listing
each changed key old -> new, unless the change is allowed, which is recorded in the study.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trainlab.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    from hydra.core.override_parser.types import Override

SETTINGS_ATTR = "trainlab_fixed_settings"
#: Prefix of the searched parameters' entries in the recorded settings (their distributions).
SPACE_PREFIX = "hydra.sweeper.params."
CHANGES_ATTR = "trainlab_settings_changes"
NOT_SET = "(not set)"
DELETED = "(deleted)"
# Overrides that change where or how jobs run and what they print, not what a trial computes.
NEUTRAL = ("hydra", "launcher", "extras", "logger", "trainlab_trial", "run_name")


def is_neutral(key: str) -> bool:
    """Whether an override of `key` leaves the trials' results unchanged."""
    root = key.lstrip("+~").split("@", 1)[0].split("/", 1)[0].split(".", 1)[0]
    return root in NEUTRAL


def override_settings(overrides: Iterable[Override], searched: Iterable[str]) -> dict[str, str]:
    """key -> value text of every override that is neither searched nor neutral."""
    searched = set(searched)
    settings = {}
    for override in overrides:
        key = override.key_or_group
        if override.package:
            key = f"{key}@{override.package}"
        if key in searched or is_neutral(key):
            continue
        if override.is_delete():
            settings[key] = DELETED
        else:
            settings[key] = override.get_value_element_as_str()
    return settings


def space_settings(distributions: Mapping[str, Any]) -> dict[str, str]:
    """`hydra.sweeper.params.<name>` -> the distribution searched, for the settings record.

    A resume over another space reported a best trial outside it: x searched in (-5, 5), then
    resumed with interval(3, 4), named trial 1 (x=2.23) the best of the search asked for.
    """
    return {f"{SPACE_PREFIX}{name}": repr(dist) for name, dist in distributions.items()}


def flatten_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested config values -> dotted key -> JSON-able leaf, for a readable old -> new list."""
    from trainlab.core.best_config import flatten

    return flatten(values, skip_private=False)


def changed_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """key -> [old, new] for every key whose value differs (a missing key is `(not set)`)."""
    keys = list(dict.fromkeys([*old, *new]))
    return {
        key: [old.get(key, NOT_SET), new.get(key, NOT_SET)]
        for key in keys
        if old.get(key, NOT_SET) != new.get(key, NOT_SET)
    }


def describe_changes(changes: Mapping[str, list[Any]]) -> str:
    """One indented line per changed key: `key: old -> new`."""
    return "\n".join(f"  {key}: {old} -> {new}" for key, (old, new) in changes.items())


def check_settings(
    stored: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    allow: bool,
    where: str,
    allow_key: str,
    new_search: str = "another run_name or study_name",
) -> dict[str, list[Any]]:
    """The changes from `stored` to `current`; refused unless `allow`.

    Args:
        stored: the settings recorded when the search began (None: nothing recorded).
        current: this run's settings.
        allow: accept changes (the caller records them).
        where: the study or folder, for the message.
        allow_key: the config key that allows changes, for the message.
        new_search: how to start a new search instead, for the message.

    Raises:
        ConfigError: the settings changed and `allow` is false.
    """
    if stored is None:
        return {}
    changes = changed_settings(stored, current)
    if changes and not allow:
        raise ConfigError(
            f"{where} was made with other fixed settings; trials made with different settings "
            f"are not comparable. Changed (old -> new):\n{describe_changes(changes)}\n"
            f"Fix: resume with the old settings, start a new search ({new_search}), or accept "
            f"the change with {allow_key}=true (recorded)."
        )
    return changes


def check_study_settings(
    study: optuna.Study, current: Mapping[str, Any], allow: bool, allow_key: str
) -> dict[str, list[Any]]:
    """`check_settings` against the study's record; records new settings and allowed changes."""
    attrs = study.user_attrs
    stored = attrs.get(SETTINGS_ATTR)
    if stored is not None and not any(k.startswith(SPACE_PREFIX) for k in stored):
        # recorded before the search space was: compare what it holds, record the space now
        stored = {**stored, **{k: v for k, v in current.items() if k.startswith(SPACE_PREFIX)}}
    changes = check_settings(stored, current, allow, f"study {study.study_name!r}", allow_key)
    if changes:
        history = list(attrs.get(CHANGES_ATTR) or [])
        history.append(
            {
                "before_trial": len(study.get_trials(deepcopy=False)),
                "changes": changes,
                "allowed_by": f"{allow_key}=true",
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
        study.set_user_attr(CHANGES_ATTR, history)
    study.set_user_attr(SETTINGS_ATTR, dict(current))
    return changes
