"""Aggregation of the folds' best parameters by their search distribution (hand-computed)."""

import math

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from trainlab.core.search.aggregate import (
    FIXED,
    GEOMETRIC,
    GEOMETRIC_SNAPPED,
    MEAN,
    MEAN_SNAPPED,
    MODE,
    MODE_TIE,
    MODE_TIE_ORDER,
    aggregate_params,
)
from trainlab.core.search.space import parse_search_space
from trainlab.errors import ConfigError

SPACE = parse_search_space(
    {
        "data.batch_size": "choice(32, 64, 128)",
        "model.net.batch_norm": "choice(true, false)",
        "model.net.activation": "choice(relu, gelu, leaky_relu)",
        "model.net.hidden_dim_0": "range(64, 576, 64)",
        "model.net.n_layers": "range(2, 5)",
        "model.width": "tag(log, range(16, 257))",
        "model.optimizer.lr": "tag(log, interval(1e-5, 1e-2))",
        "model.net.dropout": "interval(0.1, 0.5)",
        "model.alpha": "range(0.1, 0.5, 0.1)",
        "data.seed": 3,
    },
    [],
    OverridesParser.create(),
)


def folds(key: str, values: list) -> list[dict]:
    return [{key: v} for v in values]


def test_choice_mode_and_tie_broken_by_the_better_mean_inner_score() -> None:
    # 64 twice, 32 once: the mode, whatever the scores
    best, rules = aggregate_params(folds("data.batch_size", [64, 32, 64]), [0.1, 0.9, 0.2], SPACE)
    assert best == {"data.batch_size": 64}
    assert rules["data.batch_size"] == {"values": [64, 32, 64], "rule": MODE, "result": 64}
    # 32 and 128 tied 2:2; 32's folds score (0.6 + 0.8) / 2 = 0.7, 128's (0.9 + 0.7) / 2 = 0.8
    best, rules = aggregate_params(
        folds("data.batch_size", [32, 128, 32, 128]), [0.6, 0.9, 0.8, 0.7], SPACE
    )
    assert best == {"data.batch_size": 128}
    assert rules["data.batch_size"]["rule"] == MODE_TIE
    assert rules["data.batch_size"]["tied"] == [
        {"value": 32, "mean_inner_score": pytest.approx(0.7)},
        {"value": 128, "mean_inner_score": pytest.approx(0.8)},
    ]
    # the same tie when a lower score is better (monitor_mode=min): 32 wins
    best, _ = aggregate_params(
        folds("data.batch_size", [32, 128, 32, 128]), [0.6, 0.9, 0.8, 0.7], SPACE, maximize=False
    )
    assert best == {"data.batch_size": 32}


def test_tie_of_equal_or_missing_scores_goes_to_the_choice_order() -> None:
    # 128 and 32 tied with equal means: the first of them in choice(32, 64, 128), not the
    # first fold's (128)
    best, rules = aggregate_params(
        folds("data.batch_size", [128, 32, 128, 32]), [0.5, 0.5, 0.5, 0.5], SPACE
    )
    assert best == {"data.batch_size": 32}
    assert rules["data.batch_size"]["rule"] == MODE_TIE_ORDER
    best, rules = aggregate_params(folds("data.batch_size", [128, 32]), [None, 0.9], SPACE)
    assert best == {"data.batch_size": 32}
    assert rules["data.batch_size"]["tied"][0] == {"value": 32, "mean_inner_score": None}


def test_booleans_are_a_mode_not_a_mean() -> None:
    best, rules = aggregate_params(
        folds("model.net.batch_norm", [True, False, False]), [0.5, 0.5, 0.5], SPACE
    )
    assert best["model.net.batch_norm"] is False and rules["model.net.batch_norm"]["rule"] == MODE


def test_int_range_mean_snapped_to_step_and_bounds() -> None:
    # widths 448, 512, 512: mean 490.67 -> (490.67 - 64) / 64 = 6.67 steps -> 7 -> 512
    best, rules = aggregate_params(
        folds("model.net.hidden_dim_0", [448, 512, 512]), [0, 0, 0], SPACE
    )
    assert best["model.net.hidden_dim_0"] == 512
    assert rules["model.net.hidden_dim_0"]["rule"] == MEAN_SNAPPED
    assert rules["model.net.hidden_dim_0"]["mean"] == pytest.approx(490.6667, abs=1e-4)
    # 64, 128, 320: mean 170.67 -> 1.67 steps -> 2 -> 192 (on the grid, not 171)
    best, _ = aggregate_params(folds("model.net.hidden_dim_0", [64, 128, 320]), [0] * 3, SPACE)
    assert best["model.net.hidden_dim_0"] == 192
    # half a step rounds up: mean of 2 and 3 = 2.5 -> 3
    best, _ = aggregate_params(folds("model.net.n_layers", [2, 3]), [0, 0], SPACE)
    assert best["model.net.n_layers"] == 3 and isinstance(best["model.net.n_layers"], int)


