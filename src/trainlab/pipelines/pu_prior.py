"""Class priors per polarity from BCE checkpoints (Elkan & Noto 2008), written to priors.json.

Each BCE checkpoint was trained on one polarity (``data.polarity``) or on both. Its
probabilities on the labelled set (``validation_data`` by default) give c per polarity; the
training table gives s; prior = s / c. On the synthetic data the estimate is compared with the
known true prior and the error is reported. Estimates from a classifier near chance
(validation AUROC < 0.6) or priors outside (0, 0.95] are refused unless ``force=true``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from trainlab.core.checkpoint import restore_datamodule, restore_model
from trainlab.core.hardware import hardware_report, loader_defaults
from trainlab.core.plots import write_prior_scores
from trainlab.data.spectra.datamodule import table_rows
from trainlab.data.spectra.schema import POLARITY_NAMES, TRAIN_TABLE
from trainlab.data.spectra.store import table_uri
from trainlab.data.spectra.synthetic import read_truth
from trainlab.errors import ConfigError, TrainlabError
from trainlab.io import atomic_write_json
from trainlab.metrics.class_prior import PriorEstimate, estimate_priors_by_polarity

log = logging.getLogger(__name__)
PRIORS_FILE = "priors.json"


class PriorRefused(TrainlabError):
    """The estimates come from a classifier near chance, or the prior is implausible."""


def predict_table(
    restored: Any, table_path: Path, trainer_cfg: DictConfig
) -> dict[str, np.ndarray]:
    """Probabilities, labels and polarities of a checkpoint's model on one Lance table."""
    from trainlab.core.trainer_factory import inference_trainer

    datamodule = restore_datamodule(restored, loader_defaults(hardware_report()))
    datamodule.setup_predict(str(table_path), restored.spec)
    trainer = inference_trainer(trainer_cfg, None, devices=1)
    outputs = trainer.predict(restored.model, datamodule=datamodule)
    return {
        key: torch.cat([out[key].detach().cpu() for out in outputs]).numpy()
        for key in ("prob", "label", "polarity")
    }


def estimate_priors(cfg: DictConfig) -> dict[str, Any]:
    """Run every checkpoint of ``cfg.checkpoints`` and write ``priors.json``; return its content."""
    checkpoints = list(cfg.checkpoints)
    if not checkpoints:
        raise ConfigError("checkpoints=[] is empty: give the BCE checkpoints, one per polarity")
    estimates: dict[str, dict[str, Any]] = {}
    found_all: dict[str, PriorEstimate] = {}
    panels: list[dict[str, Any]] = []  # prior_scores.png
    root = None
    for path in checkpoints:
        restored = restore_model(path, cfg.get("data") or None)
        if restored.model.loss_name != "bce":
            log.warning("%s was trained with %s, not BCE", path, restored.model.loss_name)
        root = Path(cfg.root) if cfg.get("root") else Path(restored.config.data.root)
        polarity = restored.config.data.get("polarity")
        _, train_labels, train_polarity = table_rows(table_uri(root, TRAIN_TABLE), polarity)
        predicted = predict_table(restored, table_uri(root, cfg.labelled_table), cfg.trainer)
        found = estimate_priors_by_polarity(
            train_labels,
            train_polarity,
            predicted["prob"],
            predicted["label"],
            predicted["polarity"],
        )
        check_every_polarity_estimated(path, train_polarity, found, cfg.labelled_table)
        for name, estimate in found.items():
            if name in estimates:
                raise ConfigError(
                    f"two checkpoints cover {name}-mode spectra ({estimates[name]['checkpoint']} "
                    f"and {path}); give one checkpoint per polarity"
                )
            estimates[name] = {**estimate.to_dict(), "checkpoint": str(path)}
            found_all[name] = estimate
            code = next(c for c, n in POLARITY_NAMES.items() if n == name)
            rows = predicted["polarity"] == code
            panels.append(
                {
                    "name": f"{name} mode",
                    "prob": predicted["prob"][rows],
                    "label": predicted["label"][rows],
                    "estimate": estimate,
                }
            )
    table = format_estimates(found_all)
    log.info("prior estimates on %s:\n%s", cfg.labelled_table, table)
    figure = write_prior_scores(Path(cfg.paths.output_dir), panels)
    if figure is not None:
        log.info("score histograms: %s", figure)
    warnings = {name: e.warnings() for name, e in found_all.items() if e.warnings()}
    for name, reasons in warnings.items():
        for reason in reasons:
            log.warning("%s mode (%s): %s", name, estimates[name]["checkpoint"], reason)
    refusals = {name: e.refusals() for name, e in found_all.items() if e.refusals()}
    forced = bool(cfg.get("force"))
    if refusals and not forced:
        reasons = "\n".join(
            f"  {name} ({estimates[name]['checkpoint']}): {'; '.join(r)}"
            for name, r in refusals.items()
        )
        raise PriorRefused(
            f"refusing to write priors from these estimates:\n{table}\n{reasons}\n"
            "Remedy: retrain the BCE checkpoint(s) named above until they separate labelled "
            "from unlabeled spectra; or, knowing the risk, rerun with force=true (recorded in "
            "priors.json)."
        )
    result: dict[str, Any] = {
        "priors": {name: e["prior"] for name, e in estimates.items()},
        "method": "Elkan & Noto 2008: prior = s / c (s: labelled share in training rows, "
        "c: mean probability of the labelled positives of the labelled set)",
        "root": str(root),
        "labelled_table": cfg.labelled_table,
        "estimates": estimates,
        "forced": forced,
        "refusals_overridden": refusals if forced else {},
        "warnings": warnings,
    }
    truth = read_truth(root) if root is not None else None
    if truth is not None:
        result["truth"] = compare_with_truth(result["priors"], truth)
    out = Path(cfg.output) if cfg.get("output") else Path(cfg.paths.output_dir) / PRIORS_FILE
    if out.exists():
        raise ConfigError(f"output={out} exists; priors are never overwritten: pick a new path")
    atomic_write_json(out, result)
    result["path"] = str(out)
    return result


