"""Multi-head classification: one head or many, class weights, missing labels ignored."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from trainlab.metrics.classification import METRIC_NAMES, ConfusionMetrics
from trainlab.models.hook_bookkeeping import FastHookBookkeeping
from trainlab.models.loading import LoadsTrainlabCheckpoints

STAGES = ("train", "val", "test")


class MultiHeadClassifier(LoadsTrainlabCheckpoints, FastHookBookkeeping, L.LightningModule):
    """Cross-entropy over one or more classification tasks sharing a backbone.

    `train/loss` is the objective (task weights, class weights, label smoothing);
    `val/loss` and `test/loss` are the mean over tasks of each task's plain cross-entropy over
    its labelled rows (`stage/<task>/loss`), comparable between folds and trials.

    Args:
        net: module mapping a batch of inputs to logits (Tensor for one task, or a dict task ->
            logits).
        tasks: task name -> class names, in the column order of the targets.
        optimizer: partial optimizer taking the parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``epoch`` or ``step``.
        scheduler_monitor: the logged key a ReduceLROnPlateau scheduler steps on.
        task_weights: task name -> weight of its loss (default 1 each); a name that is not
            a task is an error (its weight would be silently ignored).
        class_weights: ``none`` or ``inverse_frequency`` (computed on the training rows).
        label_smoothing: passed to cross-entropy.
        logged_metrics: log only these names (default: all). A search that reads one
            monitor passes just that: each `self.log` key costs Lightning 1-5 ms per epoch
            (`_ResultMetric.to`), the bulk of an epoch of a small MLP on a few hundred rows.
            Metrics and losses no logged key needs are then not computed either.
    """

    def __init__(
        self,
        net: nn.Module,
        tasks: dict[str, list[str]],
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        task_weights: dict[str, float] | None = None,
        class_weights: str = "none",
        label_smoothing: float = 0.0,
        logged_metrics: list[str] | None = None,
        scheduler_monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        if class_weights not in ("none", "inverse_frequency"):
            raise ValueError(
                f"model.class_weights={class_weights!r}: use 'none' or 'inverse_frequency'"
            )
        self.net = net
        self.tasks = {name: list(classes) for name, classes in tasks.items()}
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        weights = task_weights or {}
        unknown = sorted(set(weights) - set(self.tasks))
        if unknown:
            from trainlab.errors import ConfigError

            raise ConfigError(
                f"model.task_weights names {['model.task_weights.' + n for n in unknown]}, "
                f"which are not tasks of the data (data.tasks: {list(self.tasks)}); their "
                "weights would be ignored. Fix: one entry per task in data.tasks."
            )
        self.task_weights = {name: float(weights.get(name, 1.0)) for name in self.tasks}
        self.class_weights_mode = class_weights
        self.label_smoothing = label_smoothing
        self.logged_metrics = set(logged_metrics) if logged_metrics is not None else None
        # training-batch metrics cost a bincount per task and step: skip them when unread
        self.train_metrics = self.logged_metrics is None or any(
            name.startswith("train/") and name != "train/loss" for name in self.logged_metrics
        )
        for name, classes in self.tasks.items():
            self.register_buffer(f"class_weight_{name}", torch.ones(len(classes)), persistent=False)
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_metrics": nn.ModuleDict(
                    {
                        name: ConfusionMetrics(len(classes), self._metric_names(stage))
                        for name, classes in self.tasks.items()
                    }
                )
                for stage in STAGES
            }
        )
        self._loss_sum: dict[str, torch.Tensor] = {}
        self._loss_count: dict[str, int] = {}
        # val/test: per task, the summed plain cross-entropy and the labelled rows it covers
        self._eval_loss: dict[str, dict[str, list[torch.Tensor]]] = {}
        self._warned_unlabelled: set[tuple[str, str]] = set()
        #: tasks without a labelled training row (set at fit from the DataModule's class
        #: counts, kept in checkpoints): their heads never saw a label
        self.untrained_tasks: list[str] = []

    @property
    def scored_tasks(self) -> dict[str, list[str]]:
        """The tasks whose figures mean something: all but those without training labels."""
        return {name: c for name, c in self.tasks.items() if name not in self.untrained_tasks}

    def _metric_names(self, stage: str) -> tuple[str, ...]:
        """The metrics a stage computes: all, unless `logged_metrics` names some of it."""
        if self.logged_metrics is None:
            return METRIC_NAMES
        wanted = {
            key.rsplit("/", 1)[-1] for key in self.logged_metrics if key.startswith(f"{stage}/")
        }
        return tuple(n for n in METRIC_NAMES if n in wanted) or METRIC_NAMES

    def _logs(self, key: str) -> bool:
        return self.logged_metrics is None or key in self.logged_metrics

    @property
    def single_task(self) -> bool:
        """True when there is exactly one task (metric names then carry no task level)."""
        return len(self.tasks) == 1

    def forward(self, x: Any) -> dict[str, torch.Tensor]:
        """Logits per task."""
        out = self.net(x)
        if isinstance(out, Mapping):
            return dict(out)
        return {next(iter(self.tasks)): out}

    def setup(self, stage: str) -> None:
        """Note the tasks without training labels; compute inverse-frequency class weights
        from the training rows when asked."""
        if stage != "fit":
            return
        wanted = self.class_weights_mode == "inverse_frequency" or not self.single_task
        datamodule = getattr(self.trainer, "datamodule", None)
        counts = None
        if wanted and hasattr(datamodule, "class_counts"):
            counts = datamodule.class_counts()
        if counts is not None and not self.single_task:
            # A task labelled only in val/test rows (a task labelled in one project, with
            # data.group_column=project): its head stays as initialised, and its figures went
            # into val/f1_weighted (the monitor) and the test means, while the baselines
            # beside them leave it out (probe: test/f1_weighted 0.5256 = mean of sample_type
            # 0.6011 and the untrained material head's 0.4500, against baselines over
            # sample_type alone)
            self.untrained_tasks = [n for n in self.tasks if not sum(counts.get(n, ()))]
        if self.class_weights_mode != "inverse_frequency":
            return
        if counts is None:
            raise ValueError(
                "model.class_weights=inverse_frequency needs a DataModule with class_counts(); "
                "set model.class_weights=none"
            )
        for name in self.tasks:
            count = torch.as_tensor(counts[name], dtype=torch.float32).clamp(min=1)
            weight = count.sum() / (len(count) * count)
            getattr(self, f"class_weight_{name}").copy_(weight)

    def _targets(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        if y.ndim == 1:
            return {next(iter(self.tasks)): y}
        return {name: y[:, index] for index, name in enumerate(self.tasks)}

    def _class_weight(self, name: str) -> torch.Tensor | None:
        # all-ones weights give the same loss as none, at the cost of a weighted reduction
        if self.class_weights_mode == "none":
            return None
        return getattr(self, f"class_weight_{name}")

    def _step(self, batch: Any, stage: str) -> torch.Tensor | None:
        x, y = batch[0], batch[1]
        logits = self(x)
        targets = self._targets(y)
        metrics = self.metrics[f"{stage}_metrics"]
        if stage != "train":
            self._eval_step(logits, targets, metrics, stage)
            return None
        loss: torch.Tensor | None = None
        for name, task_logits in logits.items():
            target = targets[name]
            task_loss = F.cross_entropy(
                task_logits.float(),
                target,
                weight=self._class_weight(name),
                ignore_index=-1,
                label_smoothing=self.label_smoothing,
            )
            # A batch where every label of a task is missing gives 0/0 = NaN: it contributes
            # nothing. Only that case: a NaN from the network itself (a diverged run) must stay
            # NaN, not be logged as a loss of 0 (nan_to_num did that, with exit status 0).
            task_loss = torch.where((target != -1).any(), task_loss, 0.0)
            if self.task_weights[name] != 1.0:
                task_loss = task_loss * self.task_weights[name]
            loss = task_loss if loss is None else loss + task_loss
            if stage != "train" or self.train_metrics:
                metrics[name].update(task_logits.detach().argmax(dim=-1), target)
        if self._logs(f"{stage}/loss"):
            self._accumulate_loss(stage, loss.detach(), len(y))
        return loss

    def _eval_step(
        self,
        logits: dict[str, torch.Tensor],
        targets: dict[str, torch.Tensor],
        metrics: nn.ModuleDict,
        stage: str,
    ) -> None:
        """Metrics, and per task the plain cross-entropy summed over its labelled rows.

        The evaluation loss is not the training objective: task weights (searched, so other
        in every fold and trial), class weights (from each fold's training rows) and label
        smoothing change the objective's scale, and a test loss of one network read 1.04 or
        3.40 under the task weights of two folds (tests/unit/models/test_eval_loss.py).
        """
        wanted = self._logs(f"{stage}/loss") or any(
            self._logs(f"{stage}/{name}/loss") for name in self.tasks
        )
        sums = self._eval_loss.setdefault(stage, {}) if wanted else None
        for name, task_logits in logits.items():
            target = targets[name]
            metrics[name].update(task_logits.detach().argmax(dim=-1), target)
            if sums is None:
                continue
            total = F.cross_entropy(
                task_logits.detach().float(), target, ignore_index=-1, reduction="sum"
            )
            labelled = (target != -1).sum()
            if name in sums:
                sums[name][0] += total.double()
                sums[name][1] += labelled
            else:
                sums[name] = [total.double(), labelled]

    def _eval_losses(self, stage: str) -> dict[str, torch.Tensor]:
        """`stage/<task>/loss` (several tasks) and `stage/loss`, the mean over the tasks that
        have labelled rows, from the sums of `_eval_step`."""
        sums = self._eval_loss.pop(stage, None)
        if not sums:
            return {}
        values, per_task = {}, []
        for name, (total, count) in sums.items():
            if self.trainer.world_size > 1:
                total = self.all_gather(total).sum()
                count = self.all_gather(count).sum()
            if int(count) == 0 or name in self.untrained_tasks:  # left out, as its metrics are
                continue
            loss = (total / count).float()
            per_task.append(loss)
            if not self.single_task:
                values[f"{stage}/{name}/loss"] = loss
        if per_task:
            values[f"{stage}/loss"] = torch.stack(per_task).mean()
        return values

    def _accumulate_loss(self, stage: str, loss: torch.Tensor, n: int) -> None:
        # One in-place add per step instead of a self.log call (about 0.4 ms each).
        total = self._loss_sum.get(stage)
        if total is None:
            total = self._loss_sum[stage] = torch.zeros((), device=loss.device, dtype=torch.float64)
            self._loss_count[stage] = 0
        total.add_(loss, alpha=n)
        self._loss_count[stage] += n

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step."""
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Accumulate validation loss and metrics."""
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Accumulate test loss and metrics."""
        self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        """Probabilities per task, and the targets when the batch has them."""
        x = batch[0] if isinstance(batch, list | tuple) else batch
        probs = {name: torch.softmax(out.float(), dim=-1) for name, out in self(x).items()}
        out: dict[str, Any] = {"probs": probs}
        if isinstance(batch, list | tuple) and len(batch) > 1 and torch.is_tensor(batch[1]):
            out["target"] = self._targets(batch[1])
        return out

    def on_train_epoch_end(self) -> None:
        """Log the training epoch's metrics."""
        self._log_stage("train")

    def on_validation_epoch_end(self) -> None:
        """Log the validation epoch's metrics."""
        self._log_stage("val")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._log_stage("test")

    def _log_stage(self, stage: str) -> None:
        values: dict[str, torch.Tensor] = self._eval_losses(stage)
        if stage in self._loss_sum and self._loss_count[stage] > 0:
            total = self._loss_sum.pop(stage)
            count = torch.tensor(self._loss_count.pop(stage), device=total.device)
            if self.trainer.world_size > 1:
                total = self.all_gather(total).sum()
                count = self.all_gather(count).sum()
            values[f"{stage}/loss"] = (total / count).float()
        if stage == "train" and not self.train_metrics:
            self._log(values)
            return
        per_metric: dict[str, list[torch.Tensor]] = {name: [] for name in self._metric_names(stage)}
        unlabelled, untrained = [], []
        for name, metric in self.metrics[f"{stage}_metrics"].items():
            result = metric.compute()
            metric.reset()
            if not metric.labelled:
                # every label of this task is missing in this split: its metrics describe no
                # data, and zeros would pull the mean over tasks (the monitor) down
                unlabelled.append(name)
                continue
            if stage != "train" and name in self.untrained_tasks:
                untrained.append(name)  # figures of a head that never saw a label
                continue
            for metric_name, value in result.items():
                per_metric[metric_name].append(value)
                if not self.single_task:
                    values[f"{stage}/{name}/{metric_name}"] = value
        if unlabelled or untrained:
            self._no_labels(stage, unlabelled, untrained)
        for metric_name, items in per_metric.items():
            if items:
                values[f"{stage}/{metric_name}"] = torch.stack(items).mean()
        self._log(values)

    def _no_labels(self, stage: str, tasks: list[str], untrained: Sequence[str] = ()) -> None:
        """Leave out tasks without a labelled row in this split, or without one in training;
        refuse when no task is left."""
        import logging

        trainer = getattr(self, "_trainer", None)
        left_out = len(tasks) + len(untrained)
        if left_out == len(self.tasks) and not (trainer is not None and trainer.sanity_checking):
            from trainlab.errors import DataError

            why = f"no labelled row for any task ({', '.join(tasks)})"
            if untrained:
                why = (
                    f"no task with a labelled row both there and in the train split "
                    f"({', '.join(untrained)} had none in training"
                    + (f"; {', '.join(tasks)} none in {stage}" if tasks else "")
                    + ")"
                )
            raise DataError(
                f"the {stage} split has {why}: its {stage} metrics would describe no data or "
                "only heads that never saw a label. Fix: a split that holds labelled samples "
                "of each task on every side (check the split sizes, data.group_column, "
                "data.tasks and the label columns)."
            )
        logger = logging.getLogger(__name__)
        new = [t for t in tasks if (stage, t) not in self._warned_unlabelled]
        if new:
            self._warned_unlabelled.update((stage, t) for t in new)
            logger.warning(
                "%s split: no labelled row for task(s) %s; their %s metrics are left out and "
                "the means over tasks cover the other tasks",
                stage,
                ", ".join(new),
                stage,
            )
        new = [t for t in untrained if (stage, t) not in self._warned_unlabelled]
        if new:
            self._warned_unlabelled.update((stage, t) for t in new)
            logger.warning(
                "%s split: task(s) %s had no labelled row in the train split, so their heads "
                "never saw a label: their %s metrics are left out and the means over tasks "
                "cover the other tasks, as the baselines' do",
                stage,
                ", ".join(new),
                stage,
            )

    def _log(self, values: dict[str, torch.Tensor]) -> None:
        if self.logged_metrics is not None:
            values = {k: v for k, v in values.items() if k in self.logged_metrics}
        if values:
            self.log_dict(values, prog_bar=False, sync_dist=False)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["untrained_tasks"] = list(self.untrained_tasks)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # eval and predict rebuild the model without a fit: the checkpoint says which heads
        # never saw a label (a checkpoint from before this was recorded: none known)
        found = checkpoint.get("untrained_tasks")
        if isinstance(found, list):
            self.untrained_tasks = [str(t) for t in found if t in self.tasks]

    def configure_optimizers(self) -> Any:
        """The optimizer from config, with its scheduler when one is set."""
        if self.optimizer_factory is None:
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
        else:
            optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": self.scheduler_interval,
                "monitor": self.scheduler_monitor,
            },
        }
