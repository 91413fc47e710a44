"""The package's layering: which part may import which, and no import cycles.

Every module the wheel ships (pyproject's ``[tool.setuptools]`` packages and package-dir) is parsed with
``ast``. An *arrow* ``A -> B`` is recorded for each reference from module A to module B of the package:

- ``import rlft.x``, ``from rlft.x import y``, ``from . import y``, ``from ..x import y``: at module level,
  inside functions and classes (function-local), and under ``if TYPE_CHECKING:`` (type-only knowledge is
  knowledge too);
- ``importlib.import_module("rlft.x")`` with a literal name;
- a lazy reference: a string literal that is exactly ``"rlft.x.y:Attr"`` (registries, Gymnasium entry
  points) or exactly a module name of the package (``"rlft.x.y"``).

Docstrings and other bare string statements are not references. The tests then fail on every arrow the
tables below forbid and on every import cycle, naming each arrow with its file and line.
"""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rlft"


# -- the rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of the package: the modules under ``prefix`` and the parts it may import."""

    name: str
    prefix: str
    """Module name; the part holds it and every module below it (the longest matching prefix wins)."""
    responsibility: str
    may_import: tuple[str, ...]
    """Names of the parts this part may import ("*" = every part). A part may always import itself."""


PARTS: tuple[Part, ...] = (
    Part("cli", "rlft.cli", "the `rlft` command: parses flags, calls the parts below", ("*",)),
    Part(
        "study",
        "rlft.agents.study",
        "`rlft study`: sweeps of resumable cells over the agents, budgets, CSV, plots, paired tests",
        ("agents", "policies", "demos", "root", "envs", "errors"),
    ),
    Part(
        "agents",
        "rlft.agents",
        "training and evaluation: BC, RL (SB3), evaluation, the demo pipeline",
        ("policies", "demos", "root", "envs", "errors"),
    ),
    Part(
        "policies",
        "rlft.policies",
        "pretrained backbones + adapter heads, one policy per env family, checkpoints",
        ("root", "envs", "errors"),
    ),
    Part(
        "demos",
        "rlft.demos",
        "demonstration datasets (Minari): record, load, check",
        ("root", "envs", "errors"),
    ),
    Part(
        "root",
        "rlft",
        "the package root (`rlft/__init__`): version, registers every env id",
        ("envs", "errors"),
    ),
    Part(
        "envs", "rlft.envs", "the environments (web, tabletop), their contract and registration", ("errors",)
    ),
    Part("errors", "rlft.errors", "typed errors and small shared helpers (the bottom)", ()),
)
"""The parts, top to bottom; an arrow between two parts must be allowed by the importing part."""


@dataclass(frozen=True)
class Layer:
    """One layer inside an env family, with the layers of the same family it may import."""

    name: str
    responsibility: str
    may_import: tuple[str, ...]


def web_layer(module: str) -> str | None:
    """The layer of a module of the web family, from the first name below ``rlft.envs.web``."""
    if module == "rlft.envs.web":
        return "facade"
    if not module.startswith("rlft.envs.web."):
        return None
    head = module.split(".")[3]
    layers = {"task": "tasks", "tasks": "tasks", "site": "sites", "sites": "sites", "backends": "backends"}
    return (layers | {"env": "env"}).get(head, "core")


WEB_LAYERS: tuple[Layer, ...] = (
    Layer("env", "rlft.envs.web.env: the thin env that composes a backend and a task", ("*",)),
    Layer("facade", "rlft.envs.web (__init__)", ("core", "tasks", "sites", "backends")),
    Layer("backends", "rlft.envs.web.backends.*: text and Chromium browsers on a site", ("sites", "core")),
    Layer(
        "tasks",
        "rlft.envs.web.task, rlft.envs.web.tasks.*: goals, reward, expert, candidates over a site",
        ("sites", "core"),
    ),
    Layer("sites", "rlft.envs.web.site, rlft.envs.web.sites.*: WSGI apps with server-side state", ("core",)),
    Layer("core", "every other rlft.envs.web module: page types, commands, rendering, WSGI helpers", ()),
)
"""Web family, top to bottom. A layer may import itself and the layers it lists."""


