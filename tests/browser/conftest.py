"""The live-server browser tests: real headless Chromium on a real uvicorn server, offline.

The browser, the sizes, the blocking and recording of non-local loads, ``page_errors`` and
``screenshot`` come from ``tests/browserharness.py``; here:

- ``app_server`` (session): ``uvicorn --factory api.main:create_app`` on 127.0.0.1 (a free
  port) over a private copy of the session's demo workspace, so a test may write.
- ``page``: a fresh context per test and per size with ``base_url`` on ``app_server``; the
  test fails at teardown if any page tried to load anything non-local.
- ``open_page(path, role=...)``: go to ``path`` and, if the server sends the browser to the
  login page (or answers 401), log in as ``role`` (``login``: one user per role made in the
  served workspace, ``POST /auth/login``) and go again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from browserharness import fail_if_blocked, new_offline_context
from liveserver import Server, start_server, stop_server

import gridgeo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response


@pytest.fixture(scope="session")
def app_server(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real uvicorn server over a private copy of the demo workspace."""
    private = tmp_path_factory.mktemp("browser_workspace") / "workspace.gpkg"
    shutil.copyfile(demo_workspace, private)
    server = start_server(private, private.with_name("uvicorn.log"))
    yield server
    stop_server(server.process)


@pytest.fixture
def page(
    chromium: Browser,
    app_server: Server,
    size: str,
    blocked_requests: list[str],
    page_errors: list[str],
) -> Iterator[Page]:
    """A page in a fresh context at ``size``, with ``base_url`` on the live server, offline."""
    context = new_offline_context(chromium, size, blocked_requests, base_url=app_server.url)
    tab = context.new_page()
    tab.on("pageerror", lambda err: page_errors.append(str(err)))
    yield tab
    context.close()
    fail_if_blocked(blocked_requests)


# --------------------------------------------------------------------------- #
# logging in (issue 13: users and roles)


@pytest.fixture(scope="session")
def accounts(app_server: Server) -> dict[str, tuple[str, str]]:
    """One user per role in the served workspace: ``{role: (username, password)}``.

    Grid roles look after the first tier-3 grid of the demo workspace.
    """
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    grids = store.read("grids")
    village_grid = str(grids.loc[grids["tier"] == 3, "grid_id"].sort_values().iloc[0])
    made = {}
    for role in gridgeo.ROLES:
        own = [village_grid] if role in gridgeo.GRID_ROLES else None
        user, password = gridgeo.add_user(store, f"browser_{role}", role=role, grids=own)
        made[role] = (user.username, password)
    return made


@pytest.fixture
def login(accounts: dict[str, tuple[str, str]]) -> Callable[[Page, str], None]:
    """``login(page, role)``: sign ``page``'s browser context in as the user with ``role``.

    Posts the credentials to ``POST /auth/login`` through the context's request API, which
    shares the context's cookie jar, so the pages then carry the session cookie. When the
    app has a login page, a test of that page fills its form instead.
    """

    def sign_in(page: Page, role: str) -> None:
        if role not in accounts:
            msg = f"`role` must be one of {sorted(accounts)}, got {role!r}"
            raise ValueError(msg)
        username, password = accounts[role]
        answer = page.request.post("/auth/login", form={"username": username, "password": password})
        assert answer.ok, f"POST /auth/login as {role}: {answer.status} {answer.text()[:300]}"

    return sign_in


@pytest.fixture
def open_page(page: Page, login: Callable[[Page, str], None]) -> Callable[..., Response]:
    """``open_page(path, role="admin")``: go to ``path``, logging in as ``role`` when sent to
    the login page (a page without a session redirects there) or answered 401.

    Returns the final navigation response; a response that is not 2xx fails the test.
    """

    def go(path: str, *, role: str = "admin") -> Response:
        response = page.goto(path)
        assert response is not None, f"no response for {path}"
        sent_to_login = urlsplit(page.url).path == "/login" and path != "/login"
        if response.status == 401 or sent_to_login:
            login(page, role)
            response = page.goto(path)
            assert response is not None, f"no response for {path}"
        assert response.ok, f"GET {path}: {response.status} {response.status_text}"
        return response

    return go
