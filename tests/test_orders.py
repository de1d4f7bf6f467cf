"""Work orders (工单): reading exports, row errors, storing, updating, history, repeats.

Expected values come from hand-made records and hand arithmetic: the test workspace has
hand-made grids (the county's bounding box cut into halves and quarters, so a point's grid
is read off its coordinates) and two hand-placed customers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

import gridgeo
from gridgeo import network, orders, sample, workspace
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import OrderRowsError
from gridgeo.store import GeoPackageStore

DATA = Path(__file__).parent / "data" / "orders"
UTC = "UTC"


def china(text: str) -> pd.Timestamp:
    """A China-time wall clock as UTC, by hand: China is UTC+8 all year (no DST)."""
    return (pd.Timestamp(text) - pd.Timedelta(hours=8)).tz_localize("UTC")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- #
# the test workspace: the sample county's layers, hand-made grids and customers


@pytest.fixture(scope="module")
def county():
    return sample.load_sample()


@pytest.fixture(scope="module")
def halves(county):
    x0, y0, x1, y1 = county.county.total_bounds
    return x0, y0, x1, y1, (x0 + x1) / 2, (y0 + y1) / 2


def grid_by_hand(x: float, y: float, halves) -> tuple[str, str, str]:
    *_, mx, my = halves
    we = "W" if x < mx else "E"
    sn = "S" if y < my else "N"
    return "T1", f"T2-{we}", f"T3-{we}{sn}"


def hand_grids(halves) -> gpd.GeoDataFrame:
    x0, y0, x1, y1, mx, my = halves
    rows = [
        ("T1", 1, None, box(x0, y0, x1, y1), "王总"),
        ("T2-W", 2, "T1", box(x0, y0, mx, y1), "西片"),
        ("T2-E", 2, "T1", box(mx, y0, x1, y1), "东片"),
        ("T3-WS", 3, "T2-W", box(x0, y0, mx, my), "王芳、李明"),
        ("T3-WN", 3, "T2-W", box(x0, my, mx, y1), "赵一"),
        ("T3-ES", 3, "T2-E", box(mx, y0, x1, my), "钱二"),
        ("T3-EN", 3, "T2-E", box(mx, my, x1, y1), "孙三、周四"),
    ]
    return gpd.GeoDataFrame(
        {
            "grid_id": [r[0] for r in rows],
            "tier": [r[1] for r in rows],
            "parent_id": [r[2] for r in rows],
            "name": [r[0] for r in rows],
            "members": [r[4] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs="EPSG:4326",
    )


# C001 at 人民路社区 (琴城镇, east-north quarter), C002 at 下甘村 (白舍镇, west-south)
C001 = (116.53008, 27.2127)
C002 = (116.368, 27.018)


def hand_customers(county) -> gpd.GeoDataFrame:
    v = county.villages.set_index("village")
    pts = [v.geometry["人民路社区"], v.geometry["下甘村"]]
    return gpd.GeoDataFrame(
        {
            "customer_id": ["C001", "C002"],
            "address": ["南丰县琴城镇人民路社区", "南丰县白舍镇下甘村"],
            "town": ["琴城镇", "白舍镇"],
            "village": ["人民路社区", "下甘村"],
            "village_code": [v["village_code"]["人民路社区"], v["village_code"]["下甘村"]],
            "location_source": ["village", "village"],
        },
        geometry=pts,
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def base_workspace(tmp_path_factory, county, halves) -> Path:
    layers = {
        name: getattr(county, name)
        for name in ("county", "towns", "villages", "substations", "repair_stations")
    }
    path = tmp_path_factory.mktemp("orders") / "ws.gpkg"
    roads = network.roads_from_graph(network.graph_from_roads(county.roads))
    store = workspace.create_workspace(
        path, layers, roads=roads, author="test", reason="new workspace"
    )
    store.add_layer("grids", hand_grids(halves), key="grid_id", author="test", reason="grids")
    store.add_layer(
        "customers", hand_customers(county), key="customer_id", author="test", reason="cust"
    )
    return path


@pytest.fixture
def ws(base_workspace, tmp_path) -> GeoPackageStore:
    path = tmp_path / "ws.gpkg"
    shutil.copy(base_workspace, path)
    return GeoPackageStore.open(path)


def test_hand_customers_sit_where_the_test_says(county, halves):
    # the fixture's premise, checked once: the customers' points are the villages named
    v = county.villages.set_index("village")
    assert v.geometry["人民路社区"].coords[0] == pytest.approx(C001, abs=1e-5)
    assert v.geometry["下甘村"].coords[0] == pytest.approx(C002, abs=1e-3)
    assert grid_by_hand(*C001, halves)[2] == "T3-EN"
    assert grid_by_hand(*C002, halves)[2] == "T3-WS"


# --------------------------------------------------------------------------- #
# reading exports: aliases, title row, GBK, XLSX


def test_read_orders_file_finds_the_header_under_a_title_row():
    table = orders.read_orders_file(DATA / "orders_95598.csv")
    assert table["order_id"].tolist() == ["GD001", "GD002", "GD003", "GD004", "GD005"]
    assert table["file_line"].tolist() == [3, 4, 5, 6, 7]  # title line 1, header line 2
    assert table.attrs["source_columns"]["arrived_at"] == "到达现场时间"
    assert table.attrs["source_columns"]["station_id"] == "抢修班组"
    assert table["reported_at"].iloc[2] == "2026/11/5 9:00:00"  # text, as written


def test_read_orders_file_reads_gbk_and_xlsx(tmp_path):
    gbk = orders.read_orders_file(DATA / "orders_bad_gbk.csv")
    assert gbk["kind"].iloc[0] == "故障报修"
    assert gbk["file_line"].iloc[-1] == 18
    # an XLSX with a title row and the data on the second sheet
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表为95598导出"])
    sheet = book.create_sheet("工单")
    sheet.append(["95598工单（11月）"])
    sheet.append(["工单号", "诉求类型", "受理渠道", "用户编号", "报修时间", "到达时间"])
    sheet.append(["X1", "投诉", "热线", "C001", "2026-11-03 14:00", None])
    sheet.append(["X2", "报修", "95598", "C002", pd.Timestamp("2026-11-04 08:00"), None])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    table = orders.read_orders_file(path)
    assert table["order_id"].tolist() == ["X1", "X2"]
    assert table["file_line"].tolist() == [3, 4]
    assert table["sheet"].tolist() == ["工单", "工单"]
    good, errors = orders.orders_from_table(table)
    assert len(errors) == 0
    assert good["kind"].tolist() == ["complaint", "fault"]
    assert good["source"].tolist() == ["95598", "95598"]
    assert good["reported_at"].tolist() == [china("2026-11-03 14:00"), china("2026-11-04 08:00")]


def test_read_customer_file_still_reads_through_the_same_header_finder(tmp_path):
    # one header finder for both kinds of export (read_export_table)
    path = tmp_path / "c.csv"
    path.write_text("客户资料\n户号,地址\n001,南丰县琴城镇\n", encoding="utf-8")
    cust = gridgeo.io.read_customer_file(path)
    assert cust["customer_id"].tolist() == ["001"] and cust["file_line"].tolist() == [3]
    with pytest.raises(gridgeo.errors.MissingColumnError, match="工单编号"):
        orders.read_orders_file(path)


def test_times_are_china_time_stored_utc():
    values = pd.Series(
        ["2026-11-03 14:20", "2026/11/3 14:20:05", "2026年11月3日 14:20", "2026-11-03T06:20:00Z",
         "2026-11-03 14:20+08:00", "", "昨天"]
    )  # fmt: skip
    times, bad = orders.parse_times(values)
    want = pd.Timestamp("2026-11-03 06:20", tz=UTC)
    assert times.iloc[0] == want
    assert times.iloc[1] == want + pd.Timedelta(seconds=5)
    assert times.iloc[2] == want and times.iloc[3] == want and times.iloc[4] == want
    assert pd.isna(times.iloc[5]) and pd.isna(times.iloc[6])
    assert bad.tolist() == [False] * 6 + [True]


# --------------------------------------------------------------------------- #
# status and repeats


def test_status_is_the_last_step_with_a_time():
    t = pd.Timestamp("2026-11-01", tz=UTC)
    frame = pd.DataFrame({c: pd.Series([pd.NaT] * 4, dtype="datetime64[ns, UTC]")
                          for c in orders.TIME_COLUMNS})  # fmt: skip
    frame.loc[0, "reported_at"] = t
    frame.loc[1, ["reported_at", "dispatched_at", "arrived_at"]] = t
    frame.loc[2, ["reported_at", "closed_at"]] = t
    frame.loc[3, list(orders.TIME_COLUMNS)] = t
    assert orders.order_status(frame).tolist() == ["reported", "arrived", "closed", "called_back"]


def test_link_repeats_by_hand():
    t0 = pd.Timestamp("2026-11-01 08:00", tz=UTC)
    day = pd.Timedelta(days=1)
    rows = [
        # id, customer, kind, reported
        ("A1", "C1", "fault", t0),
        ("A2", "C1", "fault", t0 + 30 * day),  # exactly 30 days after A1: a repeat
        ("A3", "C1", "fault", t0 + 60 * day + pd.Timedelta(seconds=1)),  # 30 d + 1 s after A2
        ("B1", "C1", "complaint", t0 + 2 * day),  # other kind: not a repeat of A1
        ("B2", "C1", "complaint", t0 + 3 * day),  # repeats B1 (1 day)
        ("B3", "C1", "complaint", t0 + 3 * day),  # same moment as B2: repeats B1, not B2
        ("D1", "C2", "fault", t0 + day),  # other customer
        ("E1", "", "fault", t0),  # no customer: never linked
        ("E2", "", "fault", t0 + day),
    ]
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "kind", "reported_at"])
    frame = frame.sample(frac=1, random_state=3)  # any input order, result on its index
    got = orders.link_repeats(frame)
    assert got.index.equals(frame.index)
    want = {"A1": "", "A2": "A1", "A3": "", "B1": "", "B2": "B1", "B3": "B1", "D1": "",
            "E1": "", "E2": ""}  # fmt: skip
    assert dict(zip(frame["order_id"], got, strict=True)) == want
    # a shorter window: A2 (30 days) no longer repeats A1
    short = orders.link_repeats(frame, window_days=29)
    assert dict(zip(frame["order_id"], short, strict=True))["A2"] == ""


# --------------------------------------------------------------------------- #
# import: location, grids, members, codes


def test_import_locates_and_assigns_every_order(ws, halves):
    result = orders.import_orders(ws, DATA / "orders_95598.csv", author="调度员甲")
    assert result.written and result.version == 1
    assert sorted(result.added) == ["GD001", "GD002", "GD003", "GD004", "GD005"]
    got = orders.read_orders(ws).set_index("order_id")
    # codes from words
    assert got["kind"].tolist() == ["fault", "fault", "complaint", "consultation", "praise"]
    assert got["source"].tolist() == ["95598", "95598", "grid_member", "online", "onsite"]
    assert got.loc["GD001", "fault_kind"] == "lv" and got.loc["GD002", "fault_kind"] == "hv"
    assert got.loc["GD001", "satisfaction"] == "satisfied"
    assert got.loc["GD003", "satisfaction"] == "dissatisfied"
    assert got.loc["GD001", "first_time"] is True or got.loc["GD001", "first_time"] == True  # noqa: E712
    assert got.loc["GD003", "first_time"] == False  # noqa: E712
    # the station given by name stored by id (白舍供电所 = RS03)
    assert got.loc["GD001", "station_id"] == "RS03" and got.loc["GD002", "station_id"] == "RS01"
    # times: China time in, UTC stored
    assert got.loc["GD001", "arrived_at"] == china("2026-11-03 14:20")
    assert got.loc["GD003", "reported_at"] == china("2026-11-05 09:00")
    # status from the last time present
    assert got["status"].tolist() == ["called_back", "dispatched", "closed", "reported", "reported"]
    # GD002 is exactly 30 days after GD001, same customer and kind: a repeat
    assert got.loc["GD002", "repeat_of"] == "GD001"
    assert got.loc["GD001", "repeat_of"] == "" and got.loc["GD003", "repeat_of"] == ""
    # locations: the customer's point, the address's village, the point given
    assert got["location_source"].tolist() == ["customer", "customer", "customer", "address",
                                               "point"]  # fmt: skip
    assert got.loc["GD001"].geometry.coords[0] == pytest.approx(C001, abs=1e-5)
    assert got.loc["GD005"].geometry.coords[0] == pytest.approx((116.60, 27.25))
    assert got.loc["GD004", "village"] == "下陂村" and got.loc["GD004", "town"] == "白舍镇"
    for oid, row in got.iterrows():
        x, y = row.geometry.coords[0]
        assert (row["grid_t1"], row["grid_t2"], row["grid_t3"]) == grid_by_hand(x, y, halves), oid
    # member: from the file (GD004), else the first member of the tier-3 grid
    first = {"T3-WS": "王芳", "T3-WN": "赵一", "T3-ES": "钱二", "T3-EN": "孙三"}
    assert got.loc["GD004", "member"] == "周杰"
    for oid in ("GD001", "GD002", "GD003", "GD005"):
        assert got.loc[oid, "member"] == first[got.loc[oid, "grid_t3"]], oid


def test_reimporting_the_same_file_writes_nothing(ws):
    first = orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    before = sha(ws.path)
    again = orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    assert not again.written and again.version == first.version == 1
    assert again.added == [] and again.updated == [] and again.unchanged == 5
    assert sha(ws.path) == before
    assert len(ws.list_versions("work_orders")) == 1


def test_reimport_with_new_times_updates_and_keeps_what_the_file_lacks(ws, tmp_path):
    orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    orders.update_order(ws, "GD002", {"crew": "抢修一班"}, author="b", reason="crew")
    path = tmp_path / "later.csv"
    path.write_text(
        "工单编号,工单类型,户号,受理时间,到达现场时间\n"
        "GD002,报修,C001,2026-12-03 14:00,2026-12-03 14:40\n",
        encoding="utf-8",
    )
    result = orders.import_orders(ws, path, author="c")
    assert result.updated == ["GD002"] and result.added == [] and result.unchanged == 0
    row = orders.read_orders(ws).set_index("order_id").loc["GD002"]
    assert row["arrived_at"] == china("2026-12-03 14:40")
    assert row["status"] == "arrived"
    # not in the file: kept as stored
    assert row["crew"] == "抢修一班" and row["station_id"] == "RS01" and row["fault_kind"] == "hv"
    assert row["repeat_of"] == "GD001"


# --------------------------------------------------------------------------- #
# row errors: every kind, by file line; nothing stored unless --skip-bad-rows

BAD_ROWS = {
    # file line: (order id, field code) -- by hand from tests/data/orders/orders_bad_gbk.csv
    3: ("", "order_id"),
    4: ("GB03", "order_id"),
    5: ("GB03", "order_id"),
    6: ("GB05", "kind"),
    7: ("GB06", "source"),
    8: ("GB07", "satisfaction"),
    9: ("GB08", "fault_kind"),
    10: ("GB09", "reported_at"),
    11: ("GB10", "arrived_at"),
    12: ("GB11", "outage_end"),
    13: ("GB12", "customer_id"),
    14: ("GB13", "lon"),
    15: ("GB14", "lon"),
    16: ("GB15", "lon"),
    17: ("GB16", "reported_at"),
    18: ("GB17", "first_time"),
}


def error_pairs(errors: pd.DataFrame) -> dict[int, tuple[str, str]]:
    fields = errors["field"].str.split().str[-1]
    return {
        int(line): (oid, field)
        for line, oid, field in zip(errors["file_line"], errors["order_id"], fields, strict=True)
    }


def test_every_row_error_is_named_with_its_file_line(ws):
    with pytest.raises(OrderRowsError, match="16 row error") as info:
        orders.import_orders(ws, DATA / "orders_bad_gbk.csv", author="a")
    errors = info.value.errors
    assert len(errors) == 16
    assert error_pairs(errors) == BAD_ROWS
    problems = dict(zip(errors["file_line"], errors["problem"], strict=True))
    assert "repeated" in problems[4] and "first at line 4" in problems[5]
    assert "unknown kind" in problems[6]
    assert "before 派单时间 dispatched_at 2026-11-10 12:30:00" in problems[11]
    assert "outage_end before outage_start" in problems[12]
    assert "unknown customer" in problems[13]
    assert "outside the county" in problems[14]
    assert "not a number" in problems[15]
    assert "swapped" in problems[16]
    assert "reported_at empty" in problems[17]
    # the message is the short table the CLI prints
    assert "行号 line" in str(info.value) and "GB05" in str(info.value)


def test_a_file_with_errors_stores_nothing(ws):
    orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    before = sha(ws.path)
    with pytest.raises(OrderRowsError):
        orders.import_orders(ws, DATA / "orders_bad_gbk.csv", author="a")
    assert sha(ws.path) == before
    assert ws.current_version("work_orders") == 1


def test_a_file_with_errors_makes_no_layer(ws):
    before = sha(ws.path)
    with pytest.raises(OrderRowsError):
        orders.import_orders(ws, DATA / "orders_bad_gbk.csv", author="a")
    assert sha(ws.path) == before
    assert "work_orders" not in ws.layers()


def test_skip_bad_rows_stores_the_good_ones_and_reports_the_bad(ws):
    result = orders.import_orders(ws, DATA / "orders_bad_gbk.csv", author="a", skip_bad_rows=True)
    assert result.written and result.added == ["GB01"]
    assert error_pairs(result.errors) == BAD_ROWS
    assert orders.read_orders(ws)["order_id"].tolist() == ["GB01"]
    text = "\n".join(result.lines())
    assert "新增 added 1" in text and "bad rows 16" in text


def test_orders_already_stored_are_errors_when_not_updating(ws):
    orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    with pytest.raises(OrderRowsError) as info:
        orders.import_orders(ws, DATA / "orders_95598.csv", author="a", update_existing=False)
    assert set(info.value.errors["problem"]) == {"工单编号已存在 / order number already stored"}
    assert info.value.errors["file_line"].tolist() == [3, 4, 5, 6, 7]


# --------------------------------------------------------------------------- #
# create, update, history


def test_create_update_and_history_show_who_when_what(ws, halves):
    made = orders.create_order(
        ws,
        {"order_id": "N1", "kind": "故障报修", "source": "95598", "customer_id": "C002",
         "reported_at": "2026-11-03 13:50", "dispatched_at": "2026-11-03 14:00"},
        author="调度员甲",
        reason="来电报修",
    )  # fmt: skip
    assert made["status"].tolist() == ["dispatched"]
    assert made["grid_t3"].tolist() == [grid_by_hand(*C002, halves)[2]]
    assert made["member"].tolist() == ["王芳"]
    updated = orders.update_order(
        ws, "N1", {"arrived_at": "2026-11-03 14:20", "satisfaction": "满意"},
        author="网格员王芳", reason="到达现场",
    )  # fmt: skip
    assert updated["status"].tolist() == ["arrived"]
    assert updated["satisfaction"].tolist() == ["satisfied"]
    # an update that changes nothing writes nothing
    orders.update_order(ws, "N1", {"satisfaction": "满意"}, author="x", reason="same")
    assert ws.current_version("work_orders") == 2
    history = orders.order_history(ws, "N1")
    assert history["version"].tolist() == [1, 2, 2, 2]
    assert history["author"].tolist() == ["调度员甲", "网格员王芳", "网格员王芳", "网格员王芳"]
    assert history["reason"].tolist()[1] == "到达现场"
    assert history["field"].tolist() == ["created", "status", "arrived_at", "satisfaction"]
    changes = history.set_index("field")
    assert changes.loc["arrived_at", "old"] == ""
    assert changes.loc["arrived_at", "new"] == "2026-11-03 14:20:00"  # China time, as entered
    assert (
        changes.loc["status", "old"] == "dispatched" and changes.loc["status", "new"] == "arrived"
    )
    versions = ws.list_versions("work_orders")
    assert (
        history["created_at"].tolist()
        == versions["created_at"].tolist()[:1] + [versions["created_at"].iloc[1]] * 3
    )


def test_update_is_checked_like_an_import(ws):
    orders.create_order(
        ws, {"order_id": "N1", "kind": "fault", "reported_at": "2026-11-03 13:50",
             "dispatched_at": "2026-11-03 14:00"}, author="a",
    )  # fmt: skip
    before = sha(ws.path)
    with pytest.raises(OrderRowsError, match=r"arrived_at.*out of order"):
        orders.update_order(ws, "N1", {"arrived_at": "2026-11-03 13:55"}, author="a", reason="r")
    with pytest.raises(OrderRowsError, match="unknown satisfaction"):
        orders.update_order(ws, "N1", {"satisfaction": "还行"}, author="a", reason="r")
    with pytest.raises(NotFoundError, match="no work order 'N9'"):
        orders.update_order(ws, "N9", {"crew": "x"}, author="a", reason="r")
    with pytest.raises(InputError, match="unknown order field"):
        orders.update_order(ws, "N1", {"arrival": "x"}, author="a", reason="r")
    with pytest.raises(OrderRowsError, match="already stored"):
        orders.create_order(ws, {"order_id": "N1", "kind": "fault", "reported_at": "2026-11-04"},
                            author="a")  # fmt: skip
    assert sha(ws.path) == before


def test_update_retries_on_a_fresh_version_after_a_conflict(ws, monkeypatch):
    orders.create_order(
        ws, {"order_id": "N1", "kind": "fault", "reported_at": "2026-11-03 13:50"}, author="a"
    )
    orders.create_order(
        ws, {"order_id": "N2", "kind": "fault", "reported_at": "2026-11-03 13:55"}, author="a"
    )
    real_save, real_save_rows = GeoPackageStore.save, GeoPackageStore.save_rows
    calls = []

    def save_after_someone_else(self, layer, gdf, **kw):
        if not calls:  # another dispatcher saves the whole layer (N2) just before our write
            calls.append(1)
            orders_now = orders.read_orders(ws)
            orders_now.loc[orders_now["order_id"] == "N2", "crew"] = "二班"
            real_save(self, layer, orders_now, expected_version=kw["expected_version"],
                      author="other", reason="crew")  # fmt: skip
        return real_save_rows(self, layer, gdf, **kw)

    # an update writes only its own rows (save_rows); the other writer's save lands first
    monkeypatch.setattr(GeoPackageStore, "save_rows", save_after_someone_else)
    orders.update_order(ws, "N1", {"crew": "一班"}, author="me", reason="crew")
    monkeypatch.undo()
    got = orders.read_orders(ws).set_index("order_id")
    assert got.loc["N1", "crew"] == "一班" and got.loc["N2", "crew"] == "二班"
    assert ws.current_version("work_orders") == 4  # 2 creations, the other's save, ours


def test_read_orders_filters(ws):
    orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    ids = lambda frame: frame["order_id"].tolist()  # noqa: E731
    assert ids(orders.read_orders(ws, kind="故障报修")) == ["GD001", "GD002"]
    assert ids(orders.read_orders(ws, kind="complaint")) == ["GD003"]
    assert ids(orders.read_orders(ws, status="已回访")) == ["GD001"]
    assert ids(orders.read_orders(ws, grid="T3-WS")) == ["GD003", "GD004"]
    assert ids(orders.read_orders(ws, grid="T2-E")) == ["GD001", "GD002", "GD005"]
    # November in China time
    nov = orders.read_orders(ws, start="2026-11-01", end="2026-12-01")
    assert ids(nov) == ["GD001", "GD003", "GD004", "GD005"]
    with pytest.raises(InputError, match="`kind` '维修' is unknown"):
        orders.read_orders(ws, kind="维修")


def test_row_history_lists_every_state_with_its_version(ws):
    orders.create_order(ws, {"order_id": "N1", "kind": "fault", "reported_at": "2026-11-03"},
                        author="甲")  # fmt: skip
    orders.create_order(ws, {"order_id": "N2", "kind": "fault", "reported_at": "2026-11-03"},
                        author="乙")  # fmt: skip
    orders.update_order(ws, "N1", {"crew": "一班"}, author="丙", reason="派班")
    states = ws.row_history("work_orders", "N1")
    # N1 written in versions 1 and 3 (version 2 added N2 and left N1 as it was)
    assert states["version"].tolist() == [1, 3]
    assert states["superseded_in"].tolist() == [3, pd.NA]
    assert states["author"].tolist() == ["甲", "丙"]
    assert states["reason"].tolist()[1] == "派班"
    assert states["crew"].fillna("").tolist() == ["", "一班"]
    assert len(ws.row_history("work_orders", "nobody")) == 0


# --------------------------------------------------------------------------- #
# dispatch -> order


def test_order_from_dispatch_keeps_station_and_eta(ws):
    from gridgeo.dispatch import DispatchResult, Fault

    result = DispatchResult(
        fault=Fault(lon=C002[0], lat=C002[1], located_by="point"),
        options=pd.DataFrame(),
        station_id="RS03",
        eta_s=754.3,
        within_limit=True,
        reason="ok",
        route=None,
        route_km=5.0,
    )
    fields = orders.order_from_dispatch(
        result, order_id="D1", reported_at="2026-11-03 14:00", dispatched_at="2026-11-03 14:02"
    )
    made = orders.create_order(ws, fields, author="调度员").iloc[0]
    assert made["station_id"] == "RS03" and made["predicted_eta_s"] == pytest.approx(754.3)
    assert made["dispatched_at"] == china("2026-11-03 14:02")
    assert made["location_source"] == "point" and made["grid_t3"] == "T3-WS"
    assert made["status"] == "dispatched"


# --------------------------------------------------------------------------- #
# a writer killed during an import leaves the last good version

_CHILD = r"""
import sys, time
from pathlib import Path
import gridgeo.store as st
from gridgeo import orders

