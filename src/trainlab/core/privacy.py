"""Differentially private training (DP-SGD with Opacus) as a Lightning callback.

Switched on by the ``privacy`` config group (``python train.py privacy=dp``). What happens:

* ``build_model`` passes the net through :func:`make_dp_compatible` (BatchNorm -> GroupNorm via
  Opacus' ``ModuleValidator.fix``), so a checkpoint's config rebuilds the same architecture;
* ``setup`` refuses trainer settings DP-SGD cannot honour and makes the training loader sample
  batches by Poisson sampling (Opacus' ``DPDataLoader``);
* ``on_train_start`` wraps the optimizer (per-sample clipping + Gaussian noise) through
  ``PrivacyEngine.make_private`` or, with ``target_epsilon``, ``make_private_with_epsilon`` over
  ``trainer.max_epochs``; the LightningModule itself is left unwrapped (hooks only), so
  checkpoint keys do not change;
* every training epoch logs the epsilon spent so far as ``train/epsilon``; the accountant's
  history goes into checkpoints so a resumed run keeps counting.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch import nn

from trainlab.core.privacy_config import PrivacySettings, accounting_warnings, trainer_conflicts
from trainlab.errors import ConfigError

log = logging.getLogger(__name__)


def _opacus() -> Any:
    try:
        import opacus
    except ImportError as err:
        raise ConfigError(
            "privacy=dp needs Opacus, which cannot be imported: pip install trainlab[dp]"
        ) from err
    return opacus


def make_dp_compatible(net: nn.Module) -> nn.Module:
    """Replace layers Opacus cannot train privately (BatchNorm -> GroupNorm), no in-place ops.

    Args:
        net: The freshly built network.

    Returns:
        The fixed network (a copy when anything was replaced).

    Raises:
        ConfigError: Layers remain that Opacus cannot compute per-sample gradients for.
    """
    opacus = _opacus()
    validator = opacus.validators.ModuleValidator
    if _problems(opacus, net):
        kinds = sorted({type(m).__name__ for m in net.modules()})
        net = _quietly(validator.fix, net)
        replaced = [k for k in kinds if k not in {type(m).__name__ for m in net.modules()}]
        log.info("DP: replaced %s (Opacus ModuleValidator.fix)", replaced or "unsupported layers")
    # Opacus' backward hooks forbid in-place changes of a hooked layer's output (ReLU after a
    # norm layer); turning `inplace` off changes no parameter and no result.
    for module in net.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False
    errors = _problems(opacus, net)
    if errors:
        raise ConfigError(
            f"privacy=dp: model.net ({type(net).__name__}) has layers Opacus cannot train "
            f"privately: {errors[:3]}; pick another model.net"
        )
    return net


def _quietly(fix: Any, net: nn.Module) -> nn.Module:
    """Run Opacus' fixer without its INFO line per replaced layer (one summary line instead)."""
    names = ("opacus.validators.batch_norm", "opacus.validators.module_validator")
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        return fix(net)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _problems(opacus: Any, net: nn.Module) -> list[str]:
    """Layers without private per-sample gradients (train/eval mode does not matter here)."""
    errors = opacus.validators.ModuleValidator.validate(net, strict=False)
    errors += opacus.GradSampleModule.validate(net, strict=False)
    return [str(e) for e in errors if "training mode" not in str(e)]