def tabletop_layer(module: str) -> str | None:
    """The layer of a module of the tabletop family."""
    if module == "rlft.envs.tabletop":
        return "facade"
    if not module.startswith("rlft.envs.tabletop."):
        return None
    head = module.split(".")[3]
    return {"sim": "sim", "tasks": "tasks", "env": "env"}.get(head, "parts")


TABLETOP_LAYERS: tuple[Layer, ...] = (
    Layer("env", "rlft.envs.tabletop.env: the env", ("*",)),
    Layer("facade", "rlft.envs.tabletop (__init__, lazy)", ("*",)),
    Layer("tasks", "rlft.envs.tabletop.tasks.*: the task families", ("parts", "sim")),
    Layer("parts", "every other tabletop module: robot, camera, objects, scene, controller, ...", ("sim",)),
    Layer("sim", "rlft.envs.tabletop.sim: the only module that touches PyBullet", ()),
)
"""Tabletop family, top to bottom. A layer may import itself and the layers it lists."""

ONLY_IMPORTED_BY: dict[str, tuple[str, ...]] = {
    "rlft.envs.web.env": ("rlft.envs.registration",),
    "rlft.envs.tabletop.env": ("rlft.envs.registration", "rlft.envs.tabletop"),
}
"""Modules that only the listed modules may import (the thin envs: users reach them through gym.make)."""

SHARED_ENV_MODULES_EXCEPT = ("rlft.envs", "rlft.envs.registration")
"""Shared env modules (``rlft.envs.*`` outside a family) import no family, except these."""

FAMILIES = ("rlft.envs.web", "rlft.envs.tabletop")

THIRD_PARTY_HOMES: dict[str, tuple[str, ...]] = {
    "pybullet": ("rlft.envs.tabletop.sim",),
    "pybullet_data": ("rlft.envs.tabletop.sim",),
    "playwright": ("rlft.envs.web.backends",),
    "ray": ("rlft.envs.ray_vector",),
    "accelerate": ("rlft.agents.accelerate",),
    "matplotlib": ("rlft.agents.study.analysis", "rlft.agents.feedback"),
}
"""Third-party module -> the only modules (or packages) that may import it."""

TRAINING_STACK = (
    "torch",
    "transformers",
    "tokenizers",
    "peft",
    "safetensors",
    "stable_baselines3",
    "sb3_contrib",
)
"""Modules the environments never import: envs know nothing of policies."""


# -- the scanner ----------------------------------------------------------------------------------------


PACKAGE_OF_SUBMODULE = "package of `from P import submodule`"
"""The ``how`` of the arrow to P in ``from P import submodule``: it counts for cycles, not for layer rules
(the layer rules judge the arrow to the submodule)."""


@dataclass(frozen=True)
class Arrow:
    """One reference from ``source`` to ``target`` (module names), where it is and how it is made."""

    source: str
    target: str
    file: str
    line: int
    how: str
    """``import``, ``function-local import``, ``type-only import``, ``import_module()``, ``lazy reference``
    or :data:`PACKAGE_OF_SUBMODULE`."""

    def where(self) -> str:
        return f"{self.file}:{self.line}, {self.how}"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  ({self.where()})"


@dataclass(frozen=True)
class ExternalImport:
    """An import of a module outside the package (``module`` is its top-level name)."""

    source: str
    module: str
    file: str
    line: int
    how: str


@dataclass
class Scan:
    """Everything the scanner found in a package."""

    modules: dict[str, Path]
    arrows: list[Arrow]
    external: list[ExternalImport]
    dangling: list[str]
    """References to names that are not modules (or attributes) of the package."""


