"""``/my`` in real headless Chromium: a grid manager sees their own grids' customers only,
searches and filters them, records an arrival and a callback on their work orders, and sees
this quarter's callbacks due and visit coverage of their grids, recording callbacks and home
visits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pytest

import gridgeo

CHINA = ZoneInfo("Asia/Shanghai")
TIERS = ["grid_t1", "grid_t2", "grid_t3"]


@pytest.fixture(scope="module")
def layers(app_server):
    """The served workspace's customers, their access and work orders, read by geopandas."""
    path = app_server.workspace
    customers = gpd.read_file(path, layer="customers")
    access = gpd.read_file(path, layer="customer_access")
    return customers, access


def _theirs(customers: pd.DataFrame, grids: list[str]) -> pd.DataFrame:
    """The customers in any of ``grids`` at any tier (independent of the API's filter)."""
    mask = np.zeros(len(customers), dtype=bool)
    for column in TIERS:
        mask |= customers[column].astype(str).isin(grids).to_numpy()
    return customers.loc[mask]


def _open_as_manager(page, open_page):
    open_page("/my", role="grid_manager")
    page.locator('#my-counts [data-count="customers"]').wait_for()
    page.locator("#customer-list li").first.wait_for()
    return page.request.get("/auth/me").json()["grids"]


def test_a_grid_manager_sees_only_their_grids_customers(
    page, open_page, layers, screenshot, page_errors
):
    grids = _open_as_manager(page, open_page)
    customers, access = layers
    mine = _theirs(customers, grids)
    assert 0 < len(mine) < len(customers)  # a real grid, not the whole county
    # the count shown is the number of their customers in the layer
    shown = page.locator('#my-counts [data-count="customers"] .gg-value').inner_text()
    assert int(shown.replace(",", "")) == len(mine)
    # every customer on the page is theirs
    ids = page.locator("#customer-list li").evaluate_all(
        "els => els.map(e => e.dataset.customerId)"
    )
    assert len(ids) == 20 and set(ids) <= set(mine["customer_id"].astype(str))
    # and what the page reads is exactly their customers, all of them
    answer = page.request.get("/customers?limit=1000").json()
    assert answer["total"] == len(mine)
    assert {c["customer_id"] for c in answer["customers"]} == set(mine["customer_id"].astype(str))
    # their service levels as stored: repair and payment flags against customer_access
    ok = access.set_index("customer_id").reindex(mine["customer_id"])
    not_repair = int((~ok["repair_ok"].fillna(False).astype(bool)).sum())
    counts = answer["counts"]
    assert counts["repair"] == not_repair
    assert counts["care"] == int(mine["vulnerable"].astype(bool).sum())
    screenshot("my-customers", full_page=True)
    assert page_errors == []


