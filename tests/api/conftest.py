"""Fixtures of the API tests: one demo workspace per session, copied for writers.

Every route but ``/health`` and the login needs a login, so the session's workspace gets
one test user per role (:func:`add_test_users`) with an API token; copies of it carry
them. ``client``/``writer`` send the admin's token; ``make_client(path, role)`` makes a
client of any role over any workspace.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from liveserver import Server, start_server, stop_server

import gridgeo
from api.main import create_app
from api.settings import Settings


@dataclass(frozen=True)
class TestUser:
    """A user made for the tests: name, role, password, API token, grids."""

    __test__ = False  # not a test class

    username: str
    role: str
    password: str
    token: str
    grids: tuple[str, ...] = ()

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``."""
        return {"Authorization": f"Bearer {self.token}"}


def grids_of_test_roles(store: gridgeo.GeoPackageStore) -> dict[str, tuple[str, ...]]:
    """The grids of the grid roles: the first tier-2 grid for the grid manager, its first
    tier-3 grid for the grid member."""
    grids = store.read("grids")
    t2 = sorted(grids.loc[grids["tier"] == 2, "grid_id"].astype(str))[0]
    inside = grids.loc[(grids["tier"] == 3) & (grids["parent_id"].astype(str) == t2), "grid_id"]
    return {"grid_manager": (t2,), "grid_member": (sorted(inside.astype(str))[0],)}


def add_test_users(path: Path) -> dict[str, TestUser]:
    """One user per role (``test_<role>``, password ``<role>-pass-2026``) with a token."""
    store = gridgeo.GeoPackageStore.open(path)
    gridgeo.ensure_user_tables(store)
    grids = grids_of_test_roles(store)
    users = {}
    for role in gridgeo.ROLES:
        name, password = f"test_{role}", f"{role}-pass-2026"
        gridgeo.add_user(store, name, role=role, grids=grids.get(role), password=password)
        token = gridgeo.start_session(store, name, kind="token").token
        users[role] = TestUser(name, role, password, token, grids.get(role, ()))
    return users


_USERS: dict[str, dict[str, TestUser]] = {}


@pytest.fixture(scope="session")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace GeoPackage of ``gridgeo demo`` with the test users (built once, never
    written to afterwards)."""
    path = tmp_path_factory.mktemp("api_demo") / "workspace.gpkg"
    shutil.copyfile(demo_workspace, path)  # the session's demo, shared with tests/browser
    _USERS[str(path)] = add_test_users(path)
    return path


@pytest.fixture(scope="session")
def role_users(workspace: Path) -> dict[str, TestUser]:
    """The test users of the session's workspace (and of its copies), by role."""
    return _USERS[str(workspace)]


@pytest.fixture(scope="session")
def admin_headers(role_users: dict[str, TestUser]) -> dict[str, str]:
    """The admin's ``Authorization`` header (valid in the workspace and its copies)."""
    return role_users["admin"].headers


@pytest.fixture(scope="session")
def make_client(role_users: dict[str, TestUser]) -> Callable[..., TestClient]:
    """``make_client(path, role="admin", **kw)``: a client of an app over ``path`` that
    sends the token of that role's test user (made in ``path`` if it has none)."""

    def make(path: Path, role: str = "admin", **kw: Any) -> TestClient:
        user = role_users[role]
        store = gridgeo.GeoPackageStore.open(path)
        gridgeo.ensure_user_tables(store)
        headers = user.headers
        if gridgeo.user_for_token(store, user.token) is None:  # not a copy of the workspace
            if user.username not in set(gridgeo.list_users(store)["username"]):
                gridgeo.add_user(store, user.username, role=role, password=user.password)
            token = gridgeo.start_session(store, user.username, kind="token").token
            headers = {"Authorization": f"Bearer {token}"}
        return TestClient(create_app(Settings(workspace=path)), headers=headers, **kw)

    return make


@pytest.fixture(scope="session")
def client(workspace: Path, make_client: Callable[..., TestClient]) -> TestClient:
    """An admin's client of an app over the shared workspace: only for requests that write
    nothing (the audit log aside)."""
    return make_client(workspace)


@pytest.fixture
def writable(workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace, for tests that save."""
    path = tmp_path / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    return path


@pytest.fixture
def writer(writable: Path, make_client: Callable[..., TestClient]) -> TestClient:
    """An admin's client of an app over a private copy of the workspace."""
    return make_client(writable)


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
# a real uvicorn server, for load and fuzz checks (tests/liveserver.py: under CI=true a
# server that cannot start fails the test instead of skipping it)


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
        stop_server(server.process)
