"""Rebuild a trained model, and its data, from a trainlab checkpoint alone.

Checkpoints come from others (colleagues, downloads, shared file systems), so they are read
with ``weights_only=True``: tensors and plain containers only, never arbitrary unpickling (a
pickle can run any code while it loads). trainlab writes its metadata as plain data
(``plain_data``), so its own checkpoints always load this way; nothing is registered with
``torch.serialization.add_safe_globals`` (that list is process-wide, and would widen every
other library's loads too). There is deliberately no opt-in to a full unpickling: see
docs/security.md. The config a checkpoint carries is checked against this run's allowlist
before anything is built from it.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from trainlab.core import allowlist
from trainlab.core.build import build_datamodule, build_model
from trainlab.errors import CheckpointError

NOT_PLAIN = (
    "{path} holds Python objects that are not plain data ({detail}). Loading them would run "
    "code stored in the file, so trainlab refuses; a checkpoint written by `trainlab train` "
    "never needs it. If the file is one you made yourself with an older trainlab or another "
    "tool and you trust it, convert it once in your own Python session: load it with "
    "torch.load(path, weights_only=False), keep `state_dict` and plain values, and "
    "torch.save them to a new file (docs/security.md, 'Old checkpoints')."
)


@dataclass
class Restored:
    """A model rebuilt from a checkpoint, with the config and data spec it was trained with."""

    model: Any
    config: DictConfig
    spec: dict[str, Any]
    path: Path
    seen_rows: dict[str, Any] | None = None  # core.seen_rows.record of the training run


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file on the CPU, with a clear error when it is not usable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"ckpt_path={path} does not exist: give a run's checkpoints/best.ckpt or last.ckpt"
        )
    checkpoint = load_weights_only(path)
    if not isinstance(checkpoint, dict) or "trainlab" not in checkpoint:
        raise CheckpointError(
            f"{path} carries no trainlab metadata (config and data spec): it was not written by "
            f"`trainlab train`; retrain with trainlab or load it by hand"
        )
    meta = checkpoint["trainlab"]
    missing = ["config", "spec"]
    if isinstance(meta, dict):
        missing = [key for key in missing if not isinstance(meta.get(key), dict)]
    if missing:
        # before: a KeyError or TypeError traceback from deep inside restore_model
        raise CheckpointError(
            f"{path}: its trainlab metadata lacks {' and '.join(missing)} "
            f"(a mapping each): the file was edited or cut short; use the checkpoint as "
            f"`trainlab train` wrote it"
        )
    return checkpoint


def load_weights_only(path: str | Path, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)`` with a message that says why a file is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        detail = f"it calls {found.group(1)}" if found else str(err).splitlines()[0][:200]
        raise CheckpointError(NOT_PLAIN.format(path=path, detail=detail)) from err
    except Exception as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err


def check_embedded_config(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint whose embedded config names a target this run does not allow."""
    config = (checkpoint.get("trainlab") or {}).get("config") if checkpoint else None
    if isinstance(config, dict):
        refuse_interpolations(config, path)
        config = {k: v for k, v in config.items() if k != allowlist.KEY}
        allowlist.check_config(config, source=f"the config embedded in checkpoint {path}")


def refuse_interpolations(config: Any, path: str | Path, where: str = "") -> None:
    """Raise when a string of a checkpoint's embedded config holds ``${...}``.

    trainlab stores the config resolved, so it has no interpolations. One planted in a file
    would run when the config is read: ``${trainlab_run_dir:/any/folder}`` created and locked
    that folder during `trainlab eval` (seen before this check), ``${oc.env:...}`` copies an
    environment variable (a token) into the rebuilt config.
    """
    if isinstance(config, dict):
        for key, value in config.items():
            refuse_interpolations(value, path, f"{where}.{key}" if where else str(key))
    elif isinstance(config, list | tuple):
        for index, value in enumerate(config):
            refuse_interpolations(value, path, f"{where}[{index}]")
    elif isinstance(config, str) and "${" in config:
        raise CheckpointError(
            f"{path}: the embedded config holds an interpolation at `{where}` ({config[:80]!r}). "
            "trainlab writes checkpoint configs resolved, so this file was edited by hand; an "
            "interpolation would run a resolver while the config loads, so trainlab refuses. "
            "Use a checkpoint written by `trainlab train`"
        )


