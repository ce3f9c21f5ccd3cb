"""The Docker build context holds no secrets and no machine-specific configs (.dockerignore)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_env_files_and_local_configs_stay_out_of_the_build_context(tmp_path: Path) -> None:
    build = pytest.importorskip("docker.utils.build")  # Docker's own .dockerignore matcher
    root = tmp_path / "repo"
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copy(REPO / ".dockerignore", root / ".dockerignore")
    for name in (
        ".env",
        ".env.prod",
        ".env.example",
        "configs/local/default.yaml",
        "configs/local/cluster.yaml",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("WANDB_API_KEY=planted\n")
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sent = build.exclude_paths(str(root), patterns)
    assert ".env.example" in sent and "configs/train.yaml" in sent
    for name in (".env", ".env.prod", "configs/local/default.yaml", "configs/local/cluster.yaml"):
        assert name not in sent, name
