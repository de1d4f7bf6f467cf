"""The dispatcher console (调度台) in real headless Chromium on a real uvicorn server.

A dispatcher finds a fault by customer number, by address and by pasted GCJ-02 coordinates
and sees the route and the same station and ETA as the library's ``gridgeo.dispatch`` called
here on the served workspace (independently of the page and the API); marks a station busy
and gets the next one; creates a work order, then read back with ``gridgeo.read_orders``.
At phone and desktop size, every non-local request blocked (tests/browser/conftest.py).
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

import pytest
from browserharness import new_offline_context
from playwright.sync_api import expect

import gridgeo


@dataclass
class Oracle:
    """The served workspace's layers and engine, read by the test itself."""

    store: gridgeo.GeoPackageStore
    engine: Any
    stations: Any
    customers: Any
    county: Any
    gazetteer: Any

    def dispatch(self, *, unavailable: tuple[str, ...] = (), **fault: Any) -> Any:
        if "customer_id" in fault:
            fault["customers"] = self.customers
        if "address" in fault:
            fault["gazetteer"] = self.gazetteer
        return gridgeo.dispatch(
            self.engine, self.stations, county=self.county, unavailable=unavailable, **fault
        )


@pytest.fixture(scope="module")
def oracle(app_server) -> Oracle:
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    return Oracle(
        store=store,
        engine=gridgeo.read_reach_engine(store),
        stations=store.read("repair_stations"),
        customers=store.read("customers"),
        county=store.read("county"),
        gazetteer=gridgeo.read_gazetteer(store),
    )


@pytest.fixture
def console(page, login):
    login(page, "dispatcher")
    response = page.goto("/console")
    assert response is not None and response.ok
    # the station board and the county layers have loaded
    expect(page.locator("#stations tbody tr").first).to_be_visible()
    expect(page.locator("#map path.leaflet-interactive").first).to_be_attached()
    return page


def minutes_text(eta_s: float) -> str:
    """The ETA as the page shows it: minutes rounded UP to 0.1 (hand rule, not the page's)."""
    return f"{math.ceil(eta_s / 6) / 10:.1f} 分钟"


def search(page, text: str) -> None:
    page.fill("#q", text)
    with page.expect_response(lambda r: "/dispatch?" in r.url):
        page.click("#search-button")


def wait_for_eta(page, eta_s: float) -> None:
    """Wait until the page's answer carries ``eta_s`` (to a microsecond: the service reads the
    stations' precomputed labels, the test searches again; the sums differ in the last bit)."""
    page.wait_for_function(
        "(eta) => Math.abs(Number(document.getElementById('answer').dataset.etaS) - eta) < 1e-6"
        " && document.getElementById('answer').dataset.etaS !== ''",
        arg=float(eta_s),
        timeout=10_000,
    )


def expect_answer(page, expected: Any) -> None:
    """The page shows ``expected`` (a gridgeo.DispatchResult): station, ETA, promise, route."""
    answer = page.locator("#answer")
    wait_for_eta(page, expected.eta_s)
    expect(answer).to_have_attribute("data-station-id", str(expected.station_id))
    name = str(expected.options.set_index("station_id").loc[expected.station_id, "name"])
    expect(page.locator("#answer-station")).to_contain_text(name)
    expect(page.locator("#answer-eta")).to_contain_text(minutes_text(expected.eta_s))
    promise = "30分钟内可到达" if expected.within_limit else "超过30分钟"
    expect(page.locator("#answer-promise")).to_contain_text(promise)
    expect(page.locator("#map path.gg-route")).to_have_count(1)
    # every station's ETA, in the library's order (quickest first)
    rows = page.locator("#options tbody tr")
    expect(rows).to_have_count(len(expected.options))
    assert [r.get_attribute("data-station-id") for r in rows.all()] == [
        str(s) for s in expected.options["station_id"]
    ]


