"""``/overview`` in real headless Chromium: the leadership sees the county's figures, last
month's evaluation and the week's 服务之星, and no customer's name, phone or number."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import pytest

CHINA = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def stored(app_server):
    path = app_server.workspace
    return (
        gpd.read_file(path, layer="customers"),
        gpd.read_file(path, layer="customer_access"),
        gpd.read_file(path, layer="work_orders"),
        gpd.read_file(path, layer="grids"),
    )


def _last_month() -> str:
    first = dt.datetime.now(CHINA).date().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def test_the_leader_sees_the_county_figures(page, open_page, stored, screenshot, page_errors):
    customers, access, orders, grids = stored
    responses: list[str] = []
    page.on("response", lambda r: responses.append(r.url))
    open_page("/overview", role="leader")
    figures = page.locator("#kpi-figures")
    figures.locator('[data-figure="customers"]').wait_for()
    # the county's customers and the 30-minute repair share, counted from the layers
    shown = figures.locator('[data-figure="customers"] .gg-value').inner_text()
    assert int(shown.replace(",", "")) == len(customers)
    ok = access.set_index("customer_id").reindex(customers["customer_id"])["repair_ok"]
    share = ok.fillna(False).astype(bool).mean() * 100
    repair = figures.locator('[data-figure="repair_share_ok"] .gg-value').inner_text()
    assert repair == f"{share:.1f}%"
    # one row per supply grid, by name
    page.locator("#tier2-table tbody tr").first.wait_for()
    names = page.locator("#tier2-table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == sorted(grids.loc[grids["tier"] == 2, "name"].astype(str))
    # last month's evaluation: its orders counted in China time from the layer
    month = _last_month()
    headline = page.locator("#report-headline")
    headline.filter(has_text=month).wait_for()
    reported = pd.to_datetime(orders["reported_at"], utc=True).dt.tz_convert(CHINA)
    in_month = int((reported.dt.strftime("%Y-%m") == month).sum())
    assert f"工单 {in_month} 件" in headline.inner_text()
    assert page.locator("#report-table tbody tr").count() > 0
    # the week's star: a grid member's name, as the grids' roster has it
    star = page.locator("#star-name")
    star.filter(has_text="分").wait_for()
    staff = set()
    for column in ("manager", "members", "liaison"):
        for text in grids[column].dropna().astype(str):
            staff.update(n for n in re.split(r"[、,，\s]+", text) if n)
    member = star.inner_text().removeprefix("★").split("·")[0].strip()
    assert member in staff
    screenshot("overview", full_page=True)
    # no personal data: no customer's number, phone or name (other than a staff name)
    text = page.locator("body").inner_text()
    ids = set(customers["customer_id"].astype(str))
    assert not ids & set(re.findall(r"\d{10,}", text))
    phones = {p for p in customers["phone"].dropna().astype(str) if len(p) >= 7}
    assert not any(p in text for p in phones)
    for name in sorted(staff, key=len, reverse=True):  # 曾建华 (staff) holds 曾建 (a customer)
        text = text.replace(name, "")
    names = {n for n in customers["name"].dropna().astype(str) if len(n) >= 2}
    assert not [n for n in names if n in text]
    # nor did the page ask for customers
    assert not [u for u in responses if "/customers" in u]
    assert page_errors == []


def test_the_leader_may_not_open_the_customer_pages(page, open_page, login):
    open_page("/overview", role="leader")
    assert page.request.get("/my").status == 403
    assert page.request.get("/admin").status == 403
    assert page.request.get("/customers").status == 403
