"""Every experiment composes, passes the config checks and runs a fast dev run to the end;
every option of every config group composes and validates.

Each pipeline's experiments run on its embedded data (written on first use under a session
data folder), so a new experiment file or group option is covered the moment it is added.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig
from tests.conftest import FAST, REPO

EXPERIMENTS = sorted(
    str(p.relative_to(REPO / "configs" / "experiment").with_suffix(""))
    for p in (REPO / "configs" / "experiment").rglob("*.yaml")
)
MODELS = sorted(p.stem for p in (REPO / "configs" / "model").glob("*.yaml"))


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded-data")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_a_fast_dev_run(
    experiment: str, run_cli, shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch, log_dir
) -> None:
    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(shared_data_dir))
    extra = _user_data_args(experiment, shared_data_dir)
    assert run_cli("train", f"experiment={experiment}", "debug=fdr", *FAST, *extra) == 0
    runs = list((log_dir / "debug" / "runs").iterdir())
    assert len(runs) == 1
    status = json.loads((runs[0] / "status.json").read_text())
    assert status["status"] == "finished", status
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert any(k.startswith("test/") for k in metrics), metrics  # it ran to the test
    assert all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))
    assert "status: finished" in (runs[0] / "summary.txt").read_text()


def _user_data_args(experiment: str, data_dir: Path) -> list[str]:
    """Experiments that train on the user's own data get the embedded digits as that data."""
    if experiment != "images/folder":
        return []
    folder = data_dir / "digits_as_user_folder"
    if not (folder / "splits").is_dir():
        from trainlab.data.images.digits import write_digits
        from trainlab.data.images.split import split_folder

        write_digits(folder)
        split_folder(folder)
    return [f"data.data_dir={folder}"]


def _models_used_by_experiments() -> set[str]:
    used = set()
    for path in (REPO / "configs" / "experiment").rglob("*.yaml"):
        for entry in yaml.safe_load(path.read_text()).get("defaults", []) or []:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    if key.replace("override ", "").strip("/ ") == "model":
                        used.add(value)
    return used


def test_every_model_config_is_run_by_an_experiment() -> None:
    unused = sorted(set(MODELS) - _models_used_by_experiments())
    assert not unused, f"configs/model/{unused[0]}.yaml is not used by any experiment"


CONFIGS = REPO / "configs"
# groups that are Hydra's own or machine-specific (git-ignored), not options of a run
NOT_RUN_GROUPS = ("hydra", "local")
# folders that are groups of their own inside a group (`data/loader=default`), not options with a
# slash in their name (`experiment=images/digits`)
NESTED_GROUPS = ("data/loader",)
# primary configs other than train, with the required values their schema asks for
PRIMARY = {
    "eval": ["ckpt_path=model.ckpt"],
    "predict": ["ckpt_path=model.ckpt", "input=images"],
    "split": ["data_dir=data/digits"],
    "prior": ["checkpoints=[a.ckpt]"],
    "convert": ["inputs=[a.mgf]", "root=spectra"],
    "refit": ["seeds=[1,2]"],
    "cv": [],
}


def _group_options() -> list[tuple[str, str]]:
    options = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        rel = path.relative_to(CONFIGS)
        if len(rel.parts) < 2 or rel.parts[0] in NOT_RUN_GROUPS:
            continue
        folder = "/".join(rel.parts[:-1])
        if folder in NESTED_GROUPS:
            options.append((folder, rel.stem))
        else:
            options.append((rel.parts[0], str(Path(*rel.parts[1:]).with_suffix(""))))
    return options


def _experiment_using(group: str, option: str) -> str | None:
    """An experiment that selects ``group=option`` (data and model need their experiment)."""
    for path in sorted((CONFIGS / "experiment").rglob("*.yaml")):
        for entry in yaml.safe_load(path.read_text()).get("defaults", []) or []:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    if key.replace("override ", "").strip("/ ") == group and value == option:
                        return str(path.relative_to(CONFIGS / "experiment").with_suffix(""))
    return None


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose(config_name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


GROUP_OPTIONS = _group_options()


@pytest.mark.parametrize(
    ("group", "option"), GROUP_OPTIONS, ids=[f"{g}={o}" for g, o in GROUP_OPTIONS]
)
def test_every_group_option_composes_and_validates(
    group: str,
    option: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trainlab.cli.train import TRAIN_SCHEMA
    from trainlab.core.schema import validate

    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(tmp_path))  # nothing is read from the checkout
    overrides = [f"{group}={option}"]
    if group in ("data", "model"):
        experiment = _experiment_using(group, option)
        assert experiment, f"configs/{group}/{option}.yaml is used by no experiment"
        overrides = [f"experiment={experiment}", *overrides]
    experiment = option if group == "experiment" else overrides[0].partition("=")[2]
    # an experiment on the user's own folder needs one (written outside TRAINLAB_DATA_DIR)
    user_data = tmp_path_factory.mktemp("user_data")
    cfg = _compose("train", [*overrides, *_user_data_args(experiment, user_data)])
    validate(cfg, TRAIN_SCHEMA)
    assert not list(tmp_path.iterdir()), "validation must not write data"


@pytest.mark.parametrize("config_name", sorted(PRIMARY))
def test_every_entry_point_config_composes_and_validates(
    config_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from trainlab.cli.main import SUBCOMMANDS
    from trainlab.core.schema import validate

    monkeypatch.setenv("TRAINLAB_DATA_DIR", str(tmp_path))
    command = {"eval": "eval"}.get(config_name, config_name)
    module = importlib.import_module(SUBCOMMANDS[command][0])
    schema = getattr(module, f"{config_name.upper()}_SCHEMA")
    validate(_compose(config_name, PRIMARY[config_name]), schema)
    assert (CONFIGS / f"{config_name}.yaml").is_file()


def test_every_primary_config_is_covered() -> None:
    primaries = {p.stem for p in CONFIGS.glob("*.yaml")} - {"train"}
    assert primaries == set(PRIMARY), primaries ^ set(PRIMARY)
