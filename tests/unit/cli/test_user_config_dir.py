"""$TRAINLAB_CONFIG_DIR is searched before trainlab's own configs (trainlab_searchpath plugin):
the user's folder adds experiments and groups and replaces shipped files of the same name;
`hydra.searchpath` folders add to the tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from trainlab.cli.app import config_dir, register_resolvers
from trainlab.cli.config_paths import trusted_config_dir, user_config_dir
from trainlab.errors import ConfigError


def _compose(overrides: list[str]):
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose("train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    (folder / "experiment" / "lab").mkdir(parents=True)
    (folder / "experiment" / "lab" / "small.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /experiment/kmer/diana\n"
        "tags: [mine]\ntrainer:\n  max_epochs: 3\n"
    )
    (folder / "trainer").mkdir()
    # a shipped option replaced: trainer=cpu now logs every 7 steps
    (folder / "trainer" / "cpu.yaml").write_text(
        "defaults:\n  - default\naccelerator: cpu\nlog_every_n_steps: 7\n"
    )
    (folder / "model").mkdir()  # a new option of a shipped group
    shipped = Path(config_dir()) / "model" / "multitask_mlp.yaml"
    (folder / "model" / "my_mlp.yaml").write_text(shipped.read_text())
    return folder


def test_user_folder_adds_and_overrides(mine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compose(["trainer=cpu"]).trainer.log_every_n_steps != 7  # trainlab's own cpu.yaml
    monkeypatch.setenv("TRAINLAB_CONFIG_DIR", str(mine))
    cfg = _compose(["experiment=lab/small"])
    assert list(cfg.tags) == ["mine"] and cfg.trainer.max_epochs == 3
    assert cfg.experiment_name == "kmer/diana"  # built on the shipped experiment
    assert _compose(["trainer=cpu"]).trainer.log_every_n_steps == 7  # the user's file won
    assert _compose(["model=my_mlp"]).model._target_.endswith("MultiHeadClassifier")


def test_hydra_searchpath_adds_a_folder(mine: Path) -> None:
    cfg = _compose([f"hydra.searchpath=[file://{mine}]", "experiment=lab/small"])
    assert list(cfg.tags) == ["mine"]


def test_a_wrong_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINLAB_CONFIG_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"TRAINLAB_CONFIG_DIR=.*missing is not a folder"):
        user_config_dir()


def test_local_file_of_the_user_folder_is_the_trusted_one(
    mine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINLAB_CONFIG_DIR", str(mine))
    assert trusted_config_dir("default") == config_dir()  # the user has no local/default.yaml
    (mine / "local").mkdir()
    (mine / "local" / "default.yaml").write_text("# @package _global_\n")
    assert trusted_config_dir("default") == str(mine)


def test_help_lists_the_options_of_the_user_folder(
    mine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainlab.cli.help import help_text

    monkeypatch.setenv("TRAINLAB_CONFIG_DIR", str(mine))
    GlobalHydra.instance().clear()
    lines = help_text(config_dir(), "train", []).splitlines()
    model = next(line for line in lines if line.startswith("model: "))
    assert "my_mlp" in model and "multitask_mlp" in model
    assert any(line.startswith("experiment/lab: small") for line in lines)
