"""DataLoader settings shared by every DataModule: one config node, ``data.loader``.

``configs/data/loader/default.yaml`` is composed into every data config, so the four
DataModules read the same five keys and turn them into DataLoader arguments in one place
(``LoaderSettings.dataloader_kwargs``). A value left as None is chosen from the hardware by
the core (``trainlab.core.hardware.loader_defaults``) before any loader is made.

No torch import here: the config schema reads this module before torch is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainlab.errors import ConfigError

WHERE = "data.loader"
START_METHODS = ("fork", "spawn", "forkserver")
# data.<old key> before the loader settings had their own node (checkpoints written before
# then still carry them; trainlab.core.build moves them into data.loader)
RENAMED_KEYS = {
    f"data.{name}": f"{WHERE}.{name}"
    for name in (
        "num_workers",
        "pin_memory",
        "persistent_workers",
        "prefetch_factor",
        "multiprocessing_context",
    )
}


@dataclass(frozen=True)
class LoaderSettings:
    """How DataLoaders load batches; None = chosen from the hardware (or the DataModule).

    Args:
        num_workers: worker processes (0 loads in the main process).
        pin_memory: page-locked host memory, for faster copies to a GPU.
        persistent_workers: keep workers alive between epochs (only with workers).
        prefetch_factor: batches each worker loads ahead (only with workers).
        multiprocessing_context: worker start method (fork, spawn, forkserver); None lets the
            DataModule choose (the spectra one never forks: Lance is not fork-safe).
    """

    num_workers: int | None = None
    pin_memory: bool | None = None
    persistent_workers: bool | None = None
    prefetch_factor: int | None = None
    multiprocessing_context: str | None = None

    def __post_init__(self) -> None:
        _check_count("num_workers", self.num_workers, 0, "0 (load in the main process) or more")
        _check_count("prefetch_factor", self.prefetch_factor, 1, "batches per worker, e.g. 2")
        for name in ("pin_memory", "persistent_workers"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(
                    f"`{WHERE}.{name}={value!r}`: use true, false or null (from the hardware)"
                )
        context = self.multiprocessing_context
        if context is not None and context not in START_METHODS:
            raise ConfigError(
                f"`{WHERE}.multiprocessing_context={context!r}` is not a start method: use one "
                f"of {', '.join(START_METHODS)}, or null (the DataModule's choice)"
            )

    @classmethod
    def coerce(cls, value: LoaderSettings | Mapping[str, Any] | None) -> LoaderSettings:
        """Settings from a config mapping (or None: all chosen later); unknown keys refused."""
        if value is None:
            return cls()
        if isinstance(value, LoaderSettings):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"`{WHERE}={value!r}` is not a mapping: set keys such as `{WHERE}.num_workers=2`"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        given = {str(k): v for k, v in value.items() if k != "_target_"}
        unknown = sorted(set(given) - names)
        if unknown:
            raise ConfigError(
                f"`{WHERE}.{unknown[0]}` is not a loader setting: use one of {sorted(names)}"
            )
        return cls(**given)

    def with_defaults(self, defaults: Mapping[str, Any]) -> LoaderSettings:
        """These settings with every None filled from ``defaults`` (hardware-derived)."""
        names = {f.name for f in dataclasses.fields(self)}
        filled = {
            name: value
            for name, value in defaults.items()
            if name in names and getattr(self, name) is None
        }
        return dataclasses.replace(self, **filled) if filled else self

    def dataloader_kwargs(self, default_context: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``torch.utils.data.DataLoader``.

        Settings left None are left to torch. Without workers, the settings torch refuses
        there (prefetch factor, start method, persistent workers) are dropped; with workers and
        no start method, ``default_context`` is used (None: the platform's default).
        """
        options = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }
        if not options.get("num_workers"):
            options.pop("prefetch_factor", None)
            options.pop("multiprocessing_context", None)
            options["persistent_workers"] = False
        elif "multiprocessing_context" not in options and default_context is not None:
            options["multiprocessing_context"] = default_context
        return options


def _check_count(name: str, value: Any, low: int, fix: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(
            f"`{WHERE}.{name}={value!r}` must be an integer >= {low}: set it to {fix}, "
            "or null (chosen from the hardware)"
        )
