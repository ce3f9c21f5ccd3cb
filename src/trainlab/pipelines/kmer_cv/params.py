"""Hyperparameters as `config.key -> value` and their application to a run config."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from trainlab.errors import ConfigError

_WIDTH_KEY = re.compile(r"model\.net\.hidden_dim_(\d+)")


def apply_params(cfg: DictConfig, params: Mapping[str, Any]) -> DictConfig:
    """A copy of `cfg` with each `dotted.key: value` set (new keys allowed).

    Per-layer widths (`model.net.hidden_dim_<i>`) replace `model.net.hidden_dims`.
    """
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(out):
        for key, value in params.items():
            if not isinstance(key, str) or "." not in key:
                raise ConfigError(
                    f"hyperparameter {key!r}: use config paths such as model.optimizer.lr"
                )
            OmegaConf.update(out, key, value, merge=True, force_add=True)
        if any(k.startswith("model.net.hidden_dim_") for k in params):
            out.model.net.hidden_dims = None
    return out


def used_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` without the widths of layers its network does not have.

    A search draws every `model.net.hidden_dim_<i>` whatever `model.net.n_layers` it draws, so
    a 2-layer fold's `hidden_dim_2` is a number no model used. Aggregated over all folds, such
    numbers set the final model's widths: folds with 2, 4 and 2 layers gave a 3-layer final
    model whose third layer (64) came from the two folds without one, not the 128 of the fold
    that had it.
    """
    n_layers = params.get("model.net.n_layers")
    if n_layers is None:
        return dict(params)
    return {
        key: value
        for key, value in params.items()
        if not ((found := _WIDTH_KEY.fullmatch(key)) and int(found.group(1)) >= int(n_layers))
    }


def load_hyperparams(value: Any) -> dict[str, Any]:
    """`hyperparams=`: a JSON file path, a JSON object string, or a mapping."""
    if value is None:
        return {}
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return dict(value)
    text = str(value)
    try:
        if Path(text).is_file():
            text = Path(text).read_text(encoding="utf-8")
        loaded = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:  # e.g. a checkpoint given here
        raise ConfigError(
            f"hyperparams={value!r} is neither a JSON file nor a JSON object ({err}). Give e.g. "
            "hyperparams=<run>/cv_results/best_hyperparameters.json"
        ) from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"hyperparams={value!r} must be a JSON object of config key -> value.")
    return loaded


def describe_params(params: Mapping[str, Any]) -> str:
    """One short line for a progress log: last key parts, widths up to `n_layers`, 3 digits.

    >>> describe_params({"model.net.n_layers": 2, "model.net.hidden_dim_0": 256,
    ...                  "model.net.hidden_dim_1": 128, "model.net.hidden_dim_2": 64,
    ...                  "model.optimizer.lr": 0.000812, "model.task_weights.material": 1.5})
    'n_layers=2 hidden=[256, 128] lr=0.000812 w.material=1.5'
    """
    n_layers = params.get("model.net.n_layers")
    widths = {
        int(key.rsplit("_", 1)[1]): value
        for key, value in params.items()
        if key.startswith("model.net.hidden_dim_")
    }
    parts = []
    for key, value in params.items():
        if key.startswith("model.net.hidden_dim_"):
            if int(key.rsplit("_", 1)[1]) == min(widths):
                used = sorted(i for i in widths if n_layers is None or i < int(n_layers))
                parts.append(f"hidden={[widths[i] for i in used]}")
            continue
        name = key.rsplit(".", 1)[-1]
        if key.startswith("model.task_weights."):
            name = f"w.{name}"
        shown = f"{value:.3g}" if isinstance(value, float) else value
        parts.append(f"{name}={shown}")
    return " ".join(parts)