def package_modules(root: Path) -> dict[str, Path]:
    """Module name -> file for every module the wheel ships, from ``root/pyproject.toml``."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = config.get("package-dir", {})
    modules: dict[str, Path] = {}
    for package in config["packages"]:
        folder = package_folder(root, package, package_dir)
        for file in sorted(folder.glob("*.py")):
            modules[package if file.name == "__init__.py" else f"{package}.{file.stem}"] = file
    return modules


def package_folder(root: Path, package: str, package_dir: Mapping[str, str]) -> Path:
    """The folder of ``package`` under setuptools' package-dir mapping (longest mapped prefix wins)."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return root.joinpath(package_dir[prefix], *parts[i:])
    return root.joinpath(package_dir.get("", ""), *parts)


def scan(root: Path, modules: Mapping[str, Path], package: str = PACKAGE) -> Scan:
    """Parse every module and collect its arrows into the package and its third-party imports."""
    result = Scan(dict(modules), [], [], [])
    for name, file in sorted(modules.items()):
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        visitor = _ModuleVisitor(name, file.name == "__init__.py", package, result, _display(root, file))
        visitor.visit(tree)
    return result


def _display(root: Path, file: Path) -> str:
    try:
        return str(file.relative_to(root))
    except ValueError:
        return str(file)


class _ModuleVisitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, package: str, result: Scan, file: str) -> None:
        self.module = module
        self.is_package = is_package
        self.package = package
        self.result = result
        self.file = file
        self.function_depth = 0
        self.type_checking_depth = 0
        self.skip: set[int] = set()
        self.seen: set[Arrow] = set()
        self.lazy = re.compile(rf"^({re.escape(package)}(?:\.[A-Za-z_]\w*)*)(?::([A-Za-z_][\w.]*))?$")

    # context: where an import sits

    def how(self) -> str:
        if self.type_checking_depth:
            return "type-only import"
        return "function-local import" if self.function_depth else "import"

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def _visit_function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        self.visit(node.test)
        if guarded:
            self.type_checking_depth += 1
        for child in node.body:
            self.visit(child)
        if guarded:
            self.type_checking_depth -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Expr(self, node: ast.Expr) -> None:
        # A bare string statement is a docstring (module, class, function or attribute), not a reference.
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return
        self.generic_visit(node)

    # the references

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._reference(alias.name, node.lineno, self.how())

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        if base is None:
            self.result.dangling.append(
                f"{self.module} ({self.file}:{node.lineno}): relative import beyond the top-level package"
            )
            return
        how = self.how()
        names_attributes = False
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if alias.name != "*" and submodule in self.result.modules:
                self._arrow(submodule, node.lineno, how)
            else:
                names_attributes = True
        # `from P import submodule` names P too (and runs P/__init__): an arrow for the cycle check.
        self._reference(base, node.lineno, how if names_attributes else PACKAGE_OF_SUBMODULE)

    def _absolute(self, node: ast.ImportFrom) -> str | None:
        if node.level == 0:
            return node.module or ""
        package_parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
        if node.level - 1 >= len(package_parts):
            return None
        base = ".".join(package_parts[: len(package_parts) - (node.level - 1)])
        return f"{base}.{node.module}" if node.module else base

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.skip.add(id(first))
                self._reference(first.value, node.lineno, "import_module()")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) in self.skip or not isinstance(node.value, str):
            return
        match = self.lazy.match(node.value)
        if not match:
            return
        module, attr = match.group(1), match.group(2)
        if attr is None and (module == self.package or module not in self.result.modules):
            return  # the bare package name (a namespace), or a dotted name that is no module of ours
        if module not in self.result.modules:
            self.result.dangling.append(
                f"{self.module} ({self.file}:{node.lineno}): {node.value!r} names no module of the package"
            )
            return
        if attr is not None and not _defines(self.result.modules[module], attr.split(".")[0]):
            self.result.dangling.append(
                f"{self.module} ({self.file}:{node.lineno}): {node.value!r}: {module} defines no {attr!r}"
            )
        self._arrow(module, node.lineno, "lazy reference")

    # recording

    def _reference(self, name: str, line: int, how: str) -> None:
        if name != self.package and not name.startswith(self.package + "."):
            top = name.split(".")[0]
            if top and top not in sys.stdlib_module_names and top != "__future__":
                self.result.external.append(ExternalImport(self.module, top, self.file, line, how))
            return
        if name not in self.result.modules:
            # `import M` and `from M import n` both need M to be a module (n may be an attribute).
            self.result.dangling.append(
                f"{self.module} ({self.file}:{line}): imports {name}, which is no module of the package "
                "(a new folder missing from pyproject's [tool.setuptools] packages?)"
            )
            return
        target = name
        self._arrow(target, line, how)

    def _arrow(self, target: str, line: int, how: str) -> None:
        arrow = Arrow(self.module, target, self.file, line, how)
        if target != self.module and arrow not in self.seen:
            self.seen.add(arrow)
            self.result.arrows.append(arrow)


