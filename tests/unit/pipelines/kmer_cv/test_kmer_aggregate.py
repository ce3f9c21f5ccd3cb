"""Aggregation rules over outer folds."""

from pathlib import Path

import pytest

from trainlab.pipelines.kmer_cv.aggregate import (
    aggregate_metrics,
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
    assert agg["a"]["f1_weighted"]["std"] == pytest.approx(0.1)  # population std
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
    assert "| a | f1_weighted | 0.7000 | 0.0816 | 0.6000 | 0.8000 |" in md
    assert "overall" in table_text(rows)
    png = plot_results(agg, tmp_path / "plots" / "results.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
