"""Fixtures of the API tests: one demo workspace per session, copied for writers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings

DEMO_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace GeoPackage of ``gridgeo demo`` (built once, never written to)."""
    out = tmp_path_factory.mktemp("api_demo")
    subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=DEMO_TIMEOUT_S,
    )
    path = out / "workspace.gpkg"
    assert path.is_file()
    return path


@pytest.fixture(scope="session")
def client(workspace: Path) -> TestClient:
    """A client of an app over the shared workspace: only for requests that write nothing."""
    return TestClient(create_app(Settings(workspace=workspace)))


@pytest.fixture
def writable(workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace, for tests that save."""
    path = tmp_path / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    return path


@pytest.fixture
def writer(writable: Path) -> TestClient:
    """A client of an app over a private copy of the workspace."""
    return TestClient(create_app(Settings(workspace=writable)))


LEAKS = ("Traceback", 'File "', "site-packages", ".py", "/tmp/", "/work/", "sqlite")


def _assert_clean_error(response, status: int, *names: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    for name in names:
        assert name in response.text
    for leak in LEAKS:
        assert leak not in response.text
    return body


@pytest.fixture(scope="session")
def clean_error():
    """``clean_error(response, status, *names)``: check an error answer, return its body.

    The body is JSON with a non-empty ``detail``, names each of ``names``, and
    carries no traceback, file path or other internal text.
    """
    return _assert_clean_error