_DEFINES_CACHE: dict[Path, tuple[set[str], bool]] = {}


def _defines(file: Path, name: str) -> bool:
    """Whether module ``file`` binds ``name`` at top level (or has a module ``__getattr__``)."""
    if file not in _DEFINES_CACHE:
        names: set[str] = set()
        _top_level_names(ast.parse(file.read_text(encoding="utf-8")).body, names)
        _DEFINES_CACHE[file] = (names, "__getattr__" in names)
    names, lazy = _DEFINES_CACHE[file]
    return name in names or lazy


def _top_level_names(body: Iterable[ast.stmt], names: set[str]) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        else:  # if / try / with / for blocks at top level
            for field in ("body", "orelse", "finalbody", "handlers"):
                _top_level_names(getattr(node, field, ()), names)


# -- the checks -----------------------------------------------------------------------------------------


def part_of(module: str, parts: Sequence[Part]) -> Part | None:
    """The part holding ``module`` (longest prefix), or None."""
    best: Part | None = None
    for part in parts:
        holds = module == part.prefix or module.startswith(part.prefix + ".")
        if holds and (best is None or len(part.prefix) > len(best.prefix)):
            best = part
    return best


@dataclass(frozen=True)
class Violation:
    arrow: Arrow
    rule: str


def part_violations(arrows: Iterable[Arrow], parts: Sequence[Part]) -> list[Violation]:
    """Arrows between parts that the importing part's ``may_import`` does not allow."""
    found = []
    for arrow in arrows:
        if arrow.how == PACKAGE_OF_SUBMODULE:
            continue
        source, target = part_of(arrow.source, parts), part_of(arrow.target, parts)
        if source is None or target is None or source.name == target.name:
            continue
        if "*" in source.may_import or target.name in source.may_import:
            continue
        allowed = ", ".join(source.may_import) or "nothing of the package"
        found.append(Violation(arrow, f"{source.name} may import only: {allowed} (not {target.name})"))
    return found


def layer_violations(
    arrows: Iterable[Arrow], family: str, layer_of: Callable[[str], str | None], layers: Sequence[Layer]
) -> list[Violation]:
    """Arrows inside one env family that go up (or sideways) its layers."""
    table = {layer.name: layer for layer in layers}
    found = []
    for arrow in arrows:
        if arrow.how == PACKAGE_OF_SUBMODULE:
            continue
        source, target = layer_of(arrow.source), layer_of(arrow.target)
        if source is None or target is None or source == target:
            continue
        allowed = table[source].may_import
        if "*" in allowed or target in allowed:
            continue
        listing = ", ".join(allowed) or f"no other {family} layer"
        found.append(Violation(arrow, f"{family} {source} may import only: {listing} (not {target})"))
    return found


def restricted_target_violations(
    arrows: Iterable[Arrow], only_imported_by: Mapping[str, Sequence[str]]
) -> list[Violation]:
    """Arrows into a module that only a few modules may import."""
    found = []
    for arrow in arrows:
        allowed = only_imported_by.get(arrow.target)
        if allowed is not None and arrow.source not in allowed:
            rule = f"only {', '.join(allowed)} may import {arrow.target} (users reach it through gym.make)"
            found.append(Violation(arrow, rule))
    return found


