"""Build hook: the Hydra config tree ships inside the wheel as ``trainlab/configs``.

The tree stays at the repository root (``configs/``), where a checkout, editable installs,
the tests and the root shims use it; a wheel gets a copy at build time, and
``trainlab.cli.config_paths.config_dir`` finds that copy first. Everything else about the
build is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIGS = Path(__file__).resolve().parent / "configs"
# machine-specific and git-ignored (it may name this machine's paths and trusted targets)
LOCAL_ONLY = ("local",)


class BuildPyWithConfigs(build_py):
    """``build_py`` that also copies ``configs/*.yaml`` into ``<build>/trainlab/configs``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads configs/ of the checkout
        if not (CONFIGS / "train.yaml").is_file():
            raise SystemExit(f"setup.py: {CONFIGS}/train.yaml is missing: build from a checkout")
        target = Path(self.build_lib) / "trainlab" / "configs"
        shutil.rmtree(target, ignore_errors=True)
        for source in sorted(CONFIGS.rglob("*.yaml")):
            relative = source.relative_to(CONFIGS)
            if relative.parts[0] in LOCAL_ONLY:
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


setup(cmdclass={"build_py": BuildPyWithConfigs})
