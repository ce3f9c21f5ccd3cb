"""Binary positive-unlabeled classification: BCE or nnPU with per-sample priors by polarity."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

from trainlab.errors import ConfigError
from trainlab.losses.pu import SURROGATES, bce_loss, nnpu_loss
from trainlab.metrics.pu import (
    PUMetrics,
    ScoresByPolarity,
    plot_probability_histograms,
    prior_threshold_scores,
)
from trainlab.models.hook_bookkeeping import FastHookBookkeeping
from trainlab.models.loading import LoadsTrainlabCheckpoints

log = logging.getLogger(__name__)
STAGES = ("train", "val", "test")
LOSSES = ("bce", "nnpu")
POLARITY_INDEX = {"negative": 0, "positive": 1}
PLOT_FILE = "plots/val_probabilities.png"
# the spectra schema's table names (trainlab.data.spectra.schema, not imported: it loads pyarrow)
STAGE_TABLES = {"train": "train_data", "val": "validation_data"}


def read_priors_file(path: str | Path) -> dict[str, float]:
    """``{"positive": p, "negative": q}`` from a priors.json (top level or under ``priors``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"model.priors_file={path}: cannot read it ({err}); write it with `trainlab prior`"
        ) from err
    priors = data.get("priors", data) if isinstance(data, dict) else None
    if not isinstance(priors, dict) or not set(priors) & set(POLARITY_INDEX):
        raise ConfigError(
            f"model.priors_file={path} has no priors by polarity: expected "
            '{"priors": {"positive": 0.3, "negative": 0.2}}'
        )
    return {
        k: checked_prior(v, f"model.priors_file={path} (priors.{k})")
        for k, v in priors.items()
        if k in POLARITY_INDEX
    }


def checked_prior(value: Any, where: str) -> float:
    """A class prior as a float in (0, 1], or a ConfigError naming ``where`` it came from."""
    try:
        prior = float(value)
    except (TypeError, ValueError):
        prior = math.nan
    if not 0 < prior <= 1:  # NaN fails too
        raise ConfigError(
            f"{where} is {value!r}: a class prior must be a number in (0, 1]; re-estimate it "
            "with `trainlab prior` or set model.priors.<polarity>=<prior>"
        )
    return prior


PRIOR_REMEDY = (
    "set model.priors.{name}=<prior> (it overrides model.priors_file for that polarity), or "
    "estimate it with `trainlab prior checkpoints=[<BCE checkpoint of {name} mode>]` and pass "
    "model.priors_file=<its priors.json>, or keep only the polarities that have a prior with "
    "data.polarity=1 (positive) / 0 (negative)"
)


def merge_priors(priors_file: str | Path | None, priors: dict[str, float] | None) -> dict:
    """The file's priors, each replaced by an explicit ``priors`` entry of the same polarity."""
    merged = read_priors_file(priors_file) if priors_file else {}
    merged.update(
        {
            k: checked_prior(v, f"model.priors.{k}")
            for k, v in (priors or {}).items()
            if v is not None
        }
    )
    return merged