def family_violations(arrows: Iterable[Arrow]) -> list[Violation]:
    """Arrows between the two env families, or from a shared env module into a family."""
    found = []

    def family(module: str) -> str | None:
        return next((f for f in FAMILIES if module == f or module.startswith(f + ".")), None)

    for arrow in arrows:
        if arrow.how == PACKAGE_OF_SUBMODULE:
            continue
        source, target = family(arrow.source), family(arrow.target)
        if target is None or source == target:
            continue
        if source is not None:
            found.append(
                Violation(arrow, f"the env families know nothing of each other ({source} -> {target})")
            )
        elif arrow.source.startswith("rlft.envs.") and arrow.source not in SHARED_ENV_MODULES_EXCEPT:
            found.append(Violation(arrow, "shared env modules (contract, text, ...) sit below both families"))
    return found


def strongly_connected(arrows: Iterable[Arrow]) -> list[list[str]]:
    """The import cycles: strongly connected groups of more than one module (Tarjan), sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for arrow in arrows:
        graph[arrow.source].add(arrow.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def shortest_cycle(group: Sequence[str], arrows: Iterable[Arrow]) -> list[str]:
    """A shortest cycle through the first module of ``group`` inside the group (a list of modules)."""
    members = set(group)
    graph: dict[str, set[str]] = defaultdict(set)
    for arrow in arrows:
        if arrow.source in members and arrow.target in members:
            graph[arrow.source].add(arrow.target)
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {group}")  # unreachable for a Tarjan group


def describe_cycles(groups: Sequence[Sequence[str]], arrows: Sequence[Arrow]) -> str:
    """A readable account of each cycle: its path, then every arrow inside it with file and line."""
    lines = [f"{len(groups)} import cycle(s); break each by removing one of its arrows:"]
    for number, group in enumerate(groups, 1):
        cycle = shortest_cycle(group, arrows)
        lines.append(f"  cycle {number}: {' -> '.join(cycle)}")
        if len(group) > len(cycle) - 1:
            lines.append(
                f"    (the strongly connected group also holds: {', '.join(sorted(set(group) - set(cycle)))})"
            )
        members = set(group)
        by_pair: dict[tuple[str, str], list[Arrow]] = defaultdict(list)
        for arrow in arrows:
            if arrow.source in members and arrow.target in members:
                by_pair[(arrow.source, arrow.target)].append(arrow)
        path = list(itertools.pairwise(cycle))
        others = sorted(set(by_pair) - set(path))
        for pair in path + others[:MAX_OTHER_ARROWS]:
            refs = "; ".join(a.where() for a in by_pair[pair])
            lines.append(f"    {pair[0]} -> {pair[1]}  ({refs})")
        if len(others) > MAX_OTHER_ARROWS:
            lines.append(f"    ... and {len(others) - MAX_OTHER_ARROWS} more arrows inside this group")
    if any(a.how == PACKAGE_OF_SUBMODULE for a in arrows if any(a.source in g for g in groups)):
        lines.append(
            f"  ('{PACKAGE_OF_SUBMODULE}': the statement names the package P, whose __init__ imports back; "
            "write `from P.submodule import name` or `import P.submodule as name` instead.)"
        )
    return "\n".join(lines)


MAX_OTHER_ARROWS = 8
"""Arrows shown per cycle beyond those on its shortest path."""


def describe_violations(title: str, violations: Sequence[Violation]) -> str:
    """One line per forbidden arrow, grouped under the rule it breaks."""
    by_rule: dict[str, list[Arrow]] = defaultdict(list)
    for violation in violations:
        by_rule[violation.rule].append(violation.arrow)
    lines = [f"{len(violations)} {title}:"]
    for rule in sorted(by_rule):
        lines.append(f"  rule: {rule}")
        lines.extend(
            f"    {arrow}" for arrow in sorted(by_rule[rule], key=lambda a: (a.source, a.target, a.line))
        )
    return "\n".join(lines)


def render_layering() -> str:
    """The parts-and-arrows picture the README's Development section shows (generated from the tables)."""

    def table(rows: Sequence[tuple[str, tuple[str, ...], str]]) -> list[str]:
        width = max(len(name) for name, _, _ in rows) + 1
        targets = ["everything" if "*" in m else ", ".join(m) or "nothing" for _, m, _ in rows]
        arrow_width = max(len(t) for t in targets) + 1
        return [
            f"  {name.ljust(width)}-> {target.ljust(arrow_width)}{text}"
            for (name, _, text), target in zip(rows, targets, strict=True)
        ]

    lines = ["parts of rlft (A -> B: A may import B; a part may import itself):"]
    lines += table([(p.name, p.may_import, p.responsibility) for p in PARTS])
    for family, layers in (("rlft.envs.web", WEB_LAYERS), ("rlft.envs.tabletop", TABLETOP_LAYERS)):
        lines.append(f"inside {family}:")
        lines += table([(layer.name, layer.may_import, layer.responsibility) for layer in layers])
    lines.append("and:")
    lines.append("  nothing imports cli; the two env families never import each other")
    for module, importers in ONLY_IMPORTED_BY.items():
        lines.append(f"  only {' and '.join(importers)} import{'s' * (len(importers) == 1)} {module}")
    by_home: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for module, homes in THIRD_PARTY_HOMES.items():
        by_home[homes].append(module)
    for homes, modules in by_home.items():
        lines.append(f"  only {' and '.join(homes)} import{'s' * (len(homes) == 1)} {', '.join(modules)}")
    lines.append("  no import cycles (function-local imports, type-only imports and lazy references count)")
    return "\n".join(lines)


