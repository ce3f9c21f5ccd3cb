"""Backbones from optional libraries: ``timm/<name>`` and ``torchvision/<name>``.

Both are built without downloading anything (``pretrained=False`` / ``weights=None``); local
weights go through the same loader as the built-in backbones. Neither library is a core
dependency: they come with the ``vision`` extra (``pip install trainlab[vision]``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from torch import nn

from trainlab.errors import ConfigError

_CPU_NOTE = (
    "Note: the default timm/torchvision wheels pull CUDA builds that break `import lightning` on "
    "CPU-only machines; there, install the CPU wheels pinned to the installed torch "
    "(pip install -c requirements/constraints.txt torchvision timm "
    "--index-url https://download.pytorch.org/whl/cpu) or use a built-in backbone."
)


def import_optional(library: str, name: str) -> ModuleType:
    """Import ``timm`` or ``torchvision`` for ``<library>/<name>``, or explain how to get it.

    Raises:
        ConfigError: The library is not installed or fails to import.
    """
    try:
        return importlib.import_module(library)
    except (ImportError, OSError, RuntimeError) as err:
        raise ConfigError(
            f"model.net.name={library}/{name} needs the optional package {library!r}, which "
            f"cannot be imported ({type(err).__name__}: {err}). Install it with "
            f"`pip install trainlab[vision]`, or pick a built-in backbone "
            f"(trainlab.nets.backbones.list_backbones()). {_CPU_NOTE}"
        ) from err


def first_module_path(model: nn.Module, kind: type[nn.Module], last: bool = False) -> str:
    """Dotted path of the first (or last) submodule of type ``kind``."""
    paths = [path for path, m in model.named_modules() if isinstance(m, kind)]
    if not paths:
        raise ConfigError(f"{type(model).__name__} has no {kind.__name__} layer")
    return paths[-1] if last else paths[0]


def create_timm(
    name: str, num_classes: int, in_channels: int, **kwargs
) -> tuple[nn.Module, str, str]:
    """Build ``timm.create_model(name)`` with no download.

    Returns:
        The model, its first conv path and its classifier path.
    """
    timm = import_optional("timm", name)
    model = timm.create_model(
        name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **kwargs
    )
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    first_conv = cfg.get("first_conv") or first_module_path(model, nn.Conv2d)
    classifier = cfg.get("classifier") or first_module_path(model, nn.Linear, last=True)
    if isinstance(first_conv, list | tuple):
        first_conv = first_conv[0]
    if isinstance(classifier, list | tuple):
        classifier = classifier[0]
    return model, first_conv, classifier


def create_torchvision(
    name: str, num_classes: int, in_channels: int, **kwargs
) -> tuple[nn.Module, str, str]:
    """Build ``torchvision.models.get_model(name, weights=None)``; swap the stem for in_channels.

    Returns:
        The model, its first conv path and its classifier path.
    """
    import_optional("torchvision", name)
    models = importlib.import_module("torchvision.models")
    model = models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    first_conv = first_module_path(model, nn.Conv2d)
    if in_channels != 3:
        old = model.get_submodule(first_conv)
        new = nn.Conv2d(
            in_channels,
            old.out_channels,
            old.kernel_size,
            stride=old.stride,
            padding=old.padding,
            dilation=old.dilation,
            groups=old.groups,
            bias=old.bias is not None,
        )
        parent, _, attr = first_conv.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, new)
    return model, first_conv, first_module_path(model, nn.Linear, last=True)