def test_find_by_customer_number_with_doubt_and_contacts(console, oracle, screenshot, page_errors):
    page = console
    customers = oracle.customers
    # a customer whose GPS contradicts the address (a flag of the stored archive)
    flagged = customers.loc[customers["coords_conflict_address"].astype(bool)]
    customer = flagged.sort_values("customer_id").iloc[0]
    expected = oracle.dispatch(customer_id=customer["customer_id"])
    search(page, str(customer["customer_id"]))
    expect_answer(page, expected)
    expect(page.locator("#answer-doubts li[data-code='coords_conflict_address']")).to_contain_text(
        "GPS与地址不符"
    )
    # whom to call: the customer and the people of the customer's tier-3 grid, with phones
    grids = oracle.store.read("grids")
    grid = grids.loc[grids["grid_id"] == customer["grid_t3"]].iloc[0]
    contacts = page.locator("#contacts")
    expect(contacts).to_contain_text(str(customer["name"]))
    for value in (grid["manager"], grid["phone"], grid["liaison"], grid["liaison_phone"]):
        expect(contacts).to_contain_text(str(value))
    expect(contacts).to_contain_text(str(grid["members"]).split("、")[0])
    screenshot("by-customer", full_page=True)
    assert page_errors == []


def test_find_by_address(console, oracle, screenshot, page_errors):
    page = console
    villages = oracle.store.read("villages")
    unique = villages.loc[~villages["village"].duplicated(keep=False)]
    # a village away from the county seat (not the seat's town), by name with its town
    row = unique.loc[unique["town"] != "琴城镇"].sort_values("village_code").iloc[0]
    address = f"{row['town']}{row['village']}"
    expected = oracle.dispatch(address=address)
    assert expected.fault.match_level == "village"
    search(page, address)
    expect_answer(page, expected)
    expect(page.locator("#answer-place")).to_contain_text("按地址")
    screenshot("by-address", full_page=True)
    assert page_errors == []


