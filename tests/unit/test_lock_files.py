"""requirements/: the lock `make install` uses covers pyproject's dependencies with exact pins
and hashes, holds no CUDA package, and torch's pin lives in one place with the hash of the
wheel pip is served here."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tests.conftest import REPO

REQ = REPO / "requirements"
ENTRY = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", re.M)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    text = path.read_text()
    found = {
        _norm(m.group(1)): (m.group(2), re.findall(r"sha256:([0-9a-f]{64})", m.group(3)))
        for m in ENTRY.finditer(text)
    }
    pinned = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(found) == len(pinned), f"{path.name}: an entry without == or without hashes"
    return found


def _makefile_extras() -> list[str]:
    match = re.search(r"^EXTRAS \?= (\S+)$", (REPO / "Makefile").read_text(), re.M)
    return match.group(1).split(",")


def test_lock_pins_every_dependency_with_hashes_and_no_cuda() -> None:
    lock = _entries(REQ / "lock.txt")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in _makefile_extras():
        wanted += project["optional-dependencies"][extra]
    names = {_norm(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]) for req in wanted}
    assert names - {"torch"} <= set(lock), sorted(names - {"torch"} - set(lock))
    assert "torch" not in lock  # torch-cpu.txt has it; images install their CUDA build
    cuda = sorted(n for n in lock if n.startswith(("nvidia-", "triton", "cuda-")))
    assert not cuda, cuda


def test_torch_pin_lives_in_constraints_only() -> None:
    (pin,) = re.findall(r"^torch==(\S+)$", (REQ / "constraints.txt").read_text(), re.M)
    version, hashes = _entries(REQ / "torch-cpu.txt")["torch"]
    assert version.split("+")[0] == pin and hashes
    for path in (REPO / "Makefile", REPO / "pyproject.toml"):
        assert f"torch=={pin}" not in path.read_text(), f"{path.name} repeats the torch pin"


def test_torch_hash_is_the_wheel_pip_serves_here(tmp_path: Path) -> None:
    (pin,) = re.findall(r"^torch==(\S+)$", (REQ / "constraints.txt").read_text(), re.M)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", f"torch=={pin}", "--no-deps", "--no-index",
         "-d", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"no local torch {pin} wheel in pip's find-links here: {done.stderr[-300:]}")
    (wheel,) = tmp_path.glob("torch-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest in _entries(REQ / "torch-cpu.txt")["torch"][1]
