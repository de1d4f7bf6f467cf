"""/orders: the work orders filtered and paged, one order's history, create and update.

Expected rows come from the stored ``work_orders`` layer read with geopandas/pyogrio and
filtered with pandas in the test (China time by hand: UTC + 8 hours, no daylight saving).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import gridgeo
from gridgeo._sample_orders import add_sample_orders

CHINA = "Asia/Shanghai"
MAX_PAGE = 1000  # api.settings.DEFAULT_MAX_PAGE


@pytest.fixture(scope="module")
def orders_workspace(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace with its year of generated work orders (never written)."""
    path = tmp_path_factory.mktemp("api_orders") / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    add_sample_orders(gridgeo.GeoPackageStore.open(path), author="api tests")
    return path


@pytest.fixture(scope="module")
def reader(orders_workspace: Path, make_client) -> TestClient:
    return make_client(orders_workspace)


@pytest.fixture
def order_writer(orders_workspace: Path, tmp_path: Path, make_client) -> tuple[TestClient, Path]:
    """A client over a private copy (for tests that save) and the copy's path."""
    path = tmp_path / "workspace.gpkg"
    shutil.copyfile(orders_workspace, path)
    return make_client(path), path


def _stored(path: Path) -> gpd.GeoDataFrame:
    orders = gpd.read_file(path, layer="work_orders")
    local = orders["reported_at"].dt.tz_convert(CHINA)
    iso = local.dt.isocalendar()
    return orders.assign(
        month=local.dt.strftime("%Y-%m"),
        week=iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2),
        quarter=local.dt.year.astype(str) + "-Q" + local.dt.quarter.astype(str),
    )


@pytest.fixture(scope="module")
def stored(orders_workspace: Path) -> gpd.GeoDataFrame:
    orders = _stored(orders_workspace)
    assert len(orders) > 1000  # a year of orders: more than one page
    return orders


def _all_ids(client: TestClient, params: dict) -> tuple[list[str], int]:
    """Every order id the route gives for ``params``, page by page, and the total."""
    ids: list[str] = []
    totals = set()
    offset = 0
    while True:
        response = client.get("/orders", params={**params, "limit": MAX_PAGE, "offset": offset})
        assert response.status_code == 200, response.text
        body = response.json()
        totals.add(body["total"])
        ids += [row["order_id"] for row in body["orders"]]
        offset += MAX_PAGE
        if offset >= body["total"]:
            break
    assert len(totals) == 1
    return ids, totals.pop()


def _in_grid(stored: pd.DataFrame, grid: str) -> pd.Series:
    return (stored[["grid_t1", "grid_t2", "grid_t3"]] == grid).any(axis=1)


def _busiest(stored: pd.DataFrame, column: str) -> str:
    return str(stored[column].value_counts().sort_index().idxmax())


