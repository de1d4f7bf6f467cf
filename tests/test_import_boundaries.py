"""No private name crosses a module boundary (STYLE.md: "No private names across modules").

Walks the imports and attribute accesses of every module of ``gridgeo/``, ``api/``, ``maps/``
and ``benchmarks/`` with :mod:`ast` and fails on:

- ``from x import _name`` where ``x`` is one of the project's modules;
- ``module._name`` where ``module`` is a name bound to one of the project's modules;
- ``obj._name`` on any other object (an engine, a gazetteer...) unless ``obj`` is ``self`` or
  ``cls``, or ``_name`` is defined in the same module.

The modules of one subpackage with a small public face (``gridgeo/routing/``) may share their
privates. Private attributes of third-party objects that have no public equivalent are listed
in :data:`THIRD_PARTY` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("gridgeo", "api", "maps", "benchmarks")
# subpackages whose modules may share privates among themselves
ROOMS = ("gridgeo/routing",)
# private attributes of third-party objects that gridgeo reads on purpose
THIRD_PARTY = {
    "_node": "networkx: the node dict, read once to compile a graph (3x faster than G.nodes)",
    "_adj": "networkx: the adjacency dict, read once to compile a graph",
    "_succ": "networkx: the successor dict, filled in bulk when a graph is assembled",
    "_pred": "networkx: the predecessor dict, filled in bulk when a graph is assembled",
    "_children": "folium: a map's child elements (folium has no public accessor)",
    "_list": "osmium: a way's node list, read without a Python object per node",
    "_pyosmium_data": "osmium: the C++ node list behind a way, read in bulk",
    # argparse has no public way to walk a built parser's options and subcommands; the CLI
    # walks its own tree once to add the bilingual help and an example to every command
    "_actions": "argparse: a parser's options and subcommand actions",
    "_SubParsersAction": "argparse: the class of a parser's subcommands action",
    "_choices_actions": "argparse: the help lines of a parser's subcommands",
}


def _project_modules() -> set[str]:
    names = set()
    for root in ROOTS:
        for path in (REPO_ROOT / root).rglob("*.py"):
            rel = path.relative_to(REPO_ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            if root == "benchmarks":  # benchmark scripts import each other by file name
                names.add(parts[-1])
            names.add(".".join(parts))
    return names


PROJECT = _project_modules()


def _room(path: Path) -> str:
    rel = path.relative_to(REPO_ROOT).as_posix()
    for room in ROOMS:
        if rel.startswith(room + "/"):
            return room
    return rel


def _defined_privates(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, methods, attributes it assigns."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_")}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(source: str, path: Path, room_defs: set[str]) -> list[str]:
    """Every private name of another module that ``source`` imports or touches."""
    tree = ast.parse(source)
    local = _defined_privates(tree) | room_defs
    modules: set[str] = set()  # names bound to project modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in PROJECT or alias.name.split(".")[0] in PROJECT:
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in PROJECT:
                continue
            for alias in node.names:
                if f"{node.module}.{alias.name}" in PROJECT:
                    modules.add(alias.asname or alias.name)
                elif _private(alias.name) and alias.name not in room_defs:
                    found.append(f"{path}:{node.lineno}: imports {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in modules:
            if node.attr not in room_defs:
                found.append(f"{path}:{node.lineno}: uses {owner.id}.{node.attr}")
            continue
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if node.attr in local or node.attr in THIRD_PARTY:
            continue
        found.append(f"{path}:{node.lineno}: uses {ast.unparse(owner)}.{node.attr}")
    return found


def _room_defs() -> dict[str, set[str]]:
    defs: dict[str, set[str]] = {}
    for room in ROOMS:
        names: set[str] = set()
        for path in (REPO_ROOT / room).rglob("*.py"):
            names |= _defined_privates(ast.parse(path.read_text(encoding="utf-8")))
        defs[room] = names
    return defs


def test_no_private_names_across_modules() -> None:
    rooms = _room_defs()
    found = []
    for root in ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            room_defs = rooms.get(_room(path), set())
            rel = path.relative_to(REPO_ROOT)
            found += violations(path.read_text(encoding="utf-8"), rel, room_defs)
    assert not found, "private names used across modules:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from gridgeo.reach import _service\n", "imports gridgeo.reach._service"),
        ("from gridgeo import reach\nreach._flag(1)\n", "uses reach._flag"),
        ("import gridgeo.routing.engine as eng\neng._AT_NODE\n", "uses eng._AT_NODE"),
        ("def f(engine):\n    return engine._seg_a\n", "uses engine._seg_a"),
    ],
)
def test_the_walk_catches_each_kind(source: str, expected: str) -> None:
    found = violations(source, Path("x.py"), set())
    assert len(found) == 1
    assert found[0].endswith(expected)


def test_the_walk_allows_own_and_public_names() -> None:
    source = (
        "from gridgeo.routing import ReachEngine, travel_times\n"
        "class A:\n    def _f(self):\n        return self._x\n"
        "def g(a):\n    return a._f()\n"
        "def h(G):\n    return G._adj\n"
    )
    assert violations(source, Path("x.py"), set()) == []
