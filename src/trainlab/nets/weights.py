"""Load a local weights file into a backbone; nothing is ever downloaded.

Accepted files: a torchvision-style state_dict saved with ``torch.save``, or a checkpoint dict
holding one under ``state_dict``, ``model_state_dict``, ``model`` or ``net`` (a Lightning
checkpoint, whose keys carry a prefix such as ``net.``, works too: the prefix is found from the
model's own key names and stripped).

Two mismatches are repaired and logged:

* the classifier head has another shape (e.g. 1000 ImageNet classes in the file, 10 in the
  model): the head stays at its fresh initialisation, everything else is loaded;
* the model's first convolution takes ``in_channels != 3`` while the file's takes RGB: for one
  channel the RGB kernels are summed (a grey image ``g`` seen as ``(g, g, g)`` gives the same
  response); for other counts the RGB kernels are repeated cyclically and scaled by
  ``3 / in_channels`` so activations keep their magnitude.
"""

from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path

import torch
from torch import nn

from trainlab.errors import CheckpointError

log = logging.getLogger(__name__)

_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the tensors of a local weights file.

    Args:
        path: A ``.pth``/``.pt``/``.ckpt`` file written by ``torch.save``.

    Returns:
        A flat mapping of key to tensor, prefixes not yet stripped.

    Raises:
        CheckpointError: The file is missing, unreadable or holds no state_dict.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise CheckpointError(
            f"weights file {str(file)!r} does not exist (model.net.weights). Pass the path of a "
            "local state_dict, e.g. model.net.weights=/path/resnet18.pth; nothing is downloaded."
        )
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise CheckpointError(
            f"cannot read weights file {str(file)!r}: {err}. It must be written by torch.save and "
            "hold only tensors and plain containers; re-save it as "
            "torch.save(model.state_dict(), path)."
        ) from err
    state = _find_state_dict(obj)
    if state is None:
        raise CheckpointError(
            f"weights file {str(file)!r} holds no state_dict: expected a dict of tensors or a dict "
            f"with one under {', '.join(_NESTED_KEYS)}."
        )
    return state


def _find_state_dict(obj: object) -> dict[str, torch.Tensor] | None:
    if not isinstance(obj, dict) or not obj:
        return None
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in _NESTED_KEYS:
        found = _find_state_dict(obj.get(key))
        if found is not None:
            return found
    return None


def _strip_prefix(state: dict[str, torch.Tensor], model_keys: list[str]) -> dict[str, torch.Tensor]:
    """Drop a wrapper prefix (``net.``, ``module.``) found by matching the model's first key."""
    anchor = model_keys[0]
    if anchor in state:
        return state
    prefixes = sorted(k[: -len(anchor)] for k in state if k.endswith("." + anchor))
    if not prefixes:
        return state
    prefix = prefixes[0]
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Turn an RGB conv kernel (out, 3, kh, kw) into one for ``in_channels`` inputs.

    Args:
        weight: Kernel of the file's first convolution.
        in_channels: Input channels of the model.

    Returns:
        A kernel of shape (out, in_channels, kh, kw).
    """
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_channels / weight.shape[1])
    tiled = weight.repeat(1, repeats, 1, 1)[:, :in_channels]
    return tiled * (weight.shape[1] / in_channels)


def load_backbone_weights(
    model: nn.Module, path: str | Path, first_conv: str, classifier: str
) -> list[str]:
    """Load a local weights file into ``model``, adapting head and first conv when needed.

    Args:
        model: The freshly built backbone.
        path: Local weights file.
        first_conv: Module path of the model's first convolution (``conv1``).
        classifier: Module path of the model's final linear layer (``fc``).

    Returns:
        The keys left at their fresh initialisation (the classifier head, or nothing).

    Raises:
        CheckpointError: Keys are missing or unexpected, or shapes differ outside head/first conv.
    """
    own = model.state_dict()
    state = _strip_prefix(read_state_dict(path), list(own))
    conv_key = f"{first_conv}.weight"
    if conv_key in state and conv_key in own and state[conv_key].shape != own[conv_key].shape:
        file_w, want = state[conv_key], own[conv_key]
        if file_w.shape[1] != 3 or file_w.shape[0] != want.shape[0]:
            raise CheckpointError(
                f"first conv {conv_key!r} in {str(path)!r} has shape {tuple(file_w.shape)}, the "
                f"model needs {tuple(want.shape)}; only RGB kernels can be adapted to in_channels."
            )
        state[conv_key] = adapt_first_conv(file_w, want.shape[1])
        log.info(
            "Adapted first conv %r of %s from 3 to %d input channels (%s).",
            conv_key,
            path,
            want.shape[1],
            "sum over RGB" if want.shape[1] == 1 else "RGB repeated, scaled by 3/in_channels",
        )
    head = [k for k in own if k.startswith(classifier + ".")]
    skipped = [k for k in head if k in state and state[k].shape != own[k].shape]
    if skipped:
        file_classes = state[f"{classifier}.weight"].shape[0]
        model_classes = own[f"{classifier}.weight"].shape[0]
        log.info(
            "Classifier head %r not loaded from %s: the file has %d classes, the model %d; "
            "the head keeps its fresh initialisation.",
            classifier,
            path,
            file_classes,
            model_classes,
        )
        state = {k: v for k, v in state.items() if k not in skipped}
    missing = [k for k in own if k not in state and k not in skipped]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"weights file {str(path)!r} does not fit the model: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
            f"wrong shape {wrong[:5]}. Check model.net.name matches the architecture the file "
            "was saved from."
        )
    model.load_state_dict(state, strict=False)
    log.info("Loaded %d tensors from %s.", len(state), path)
    return skipped