def test_find_by_pasted_gcj02_coordinates(console, oracle, screenshot, page_errors):
    page = console
    customers = oracle.customers
    gps = customers.loc[
        (customers["location_source"] == "gps") & (customers["gps_datum"] == "gcj02")
    ].sort_values("customer_id")
    customer = gps.iloc[len(gps) // 2]
    pasted = f"{customer['gps_lon']:.6f},{customer['gps_lat']:.6f}"  # as Amap copies it
    lon, lat = (float(v) for v in pasted.split(","))
    expect(page.locator("input[name='datum'][value='gcj02']")).to_be_checked()  # the default
    expected = oracle.dispatch(point=(lon, lat), datum="gcj02")
    search(page, pasted)
    expect_answer(page, expected)
    # the fault was converted: it sits on the customer's stored WGS84 point (the import
    # converted the same GPS), hundreds of metres from the pasted GCJ-02 numbers
    shown = page.locator("#answer-place").inner_text()
    assert f"{customer.geometry.x:.5f}" in shown and f"{customer.geometry.y:.5f}" in shown
    assert abs(customer.geometry.x - lon) > 0.001
    # the same numbers read as WGS84 are another place: the datum switch matters
    page.check("input[name='datum'][value='wgs84']")
    as_wgs84 = oracle.dispatch(point=(lon, lat), datum="wgs84")
    search(page, pasted)
    assert abs(as_wgs84.eta_s - expected.eta_s) > 1.0  # another place, another time
    wait_for_eta(page, as_wgs84.eta_s)
    screenshot("by-gcj02", full_page=True)
    assert page_errors == []


def test_unknown_customer_and_empty_search_show_a_message(console, page_errors):
    page = console
    search(page, "3610239999999")
    box = page.locator("#search-message")
    expect(box).to_have_attribute("data-kind", "error")
    expect(box).to_contain_text("未找到户号 3610239999999")
    page.fill("#q", "")
    page.click("#search-button")
    expect(box).to_contain_text("请输入户号")
    assert page_errors == []


def _availability(store: gridgeo.GeoPackageStore) -> dict[str, tuple[str, str]]:
    """The availability table read with sqlite3, not through the API's code."""
    with sqlite3.connect(store.path) as con:
        rows = con.execute(
            "SELECT station_id, status, updated_by FROM station_availability"
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_mark_station_busy_gets_the_next_one(
    console, oracle, accounts, size, chromium, app_server, blocked_requests, screenshot, page_errors
):
    page = console
    customers = oracle.customers
    customer = customers.loc[customers["town"] == "白舍镇"].sort_values("customer_id").iloc[0]
    first = oracle.dispatch(customer_id=customer["customer_id"])
    second = oracle.dispatch(customer_id=customer["customer_id"], unavailable=(first.station_id,))
    assert second.station_id != first.station_id
    search(page, str(customer["customer_id"]))
    expect_answer(page, first)
    select = page.locator(f"#stations select[data-station-id='{first.station_id}']")
    try:
        with page.expect_response(lambda r: "/dispatch?" in r.url and "unavailable=" in r.url):
            select.select_option("busy")
        expect_answer(page, second)
        row = page.locator(f"#options tr[data-station-id='{first.station_id}']")
        expect(row).to_contain_text("不可派")
        expect(page.locator("#stations-message")).to_contain_text("忙碌")
        # stored where every dispatcher sees it, and audited with who did it
        username = accounts["dispatcher"][0]
        assert _availability(oracle.store)[str(first.station_id)] == ("busy", username)
        audit, _ = gridgeo.read_audit(
            oracle.store, username=username, route="/dispatch/stations/{station_id}"
        )
        assert audit.iloc[0]["target"] == str(first.station_id)
        assert audit.iloc[0]["status"] == 200
        screenshot("busy", full_page=True)
        # another dispatcher's console (another browser context) shows the same board
        other = new_offline_context(chromium, size, blocked_requests, base_url=app_server.url)
        try:
            tab = other.new_page()
            admin = accounts["admin"]
            tab.request.post("/auth/login", form={"username": admin[0], "password": admin[1]})
            tab.goto("/console")
            busy = tab.locator(f"#stations tr[data-station-id='{first.station_id}']")
            expect(busy).to_have_attribute("data-status", "busy")
        finally:
            other.close()
    finally:
        with page.expect_response(lambda r: "/dispatch/stations/" in r.url):
            select.select_option("on_duty")
    expect_answer(page, first)
    assert _availability(oracle.store)[str(first.station_id)][0] == "on_duty"
    assert page_errors == []


def test_create_work_order(console, oracle, accounts, screenshot, page_errors):
    page = console
    customers = oracle.customers
    customer = customers.loc[customers["town"] == "太和镇"].sort_values("customer_id").iloc[0]
    expected = oracle.dispatch(customer_id=customer["customer_id"])
    search(page, str(customer["customer_id"]))
    expect_answer(page, expected)
    with page.expect_response(lambda r: r.url.endswith("/dispatch") and r.request.method == "POST"):
        page.click("#create-order")
    box = page.locator("#order-message")
    expect(box).to_have_attribute("data-kind", "ok")
    order_id = box.get_attribute("data-order-id")
    assert order_id and order_id.startswith("GD")
    # read back through the library
    orders = gridgeo.read_orders(oracle.store)
    made = orders.loc[orders["order_id"] == order_id]
    assert len(made) == 1
    made = made.iloc[0]
    assert str(made["customer_id"]) == str(customer["customer_id"])
    assert str(made["station_id"]) == str(expected.station_id)
    assert made["predicted_eta_s"] == pytest.approx(expected.eta_s, abs=0.05)  # kept to 0.1 s
    assert made["kind"] == "fault"
    assert str(made["status"]) == "dispatched"
    # the open orders list shows it with its status
    row = page.locator(f"#orders tr[data-order-id='{order_id}']")
    expect(row).to_contain_text("已派单")
    screenshot("order", full_page=True)
    assert page_errors == []


def test_click_on_the_map_dispatches_there(console, oracle, page_errors):
    """A click on the map dispatches to the clicked point (WGS84: the map's own datum).

    The click lands on the fault marker drawn for a customer found first: a customer's place,
    inside the county and within reach of a road (an arbitrary pixel, say the map's centre,
    may fall in the mountains beyond the snapping distance, and the middle of a route may run
    outside the county)."""
    page = console
    customers = oracle.customers
    customer = customers.loc[customers["town"] == "太和镇"].sort_values("customer_id").iloc[0]
    search(page, str(customer["customer_id"]))
    expect_answer(page, oracle.dispatch(customer_id=customer["customer_id"]))
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map path.gg-fault").bounding_box()
    assert box is not None
    with page.expect_response(lambda r: "/dispatch?" in r.url and "datum=wgs84" in r.url):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("input[name='datum'][value='wgs84']")).to_be_checked()
    lon, lat = (float(v) for v in page.input_value("#q").split(","))
    expected = oracle.dispatch(point=(lon, lat), datum="wgs84")
    assert math.isfinite(expected.eta_s), f"the click at {lon},{lat} reaches no station: {expected}"
    expect_answer(page, expected)
    assert page_errors == []