FILTERS = {
    "t3_faults": lambda s: (
        {"grid": _busiest(s, "grid_t3"), "kind": "fault"},
        _in_grid(s, _busiest(s, "grid_t3")) & (s["kind"] == "fault"),
    ),
    "t2_closed_chinese_kind": lambda s: (
        {"grid": _busiest(s, "grid_t2"), "kind": "故障报修", "status": "closed"},
        _in_grid(s, _busiest(s, "grid_t2")) & (s["kind"] == "fault") & (s["status"] == "closed"),
    ),
    "county_month": lambda s: (
        {"grid": "T1-361023", "month": "2026-11"},
        _in_grid(s, "T1-361023") & (s["month"] == "2026-11"),
    ),
    "complaints_quarter": lambda s: (
        {"kind": "投诉", "period": "2026-Q3"},
        (s["kind"] == "complaint") & (s["quarter"] == "2026-Q3"),
    ),
    "iso_week": lambda s: ({"period": "2026-W48"}, s["week"] == "2026-W48"),
    "month_as_period": lambda s: ({"period": "2026-02"}, s["month"] == "2026-02"),
    "status_chinese": lambda s: ({"status": "已回访"}, s["status"] == "called_back"),
    "start_end_china_time": lambda s: (
        {"start": "2026-10-31 20:00", "end": "2026-11-02 08:00"},
        (s["reported_at"] >= pd.Timestamp("2026-10-31 12:00", tz="UTC"))
        & (s["reported_at"] < pd.Timestamp("2026-11-02 00:00", tz="UTC")),
    ),
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filters_give_the_rows_of_a_pandas_filter(reader, stored, name):
    params, mask = FILTERS[name](stored)
    expected = sorted(stored.loc[mask, "order_id"])
    assert expected, f"filter {name} selects nothing: a weak test"
    assert len(expected) < len(stored)
    ids, total = _all_ids(reader, params)
    assert total == len(expected)
    assert ids == expected  # sorted by order number, each once


def test_paging_slices_the_sorted_orders(reader, stored):
    ids = sorted(stored["order_id"])
    first = reader.get("/orders", params={"limit": 7}).json()
    second = reader.get("/orders", params={"limit": 7, "offset": 7}).json()
    assert first["total"] == second["total"] == len(stored)
    assert [r["order_id"] for r in first["orders"]] == ids[:7]
    assert [r["order_id"] for r in second["orders"]] == ids[7:14]
    tail = reader.get("/orders", params={"limit": 7, "offset": len(ids) - 3}).json()
    assert [r["order_id"] for r in tail["orders"]] == ids[-3:]
    past = reader.get("/orders", params={"offset": len(ids) + 5}).json()
    assert past["orders"] == [] and past["total"] == len(ids)


def test_rows_have_chinese_labels_china_times_and_the_point(reader, stored):
    row = stored.loc[stored["kind"] == "complaint"].sort_values("order_id").iloc[0]
    body = reader.get("/orders", params={"kind": "complaint", "limit": 1}).json()
    got = body["orders"][0]
    assert got["order_id"] == row["order_id"]
    assert (got["kind"], got["kind_zh"]) == ("complaint", "投诉")
    status_zh = {"closed": "已办结", "called_back": "已回访"}[row["status"]]
    assert (got["status"], got["status_zh"]) == (row["status"], status_zh)
    assert got["source_zh"]
    # China time is UTC + 8 hours: written out by hand, not by the code under test
    china = (row["reported_at"] + pd.Timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")
    assert got["reported_at"] == china + "+08:00"
    assert pd.Timestamp(got["closed_at"]) == row["closed_at"]
    assert got["lon"] == pytest.approx(row.geometry.x, abs=1e-6)
    assert got["lat"] == pytest.approx(row.geometry.y, abs=1e-6)
    assert got["grid_t3"] == row["grid_t3"]


def test_geojson_is_a_feature_collection_of_the_page(reader, stored):
    expected = stored.loc[stored["week"] == "2026-W48"].sort_values("order_id")
    response = reader.get("/orders", params={"period": "2026-W48", "limit": 5, "format": "geojson"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["total"] == len(expected)
    assert len(body["features"]) == 5
    for feature, (_, row) in zip(body["features"], expected.head(5).iterrows(), strict=True):
        assert feature["properties"]["order_id"] == row["order_id"]
        assert feature["properties"]["kind_zh"]
        lon, lat = feature["geometry"]["coordinates"]
        assert (lon, lat) == pytest.approx((row.geometry.x, row.geometry.y), abs=1e-6)


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ({"month": "2026-13"}, 400, ("`month`", "2026-13", "2026-11")),
        ({"month": "2026-W48"}, 400, ("`month`",)),
        ({"period": "2026-W99"}, 400, ("`period`", "2026-W48")),
        ({"kind": "维修"}, 400, ("`kind`", "fault")),
        ({"status": "done"}, 400, ("`status`", "closed")),
        ({"grid": "T3-NOPE"}, 404, ("`grid`", "T3-NOPE", "GET /grids")),
        ({"month": "2026-11", "start": "2026-11-01"}, 400, ("`month`", "`start`")),
        ({"format": "csv"}, 422, ("query.format",)),
        ({"limit": MAX_PAGE + 1}, 422, ("query.limit",)),
    ],
)
def test_bad_filters_are_named(reader, clean_error, params, status, names):
    clean_error(reader.get("/orders", params=params), status, *names)


def test_unreadable_times_are_named(order_writer, clean_error):
    # one unreadable time on its own (the request has no other time to read)
    client, path = order_writer
    clean_error(client.get("/orders", params={"start": "yesterday"}), 400, "`start`")
    order = {"order_id": "API-T1", "kind": "咨询", "reported_at": "昨天晚上", "author": "张调度"}
    body = clean_error(client.post("/orders", json=order), 400, "reported_at")
    assert [e["field"].split()[-1] for e in body["errors"]] == ["reported_at"]
    assert "API-T1" not in set(gpd.read_file(path, layer="work_orders")["order_id"])


def test_unknown_order_is_404(reader, clean_error):
    body = clean_error(reader.get("/orders/GD-NOPE"), 404, "GD-NOPE")
    assert body["error"] == "NotFoundError"


def _customer(path: Path) -> pd.Series:
    customers = gpd.read_file(path, layer="customers", ignore_geometry=True)
    located = customers.loc[customers["grid_t3"].fillna("") != ""]
    return located.sort_values("customer_id").iloc[0]


def test_create_read_patch_and_history(order_writer, clean_error):
    client, path = order_writer
    customer = _customer(path)
    new = {
        "order_id": "API-0001",
        "kind": "故障报修",
        "source": "95598",
        "customer_id": customer["customer_id"],
        "reported_at": "2026-11-30 23:50",  # spans midnight and the month's end below
        "first_time": True,
        "author": "张调度",
        "reason": "95598 来电报修",
    }
    response = client.post("/orders", json=new)
    assert response.status_code == 201, response.text
    made = response.json()["order"]
    assert (made["order_id"], made["kind"], made["status"]) == ("API-0001", "fault", "reported")
    assert made["status_zh"] == "已受理"
    assert made["reported_at"] == "2026-11-30T23:50:00+08:00"
    for tier in ("grid_t1", "grid_t2", "grid_t3"):  # grids set from the customer's location
        assert made[tier] == customer[tier]

    change = {
        "arrived_at": "2026-12-01 00:15",
        "satisfaction": "满意",
        "author": "李师傅",
        "reason": "到达现场",
    }
    response = client.patch("/orders/API-0001", json=change)
    assert response.status_code == 200, response.text
    assert response.json()["order"]["status"] == "arrived"

    body = client.get("/orders/API-0001").json()
    assert body["order"]["arrived_at"] == "2026-12-01T00:15:00+08:00"
    assert body["order"]["satisfaction"] == "satisfied"
    history = pd.DataFrame(body["history"])
    assert history.loc[history["field"] == "created", "author"].tolist() == ["张调度"]
    changed = history.loc[history["author"] == "李师傅"]
    assert {"arrived_at", "satisfaction", "status"} <= set(changed["field"])
    assert set(changed["reason"]) == {"到达现场"}
    assert changed["version"].nunique() == 1
    assert history["version"].is_monotonic_increasing
    assert all(str(t).endswith("+08:00") for t in history["created_at"])

    # stored as a UTC time of the layer: 00:15 China time is 16:15 UTC the day before
    row = gpd.read_file(path, layer="work_orders").set_index("order_id").loc["API-0001"]
    assert row["arrived_at"] == pd.Timestamp("2026-11-30 16:15", tz="UTC")
    # a November order (reported 23:50 on 30 November), though it ended in December
    november, _ = _all_ids(client, {"month": "2026-11", "grid": customer["grid_t3"]})
    december, _ = _all_ids(client, {"month": "2026-12"})
    assert "API-0001" in november and "API-0001" not in december


def test_bad_orders_store_nothing(order_writer, stored, clean_error):
    client, path = order_writer
    customer_id = _customer(path)["customer_id"]
    base = {"kind": "fault", "reported_at": "2026-11-20 10:00", "author": "张调度"}
    taken = stored["order_id"].iloc[0]
    body = clean_error(
        client.post("/orders", json={**base, "order_id": taken}), 409, "`order_id`", taken
    )
    assert body["error"] == "ConflictError"

    cases = [
        ({"order_id": "API-B1", "kind": "维修"}, "kind"),
        ({"order_id": "API-B2", "dispatched_at": "2026-11-20 09:50"}, "dispatched_at"),
        ({"order_id": "API-B3", "customer_id": "9999999999999"}, "customer_id"),
        ({"order_id": "API-B4", "satisfaction": "还行"}, "satisfaction"),
        ({"order_id": "API-B5", "customer_id": customer_id, "outage_start": "2026-11-20 10:00",
          "outage_end": "2026-11-20 09:00", "customers_affected": 3}, "outage_end"),
    ]  # fmt: skip
    for fields, field in cases:
        body = clean_error(client.post("/orders", json={**base, **fields}), 400, field)
        assert body["error"] == "OrderRowsError"
        assert [e["field"].split()[-1] for e in body["errors"]] == [field]
        assert body["errors"][0]["order_id"] == fields["order_id"]

    # request-shape errors name the body field
    no_author = {k: v for k, v in base.items() if k != "author"}
    clean_error(client.post("/orders", json={**no_author, "order_id": "API-B9"}), 422, "author")
    clean_error(
        client.post("/orders", json={**base, "order_id": "API-B7", "colour": "red"}), 422, "colour"
    )
    clean_error(
        client.post("/orders", json={**base, "order_id": "API-B8", "lon": 400.0}), 422, "lon"
    )

    after = gpd.read_file(path, layer="work_orders")
    assert len(after) == len(stored)
    assert not after["order_id"].str.startswith("API-").any()


def test_bad_updates_are_named_and_store_nothing(order_writer, stored, clean_error):
    client, path = order_writer
    row = stored.loc[stored["kind"] == "fault"].sort_values("order_id").iloc[0]
    order_id = row["order_id"]
    who = {"author": "李师傅", "reason": "补录"}
    clean_error(
        client.patch("/orders/GD-NOPE", json={"arrived_at": "2026-11-20 10:00", **who}),
        404,
        "GD-NOPE",
    )
    clean_error(client.patch(f"/orders/{order_id}", json=who), 400, "nothing to change")
    # an arrival before the report (China time of the stored UTC report, minus a day)
    before = (row["reported_at"] + pd.Timedelta(hours=8 - 24)).strftime("%Y-%m-%d %H:%M")
    body = clean_error(
        client.patch(f"/orders/{order_id}", json={"arrived_at": before, **who}), 400, "arrived_at"
    )
    assert body["error"] == "OrderRowsError"
    assert any(e["field"].endswith("arrived_at") for e in body["errors"])
    clean_error(
        client.patch(f"/orders/{order_id}", json={"arrived_at": "2026-11-20 10:00"}),
        422,
        "author",
        "reason",
    )
    clean_error(client.patch(f"/orders/{order_id}", json={"kind": "表扬ABC", **who}), 400, "kind")
    after = gpd.read_file(path, layer="work_orders").set_index("order_id").loc[order_id]
    assert after["arrived_at"] == row["arrived_at"]
    assert after["kind"] == row["kind"]
    history = client.get(f"/orders/{order_id}").json()["history"]
    assert [h["field"] for h in history] == ["created"]


def test_order_routes_in_openapi_with_their_errors(reader):
    paths = reader.get("/openapi.json").json()["paths"]
    expected = {
        ("/orders", "get"): {"400", "404", "422"},
        ("/orders", "post"): {"400", "409", "422"},
        ("/orders/{order_id}", "get"): {"404"},
        ("/orders/{order_id}", "patch"): {"400", "404", "409", "422"},
        ("/dispatch", "post"): {"400", "404", "409", "422"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]
        assert codes <= set(responses), (path, method, sorted(responses))
        for code in codes:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    body = paths["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderCreate"}


def test_dispatch_creates_the_order_with_the_station_and_its_eta(order_writer, clean_error):
    client, path = order_writer
    access = gpd.read_file(path, layer="customer_access", ignore_geometry=True)
    customers = gpd.read_file(path, layer="customers", ignore_geometry=True)
    ok = access.loc[access["repair_reason"] == "ok"].sort_values("customer_id").iloc[5]
    customer = customers.set_index("customer_id").loc[ok["customer_id"]]
    request = {
        "order_id": "API-D1",
        "author": "王调度",
        "customer_id": ok["customer_id"],
        "reported_at": "2026-11-25 10:00",
        "dispatched_at": "2026-11-25 10:03",
    }
    response = client.post("/dispatch", json=request)
    assert response.status_code == 201, response.text
    body = response.json()
    # the county-wide reach (one search from all stations) chose the same station and ETA
    assert body["station_id"] == ok["repair_station_id"]
    order = body["order"]
    assert order["station_id"] == ok["repair_station_id"]
    assert order["predicted_eta_s"] == pytest.approx(ok["repair_eta_s"], abs=0.051)
    assert (order["status"], order["kind"], order["source"]) == ("dispatched", "fault", "95598")
    assert order["reported_at"] == "2026-11-25T10:00:00+08:00"
    assert order["dispatched_at"] == "2026-11-25T10:03:00+08:00"
    assert order["grid_t3"] == customer["grid_t3"]
    history = client.get("/orders/API-D1").json()["history"]
    assert [(h["field"], h["author"]) for h in history] == [("created", "王调度")]

    before = len(gpd.read_file(path, layer="work_orders"))
    clean_error(client.post("/dispatch", json=request), 409, "`order_id`", "API-D1")
    unknown = {**request, "order_id": "API-D2", "customer_id": "9999999999999"}
    clean_error(client.post("/dispatch", json=unknown), 404, "9999999999999")
    clean_error(client.post("/dispatch", json={"order_id": "API-D3"}), 422, "author")
    assert len(gpd.read_file(path, layer="work_orders")) == before
