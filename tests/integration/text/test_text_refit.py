"""best_config=<path> merges a search's best values; refit trains one config over seeds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
FAST = [
    "model.net.encoder=tiny",
    "+model.net.tiny={hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}",
    "data.synthetic_posts=60",
    "data.tiny_vocab_size=400",
    "trainer.max_epochs=1",
    "logger=[csv]",
    "~callbacks.progress_bar",
    "~callbacks.model_summary",
    "extras.print_config=false",
]


def trainlab(*args, root):
    env = {**os.environ, "TRAINLAB_ROOT": str(root), "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "trainlab.cli.main", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_refit_with_best_config_over_two_seeds(tmp_path):
    best = tmp_path / "best_config.yaml"
    best.write_text(
        yaml.safe_dump({"model": {"optimizer": {"lr": 0.004}}, "data": {"batch_size": 8}})
    )
    trainlab(
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
