"""``/admin`` in real headless Chromium: an administrator adds a user (the password shown
once), that user logs in with it; role changes, disabling and the audit log."""

from __future__ import annotations

import geopandas as gpd
import httpx
from browserharness import new_offline_context
from playwright.sync_api import expect


def _open_admin(page, open_page):
    open_page("/admin", role="admin")
    page.locator("#user-list li").first.wait_for()


def _village_grid(workspace) -> str:
    grids = gpd.read_file(workspace, layer="grids")
    return str(grids.loc[grids["tier"] == 3, "grid_id"].sort_values().iloc[-1])


def test_admin_adds_a_user_who_can_log_in(
    page, open_page, app_server, chromium, size, blocked_requests, screenshot, page_errors
):
    _open_admin(page, open_page)
    grid = _village_grid(app_server.workspace)
    username = f"new_member_{size}"
    page.locator("#new-username").fill(username)
    page.locator("#new-display").fill("李四")
    page.locator("#new-role").select_option("grid_member")
    page.locator("#new-grids").fill(grid)
    page.locator("#add-user-submit").click()
    page.locator("#user-message").filter(has_text=f"已添加用户 / user added: {username}").wait_for()
    password = page.locator("#password-value").inner_text().strip()
    assert len(password) >= 10
    page.locator(f'#user-list li[data-username="{username}"]').wait_for()
    screenshot("admin-user-added")
    # the new user logs in through the login page in a browser of their own
    context = new_offline_context(chromium, size, blocked_requests, base_url=app_server.url)
    try:
        theirs = context.new_page()
        theirs.goto("/login")
        theirs.locator("#username").fill(username)
        theirs.locator("#password").fill(password)
        theirs.locator("#login-submit").click()
        theirs.wait_for_url("**/my")
        me = theirs.request.get("/auth/me").json()
        assert me["username"] == username and me["role"] == "grid_member"
        assert me["grids"] == [grid]
        assert theirs.locator(".gg-user-name").inner_text() == "李四"
    finally:
        context.close()
    # the audit log shows who added whom
    page.locator("#audit-route").fill("/admin/users")
    page.locator("#audit-go").click()
    row = page.locator("#audit-table tbody tr").filter(has_text=username).first
    row.wait_for()
    assert "POST" in row.inner_text() and "201" in row.inner_text()
    assert password not in page.locator("#audit-table").inner_text()  # never logged
    assert page_errors == []


def test_a_grid_role_without_grids_is_refused_on_the_page(page, open_page, page_errors):
    _open_admin(page, open_page)
    page.locator("#new-username").fill("no_grids_user")
    page.locator("#new-role").select_option("grid_manager")
    page.locator("#add-user-submit").click()
    message = page.locator("#user-message")
    message.filter(has_text="网格").wait_for()
    assert message.get_attribute("data-kind") == "error"
    # an unknown grid: the server's answer, shown on the page
    page.locator("#new-grids").fill("T9-NOPE")
    page.locator("#add-user-submit").click()
    message.filter(has_text="T9-NOPE").wait_for()
    assert message.get_attribute("data-kind") == "error"
    assert page.locator('#user-list li[data-username="no_grids_user"]').count() == 0
    assert page_errors == []


def test_admin_changes_a_role_disables_and_resets(page, open_page, app_server, size, page_errors):
    _open_admin(page, open_page)
    username = f"changing_{size}"
    page.locator("#new-username").fill(username)
    page.locator("#new-role").select_option("planner")
    page.locator("#add-user-submit").click()
    page.locator("#user-message").filter(has_text=username).wait_for()
    first = page.locator("#password-value").inner_text().strip()
    item = page.locator(f'#user-list li[data-username="{username}"]')
    # planner -> dispatcher
    item.locator('button[data-action="edit"]').click()
    item.locator('.gg-user-edit select[name="role"]').select_option("dispatcher")
    item.locator('.gg-user-edit button[type="submit"]').click()
    page.locator("#user-message").filter(has_text=f"已保存 / saved: {username}").wait_for()
    item.filter(has_text="调度员").wait_for()
    login = {"username": username, "password": first}
    assert httpx.post(f"{app_server.url}/auth/login", json=login).json()["role"] == "dispatcher"
    # disabled: the login is refused
    item.locator('button[data-action="toggle"]').click()
    item.filter(has_text="停用 disabled").wait_for()
    assert httpx.post(f"{app_server.url}/auth/login", json=login).status_code == 401
    item.locator('button[data-action="toggle"]').click()
    item.filter(has_text="启用 active").wait_for()
    # a new password: the old one is refused, the new one works
    item.locator('button[data-action="reset"]').click()
    page.locator("#user-message").filter(has_text="已重置密码").wait_for()
    second = page.locator("#password-value").inner_text().strip()
    assert second != first
    assert httpx.post(f"{app_server.url}/auth/login", json=login).status_code == 401
    login["password"] = second
    assert httpx.post(f"{app_server.url}/auth/login", json=login).status_code == 200
    assert page_errors == []


def test_the_audit_log_pages_and_filters_by_user(page, open_page, accounts, page_errors):
    _open_admin(page, open_page)
    admin_name = accounts["admin"][0]
    page.locator("#audit-user").fill(admin_name)
    # the unfiltered log shown on opening also says 共: wait for the filtered answer and its
    # rows (on a served workspace other tests have written to, the first page mixes users)
    with page.expect_response(lambda r: "/admin/audit?" in r.url and "username=" in r.url):
        page.locator("#audit-go").click()
    cells = page.locator("#audit-table tbody tr td:nth-child(2)")
    expect(cells.filter(has_not_text=admin_name)).to_have_count(0)
    expect(cells.first).to_have_text(admin_name)
    users = cells.all_inner_texts()
    assert users and set(users) == {admin_name}
    # a date range that ends before it starts is named on the page
    page.locator("#audit-start").fill("2026-12-02")
    page.locator("#audit-end").fill("2026-12-01")
    page.locator("#audit-go").click()
    message = page.locator("#audit-message")
    message.filter(has_text="止").wait_for()
    assert message.get_attribute("data-kind") == "error"
    assert page_errors == []
