"""LightningModules of the text tasks: criteria classification, evidence spans, joint training.

Batches are `(x, y)` from trainlab.data.text: `x` the encoder inputs, `y` the labels (criteria)
or a dict with `labels`, `start_positions`, `end_positions`, `span_mask` (evidence, joint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from trainlab.metrics.classification import METRIC_NAMES, ConfusionMetrics
from trainlab.metrics.span import SpanMetrics, decode_best_span
from trainlab.models.classification import MultiHeadClassifier
from trainlab.models.hook_bookkeeping import FastHookBookkeeping
from trainlab.models.loading import LoadsTrainlabCheckpoints
from trainlab.models.text_optim import configure_text_optimizers

STAGES = ("train", "val", "test")


class TextClassifier(MultiHeadClassifier):
    """MultiHeadClassifier with transformer fine-tuning optimisation (see text_optim).

    Args:
        lr_schedule: cosine | linear | constant, after a linear warmup.
        warmup_ratio: fraction of the optimizer steps spent warming up.
        Other arguments as in MultiHeadClassifier (its `scheduler` is not used).
    """

    def __init__(
        self,
        net: nn.Module,
        tasks: dict[str, list[str]],
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        lr_schedule: str = "linear",
        warmup_ratio: float = 0.1,
        task_weights: dict[str, float] | None = None,
        class_weights: str = "none",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(
            net,
            tasks,
            optimizer=optimizer,
            task_weights=task_weights,
            class_weights=class_weights,
            label_smoothing=label_smoothing,
        )
        self.lr_schedule = lr_schedule
        self.warmup_ratio = warmup_ratio

    def configure_optimizers(self) -> Any:
        """AdamW without decay on biases/LayerNorm, warmup then the schedule, per step."""
        return configure_text_optimizers(
            self, self.optimizer_factory, self.lr_schedule, self.warmup_ratio
        )


def span_loss(out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean start/end cross-entropy over rows that have a span target (0 when none do)."""
    rows = y["span_mask"].bool() & (y["labels"] == 1)
    if not bool(rows.any()):
        return out["start_logits"].new_zeros(())
    start = F.cross_entropy(out["start_logits"][rows].float(), y["start_positions"][rows])
    end = F.cross_entropy(out["end_logits"][rows].float(), y["end_positions"][rows])
    return (start + end) / 2


