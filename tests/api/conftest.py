"""Fixtures of the API tests: one demo workspace per session, copied for writers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
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
def leaks() -> tuple[str, ...]:
    """Strings that no error answer may contain (tracebacks, paths, internals)."""
    return LEAKS


@pytest.fixture(scope="session")
def clean_error():
    """``clean_error(response, status, *names)``: check an error answer, return its body.

    The body is JSON with a non-empty ``detail``, names each of ``names``, and
    carries no traceback, file path or other internal text.
    """
    return _assert_clean_error


# --------------------------------------------------------------------------- #
# a real uvicorn server, for load and fuzz checks

SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 10.0


@dataclass
class Server:
    """A uvicorn subprocess serving ``create_app`` over one workspace on 127.0.0.1."""

    url: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        """What the server wrote to stderr so far (uvicorn's and the app's log)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


def start_server(workspace: Path, log: Path) -> Server:
    """Start ``uvicorn --factory api.main:create_app`` and wait until /health answers.

    Skips the test when uvicorn is not installed or no local port can be
    bound; a server that starts but dies or never answers fails the test.
    Its stderr goes to the file ``log`` (a pipe could fill up and stall it).
    """
    if importlib.util.find_spec("uvicorn") is None:
        pytest.skip("uvicorn is not installed: no real server to check against")
    try:
        port = free_port()
    except OSError as err:
        pytest.skip(f"cannot bind a local TCP port for uvicorn: {err}")
    env = {**os.environ, "GRIDGEO_WORKSPACE": str(workspace)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as err_file:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    server = Server(url=f"http://127.0.0.1:{port}", workspace=workspace, process=proc, log=log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"uvicorn exited with {proc.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"uvicorn did not answer /health in time:\n{server.log_text()}")
        time.sleep(0.2)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Path], Server]]:
    """``serve(workspace)``: a real uvicorn server over ``workspace``, stopped after the test."""
    servers: list[Server] = []

    def start(workspace: Path) -> Server:
        server = start_server(workspace, tmp_path / f"uvicorn-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        _stop(server.process)