def plain_data(value: Any) -> Any:
    """``value`` as containers, strings, numbers, bools and None only (what weights_only loads).

    numpy scalars and arrays, Paths, dataclasses and OmegaConf nodes are converted; anything
    else becomes its text.
    """
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, str):  # numpy.str_ and other subclasses pickle as their class
        return str(value)
    if isinstance(value, dict):
        return {plain_data(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain_data(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain_data(dataclasses.asdict(value))
    if hasattr(value, "tolist"):  # numpy scalars and arrays, tensors
        return plain_data(value.tolist())
    if isinstance(value, int):  # IntEnum and other subclasses pickle as their class
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def restore_model(
    path: str | Path,
    data_overrides: DictConfig | None = None,
    model_overrides: DictConfig | None = None,
    strict: bool = True,
) -> Restored:
    """The LightningModule of a checkpoint with its trained weights, in eval mode.

    The checkpoint's config (with ``data_overrides`` and ``model_overrides`` merged) must pass
    this run's allowlist; its own ``allowed_targets``, if any, is ignored. The model is built
    by ``build_model``, the builder training uses.
    """
    checkpoint = read_checkpoint(path)
    refuse_interpolations(checkpoint["trainlab"]["config"], path)
    plain = dict(checkpoint["trainlab"]["config"])
    plain.pop(allowlist.KEY, None)
    config = OmegaConf.create(plain)
    if data_overrides:
        config.data = OmegaConf.merge(config.data, data_overrides)
    if model_overrides:
        config.model = OmegaConf.merge(config.model, model_overrides)
    allowlist.check_config(config, source=f"the config embedded in checkpoint {path}")
    spec = checkpoint["trainlab"]["spec"]
    model = build_model(config, spec)
    load_weights(model, checkpoint.get("state_dict"), path, strict)
    model.on_load_checkpoint(checkpoint)  # Lightning's hook, as its own loader calls it
    model.eval()
    return Restored(model, config, spec, Path(path), checkpoint["trainlab"].get("seen_rows"))


def load_weights(model: Any, state: Any, path: str | Path, strict: bool = True) -> None:
    """``model.load_state_dict(state)``, refusing weights that are not finite or do not fit.

    Before: a checkpoint with NaN weights was evaluated without a word (test/acc 0.1000 and
    test/loss 0.0, written to metrics.json) until a report step failed with sklearn's
    "Input contains NaN"; weights of the wrong shape ended in torch's traceback.
    """
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path} has no `state_dict` (the model's weights): use a checkpoint written by "
            "`trainlab train` (checkpoints/best.ckpt or last.ckpt)"
        )
    # parameters and normalisation statistics only: other buffers may hold NaN on purpose
    # (BinaryPUClassifier's priors_by_polarity: NaN where a polarity has no prior)
    checked = {name for name, _ in model.named_parameters()}
    checked |= {n for n, _ in model.named_buffers() if n.endswith(("running_mean", "running_var"))}
    broken = [
        name
        for name, tensor in state.items()
        if name in checked
        and torch.is_tensor(tensor)
        and tensor.is_floating_point()
        and not tensor.isfinite().all()
    ]
    if broken:
        shown = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
        raise CheckpointError(
            f"{path}: {len(broken)} weight tensor(s) hold NaN or inf ({shown}), so every output "
            "and figure of this model would be meaningless. Its training diverged or the file "
            "was damaged: use an earlier checkpoint, or retrain (e.g. with a lower learning rate)"
        )
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        detail = "; ".join(lines[:3])[:600]
        raise CheckpointError(
            f"{path}: its weights do not fit the model its own config builds ({detail}). The "
            "file was edited, or its config and weights come from different runs: use the "
            "checkpoint as `trainlab train` wrote it"
        ) from err


def load_module(
    cls: type,
    path: str | Path,
    map_location: Any = None,
    hparams_file: str | Path | None = None,
    strict: bool | None = None,
    weights_only: bool | None = None,
    **overrides: Any,
) -> Any:
    """``cls.load_from_checkpoint(path)`` for trainlab's LightningModules.

    Lightning's own loader calls ``cls(**checkpoint["hyper_parameters"])``, which cannot
    rebuild the backbone (a module built from ``model.net``) and would unpickle whatever the
    hyperparameters hold. This rebuilds through ``restore_model`` instead: a weights_only load,
    the allowlist check of the embedded config, and the builder training uses. Keyword
    arguments override entries of the checkpoint's ``model`` config, as Lightning's override
    hyperparameters.
    """
    if weights_only is False:
        raise CheckpointError(
            f"{cls.__name__}.load_from_checkpoint({path!r}, weights_only=False): trainlab "
            "checkpoints always load with weights_only=True (docs/security.md); drop the argument"
        )
    if hparams_file is not None:
        raise CheckpointError(
            f"{cls.__name__}.load_from_checkpoint(hparams_file={hparams_file!r}): a trainlab "
            "checkpoint carries its own config; drop hparams_file and pass the model settings "
            "to change as keyword arguments (e.g. label_smoothing=0.0)"
        )
    if map_location is not None and not isinstance(map_location, str | torch.device | int):
        raise CheckpointError(
            f"map_location={map_location!r}: trainlab checkpoints load on the CPU and move to "
            "one device; give a device such as 'cuda:0' or torch.device('cpu')"
        )
    restored = restore_model(
        path, model_overrides=_model_overrides(cls, overrides), strict=strict is not False
    )
    model = restored.model
    if not isinstance(model, cls):
        kind = type(model)
        raise CheckpointError(
            f"{path} holds a {kind.__name__} (model._target_="
            f"{restored.config.model.get('_target_')}), not a {cls.__name__}: load it with "
            f"{kind.__module__}.{kind.__name__}.load_from_checkpoint(path) or "
            "trainlab.load_checkpoint(path)"
        )
    if map_location is not None:
        model.to(map_location)
    return model


def _model_overrides(cls: type, overrides: dict[str, Any]) -> DictConfig | None:
    """Keyword overrides as a config node; only plain values fit (the net is rebuilt)."""
    if not overrides:
        return None
    try:
        return OmegaConf.create(overrides)
    except Exception as err:
        raise CheckpointError(
            f"{cls.__name__}.load_from_checkpoint({', '.join(f'{k}=...' for k in overrides)}): "
            f"overrides must be plain config values ({err}); the net and everything else are "
            "rebuilt from the checkpoint's config, so objects such as modules are not passed"
        ) from err


def restore_datamodule(restored: Restored, loader_defaults: dict[str, Any] | None = None) -> Any:
    """The checkpoint's DataModule, set up so its class order matches the trained model."""
    datamodule = build_datamodule(restored.config.data, loader_defaults)
    if hasattr(datamodule, "use_trained_spec"):  # e.g. image size and normalisation
        datamodule.use_trained_spec(restored.spec)
    return datamodule
