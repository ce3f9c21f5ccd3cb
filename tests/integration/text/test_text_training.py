"""Each text task trains a few steps with the tiny encoder through the real core."""

import json

import pytest
import torch
from text_runs import TINY, compose_config

from trainlab.cli.train import TRAIN_SCHEMA
from trainlab.core.schema import validate
from trainlab.core.train import train


@pytest.mark.parametrize(
    ("experiment", "expected"),
    [
        ("text/criteria", {"test/f1_macro", "test/acc", "val/f1_macro"}),
        ("text/evidence", {"test/em", "test/token_f1", "val/token_f1"}),
        ("text/joint", {"test/f1_macro", "test/em", "test/token_f1", "test/criteria_loss"}),
        ("text/shared", {"test/f1_macro", "test/em", "test/evidence_loss"}),
    ],
)
def test_each_task_trains_with_the_tiny_encoder(tmp_path, experiment, expected):
    cfg = compose_config("train", [f"experiment={experiment}", *TINY], tmp_path)
    validate(cfg, TRAIN_SCHEMA)
    metrics = train(cfg, [])
    assert expected <= metrics.keys()
    assert all(0.0 <= metrics[k] <= 1.0 for k in expected if "loss" not in k)
    run = tmp_path / "run"
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    spec = ckpt["trainlab"]["spec"]
    assert spec["tasks"] == {"status": ["absent", "present"]} and spec["vocab_size"] > 10
    assert json.loads((run / "metrics.json").read_text())
    if experiment != "text/criteria":
        check_span_baselines(run, metrics, criteria=experiment != "text/evidence")
    # the split is written once next to the data and reused by the next task
    assert (tmp_path / "data" / "text" / "synthetic" / "splits.json").is_file()


def test_training_options_gradient_checkpointing_accumulation_and_schedule(tmp_path):
    overrides = [
        "experiment=text/criteria",
        *TINY,
        "model.net.gradient_checkpointing=true",
        "trainer.accumulate_grad_batches=2",
        "trainer.gradient_clip_val=0.5",
        "model.lr_schedule=cosine",
        "model.warmup_ratio=0.3",
        "trainer.precision=bf16-mixed",
    ]
    cfg = compose_config("train", overrides, tmp_path)
    metrics = train(cfg, [])
    assert "test/f1_macro" in metrics


def check_span_baselines(run, metrics: dict, criteria: bool) -> None:
    """The span baselines sit beside the model's em/token_f1 in baselines.json and summary.txt,
    on the same test rows; evidence data (every row a positive) has no class baselines."""
    block = json.loads((run / "baselines.json").read_text())
    for name in ("majority", "logistic_regression"):
        scores = block["scores"][name]
        assert {"test/em", "test/token_f1"} <= scores.keys()
        assert ("test/f1_macro" in scores) == criteria
        assert 0 <= scores["test/em"] <= scores["test/token_f1"] <= 1
    summary = (run / "summary.txt").read_text()
    line = next(r for r in summary.splitlines() if r.strip().startswith("test/token_f1 "))
    assert f"{metrics['test/token_f1']:8.4f}" in line
