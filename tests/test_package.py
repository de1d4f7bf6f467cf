"""Package-level rules: the public API and the import boundaries."""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

import pytest

import gridgeo

PACKAGE_DIR = Path(gridgeo.__file__).parent
TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# Data the tests read, each folder with a README.md giving source, licence and sha256 per file.
DATA_DIRS = (TESTS_DIR / "data", REPO_ROOT / "sample_data" / "jiangxi")

# The real data folder beside the repository in development. Spelled in parts so that this
# module does not match its own check.
_OUTSIDE = "sha" + "red"
_OUTSIDE_TEXT = (f"{_OUTSIDE}/data", f"{_OUTSIDE}\\data", f"../{_OUTSIDE}", f"..\\{_OUTSIDE}")


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


# --------------------------------------------------------------------------- #
# tests read only the repository


def outside_data_references(source: str) -> list[str]:
    """Where a module's source refers to the data folder beside the repository.

    Flags the folder's path in any text (code, strings, comments) and any string that is the
    folder's name as a path part, as in ``root.parent / <name>`` or ``Path("..", <name>)``.
    """
    low = source.lower()
    found = [f"text {needle!r}" for needle in _OUTSIDE_TEXT if needle in low]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts = re.split(r"[/\\]+", node.value.strip().lower())
            if _OUTSIDE in parts:
                found.append(f"line {node.lineno}: string {node.value!r}")
    return found


def test_outside_data_check_catches_references():
    for line in (
        f'DATA = ROOT.parent / "{_OUTSIDE}" / "data"',
        f'DATA = Path("..", "{_OUTSIDE}", "data")',
        f'roads = Path("../{_OUTSIDE}/data/roads")',
        f'p = "/work/{_OUTSIDE}/data/admin/x.gpkg"',
        f"# the real file is in ../{_OUTSIDE}",
    ):
        assert outside_data_references(line), line
    for line in (
        '"""A client of an app over the shared workspace."""',
        'kinds = {"shared_substation"}',
        "def test_village_adjacency_is_rook_with_shared_lengths(): pass",
        'path = data_dir / "roads"',
    ):
        assert outside_data_references(line) == [], line


def test_tests_never_read_outside_the_repository():
    """A clone has only the repository: no test may point at the data folder beside it."""
    modules = sorted(TESTS_DIR.rglob("*.py"))
    assert TESTS_DIR / "conftest.py" in modules
    offenders = {
        str(path.relative_to(REPO_ROOT)): found
        for path in modules
        if (found := outside_data_references(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize("folder", DATA_DIRS, ids=lambda p: p.name)
def test_data_files_are_the_documented_copies(folder: Path):
    """Every data file is listed in its folder's README with the sha256 it has."""
    readme = (folder / "README.md").read_text(encoding="utf-8")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md")
    assert files
    for path in files:
        # a table row `| `name` | ... | `sha256` |`
        row = rf"^\| `{re.escape(path.name)}` \|.*`([0-9a-f]{{64}})` \|$"
        documented = re.findall(row, readme, flags=re.MULTILINE)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert documented, f"{path.name} is not documented with its sha256 in {folder}/README.md"
        assert digest in documented, f"{path.name} differs from the copy documented in README.md"
