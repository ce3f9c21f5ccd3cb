"""The one allowlist of what a config may instantiate (`_target_`), checked before any import.

Configs come from others: experiment files, best_config files, hyperparameter JSON, the config
embedded in a checkpoint. Hydra instantiates whatever a `_target_` names, and its own blocklist
stops only a few targets (os.system, exec ...), so `builtins.open`, `shutil.copyfile`,
`pathlib.Path.write_text` or `torch.load` would run. Here only named targets pass:

- an exact entry (`torch.optim.AdamW`, `trainlab.nets.backbones.create_backbone`): that name;
- a namespace entry (`trainlab.*`, `torch.nn.*`): CLASSES in that namespace only. The name
  is checked as text first (lower-case modules, then one CapWords class, no `_` parts), and
  again after import: the object must be a class defined under the namespace, so a name that
  reaches through a module attribute (`trainlab.nets.weights.torch.load`,
  `trainlab.io.Path`) is refused. Functions, methods and private names never pass a
  namespace entry: `trainlab.io.atomic_write_text` writes any file, so even trainlab's own
  functions need an exact entry.

A user extends the list in their own config, `allowed_targets: [mylab.*]`, on the command line
or in their git-ignored `configs/local/` file (see `trusted_extension`); never through a
checkpoint, an experiment file, a best_config file or hyperparameter JSON.

Text checks import nothing (start-up time, and a refusal before torch is loaded); the check
after import (`instantiate`) runs where trainlab builds objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainlab.errors import ConfigError

#: The config key holding a user's extra entries.
KEY = "allowed_targets"
TARGET = "_target_"

DEFAULT_ALLOWED: tuple[str, ...] = (
    # trainlab's own classes (nets, models, DataModules, callbacks, loggers) and factories
    "trainlab.*",
    "trainlab.nets.backbones.create_backbone",
    # torch: layers and losses, optimizers and schedulers, samplers
    "torch.nn.*",
    "torch.optim.*",
    "torch.utils.data.BatchSampler",
    "torch.utils.data.RandomSampler",
    "torch.utils.data.SequentialSampler",
    "torch.utils.data.SubsetRandomSampler",
    "torch.utils.data.WeightedRandomSampler",
    # Lightning: the Trainer, callbacks, loggers, strategies, cluster environments, profilers
    "lightning.pytorch.Trainer",
    "lightning.pytorch.callbacks.*",
    "lightning.pytorch.loggers.*",
    "lightning.pytorch.strategies.*",
    "lightning.pytorch.plugins.environments.*",
    "lightning.fabric.plugins.environments.*",  # where the environments above are defined
    "lightning.pytorch.profilers.*",
    "torchmetrics.*",
    # Optuna samplers and pruners (sweeper and k-mer search)
    "optuna.samplers.*",
    "optuna.pruners.*",
    # model and tokenizer classes built from arguments (no `from_pretrained`: it can run
    # code shipped with a model folder when trust_remote_code is set)
    "transformers.BertConfig",
    "transformers.BertModel",
    "transformers.BertTokenizerFast",
    "transformers.PreTrainedTokenizerFast",
    "timm.models.*",
    # Hydra's own sweeper and launcher, and installed Hydra plugins
    "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
    "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
    "hydra_plugins.*",
)

#: `class` / `()` of logging handlers, formatters and filters in hydra.job_logging.
LOGGING_ALLOWED: tuple[str, ...] = (
    "logging.StreamHandler",
    "logging.FileHandler",
    "logging.NullHandler",
    "logging.Formatter",
    "rich.logging.RichHandler",
    "trainlab.*",
)

HOW_TO_ALLOW = (
    "If you trust it, allow it in your own config: `+allowed_targets=[{name}]` on the command "
    "line, or `allowed_targets: [{name}]` in configs/local/default.yaml (git-ignored; a "
    "namespace entry such as `mylab.*` admits the classes under it). Experiment files, "
    "best_config files, hyperparameter JSON and checkpoints cannot extend the list."
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_UNRESOLVED = object()

# The entries of this process's run beyond the defaults, set once per invocation at config
# check (`use_extension`); the checks after import and checkpoint configs read them.
_extension: tuple[str, ...] = ()


def use_extension(entries: Iterable[str]) -> None:
    """Set the user's own entries for this run (from `trusted_extension`)."""
    global _extension
    _extension = tuple(str(e) for e in entries)


def current() -> tuple[str, ...]:
    """The defaults plus the user's entries of this run."""
    return DEFAULT_ALLOWED + _extension


