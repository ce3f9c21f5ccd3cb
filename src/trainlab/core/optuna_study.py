"""Where a sweep's Optuna study lives and how a job reaches its own trial.

The sweeper (`hydra_plugins.trainlab_sweeper`) and the pruning callback share this module:
the callback runs in the job's process, maybe on another machine, and finds its trial through
the study storage named in the job's config (`trainlab_trial: {storage, study_name, number}`).

A storage spec is a string: an SQLAlchemy URL (`sqlite:////abs/optuna.db`,
`postgresql://...`) or `journal:/abs/path/optuna.journal` for Optuna's journal file, which
is safe on shared (NFS) file systems where SQLite is not.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.errors import ConfigError, TrainlabError

if TYPE_CHECKING:
    import optuna

JOURNAL_PREFIX = "journal:"
SQLITE_PREFIX = "sqlite:///"
#: Study user attribute holding the pruner spec, so every job builds the same pruner.
PRUNER_ATTR = "trainlab_pruner"
#: Trial user attribute the pruning callback sets when it prunes (step of the last report).
PRUNED_ATTR = "trainlab_pruned_at"
#: Config key the sweeper fills in every job's config.
TRIAL_KEY = "trainlab_trial"

PRUNERS = {
    "none": "optuna.pruners.NopPruner",
    "median": "optuna.pruners.MedianPruner",
    "percentile": "optuna.pruners.PercentilePruner",
    "hyperband": "optuna.pruners.HyperbandPruner",
    "successive_halving": "optuna.pruners.SuccessiveHalvingPruner",
    "threshold": "optuna.pruners.ThresholdPruner",
}
STORAGE_FILES = {"sqlite": "optuna.db", "journal": "optuna.journal"}


def default_storage_spec(folder: str | Path, kind: str) -> str:
    """The storage spec of a study kept in `folder` (the sweep folder)."""
    if kind not in STORAGE_FILES:
        raise ConfigError(
            f"hydra.sweeper.storage_kind={kind!r} is unknown. Fix: use one of "
            f"{sorted(STORAGE_FILES)} (journal on shared file systems such as NFS)."
        )
    path = Path(folder).resolve() / STORAGE_FILES[kind]
    return f"{SQLITE_PREFIX}{path}" if kind == "sqlite" else f"{JOURNAL_PREFIX}{path}"


def absolute_storage_spec(spec: str) -> str:
    """Makes a relative SQLite or journal path absolute, so jobs in other folders agree."""
    if spec.startswith(JOURNAL_PREFIX):
        return f"{JOURNAL_PREFIX}{Path(spec[len(JOURNAL_PREFIX) :]).resolve()}"
    if spec.startswith(SQLITE_PREFIX) and not spec.startswith(SQLITE_PREFIX + "/"):
        path = spec[len(SQLITE_PREFIX) :]
        if path and path != ":memory:":
            return f"{SQLITE_PREFIX}{Path(path).resolve()}"
    return spec


def open_storage(spec: str) -> optuna.storages.BaseStorage:
    """Opens the storage a spec names; creates the file (and its folder) when needed."""
    import optuna

    if spec.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend

        path = Path(spec[len(JOURNAL_PREFIX) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if spec.startswith(SQLITE_PREFIX):
        Path(spec[len(SQLITE_PREFIX) :]).parent.mkdir(parents=True, exist_ok=True)
        # Jobs and the sweeper write concurrently: wait for the lock instead of failing.
        return optuna.storages.RDBStorage(spec, engine_kwargs={"connect_args": {"timeout": 300}})
    if "://" not in spec:
        raise ConfigError(
            f"hydra.sweeper.storage={spec!r} is neither a database URL nor 'journal:<path>'. "
            "Fix: e.g. sqlite:////abs/path/optuna.db or journal:/abs/path/optuna.journal."
        )
    return optuna.storages.RDBStorage(spec)


def import_target(path: str, key: str) -> Any:
    """Imports `package.module.Name`; `key` names the config entry for the error message."""
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"{key}._target_={path!r} cannot be imported: {err}.") from err


def spec_from_config(value: Any, key: str, default: str) -> dict[str, Any]:
    """Normalises a sampler/pruner config (null, a name, or a mapping) to a plain dict."""
    if value is None:
        return {"name": default}
    if isinstance(value, str):
        return {"name": value}
    from omegaconf import OmegaConf

    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}={value!r} must be a name or a mapping.")
    spec = dict(value)
    if "name" in spec and "_target_" in spec:
        raise ConfigError(
            f"{key} has both name={spec['name']!r} and _target_={spec['_target_']!r}. "
            "Fix: keep one of them."
        )
    if "name" not in spec and "_target_" not in spec:
        spec["name"] = default
    return spec


def build_from_spec(spec: Mapping[str, Any], registry: Mapping[str, str], key: str) -> Any:
    """Instantiates `spec` ({name: ...} from `registry` or {_target_: ...}, plus arguments)."""
    kwargs = dict(spec)
    target = kwargs.pop("_target_", None)
    name = kwargs.pop("name", None)
    if target is None:
        if name not in registry:
            raise ConfigError(
                f"{key}.name={name!r} is unknown. Fix: one of {sorted(registry)}, "
                "or give _target_ with a class path."
            )
        target = registry[name]
    cls = _allowed_class(target, key)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(
            f"{key}: {err}. {target} takes {inspect.signature(cls)}; fix the arguments."
        ) from err
    except ImportError as err:
        raise ConfigError(
            f"{key}: {target} needs a package that is not installed ({err}). "
            "Fix: pip install it (e.g. `cmaes` for the CMA-ES sampler)."
        ) from err


def _allowed_class(target: str, key: str) -> Any:
    """`import_target` for a sampler or pruner class, which must pass the allowlist: a pruner
    spec is also read back from the study storage, which may sit on a shared file system."""
    from trainlab.core import allowlist

    reason = allowlist.text_refusal(target, allowlist.current())
    cls = None if reason else import_target(target, key)
    reason = reason or allowlist.object_refusal(target, cls, allowlist.current())
    if reason:
        raise ConfigError(allowlist.refusal_message(target, f"{key}._target_", reason))
    return cls


def build_pruner(spec: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """The pruner a spec names; `None` means no pruning."""
    return build_from_spec(spec or {"name": "none"}, PRUNERS, "hydra.sweeper.pruner")


@dataclass(frozen=True)
class TrialRef:
    """Enough to find one trial from any process: storage spec, study name, trial number."""

    storage: str
    study_name: str
    number: int

    @classmethod
    def from_config(cls, node: Any) -> TrialRef | None:
        """Reads `trainlab_trial` from a job config; `None` when the job is not a trial."""
        if node is None:
            return None
        from omegaconf import OmegaConf

        if OmegaConf.is_config(node):
            node = OmegaConf.to_container(node, resolve=True)
        missing = [k for k in ("storage", "study_name", "number") if node.get(k) is None]
        if missing:
            raise ConfigError(
                f"{TRIAL_KEY} lacks {missing} (got {node}). The sweeper fills this key; "
                f"fix: run through hydra/sweeper=trainlab_optuna or drop {TRIAL_KEY}."
            )
        return cls(str(node["storage"]), str(node["study_name"]), int(node["number"]))

    def as_overrides(self) -> list[str]:
        """Hydra overrides that put this reference into a job's config."""
        storage = self.storage.replace("\\", "\\\\").replace("'", "\\'")
        name = self.study_name.replace("\\", "\\\\").replace("'", "\\'")
        return [
            f"++{TRIAL_KEY}.storage='{storage}'",
            f"++{TRIAL_KEY}.study_name='{name}'",
            f"++{TRIAL_KEY}.number={self.number}",
        ]


