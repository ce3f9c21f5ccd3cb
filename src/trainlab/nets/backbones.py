"""``create_backbone``: one factory for every image backbone, in the spirit of timm.

Names:
    * built-in, plain torch, torchvision key names: ``list_backbones()`` (resnet18, resnet34,
      resnet50, mobilenet_v2, efficientnet_b0, small_cnn, compact_resnet);
    * ``timm/<name>`` and ``torchvision/<name>`` when those optional libraries import.

Pretrained weights come only from a local file (``weights=/path/resnet18.pth``): a torchvision
state_dict or a checkpoint holding one. See ``trainlab.nets.weights`` for how a different class
count or channel count is handled.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from pathlib import Path

from torch import nn

from trainlab.errors import ConfigError

# imported for their @register_backbone side effect
from trainlab.nets import compact_resnet, efficientnet, mobilenet, resnet, small_cnn  # noqa: F401
from trainlab.nets.external import create_timm, create_torchvision
from trainlab.nets.registry import get_backbone_entry, list_backbones, register_backbone
from trainlab.nets.weights import load_backbone_weights

__all__ = ["create_backbone", "list_backbones", "register_backbone"]

log = logging.getLogger(__name__)

_EXTERNAL = {"timm": create_timm, "torchvision": create_torchvision}


def create_backbone(
    name: str,
    pretrained: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
    weights: str | Path | None = None,
    **kwargs,
) -> nn.Module:
    """Build a backbone by name, optionally loading local pretrained weights.

    Args:
        name: A registered name (``resnet18``) or ``timm/<name>`` / ``torchvision/<name>``.
        pretrained: Ask for pretrained weights; requires ``weights`` (nothing is downloaded).
        num_classes: Output logits of the classifier head.
        in_channels: Input image channels.
        weights: Local weights file; when given it is loaded (``pretrained`` is implied).
        **kwargs: Options of the chosen architecture (e.g. ``dropout``, ``width_mult``).

    Returns:
        The model, in training mode.

    Raises:
        ConfigError: Unknown name or option, or ``pretrained`` without ``weights``.
        CheckpointError: The weights file is missing or does not fit.
    """
    if pretrained and weights is None:
        raise ConfigError(
            f"model.net.pretrained=true for backbone {name!r} but no weights file was given: "
            "trainlab never downloads weights. Put a local state_dict on disk and pass its path, "
            "e.g. model.net.weights=/path/resnet18.pth (a torchvision .pth works as is), or set "
            "model.net.pretrained=false."
        )
    library, sep, external_name = name.partition("/")
    if sep:
        if library not in _EXTERNAL or not external_name:
            raise ConfigError(
                f"model.net.name={name!r}: the prefix must be one of {sorted(_EXTERNAL)} "
                "followed by a model name, e.g. timm/resnet18."
            )
        model, first_conv, classifier = _EXTERNAL[library](
            external_name, num_classes, in_channels, **kwargs
        )
    else:
        entry = get_backbone_entry(name)
        if entry is None:
            close = difflib.get_close_matches(name, list_backbones(), n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ConfigError(
                f"model.net.name={name!r} is not a registered backbone.{hint} Available: "
                f"{list_backbones()}, or timm/<name> and torchvision/<name> with trainlab[vision]."
            )
        _check_options(name, entry.builder, kwargs)
        model = entry.builder(num_classes=num_classes, in_channels=in_channels, **kwargs)
        first_conv, classifier = entry.first_conv, entry.classifier
    if weights is not None:
        load_backbone_weights(model, weights, first_conv, classifier)
    return model


def _check_options(name: str, builder: object, options: dict) -> None:
    accepted = [
        p for p in inspect.signature(builder).parameters if p not in ("num_classes", "in_channels")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"backbone {name!r} does not take option(s) {unknown} (model.net.*); it accepts "
            f"{accepted}."
        )
