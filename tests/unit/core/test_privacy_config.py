"""DP settings and the trainer settings refused with them, checked without torch or Opacus."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from trainlab.core.privacy_config import PrivacySettings, check_privacy_config
from trainlab.errors import ConfigError


def _cfg(privacy: dict | None, **trainer) -> dict:
    base = {"precision": 32, "devices": 1, "accumulate_grad_batches": 1, "max_epochs": 3}
    return OmegaConf.create({"privacy": privacy, "trainer": {**base, **trainer}})


DP = {"target_epsilon": 8.0, "target_delta": 1e-5, "max_grad_norm": 1.0}


def test_dp_off_and_valid_settings_pass():
    assert check_privacy_config(_cfg(None)) is None
    settings = check_privacy_config(_cfg(DP, precision="auto"))
    assert settings == PrivacySettings(None, 8.0, 1e-5, 1.0)


@pytest.mark.parametrize(
    ("privacy", "message"),
    [
        ({**DP, "noise_multiplier": 1.0}, r"both privacy.noise_multiplier=1.0 and .*give one"),
        ({"target_delta": 1e-5, "max_grad_norm": 1.0}, r"neither privacy.noise_multiplier"),
        ({"target_epsilon": 8.0, "max_grad_norm": 1.0}, r"privacy.target_delta is missing"),
        ({**DP, "target_delta": 1.5}, r"target_delta=1.5 must be in \(0, 1\)"),
        ({**DP, "max_grad_norm": 0.0}, r"max_grad_norm=0.0 must be > 0"),
        ({**DP, "accountant": "moments"}, r"accountant='moments'"),
    ],
)
def test_wrong_privacy_settings_are_refused(privacy, message):
    with pytest.raises(ConfigError, match=message):
        check_privacy_config(_cfg(privacy))


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"precision": "16-mixed"}, r"trainer.precision=16-mixed: .*set trainer.precision=32"),
        ({"precision": "bf16-mixed"}, r"trainer.precision=bf16-mixed"),
        ({"strategy": "ddp", "devices": 2}, r"trainer.strategy=ddp .*one device"),
        ({"devices": [0, 1]}, r"devices=\[0, 1\]"),
        ({"num_nodes": 2}, r"num_nodes=2"),
        ({"accumulate_grad_batches": 4}, r"accumulate_grad_batches=4: .*set it to 1"),
        ({"gradient_clip_val": 0.5}, r"gradient_clip_val=0.5: .*privacy.max_grad_norm"),
        ({"max_epochs": -1}, r"max_epochs=-1: privacy.target_epsilon is spent"),
    ],
)
def test_trainer_settings_incompatible_with_dp_are_refused(trainer, message):
    with pytest.raises(ConfigError, match=message):
        check_privacy_config(_cfg(DP, **trainer))


def test_fixed_noise_does_not_need_planned_epochs():
    privacy = {"noise_multiplier": 1.1, "target_delta": 1e-5, "max_grad_norm": 1.0}
    assert check_privacy_config(_cfg(privacy, max_epochs=-1)).noise_multiplier == 1.1
