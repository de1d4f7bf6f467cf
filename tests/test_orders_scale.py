"""Work orders at county scale: edits read and write only the orders they touch.

``update_order``, ``create_order`` and ``import_orders`` read the edited orders and every
order of their customers (the repeat links never cross customers) and write only the rows
that change (:meth:`GeoPackageStore.save_rows`). Expected links come from hand arithmetic
and from a brute-force pass over all orders written here, not from ``link_repeats``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gridgeo import orders
from gridgeo.errors import ConflictError
from gridgeo.store import GeoPackageStore

DAY = pd.Timedelta(days=1)


def china(text: str) -> pd.Timestamp:
    """A China-time wall clock as UTC, by hand: China is UTC+8 all year."""
    return (pd.Timestamp(text) - pd.Timedelta(hours=8)).tz_localize("UTC")


@pytest.fixture
def ws(tmp_path: Path) -> GeoPackageStore:
    """Customers C1..C3 and one grid per tier, no orders yet."""
    customers = gpd.GeoDataFrame(
        {"customer_id": ["C1", "C2", "C3"], "location_source": ["gps"] * 3},
        geometry=[Point(116.50, 27.20), Point(116.51, 27.21), Point(116.52, 27.22)],
        crs="EPSG:4326",
    )
    area = box(116.4, 27.1, 116.6, 27.3)
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2", "T3"],
            "tier": [1, 2, 3],
            "parent_id": [None, "T1", "T2"],
            "name": ["县", "供电网", "网格"],
            "members": ["", "", "王芳"],
        },
        geometry=[area, area, area],
        crs="EPSG:4326",
    )
    return GeoPackageStore.create(
        tmp_path / "ws.gpkg",
        {"customers": customers, "grids": grids},
        author="test",
        reason="new",
    )


def fault(order_id: str, customer: str, when: str, kind: str = "故障报修") -> dict:
    return {"order_id": order_id, "kind": kind, "customer_id": customer, "reported_at": when}


def links(store: GeoPackageStore) -> dict[str, str]:
    got = orders.read_orders(store)
    return dict(zip(got["order_id"], got["repeat_of"], strict=True))


def versions_of(store: GeoPackageStore) -> dict[str, int]:
    """The version in which each stored order last changed."""
    rows = store.read(orders.ORDER_LAYER)
    return dict(zip(rows["order_id"], rows["version"].tolist(), strict=True))


def last_version(store: GeoPackageStore) -> pd.Series:
    return store.list_versions(orders.ORDER_LAYER).iloc[-1]


def test_a_new_order_between_two_relinks_the_later_one_only(ws):
    for f in (fault("A", "C1", "2026-11-01 10:00"), fault("B", "C1", "2026-11-10 10:00"),
              fault("X", "C2", "2026-11-03 10:00")):  # fmt: skip
        orders.create_order(ws, f, author="调度员")
    assert links(ws) == {"A": "", "B": "A", "X": ""}  # B: 9 days after A
    x_version = versions_of(ws)["X"]

    # M (5 Nov) comes between A and B: M repeats A, and B now repeats M
    orders.create_order(ws, fault("M", "C1", "2026-11-05 10:00"), author="调度员")
    assert links(ws) == {"A": "", "B": "M", "M": "A", "X": ""}
    v = last_version(ws)
    assert (v["n_rows"], v["n_added"], v["n_changed"], v["n_removed"]) == (4, 1, 1, 0)
    # C2's order was not rewritten
    assert versions_of(ws)["X"] == x_version

    # M moves to C2: C1's B repeats A again, M repeats X (3 Nov -> 5 Nov)
    orders.update_order(ws, "M", {"customer_id": "C2"}, author="调度员", reason="户号更正")
    assert links(ws) == {"A": "", "B": "A", "M": "X", "X": ""}
    v = last_version(ws)
    assert (v["n_added"], v["n_changed"]) == (0, 2)  # M and B

    # B becomes a complaint: no earlier complaint of C1, so it repeats nothing
    orders.update_order(ws, "B", {"kind": "投诉"}, author="调度员", reason="类型更正")
    assert links(ws)["B"] == ""
    # M moved 31 days after X (3 Nov 10:00 + 31 days = 4 Dec 10:00): outside the window
    orders.update_order(ws, "M", {"reported_at": "2026-12-04 10:00"}, author="a", reason="r")
    assert links(ws)["M"] == ""
    # ... and exactly 30 days after X counts
    orders.update_order(ws, "M", {"reported_at": "2026-12-03 10:00"}, author="a", reason="r")
    assert links(ws)["M"] == "X"


def test_edits_never_read_the_whole_orders_layer(ws, monkeypatch):
    orders.create_order(ws, fault("A", "C1", "2026-11-01 10:00"), author="a")
    orders.create_order(ws, fault("X", "C2", "2026-11-01 11:00"), author="a")
    real_read = GeoPackageStore.read
    asked: list[tuple[str, list]] = []
    real_read_rows = GeoPackageStore.read_rows

    def read(self, layer, **kw):
        assert layer != orders.ORDER_LAYER, "an edit read every stored order"
        return real_read(self, layer, **kw)

    def read_rows(self, layer, values, **kw):
        values = list(values)
        asked.append((layer, kw.get("column"), values))
        return real_read_rows(self, layer, values, **kw)

    monkeypatch.setattr(GeoPackageStore, "read", read)
    monkeypatch.setattr(GeoPackageStore, "read_rows", read_rows)
    orders.create_order(ws, fault("B", "C1", "2026-11-02 10:00"), author="a")
    orders.update_order(ws, "B", {"crew": "一班"}, author="a", reason="r")
    monkeypatch.undo()
    # only C1's orders, B itself and C1's customer row were asked for, never C2's
    wanted = {v for _, _, values in asked for v in values}
    assert wanted <= {"B", "C1"}
    assert links(ws) == {"A": "", "B": "A", "X": ""}
    assert orders.read_orders(ws).set_index("order_id").loc["B", "crew"] == "一班"


def test_update_retries_after_another_save_of_the_rows(ws, monkeypatch):
    orders.create_order(ws, fault("N1", "C1", "2026-11-03 13:50"), author="a")
    orders.create_order(ws, fault("N2", "C2", "2026-11-03 13:55"), author="a")
    real_save_rows = GeoPackageStore.save_rows
    calls = []

    def save_rows_after_someone_else(self, layer, gdf, **kw):
        if not calls:  # another dispatcher saves N2 (whole layer) just before our first write
            calls.append(1)
            now = orders.read_orders(ws)
            now.loc[now["order_id"] == "N2", "crew"] = "二班"
            self.save(layer, now, expected_version=kw["expected_version"], author="other",
                      reason="crew")  # fmt: skip
        return real_save_rows(self, layer, gdf, **kw)

    monkeypatch.setattr(GeoPackageStore, "save_rows", save_rows_after_someone_else)
    orders.update_order(ws, "N1", {"crew": "一班"}, author="me", reason="crew")
    monkeypatch.undo()
    got = orders.read_orders(ws).set_index("order_id")
    assert got.loc["N1", "crew"] == "一班" and got.loc["N2", "crew"] == "二班"
    assert ws.current_version(orders.ORDER_LAYER) == 4  # 2 creations, the other's save, ours


def test_import_conflict_says_import_again(ws, tmp_path, monkeypatch):
    orders.create_order(ws, fault("A", "C1", "2026-11-01 10:00"), author="a")
    path = tmp_path / "o.csv"
    path.write_text(
        "工单编号,工单类型,户号,受理时间\nB,投诉,C1,2026-11-02 10:00\n", encoding="utf-8"
    )

    def stale(self, layer, gdf, **kw):
        raise ConflictError("layer 'work_orders' is at version 9")

    monkeypatch.setattr(GeoPackageStore, "save_rows", stale)
    with pytest.raises(ConflictError, match="import the file again"):
        orders.import_orders(ws, path, author="a")


def brute_force_links(frame: pd.DataFrame) -> dict[str, str]:
    """Each order's link by brute force: the latest earlier order of the same customer and
    kind with 0 < Δt ≤ 30 days (of several at that moment, the greatest id), else ''."""
    out = {}
    rows = list(frame[["order_id", "customer_id", "kind", "reported_at"]].itertuples(index=False))
    for oid, cust, kind, when in rows:
        best = None
        for oid2, cust2, kind2, when2 in rows:
            if cust == "" or (cust2, kind2) != (cust, kind):
                continue
            gap = when - when2
            if pd.Timedelta(0) < gap <= 30 * DAY and (
                best is None or (when2, oid2) > (best[1], best[0])
            ):
                best = (oid2, when2)
        out[oid] = "" if best is None else best[0]
    return out


def test_random_edits_keep_the_links_of_a_full_pass_and_the_checksum_of_a_full_save(ws, tmp_path):
    rng = np.random.default_rng(7)
    n = 60
    start = china("2026-10-01 00:00")
    minutes = rng.integers(0, 90 * 24 * 60, n)
    table = pd.DataFrame(
        {
            "工单编号": [f"R{i:03d}" for i in range(n)],
            "工单类型": rng.choice(["故障报修", "投诉"], n),
            "户号": rng.choice(["C1", "C2", "C3"], n),
            "受理时间": [
                (start + pd.Timedelta(minutes=int(m)) + pd.Timedelta(hours=8)).strftime(
                    "%Y-%m-%d %H:%M"
                )
                for m in minutes
            ],
        }
    )
    path = tmp_path / "r.csv"
    table.iloc[:40].to_csv(path, index=False)
    orders.import_orders(ws, path, author="a")
    first = brute_force_links(orders.read_orders(ws))
    table.to_csv(path, index=False)  # 40 again and 20 new
    report = orders.import_orders(ws, path, author="a")
    got = orders.read_orders(ws)
    links_now = brute_force_links(got)
    assert dict(zip(got["order_id"], got["repeat_of"], strict=True)) == links_now
    # of the 40, only those whose link the 20 new ones moved are updated
    moved = sorted(i for i in first if first[i] != links_now[i])
    assert moved and report.updated == moved
    assert len(report.added) == 20 and report.unchanged == 40 - len(moved)
    assert (last_version(ws)["n_added"], last_version(ws)["n_changed"]) == (20, len(moved))
    for step in range(12):
        oid = f"R{rng.integers(0, n):03d}"
        change = [
            {"customer_id": str(rng.choice(["C1", "C2", "C3"]))},
            {"kind": str(rng.choice(["故障报修", "投诉"]))},
            {"reported_at": (china("2026-10-15 00:00") + pd.Timedelta(hours=8)
                             + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 60))))
             .strftime("%Y-%m-%d %H:%M")},
        ][step % 3]  # fmt: skip
        orders.update_order(ws, oid, change, author="a", reason=f"step {step}")
        got = orders.read_orders(ws)
        assert dict(zip(got["order_id"], got["repeat_of"], strict=True)) == brute_force_links(
            got
        ), step
    # the last version's checksum is what a full save of the same content records
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(ws.path.read_bytes())
    full = GeoPackageStore.open(copy)
    version = full.current_version(orders.ORDER_LAYER)
    content = full.read(orders.ORDER_LAYER)
    content.loc[0, "crew"] = "x"  # a real change, so the full save writes a version ...
    full.save(orders.ORDER_LAYER, content, expected_version=version, author="a", reason="r")
    content.loc[0, "crew"] = ws.read(orders.ORDER_LAYER).loc[0, "crew"]  # ... then back
    full.save(orders.ORDER_LAYER, content, expected_version=version + 1, author="a", reason="r")
    mine = ws.list_versions(orders.ORDER_LAYER)["checksum"].iloc[-1]
    assert full.list_versions(orders.ORDER_LAYER)["checksum"].iloc[-1] == mine


def test_reimport_with_one_changed_row_writes_that_row_only(ws, tmp_path):
    path = tmp_path / "o.csv"
    head = "工单编号,工单类型,户号,受理时间,到达时间\n"
    rows = ["A,故障报修,C1,2026-11-01 10:00,", "B,故障报修,C2,2026-11-01 11:00,",
            "C,投诉,C3,2026-11-01 12:00,"]  # fmt: skip
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    orders.import_orders(ws, path, author="a")
    assert not orders.import_orders(ws, path, author="a").written
    rows[1] = "B,故障报修,C2,2026-11-01 11:00,2026-11-01 11:25"
    path.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    report = orders.import_orders(ws, path, author="a")
    assert (report.added, report.updated, report.unchanged) == ([], ["B"], 2)
    v = last_version(ws)
    assert (v["version"], v["n_rows"], v["n_added"], v["n_changed"]) == (2, 3, 0, 1)
    assert versions_of(ws) == {"A": 1, "B": 2, "C": 1}
    got = orders.read_orders(ws).set_index("order_id")
    assert got.loc["B", "arrived_at"] == china("2026-11-01 11:25")
    assert len(ws.row_history(orders.ORDER_LAYER, "A")) == 1