class DifferentialPrivacy(Callback):
    """DP-SGD for one-device training; parameters as in :class:`PrivacySettings`.

    Args:
        noise_multiplier: Noise std over the clipping norm (or use ``target_epsilon``).
        target_epsilon: Budget to reach after ``trainer.max_epochs`` epochs.
        target_delta: The delta of (epsilon, delta)-DP.
        max_grad_norm: Per-sample gradient clipping norm.
        accountant: ``prv``, ``rdp`` or ``gdp``.
        poisson_sampling: Sample batches by Poisson sampling (assumed by the accounting).
        secure_mode: Opacus' cryptographically safe noise (slower; needs torchcsprng).
    """

    def __init__(
        self,
        noise_multiplier: float | None = None,
        target_epsilon: float | None = None,
        target_delta: float | None = None,
        max_grad_norm: float = 1.0,
        accountant: str = "prv",
        poisson_sampling: bool = True,
        secure_mode: bool = False,
    ) -> None:
        self.settings = PrivacySettings(
            noise_multiplier, target_epsilon, target_delta, max_grad_norm, accountant,
            poisson_sampling,
        )  # fmt: skip
        self.secure_mode = secure_mode
        self.engine: Any = None
        self.noise_multiplier: float | None = noise_multiplier
        self._hooks: Any = None
        self._patched_datamodule: Any = None
        self._restored: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return "DifferentialPrivacy"

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Refuse conflicting trainer settings; make the model and the train loader DP-ready."""
        if stage != "fit":
            return
        problems = trainer_conflicts(
            precision=trainer.precision,
            strategy=trainer.strategy,
            devices=trainer.world_size,
            num_nodes=trainer.num_nodes,
            accumulate_grad_batches=trainer.accumulate_grad_batches,
            gradient_clip_val=trainer.gradient_clip_val,
            max_epochs=trainer.max_epochs,
            needs_epochs=self.settings.target_epsilon is not None,
        )
        if problems:
            raise ConfigError("differential privacy cannot run with " + "; ".join(problems))
        for name, child in list(pl_module.named_children()):
            if any(p.requires_grad for p in child.parameters()):
                setattr(pl_module, name, make_dp_compatible(child))
        if self.settings.poisson_sampling:
            self._use_poisson_sampling(trainer)

    def _use_poisson_sampling(self, trainer: L.Trainer) -> None:
        datamodule = trainer.datamodule
        if datamodule is None:
            raise ConfigError(
                "privacy.poisson_sampling=true needs the training data from a DataModule "
                "(trainer.fit(model, datamodule=...)); or set privacy.poisson_sampling=false"
            )
        data_loader = _opacus().data_loader.DPDataLoader
        original = datamodule.train_dataloader

        def poisson_train_dataloader() -> Any:
            return data_loader.from_data_loader(original(), distributed=False)

        # An instance attribute shadows the method for this fit only; teardown removes it.
        datamodule.train_dataloader = poisson_train_dataloader
        self._patched_datamodule = datamodule

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Wrap the optimizer: per-sample clipping, noise and accounting."""
        if len(trainer.optimizers) != 1:
            raise ConfigError(
                f"privacy=dp supports one optimizer; the model configures {len(trainer.optimizers)}"
            )
        opacus = _opacus()
        s = self.settings
        self.engine = opacus.PrivacyEngine(accountant=s.accountant, secure_mode=self.secure_mode)
        loader = trainer.train_dataloader
        common = {
            "module": pl_module,
            "optimizer": trainer.optimizers[0],
            "data_loader": loader,
            "max_grad_norm": s.max_grad_norm,
            # the loader already samples by Poisson sampling (or the user opted out)
            "poisson_sampling": False,
            "wrap_model": False,
        }
        if self.noise_multiplier is None:
            hooks, optimizer, _ = self.engine.make_private_with_epsilon(
                target_epsilon=s.target_epsilon,
                target_delta=s.target_delta,
                epochs=trainer.max_epochs,
                **common,
            )
            self.noise_multiplier = float(optimizer.noise_multiplier)
        else:
            hooks, optimizer, _ = self.engine.make_private(
                noise_multiplier=self.noise_multiplier, **common
            )
        if self._restored:
            self.engine.accountant.load_state_dict(self._restored)
        self._hooks = hooks
        trainer.strategy.optimizers = [optimizer]
        for text in accounting_warnings(self.settings, len(loader.dataset)):
            log.warning("%s", text)
        log.info(
            "DP-SGD: noise multiplier %.4f, clipping norm %g, sample rate %.5f (%d batches/epoch), "
            "%s accountant, delta %g",
            self.noise_multiplier,
            s.max_grad_norm,
            1 / len(loader),
            len(loader),
            s.accountant,
            s.target_delta,
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Log the epsilon spent so far."""
        if self.engine is None:
            return
        epsilon = float(self.engine.get_epsilon(self.settings.target_delta))
        pl_module.log("train/epsilon", epsilon if math.isfinite(epsilon) else float("inf"))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Give the DataModule its own train loader back and detach the per-sample hooks."""
        if self._patched_datamodule is not None:
            vars(self._patched_datamodule).pop("train_dataloader", None)
            self._patched_datamodule = None
        if self._hooks is not None and hasattr(self._hooks, "cleanup"):
            self._hooks.cleanup()
            self._hooks = None

    def state_dict(self) -> dict[str, Any]:
        accountant = self.engine.accountant.state_dict() if self.engine is not None else None
        return {"noise_multiplier": self.noise_multiplier, "accountant": accountant}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # On resume keep the noise of the first attempt and continue the privacy accounting.
        self.noise_multiplier = state_dict.get("noise_multiplier", self.noise_multiplier)
        self._restored = state_dict.get("accountant")