def text_refusal(target: Any, allowed: Sequence[str]) -> str | None:
    """Why `target` is refused by its text alone, or None when an entry admits it."""
    if not isinstance(target, str) or not _NAME.fullmatch(target):
        return "it is not a dotted Python name"
    if target in allowed:
        return None
    for prefix in _namespaces(allowed):
        if target.startswith(prefix + "."):
            parts = target[len(prefix) + 1 :].split(".")
            if any(p.startswith("_") for p in parts):
                return "a namespace entry admits no private names"
            if not parts[-1][:1].isupper() or any(not p[:1].islower() for p in parts[:-1]):
                return (
                    f"`{prefix}.*` admits classes only (lower-case modules, then a CapWords class)"
                )
            return None
    return "no entry admits it"


def object_refusal(target: str, obj: Any, allowed: Sequence[str]) -> str | None:
    """Why the imported `obj` of `target` is refused, or None (exact entries pass)."""
    if target in allowed:
        return None
    import inspect

    for prefix in _namespaces(allowed):
        if target.startswith(prefix + "."):
            module = getattr(obj, "__module__", None) or ""
            where = f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"
            if inspect.isclass(obj) and (
                module == prefix
                or module.startswith(prefix + ".")
                # re-exported from where it is defined, itself an allowed place
                or text_refusal(where, allowed) is None
            ):
                return None
            return f"it resolves to {where}, which is not a class defined under `{prefix}`"
    return "no entry admits it"


def refusal_message(target: Any, where: str, reason: str, source: str = "") -> str:
    """`X` is not an allowed target, where it was found, why, and how to allow it."""
    origin = f" in {source}" if source else ""
    name = target if isinstance(target, str) else repr(target)
    return f"`{name}` is not an allowed target ({where}{origin}: {reason}). " + HOW_TO_ALLOW.format(
        name=name
    )