def check_every_polarity_estimated(
    checkpoint: str, train_polarity: np.ndarray, found: dict[str, PriorEstimate], table: str
) -> None:
    """Refuse a checkpoint whose training rows hold a polarity that got no estimate.

    Such a polarity was skipped without a word: a negative-mode checkpoint scored on a
    labelled table without labelled negative-mode rows wrote ``{"priors": {}}``.
    """
    present = [POLARITY_NAMES[int(c)] for c in np.unique(train_polarity) if c in POLARITY_NAMES]
    missing = [name for name in present if name not in found]
    if missing:
        raise ConfigError(
            f"checkpoint {checkpoint}: its training rows hold {missing} spectra, but "
            f"labelled_table={table} has no labelled positives (label 1) of that polarity, so "
            "c (the mean probability of the labelled positives) cannot be estimated and no "
            "prior would be written for it. Fix: set labelled_table=<a table of that root "
            "with labelled spectra of that polarity>, or train the checkpoint on the other "
            "polarity only with data.polarity=1 (positive) / 0 (negative)"
        )


def format_estimates(estimates: dict[str, PriorEstimate]) -> str:
    """One line per polarity: validation AUROC, recall, c-hat, s, the prior, its standard error,
    the labelled positives c rests on and the overlap signal c-hat / their 95th percentile."""
    header = (
        f"  {'polarity':<9} {'AUROC':>6} {'recall':>6} {'c_hat':>6} {'s':>6} {'prior':>6} "
        f"{'se':>6} {'n_lab':>6} {'c/q95':>6}"
    )
    rows = [
        f"  {name:<9} {e.auroc:>6.3f} {e.recall:>6.3f} {e.label_frequency:>6.3f} "
        f"{e.labelled_share:>6.3f} {e.prior:>6.3f} {e.prior_se:>6.3f} "
        f"{e.n_labelled_positives:>6d} {e.spread_ratio:>6.2f}"
        + ("  (clipped)" if e.clipped else "")
        + ("  (overlap: likely too large)" if e.warnings() else "")
        for name, e in estimates.items()
    ]
    return "\n".join([header, *rows])


def compare_with_truth(priors: dict[str, float], truth: dict[str, Any]) -> dict[str, Any]:
    """Estimated vs generating and empirical (training rows) prior, with absolute errors."""
    table = truth.get("tables", {}).get(TRAIN_TABLE, {})
    comparison = {}
    for name in POLARITY_NAMES.values():
        if name not in priors:
            continue
        true_prior = truth["true_priors"][name]
        empirical = table.get(name, {}).get("empirical_prior")
        comparison[name] = {
            "estimated": priors[name],
            "true_prior": true_prior,
            "abs_error": abs(priors[name] - true_prior),
            "empirical_train_prior": empirical,
            "abs_error_vs_empirical": None if empirical is None else abs(priors[name] - empirical),
        }
    return comparison
