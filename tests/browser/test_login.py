"""The login page and ``/``: each role lands on its own page; wrong and locked logins say so.

Real headless Chromium on a real uvicorn server (tests/browser/conftest.py), at phone and
desktop size, with every non-local request blocked.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

import gridgeo

# the page each role lands on (DESIGN.md "Who may do what"; issue 13), written out by hand
LANDING = {
    "dispatcher": "/console",
    "planner": "/planner",
    "grid_manager": "/my",
    "grid_member": "/my",
    "leader": "/overview",
    "admin": "/admin",
}
ROLE_ZH = {  # by hand, as shown in the page header
    "dispatcher": "调度员",
    "planner": "规划员",
    "grid_manager": "网格长",
    "grid_member": "网格员",
    "leader": "领导",
    "admin": "管理员",
}


def _fill_login(page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def test_root_without_login_goes_to_the_login_page(page, screenshot, page_errors):
    response = page.goto("/")
    assert response is not None and response.ok
    assert urlsplit(page.url).path == "/login"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.locator("#username")).to_be_visible()
    expect(page.locator("#password")).to_have_attribute("type", "password")
    # no header user or nav before logging in
    assert page.locator(".gg-user").count() == 0
    assert "default-src 'self'" in response.headers["content-security-policy"]
    screenshot("login")
    assert page_errors == []


@pytest.mark.parametrize("role", list(LANDING))
def test_each_role_lands_on_its_page(page, accounts, role, screenshot, page_errors):
    page.goto("/login")
    username, password = accounts[role]
    with page.expect_navigation(url=re.compile(re.escape(LANDING[role]) + r"$")):
        _fill_login(page, username, password)
    assert urlsplit(page.url).path == LANDING[role]
    # the session is the browser's own: /auth/me answers with the role that logged in
    me = page.request.get("/auth/me")
    assert me.ok and me.json()["role"] == role
    landing = page.request.get(LANDING[role])
    assert landing.status != 401 and landing.status != 403, landing.status
    if landing.ok:  # a page built on the shared shell names the user and the role
        expect(page.locator(".gg-user-role")).to_have_text(ROLE_ZH[role])
        expect(page.locator(".gg-brand")).to_have_text("供电服务网格化管理")
    screenshot(f"landing-{role}")
    assert page_errors == []


@pytest.mark.parametrize(
    ("role", "path", "api_path"),
    [("leader", "/console", "/dispatch/stations"), ("grid_member", "/admin", "/admin/users")],
)
def test_a_role_is_refused_a_page_with_a_page(
    page, login, role, path, api_path, screenshot, page_errors
):
    login(page, role)
    response = page.goto(path)
    assert response is not None and response.status == 403
    assert response.headers["content-type"].startswith("text/html")
    refusal = page.locator("#forbidden")
    expect(refusal.locator("h1")).to_have_text("无权限 / Forbidden")
    expect(refusal).to_contain_text("您的角色无权打开此页面 / your role may not open this page")
    expect(refusal).to_contain_text(f"({role})")
    expect(page.locator(".gg-user-role")).to_have_text(ROLE_ZH[role])
    screenshot(f"forbidden-{role}")
    # an API route answers the same role in JSON
    answer = page.request.get(api_path)
    assert answer.status == 403 and answer.json()["error"] == "Forbidden"
    # the link goes to the user's own page
    with page.expect_navigation(url=re.compile(re.escape(LANDING[role]) + r"$")):
        page.click("#forbidden-home")
    assert urlsplit(page.url).path == LANDING[role]
    # and from the refusal one can log out (to log in as someone else)
    page.goto(path)
    with page.expect_navigation(url=re.compile(r"/login$")):
        page.click("#forbidden-logout")
    assert page.request.get("/auth/me").status == 401
    assert page_errors == []


def test_a_page_without_a_session_goes_to_the_login_and_back(page, accounts, page_errors):
    response = page.goto("/planner")
    assert response is not None and response.ok
    where = urlsplit(page.url)
    assert where.path == "/login" and parse_qs(where.query) == {"next": ["/planner"]}
    expect(page.locator("#login-form")).to_have_attribute("data-next", "/planner")
    username, password = accounts["planner"]
    with page.expect_navigation(url=re.compile(r"/planner$")):
        _fill_login(page, username, password)
    expect(page.locator(".gg-user-role")).to_have_text(ROLE_ZH["planner"])
    assert page_errors == []


def test_wrong_password_shows_a_message(page, accounts, screenshot, page_errors):
    page.goto("/login")
    username, _ = accounts["planner"]
    _fill_login(page, username, "not-the-password-1")
    box = page.locator("#login-message")
    expect(box).to_be_visible()
    expect(box).to_contain_text("用户名或密码错误")
    expect(box).to_have_attribute("data-kind", "error")
    assert urlsplit(page.url).path == "/login"
    assert page.context.cookies() == [] or all(
        c["name"] != "gridgeo_session" for c in page.context.cookies()
    )
    screenshot("wrong-password")
    assert page_errors == []


def test_empty_fields_name_the_field(page):
    page.goto("/login")
    page.click("#login-submit")
    expect(page.locator("#login-message")).to_contain_text("用户名")


def test_locked_login_shows_the_wait(page, app_server, size, screenshot, page_errors):
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    user, password = gridgeo.add_user(store, f"locked_{size}", role="dispatcher")
    page.goto("/login")
    box = page.locator("#login-message")
    for attempt in range(5):  # MAX_FAILED_LOGINS wrong passwords, then the name is locked
        _fill_login(page, user.username, f"wrong-password-{attempt}")
        expect(box).to_have_attribute("data-kind", "error")
        expect(page.locator("#login-submit")).to_be_enabled()
    _fill_login(page, user.username, password)  # even the right password waits now
    expect(box).to_contain_text("锁定")
    text = box.inner_text()
    seconds = re.search(r"(\d+) 秒", text)
    assert seconds is not None and int(seconds.group(1)) > 0, text
    assert urlsplit(page.url).path == "/login"
    screenshot("locked")
    assert page_errors == []


def test_logout_returns_to_the_login_page(page, login, screenshot):
    login(page, "dispatcher")
    page.goto("/console")
    expect(page.locator(".gg-user-role")).to_have_text("调度员")
    with page.expect_navigation(url=re.compile(r"/login$")):
        page.click("#gg-logout")
    assert page.request.get("/auth/me").status == 401
    page.goto("/")
    assert urlsplit(page.url).path == "/login"
