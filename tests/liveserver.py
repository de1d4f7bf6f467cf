"""Helpers for tests against a real service: the demo workspace, a uvicorn server, CI rules.

Imported by ``tests/api/conftest.py`` and ``tests/browser/conftest.py`` (``tests`` is on
pytest's ``pythonpath``). A test that needs something the machine lacks (uvicorn, a free
local port, Playwright, Chromium) calls :func:`cannot_run`: it skips on a developer's
machine, but under ``CI=true`` it fails with the install hint, so CI cannot pass by
skipping.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_TIMEOUT_S = 300
SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 10.0
CI_TRUE = ("1", "true", "yes")


def in_ci() -> bool:
    """Whether the tests run under CI (the environment variable ``CI`` is ``true``)."""
    return os.environ.get("CI", "").strip().lower() in CI_TRUE


def cannot_run(reason: str, hint: str) -> NoReturn:
    """Skip the test with ``reason`` locally; under ``CI=true`` fail it with ``hint``.

    Parameters
    ----------
    reason
        What is missing, e.g. ``"no Chromium at /usr/bin/chromium"``.
    hint
        How to install or free it, e.g. ``"apt-get install chromium fonts-noto-cjk"``.
    """
    if in_ci():
        pytest.fail(f"{reason}; under CI=true this test must run, not skip: {hint}", pytrace=False)
    pytest.skip(f"{reason} ({hint})")


def build_demo_workspace(out: Path) -> Path:
    """Run ``gridgeo demo --out out`` and return its ``workspace.gpkg``."""
    done = subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"gridgeo demo exited with {done.returncode}:\n{done.stderr[-3000:]}")
    path = out / "workspace.gpkg"
    assert path.is_file()
    return path


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


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it does not stop in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


def start_server(
    workspace: Path,
    log: Path,
    *,
    env: dict[str, str] | None = None,
    limits: bool = False,
    http: str | None = None,
) -> Server:
    """Start ``uvicorn --factory api.main:create_app`` and wait until /health answers.

    With ``limits``, ``python -m api.limits`` instead: uvicorn with the options
    ``gridgeo serve`` uses (:func:`api.limits.uvicorn_options`: the header read timeout).

    When uvicorn is not installed or no local port can be bound the test cannot
    run (:func:`cannot_run`: a skip locally, a failure under ``CI=true``); a
    server that starts but dies or never answers fails the test. Its stderr goes
    to the file ``log`` (a pipe could fill up and stall it).

    Parameters
    ----------
    workspace
        The workspace GeoPackage to serve (``GRIDGEO_WORKSPACE``).
    log
        File that receives the server's stderr.
    env
        Extra environment variables for the server (e.g. more ``GRIDGEO_*`` settings).
    http
        With ``limits``: uvicorn's HTTP protocol, ``"httptools"`` (the default) or ``"h11"``.
    """
    if importlib.util.find_spec("uvicorn") is None:
        cannot_run(
            "uvicorn is not installed: no real server to check against",
            "pip install -c constraints.txt -e '.[test]'",
        )
    try:
        port = free_port()
    except OSError as err:
        cannot_run(f"cannot bind a local TCP port for uvicorn: {err}", "free a port on 127.0.0.1")
    server_env = {**os.environ, **(env or {}), "GRIDGEO_WORKSPACE": str(workspace)}
    if limits:
        command = [sys.executable, "-m", "api.limits", "--port", str(port)]
        if http is not None:
            command += ["--http", http]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as err_file:
        proc = subprocess.Popen(
            command,
            env=server_env,
            cwd=REPO,
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
            stop_server(proc)
            pytest.fail(f"uvicorn did not answer /health in time:\n{server.log_text()}")
        time.sleep(0.2)
