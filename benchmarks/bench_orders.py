"""Benchmark: work-order figures for 10^6 orders (a province-year), all tiers, monthly.

Run ``python benchmarks/bench_orders.py`` (``--n`` to change the size, ``--repeat`` for N).
The workload is synthetic and deterministic (seed :data:`SEED`): ``--n`` orders over one year
(2026, China time) in 100 counties (tier 1) × 10 supply grids × 8 village grids (8,000 tier-3
grids), 150 repair stations and 16,000 grid members; 45 % faults (with dispatch, departure,
arrival, repair, predicted ETA; 3 % never reached), 12 % complaints (a tenth of them repeats),
the rest the other kinds; half called back; one fault in eight an outage of 1–500 customers
lasting up to 36 hours (one in five planned), so that many cross a month boundary.

Timed, in the same run, best of ``--repeat``:

- ``service_figures_grid_tiers``: :func:`gridgeo.performance.service_figures_by` for the
  three grid tiers (the per-order work done once), ``period="month"``;
- ``service_figures_all_groupings``: the same for every grouping (tiers 1–3, station, member);
- ``groupby_baseline``: the straightforward pandas way (:func:`baseline_figures`): per-row
  columns, then ``DataFrame.groupby([group, month])`` with ``sum``/``median``/``quantile``,
  outages split by exploding one row per month they touch. Both are checked to give the same
  figures (every shared column, to 1e-9).

The import of 10^5 orders (``gridgeo orders import``), a re-import that changes nothing and
single-order updates on 10^5 stored orders are timed in :func:`bench_import`, each against a
baseline of its own (see there), and recorded under ``"import"``.

Results go to stdout and ``benchmarks/results/bench_orders.json`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from gridgeo import sample
from gridgeo.orders import (
    ORDER_KINDS,
    ORDER_LAYER,
    ORDER_SOURCES,
    TIMEZONE,
    create_order,
    import_orders,
    read_orders,
    update_order,
)
from gridgeo.performance import GRID_GROUPINGS, GROUPINGS, service_figures_by
from gridgeo.settings import DEFAULT_SETTINGS
from gridgeo.store import GeoPackageStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_orders.json"
SEED = 20261201
N_T1, N_T2_PER_T1, N_T3_PER_T2 = 100, 10, 8
N_STATIONS = 150
MEMBERS_PER_T3 = 2

# the figures both ways compute (the baseline leaves out nothing the checks read)
CHECKED = (
    "orders",
    "faults",
    "faults_arrived",
    "faults_open_late",
    "faults_on_time",
    "on_time_rate",
    "arrival_median_s",
    "arrival_p90_s",
    "eta_orders",
    "eta_diff_median_s",
    "eta_ratio_median",
    "repair_median_s",
    "complaints",
    "complaints_closed",
    "complaints_first_time",
    "first_time_rate",
    "complaints_per_10k",
    "repeat_complaints",
    "callbacks",
    "satisfied",
    "satisfaction_rate",
    "outages",
    "customer_interruptions",
    "customer_hours",
    "customer_hours_unplanned",
    "rs1",
    "rs3",
    "saidi_h",
    "saifi",
)


def make_orders(n: int, seed: int = SEED) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """``n`` synthetic orders and the customers per group of each grid tier."""
    rng = np.random.default_rng(seed)
    n_t3 = N_T1 * N_T2_PER_T1 * N_T3_PER_T2
    t3 = rng.integers(0, n_t3, n)
    t2 = t3 // N_T3_PER_T2
    t1 = t2 // N_T2_PER_T1
    t3_ids = np.array([f"G3-{i:05d}" for i in range(n_t3)], dtype=object)
    t2_ids = np.array([f"G2-{i:04d}" for i in range(n_t3 // N_T3_PER_T2)], dtype=object)
    t1_ids = np.array([f"G1-{i:03d}" for i in range(N_T1)], dtype=object)
    station_ids = np.array([f"RS{i:03d}" for i in range(N_STATIONS)], dtype=object)
    member_ids = np.array([f"M{i:05d}" for i in range(n_t3 * MEMBERS_PER_T3)], dtype=object)

    kinds = np.array(list(ORDER_KINDS), dtype=object)
    p = np.array([0.45, 0.12, 0.02, 0.04, 0.03, 0.2, 0.05, 0.07, 0.02])
    kind = kinds[rng.choice(len(kinds), n, p=p / p.sum())]
    sources = np.array(list(ORDER_SOURCES), dtype=object)
    source = sources[rng.choice(len(sources), n, p=[0.5, 0.25, 0.15, 0.05, 0.05])]
    start = pd.Timestamp("2026-01-01", tz=TIMEZONE).tz_convert("UTC")
    year_s = 365 * 86400
    reported = start + pd.to_timedelta(rng.integers(0, year_s, n), unit="s")
    fault = kind == "fault"

    def later(base: pd.Series | pd.DatetimeIndex, lo: int, hi: int, keep: np.ndarray) -> Any:
        out = pd.Series(base) + pd.to_timedelta(rng.integers(lo, hi, n), unit="s")
        return out.where(keep)

    dispatched = later(reported, 60, 600, fault)
    has_departure = fault & (rng.random(n) < 0.7)
    departed = later(dispatched, 30, 300, has_departure)
    travel_from = departed.where(has_departure, dispatched)
    predicted = np.where(fault, rng.uniform(300, 3000, n), np.nan)
    actual = predicted * rng.uniform(0.7, 1.8, n)
    arrived_mask = fault & (rng.random(n) > 0.03)
    arrived = (travel_from + pd.to_timedelta(np.nan_to_num(actual), unit="s")).where(arrived_mask)
    repaired = later(arrived, 600, 14400, arrived_mask)
    closes = np.where(fault, arrived_mask, rng.random(n) < 0.9)
    closed = later(repaired.where(arrived_mask, pd.Series(reported)), 60, 86400, closes)
    called = closes & (rng.random(n) < 0.5)
    called_back = later(closed, 3600, 3 * 86400, called)
    satisfaction = np.where(
        called, rng.choice(["satisfied", "basic", "dissatisfied"], n, p=[0.85, 0.1, 0.05]), ""
    )
    outage = fault & (rng.random(n) < 0.125)
    outage_start = later(reported, -3600, 0, outage)
    outage_end = later(outage_start, 600, 36 * 3600, outage)
    affected = np.where(outage, rng.integers(1, 500, n), np.nan)
    planned = outage & (rng.random(n) < 0.2)
    complaint = kind == "complaint"
    repeat = np.where(complaint & (rng.random(n) < 0.1), "EARLIER", "")
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("WO", np.arange(n).astype(str)),
            "kind": kind,
            "source": source,
            "grid_t1": t1_ids[t1],
            "grid_t2": t2_ids[t2],
            "grid_t3": t3_ids[t3],
            "station_id": station_ids[t2 % N_STATIONS],
            "member": member_ids[t3 * MEMBERS_PER_T3 + rng.integers(0, MEMBERS_PER_T3, n)],
            "reported_at": pd.Series(reported),
            "dispatched_at": dispatched,
            "departed_at": departed,
            "arrived_at": arrived,
            "repaired_at": repaired,
            "closed_at": closed,
            "called_back_at": called_back,
            "predicted_eta_s": predicted,
            "outage_start": outage_start,
            "outage_end": outage_end,
            "customers_affected": affected,
            "planned": planned,
            "satisfaction": satisfaction,
            "first_time": rng.random(n) < 0.95,
            "repeat_of": repeat,
        }
    )
    per_t3 = pd.Series(rng.integers(500, 3000, n_t3).astype(float), index=t3_ids)
    per_t2 = per_t3.groupby(np.arange(n_t3) // N_T3_PER_T2).sum()
    per_t2.index = t2_ids
    per_t1 = per_t2.groupby(np.arange(len(t2_ids)) // N_T2_PER_T1).sum()
    per_t1.index = t1_ids
    return orders, {"grid_t1": per_t1, "grid_t2": per_t2, "grid_t3": per_t3}


def baseline_figures(
    orders: pd.DataFrame, customers: pd.Series | None, by: str, limit_s: float
) -> pd.DataFrame:
    """The straightforward pandas way: per-row columns, then one groupby (month periods)."""
    local = {
        c: orders[c].dt.tz_convert(TIMEZONE)
        for c in ("reported_at", "dispatched_at", "departed_at", "arrived_at", "repaired_at")
    }
    as_of = max(
        orders[c].max()
        for c in orders.columns
        if isinstance(orders[c].dtype, pd.DatetimeTZDtype) and orders[c].notna().any()
    )
    df = pd.DataFrame(
        {
            "group": orders[by].where(orders[by] != "", "未定位"),
            "period": local["reported_at"].dt.strftime("%Y-%m"),
        }
    )
    fault = orders["kind"] == "fault"
    complaint = orders["kind"] == "complaint"
    arrival = (orders["arrived_at"] - orders["reported_at"]).dt.total_seconds()
    arrived = fault & arrival.notna()
    open_late = (
        fault
        & orders["arrived_at"].isna()
        & orders["closed_at"].isna()
        & ((as_of - orders["reported_at"]).dt.total_seconds() > limit_s)
    )
    start = orders["departed_at"].fillna(orders["dispatched_at"])
    actual = (orders["arrived_at"] - start).dt.total_seconds()
    eta = fault & actual.notna() & (orders["predicted_eta_s"] > 0)
    closed = orders["closed_at"].notna()
    df["orders"] = 1
    df["faults"] = fault
    df["faults_arrived"] = arrived
    df["faults_open_late"] = open_late
    df["faults_on_time"] = arrived & (arrival <= limit_s)
    df["arrival_s"] = arrival.where(arrived)
    df["eta_orders"] = eta
    df["eta_diff"] = (actual - orders["predicted_eta_s"]).where(eta)
    df["eta_ratio"] = (actual / orders["predicted_eta_s"]).where(eta)
    df["repair_s"] = (orders["repaired_at"] - orders["arrived_at"]).dt.total_seconds().where(fault)
    df["complaints"] = complaint
    df["complaints_closed"] = complaint & closed
    df["complaints_first_time"] = complaint & closed & orders["first_time"]
    df["repeat_complaints"] = complaint & (orders["repeat_of"] != "")
    df["callbacks"] = orders["satisfaction"].isin(["satisfied", "basic", "dissatisfied"])
    df["satisfied"] = orders["satisfaction"].isin(["satisfied", "basic"])
    g = df.groupby(["group", "period"])
    sums = g[
        [
            "orders",
            "faults",
            "faults_arrived",
            "faults_open_late",
            "faults_on_time",
            "eta_orders",
            "complaints",
            "complaints_closed",
            "complaints_first_time",
            "repeat_complaints",
            "callbacks",
            "satisfied",
        ]
    ].sum()
    out = sums.astype(float)
    out["arrival_median_s"] = g["arrival_s"].median()
    out["arrival_p90_s"] = g["arrival_s"].quantile(0.9)
    out["eta_diff_median_s"] = g["eta_diff"].median()
    out["eta_ratio_median"] = g["eta_ratio"].median()
    out["repair_median_s"] = g["repair_s"].median()
    out["on_time_rate"] = out["faults_on_time"] / (out["faults_arrived"] + out["faults_open_late"])
    out["first_time_rate"] = out["complaints_first_time"] / out["complaints_closed"]
    out["satisfaction_rate"] = out["satisfied"] / out["callbacks"]

    # outages: one row per month touched, hours clipped to the month
    o = orders[orders["outage_start"].notna() & (orders["customers_affected"] > 0)]
    ostart = o["outage_start"].dt.tz_convert(TIMEZONE)
    oend = o["outage_end"].fillna(as_of).dt.tz_convert(TIMEZONE)
    pieces = pd.DataFrame(
        {
            "group": o[by].where(o[by] != "", "未定位"),
            "start": ostart,
            "end": oend,
            "ca": o["customers_affected"],
            "planned": o["planned"].astype(bool),
            "months": [
                list(pd.period_range(a.strftime("%Y-%m"), b.strftime("%Y-%m"), freq="M"))
                for a, b in zip(ostart, oend, strict=True)
            ],
        }
    ).explode("months")
    month_start = pieces["months"].map(lambda m: m.start_time).dt.tz_localize(TIMEZONE)
    month_end = pieces["months"].map(lambda m: (m + 1).start_time).dt.tz_localize(TIMEZONE)
    lo = pieces["start"].where(pieces["start"] > month_start, month_start)
    hi = pieces["end"].where(pieces["end"] < month_end, month_end)
    hours = ((hi - lo).dt.total_seconds() / 3600).clip(lower=0)
    pieces["period"] = pieces["months"].astype(str)
    pieces["ch"] = pieces["ca"] * hours
    pieces["ch_unplanned"] = pieces["ch"].where(~pieces["planned"], 0.0)
    first = pieces["period"] == pieces["start"].dt.strftime("%Y-%m")
    pieces["outages"] = first.astype(float)
    pieces["ci"] = pieces["ca"].where(first, 0.0)
    og = pieces.groupby(["group", "period"])[["ch", "ch_unplanned", "outages", "ci"]].sum()
    out = out.join(og, how="left")
    for column in ("ch", "ch_unplanned", "outages", "ci"):
        out[column] = out[column].fillna(0.0)
    out = out.rename(
        columns={
            "ch": "customer_hours",
            "ch_unplanned": "customer_hours_unplanned",
            "ci": "customer_interruptions",
        }
    )
    months = pd.PeriodIndex(out.index.get_level_values("period"), freq="M")
    period_h = np.asarray((months + 1).start_time - months.start_time) / np.timedelta64(1, "h")
    n_customers = (
        customers.reindex(out.index.get_level_values("group")).to_numpy(dtype=float)
        if customers is not None
        else np.full(len(out), np.nan)
    )
    out["complaints_per_10k"] = out["complaints"] * 10_000 / n_customers
    out["rs1"] = 1 - out["customer_hours"] / (n_customers * period_h)
    out["rs3"] = 1 - out["customer_hours_unplanned"] / (n_customers * period_h)
    out["saidi_h"] = out["customer_hours"] / n_customers
    out["saifi"] = out["customer_interruptions"] / n_customers
    return out


def _compare(ours: pd.DataFrame, base: pd.DataFrame, by: str) -> bool:
    """Every checked figure equal on the (group, period) rows the baseline has."""
    mine = ours.set_index([by, "period"])
    mine.index = mine.index.set_names(["group", "period"])
    mine = mine.reindex(base.index)
    for column in CHECKED:
        a = mine[column].to_numpy(dtype=float)
        b = base[column].to_numpy(dtype=float)
        if not np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True):
            bad = int((~np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)).sum())
            print(f"  MISMATCH {by}.{column}: {bad} rows")
            return False
    return True


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


# the import workload (bench_import): 10^5 orders of the sample county's customers
IMPORT_N = 100_000
IMPORT_REPEAT = 3
IMPORT_SEED = 20261206
N_UPDATES = 5


def import_workspace(path: Path) -> tuple[GeoPackageStore, np.ndarray]:
    """A workspace of the sample county's 30,000 customers and 7 box grids (3 tiers).

    The grids are the county's bounding box, its west and east halves and their quarters,
    so every customer point falls in one grid of each tier.
    """
    county = sample.load_sample()
    customers = county.customers[["customer_id", "village_code", "geometry"]].copy()
    customers["location_source"] = "gps"
    x0, y0, x1, y1 = county.county.total_bounds
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    rows = [
        ("T1", 1, None, box(x0, y0, x1, y1), "王总"),
        ("T2-W", 2, "T1", box(x0, y0, mx, y1), "李工"),
        ("T2-E", 2, "T1", box(mx, y0, x1, y1), "张工"),
        ("T3-WS", 3, "T2-W", box(x0, y0, mx, my), "王芳、李明"),
        ("T3-WN", 3, "T2-W", box(x0, my, mx, y1), "赵一"),
        ("T3-ES", 3, "T2-E", box(mx, y0, x1, my), "钱二"),
        ("T3-EN", 3, "T2-E", box(mx, my, x1, y1), "孙三"),
    ]
    grids = gpd.GeoDataFrame(
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
    store = GeoPackageStore.create(
        path, {"customers": customers, "grids": grids}, author="bench", reason="bench workspace"
    )
    return store, customers["customer_id"].to_numpy(dtype=object)


def order_file(n: int, customer_ids: np.ndarray, seed: int = IMPORT_SEED) -> pd.DataFrame:
    """``n`` orders as a 95598 export has them (Chinese headers, China time as text).

    Kinds 故障报修 55 %, 咨询 20 %, 投诉 12 %, 服务申请 10 %, 表扬 3 %, customers uniform
    among ``customer_ids`` (so about one customer in three has a repeat within 30 days),
    reported uniformly over 2026; faults dispatched 1-10 min and on site 5-60 min later;
    every order closed, half called back (满意).
    """
    rng = np.random.default_rng(seed)
    kinds = np.array(["故障报修", "咨询", "投诉", "服务申请", "表扬"], dtype=object)
    kind = kinds[rng.choice(len(kinds), n, p=[0.55, 0.2, 0.12, 0.1, 0.03])]
    reported = pd.Timestamp("2026-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 86400, n), unit="s"
    )
    dispatched = reported + pd.to_timedelta(rng.integers(60, 600, n), unit="s")
    arrived = dispatched + pd.to_timedelta(rng.integers(300, 3600, n), unit="s")
    closed = arrived + pd.to_timedelta(rng.integers(600, 20000, n), unit="s")
    fault = kind == "故障报修"

    def text(times: pd.DatetimeIndex, keep: np.ndarray) -> np.ndarray:
        return np.where(keep, times.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object), "")

    return pd.DataFrame(
        {
            "工单编号": np.char.add("WO", np.char.zfill(np.arange(n).astype(str), 7)),
            "工单类型": kind,
            "工单来源": rng.choice(np.array(["95598", "网格员", "微信"], dtype=object), n),
            "户号": customer_ids[rng.integers(0, len(customer_ids), n)],
            "受理时间": text(reported, np.ones(n, dtype=bool)),
            "派单时间": text(dispatched, fault),
            "到达时间": text(arrived, fault),
            "归档时间": text(closed, np.ones(n, dtype=bool)),
            "回访满意度": np.where(rng.random(n) < 0.5, "满意", ""),
        }
    )


def bench_import(result: dict[str, Any]) -> None:
    """The import of 10^5 orders, a re-import that changes nothing, and single-order edits.

    Workload: :func:`import_workspace` (30,000 customers, 7 grids) and :func:`order_file`
    (:data:`IMPORT_N` orders, CSV). Timed, best of :data:`IMPORT_REPEAT`, each on a fresh
    copy of the workspace where it writes:

    - ``import_empty``: :func:`gridgeo.orders.import_orders` into a workspace with no
      orders (read, check, locate by customer, grids, repeats, store as version 1);
      baseline ``read_csv_add_layer``: ``pandas.read_csv`` of the file plus the store's
      ``add_layer`` of the same orders (already checked and located): the bare cost of
      parsing the file and writing a versioned layer, with none of the checks;
    - ``reimport_unchanged``: the same file again (nothing changes, nothing written);
      baseline ``read_csv_read_save``: ``read_csv`` plus reading the whole layer and saving
      it whole, which is what an import that writes the whole layer does (the import
      before partial writes did that work, and wrote when anything changed);
    - ``update_order``: :func:`gridgeo.orders.update_order` of one order (a new crew) in
      the 10^5 stored orders, :data:`N_UPDATES` different orders, best and median;
      baseline ``read_save_one_change``: read the whole layer, change one cell, save it
      whole (one update before partial writes); ``create_order``: one new order of a
      customer who has orders.
    """
    import_n, repeat = IMPORT_N, IMPORT_REPEAT
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        _, customer_ids = import_workspace(tmp / "base.gpkg")
        csv = tmp / "orders.csv"
        order_file(import_n, customer_ids).to_csv(csv, index=False)

        def fresh(name: str, src: str = "base.gpkg") -> GeoPackageStore:
            shutil.copy(tmp / src, tmp / name)
            return GeoPackageStore.open(tmp / name)

        def timed(prepare: Callable[[], Any], run: Callable[[Any], Any]) -> tuple[float, Any]:
            best, out = float("inf"), None
            for _ in range(repeat):
                arg = prepare()
                t0 = time.perf_counter()
                out = run(arg)
                best = min(best, time.perf_counter() - t0)
            return best, out

        t_import, report = timed(
            lambda: fresh("a.gpkg"), lambda ws: import_orders(ws, csv, author="bench")
        )
        assert report.written and len(report.added) == import_n
        shutil.copy(tmp / "a.gpkg", tmp / "imported.gpkg")
        imported = GeoPackageStore.open(tmp / "imported.gpkg")
        stored = read_orders(imported)

        def read_csv_add_layer(ws: GeoPackageStore) -> int:
            pd.read_csv(csv, dtype=str, keep_default_na=False)
            return ws.add_layer(ORDER_LAYER, stored, key="order_id", author="b", reason="b")

        t_base_import, _ = timed(lambda: fresh("b.gpkg"), read_csv_add_layer)

        t_reimport, again = timed(
            lambda: imported, lambda ws: import_orders(ws, csv, author="bench")
        )
        assert not again.written and again.unchanged == import_n
        assert imported.current_version(ORDER_LAYER) == 1

        def read_csv_read_save(ws: GeoPackageStore) -> int:
            pd.read_csv(csv, dtype=str, keep_default_na=False)
            whole = ws.read(ORDER_LAYER)
            return ws.save(ORDER_LAYER, whole, expected_version=1, author="b", reason="b")

        t_base_reimport, _ = timed(lambda: fresh("c.gpkg", "imported.gpkg"), read_csv_read_save)

        ws = fresh("d.gpkg", "imported.gpkg")
        ids = stored["order_id"].to_numpy(dtype=object)
        picks = ids[np.linspace(0, len(ids) - 1, N_UPDATES).astype(int)]
        t_updates = []
        for i, order_id in enumerate(picks):
            t0 = time.perf_counter()
            update_order(ws, order_id, {"crew": f"抢修{i}班"}, author="b", reason="crew")
            t_updates.append(time.perf_counter() - t0)
        assert ws.current_version(ORDER_LAYER) == 1 + N_UPDATES
        customer = str(stored["customer_id"].iloc[0])
        t0 = time.perf_counter()
        create_order(
            ws,
            {"order_id": "NEW-1", "kind": "故障报修", "customer_id": customer,
             "reported_at": "2026-12-01 08:00"},
            author="b",
        )  # fmt: skip
        t_create = time.perf_counter() - t0

        def read_save_one_change(ws: GeoPackageStore) -> int:
            whole = ws.read(ORDER_LAYER)
            whole.loc[0, "crew"] = "抢修班"
            return ws.save(ORDER_LAYER, whole, expected_version=1, author="b", reason="b")

        t_base_update, _ = timed(lambda: fresh("e.gpkg", "imported.gpkg"), read_save_one_change)
        size_mb = csv.stat().st_size / 1e6
    result["import"] = {
        "orders_in_file": import_n,
        "file_mb": round(size_mb, 1),
        "customers": len(customer_ids),
        "grids": 7,
        "repeat": repeat,
        "import_empty_s": round(t_import, 2),
        "baseline_read_csv_add_layer_s": round(t_base_import, 2),
        "reimport_unchanged_s": round(t_reimport, 2),
        "baseline_read_csv_read_save_s": round(t_base_reimport, 2),
        "stored_orders_for_edits": import_n,
        "update_order_best_s": round(min(t_updates), 3),
        "update_order_median_s": round(float(np.median(t_updates)), 3),
        "update_order_under_1_s": max(t_updates) <= 1.0,
        "baseline_read_save_one_change_s": round(t_base_update, 2),
        "create_order_s": round(t_create, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**6, help="orders (default 10^6)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    orders, customers = make_orders(args.n)
    t_make = time.perf_counter() - t0
    limit_s = DEFAULT_SETTINGS.repair_limit_s

    def ours(groupings: tuple[str, ...]) -> Callable[[], dict[str, pd.DataFrame]]:
        return lambda: service_figures_by(
            orders,
            by=groupings,  # type: ignore[arg-type]
            customers=customers,  # type: ignore[arg-type]
            period="month",
        )

    def baseline() -> dict[str, pd.DataFrame]:
        return {by: baseline_figures(orders, customers.get(by), by, limit_s) for by in GROUPINGS}

    t_tiers, _ = best_of(args.repeat, ours(GRID_GROUPINGS))
    t_ours, figures = best_of(args.repeat, ours(GROUPINGS))
    t_base, base = best_of(args.repeat, baseline)
    same = {by: _compare(figures[by], base[by], by) for by in GROUPINGS}
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "n_orders": args.n,
        "groups": {by: int(figures[by][by].nunique()) for by in GROUPINGS},
        "rows": {by: len(figures[by]) for by in GROUPINGS},
        "outages": int((orders["customers_affected"] > 0).sum()),
        "repeat": args.repeat,
        "make_orders_s": round(t_make, 2),
        "service_figures_grid_tiers_s": round(t_tiers, 2),
        "service_figures_all_groupings_s": round(t_ours, 2),
        "groupby_baseline_all_groupings_s": round(t_base, 2),
        "speedup_vs_groupby": round(t_base / t_ours, 2),
        "grid_tiers_under_10_s": t_tiers < 10.0,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "same_figures_as_groupby": same,
    }
    bench_import(result)
    print(f"{args.n:,} orders; groups {result['groups']}")
    for key in (
        "make_orders_s",
        "service_figures_grid_tiers_s",
        "service_figures_all_groupings_s",
        "groupby_baseline_all_groupings_s",
        "speedup_vs_groupby",
        "grid_tiers_under_10_s",
        "load_average_at_end",
        "same_figures_as_groupby",
        "import",
    ):
        print(f"  {key:<32s} {result[key]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
