"""`trainlab <subcommand> --help` answers from the configs folder, as Hydra's help does, faster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

from trainlab.cli.help import config_groups, wants_quick_help


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def _groups_block(text: str) -> str:
    return text.split("== Configuration groups ==", 1)[1].split("== Config ==", 1)[0].strip()


def test_only_plain_help_takes_the_quick_path() -> None:
    assert wants_quick_help(["--help"]) and wants_quick_help(["data.batch_size=8", "-h"])
    assert not wants_quick_help(["data.batch_size=8"])
    assert not wants_quick_help(["--help", "--resolve"])
    assert not wants_quick_help(["--hydra-help"])


def test_groups_are_the_folders_of_yaml_files_outside_hydra(tmp_path: Path) -> None:
    for rel in ("train.yaml", "model/b.yaml", "model/a.yaml", "experiment/x/one.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    (tmp_path / "hydra" / "job_logging").mkdir(parents=True)
    (tmp_path / "hydra" / "job_logging" / "rich.yaml").write_text("{}\n")
    assert config_groups(tmp_path) == {"experiment/x": ["one"], "model": ["a", "b"]}


def test_help_lists_what_hydra_lists_and_applies_overrides(tmp_path: Path) -> None:
    quick = _run(tmp_path, "train", "--help", "trainer.max_epochs=3")
    assert quick.returncode == 0, quick.stderr
    assert "max_epochs: 3" in quick.stdout
    hydra_own = _run(tmp_path, "train", "--help", "--resolve", "trainer.max_epochs=3")
    assert hydra_own.returncode == 0, hydra_own.stderr
    assert "is powered by Hydra" in hydra_own.stdout  # --resolve goes to Hydra's help
    assert _groups_block(quick.stdout) == _groups_block(hydra_own.stdout)


def test_help_answers_without_importing_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from trainlab.cli.main import main\n"
        "main(['train', '--help'])\n"
        "print('torch' in sys.modules, 'lightning' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    from trainlab import __version__

    done = _run(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"trainlab {__version__}"
    assert __version__ == version("trainlab")
