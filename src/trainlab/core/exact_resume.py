"""What a resumed run needs to continue exactly as the uninterrupted one would have.

The design (docs/reliability.md): ``last.ckpt`` is written only at epoch ends, after validation,
and every source of randomness of a training epoch is a function of (seed, epoch): at the start
of each training epoch the global generators and the generators of the training DataLoaders are
reseeded from them. A run killed anywhere in epoch ``e`` resumes from the end of epoch ``e - 1``
and trains epoch ``e`` again, drawing the same numbers in the same order, however many draws
happened before (a sanity check, a DataLoader iterator, a resume). Lightning itself restores
neither generator states nor ``trainer.should_stop``; both go into the checkpoint here.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from trainlab.core import rng_state

CHECKPOINT_KEY = "trainlab_resume"


def _loaders(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _loaders(value)]
    if isinstance(tree, list | tuple):
        return [leaf for value in tree for leaf in _loaders(value)]
    return [tree] if tree is not None else []


def loader_generators(loader: Any) -> list[torch.Generator]:
    """The generators that decide a DataLoader's order and worker seeds (each object once)."""
    found: list[torch.Generator] = []
    owners = (
        loader,
        getattr(loader, "sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    )
    for owner in owners:
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


class ExactResume(Callback):
    """Reseed per training epoch from (seed, epoch); keep generator states and the stop flag.

    Args:
        seed: The run's seed (``cfg.seed``).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._epoch_ready: int | None = None
        self._restored_metrics: dict[str, Any] = {}

    @property
    def state_key(self) -> str:
        return "ExactResume"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning 2.6 creates the iterator of the first epoch of a fit (epoch 0, or the first
        # epoch after a resume) in FitLoop.setup_data, before any hook, and skips
        # on_train_epoch_start for the first epoch after a restore from an epoch-end checkpoint.
        # So: reseed here and make that iterator again, as Lightning does for later epochs.
        self._reseed(trainer)
        fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
        if fetcher is not None:
            iter(fetcher)
        self._epoch_ready = trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Later epochs: called before Lightning makes the epoch's DataLoader iterator, so the
        # permutation, the worker base seeds and every draw of the epoch follow from here.
        if self._epoch_ready != trainer.current_epoch:
            self._reseed(trainer)
        self._epoch_ready = None

    def _reseed(self, trainer: L.Trainer) -> None:
        epoch = trainer.current_epoch
        rng_state.reseed_globals(rng_state.derived_seed(self.seed, epoch, 0))
        for index, loader in enumerate(_loaders(trainer.train_dataloader)):
            for generator in loader_generators(loader):
                generator.manual_seed(rng_state.derived_seed(self.seed, epoch, 1, index))

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "seed": self.seed,
            "rng": rng_state.capture(),
            # EarlyStopping decided during this epoch end; Lightning does not save the decision
            "should_stop": bool(trainer.should_stop),
            # a run resumed after its last epoch (killed during the test) trains nothing, and
            # still reports the validation metrics of that epoch
            "metrics": {
                name: value.detach().cpu().clone()
                for name, value in trainer.callback_metrics.items()
                if torch.is_tensor(value)
            },
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if not state:
            return
        rng_state.restore(state["rng"])
        if state.get("should_stop"):
            trainer.should_stop = True
        self._restored_metrics = dict(state.get("metrics") or {})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning clears callback_metrics when a fit starts; a fit with nothing left to train
        # logs none, so the last epoch's values come back from the checkpoint.
        for name, value in self._restored_metrics.items():
            trainer.callback_metrics.setdefault(name, value)
        self._restored_metrics = {}


def epochs_trained(trainer: L.Trainer) -> int:
    """Training epochs done, the same for a run resumed after its last epoch and one that ran on.

    ``trainer.current_epoch`` lags by one in a run restored from its final epoch-end checkpoint
    (Lightning moves it on in a hook it skips when nothing is left to train).
    """
    return int(trainer.fit_loop.epoch_progress.current.processed)
