"""Registry of named backbones: ``@register_backbone`` on a builder, ``list_backbones()``.

Each entry records, besides its builder, the state_dict prefixes of its first convolution and of
its classifier head, which is what loading a weights file for another class count or channel
count needs (the same role as timm's ``first_conv``/``classifier`` in ``pretrained_cfg``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

BackboneBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class BackboneEntry:
    """One registered backbone.

    Attributes:
        name: Registry name, e.g. ``resnet18``.
        builder: Callable taking ``num_classes``, ``in_channels`` and model options.
        first_conv: Module path of the first convolution (``conv1``, ``features.0.0``).
        classifier: Module path of the final linear layer (``fc``, ``classifier.1``).
    """

    name: str
    builder: BackboneBuilder
    first_conv: str
    classifier: str


_REGISTRY: dict[str, BackboneEntry] = {}


def register_backbone(
    name: str | None = None, *, first_conv: str, classifier: str
) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Register a builder under ``name`` (default: the function's name).

    Args:
        name: Registry name; must be unique.
        first_conv: Module path of the first convolution.
        classifier: Module path of the final linear layer.

    Returns:
        A decorator that registers the builder and returns it unchanged.
    """

    def decorator(builder: BackboneBuilder) -> BackboneBuilder:
        key = name or builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"backbone {key!r} is registered twice")
        _REGISTRY[key] = BackboneEntry(key, builder, first_conv, classifier)
        return builder

    return decorator


def list_backbones(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered backbones, optionally filtered by a glob pattern."""
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def get_backbone_entry(name: str) -> BackboneEntry | None:
    """The registry entry for ``name``, or None when nothing is registered under it."""
    return _REGISTRY.get(name)
