"""The app factory, /health, the 500 answer and a real uvicorn server."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

import gridgeo
from api.errors import INTERNAL_ERROR_DETAIL
from api.main import create_app
from api.serialise import to_jsonable
from api.settings import Settings

SERVER_START_TIMEOUT_S = 30.0


def test_health(client, workspace):
    with sqlite3.connect(workspace) as con:
        layers = sorted(r[0] for r in con.execute("SELECT layer FROM gridgeo_layers"))
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "workspace": "workspace.gpkg", "layers": layers}
    assert {"grids", "customers", "customer_access"} <= set(layers)


def test_refuses_missing_workspace(tmp_path):
    with pytest.raises(gridgeo.NotFoundError, match="does not exist"):
        create_app(Settings(workspace=tmp_path / "nowhere.gpkg"))


def test_refuses_file_that_is_no_workspace(tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("not a GeoPackage", encoding="utf-8")
    with pytest.raises(gridgeo.CorruptFileError, match="not a GeoPackage"):
        create_app(Settings(workspace=path))


def test_refuses_without_workspace_setting(monkeypatch):
    monkeypatch.delenv("GRIDGEO_WORKSPACE", raising=False)
    with pytest.raises(gridgeo.InputError, match="GRIDGEO_WORKSPACE"):
        create_app()


def test_settings_from_environment(monkeypatch, workspace, admin_headers):
    monkeypatch.setenv("GRIDGEO_WORKSPACE", str(workspace))
    monkeypatch.setenv("GRIDGEO_MAX_PAGE", "5")
    client = TestClient(create_app(), headers=admin_headers)
    assert client.get("/health").json()["status"] == "ok"
    response = client.get("/grids/T1-361023/customers", params={"limit": 6})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"
    assert client.get("/grids/T1-361023/customers", params={"limit": 5}).status_code == 200


def test_unexpected_error_is_logged_and_leaks_nothing(
    workspace, caplog, clean_error, admin_headers
):
    app = create_app(Settings(workspace=workspace))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal state in /srv/db 0xdeadbeef")

    client = TestClient(app, raise_server_exceptions=False, headers=admin_headers)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = client.get("/boom")
    body = clean_error(response, 500)
    assert body == {"error": "InternalError", "detail": INTERNAL_ERROR_DETAIL}
    assert "secret" not in response.text
    logged = [r for r in caplog.records if r.name == "api.errors"]
    assert logged and logged[0].exc_info is not None
    assert "secret internal state" in caplog.text  # the traceback went to the log


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_server_smoke(workspace: Path, admin_headers):
    port = _free_port()
    env = {**os.environ, "GRIDGEO_WORKSPACE": str(workspace)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                health = httpx.get(f"{base}/health", timeout=2.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not answer in time"
                time.sleep(0.2)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert httpx.get(f"{base}/grids", timeout=10.0).status_code == 401  # a login is needed
        grids = httpx.get(f"{base}/grids", params={"tier": 1}, headers=admin_headers, timeout=10.0)
        assert grids.status_code == 200
        assert grids.headers["content-type"].startswith("application/geo+json")
        features = grids.json()["features"]
        assert [f["properties"]["grid_id"] for f in features] == ["T1-361023"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_openapi_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/health",
        "/grids",
        "/grids/versions",
        "/grids/validate",
        "/grids/{grid_id}",
        "/grids/{grid_id}/customers",
        "/grids/preview",
        "/grids/save",
        "/grids/restore",
        "/grids/villages",
        "/grids/moves",
        "/grids/substations",
        "/grids/compare",
        "/customers",
        "/customers/{customer_id}",
        "/dispatch",
        "/dispatch/stations",
        "/dispatch/stations/{station_id}",
        "/plan/sites",
        "/kpis",
        "/orders",
        "/orders/{order_id}",
        "/figures",
        "/reports/month/{month}",
        "/stars",
        "/watch",
        "/auth/login",
        "/auth/token",
        "/auth/logout",
        "/auth/me",
        "/admin/users",
        "/admin/users/{username}",
        "/admin/users/{username}/password",
        "/admin/audit",
        "/visits",
        "/visits/coverage",
        "/visits/callbacks",
    }


def test_to_jsonable_makes_nan_null():
    got = to_jsonable([{"area_m2": float("nan"), "n": np.int64(3), "location": (1.5, 2.0)}])
    assert got == [{"area_m2": None, "n": 3, "location": [1.5, 2.0]}]