def _alternatives(y: dict, rows: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The other copies of the evidence text (see trainlab.metrics.span), when the data has
    them (checkpoints' data of before they were kept has not)."""
    if "alt_start_positions" not in y:
        return None
    return y["alt_start_positions"][rows], y["alt_end_positions"][rows]


class _TextLightningModule(LoadsTrainlabCheckpoints, FastHookBookkeeping, L.LightningModule):
    """Loss bookkeeping, span decoding and optimisation shared by the span modules."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None,
        lr_schedule: str,
        warmup_ratio: float,
        max_span_len: int | None,
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.lr_schedule = lr_schedule
        self.warmup_ratio = warmup_ratio
        self.max_span_len = max_span_len
        # "train" would clash with nn.Module.train in a ModuleDict key
        self.span_metrics = nn.ModuleDict({f"{s}_spans": SpanMetrics() for s in STAGES})
        self._sums: dict[str, dict[str, torch.Tensor]] = {}
        self._counts: dict[str, int] = {}

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.net(x)

    def _decode(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_best_span(
            out["start_logits"].detach(), out["end_logits"].detach(), max_span_len=self.max_span_len
        )

    def _update_spans(self, stage: str, out: dict[str, torch.Tensor], y: dict) -> None:
        rows = y["span_mask"].bool() & (y["labels"] == 1)
        if bool(rows.any()):
            start, end = self._decode({k: v[rows] for k, v in out.items() if k.endswith("logits")})
            copies = _alternatives(y, rows)
            self.span_metrics[f"{stage}_spans"].update(
                start, end, y["start_positions"][rows], y["end_positions"][rows], copies
            )

    def _add_losses(self, stage: str, losses: dict[str, torch.Tensor], n: int) -> None:
        # One tensor add per step instead of a self.log call per value.
        sums = self._sums.setdefault(stage, {})
        for name, value in losses.items():
            value = value.detach().double() * n
            sums[name] = sums[name] + value if name in sums else value
        self._counts[stage] = self._counts.get(stage, 0) + n

    def _epoch_values(self, stage: str) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        count = self._counts.pop(stage, 0)
        for name, total in self._sums.pop(stage, {}).items():
            values[f"{stage}/{name}"] = (total / max(count, 1)).float()
        spans = self.span_metrics[f"{stage}_spans"]
        if int(spans.count) > 0:
            for name, value in spans.compute().items():
                values[f"{stage}/{name}"] = value
        spans.reset()
        return values

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self.log_dict(self._epoch_values("train"))

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self._epoch_values("val"))

    def on_test_epoch_end(self) -> None:
        self.log_dict(self._epoch_values("test"))

    def _span_prediction(self, out: dict[str, torch.Tensor], y: Any) -> dict[str, torch.Tensor]:
        start, end = self._decode(out)
        index = torch.arange(len(start), device=start.device)
        score = out["start_logits"][index, start] + out["end_logits"][index, end]
        pred = {"start": start.cpu(), "end": end.cpu(), "score": score.float().cpu()}
        if isinstance(y, dict):
            pred["span_target"] = {
                "start": y["start_positions"].cpu(),
                "end": y["end_positions"].cpu(),
                "valid": (y["span_mask"].bool() & (y["labels"] == 1)).cpu(),
            }
            copies = _alternatives(y, slice(None))
            if copies is not None:
                pred["span_target"]["alt_start"], pred["span_target"]["alt_end"] = (
                    c.cpu() for c in copies
                )
        return pred

    def configure_optimizers(self) -> Any:
        """AdamW without decay on biases/LayerNorm, warmup then the schedule, per step."""
        return configure_text_optimizers(
            self, self.optimizer_factory, self.lr_schedule, self.warmup_ratio
        )


class SpanExtractionModule(_TextLightningModule):
    """Start/end cross-entropy; logs `stage/loss`, `stage/em`, `stage/token_f1`.

    Args:
        net: returns {"start_logits", "end_logits"} (e.g. EvidenceSpanExtractor).
        optimizer: partial optimizer (AdamW); its weight_decay applies to the decayed group.
        lr_schedule: cosine | linear | constant after warmup.
        warmup_ratio: fraction of optimizer steps spent warming up.
        max_span_len: longest span (tokens) decoding may return; None = any.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        lr_schedule: str = "linear",
        warmup_ratio: float = 0.1,
        max_span_len: int | None = 64,
    ) -> None:
        super().__init__(net, optimizer, lr_schedule, warmup_ratio, max_span_len)

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        x, y = batch
        out = self(x)
        loss = span_loss(out, y)
        self._update_spans(stage, out, y)
        self._add_losses(stage, {"loss": loss}, len(y["labels"]))
        return loss

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        """Best span per row (token positions and score), with the gold span when known."""
        x, y = batch
        return self._span_prediction(self(x), y)


class JointCriteriaEvidenceModule(_TextLightningModule):
    """Weighted multitask loss: criteria cross-entropy + evidence span loss.

    Logs `stage/loss`, `stage/criteria_loss`, `stage/evidence_loss`, the classification
    metrics `stage/{acc,balanced_acc,f1_macro,f1_weighted}` and `stage/{em,token_f1}`.

    Args:
        net: returns {"logits", "start_logits", "end_logits"} (JointCriteriaEvidence or
            SharedCriteriaEvidence).
        tasks: {task: class names} from the data spec.
        criteria_weight: weight of the criteria loss.
        evidence_weight: weight of the span loss.
        label_smoothing: for the criteria cross-entropy.
        Other arguments as in SpanExtractionModule.
    """

    def __init__(
        self,
        net: nn.Module,
        tasks: dict[str, list[str]],
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        lr_schedule: str = "linear",
        warmup_ratio: float = 0.1,
        max_span_len: int | None = 64,
        criteria_weight: float = 1.0,
        evidence_weight: float = 1.0,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(net, optimizer, lr_schedule, warmup_ratio, max_span_len)
        self.tasks = {name: list(classes) for name, classes in tasks.items()}
        self.task = next(iter(self.tasks))
        self.criteria_weight = float(criteria_weight)
        self.evidence_weight = float(evidence_weight)
        self.label_smoothing = label_smoothing
        n_classes = len(self.tasks[self.task])
        self.metrics = nn.ModuleDict({f"{s}_metrics": ConfusionMetrics(n_classes) for s in STAGES})

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        x, y = batch
        out = self(x)
        criteria = F.cross_entropy(
            out["logits"].float(), y["labels"], label_smoothing=self.label_smoothing
        )
        evidence = span_loss(out, y)
        loss = self.criteria_weight * criteria + self.evidence_weight * evidence
        self.metrics[f"{stage}_metrics"].update(out["logits"].detach().argmax(-1), y["labels"])
        self._update_spans(stage, out, y)
        losses = {"loss": loss, "criteria_loss": criteria, "evidence_loss": evidence}
        self._add_losses(stage, losses, len(y["labels"]))
        return loss

    def _epoch_values(self, stage: str) -> dict[str, torch.Tensor]:
        values = super()._epoch_values(stage)
        metric = self.metrics[f"{stage}_metrics"]
        if int(metric.confmat.sum()) > 0:
            for name, value in metric.compute().items():
                if name in METRIC_NAMES:
                    values[f"{stage}/{name}"] = value
        metric.reset()
        return values

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        """Class probabilities and the best evidence span per row (with targets when known)."""
        x, y = batch
        out = self(x)
        pred = self._span_prediction(out, y)
        pred["probs"] = {self.task: torch.softmax(out["logits"].float(), -1).cpu()}
        if isinstance(y, dict):
            pred["target"] = {self.task: y["labels"].cpu()}
        return pred
