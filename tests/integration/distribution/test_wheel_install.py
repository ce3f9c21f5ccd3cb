"""The built wheel is a working trainlab outside the checkout: configs inside the package, the
user's config folder and .env of the working folder honoured.

Builds the wheel (no build isolation: setuptools is already here, nothing is downloaded),
installs it into a fresh venv that reuses this environment's installed dependencies through a
.pth line (the checkout's editable install is not picked up: .pth files of a folder added that
way are not read), and trains a fast dev run from an empty folder in tmp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from tests.conftest import REPO

KMER_SMALL = "{n_samples: 120, n_unitigs: 120, n_projects: 8, seed: 1}"


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300):
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", dist, REPO, cwd=dist)  # fmt: skip
    (found,) = dist.glob("trainlab-*.whl")
    return found


def test_the_wheel_ships_configs_license_types_and_plugins(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.removeprefix("trainlab/configs/") for n in names if "/configs/" in n)
    expected = sorted(
        str(p.relative_to(REPO / "configs"))
        for p in (REPO / "configs").rglob("*.yaml")
        if p.relative_to(REPO / "configs").parts[0] != "local"  # machine-specific, git-ignored
    )
    assert shipped == expected and "train.yaml" in shipped
    assert "trainlab/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "hydra_plugins/trainlab_searchpath/searchpath.py" in names


def test_installed_wheel_trains_from_an_empty_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "_trainlab_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
         "--no-deps", "--no-index", wheel, cwd=tmp_path)  # fmt: skip

    work = tmp_path / "empty"
    # the user's own folder: a new experiment, and a shipped file replaced (no baselines)
    mine = work / "myconfigs"
    (mine / "experiment").mkdir(parents=True)
    (mine / "experiment" / "mine.yaml").write_text(
        f"# @package _global_\ndefaults:\n  - kmer/diana\ntags: [from_user_folder]\n"
        f"data:\n  synthetic: {KMER_SMALL}\n"
    )
    (mine / "baselines").mkdir()
    (mine / "baselines" / "default.yaml").write_text("enabled: false\nlinear: false\n")
    # .env of the working folder: read at start, the environment wins over it
    (work / ".env").write_text(
        "# written by the test\nTRAINLAB_LOG_DIR=runs_from_dotenv\n"
        "export TRAINLAB_CONFIG_DIR='myconfigs'\nTRAINLAB_DATA_DIR=data_from_dotenv\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINLAB_", "PYTHON"))}
    env["TRAINLAB_DATA_DIR"] = str(tmp_path / "data_from_env")
    python = venv / "bin" / "python"
    where = _run(python, "-c", "import trainlab.cli.app as a; print(a.__file__, a.config_dir())",
                 cwd=work, env=env).stdout.split()  # fmt: skip
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the checkout
    assert _run(venv / "bin" / "trainlab", "--version", cwd=work, env=env).stdout.startswith(
        "trainlab "
    )
    _run(venv / "bin" / "trainlab", "train", "experiment=mine", "debug=fdr", "run_name=wheel",
         "extras.print_config=false", "logger=csv", "~callbacks.progress_bar",
         cwd=work, env=env, timeout=600)  # fmt: skip

    run = work / "runs_from_dotenv" / "debug" / "runs" / "wheel"  # TRAINLAB_LOG_DIR from .env
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    config = (run / "config.yaml").read_text()
    assert "from_user_folder" in config  # the user's experiment
    assert json.loads((run / "metrics.json").read_text())
    assert not (run / "baselines.json").exists()  # the user's baselines/default.yaml won
    assert (tmp_path / "data_from_env" / "kmer_synthetic").is_dir()  # the environment won
    assert not (work / "data_from_dotenv").exists()
