"""A cheaper ``_current_fx_name`` for trainlab's LightningModules.

Lightning sets ``module._current_fx_name`` twice around every hook it calls (about 40 times per
training step), and ``nn.Module.__setattr__`` checks each value against parameters, modules and
buffers first (~1 us per set on the 2-core development CPU). The name is a plain attribute, never
one of those, so it is written straight into the instance. Together with ``core.hook_dispatch``
this took ``benchmarks/overhead.py`` from 1.09-1.11 to 1.03-1.05 (2026-12-01, see
docs/performance.md).
"""

from __future__ import annotations

from typing import Any


class FastHookBookkeeping:
    """Mixin placed before ``L.LightningModule``: writes ``_current_fx_name`` directly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
