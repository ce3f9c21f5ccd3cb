"""`trainlab eval` on a text checkpoint writes evaluation_report.json with the full metrics."""

import json

import pytest
from text_runs import TINY, compose_config

from trainlab.core.evaluate import evaluate
from trainlab.core.train import train

CLASSIFICATION_KEYS = {
    "accuracy",
    "f1_macro",
    "f1_micro",
    "precision_macro",
    "recall_macro",
    "auroc",
    "confusion_matrix",
    "classification_report",
}


@pytest.mark.parametrize("experiment", ["text/criteria", "text/joint", "text/evidence"])
def test_eval_writes_the_evaluation_report(tmp_path, experiment):
    train(compose_config("train", [f"experiment={experiment}", *TINY], tmp_path / "t"), [])
    ckpt = tmp_path / "t" / "run" / "checkpoints" / "best.ckpt"
    cfg = compose_config("eval", [f"ckpt_path={ckpt}"], tmp_path / "e")
    metrics = evaluate(cfg)
    report = json.loads((tmp_path / "e" / "run" / "evaluation_report.json").read_text())
    assert report["split"] == "test" and report["ckpt_path"] == str(ckpt)
    if experiment != "text/evidence":
        assert report.keys() >= CLASSIFICATION_KEYS
        matrix = report["confusion_matrix"]
        assert len(matrix) == 2 and sum(map(sum, matrix)) == report["n"]
        assert report["classification_report"]["present"]["support"] == sum(matrix[1])
        # the report agrees with the test metrics Lightning logged
        assert report["f1_macro"] == pytest.approx(metrics["test/f1_macro"], abs=1e-5)
    if experiment != "text/criteria":
        evidence = report["evidence"]
        assert evidence["n"] > 0 and 0 <= evidence["exact_match"] <= evidence["token_f1"] <= 1
        assert evidence["token_f1"] == pytest.approx(metrics["test/token_f1"], abs=1e-5)
