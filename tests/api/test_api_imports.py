"""api/ uses only gridgeo's public names and builds nothing at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gridgeo

API_DIR = Path(__file__).resolve().parents[2] / "api"


def _gridgeo_uses(tree: ast.AST) -> list[str]:
    """Every gridgeo name a module reaches: imports and ``gridgeo.<name>`` attributes."""
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used += [a.name for a in node.names if a.name.startswith("gridgeo")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gridgeo"):
            if node.module != "gridgeo":
                used.append(node.module or "")
            used += [a.name for a in node.names]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "gridgeo"
        ):
            used.append(node.attr)
    return used


def test_api_uses_only_public_gridgeo_names():
    files = sorted(API_DIR.rglob("*.py"))
    assert len(files) >= 8
    public = {*gridgeo.__all__, "gridgeo", "__version__"}
    bad = {
        f"{path.name}: {name}"
        for path in files
        for name in _gridgeo_uses(ast.parse(path.read_text(encoding="utf-8")))
        if name not in public
    }
    assert not bad


def test_import_builds_no_app(tmp_path):
    # with no GRIDGEO_WORKSPACE set, importing must not try to open one
    code = "import api.main, api.routers.grids; print(hasattr(api.main, 'app'))"
    env = {"PATH": "", "PYTHONPATH": str(API_DIR.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
