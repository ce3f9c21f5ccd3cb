"""DP training on the embedded digits through `trainlab train experiment=images/digits_dp`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tests.conftest import FAST

pytest.importorskip("opacus", reason="DP training needs the `dp` extra (opacus)")


@pytest.fixture
def train_cli(run_cli, digits_dir: Path):
    """Run `trainlab train experiment=images/digits_dp ...` on the shared digits split."""

    def run(*overrides: str) -> int:
        return run_cli(
            "train",
            "experiment=images/digits_dp",
            f"data.data_dir={digits_dir}",
            "data.embedded=null",
            *FAST,
            *overrides,
        )

    return run


def test_one_dp_epoch_logs_epsilon_and_rebuilds_from_its_checkpoint(train_cli, tmp_path):
    assert train_cli("trainer.max_epochs=1", "privacy.accountant=rdp", "run_name=dp") == 0
    run_dir = tmp_path / "logs" / "train" / "runs" / "dp"
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        epsilons = [float(r["train/epsilon"]) for r in csv.DictReader(handle) if r["train/epsilon"]]
    assert len(epsilons) == 1
    # target_epsilon=8 is spent over the planned single epoch
    assert math.isfinite(epsilons[0]) and 7.0 < epsilons[0] <= 8.0 * 1.01
    assert json.loads((run_dir / "metrics.json").read_text())["train/epsilon"] == pytest.approx(
        epsilons[0]
    )

    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert not any("running_mean" in key for key in ckpt["state_dict"])  # GroupNorm, not BN
    assert ckpt["callbacks"]["DifferentialPrivacy"]["accountant"]["history"]
    from trainlab.core.build import build_model

    config = OmegaConf.create(ckpt["trainlab"]["config"])
    rebuilt = build_model(config, ckpt["trainlab"]["spec"])
    rebuilt.load_state_dict(ckpt["state_dict"])  # strict: same architecture as trained


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.precision=16-mixed", "trainer.precision=16-mixed"),
        ("trainer.accumulate_grad_batches=2", "accumulate_grad_batches=2"),
        ("privacy.noise_multiplier=1.0", "both privacy.noise_multiplier=1.0"),
        ("privacy.target_delta=null", "privacy.target_delta is missing"),
    ],
)
def test_incompatible_settings_stop_before_training(train_cli, tmp_path, capsys, override, message):
    assert train_cli(override, "run_name=refused") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "logs" / "train" / "runs" / "refused" / "checkpoints").exists()