# -- tests on the package -------------------------------------------------------------------------------


def _fail_if(found: object, message: str) -> None:
    """Fail with just ``message`` (no traceback, no repr of the data) when ``found`` is non-empty."""
    if found:
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def package_scan() -> Scan:
    result = scan(ROOT, package_modules(ROOT))
    # Not vacuous: the scanner sees the whole package and the arrows everyone knows are there.
    assert len(result.modules) > 50, sorted(result.modules)
    assert any(a.source == "rlft" and a.target == "rlft.envs.registration" for a in result.arrows)
    assert any(a.how == "lazy reference" and a.target == "rlft.envs.web.env" for a in result.arrows)
    return result


def test_every_module_belongs_to_a_part(package_scan: Scan) -> None:
    orphans = sorted(m for m in package_scan.modules if part_of(m, PARTS) is None)
    _fail_if(orphans, f"modules in no part of PARTS (add them to the table in {__name__}): {orphans}")


def test_parts_import_only_the_parts_below(package_scan: Scan) -> None:
    violations = part_violations(package_scan.arrows, PARTS)
    _fail_if(violations, describe_violations("forbidden arrows between parts", violations))


def test_web_layers(package_scan: Scan) -> None:
    violations = layer_violations(package_scan.arrows, "web", web_layer, WEB_LAYERS)
    violations += restricted_target_violations(
        package_scan.arrows, {"rlft.envs.web.env": ONLY_IMPORTED_BY["rlft.envs.web.env"]}
    )
    _fail_if(violations, describe_violations("forbidden arrows inside the web family", violations))


def test_tabletop_layers(package_scan: Scan) -> None:
    violations = layer_violations(package_scan.arrows, "tabletop", tabletop_layer, TABLETOP_LAYERS)
    violations += restricted_target_violations(
        package_scan.arrows, {"rlft.envs.tabletop.env": ONLY_IMPORTED_BY["rlft.envs.tabletop.env"]}
    )
    _fail_if(violations, describe_violations("forbidden arrows inside the tabletop family", violations))


def test_env_families_are_independent(package_scan: Scan) -> None:
    violations = family_violations(package_scan.arrows)
    _fail_if(violations, describe_violations("forbidden arrows between env families", violations))


def test_no_import_cycles(package_scan: Scan) -> None:
    groups = strongly_connected(package_scan.arrows)
    _fail_if(groups, describe_cycles(groups, package_scan.arrows))


def test_lazy_references_and_imports_resolve(package_scan: Scan) -> None:
    _fail_if(package_scan.dangling, "references to nothing:\n  " + "\n  ".join(package_scan.dangling))


