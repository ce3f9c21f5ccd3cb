"""Aggregation rules over outer folds."""

from pathlib import Path

import pytest

from trainlab.pipelines.kmer_cv.aggregate import (
    aggregate_metrics,
    drop_untrained_tasks,
    nest_metrics,
    plot_results,
    results_table,
    table_markdown,
    table_text,
)


def fold(f1: float, acc: float) -> dict:
    return {"a": {"f1_weighted": f1, "acc": acc}, "b": {"f1_weighted": f1 / 2, "acc": acc}}


def test_metrics_mean_std_values_and_overall() -> None:
    agg = aggregate_metrics([fold(0.8, 0.9), fold(0.6, 0.7)])
    assert agg["a"]["f1_weighted"]["values"] == [0.8, 0.6]
    assert agg["a"]["f1_weighted"]["mean"] == pytest.approx(0.7)
    # the sample std (ddof=1) of 0.8 and 0.6: 0.1414; before, the population std 0.1
    assert agg["a"]["f1_weighted"]["std"] == pytest.approx(0.02**0.5)
    assert agg["a"]["f1_weighted"]["n"] == 2
    assert agg["overall"]["f1_weighted"]["values"] == pytest.approx([0.6, 0.45])
    assert list(agg) == ["a", "b", "overall"]


def test_nest_metrics_from_logged_names() -> None:
    flat = {"test/a/f1_macro": 0.5, "test/f1_macro": 0.4, "val/a/f1_macro": 0.1, "test/loss": 1.0}
    assert nest_metrics(flat) == {"a": {"f1_macro": 0.5}, "overall": {"f1_macro": 0.4, "loss": 1.0}}


def test_table_and_plot(tmp_path: Path) -> None:
    agg = aggregate_metrics([fold(0.8, 0.9), fold(0.6, 0.7), fold(0.7, 0.8)])
    rows = results_table(agg)
    a_f1 = next(r for r in rows if r["task"] == "a" and r["metric"] == "f1_weighted")
    assert (a_f1["min"], a_f1["max"]) == (0.6, 0.8)
    assert rows[-1]["task"] == "overall"
    md = table_markdown(rows)
    assert md.startswith("| task | metric | mean | std | min | max |")
    # sample std of 0.8, 0.6, 0.7 (ddof=1): 0.1000; before 0.0816 (ddof=0), unlabelled
    assert "| a | f1_weighted | 0.7000 | 0.1000 | 0.6000 | 0.8000 |" in md
    assert "std: sample standard deviation over the outer folds (ddof=1" in md
    assert "ddof=1" in table_text(rows)
    assert "overall" in table_text(rows)
    png = plot_results(agg, tmp_path / "plots" / "results.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_metric_over_one_fold_has_no_std_and_is_named() -> None:
    # task b unlabelled in the second test fold: its metrics come from one fold
    agg = aggregate_metrics([fold(0.8, 0.9), {"a": {"f1_weighted": 0.6, "acc": 0.7}}])
    assert agg["b"]["acc"] == {"mean": 0.9, "std": None, "n": 1, "values": [0.9]}
    rows = results_table(agg)
    md = table_markdown(rows)
    # before: std 0.0000, as if the folds agreed exactly
    assert "| b | acc | 0.9000 | - | 0.9000 | 0.9000 |" in md
    assert "Over fewer than 2 folds (a task unlabelled in a test fold): b/f1_weighted (1)" in md
    assert "nan" not in table_text(rows)


def test_a_task_without_training_labels_leaves_the_fold_and_its_mean() -> None:
    # material's head saw no label (its labels all in the test part): 0.3333 is noise, and the
    # baselines, which cannot fit it, average over sample_type alone
    nested = {
        "sample_type": {"f1_weighted": 1.0, "loss": 0.2},
        "material": {"f1_weighted": 1 / 3, "loss": 1.4},
        "overall": {"f1_weighted": 2 / 3, "loss": 0.8},
    }
    kept, dropped = drop_untrained_tasks(nested, ["material", "host"])
    assert dropped == ["material"]
    assert kept == {
        "sample_type": {"f1_weighted": 1.0, "loss": 0.2},
        "overall": {"f1_weighted": 1.0, "loss": 0.2},
    }
    assert drop_untrained_tasks(nested, []) == (nested, [])
