"""One parameter set from the best sets of several searches (outer folds), by distribution.

The rule follows the parameter's search distribution, so the result is a point of the space:

| distribution | rule |
|---|---|
| choice / boolean | mode; a tie goes to the value whose folds have the better mean inner score |
| int range | mean, snapped to the step and the bounds |
| log-scale int | geometric mean, snapped to the step and the bounds |
| log-scale float | geometric mean |
| stepped float | mean, snapped to the step and the bounds |
| float interval | mean |
| fixed (not searched) | the common value |

Averaging a `choice(32, 64, 128)` gives 75 (not a choice); averaging widths of a 64-step grid
gives 363 (off the grid); the arithmetic mean of 1e-2 and 1e-4 on a log scale is 5e-3, next to
the larger one, while the geometric mean 1e-3 lies between them as the search saw them.

A tie of a mode is broken by the folds' INNER scores (each fold's best search objective, the
mean over its inner validation splits), never by their outer test scores: those are the
estimate of the final model's performance, and choosing its parameters with them leaks the
test sets into the final model. A tie the inner scores cannot break (equal means, or a fold
without one) goes to the value listed first in the choice().
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from trainlab.core.search.space import SearchSpace
from trainlab.errors import ConfigError

MODE = "mode"
MODE_TIE = "mode (tie broken by the better mean inner-CV score of the tied folds' searches)"
MODE_TIE_ORDER = (
    "mode (tie not broken by inner-CV scores, equal or missing: the first of the tied values "
    "in the choice())"
)
MEAN = "mean"
MEAN_SNAPPED = "mean, snapped to step and bounds"
GEOMETRIC = "geometric mean"
GEOMETRIC_SNAPPED = "geometric mean, snapped to step and bounds"
FIXED = "fixed (the same in every fold)"


def aggregate_params(
    per_fold: Sequence[Mapping[str, Any]],
    scores: Sequence[float | None],
    space: SearchSpace,
    maximize: bool = True,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Combine the folds' best parameter sets.

    Args:
        per_fold: each fold's best parameters (config key -> value).
        scores: each fold's inner score (its search's best objective, the mean over its inner
            validation splits; None where a fold has none), used only to break ties of a mode.
            Never the outer test scores: see the module docstring.
        space: the search space the folds were searched over.
        maximize: whether a higher score is better.

    Returns:
        The combined parameters, and per parameter {values, rule, result} (plus the tied
        values and their mean scores when a tie was broken).

    Raises:
        ConfigError: a parameter that is not searched differs between folds, or the result
            is not a point of the space.
    """
    if len(scores) != len(per_fold):
        raise ValueError(f"{len(per_fold)} parameter sets but {len(scores)} scores")
    keys = list(dict.fromkeys(k for params in per_fold for k in params))
    combined: dict[str, Any] = {}
    record: dict[str, dict[str, Any]] = {}
    for key in keys:
        folds = [i for i, params in enumerate(per_fold) if key in params]
        values = [per_fold[i][key] for i in folds]
        entry: dict[str, Any] = {"values": values}
        if len(folds) < len(per_fold):
            entry["folds"] = folds
        dist = space.distributions.get(key)
        if dist is None:
            if any(_key(v) != _key(values[0]) for v in values):
                raise ConfigError(
                    f"{key} differs between folds ({values}) but is not in the search space, "
                    "so it has no distribution to aggregate by. Fix: rerun the folds with one "
                    "search space, or give the final parameters with hyperparams=<json>."
                )
            entry.update(rule=FIXED, result=values[0])
        else:
            entry.update(_by_distribution(dist, values, [scores[i] for i in folds], maximize))
        combined[key] = entry["result"]
        record[key] = entry
    # a searched key no fold has is not checked (it is not in the result either)
    problems = space.problems(combined, require_all=False)
    if problems:
        raise ConfigError(
            "the aggregated parameters leave the search space:\n  "
            + "\n  ".join(problems)
            + "\nFix: report this as a bug; meanwhile give hyperparams=<json> for the final model."
        )
    return combined, record


def _by_distribution(
    dist: Any, values: list[Any], scores: list[float | None], maximize: bool
) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return _mode(values, scores, maximize, list(dist.choices))
    numbers = [float(v) for v in values]
    if dist.log:
        center = math.exp(sum(math.log(v) for v in numbers) / len(numbers))
    else:
        center = sum(numbers) / len(numbers)
    snapped = isinstance(dist, IntDistribution) or dist.step is not None
    if snapped:
        step = dist.step if dist.step is not None else 1
        n = math.floor((center - dist.low) / step + 0.5)  # nearest grid point, ties up
        n = min(max(n, 0), math.floor((dist.high - dist.low) / step + 1e-9))
        on_grid = dist.low + n * step
        # round: 0.1 + 3 * 0.1 gives 0.4, not 0.40000000000000002
        result = int(on_grid) if isinstance(dist, IntDistribution) else round(on_grid, 12)
        rule = GEOMETRIC_SNAPPED if dist.log else MEAN_SNAPPED
        return {"rule": rule, "mean": center, "result": result}
    return {"rule": GEOMETRIC if dist.log else MEAN, "result": center}


def _mode(
    values: list[Any], scores: list[float | None], maximize: bool, choices: list[Any]
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for v in values:
        counts[_key(v)] = counts.get(_key(v), 0) + 1
    top = max(counts.values())
    tied = [k for k in dict.fromkeys(map(_key, values)) if counts[k] == top]
    if len(tied) == 1:
        return {"rule": MODE, "result": next(v for v in values if _key(v) == tied[0])}
    # the tie-break's order when the inner scores decide nothing: the choice() order, which
    # does not depend on which fold found which value
    order = {_key(c): i for i, c in enumerate(choices)}
    tied.sort(key=lambda k: order.get(k, len(order)))
    first = {k: next(v for v in values if _key(v) == k) for k in tied}
    tied_scores = [s for v, s in zip(values, scores, strict=True) if _key(v) in first]
    means: dict[str, float | None] = dict.fromkeys(tied)
    best, rule = tied[0], MODE_TIE_ORDER
    if not any(s is None or math.isnan(s) for s in tied_scores):
        for k in tied:
            means[k] = sum(s for v, s in zip(values, scores, strict=True) if _key(v) == k) / top
        sign = 1.0 if maximize else -1.0
        top_mean = max(sign * m for m in means.values())
        leaders = [k for k in tied if sign * means[k] == top_mean]
        best = leaders[0]  # equal best means: the first in the choice() order
        rule = MODE_TIE if len(leaders) == 1 else MODE_TIE_ORDER
    tie = [{"value": first[k], "mean_inner_score": means[k]} for k in tied]
    return {"rule": rule, "tied": tie, "result": first[best]}


def _key(value: Any) -> str:
    # True and 1 are different choices; repr keeps them apart and handles lists and dicts
    return f"{type(value).__name__}:{value!r}"
