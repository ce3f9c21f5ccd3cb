"""The CV results table carries the baselines' means over folds; a per-fold table lists them."""

from __future__ import annotations

import pytest

from trainlab.pipelines.kmer_cv.aggregate import (
    aggregate_metrics,
    results_table,
    table_markdown,
    table_text,
)
from trainlab.pipelines.kmer_cv.baselines import add_baseline_columns, baselines_by_fold_markdown


def _record(fold: int, model: float, majority: float, logreg: float) -> dict:
    def nested(value: float) -> dict:
        return {"host": {"f1_weighted": value}, "overall": {"f1_weighted": value}}

    return {
        "fold_id": fold,
        "test_metrics": nested(model),
        "baselines": {
            "scores": {"majority": nested(majority), "logistic_regression": nested(logreg)}
        },
    }


def test_baseline_columns_are_means_over_the_folds() -> None:
    records = [_record(0, 0.8, 0.3, 0.7), _record(1, 0.6, 0.5, 0.9)]
    rows = add_baseline_columns(
        results_table(aggregate_metrics([r["test_metrics"] for r in records])), records
    )
    host = next(r for r in rows if r["task"] == "host")
    assert host["mean"] == pytest.approx(0.7)
    assert host["majority"] == pytest.approx(0.4) and host["logreg"] == pytest.approx(0.8)
    markdown = table_markdown(rows)
    assert markdown.startswith("| task | metric | mean | std | min | max | majority | logreg |")
    assert (
        # std of 0.8 and 0.6 with ddof=1 (0.1414; 0.1000 was the population std)
        "| host | f1_weighted | 0.7000 | 0.1414 | 0.6000 | 0.8000 | 0.4000 | 0.8000 |" in markdown
    )
    assert "logreg" in table_text(rows).splitlines()[0]
    by_fold = baselines_by_fold_markdown(records)
    assert "| 1 | host | f1_weighted | 0.6000 | 0.5000 | 0.9000 |" in by_fold


def test_folds_without_baselines_keep_the_plain_table() -> None:
    records = [_record(0, 0.8, 0.3, 0.7), {"fold_id": 1, "test_metrics": {}, "baselines": None}]
    rows = results_table(aggregate_metrics([records[0]["test_metrics"]]))
    assert "majority" not in add_baseline_columns(rows, records)[0]
    assert table_markdown(rows).startswith("| task | metric | mean | std | min | max |\n")
    assert baselines_by_fold_markdown(records) is None
