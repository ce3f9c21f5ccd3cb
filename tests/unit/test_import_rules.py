"""Imports flow downward only (docs: design, 'The house in one picture').

nets, data, losses and metrics never import Lightning trainers, Hydra or their callers; nets are
plain torch (no Lightning at all); the leaf modules import nothing of trainlab but its errors.
Every import in a module counts, also those inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "trainlab"
CALLERS = ("trainlab.cli", "trainlab.pipelines", "trainlab.core", "trainlab.models")
CONFIG_TOOLS = ("hydra", "omegaconf")
# package -> module prefixes none of its modules may import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "data": (*CALLERS, "trainlab.nets", *CONFIG_TOOLS),
    "nets": (*CALLERS, "trainlab.data", "lightning", "pytorch_lightning", *CONFIG_TOOLS),
    "losses": (*CALLERS, "trainlab.data", "trainlab.nets", *CONFIG_TOOLS),
    "metrics": (*CALLERS, "trainlab.data", "trainlab.nets", *CONFIG_TOOLS),
}
# leaf modules: importable from every layer, so they import no other trainlab module
LEAVES = ("text_assets.py", "errors.py")
TRAINER_MODULES = ("lightning", "lightning.pytorch", "pytorch_lightning")


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in a module; ``from a import b`` gives ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def trainer_uses(path: Path) -> Iterator[int]:
    """Lines that name Lightning's Trainer (``L.Trainer``, ``from lightning import Trainer``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Trainer":
            yield node.lineno
    for line, name in imports_of(path):
        module, _, last = name.rpartition(".")
        if (last == "Trainer" and module in TRAINER_MODULES) or ".trainer" in name:
            yield line


def _starts(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        where = path.relative_to(PACKAGE.parent)
        for line, name in imports_of(path):
            banned = next((p for p in FORBIDDEN[package] if _starts(name, p)), None)
            if banned:
                found.append(f"{where}:{line} imports {name} ({package}/ never imports {banned})")
        found += [f"{where}:{line} uses Lightning's Trainer" for line in trainer_uses(path)]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_their_callers(package: str) -> None:
    assert (PACKAGE / package).is_dir()
    assert not violations(package), "\n".join(violations(package))


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaf_modules_import_only_the_errors(leaf: str) -> None:
    names = [name for _, name in imports_of(PACKAGE / leaf)]
    inside = [n for n in names if _starts(n, "trainlab") and not _starts(n, "trainlab.errors")]
    assert not inside, f"{leaf} imports {inside}: a leaf module imports no other trainlab module"


def test_the_rule_catches_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from trainlab.nets.mlp import MLP\n    return MLP\n")
    assert list(imports_of(module)) == [(2, "trainlab.nets.mlp.MLP")]
    module.write_text("import lightning as L\n\ntrainer = L.Trainer()\n")
    assert list(trainer_uses(module)) == [3]
