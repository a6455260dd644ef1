"""Every module of a layered package is in its layers contract (pyproject.toml, import-linter).

import-linter checks only the modules a contract names: a module left out of ``layers`` is
silently unchecked, free to import anything. This test lists each contract's packages on disk and
fails naming any direct child (module or subpackage) that no layer holds. A new router under
``api/routers/`` or a new format under ``corpus/formats/`` is inside a listed package, so it needs
no edit here or in pyproject.toml.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT


def children(package: str) -> set[str]:
    """The direct submodules and subpackages of an importable package, found on disk."""
    module = importlib.import_module(package)
    found: set[str] = set()
    for folder in map(Path, module.__path__):
        for entry in folder.iterdir():
            if entry.suffix == ".py" and entry.stem != "__init__":
                found.add(entry.stem)
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                found.add(entry.name)
    return found


def names_in(layers: Iterable[str]) -> set[str]:
    return {part.strip() for layer in layers for part in layer.split("|") if part.strip()}


def unlisted(contracts: list[dict[str, Any]], find: Callable[[str], set[str]]) -> list[str]:
    """``package.child`` for every child of a layered package that no layer of its contract names."""
    missing: list[str] = []
    for contract in contracts:
        if contract.get("type") != "layers":
            continue
        named = names_in(contract["layers"])
        containers = contract.get("containers")
        if containers:
            for container in containers:
                missing += [f"{container}.{c}" for c in sorted(find(container) - named)]
        else:  # full module names: the root package's children, as kiji.<child>
            roots = {name.rsplit(".", 1)[0] for name in named}
            for root in sorted(roots):
                missing += [f"{root}.{c}" for c in sorted(find(root)) if f"{root}.{c}" not in named]
    return missing


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def test_every_module_of_a_layered_package_is_in_a_layer() -> None:
    layered = [c for c in contracts() if c.get("type") == "layers"]
    assert {p for c in layered for p in c.get("containers", [])} >= \
        {"kiji.api", "kiji.bot", "kiji.cli", "kiji.corpus", "kiji.retrieval"}
    assert unlisted(contracts(), children) == []


def test_a_module_left_out_of_a_contract_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "scratchpkg"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__.py", "top.py", "bottom.py", "forgotten.py", "sub/__init__.py"):
        (pkg / name).write_text("")
    (pkg / "notes.txt").write_text("not a module")
    monkeypatch.syspath_prepend(str(tmp_path))
    layered = [{"type": "layers", "containers": ["scratchpkg"], "layers": ["top", "sub | bottom"]},
               {"type": "forbidden", "source_modules": ["scratchpkg"], "forbidden_modules": ["x"]}]
    assert unlisted(layered, children) == ["scratchpkg.forgotten"]
    root = [{"type": "layers", "layers": ["scratchpkg.top", "scratchpkg.sub | scratchpkg.bottom"]}]
    assert unlisted(root, children) == ["scratchpkg.forgotten"]