def test_log_int_range_geometric_mean_snapped() -> None:
    # geometric mean of 16 and 256 = 64 (the arithmetic mean would be 136)
    best, rules = aggregate_params(folds("model.width", [16, 256]), [0, 0], SPACE)
    assert best["model.width"] == 64 and rules["model.width"]["rule"] == GEOMETRIC_SNAPPED


def test_log_float_geometric_mean() -> None:
    # geometric mean of 1e-2 and 1e-4 = 1e-3 (the arithmetic mean would be 5.05e-3)
    best, rules = aggregate_params(folds("model.optimizer.lr", [1e-2, 1e-4]), [0, 0], SPACE)
    assert best["model.optimizer.lr"] == pytest.approx(1e-3)
    assert rules["model.optimizer.lr"]["rule"] == GEOMETRIC
    # three folds: (1e-3 * 4e-3 * 2e-3) ** (1/3) = 2e-3
    best, _ = aggregate_params(folds("model.optimizer.lr", [1e-3, 4e-3, 2e-3]), [0] * 3, SPACE)
    assert best["model.optimizer.lr"] == pytest.approx(2e-3)


def test_linear_float_mean_and_stepped_float_snapped() -> None:
    best, rules = aggregate_params(folds("model.net.dropout", [0.1, 0.2, 0.45]), [0] * 3, SPACE)
    assert best["model.net.dropout"] == pytest.approx(0.25)
    assert rules["model.net.dropout"]["rule"] == MEAN
    # range(0.1, 0.5, 0.1) = 0.1..0.4; mean of 0.2 and 0.4 = 0.3 (on the step)
    best, _ = aggregate_params(folds("model.alpha", [0.2, 0.4]), [0, 0], SPACE)
    assert best["model.alpha"] == 0.3
    # mean of 0.1, 0.2 and 0.4 = 0.2333 -> 1.33 steps -> 1 -> 0.2
    best, _ = aggregate_params(folds("model.alpha", [0.1, 0.2, 0.4]), [0] * 3, SPACE)
    assert best["model.alpha"] == 0.2


def test_fixed_values_pass_and_differing_unsearched_values_are_refused() -> None:
    best, rules = aggregate_params(folds("data.seed", [3, 3]), [0, 0], SPACE)
    assert best == {"data.seed": 3} and rules["data.seed"]["rule"] == FIXED
    with pytest.raises(ConfigError, match=r"data\.other differs between folds"):
        aggregate_params(folds("data.other", [1, 2]), [0, 0], SPACE)


def test_the_issue_example_stays_inside_the_space() -> None:
    # batch sizes 32, 64, 128 -> the old arithmetic rule gave 75 (then 48/43/102 in the
    # report); widths off the grid; lr averaged linearly
    per_fold = [
        {"data.batch_size": 32, "model.net.hidden_dim_0": 384, "model.optimizer.lr": 1e-4},
        {"data.batch_size": 64, "model.net.hidden_dim_0": 448, "model.optimizer.lr": 1e-3},
        {"data.batch_size": 128, "model.net.hidden_dim_0": 256, "model.optimizer.lr": 1e-2},
    ]
    best, _ = aggregate_params(per_fold, [0.5, 0.7, 0.6], SPACE)
    # 3-way tie of the mode: fold 2's 64 has the best score 0.7
    assert best["data.batch_size"] == 64
    # mean 362.67 -> (362.67 - 64) / 64 = 4.67 steps -> 5 -> 384
    assert best["model.net.hidden_dim_0"] == 384
    assert best["model.optimizer.lr"] == pytest.approx(1e-3)
    assert SPACE.problems(best, require_all=False) == []
    assert math.isclose(best["model.optimizer.lr"], 1e-3, rel_tol=1e-12)


def test_points_outside_the_space_are_named() -> None:
    problems = SPACE.problems(
        {"data.batch_size": 75, "model.net.hidden_dim_0": 363, "model.net.batch_norm": 1},
        require_all=False,
    )
    assert problems == [
        "data.batch_size=75 is not one of [32, 64, 128]",
        "model.net.batch_norm=1 is not one of [True, False]",
        "model.net.hidden_dim_0=363 is not on the step 64 from 64",
    ]
