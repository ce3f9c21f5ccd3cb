"""Differential-privacy settings and the trainer settings they cannot work with.

Pure Python (no torch, no Opacus), so a wrong combination stops the run before anything heavy
is imported. The Opacus side lives in ``trainlab.core.privacy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainlab.errors import ConfigError

ACCOUNTANTS = ("prv", "rdp", "gdp")
_MULTI_PROCESS_STRATEGIES = ("ddp", "fsdp", "deepspeed")


@dataclass(frozen=True)
class PrivacySettings:
    """The DP-SGD parameters of a run, checked on construction.

    Attributes:
        noise_multiplier: Noise std over the clipping norm; set this or ``target_epsilon``.
        target_epsilon: Privacy budget to reach after ``trainer.max_epochs``; Opacus then
            computes the noise multiplier.
        target_delta: The delta of (epsilon, delta)-DP; required (epsilon is reported at it).
        max_grad_norm: Per-sample gradient clipping norm.
        accountant: Opacus accountant: ``prv``, ``rdp`` or ``gdp``.
        poisson_sampling: Sample each batch by Poisson sampling (what the accounting assumes).
    """

    noise_multiplier: float | None
    target_epsilon: float | None
    target_delta: float | None
    max_grad_norm: float
    accountant: str = "prv"
    poisson_sampling: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.noise_multiplier is not None and self.target_epsilon is not None:
            problems.append(
                f"both privacy.noise_multiplier={self.noise_multiplier} and "
                f"privacy.target_epsilon={self.target_epsilon} are set: give one. With "
                "target_epsilon the noise is computed for the planned epochs; set "
                "privacy.noise_multiplier=null to use it"
            )
        if self.noise_multiplier is None and self.target_epsilon is None:
            problems.append(
                "neither privacy.noise_multiplier nor privacy.target_epsilon is set: give one, "
                "e.g. privacy.target_epsilon=8"
            )
        if self.noise_multiplier is not None and self.noise_multiplier < 0:
            problems.append(f"privacy.noise_multiplier={self.noise_multiplier} must be >= 0")
        if self.target_epsilon is not None and self.target_epsilon <= 0:
            problems.append(f"privacy.target_epsilon={self.target_epsilon} must be > 0")
        if self.target_delta is None:
            problems.append(
                "privacy.target_delta is missing: set it below 1/(number of training samples), "
                "e.g. privacy.target_delta=1e-5"
            )
        elif not 0 < self.target_delta < 1:
            problems.append(f"privacy.target_delta={self.target_delta} must be in (0, 1)")
        if self.max_grad_norm <= 0:
            problems.append(f"privacy.max_grad_norm={self.max_grad_norm} must be > 0")
        if self.accountant not in ACCOUNTANTS:
            problems.append(f"privacy.accountant={self.accountant!r}: use one of {ACCOUNTANTS}")
        if problems:
            raise ConfigError("differential privacy: " + "; ".join(problems))


def trainer_conflicts(
    *,
    precision: Any,
    strategy: Any,
    devices: Any,
    num_nodes: Any,
    accumulate_grad_batches: Any,
    gradient_clip_val: Any,
    max_epochs: Any,
    needs_epochs: bool,
) -> list[str]:
    """Trainer settings that DP-SGD here cannot honour, each with its fix.

    Args:
        precision: ``trainer.precision`` (``auto`` counts as 32-bit: DP runs pin it to 32).
        strategy: ``trainer.strategy`` name or object.
        devices: ``trainer.devices`` (an int, a list, ``auto``) or the world size.
        num_nodes: ``trainer.num_nodes``.
        accumulate_grad_batches: ``trainer.accumulate_grad_batches``.
        gradient_clip_val: ``trainer.gradient_clip_val``.
        max_epochs: ``trainer.max_epochs``.
        needs_epochs: True when the noise is derived from ``target_epsilon``.

    Returns:
        One message per conflict; empty when the settings fit.
    """
    problems = []
    text = str(precision)
    if "16" in text or "transformer-engine" in text:
        problems.append(
            f"trainer.precision={precision}: Opacus' per-sample gradients need 32-bit training; "
            "set trainer.precision=32"
        )
    strategy_name = strategy if isinstance(strategy, str) else type(strategy).__name__
    many = _device_count(devices) > 1 or (num_nodes not in (None, 1))
    if many or any(s in str(strategy_name).lower() for s in _MULTI_PROCESS_STRATEGIES):
        problems.append(
            f"trainer.strategy={strategy_name} with devices={devices}, num_nodes={num_nodes}: "
            "DP training runs on one device here (Opacus' DistributedDP is not wired into "
            "Lightning's DDP); set trainer.devices=1 and trainer.strategy=auto"
        )
    if accumulate_grad_batches not in (None, 1):
        problems.append(
            f"trainer.accumulate_grad_batches={accumulate_grad_batches}: with Poisson sampling "
            "each step must see exactly one sampled batch; set it to 1 and raise "
            "data.batch_size instead"
        )
    if gradient_clip_val not in (None, 0, 0.0):
        problems.append(
            f"trainer.gradient_clip_val={gradient_clip_val}: under DP the per-sample clipping "
            "norm is privacy.max_grad_norm; set trainer.gradient_clip_val=null"
        )
    if needs_epochs and (max_epochs is None or int(max_epochs) < 1):
        problems.append(
            f"trainer.max_epochs={max_epochs}: privacy.target_epsilon is spent over the planned "
            "epochs, so set trainer.max_epochs to a positive number"
        )
    return problems


def accounting_warnings(settings: PrivacySettings, rows: int) -> list[str]:
    """Settings under which the epsilon printed is computed right but guarantees little.

    Args:
        settings: The run's DP settings.
        rows: Training rows (N), over which the batches are sampled.

    Returns:
        One message per problem, each with its fix; empty when none.
    """
    found = []
    delta = settings.target_delta
    if delta is not None and rows > 0 and delta >= 1 / rows:
        # publishing one row in the clear is (0, delta)-DP for any delta >= 1/N: a run on 150
        # rows at privacy.target_delta=0.05 (1/N = 0.0067) logged epsilon 1.17 without a word
        found.append(
            f"privacy.target_delta={delta:g} is not below 1/N = {1 / rows:.3g} (N = {rows} "
            "training rows): at such a delta even publishing a training row in the clear "
            "meets the guarantee, so train/epsilon says little. Fix: privacy.target_delta "
            f"well below 1/{rows}, e.g. {_delta_below(rows):g}"
        )
    if not settings.poisson_sampling:
        # the accountants analyse batches drawn by Poisson sampling; shuffled fixed-size batches
        # can leak more than that analysis says, so the figure is not this run's guarantee
        found.append(
            "privacy.poisson_sampling=false: the batches are shuffled, fixed-size ones, but "
            f"train/epsilon is computed by the {settings.accountant} accountant as if each row "
            "were drawn by Poisson sampling; it is not a guarantee of this run. Fix: "
            "privacy.poisson_sampling=true"
        )
    return found


def _delta_below(rows: int) -> float:
    """A power of ten at most 1/(10 N)."""
    return 10.0 ** math.floor(math.log10(1 / (10 * rows)))


def _device_count(devices: Any) -> int:
    if isinstance(devices, int):
        return devices if devices > 0 else 2  # -1 means every device
    if isinstance(devices, str):
        text = devices.strip()
        if text.isdigit():
            return int(text)
        if "," in text:
            return len([part for part in text.split(",") if part.strip()])
        return 2 if text == "-1" else 1  # "auto" is checked again on the built trainer
    if isinstance(devices, Sequence):
        return len(devices)
    return 1


def check_privacy_config(cfg: Mapping[str, Any]) -> PrivacySettings | None:
    """Check a composed run config's ``privacy`` node against its ``trainer`` node.

    Args:
        cfg: The composed config (``privacy`` may be absent or null: DP is off).

    Returns:
        The settings, or None when DP is off.

    Raises:
        ConfigError: A DP parameter is wrong, or a trainer setting conflicts with DP.
    """
    node = cfg.get("privacy")
    if not node:
        return None
    settings = PrivacySettings(
        noise_multiplier=node.get("noise_multiplier"),
        target_epsilon=node.get("target_epsilon"),
        target_delta=node.get("target_delta"),
        max_grad_norm=node.get("max_grad_norm", 1.0),
        accountant=node.get("accountant", "prv"),
        poisson_sampling=node.get("poisson_sampling", True),
    )
    trainer = cfg.get("trainer") or {}
    problems = trainer_conflicts(
        precision=trainer.get("precision", "32"),
        strategy=trainer.get("strategy", "auto"),
        devices=trainer.get("devices", 1),
        num_nodes=trainer.get("num_nodes", 1),
        accumulate_grad_batches=trainer.get("accumulate_grad_batches", 1),
        gradient_clip_val=trainer.get("gradient_clip_val"),
        max_epochs=trainer.get("max_epochs"),
        needs_epochs=settings.target_epsilon is not None,
    )
    if problems:
        raise ConfigError("privacy=dp cannot run with " + "; ".join(problems))
    return settings
