"""Package-level rules: the public API and the import boundaries."""

from __future__ import annotations

import ast
from pathlib import Path

import gridgeo

PACKAGE_DIR = Path(gridgeo.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_library_never_imports_web_or_map_frameworks():
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(_imported_modules(path) & {"fastapi", "folium"})
        for path in PACKAGE_DIR.rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_osmnx_is_not_a_runtime_dependency():
    # OSMnx is only the benchmark/test reference; the library reads OSM with pyosmium.
    offenders = [
        str(path.relative_to(PACKAGE_DIR))
        for path in PACKAGE_DIR.rglob("*.py")
        if "osmnx" in _imported_modules(path)
    ]
    assert offenders == []


def test_public_names_exist_and_are_exported():
    missing = [name for name in gridgeo.__all__ if not hasattr(gridgeo, name)]
    assert missing == []
    assert len(gridgeo.__all__) == len(set(gridgeo.__all__))
    for name in ("GridGeoError", "CRSError", "graph_from_osm", "gcj02_to_wgs84", "read_layer"):
        assert name in gridgeo.__all__


def test_errors_subclass_builtins():
    assert issubclass(gridgeo.CRSError, ValueError)
    assert issubclass(gridgeo.NotFoundError, LookupError)
    assert issubclass(gridgeo.CRSError, gridgeo.GridGeoError)
    # KeyError would repr() the message; ours prints it as written
    assert str(gridgeo.MissingColumnError("column `x` is missing")) == "column `x` is missing"
