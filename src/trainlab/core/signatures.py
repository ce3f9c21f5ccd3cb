"""Read the parameters of a ``_target_`` from its source, without importing it.

Config checks run before torch and Lightning are imported (a config error must answer in well
under a second), so the parameters of our own classes and functions are read with ``ast``.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Param:
    """One parameter of a target: its name, annotation text and whether it has a default."""

    name: str
    annotation: str | None
    required: bool


@dataclass(frozen=True)
class TargetSignature:
    """The named parameters of a target and whether it also takes ``**kwargs``."""

    params: dict[str, Param]
    var_keyword: bool


def read_signature(target: str) -> TargetSignature | None:
    """Return the signature of ``target`` (``pkg.module.Name``) or None when it cannot be read.

    Only targets inside ``trainlab`` are read; others (torch, lightning) would need importing.
    """
    if not target.startswith("trainlab."):
        return None
    module_name, _, name = target.rpartition(".")
    return _read(module_name, name)


@lru_cache(maxsize=256)
def _read(module_name: str, name: str) -> TargetSignature | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return _from_args(node.args, skip_self=False)
        if isinstance(node, ast.ClassDef) and node.name == name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return _from_args(item.args, skip_self=True)
            if _is_dataclass(node):
                return _from_fields(node)
            return _inherited(tree, module_name, node)
    return None


def _inherited(tree: ast.Module, module_name: str, node: ast.ClassDef) -> TargetSignature | None:
    """The ``__init__`` of the first base class, when that base lives in trainlab."""
    if not node.bases or not isinstance(node.bases[0], ast.Name):
        return None
    base = node.bases[0].id
    imported = {
        alias.asname or alias.name: item.module
        for item in tree.body
        if isinstance(item, ast.ImportFrom) and item.module
        for alias in item.names
    }
    origin = imported.get(base, module_name)
    if not origin.startswith("trainlab"):
        return None
    return _read(origin, base)


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def _from_fields(node: ast.ClassDef) -> TargetSignature:
    """The ``__init__`` a ``@dataclass`` generates: one parameter per annotated field."""
    params: dict[str, Param] = {}
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            annotation = ast.unparse(item.annotation)
            if annotation.startswith(("ClassVar", "typing.ClassVar")):
                continue
            name = item.target.id
            params[name] = Param(name, annotation, item.value is None)
    return TargetSignature(params, var_keyword=False)


def _from_args(args: ast.arguments, skip_self: bool) -> TargetSignature:
    positional = list(args.posonlyargs) + list(args.args)
    if skip_self and positional:
        positional = positional[1:]
    n_without_default = len(positional) - len(args.defaults)
    params: dict[str, Param] = {}
    for index, arg in enumerate(positional):
        params[arg.arg] = Param(arg.arg, _annotation(arg), index < n_without_default)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params[arg.arg] = Param(arg.arg, _annotation(arg), default is None)
    return TargetSignature(params, args.kwarg is not None)


def _annotation(arg: ast.arg) -> str | None:
    return ast.unparse(arg.annotation) if arg.annotation is not None else None
