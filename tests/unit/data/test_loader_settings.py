"""LoaderSettings: the one data.loader node, its checks and the DataLoader arguments it gives."""

from __future__ import annotations

import pytest

from trainlab.data.loader_settings import LoaderSettings
from trainlab.errors import ConfigError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"num_workers": -1}, "`data.loader.num_workers=-1` must be an integer >= 0"),
        ({"num_workers": True}, "`data.loader.num_workers=True` must be an integer"),
        ({"num_workers": "4"}, "`data.loader.num_workers='4'` must be an integer"),
        ({"prefetch_factor": 0}, "`data.loader.prefetch_factor=0` must be an integer >= 1"),
        ({"pin_memory": "yes"}, "`data.loader.pin_memory='yes'`: use true, false or null"),
        ({"multiprocessing_context": "fok"}, "fork, spawn, forkserver, or null"),
        ({"num_worker": 2}, "`data.loader.num_worker` is not a loader setting: use one of"),
    ],
)
def test_bad_settings_name_the_key_the_value_and_the_fix(given: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        LoaderSettings.coerce(given)
    assert expected in str(err.value)


def test_coerce_takes_a_config_node_its_own_type_or_nothing() -> None:
    node = {"_target_": "trainlab.data.loader_settings.LoaderSettings", "num_workers": 2}
    assert LoaderSettings.coerce(node) == LoaderSettings(num_workers=2)
    settings = LoaderSettings(pin_memory=True)
    assert LoaderSettings.coerce(settings) is settings
    assert LoaderSettings.coerce(None) == LoaderSettings()
    with pytest.raises(ConfigError, match="is not a mapping"):
        LoaderSettings.coerce(4)


def test_hardware_defaults_fill_only_what_the_config_left_null() -> None:
    hardware = {"num_workers": 7, "pin_memory": True, "persistent_workers": True, "other": 1}
    filled = LoaderSettings(num_workers=0).with_defaults(hardware)
    assert filled == LoaderSettings(num_workers=0, pin_memory=True, persistent_workers=True)


def test_dataloader_arguments_drop_what_torch_refuses_without_workers() -> None:
    settings = LoaderSettings(
        num_workers=0, pin_memory=True, persistent_workers=True, prefetch_factor=4,
        multiprocessing_context="spawn",
    )  # fmt: skip
    assert settings.dataloader_kwargs() == {
        "num_workers": 0,
        "pin_memory": True,
        "persistent_workers": False,
    }
    assert LoaderSettings().dataloader_kwargs("spawn") == {"persistent_workers": False}


def test_with_workers_every_setting_passes_and_the_start_method_defaults() -> None:
    settings = LoaderSettings(num_workers=2, persistent_workers=True, prefetch_factor=4)
    assert settings.dataloader_kwargs("forkserver") == {
        "num_workers": 2,
        "persistent_workers": True,
        "prefetch_factor": 4,
        "multiprocessing_context": "forkserver",
    }
    chosen = LoaderSettings(num_workers=2, multiprocessing_context="spawn")
    assert chosen.dataloader_kwargs("forkserver")["multiprocessing_context"] == "spawn"
    assert "multiprocessing_context" not in settings.dataloader_kwargs()