def find_targets(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every `_target_` in `node`, at any depth, through lists.

    Values are resolved (an interpolation or `oc.decode` can produce a node); a `_target_`
    that cannot be resolved is given as an `object()` sentinel.
    """
    if isinstance(node, DictConfig | Mapping):
        for key in list(node.keys()):
            full = f"{path}.{key}" if path else str(key)
            value = _get(node, key)
            if key == TARGET:
                yield full, value
            elif value is not _UNRESOLVED:
                yield from find_targets(value, full)
    elif isinstance(node, ListConfig | list | tuple):
        for index in range(len(node)):
            value = _get(node, index)
            if value is not _UNRESOLVED:
                yield from find_targets(value, f"{path}[{index}]")


def config_problems(
    cfg: Any,
    allowed: Sequence[str],
    source: str = "",
    path: str = "",
    skip_unresolved: bool = False,
) -> list[str]:
    """A refusal message per `_target_` of `cfg` (at any depth) that is not allowed."""
    problems = []
    for where, target in find_targets(cfg, path):
        if target is _UNRESOLVED:
            if skip_unresolved:  # checked again in the job, where it resolves
                continue
            problems.append(
                f"`{where}` cannot be resolved, so the target it names cannot be checked: "
                "give the target as plain text"
            )
            continue
        reason = text_refusal(target, allowed)
        if reason:
            problems.append(refusal_message(target, where, reason, source))
    return problems


#: Parts of the `hydra` node that Hydra instantiates itself, before trainlab's task runs.
HYDRA_INSTANTIATED = ("callbacks", "sweeper", "launcher")


def hydra_problems(cfg: DictConfig, allowed: Sequence[str]) -> list[str]:
    """Refusals in what Hydra builds from a composed config: callbacks, sweeper, launcher,
    logging handlers. Only those nodes are resolved (others need a running Hydra job)."""
    hydra = _get(cfg, "hydra")
    if not isinstance(hydra, DictConfig):
        return []
    problems = []
    for name in HYDRA_INSTANTIATED:
        node = _get(hydra, name)
        if node is not _UNRESOLVED:
            problems += config_problems(node, allowed, path=f"hydra.{name}")
    custom = _get(hydra, "sweeper")
    custom = _get(custom, "custom_search_space") if isinstance(custom, DictConfig) else None
    if isinstance(custom, str) and custom:  # a function the sweeper calls by name
        reason = text_refusal(custom, allowed)
        if reason:
            where = "hydra.sweeper.custom_search_space"
            problems.append(refusal_message(custom, where, reason))
    for name in ("job_logging", "hydra_logging"):
        node = _get(hydra, name)
        if isinstance(node, DictConfig | Mapping):
            problems += _logging_problems(node, f"hydra.{name}", "")
    return problems


def check_config(cfg: Any, source: str = "") -> None:
    """Raise ConfigError listing every target of `cfg` the current allowlist refuses."""
    problems = config_problems(cfg, current(), source)
    if problems:
        raise ConfigError("\n  - ".join(["refused before any work:", *problems]))


def check_params(params: Mapping[str, Any], source: str) -> None:
    """Hyperparameters as `dotted.key: value`: a `_target_` key or nested node is checked."""
    problems = []
    for key, value in params.items():
        if str(key).rsplit(".", 1)[-1] == TARGET:
            reason = text_refusal(value, current())
            if reason:
                problems.append(refusal_message(value, str(key), reason, source))
        else:
            problems += config_problems({str(key): value}, current(), source)
    if problems:
        raise ConfigError("\n  - ".join(["refused before any work:", *problems]))


def _logging_problems(node: Any, path: str, source: str) -> list[str]:
    problems = []
    for section in ("handlers", "formatters", "filters"):
        entries = _get(node, section)
        if not isinstance(entries, DictConfig | Mapping):
            continue
        for name in list(entries.keys()):
            entry = _get(entries, name)
            if not isinstance(entry, DictConfig | Mapping):
                continue
            for key in ("class", "()"):
                if key in entry:
                    value = _get(entry, key)
                    reason = text_refusal(value, LOGGING_ALLOWED)
                    if reason:
                        where = f"{path}.{section}.{name}.{key}"
                        problems.append(refusal_message(value, where, reason, source))
    return problems


def trusted_extension(
    cfg: DictConfig, overrides: Sequence[str], config_dir: str | Path | None, local: Any
) -> list[str]:
    """The user's `allowed_targets`: from the command line and configs/local/<local>.yaml.

    Raises:
        ConfigError: `allowed_targets` holds an entry from anywhere else (an experiment or
            group file, a best_config file), which may not widen what runs.
    """
    trusted: list[str] = []
    if any(o.split("=", 1)[0].lstrip("+~") == KEY for o in overrides):
        trusted += _entries(cfg.get(KEY), "the command line")
    if config_dir and local:
        path = Path(config_dir) / "local" / f"{local}.yaml"
        if path.is_file():
            import yaml

            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(loaded, Mapping):
                trusted += _entries(loaded.get(KEY), str(path))
    given = _entries(cfg.get(KEY), "the config") if isinstance(cfg, DictConfig) else []
    foreign = [entry for entry in given if entry not in trusted]
    if foreign:
        raise ConfigError(
            f"`{KEY}` holds {foreign}, set by a config file other than your configs/local/ "
            "file (an experiment, group or best_config file): such files may not widen what a "
            f"run may instantiate. If you trust them, give `+{KEY}=[...]` on the command line "
            "or put them in configs/local/default.yaml."
        )
    return list(dict.fromkeys(trusted))


def _entries(value: Any, source: str) -> list[str]:
    if value is None:
        return []
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"`{KEY}` in {source} must be a list of names such as [mylab.*, mylab.make_net], "
            f"got {value!r}"
        )
    bad = [v for v in value if not _NAME.fullmatch(v.removesuffix(".*"))]
    if bad:
        raise ConfigError(f"`{KEY}` in {source}: {bad} are not dotted names (e.g. mylab.*)")
    return list(value)


def _namespaces(allowed: Sequence[str]) -> list[str]:
    return sorted((e[:-2] for e in allowed if e.endswith(".*")), key=len, reverse=True)


def _get(node: Any, key: Any) -> Any:
    try:
        return node[key]
    except (OmegaConfBaseException, KeyError, IndexError, TypeError):
        return _UNRESOLVED


# ------------------------------------------------------------------ after import
def locate(target: str) -> Any:
    """Import `target` the way Hydra does: the longest importable module, then attributes."""
    import importlib

    parts = target.split(".")
    obj = importlib.import_module(parts[0])
    for index, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: index + 1]))
    return obj


def check_imported(cfg: Any, source: str = "") -> None:
    """Check every target of `cfg` by its text and by what it imports to."""
    allowed = current()
    problems = config_problems(cfg, allowed, source)
    if not problems:
        for path, target in find_targets(cfg):
            try:
                obj = locate(target)
            except (ImportError, AttributeError) as err:
                raise ConfigError(f"`{path}`: `{target}` cannot be imported ({err})") from err
            reason = object_refusal(target, obj, allowed)
            if reason:
                problems.append(refusal_message(target, path, reason, source))
    if problems:
        raise ConfigError("\n  - ".join(["refused:", *problems]))


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, after every target in `config` passed the allowlist."""
    from hydra.utils import instantiate as hydra_instantiate

    check_imported(config)
    return hydra_instantiate(config, *args, **kwargs)
