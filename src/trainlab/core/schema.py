"""Check a composed config before any work: unknown keys, wrong types, missing values.

Runs before torch and Lightning are imported, so a typo answers at once. Top-level keys are
checked against a table per entry point; every node with a ``_target_`` inside trainlab is
checked against the parameters of its class or function, read from source.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainlab.core.signatures import read_signature
from trainlab.errors import ConfigError

HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
ANY = object()

# Lightning 2.x Trainer arguments; the trainer node is checked against this list.
TRAINER_ARGS = {
    "accelerator": "str",
    "strategy": "str",
    "devices": "int | str | list",
    "num_nodes": "int",
    "precision": "int | str | None",
    "logger": "bool | None",
    "callbacks": "list | None",
    "fast_dev_run": "int | bool",
    "max_epochs": "int | None",
    "min_epochs": "int | None",
    "max_steps": "int",
    "min_steps": "int | None",
    "max_time": "str | dict | None",
    "limit_train_batches": "int | float | None",
    "limit_val_batches": "int | float | None",
    "limit_test_batches": "int | float | None",
    "limit_predict_batches": "int | float | None",
    "overfit_batches": "int | float",
    "val_check_interval": "int | float | None",
    "check_val_every_n_epoch": "int | None",
    "num_sanity_val_steps": "int | None",
    "log_every_n_steps": "int | None",
    "enable_checkpointing": "bool | None",
    "enable_progress_bar": "bool | None",
    "enable_model_summary": "bool | None",
    "accumulate_grad_batches": "int",
    "gradient_clip_val": "int | float | None",
    "gradient_clip_algorithm": "str | None",
    "deterministic": "bool | str | None",
    "benchmark": "bool | None",
    "inference_mode": "bool",
    "use_distributed_sampler": "bool",
    "profiler": "str | None",
    "detect_anomaly": "bool",
    "barebones": "bool",
    "plugins": "ANY",
    "sync_batchnorm": "bool",
    "reload_dataloaders_every_n_epochs": "int",
    "default_root_dir": "str | None",
    "model_registry": "str | None",
}


@dataclass
class Schema:
    """Allowed top-level keys of one entry point with their annotation text."""

    keys: dict[str, str]
    required: set[str] = field(default_factory=set)
    target_groups: tuple[str, ...] = ("data", "model")
    named_groups: tuple[str, ...] = ("callbacks", "logger")


# top-level keys every entry point that runs training shares
RUN_KEYS = {
    "task_name": "str",
    "experiment_name": "str | None",
    "tags": "list | None",
    "seed": "int",
    "deterministic": "bool",
    "cudnn_benchmark": "bool",
    "run_name": "str | None",
    "resume": "str | None",
}
COMPONENT_KEYS = {
    "data": "dict",
    "model": "dict",
    "trainer": "dict",
    "callbacks": "dict | None",
    "logger": "dict | None",
    "paths": "dict",
    "extras": "dict",
    "baselines": "dict | None",
}


def validate(cfg: DictConfig, schema: Schema) -> None:
    """Raise ConfigError naming the key, the value and the fix for the first problem found."""
    problems = list(_problems(cfg, schema))
    if not problems:  # values are checked once keys and types are right
        from trainlab.core.config_checks import value_problems

        problems = list(value_problems(cfg))
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _problems(cfg: DictConfig, schema: Schema) -> Iterable[str]:
    yield from _missing_values(cfg, "")
    for key in cfg:
        if key in ("hydra", "allowed_targets"):  # allowed_targets: checked by core.allowlist
            continue
        if key not in schema.keys:
            yield _unknown(key, key, schema.keys)
            continue
        value = _get(cfg, key)
        if value is _UNRESOLVED:
            yield f"`{key}`: {_resolve_error(cfg, key)}"
            continue
        if not _type_ok(value, schema.keys[key]):
            yield _wrong_type(key, value, schema.keys[key])
    for key in schema.required:
        if key not in cfg or cfg.get(key) is None:
            yield f"`{key}` is required: set it on the command line, e.g. `{key}=...`"
    for group in schema.target_groups:
        node = cfg.get(group)
        if isinstance(node, DictConfig):
            yield from _check_targets(node, group)
    for group in schema.named_groups:
        node = cfg.get(group)
        if isinstance(node, DictConfig):
            for name in node:
                entry = node.get(name)
                if isinstance(entry, DictConfig):
                    yield from _check_targets(entry, f"{group}.{name}")
    trainer = cfg.get("trainer")
    if isinstance(trainer, DictConfig):
        yield from _check_trainer(trainer)


def _check_trainer(trainer: DictConfig) -> Iterable[str]:
    for key in trainer:
        if key in HYDRA_KEYS:
            continue
        if key not in TRAINER_ARGS:
            yield _unknown(f"trainer.{key}", key, TRAINER_ARGS)
            continue
        value = _get(trainer, key)
        if value is not _UNRESOLVED and not _type_ok(value, TRAINER_ARGS[key]):
            yield _wrong_type(f"trainer.{key}", value, TRAINER_ARGS[key])


def _check_targets(node: DictConfig, path: str) -> Iterable[str]:
    target = node.get("_target_") if "_target_" in node else None
    signature = read_signature(str(target)) if isinstance(target, str) else None
    for key in node:
        full = f"{path}.{key}"
        if key in HYDRA_KEYS:
            continue
        value = _get(node, key)
        if signature is not None:
            param = signature.params.get(str(key))
            if param is None and not signature.var_keyword:
                yield _unknown(full, key, signature.params, where=f"{target}")
                continue
            if (
                param is not None
                and param.annotation
                and value is not _UNRESOLVED
                and not isinstance(value, DictConfig)
                and not _type_ok(value, param.annotation)
            ):
                yield _wrong_type(full, value, param.annotation)
        if isinstance(value, DictConfig):
            yield from _check_targets(value, full)


def _missing_values(node: Any, path: str) -> Iterable[str]:
    if isinstance(node, DictConfig):
        for key in node:
            full = f"{path}.{key}" if path else str(key)
            if key == "hydra" and not path:
                continue
            if OmegaConf.is_missing(node, key):
                yield f"`{full}` has no value (???): set it, e.g. `{full}=...` on the command line"
            else:
                child = node._get_node(key)
                if isinstance(child, DictConfig | ListConfig):
                    yield from _missing_values(child, full)


_UNRESOLVED = object()


def _get(node: DictConfig, key: Any) -> Any:
    try:
        return node.get(key)
    except OmegaConfBaseException:
        return _UNRESOLVED


def _resolve_error(node: DictConfig, key: Any) -> str:
    try:
        node.get(key)
    except OmegaConfBaseException as err:
        return f"cannot be resolved ({str(err).splitlines()[0]}); fix the interpolation"
    return "cannot be resolved"


def _unknown(full: str, key: Any, known: Mapping[str, Any], where: str | None = None) -> str:
    from trainlab.data.loader_settings import RENAMED_KEYS

    if full in RENAMED_KEYS:
        return f"`{full}` is now `{RENAMED_KEYS[full]}`: move it there"
    close = difflib.get_close_matches(str(key), list(known), n=3)
    hint = f" did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    place = f" (not a parameter of {where})" if where else ""
    if where or full.startswith("trainer."):
        add = ""
    elif "." not in full:
        # added with +key=...: nothing reads a top-level key the entry point does not know
        add = " Nothing reads it: remove it, or set the option inside its group (`model.x=...`)."
    else:
        add = f" To add it on purpose: `+{full}=...`."
    return f"unknown key `{full}`{place}.{hint}{add}"


def _wrong_type(full: str, value: Any, annotation: str) -> str:
    shown = OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value
    return (
        f"`{full}={shown!r}` has type {type(shown).__name__}, expected {annotation}: "
        f"set `{full}` to a value of that type"
    )


_SIMPLE = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "None": (type(None),),
    "list": (list, ListConfig, tuple),
    "tuple": (list, ListConfig, tuple),
    "Sequence": (list, ListConfig, tuple),
    "dict": (dict, DictConfig),
    "Mapping": (dict, DictConfig),
    "Path": (str,),
}


def _type_ok(value: Any, annotation: str) -> bool:
    """True when ``value`` fits ``annotation``; unknown annotations accept anything."""
    if annotation in ("ANY", "Any", ""):
        return True
    annotation = re.sub(r"Optional\[(.*)\]", r"\1 | None", annotation)
    accepted: list[type] = []
    for part in (p.strip() for p in annotation.split("|")):
        base = re.split(r"[\[.]", part.replace("'", "").replace('"', ""))[0]
        base = {"Literal": "str"}.get(base, base)
        if base not in _SIMPLE:
            return True
        accepted.extend(_SIMPLE[base])
    if isinstance(value, bool) and bool not in accepted:
        return False
    if isinstance(value, str) and str not in accepted and "${" in value:
        return True
    return isinstance(value, tuple(accepted))
