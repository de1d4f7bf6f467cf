"""Headless Chromium for the tests, fully offline (a pytest plugin: tests/conftest.py loads it).

Fixtures for any test directory (the live-server pages are in ``tests/browser/conftest.py``):

- ``chromium`` (session): Debian's ``/usr/bin/chromium`` (or ``GRIDGEO_CHROMIUM``) driven by
  Playwright through ``executable_path``; Playwright's own browser download is never used.
  Host names do not resolve at all (``--host-resolver-rules``), so Chromium's own
  background traffic cannot leave the machine.
- ``offline_page``: a fresh context and page at ``size``, ``phone`` (390 x 844, the WeChat
  in-app browser's user agent, touch) or ``desktop`` (1366 x 768); each test using it runs at
  both. Every request or WebSocket to anything but 127.0.0.1 / localhost / [::1] (or a
  ``file:`` URL) is aborted **and recorded** in ``blocked_requests``, and so is a non-local
  load that a page's Content-Security-Policy refused; the test fails at teardown if any page
  tried to load anything non-local. Uncaught JavaScript errors go to ``page_errors``.
- ``screenshot(name)``: a PNG of the page's viewport (or the whole page) under
  ``$GRIDGEO_ARTIFACTS/browser``
  (default: a folder in pytest's temporary directory, never inside the git tree; CI keeps
  ``out/artifacts``, which git ignores).

Without Playwright or Chromium these tests skip on a developer's machine and fail under
``CI=true`` with the install hint (:func:`liveserver.cannot_run`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from liveserver import cannot_run

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route, WebSocketRoute

CHROMIUM = Path(os.environ.get("GRIDGEO_CHROMIUM", "/usr/bin/chromium"))
INSTALL_CHROMIUM = "apt-get install chromium fonts-noto-cjk (or set GRIDGEO_CHROMIUM)"
INSTALL_PLAYWRIGHT = "pip install -c constraints.txt -e '.[test]' (never `playwright install`)"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NAVIGATION_TIMEOUT_MS = 30_000
WECHAT_ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 14; V2309A Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.103 Mobile Safari/537.36 XWEB/1300289 "
    "MMWEBSDK/20241103 MMWEBID/2585 MicroMessenger/8.0.55.2780(0x28003737) WeChat/arm64 "
    "Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
SIZES: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "user_agent": WECHAT_ANDROID_UA,
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
    "desktop": {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1},
}
CHROMIUM_ARGS = [
    # no host name resolves: nothing can leave the machine, even outside Playwright's routes
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def is_local(url: str) -> bool:
    """Whether ``url`` is on this machine: a ``file:`` URL, or http(s)/ws(s) to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


# a page's Content-Security-Policy refuses a load before any request is made (so no route
# sees it): the page still tried, so the harness records it too
REPORT_CSP_REFUSALS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__gridgeoRefused(e.blockedURI, e.effectiveDirective);
});
"""


def block_non_local(context: BrowserContext, blocked: list[str]) -> None:
    """Abort every non-local request and WebSocket of ``context``, recording each in ``blocked``.

    Entries read ``"<resource type> <url>"`` (``"websocket <url>"`` for WebSockets,
    ``"csp <directive> <url>"`` for a non-local load that the page's Content-Security-Policy
    refused before making a request).
    """

    def on_refused(source: Any, uri: str, directive: str) -> None:
        if urlsplit(uri).scheme and not is_local(uri):
            blocked.append(f"csp {directive} {uri}")

    def on_request(route: Route) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {route.request.url}")
            route.abort("blockedbyclient")

    def on_websocket(ws: WebSocketRoute) -> None:
        blocked.append(f"websocket {ws.url}")
        ws.close()

    context.route("**/*", on_request)
    context.route_web_socket(lambda url: not is_local(url), on_websocket)
    context.expose_binding("__gridgeoRefused", on_refused)
    context.add_init_script(REPORT_CSP_REFUSALS)


def new_offline_context(
    browser: Browser, size: str, blocked: list[str], **options: Any
) -> BrowserContext:
    """A context at ``size`` (a key of :data:`SIZES`) whose non-local loads go to ``blocked``.

    ``options`` go to ``Browser.new_context`` (e.g. ``base_url``).
    """
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        service_workers="block",  # a service worker's fetches would bypass the routes
        **SIZES[size],
        **options,
    )
    context.set_default_timeout(NAVIGATION_TIMEOUT_MS)
    block_non_local(context, blocked)
    return context


def fail_if_blocked(blocked: list[str]) -> None:
    """Fail the test if a page tried to load anything non-local (one line per load)."""
    if blocked:
        listing = "\n  ".join(blocked)
        pytest.fail(f"pages tried to load non-local resources:\n  {listing}", pytrace=False)


# --------------------------------------------------------------------------- #
# the browser (one per session)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium under Playwright (skip locally / fail in CI when missing)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        cannot_run("the Python package playwright is not installed", INSTALL_PLAYWRIGHT)
    if not CHROMIUM.exists():
        cannot_run(f"no Chromium at {CHROMIUM}", INSTALL_CHROMIUM)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as err:
            cannot_run(f"Chromium at {CHROMIUM} does not start: {err.message}", INSTALL_CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$GRIDGEO_ARTIFACTS/browser`` (never inside the git tree)."""
    root = os.environ.get("GRIDGEO_ARTIFACTS")
    base = Path(root) if root else tmp_path_factory.getbasetemp() / "artifacts"
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --------------------------------------------------------------------------- #
# one page per test and size


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    """``"phone"`` (390 x 844, WeChat) or ``"desktop"`` (1366 x 768): each test runs at both."""
    return request.param


@pytest.fixture
def blocked_requests() -> list[str]:
    """The non-local loads the pages of this test tried (must stay empty at teardown)."""
    return []


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors of the pages of this test."""
    return []


@pytest.fixture
def offline_page(
    chromium: Browser, size: str, blocked_requests: list[str], page_errors: list[str]
) -> Iterator[Page]:
    """A page in a fresh offline context at ``size`` (no ``base_url``: give full URLs)."""
    context = new_offline_context(chromium, size, blocked_requests)
    tab = context.new_page()
    tab.on("pageerror", lambda err: page_errors.append(str(err)))
    yield tab
    context.close()
    fail_if_blocked(blocked_requests)


@pytest.fixture
def screenshot(
    size: str, artifacts_dir: Path, request: pytest.FixtureRequest
) -> Callable[[str], Path]:
    """``screenshot(name, full_page=False)``: save a PNG of what the test's page shows (the
    viewport, or the whole page) and return its path.

    The page is the test's ``page`` fixture if it has one (tests/browser), else its
    ``offline_page``.
    """
    test = re.sub(r"[^\w.-]+", "_", request.node.originalname)
    fixture = "page" if "page" in request.fixturenames else "offline_page"
    page = request.getfixturevalue(fixture)

    def take(name: str, *, full_page: bool = False) -> Path:
        path = artifacts_dir / f"{test}-{name}-{size}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