class BinaryPUClassifier(LoadsTrainlabCheckpoints, FastHookBookkeeping, L.LightningModule):
    """One logit per spectrum trained with BCE (labelled vs unlabeled) or nnPU.

    Args:
        net: module called as ``net(mz, intensity, precursor_mz, instrument_settings)``.
        loss: ``bce`` or ``nnpu``.
        priors: class prior per polarity, e.g. ``{positive: 0.4, negative: 0.25}`` (nnPU).
        priors_file: a ``priors.json`` from ``trainlab prior``; an entry of ``priors`` overrides
            the file's prior of that polarity.
        beta, gamma, surrogate: nnPU settings (see ``trainlab.losses.pu.nnpu_loss``).
        encoder_lr: AdamW learning rate of the spectrum encoder.
        linear_lr: AdamW learning rate of everything else.
        weight_decay: AdamW weight decay of both groups.
        threshold: probability at which a spectrum counts as predicted positive in metrics.
        histogram_bins: bins of the per-epoch probability histograms.
        train_metric_rows: training rows (evenly spaced, the same each epoch) scored in eval
            mode at the end of each training epoch for the ``train/`` figures, comparable with
            ``val/``; 0 logs no training figures beside ``train/loss``.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: str = "bce",
        priors: dict[str, float] | None = None,
        priors_file: str | None = None,
        beta: float = 0.0,
        gamma: float = 1.0,
        surrogate: str = "sigmoid",
        encoder_lr: float = 5e-6,
        linear_lr: float = 1e-5,
        weight_decay: float = 1e-3,
        threshold: float = 0.5,
        histogram_bins: int = 20,
        train_metric_rows: int = 1024,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"model.loss={loss!r}: use one of {LOSSES}")
        if surrogate not in SURROGATES:
            raise ConfigError(f"model.surrogate={surrogate!r}: use one of {SURROGATES}")
        unknown = set(priors or {}) - set(POLARITY_INDEX)
        if unknown:
            raise ConfigError(f"model.priors has keys {sorted(unknown)}: use positive/negative")
        if train_metric_rows < 0:
            raise ConfigError(f"model.train_metric_rows={train_metric_rows}: use 0 or more rows")
        self.net = net
        self.train_metric_rows = train_metric_rows
        self.loss_name, self.surrogate = loss, surrogate
        self.beta, self.gamma = beta, gamma
        self.priors, self.priors_file = dict(priors or {}), priors_file
        self.encoder_lr, self.linear_lr, self.weight_decay = encoder_lr, linear_lr, weight_decay
        # persistent: a checkpoint carries the priors it was trained with
        self.register_buffer("priors_by_polarity", torch.full((2,), math.nan))
        self.metrics = nn.ModuleDict(
            {f"{stage}_metrics": PUMetrics(threshold, histogram_bins) for stage in STAGES}
        )
        # Rank metrics of labelled vs unlabeled, exact (every probability kept, 8 bytes a row
        # with its label), as the baselines beside them are scored: AUROC, and average
        # precision, which weighs the top of the ranking, where the rare identified scans are.
        self.auroc = nn.ModuleDict({f"{stage}_auroc": BinaryAUROC() for stage in STAGES})
        self.average_precision = nn.ModuleDict(
            {f"{stage}_ap": BinaryAveragePrecision() for stage in STAGES}
        )
        # nnPU: every score with its polarity, for the threshold that calls the top prior share
        self.scores = nn.ModuleDict({f"{stage}_scores": ScoresByPolarity() for stage in STAGES})
        self._sums: dict[str, dict[str, torch.Tensor]] = {}
        self._shares: dict[str, torch.Tensor | None] = {}
        self.probability_history: list[dict[str, Any]] = []

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(B,)`` of a batch from ``SpectraDataModule``."""
        return self.net(
            batch["mz"], batch["intensity"], batch["precursor_mz"], batch["instrument_settings"]
        )

    def resolve_priors(self) -> None:
        """Fill the prior buffer from ``priors_file``, overridden per polarity by ``priors``."""
        if self.loss_name != "nnpu":
            return
        priors = merge_priors(self.priors_file, self.priors)
        if not priors and torch.isnan(self.priors_by_polarity).all():
            raise ConfigError(
                "model.loss=nnpu needs class priors: set model.priors.positive=... and "
                "model.priors.negative=..., or model.priors_file=<priors.json from trainlab prior>"
            )
        for name, value in priors.items():
            if not 0 < value <= 1:
                raise ConfigError(f"prior of {name} polarity is {value}; it must lie in (0, 1]")
            self.priors_by_polarity[POLARITY_INDEX[name]] = value

    def on_fit_start(self) -> None:
        self._shares.clear()
        self.resolve_priors()
        self._check_priors_cover_data()

    def on_test_start(self) -> None:
        self._shares.pop("test", None)
        if torch.isnan(self.priors_by_polarity).all():
            self.resolve_priors()

    def _check_priors_cover_data(self) -> None:
        # second line of defence (core.pu_priors checks before anything is built): the
        # polarities the training rows actually hold, not the ones data.polarity allows
        datamodule = getattr(self.trainer, "datamodule", None)
        counts = getattr(datamodule, "label_counts", {}).get("train_data")
        if self.loss_name != "nnpu" or not counts:
            return
        present = [name for name, pair in counts.items() if sum(pair) > 0]
        missing = [n for n in present if math.isnan(self.priors_by_polarity[POLARITY_INDEX[n]])]
        if missing:
            raise ConfigError(
                f"the training rows hold {missing} spectra but there is no prior for them: "
                f"{PRIOR_REMEDY.format(name=missing[0])}"
            )

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch).float()
        labels = batch["label"]
        if self.loss_name == "bce":
            objective = reported = bce_loss(logits, labels)
            corrected = None
        else:
            risk = nnpu_loss(
                logits,
                labels,
                self._row_priors(batch["polarity"], stage),
                groups=batch["polarity"],
                labelled_shares=self._row_shares(batch["polarity"], stage),
                beta=self.beta,
                gamma=self.gamma,
                surrogate=self.surrogate,
            )
            objective, reported, corrected = risk.objective, risk.loss, risk.corrected
        if stage != "train":  # training figures: ``_score_training_sample``
            self._update_metrics(stage, torch.sigmoid(logits.detach()), batch)
        self._accumulate(stage, reported.detach(), len(labels), corrected)
        return objective

    def _update_metrics(
        self, stage: str, probabilities: torch.Tensor, batch: dict[str, torch.Tensor]
    ) -> None:
        labels = batch["label"]
        self.metrics[f"{stage}_metrics"].update(probabilities, labels)
        self.auroc[f"{stage}_auroc"].update(probabilities, (labels == 1).long())
        self.average_precision[f"{stage}_ap"].update(probabilities, (labels == 1).long())
        if self.loss_name == "nnpu":
            self.scores[f"{stage}_scores"].update(probabilities, labels, batch["polarity"])

    def _score_training_sample(self) -> None:
        """Score ``train_metric_rows`` training rows in eval mode, as validation is scored.

        Scored during the steps, with dropout on and the weights changing over the epoch,
        train/auroc read 0.530 and 0.593 beside val/auroc 0.911 and 0.922 (default nnPU, epochs
        0-1), as if the model did worse on the data it learns from: not comparable with val/.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        sample = getattr(datamodule, "train_sample_batches", None)
        if sample is None or not self.train_metric_rows:
            return
        modes = [(module, module.training) for module in self.modules()]  # frozen parts too
        self.eval()
        try:
            with torch.no_grad():
                for batch in sample(
                    self.train_metric_rows, self.trainer.global_rank, self.trainer.world_size
                ):
                    batch = {k: v.to(self.device) for k, v in batch.items()}
                    self._update_metrics("train", torch.sigmoid(self(batch).float()), batch)
        finally:
            for module, training in modes:
                module.training = training

    def _row_priors(self, polarity: torch.Tensor, stage: str) -> torch.Tensor:
        # A row of unknown polarity (-1) took the negative-mode prior (index clamped to 0), and
        # a val/test row of a polarity trained without a prior got NaN, which made the loss NaN.
        priors = self.priors_by_polarity[polarity.long().clamp(min=0)]
        unusable = (polarity < 0) | torch.isnan(priors)
        if bool(unusable.any()):
            code = int(polarity[unusable][0])
            name = {0: "negative", 1: "positive"}.get(code)
            if name is None:
                raise ConfigError(
                    f"model.loss=nnpu: the {stage} rows hold spectra of unknown polarity "
                    f"(polarity code {code}: neither the positive nor the negative setting is "
                    "1), which have no class prior; keep one polarity with data.polarity=1 "
                    "(positive) / 0 (negative) or fix the instrument settings of those rows"
                )
            raise ConfigError(
                f"model.loss=nnpu: the {stage} rows hold {name}-mode spectra but the model has "
                f"no prior for them (priors by polarity: negative "
                f"{float(self.priors_by_polarity[0])}, positive "
                f"{float(self.priors_by_polarity[1])}); {PRIOR_REMEDY.format(name=name)}"
            )
        return priors

    def _row_shares(self, polarity: torch.Tensor, stage: str) -> torch.Tensor | None:
        # The share of labelled rows of each polarity in the stage's whole table: with it each
        # labelled positive stands for prior / share rows, so a batch without labelled
        # positives of a polarity no longer counts its rows as negatives (see nnpu_loss).
        if stage not in self._shares:
            self._shares[stage] = self._table_shares(stage)
        shares = self._shares[stage]
        return None if shares is None else shares.to(polarity.device)[polarity.long()]

    def _table_shares(self, stage: str) -> torch.Tensor | None:
        datamodule = getattr(self._trainer, "datamodule", None)  # None outside a Trainer
        table = STAGE_TABLES.get(stage, getattr(datamodule, "test_table", None))
        counts = getattr(datamodule, "label_counts", {}).get(table)
        if not counts:
            log.warning(
                "nnPU %s: no labelled share per polarity for %s; each batch uses its own, and a "
                "batch without labelled positives of a polarity counts its rows as negatives",
                stage,
                table,
            )
            return None
        shares = torch.full((2,), math.nan)
        for name, (unlabelled, labelled) in counts.items():
            if unlabelled + labelled:
                shares[POLARITY_INDEX[name]] = labelled / (unlabelled + labelled)
        return shares

    def _accumulate(self, stage: str, loss: torch.Tensor, n: int, corrected: bool | None) -> None:
        # Tensor sums instead of a self.log call per step (about 0.4 ms each).
        sums = self._sums.setdefault(
            stage, {k: torch.zeros((), device=loss.device) for k in ("loss", "n", "steps", "fix")}
        )
        sums["loss"] += loss * n
        sums["n"] += n
        sums["steps"] += 1
        if corrected:
            sums["fix"] += 1

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One optimisation step (for nnPU, possibly the non-negative correction step)."""
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the validation loss and metrics."""
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Accumulate the test loss and metrics."""
        self._step(batch, "test")

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        """Probability of each spectrum with its table row, label and polarity."""
        return {
            "prob": torch.sigmoid(self(batch).float()),
            "index": batch["index"],
            "label": batch["label"],
            "polarity": batch["polarity"],
        }

    def on_train_epoch_end(self) -> None:
        self._score_training_sample()
        self._log_stage("train")

    def on_validation_epoch_end(self) -> None:
        histogram = self.metrics["val_metrics"].histogram.clone()
        self._log_stage("val")
        if self.trainer.sanity_checking:
            return
        synced = self.all_gather(histogram).reshape(-1, *histogram.shape).sum(0)
        self.probability_history.append(
            {
                "epoch": int(self.current_epoch),
                "labelled": synced[0].tolist(),
                "unlabeled": synced[1].tolist(),
            }
        )
        if self.trainer.is_global_zero and self.trainer.default_root_dir:
            plot_probability_histograms(
                self.probability_history, Path(self.trainer.default_root_dir) / PLOT_FILE
            )

    def on_test_epoch_end(self) -> None:
        self._log_stage("test")

    def _log_stage(self, stage: str) -> None:
        values: dict[str, torch.Tensor] = {}
        sums = self._sums.pop(stage, None)
        if sums is not None:
            if self.trainer.world_size > 1:
                sums = {k: self.all_gather(v).sum() for k, v in sums.items()}
            values[f"{stage}/loss"] = sums["loss"] / sums["n"].clamp(min=1)
            if self.loss_name == "nnpu" and stage == "train":
                values["train/corrected_share"] = sums["fix"] / sums["steps"].clamp(min=1)
        metric = self.metrics[f"{stage}_metrics"]
        if int(metric.rows) > 0 or self.trainer.world_size > 1:
            # the threshold-free and at-prior figures first: the finished run's console lines
            # and metrics.json list them in this order, and the figures at model.threshold
            # (0.5) mean little for nnPU (recall 0.0 there after 3 default epochs)
            values[f"{stage}/auroc"] = self.auroc[f"{stage}_auroc"].compute()
            values[f"{stage}/average_precision"] = self.average_precision[f"{stage}_ap"].compute()
            values.update(self._prior_threshold_values(stage))
            for name, value in metric.compute().items():
                values[f"{stage}/{name}"] = value
            if stage == "test" and self.loss_name == "nnpu" and not self.trainer.sanity_checking:
                log.info("%s", self.threshold_note(values))
        metric.reset()
        self.scores[f"{stage}_scores"].reset()
        self.auroc[f"{stage}_auroc"].reset()
        self.average_precision[f"{stage}_ap"].reset()
        self.log_dict(values, prog_bar=False, sync_dist=False)

    def threshold_note(self, values: dict[str, Any] | None = None) -> str | None:
        """For nnPU, why the figures at ``model.threshold`` are not its decision rule (with
        the at-prior figures of ``values`` when given); None for BCE."""
        if self.loss_name != "nnpu":
            return None
        threshold = self.metrics["test_metrics"].threshold
        at_prior = ", ".join(
            f"{key} {float(value):.4f}"
            for key, value in (values or {}).items()
            if key.endswith(("/recall_at_prior", "/precision_at_prior"))
        )
        return (
            f"nnPU: recall, predicted_positive_rate and lee_liu are at probability {threshold} "
            "(model.threshold), which is not nnPU's decision rule: its sigmoid is no calibrated "
            "posterior (recall 0.0 at 0.5 after 3 epochs of experiment=spectra/nnpu while AUROC "
            "was 0.91). Its rule calls the top prior share of each polarity: recall_at_prior, "
            "precision_at_prior" + (f" ({at_prior})" if at_prior else "")
        )

    def prior_rule(self, stage: str = "test") -> tuple[Any, Any] | None:
        """(class prior, labelled share) by polarity code, as numpy arrays, that the at-prior
        figures of ``stage`` used; None for BCE or before the stage ran. The baselines beside
        the model are scored with them (``trainlab.core.baselines``)."""
        shares = self._shares.get(stage)
        if self.loss_name != "nnpu" or shares is None:
            return None
        return self.priors_by_polarity.detach().cpu().numpy().copy(), shares.cpu().numpy().copy()

    def _prior_threshold_values(self, stage: str) -> dict[str, torch.Tensor]:
        # Recall and precision where each polarity calls its top prior share: nnPU's sigmoid
        # is no calibrated posterior, and 3 epochs left every probability below 0.5 (recall 0
        # at model.threshold) while the ranking was good (AUROC 0.914)
        shares = self._shares.get(stage)
        if (
            self.loss_name != "nnpu"
            or shares is None
            or not self.scores[f"{stage}_scores"].update_called
        ):
            return {}
        probabilities, labels, polarities = self.scores[f"{stage}_scores"].compute()
        found = prior_threshold_scores(
            probabilities, labels, polarities, self.priors_by_polarity.cpu(), shares
        )
        return {f"{stage}/{name}": value for name, value in found.items()}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["pu_probability_history"] = self.probability_history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.probability_history = list(checkpoint.get("pu_probability_history", []))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW: the spectrum encoder at ``encoder_lr``, the rest at ``linear_lr``."""
        if hasattr(self.net, "parameter_groups"):
            groups = self.net.parameter_groups(self.encoder_lr, self.linear_lr, self.weight_decay)
        else:
            groups = [{"params": list(self.net.parameters()), "lr": self.linear_lr}]
        return torch.optim.AdamW(groups, weight_decay=self.weight_decay)
