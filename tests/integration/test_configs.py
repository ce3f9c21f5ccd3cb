"""Every experiment composes, passes the config checks and runs a fast dev run.

Each pipeline's experiments run on its embedded data (written on first use under a session
data folder), so a new experiment file is covered the moment it is added.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
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
    assert len(runs) == 1 and (runs[0] / "status.json").is_file()


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