def test_search_and_flags_stay_inside_their_grids(page, open_page, layers, page_errors):
    grids = _open_as_manager(page, open_page)
    customers, _ = layers
    mine = _theirs(customers, grids)
    other = customers.loc[~customers["customer_id"].isin(mine["customer_id"])].iloc[0]
    search = page.locator("#customer-q")
    # another grid's customer number: not found
    search.fill(str(other["customer_id"]))
    page.locator("#customer-go").click()
    page.locator("#customer-total").filter(has_text="没有符合条件的客户").wait_for()
    assert page.locator("#customer-list li").count() == 0
    # one of theirs by number: exactly that one, with its address
    own = mine.iloc[len(mine) // 2]
    search.fill(str(own["customer_id"]))
    page.locator("#customer-go").click()
    item = page.locator(f'#customer-list li[data-customer-id="{own["customer_id"]}"]')
    item.wait_for()
    assert page.locator("#customer-list li").count() == 1
    assert str(own["address"]) in item.inner_text()
    # 重点关怀 only: the count of their vulnerable customers, every one badged
    search.fill("")
    page.locator('#customer-flags input[value="care"]').check()
    cared = int(mine["vulnerable"].astype(bool).sum())
    assert cared > 0
    page.locator("#customer-total").filter(has_text=f"共 {cared} 户").wait_for()
    items = page.locator("#customer-list li")
    assert items.count() == min(cared, 20)
    assert page.locator('#customer-list li [data-flag="care"]').count() == items.count()
    assert page_errors == []


def _china(minutes_ago: int) -> str:
    return (dt.datetime.now(CHINA) - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M")


def test_a_grid_manager_records_an_arrival_and_a_callback(
    page, open_page, app_server, accounts, layers, size, screenshot, page_errors
):
    grids = _open_as_manager(page, open_page)
    customers, _ = layers
    own = _theirs(customers, grids).iloc[0]
    # a dispatcher opens a fault order for one of their customers (bearer token: no CSRF)
    name, password = accounts["dispatcher"]
    token = httpx.post(
        f"{app_server.url}/auth/token", json={"username": name, "password": password}
    ).json()["access_token"]
    order_id = f"BROWSER-MY-{size}"
    made = httpx.post(
        f"{app_server.url}/orders",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "order_id": order_id,
            "kind": "fault",
            "source": "95598",
            "customer_id": str(own["customer_id"]),
            "reported_at": _china(90),
            "dispatched_at": _china(80),
            "author": "browser test",
        },
        timeout=30,
    )
    assert made.status_code == 201, made.text
    page.reload()
    item = page.locator(f'#open-orders li[data-order-id="{order_id}"]')
    item.wait_for()
    item.locator('button[data-action="arrival"]').click()
    item.locator('.gg-order-form button[type="submit"]').click()
    page.locator("#order-message").filter(has_text=f"已保存 / saved: 工单 {order_id}").wait_for()
    stored = page.request.get(f"/orders/{order_id}").json()["order"]
    assert stored["status"] == "arrived" and stored["arrived_at"] is not None
    # a closed order of their grids: record the callback
    due = page.locator("#callback-orders li[data-order-id]").first
    due.wait_for()
    closed_id = due.get_attribute("data-order-id")
    due.locator('button[data-action="callback"]').click()
    due.locator('select[name="satisfaction"]').select_option("满意")
    screenshot("my-callback-form")
    due.locator('.gg-order-form button[type="submit"]').click()
    page.locator("#order-message").filter(has_text=f"工单 {closed_id}").wait_for()
    assert page.locator("#order-message").get_attribute("data-kind") == "ok"
    called = page.request.get(f"/orders/{closed_id}").json()["order"]
    assert called["status"] == "called_back"
    assert called["satisfaction"] == "satisfied"  # 满意, stored as its code
    orders = gpd.read_file(app_server.workspace, layer="work_orders")
    row = orders.loc[orders["order_id"] == closed_id].iloc[0]
    assert str(row["grid_t3"]) in grids or str(row["grid_t2"]) in grids
    screenshot("my-orders", full_page=True)
    assert page_errors == []


def test_a_bad_time_is_named_on_the_page(page, open_page, page_errors):
    _open_as_manager(page, open_page)
    due = page.locator("#callback-orders li[data-order-id]").first
    due.wait_for()
    due.locator('button[data-action="callback"]').click()
    due.locator('input[name="at"]').fill("")
    due.locator('.gg-order-form button[type="submit"]').click()
    message = page.locator("#order-message")
    message.filter(has_text="时间").wait_for()
    assert message.get_attribute("data-kind") == "error"
    assert page_errors == []


# ------------------------------------------------------------------ visits and callbacks


def _quarter_now() -> str:
    now = dt.datetime.now(CHINA)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def _village_grids(path, mine: list[str]) -> set[str]:
    """The tier-3 grids that are ``mine`` or under one of ``mine`` (read by geopandas)."""
    grids = gpd.read_file(path, layer="grids")
    parent = dict(zip(grids["grid_id"].astype(str), grids["parent_id"].astype(str), strict=True))
    out = set()
    for grid_id in grids.loc[grids["tier"] == 3, "grid_id"].astype(str):
        up = parent.get(grid_id, "")
        if {grid_id, up, parent.get(up, "")} & set(mine):
            out.add(grid_id)
    return out


def _called_this_quarter(path, quarter: str) -> set[str]:
    """Customers with a done callback in ``quarter``, from the stored layer (none if no layer)."""
    if "visits" not in set(gpd.list_layers(path)["name"]):
        return set()
    visits = gpd.read_file(path, layer="visits")
    year, q = int(quarter[:4]), int(quarter[-1])
    start = pd.Timestamp(year=year, month=3 * q - 2, day=1, tz=CHINA)
    end = start + pd.DateOffset(months=3)
    done_at = pd.to_datetime(visits["done_at"], utc=True)
    hit = (
        (visits["kind"] == "callback")
        & (visits["outcome"] == "done")
        & (done_at >= start)
        & (done_at < end)
    )
    return set(visits.loc[hit, "customer_id"].astype(str))


def _home_visits(path, customer: str) -> int:
    """The stored home visits of ``customer`` with nobody at home."""
    if "visits" not in set(gpd.list_layers(path)["name"]):
        return 0
    visits = gpd.read_file(path, layer="visits")
    hit = (
        (visits["customer_id"] == customer)
        & (visits["kind"] == "home")
        & (visits["outcome"] == "not_home")
    )
    return int(hit.sum())


def _due_ids(page) -> list[str]:
    return page.locator("#visit-due li[data-customer-id]").evaluate_all(
        "els => els.map(e => e.dataset.customerId)"
    )


def test_a_grid_manager_sees_and_records_the_callbacks_due(
    page, open_page, app_server, accounts, size, screenshot, page_errors
):
    grids = _open_as_manager(page, open_page)
    path = app_server.workspace
    quarter = _quarter_now()
    assert page.locator("#visit-quarter").inner_text() == quarter
    page.locator("#visit-due li[data-customer-id]").first.wait_for()
    page.locator('#visit-coverage [data-coverage="called"]').wait_for()

    village_grids = _village_grids(path, grids)
    customers = gpd.read_file(path, layer="customers", columns=["customer_id", "grid_t3"])
    theirs = set(customers.loc[customers["grid_t3"].isin(village_grids), "customer_id"])
    assert 0 < len(theirs) < len(customers)
    called = _called_this_quarter(path, quarter)
    # the order of the list from the library, its members from the stored layers by hand
    due = gridgeo.callbacks_due(gridgeo.GeoPackageStore.open(path), quarter)
    expected = due.loc[due["grid_t3"].isin(village_grids), "customer_id"].tolist()
    assert set(expected) == theirs - called  # with no visits stored: every customer is due
    answer = page.request.get(f"/visits/callbacks?quarter={quarter}").json()
    assert [r["customer_id"] for r in answer["callbacks"]] == expected
    assert _due_ids(page) == expected[:20]
    assert f"({len(expected)}" in page.locator("#visit-due-count").inner_text()
    figure = page.locator('#visit-coverage [data-coverage="called"] .gg-label')
    assert f"({len(called & theirs)}/{len(theirs)})" in figure.inner_text()

    # a server error is shown on the page: a callback dated in the future (400)
    first = page.locator("#visit-due li[data-customer-id]").first
    customer = first.get_attribute("data-customer-id")
    member = first.get_attribute("data-member")
    first.locator('button[data-visit="callback"]').click()
    form = first.locator(".gg-visit-form")
    form.locator('input[name="at"]').fill("2099-01-01T08:00")
    form.locator('button[type="submit"]').click()
    message = page.locator("#visit-message")
    message.filter(has_text="时间在将来").wait_for()
    assert message.get_attribute("data-kind") == "error"
    assert "Traceback" not in message.inner_text()

    # a one-tap callback, done and satisfied: it leaves the list, the share goes up by one
    form.locator('input[name="at"]').fill(dt.datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"))
    assert form.locator('input[name="member"]').input_value() == member
    form.locator('select[name="satisfaction"]').select_option("满意")
    screenshot("my-visit-form")
    form.locator('button[type="submit"]').click()
    message.filter(has_text=f"已保存 / saved: 户号 {customer}").wait_for()
    assert message.get_attribute("data-kind") == "ok"
    assert customer not in _due_ids(page)
    assert (
        len(answer["callbacks"]) - 1
        == page.request.get(f"/visits/callbacks?quarter={quarter}").json()["total"]
    )
    assert f"({len(called & theirs) + 1}/{len(theirs)})" in figure.inner_text()
    visits = gpd.read_file(path, layer="visits")
    calls = visits.loc[(visits["customer_id"] == customer) & (visits["kind"] == "callback")]
    assert len(calls) == 1  # it was due: no done callback before
    row = calls.iloc[0]
    assert (row["kind"], row["outcome"], row["satisfaction"]) == ("callback", "done", "satisfied")
    assert row["member"] == member and row["recorded_by"] == accounts["grid_manager"][0]

    # a home visit, nobody at home: stored, and the customer is still due a callback
    other = page.locator("#visit-due li[data-customer-id]").first
    other_id = other.get_attribute("data-customer-id")
    home_before = _home_visits(path, other_id)
    other.locator('button[data-visit="home"]').click()
    other.locator('select[name="outcome"]').select_option("not_home")
    assert other.locator(".gg-done-only").is_hidden()
    other.locator('.gg-visit-form button[type="submit"]').click()
    message.filter(has_text=f"已保存 / saved: 户号 {other_id}").wait_for()
    assert _home_visits(path, other_id) == home_before + 1
    assert other_id in _due_ids(page)
    page.locator('.gg-jump a[href="#my-visits"]').click()
    top = page.locator("#my-visits h2").evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < page.viewport_size["height"]  # the link brought the card into view
    screenshot("my-visits")
    assert page_errors == []