def load_trial(ref: TrialRef) -> optuna.trial.Trial:
    """The running trial `ref` names, with the sweep's pruner attached to its study."""
    import optuna
    from optuna.trial import TrialState

    storage = open_storage(ref.storage)
    try:
        study_id = storage.get_study_id_from_name(ref.study_name)
    except KeyError as err:
        raise TrainlabError(
            f"{TRIAL_KEY}: no study {ref.study_name!r} in {ref.storage}. "
            "Fix: run this job through the sweeper that created the study."
        ) from err
    pruner = build_pruner(storage.get_study_user_attrs(study_id).get(PRUNER_ATTR))
    study = optuna.load_study(study_name=ref.study_name, storage=storage, pruner=pruner)
    try:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, ref.number)
    except KeyError as err:
        raise TrainlabError(
            f"{TRIAL_KEY}: study {ref.study_name!r} has no trial {ref.number}."
        ) from err
    state = storage.get_trial(trial_id).state
    if state != TrialState.RUNNING:
        raise TrainlabError(
            f"{TRIAL_KEY}: trial {ref.number} of study {ref.study_name!r} is {state.name}, "
            "not RUNNING; a resumed sweep marks trials it finds RUNNING as failed. "
            "Fix: cancel jobs of an interrupted sweep before resuming it."
        )
    return optuna.trial.Trial(study, trial_id)