path, marker, csv = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
def hook(stage):
    marker.write_text(stage)
    time.sleep(600)
st._TEST_HOOK = hook
orders.import_orders(st.GeoPackageStore.open(path), csv, author="killed")
"""


def test_writer_killed_during_an_import_leaves_the_last_good_version(ws, tmp_path):
    orders.import_orders(ws, DATA / "orders_95598.csv", author="a")
    good = orders.read_orders(ws)
    before = sha(ws.path)
    later = tmp_path / "later.csv"
    later.write_text(
        "工单编号,工单类型,户号,受理时间\nGD100,投诉,C002,2026-11-20 10:00\n", encoding="utf-8"
    )
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(Path(gridgeo.__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ws.path), str(marker), str(later)], env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text() == "before_commit"):
            assert child.poll() is None, "writer ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert Path(f"{ws.path}-journal").exists()  # killed inside the transaction
    store = GeoPackageStore.open(ws.path)  # the hot journal is rolled back here
    assert sha(ws.path) == before
    assert store.current_version("work_orders") == 1
    after = orders.read_orders(store)
    assert after["order_id"].tolist() == good["order_id"].tolist()
    pd.testing.assert_frame_equal(pd.DataFrame(after), pd.DataFrame(good))
    # and the import can simply be run again
    assert orders.import_orders(store, later, author="again").added == ["GD100"]


# --------------------------------------------------------------------------- #
# the command line


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_cli_orders_import_list_update_show(ws):
    w = str(ws.path)
    bad = run_cli("orders", "import", str(DATA / "orders_bad_gbk.csv"), "--workspace", w,
                  "--author", "a")  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert "Traceback" not in bad.stderr
    assert "行号 line" in bad.stderr and "--skip-bad-rows" in bad.stderr
    assert "work_orders" not in GeoPackageStore.open(ws.path).layers()
    ok = run_cli("orders", "import", str(DATA / "orders_95598.csv"), "--workspace", w,
                 "--author", "调度员甲")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "新增 added 5" in ok.stdout
    upd = run_cli("orders", "update", "GD002", "--workspace", w, "--arrived-at",
                  "2026-12-03 14:20", "--satisfaction", "满意", "--author", "王芳",
                  "--reason", "到达")  # fmt: skip
    assert upd.returncode == 0, upd.stderr
    row = orders.read_orders(ws).set_index("order_id").loc["GD002"]
    assert row["arrived_at"] == china("2026-12-03 14:20")
    lst = run_cli("orders", "list", "--workspace", w, "--kind", "故障报修", "--month", "2026-12")
    assert lst.returncode == 0, lst.stderr
    listed = [line.split()[0] for line in lst.stdout.splitlines()[2:]]
    assert listed == ["GD002"]  # GD001 is a November fault
    show = run_cli("orders", "show", "GD002", "--workspace", w)
    assert show.returncode == 0, show.stderr
    assert "王芳" in show.stdout and "arrived_at" in show.stdout and "到达" in show.stdout
    wrong = run_cli("orders", "update", "GD002", "--workspace", w, "--author", "x",
                    "--arrived-at", "2026-12-03 13:00")  # fmt: skip
    assert wrong.returncode == 2 and "out of order" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.stderr
    missing = run_cli("orders", "show", "GD999", "--workspace", w)
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1 and "GD999" in missing.stderr


def test_row_history_of_a_row_changed_removed_and_added_again(tmp_path):
    # by hand: x is "1" in v1, "2" from v2, unchanged in v3, removed in v4, "3" again in v5
    def layer(rows):
        return gpd.GeoDataFrame(
            {"k": [r[0] for r in rows], "a": [r[1] for r in rows]},
            geometry=[shapely.Point(116.5, 27.2)] * len(rows),
            crs="EPSG:4326",
        )

    st = GeoPackageStore.create(
        tmp_path / "h.gpkg", {"L": layer([("x", "1"), ("y", "1")])}, keys={"L": "k"},
        author="a", reason="r1",
    )  # fmt: skip
    saves = [[("x", "2"), ("y", "1")], [("x", "2"), ("y", "2")], [("y", "2")],
             [("x", "3"), ("y", "2")]]  # fmt: skip
    for v, rows in enumerate(saves, start=1):
        st.save("L", layer(rows), expected_version=v, author="abcde"[v], reason=f"r{v + 1}")
    want = {"a": ["1", "2", "3"], "version": [1, 2, 5], "superseded_in": [2, 4, None],
            "author": ["a", "b", "e"], "reason": ["r1", "r2", "r5"]}  # fmt: skip
    for states in (st.row_history("L", "x"), gridgeo.Store.row_history(st, "L", "x")):
        got = states[list(want)].astype(object).where(states[list(want)].notna(), None)
        assert got.to_dict("list") == want


def test_points_in_gcj02_and_bd09_are_converted_to_wgs84(ws, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(
        "工单编号,工单类型,受理时间,经度,纬度,坐标系\n"
        "P1,故障报修,2026-11-03 14:00,116.60,27.25,高德\n"
        "P2,故障报修,2026-11-03 14:00,116.60,27.25,bd09\n"
        "P3,故障报修,2026-11-03 14:00,116.60,27.25,\n",
        encoding="utf-8",
    )
    orders.import_orders(ws, path, author="a")
    got = orders.read_orders(ws).set_index("order_id")
    want_gcj = gridgeo.crs.gcj02_to_wgs84(116.60, 27.25)
    want_bd = gridgeo.crs.bd09_to_wgs84(116.60, 27.25)
    assert got.loc["P1"].geometry.coords[0] == pytest.approx(want_gcj, abs=1e-9)
    assert got.loc["P2"].geometry.coords[0] == pytest.approx(want_bd, abs=1e-9)
    assert got.loc["P3"].geometry.coords[0] == pytest.approx((116.60, 27.25))  # WGS84 default
    # GCJ-02 is a few hundred metres off WGS84 here (equirectangular metres by hand)
    dx = (want_gcj[0] - 116.60) * 111_320 * np.cos(np.radians(27.25))
    dy = (want_gcj[1] - 27.25) * 110_570
    assert 300 < np.hypot(dx, dy) < 700
    assert set(got["location_source"]) == {"point"}


def test_cli_dispatch_creates_the_order_with_the_recommended_station(ws):
    w = str(ws.path)
    proc = run_cli("dispatch", "--workspace", w, "--customer", "C002", "--create-order", "D9",
                   "--reported-at", "2026-11-03 14:00", "--author", "调度员甲")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # the station and ETA the dispatch printed are the ones stored with the order
    best = next(line for line in proc.stdout.splitlines() if "best station" in line)
    station = best.split("最近抢修站 ")[1].split(":")[0]
    eta_min = float(best.split("ETA ")[1].split(" min")[0])
    made = orders.read_orders(ws).set_index("order_id").loc["D9"]
    assert made["station_id"] == station
    assert made["predicted_eta_s"] / 60 == pytest.approx(eta_min, abs=0.05)
    assert made["customer_id"] == "C002" and made["location_source"] == "customer"
    assert made["reported_at"] == china("2026-11-03 14:00")
    assert made["status"] == "dispatched"
    assert orders.order_history(ws, "D9")["author"].tolist() == ["调度员甲"]
