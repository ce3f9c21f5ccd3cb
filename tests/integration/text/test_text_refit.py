"""best_config=<path> merges a search's best values; refit trains one config over seeds."""

import json

import yaml
from text_runs import TINY_ENCODER, run_trainlab

FAST = [*TINY_ENCODER, "trainer.max_epochs=1"]


def test_refit_with_best_config_over_two_seeds(tmp_path):
    best = tmp_path / "best_config.yaml"
    best.write_text(
        yaml.safe_dump({"model": {"optimizer": {"lr": 0.004}}, "data": {"batch_size": 8}})
    )
    run_trainlab(
        "refit",
        "experiment=text/criteria",
        f"best_config={best}",
        "seeds=[3,4]",
        "run_name=refit",
        "data.batch_size=16",
        *FAST,
        root=tmp_path,
    )
    folder = tmp_path / "logs" / "refit" / "runs" / "refit"
    summary = json.loads((folder / "refit_summary.json").read_text())
    assert summary["seeds"] == [3, 4] and len(summary["runs"]) == 2
    assert {"test/f1_macro", "val/f1_macro"} <= summary["mean"].keys()
    values = [r["metrics"]["test/f1_macro"] for r in summary["runs"]]
    assert abs(summary["mean"]["test/f1_macro"] - sum(values) / 2) < 1e-9
    assert summary["std"]["test/f1_macro"] >= 0
    for seed in (3, 4):
        config = yaml.safe_load((folder / f"seed_{seed}" / "config.yaml").read_text())
        assert config["seed"] == seed
        assert config["model"]["optimizer"]["lr"] == 0.004  # merged from best_config
        assert config["data"]["batch_size"] == 16  # the command line wins
        assert (folder / f"seed_{seed}" / "checkpoints" / "best.ckpt").is_file()
