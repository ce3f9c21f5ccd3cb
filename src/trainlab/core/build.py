"""Build the pieces of a run from a composed config: DataModule, model, callbacks, loggers."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from trainlab.core.allowlist import instantiate  # Hydra's, after the allowlist check
from trainlab.errors import ConfigError, TrainlabError

log = logging.getLogger(__name__)


def build_datamodule(data_cfg: DictConfig, loader_defaults: dict[str, Any] | None = None) -> Any:
    """Instantiate ``data`` and fill loader settings left unset from the hardware defaults."""
    from hydra.errors import InstantiationException

    from trainlab.data.contract import DataModuleContract, missing_members

    try:
        datamodule = instantiate(legacy_loader_keys_moved(data_cfg), _convert_="all")
    except InstantiationException as err:  # a DataModule's own message, not Hydra's wrapper
        if isinstance(err.__cause__, TrainlabError):
            raise err.__cause__ from None
        raise
    if isinstance(datamodule, DataModuleContract):
        if loader_defaults:
            settings = datamodule.loader_settings.with_defaults(loader_defaults)
            datamodule.loader_settings = settings
    else:
        log.warning(
            "%s lacks %s of trainlab's DataModule contract (trainlab.data.contract): hardware "
            "loader defaults, reports and baselines are skipped for it",
            type(datamodule).__name__,
            ", ".join(missing_members(datamodule)),
        )
    return datamodule


def legacy_loader_keys_moved(data_cfg: DictConfig) -> DictConfig:
    """``data`` with loader keys of older configs (``data.num_workers``) under ``data.loader``.

    Checkpoints written before the loader settings had their own node carry them flat; a
    value the ``loader`` node already sets wins.
    """
    from trainlab.data.loader_settings import RENAMED_KEYS

    legacy = [old.split(".", 1)[1] for old in RENAMED_KEYS]
    found = [key for key in legacy if key in data_cfg]
    if not found:
        return data_cfg
    moved = data_cfg.copy()
    with open_dict(moved):
        loader = moved.get("loader") or {}
        values = {key: moved.pop(key) for key in found}
        given = {k: v for k, v in values.items() if loader.get(k) is None}
        moved.loader = OmegaConf.merge(loader, given) if loader else given
    return moved


def _accepted(target: Callable[..., Any], candidates: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``candidates`` that ``target`` takes as keyword arguments."""
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    named = {
        name
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {k: v for k, v in candidates.items() if k in named}


def build_model(cfg: DictConfig, spec: dict[str, Any]) -> L.LightningModule:
    """Build ``model.net`` with the data spec it accepts, then the LightningModule around it.

    The same function serves training and rebuilding from a checkpoint, so a model comes back
    from ``checkpoint["trainlab"]`` exactly as it was trained.
    """
    model_cfg = cfg.model
    if "net" not in model_cfg:
        raise ConfigError(f"model ({model_cfg.get('_target_')}) has no `net` entry: add model.net")
    net_partial = instantiate(model_cfg.net, _partial_=True, _convert_="all")
    net_given = set(OmegaConf.to_container(model_cfg.net, resolve=True))
    net_kwargs = {k: v for k, v in _accepted(net_partial.func, spec).items() if k not in net_given}
    net = net_partial(**net_kwargs)
    if cfg.get("privacy"):
        # DP needs per-sample gradients: BatchNorm becomes GroupNorm, here, so that a
        # checkpoint's config rebuilds the architecture it was trained with.
        from trainlab.core.privacy import make_dp_compatible

        net = make_dp_compatible(net)
    model_partial = instantiate(model_cfg, net=None, _partial_=True, _convert_="all")
    model_given = set(OmegaConf.to_container(model_cfg, resolve=True)) - {"net"}
    model_kwargs = {
        k: v for k, v in _accepted(model_partial.func, spec).items() if k not in model_given
    }
    return model_partial(net=net, **model_kwargs)


def build_named(group_cfg: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a named group (callbacks, logger) that has a ``_target_``.

    Entries set to null on the command line (``~callbacks.early_stopping`` or
    ``callbacks.early_stopping=null``) are skipped, so each one can be switched off by name.
    """
    if not group_cfg:
        return []
    items = []
    for name, entry in group_cfg.items():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            try:
                items.append(instantiate(entry, _convert_="all"))
            except Exception as err:  # name the entry: Hydra's own message hides which one
                raise ConfigError(f"cannot build `{name}` ({entry._target_}): {err}") from err
    return items
