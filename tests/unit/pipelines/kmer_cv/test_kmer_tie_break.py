"""A tie of a choice parameter is broken by the folds' inner scores, never their test scores."""

import json
from pathlib import Path

from omegaconf import OmegaConf

from trainlab.pipelines.kmer_cv.final import aggregate
from trainlab.pipelines.kmer_cv.rules import versions


def _folds(out: Path, folds: list[tuple[str, float | None, float]]) -> None:
    for k, (activation, inner, test) in enumerate(folds):
        folder = out / "cv_results" / f"fold_{k}"
        folder.mkdir(parents=True)
        search = {"n_trials": 4, "monitor": "val/f1_weighted"}
        if inner is not None:
            search["best_inner_score"] = inner
        record = {
            "fold_id": k,
            "best_params": {"model.net.activation": activation},
            "test_metrics": {"overall": {"f1_weighted": test}},
            "search": search,
            **versions(),
        }
        (folder / f"multitask_fold_{k}_results_20260101_000000.json").write_text(json.dumps(record))


def _cfg(choices: str = "choice(relu, gelu)"):
    space = {"model": {"net": {"activation": choices}}}
    return OmegaConf.create(
        {
            "monitor": "val/f1_weighted",
            "cv": {"n_folds": 2, "n_trials": 4, "monitor_mode": "max", "search_space": space},
        }
    )


def test_tie_goes_to_the_better_inner_score_not_the_better_test_score(tmp_path: Path) -> None:
    # fold 0 found relu (search 0.70, TEST 0.95), fold 1 gelu (search 0.90, TEST 0.60).
    # Before: relu, chosen by the outer test sets (a leak into the final model's parameters).
    _folds(tmp_path, [("relu", 0.70, 0.95), ("gelu", 0.90, 0.60)])
    result = aggregate(_cfg(), tmp_path)
    assert result["best_hyperparameters"] == {"model.net.activation": "gelu"}
    record = json.loads((tmp_path / "cv_results" / "aggregated_results.json").read_text())
    entry = record["hyperparameters"]["model.net.activation"]
    assert "inner-CV score" in entry["rule"]
    assert entry["tied"] == [
        {"value": "relu", "mean_inner_score": 0.70},
        {"value": "gelu", "mean_inner_score": 0.90},
    ]
    assert record["inner_fold_scores"] == {"metric": "val/f1_weighted", "values": [0.70, 0.90]}
    assert "never choose a parameter" in record["tie_break"]
    assert record["outer_fold_scores"]["values"] == [0.95, 0.60]


def test_tie_without_inner_scores_goes_to_the_choice_order(tmp_path: Path) -> None:
    # no inner score (folds trained with given hyperparams): the first tied value of the
    # choice(), whatever the test scores and whichever fold found it
    _folds(tmp_path, [("relu", None, 0.95), ("gelu", None, 0.60)])
    result = aggregate(_cfg("choice(gelu, relu)"), tmp_path)
    assert result["best_hyperparameters"] == {"model.net.activation": "gelu"}
    record = json.loads((tmp_path / "cv_results" / "aggregated_results.json").read_text())
    assert (
        "first of the tied values in the choice()"
        in (record["hyperparameters"]["model.net.activation"]["rule"])
    )