def test_heavy_dependencies_stay_in_their_module(package_scan: Scan) -> None:
    problems = []
    for imp in package_scan.external:
        homes = THIRD_PARTY_HOMES.get(imp.module)
        if homes and not any(imp.source == h or imp.source.startswith(h + ".") for h in homes):
            problems.append(
                f"{imp.source} imports {imp.module} ({imp.file}:{imp.line}, {imp.how}): only {homes}"
            )
        if imp.module in TRAINING_STACK and imp.source.startswith("rlft.envs"):
            problems.append(
                f"{imp.source} imports {imp.module} ({imp.file}:{imp.line}, {imp.how}): envs know nothing of "
                "policies, so no training stack"
            )
    _fail_if(problems, "third-party imports outside their home:\n  " + "\n  ".join(problems))


# -- tests of the scanner itself, on a planted package --------------------------------------------------


TOY_PARTS = (
    Part("app", "toy.app", "top", ("*",)),
    Part("mid", "toy.mid", "middle", ("low",)),
    Part("low", "toy.low", "bottom", ()),
    Part("root", "toy", "root", ("low",)),
)


def _toy_package(tmp_path: Path) -> Path:
    files = {
        "pyproject.toml": (
            '[tool.setuptools]\npackages = ["toy", "toy.low", "toy.mid", "toy.app"]\n'
            '[tool.setuptools.package-dir]\ntoy = "."\n"toy.low" = "lower"\n'
        ),
        "__init__.py": '"""Mentions toy.app in a docstring: not a reference."""\nfrom toy.low import base\n',
        "lower/__init__.py": "",
        # Planted forbidden arrow, function-local and hidden behind a relative import: low -> mid.
        "lower/base.py": "def f():\n    from ..mid import helper\n    return helper\n",
        "mid/__init__.py": "",
        # Planted cycle: mid.helper -> mid.other (type-only) -> mid.helper (import_module literal).
        "mid/helper.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.mid.other import Thing\n"
            'X = "toy.logger.name"\n'
        ),
        "mid/other.py": 'import importlib\nThing = 1\nM = importlib.import_module("toy.mid.helper")\n',
        "app/__init__.py": "",
        # A lazy registry string: app -> low (allowed) and one that names nothing.
        "app/main.py": 'REG = {"a": "toy.low.base:f", "b": "toy.low.base:missing", "c": "toy.gone:X"}\n',
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_scanner_finds_planted_arrows_and_cycles(tmp_path: Path) -> None:
    root = _toy_package(tmp_path)
    modules = package_modules(root)
    assert set(modules) == {
        "toy",
        "toy.low",
        "toy.low.base",
        "toy.mid",
        "toy.mid.helper",
        "toy.mid.other",
        "toy.app",
        "toy.app.main",
    }
    assert modules["toy.low.base"] == root / "lower" / "base.py"
    result = scan(root, modules, package="toy")
    arrows = {(a.source, a.target, a.how) for a in result.arrows}
    assert arrows == {
        ("toy", "toy.low.base", "import"),
        ("toy", "toy.low", PACKAGE_OF_SUBMODULE),
        ("toy.low.base", "toy.mid.helper", "function-local import"),
        ("toy.low.base", "toy.mid", PACKAGE_OF_SUBMODULE),
        ("toy.mid.helper", "toy.mid.other", "type-only import"),
        ("toy.mid.other", "toy.mid.helper", "import_module()"),
        ("toy.app.main", "toy.low.base", "lazy reference"),
    }

    violations = part_violations(result.arrows, TOY_PARTS)
    assert [(v.arrow.source, v.arrow.target) for v in violations] == [("toy.low.base", "toy.mid.helper")]
    message = describe_violations("forbidden arrows", violations)
    assert "low may import only: nothing of the package (not mid)" in message
    assert "toy.low.base -> toy.mid.helper  (lower/base.py:2, function-local import)" in message

    groups = strongly_connected(result.arrows)
    assert groups == [["toy.mid.helper", "toy.mid.other"]]
    message = describe_cycles(groups, result.arrows)
    assert "cycle 1: toy.mid.helper -> toy.mid.other -> toy.mid.helper" in message
    assert "toy.mid.helper -> toy.mid.other  (mid/helper.py:3, type-only import)" in message
    assert "toy.mid.other -> toy.mid.helper  (mid/other.py:3, import_module())" in message

    assert len(result.dangling) == 2
    assert "'toy.low.base:missing': toy.low.base defines no 'missing'" in result.dangling[0]
    assert "'toy.gone:X' names no module of the package" in result.dangling[1]


