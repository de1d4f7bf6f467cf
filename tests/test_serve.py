"""``gridgeo serve``: a real server in a subprocess, first-start users, passwords shown once."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from liveserver import REPO, SERVER_START_TIMEOUT_S, cannot_run, free_port, stop_server

import gridgeo

OPEN_LINE = re.compile(r"open (http://127\.0\.0\.1:\d+/)")
USER_LINE = re.compile(r"用户 user (\S+)\s+密码 password (\S+)")


def _serve(workspace: Path, out: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    try:
        port = free_port()
    except OSError as err:
        cannot_run(f"cannot bind a local TCP port: {err}", "free a port on 127.0.0.1")
    command = [sys.executable, "-m", "gridgeo.cli", "serve", "--workspace", str(workspace)]
    command += ["--port", str(port), *extra]
    with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
        proc = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr)
    return proc, port


def _wait_until_open(proc: subprocess.Popen[bytes], out: Path) -> tuple[str, str]:
    """Wait for the address line and a /health answer; the printed text and the address."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8")
        if proc.poll() is not None:
            err = out.with_suffix(".err").read_text(encoding="utf-8")
            pytest.fail(f"gridgeo serve exited with {proc.returncode}:\n{text}\n{err}")
        found = OPEN_LINE.search(text)
        if found:
            try:
                if httpx.get(found.group(1) + "health", timeout=2.0).status_code == 200:
                    return text, found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    stop_server(proc)
    pytest.fail(f"gridgeo serve did not answer in time:\n{out.read_text(encoding='utf-8')}")


@pytest.fixture
def workspace(demo_workspace: Path, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "workspace.gpkg"
    shutil.copyfile(demo_workspace, path)
    return path


def test_first_start_makes_one_user_per_role_and_a_second_start_none(workspace, tmp_path):
    out = tmp_path / "first.out"
    proc, port = _serve(workspace, out)
    try:
        text, url = _wait_until_open(proc, out)
        assert url == f"http://127.0.0.1:{port}/"
        printed = dict(USER_LINE.findall(text))
        # one user per role, each with its own generated password (no fixed default)
        assert sorted(printed) == sorted(
            ["admin", "leader", "dispatcher", "planner", "grid_manager", "grid_member"]
        )
        assert len(set(printed.values())) == 6
        assert all(len(p) >= gridgeo.MIN_PASSWORD_LENGTH for p in printed.values())
        answer = httpx.post(
            url + "auth/login",
            json={"username": "grid_manager", "password": printed["grid_manager"]},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        me = answer.json()
        assert me["role"] == "grid_manager"
        # a real grid of the workspace: the tier-3 grid with the most customers
        store = gridgeo.GeoPackageStore.open(workspace)
        counts = store.read("customers")["grid_t3"].astype(str).value_counts()
        assert me["grids"] == [counts.index[0]]
        wrong = httpx.post(
            url + "auth/login",
            json={"username": "admin", "password": printed["leader"]},
            timeout=10,
        )
        assert wrong.status_code == 401
    finally:
        stop_server(proc)
    # the second start: nobody new, no password printed; the old passwords still work
    out2 = tmp_path / "second.out"
    proc, _ = _serve(workspace, out2)
    try:
        text2, url2 = _wait_until_open(proc, out2)
        assert USER_LINE.findall(text2) == []
        assert "password" not in text2.split("open http")[0].replace("users reset", "")
        table = gridgeo.list_users(gridgeo.GeoPackageStore.open(workspace))
        assert len(table) == 6
        again = httpx.post(
            url2 + "auth/login",
            json={"username": "leader", "password": printed["leader"]},
            timeout=10,
        )
        assert again.status_code == 200
    finally:
        stop_server(proc)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "serve", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_workspace_is_one_line_and_no_server(tmp_path):
    done = _run_cli("--workspace", str(tmp_path / "nope.gpkg"), "--port", "8000")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "nope.gpkg" in done.stderr


def test_a_port_in_use_names_the_flag(workspace):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        done = _run_cli("--workspace", str(workspace), "--port", str(port))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    # refused before any user was made
    assert len(gridgeo.list_users(gridgeo.GeoPackageStore.open(workspace))) == 0


def test_a_bad_port_names_the_flag(workspace):
    done = _run_cli("--workspace", str(workspace), "--port", "70000")
    assert done.returncode == 2
    assert "--port" in done.stderr and "Traceback" not in done.stderr
