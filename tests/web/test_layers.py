"""The web family's layers, read from the source with ``ast``: arrows point down and nothing cycles.

bottom (page, commands, render, image, wsgi) <- sites <- tasks, backends <- env. A site never imports a
task, a backend or the env; tasks and backends never import each other; nothing imports the env (the
registration names it by string). Function-local imports count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "envs" / "web"
PREFIX = "rlft.envs.web"
RANK = {"bottom": 0, "sites": 1, "tasks": 2, "backends": 2, "env": 3}


def _module(path: Path) -> str:
    parts = [PREFIX, *path.relative_to(WEB).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    first = module.removeprefix(PREFIX + ".").split(".")[0]
    layers = {"env": "env", "backends": "backends", "task": "tasks", "tasks": "tasks", "site": "sites"}
    return layers.get(first, "sites" if first == "sites" else "bottom")


def _named_module(node: ast.AST) -> str | None:
    """The module an ``import`` statement names itself (``from X import y``: ``X``)."""
    return node.module if isinstance(node, ast.ImportFrom) else None


def _edges() -> dict[str, set[str]]:
    modules = {_module(path): path for path in WEB.rglob("*.py")}
    edges: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                for end in range(3, len(parts) + 1):
                    target = ".".join(parts[:end])
                    # Importing a.b.c runs a.b's __init__ too; only the importer's own packages are
                    # exempt, unless it names one of them explicitly (``from its.package import x``).
                    implicit = module.startswith(target + ".") and target != _named_module(node)
                    if target in modules and target != module and not implicit:
                        edges[module].add(target)
    return edges


EDGES = _edges()


def test_the_scan_sees_the_package() -> None:
    assert f"{PREFIX}.env" in EDGES and f"{PREFIX}.tasks.forms.task" in EDGES
    assert f"{PREFIX}.sites.shop.site" in EDGES[f"{PREFIX}.tasks.shop"]


@pytest.mark.parametrize("module", sorted(EDGES))
def test_arrows_point_down(module: str) -> None:
    for target in sorted(EDGES[module]):
        here, there = _layer(module), _layer(target)
        upward = RANK[there] > RANK[here] or (here != there and RANK[here] == RANK[there])
        assert not upward, f"{module} ({here}) must not import {target} ({there})"
        assert there != "env" or here == "env", f"nothing imports the env: {module} -> {target}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(EDGES[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(EDGES):
        if module not in state:
            visit(module)