def test_scanner_finds_longer_cycles_and_layer_arrows(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools]\npackages = ["toy"]\n')
    (tmp_path / "toy").mkdir()
    for name, target in {"a": "b", "b": "c", "c": "a", "d": "a"}.items():
        (tmp_path / "toy" / f"{name}.py").write_text(f"from . import {target}\n")
    (tmp_path / "toy" / "__init__.py").write_text("")
    result = scan(tmp_path, package_modules(tmp_path), package="toy")
    assert strongly_connected(result.arrows) == [["toy.a", "toy.b", "toy.c"]]
    assert shortest_cycle(["toy.a", "toy.b", "toy.c"], result.arrows) == ["toy.a", "toy.b", "toy.c", "toy.a"]

    def layer(module: str) -> str | None:
        return {"toy.a": "top", "toy.b": "bottom", "toy.c": "bottom", "toy.d": "top"}.get(module)

    layers = (Layer("top", "", ("bottom",)), Layer("bottom", "", ()))
    found = layer_violations(result.arrows, "toy", layer, layers)
    assert [(v.arrow.source, v.arrow.target) for v in found] == [("toy.c", "toy.a")]
    assert found[0].rule == "toy bottom may import only: no other toy layer (not top)"


def test_web_and_tabletop_layer_names() -> None:
    assert web_layer("rlft.envs.web") == "facade"
    assert web_layer("rlft.envs.web.env") == "env"
    assert web_layer("rlft.envs.web.sites.shop.site") == "sites"
    assert web_layer("rlft.envs.web.backends.text") == "backends"
    assert web_layer("rlft.envs.web.task") == "tasks"
    assert web_layer("rlft.envs.web.tasks.forms.login") == "tasks"
    assert web_layer("rlft.envs.web.commands") == "core"
    assert web_layer("rlft.envs.webby") is None
    assert tabletop_layer("rlft.envs.tabletop.sim") == "sim"
    assert tabletop_layer("rlft.envs.tabletop.tasks.base") == "tasks"
    assert tabletop_layer("rlft.envs.tabletop.robot") == "parts"
    # Every layer a rule names exists.
    for layers in (WEB_LAYERS, TABLETOP_LAYERS):
        names = {layer.name for layer in layers}
        for layer in layers:
            assert set(layer.may_import) - {"*"} <= names, layer
    names = {part.name for part in PARTS}
    for part in PARTS:
        assert set(part.may_import) - {"*"} <= names, part


def test_readme_shows_the_layering() -> None:
    """The README's Development section shows the parts and arrows this module enforces, verbatim."""
    picture = render_layering()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    _fail_if(
        picture not in readme,
        "README.md does not show the layering this test enforces; put this block (verbatim, in a fenced code "
        f"block) in its Development section:\n\n{picture}\n",
    )


def test_every_third_party_import_is_core_or_names_its_extra(package_scan: Scan) -> None:
    """A missing optional dependency must give a DependencyError naming its extra: rlft.errors.EXTRAS."""
    from rlft.errors import EXTRAS

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {
        re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in project["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    problems: dict[str, str] = {}
    for imp in package_scan.external:
        dists = {d.lower().replace("_", "-") for d in providers.get(imp.module, [imp.module])}
        if imp.module not in EXTRAS and not dists & core:
            problems.setdefault(imp.module, f"{imp.module} ({imp.file}:{imp.line})")
    _fail_if(
        problems,
        "imported, but neither a core dependency nor in rlft.errors.EXTRAS (add it to an extra in "
        f"pyproject.toml and to EXTRAS): {sorted(problems.values())}",
    )
