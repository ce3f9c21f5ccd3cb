"""Trivial and linear baselines on feature arrays: fitted on training rows, scored on test rows.

Pure scikit-learn and NumPy, no Lightning: ``trainlab.core.baselines`` hands in the rows a run
trained and tested on. Two kinds of problem:

* ``classification`` (one or more tasks, label -1 = missing): the majority class of the
  training rows, and a logistic regression on standardised features. Scores use the model's
  own definitions (``metrics_from_confmat``): ``acc``, ``balanced_acc``, ``f1_macro``,
  ``f1_weighted`` per task, and their mean over tasks as the model reports them.
* ``pu`` (one binary label, 1 = labelled positive, 0 = unlabeled): the training prior as a
  constant probability, and a logistic regression of labelled vs unlabeled. Scores are the PU
  model's: ``auroc``, ``average_precision``, for nnPU ``recall_at_prior`` and
  ``precision_at_prior`` (its decision rule, ``PriorRule``), ``recall`` and
  ``predicted_positive_rate`` at ``threshold``, ``lee_liu``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAJORITY = "majority"
LINEAR = "logistic_regression"
BASELINE_NAMES = (MAJORITY, LINEAR)
KINDS = ("classification", "pu")


@dataclass(frozen=True)
class LinearSettings:
    """Logistic regression settings (scikit-learn's names); features are standardised first."""

    C: float = 1.0
    max_iter: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class PriorRule:
    """nnPU's decision rule, as the model's at-prior figures apply it to the same test rows:
    each polarity calls its top ``prior`` share (``trainlab.metrics.pu.prior_threshold_scores``).

    Args:
        polarities: the polarity code of each test row (0 negative, 1 positive).
        priors: the class prior by polarity code (NaN: none), the model's own.
        shares: the labelled share by polarity code of the test table, as the model used it.
    """

    polarities: np.ndarray
    priors: np.ndarray
    shares: np.ndarray


@dataclass
class BaselineResult:
    """Scores per baseline as flat metric keys (``test/acc``, ``test/<task>/acc``), and notes."""

    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def linear_model(settings: LinearSettings):
    """The linear baseline: per-feature standardisation, then L2 logistic regression (lbfgs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=settings.C, max_iter=settings.max_iter, random_state=settings.seed),
    )


def fit_predict_linear(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, settings: LinearSettings
) -> np.ndarray:
    """Probabilities (n_test, n_seen_classes) of the linear baseline, columns in sorted order."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = linear_model(settings)
    with warnings.catch_warnings():
        # a baseline that stops at max_iter is still a fair linear reference; say so in notes
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return model.predict_proba(x_test)


def classification_baselines(
    x_train: np.ndarray,
    y_train: dict[str, np.ndarray],
    x_test: np.ndarray,
    y_test: dict[str, np.ndarray],
    tasks: dict[str, list[str]],
    settings: LinearSettings,
    prefix: str = "test",
    linear: bool = True,
) -> BaselineResult:
    """Majority class and logistic regression per task; rows with label < 0 are left out."""
    import torch

    from trainlab.metrics.classification import metrics_from_confmat

    result = BaselineResult()
    names = [MAJORITY, LINEAR] if linear else [MAJORITY]
    per_task: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for task, classes in tasks.items():
        train_keep, test_keep = y_train[task] >= 0, y_test[task] >= 0
        ytr, yte = y_train[task][train_keep], y_test[task][test_keep]
        if len(yte) == 0 or len(ytr) == 0:
            result.notes.append(f"{task}: no labelled {'test' if len(ytr) else 'training'} rows")
            continue
        counts = np.bincount(ytr, minlength=len(classes))
        predictions = {MAJORITY: np.full(len(yte), int(counts.argmax()))}
        if linear:
            seen = np.flatnonzero(counts)
            if len(seen) < 2:
                result.notes.append(f"{task}: one class in the training rows, linear = majority")
                predictions[LINEAR] = predictions[MAJORITY]
            else:
                probs = fit_predict_linear(x_train[train_keep], ytr, x_test[test_keep], settings)
                predictions[LINEAR] = seen[probs.argmax(axis=1)]
        for name, predicted in predictions.items():
            confmat = np.zeros((len(classes), len(classes)), dtype=np.int64)
            np.add.at(confmat, (yte, predicted), 1)
            values = metrics_from_confmat(torch.from_numpy(confmat))
            per_task[name][task] = {k: float(v) for k, v in values.items()}
    for name, by_task in per_task.items():
        flat: dict[str, float] = {}
        for task, values in by_task.items():
            if len(tasks) > 1:
                flat.update({f"{prefix}/{task}/{k}": v for k, v in values.items()})
        if by_task:
            for metric in next(iter(by_task.values())):
                flat[f"{prefix}/{metric}"] = float(np.mean([v[metric] for v in by_task.values()]))
        result.scores[name] = flat
    return result


def pu_scores(
    probabilities: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    rule: PriorRule | None = None,
) -> dict[str, float]:
    """The PU model's test numbers for given probabilities (labels: 1 labelled, 0 unlabeled);
    with ``rule``, also its figures at the prior (``recall_at_prior``, ``precision_at_prior``)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labelled = labels == 1
    called = probabilities >= threshold
    recall = float((called & labelled).sum() / max(int(labelled.sum()), 1))
    rate = float(called.mean()) if len(called) else 0.0
    both = 0 < labelled.sum() < len(labelled)
    # threshold-free figures first: the baselines' log line and table lead with them (a
    # constant prior and an nnPU model both score recall 0.0 at 0.5, which says little)
    scores = {
        "auroc": float(roc_auc_score(labelled, probabilities)) if both else float("nan"),
        "average_precision": (
            float(average_precision_score(labelled, probabilities)) if both else float("nan")
        ),
    }
    if rule is not None:  # in the model's order: after the rank figures, before those at 0.5
        scores.update(at_prior_scores(probabilities, labels, rule))
    return {
        **scores,
        "recall": recall,
        "predicted_positive_rate": rate,
        "lee_liu": recall**2 / rate if rate > 0 else 0.0,
    }


def at_prior_scores(
    probabilities: np.ndarray, labels: np.ndarray, rule: PriorRule
) -> dict[str, float]:
    """``recall_at_prior`` and ``precision_at_prior`` by the model's own function; empty where
    the model has none either (a polarity without a prior or labelled share)."""
    import torch

    from trainlab.metrics.pu import prior_threshold_scores

    found = prior_threshold_scores(
        torch.as_tensor(np.asarray(probabilities, dtype=np.float32)),
        torch.as_tensor(np.asarray(labels, dtype=np.int64)),
        torch.as_tensor(np.asarray(rule.polarities, dtype=np.int64)),
        torch.as_tensor(np.asarray(rule.priors, dtype=np.float32)),
        torch.as_tensor(np.asarray(rule.shares, dtype=np.float32)),
    )
    return {name: float(value) for name, value in found.items()}


def pu_baselines(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    settings: LinearSettings,
    threshold: float = 0.5,
    prefix: str = "test",
    linear: bool = True,
    rule: PriorRule | None = None,
) -> BaselineResult:
    """The training prior as a constant, and logistic regression of labelled vs unlabeled;
    with ``rule`` (nnPU), scored at the prior too, as the model is."""
    result = BaselineResult()
    ytr = (np.asarray(y_train) == 1).astype(np.int64)
    yte = (np.asarray(y_test) == 1).astype(np.int64)
    prior = float(ytr.mean()) if len(ytr) else 0.0
    probabilities = {MAJORITY: np.full(len(yte), prior)}
    if linear:
        if ytr.min(initial=0) == ytr.max(initial=0):
            result.notes.append("one label in the training rows, linear = prior")
            probabilities[LINEAR] = probabilities[MAJORITY]
        else:
            probabilities[LINEAR] = fit_predict_linear(x_train, ytr, x_test, settings)[:, 1]
    for name, probs in probabilities.items():
        values = pu_scores(probs, yte, threshold, rule)
        result.scores[name] = {f"{prefix}/{k}": v for k, v in values.items()}
    return result
