"""build_datamodule: the data.loader node, hardware defaults, older configs and clear errors."""

from __future__ import annotations

import logging

import pytest
from omegaconf import OmegaConf

from trainlab.core.build import build_datamodule
from trainlab.data.contract import PredictingDataModule, missing_members
from trainlab.data.loader_settings import LoaderSettings
from trainlab.errors import ConfigError, DataError

IMAGES = "trainlab.data.images.datamodule.ImageFolderDataModule"
LOADER = "trainlab.data.loader_settings.LoaderSettings"
HARDWARE = {"num_workers": 5, "pin_memory": True, "persistent_workers": True}


def test_the_loader_node_becomes_settings_filled_from_the_hardware() -> None:
    cfg = OmegaConf.create(
        {"_target_": IMAGES, "data_dir": "x", "loader": {"_target_": LOADER, "num_workers": 1}}
    )
    datamodule = build_datamodule(cfg, HARDWARE)
    assert datamodule.loader_settings == LoaderSettings(1, True, True)


def test_a_checkpoint_config_with_flat_loader_keys_still_builds() -> None:
    # written before data.loader existed: the keys sat beside the DataModule's own
    old = {"_target_": IMAGES, "data_dir": "x", "num_workers": 2, "pin_memory": None}
    datamodule = build_datamodule(OmegaConf.create(old), HARDWARE)
    assert datamodule.loader_settings == LoaderSettings(2, True, True)
    both = OmegaConf.create({**old, "loader": {"_target_": LOADER, "num_workers": 3}})
    assert build_datamodule(both).loader_settings.num_workers == 3  # the node wins


def test_a_datamodule_error_keeps_its_own_message() -> None:
    cfg = OmegaConf.create({"_target_": IMAGES, "data_dir": "x", "channels": 2})
    with pytest.raises(DataError, match=r"^data.channels=2: use 1"):
        build_datamodule(cfg)
    bad = {"_target_": IMAGES, "data_dir": "x", "loader": {"_target_": LOADER, "num_workers": -2}}
    with pytest.raises(ConfigError, match=r"^`data.loader.num_workers=-2` must be"):
        build_datamodule(OmegaConf.create(bad))


class Plain:
    """A DataModule of one's own without trainlab's contract."""

    def spec(self) -> dict:
        return {"tasks": {}}


def test_a_datamodule_without_the_contract_builds_and_is_named(caplog) -> None:
    cfg = OmegaConf.create({"_target_": f"{__name__}.Plain"})
    from trainlab.core import allowlist

    before = allowlist.current()[len(allowlist.DEFAULT_ALLOWED) :]
    allowlist.use_extension([*before, f"{__name__}.Plain"])
    try:
        with caplog.at_level(logging.WARNING, logger="trainlab.core.build"):
            assert isinstance(build_datamodule(cfg, HARDWARE), Plain)
    finally:
        allowlist.use_extension(before)
    assert "Plain lacks baseline_features, class_counts, loader_settings" in caplog.text
    predicting = ["predict_dataloader", "setup_predict", "write_predictions"]
    assert missing_members(Plain(), PredictingDataModule) == predicting
