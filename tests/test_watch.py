"""Seasonal peaks on a hand-made series and the watch list (重点巡查) on a hand-made two-grid
county; every expected value is worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gridgeo.errors import InputError, MissingColumnError
from gridgeo.performance import period_bounds
from gridgeo.settings import DEFAULT_SETTINGS
from gridgeo.watch import (
    SEASONS,
    Season,
    fault_peaks,
    spring_festival_season,
    watch_list,
)

BEIJING = "Asia/Shanghai"


def _at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=BEIJING).tz_convert("UTC")


# --- seasonal peaks ---------------------------------------------------------------------------

# grid A, faults per month of 2026. Seasons: Jan winter, Feb 春节 (2026-02-17: Feb 10-23),
# Apr tea, Jul-Aug summer, Oct-Nov 蜜桔, Dec winter; off-season: Mar 2, May 4, Jun 4, Sep 8
# -> baseline = median(2, 4, 4, 8) = 4; a peak needs >= 3 faults and >= 1.5 x 4 = 6
A_MONTHS = {1: 3, 2: 7, 3: 2, 4: 5, 5: 4, 6: 4, 7: 9, 8: 6, 9: 8, 10: 2, 11: 1, 12: 0}
A_PEAKS = {2: True, 7: True, 8: True, 9: True}  # Aug at exactly 6; Sep off-season (unexpected)


def _monthly_series() -> pd.DataFrame:
    rows = []
    for month, n in A_MONTHS.items():
        for i in range(n):
            # the last day of the month at 23:30 Beijing is the month's, though UTC says 15:30
            rows.append(
                {
                    "kind": "fault",
                    "grid_t3": "A",
                    "reported_at": _at(f"2026-{month:02d}-{i + 3:02d} 10:00"),
                }
            )
    rows += [
        # grid B: two July faults, nothing else -> baseline 0, but 2 < 3 faults: no peak
        {"kind": "fault", "grid_t3": "B", "reported_at": _at("2026-07-05 09:00")},
        {"kind": "fault", "grid_t3": "B", "reported_at": _at("2026-07-06 09:00")},
        # not faults, or no grid: not counted
        {"kind": "complaint", "grid_t3": "A", "reported_at": _at("2026-03-05 09:00")},
        {"kind": "fault", "grid_t3": "", "reported_at": _at("2026-03-05 09:00")},
    ]
    return pd.DataFrame(rows)


def test_monthly_peaks_against_the_off_season_median():
    table = fault_peaks(_monthly_series(), period="month", end="2026-12")
    a = table[table["grid_id"] == "A"].set_index("period")
    assert a["faults"].tolist() == list(A_MONTHS.values())  # December filled with 0
    assert (a["baseline"] == 4.0).all()
    assert a["ratio"].tolist() == [n / 4 for n in A_MONTHS.values()]
    expected_peaks = [A_PEAKS.get(m, False) for m in A_MONTHS]
    assert a["peak"].tolist() == expected_peaks
    # Sep is off-season: a peak, but not a seasonal one
    assert a["seasonal_peak"].tolist() == [
        p and m != 9 for m, p in zip(A_MONTHS, expected_peaks, strict=True)
    ]
    assert a.loc["2026-02", "seasons"] == "春节返乡"
    assert a.loc["2026-07", "seasons"] == "迎峰度夏"
    assert a.loc["2026-12", "seasons"] == "迎峰度冬"
    assert a.loc["2026-03", "seasons"] == ""
    b = table[table["grid_id"] == "B"]
    assert len(b) == 12 and b["faults"].sum() == 2
    assert (b["baseline"] == 0).all() and not b["peak"].any()
    assert np.isinf(b.loc[b["period"] == "2026-07", "ratio"]).all()


def test_month_is_read_in_beijing_time():
    orders = pd.DataFrame(
        {
            "kind": ["fault", "fault"],
            "grid_t3": ["A", "A"],
            # 2026-07-31 23:30 Beijing is July; 2026-08-01 00:30 Beijing is 2026-07-31 UTC
            "reported_at": [_at("2026-07-31 23:30"), _at("2026-08-01 00:30")],
        }
    )
    table = fault_peaks(orders, period="month").set_index("period")
    assert table["faults"].to_dict() == {"2026-07": 1, "2026-08": 1}


def test_weekly_spring_festival_fortnight():
    # 春节 2026 is Tuesday 17 Feb: the fortnight is 10-23 Feb, touching ISO weeks
    # W07 (9-15 Feb), W08 (16-22 Feb) and W09 (23 Feb - 1 Mar)
    orders = pd.DataFrame(
        {
            "kind": "fault",
            "grid_t3": "A",
            "reported_at": [
                _at(t)
                for t in ["2026-02-03 10:00"] * 2
                + ["2026-02-18 10:00"] * 6
                + ["2026-03-03 10:00"] * 2
            ],
        }
    )
    table = fault_peaks(orders, period="week", start="2026-W06", end="2026-W11")
    assert table["period"].tolist() == [f"2026-W{w:02d}" for w in range(6, 12)]
    assert table["seasons"].tolist() == ["", "春节返乡", "春节返乡", "春节返乡", "", ""]
    # off-season weeks W06 2, W10 2, W11 0 -> baseline 2; W08: 6 >= 3 and 6 >= 3: a peak
    assert table["faults"].tolist() == [2, 0, 6, 0, 2, 0]
    assert (table["baseline"] == 2.0).all()
    assert table["peak"].tolist() == [False, False, True, False, False, False]
    assert table["seasonal_peak"].tolist() == [False, False, True, False, False, False]


def test_local_seasons_are_configurable():
    orders = _monthly_series()
    # only a March season: now off-season is every month but March
    seasons = {"spring_ploughing": Season("春耕", months=(3,))}
    table = fault_peaks(orders, period="month", seasons=seasons, end="2026-12")
    a = table[table["grid_id"] == "A"]
    off = [n for m, n in A_MONTHS.items() if m != 3]
    assert (a["baseline"] == float(np.median(off))).all()
    assert a["seasons"].tolist() == ["" if m != 3 else "春耕" for m in A_MONTHS]


def test_spring_festival_table_and_seasons():
    season = spring_festival_season({2027: dt.date(2027, 2, 6)})
    days = pd.date_range("2027-01-29", "2027-02-14", freq="D")
    inside = season.contains(days)
    # 6 Feb - 7 days = 30 Jan; 6 Feb + 6 days = 12 Feb: 14 days
    assert days[inside][0] == pd.Timestamp("2027-01-30")
    assert days[inside][-1] == pd.Timestamp("2027-02-12")
    assert inside.sum() == 14
    assert set(SEASONS) >= {"summer", "winter", "spring_festival", "tea", "tangerine"}
    with pytest.raises(InputError, match="months"):
        Season("错", months=(13,))


def test_peaks_bad_input():
    with pytest.raises(InputError, match="period"):
        fault_peaks(_monthly_series(), period="day")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="2026-11"):
        fault_peaks(_monthly_series(), period="month", start="2026/01")
    with pytest.raises(MissingColumnError, match="grid_t3"):
        fault_peaks(_monthly_series().drop(columns="grid_t3"))


# --- the watch list -------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    rows = []
    # G1 = 三溪乡甲村, 4 customers: 2 not within 30 min (50 %), ETAs median (1500+2000)/2 = 1750
    for i, (ok, eta) in enumerate([(False, 2000), (False, 2400), (True, 1200), (True, 1500)]):
        rows.append(("c1" + str(i), "G1", "三溪乡", "甲村", ok, eta))
    # G2 = 琴城镇乙村 (7 customers, all within) + 琴城镇丙村 (3, one not: 33 %)
    for i in range(7):
        rows.append(("c2" + str(i), "G2", "琴城镇", "乙村", True, 300 + 100 * i))
    for i, (ok, eta) in enumerate([(False, 1900), (True, 900), (True, 1000)]):
        rows.append(("c3" + str(i), "G2", "琴城镇", "丙村", ok, eta))
    return pd.DataFrame(
        rows, columns=["customer_id", "grid_t3", "town", "village", "repair_ok", "repair_eta_s"]
    )


def _fault(
    grid: str, town: str, village: str, reported: str, minutes: float | None, kind: str = "fault"
) -> dict:
    at = _at(reported)
    return {
        "kind": kind,
        "grid_t3": grid,
        "town": town,
        "village": village,
        "reported_at": at,
        "arrived_at": at + pd.Timedelta(minutes=minutes) if minutes is not None else pd.NaT,
    }


def _watch_orders() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # 甲村: 3 faults, arrivals 40 and 50 min (median 45 min = 2,700 s), one without
            _fault("G1", "三溪乡", "甲村", "2026-11-03 10:00", 40),
            _fault("G1", "三溪乡", "甲村", "2026-11-10 10:00", 50),
            _fault("G1", "三溪乡", "甲村", "2026-11-20 10:00", None),
            _fault("G1", "三溪乡", "甲村", "2026-11-21 10:00", 90, kind="complaint"),  # not a fault
            # 乙村: 3 faults (10, 20 min; one at 23:50 on 30 Nov, 25 min: November in Beijing)
            _fault("G2", "琴城镇", "乙村", "2026-11-05 10:00", 10),
            _fault("G2", "琴城镇", "乙村", "2026-11-06 10:00", 20),
            _fault("G2", "琴城镇", "乙村", "2026-11-30 23:50", 25),
            # 1 Dec 00:10 Beijing (30 Nov UTC) and October: not in November
            _fault("G2", "琴城镇", "乙村", "2026-12-01 00:10", 5),
            _fault("G2", "琴城镇", "乙村", "2026-10-15 10:00", 5),
            # 丙村: one fault, 35 min (2,100 s)
            _fault("G2", "琴城镇", "丙村", "2026-11-12 10:00", 35),
        ]
    )


def test_watch_list_by_hand():
    # November: 7 faults for 14 customers -> 500 per 1,000; "many" needs >= 2 and >= 750
    #   G1/甲村: weak (50 % >= 20 %), 3 faults = 750 per 1,000 (many), arrival 2,700 s (slow)
    #   G2: 1 of 10 not within (10 %), ETA median 750 s: not weak -> not on the list
    #   乙村: not weak; 丙村: weak (33 %), 1 fault (not many), 2,100 s (slow) -> on the list
    # slow arrivals claimed on as few as 1 arrival here (min_arrivals=1); the default 3 is
    # tested in test_slow_arrivals_need_min_arrivals
    grids = pd.DataFrame({"grid_id": ["G1", "G2"], "name": ["甲村网格", "琴城网格"]})
    table = watch_list(_watch_orders(), _customers(), grids=grids, month="2026-11", min_arrivals=1)
    assert table["unit_id"].tolist() == ["G1", "三溪乡|甲村", "琴城镇|丙村"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["level"].tolist() == ["grid", "village", "village"]
    assert table["name"].tolist() == ["甲村网格", "三溪乡甲村", "琴城镇丙村"]
    g1 = table.iloc[0]
    assert (g1["customers"], g1["faults"], g1["arrivals"]) == (4, 3, 2)
    assert g1["unreachable_share"] == 0.5
    assert g1["median_eta_s"] == 1750.0
    assert g1["faults_per_1000"] == 750.0
    assert g1["county_faults_per_1000"] == 500.0
    assert g1["median_arrival_s"] == 2700.0
    assert bool(g1["weak_reach"]) and bool(g1["many_faults"]) and bool(g1["slow_arrivals"])
    assert g1["reason"] == (
        "预测可达性弱：50% 的客户 30 分钟内不可达，预测抢修时间中位 29 分钟；"
        "故障多：3 起，每千户 750.0 起（全县 500.0 起）；"
        "实际到达慢：到达现场中位 45 分钟（承诺 30 分钟，2 单有到达时间）"
    )
    bing = table.iloc[2]
    assert bing["grid_id"] == "G2"
    assert bing["median_arrival_s"] == 2100.0
    assert not bing["many_faults"] and bool(bing["slow_arrivals"])
    assert "故障多" not in bing["reason"] and "33%" in bing["reason"]


def test_slow_arrivals_need_min_arrivals():
    # 甲村's two arrivals (40, 50 min) and 丙村's one (35 min) are late, but fewer than 3
    table = watch_list(_watch_orders(), _customers(), month="2026-11", all_units=True)
    table = table.set_index("unit_id")
    for unit, n, median in (
        ("G1", 2, 2700.0),
        ("三溪乡|甲村", 2, 2700.0),
        ("琴城镇|丙村", 1, 2100.0),
    ):
        assert table.loc[unit, "arrivals"] == n and table.loc[unit, "median_arrival_s"] == median
        assert not table.loc[unit, "slow_arrivals"]
    # G1 and 甲村 stay on the list for weak reach and many faults; 丙村 (1 fault) does not
    listed = watch_list(_watch_orders(), _customers(), month="2026-11")
    assert listed["unit_id"].tolist() == ["G1", "三溪乡|甲村"]
    assert listed.iloc[0]["reason"] == (
        "预测可达性弱：50% 的客户 30 分钟内不可达，预测抢修时间中位 29 分钟；"
        "故障多：3 起，每千户 750.0 起（全县 500.0 起）"
    )
    # 2 arrivals with min_arrivals=2: slow again (the boundary from the other side)
    two = watch_list(_watch_orders(), _customers(), month="2026-11", min_arrivals=2)
    assert two["unit_id"].tolist() == ["G1", "三溪乡|甲村"]
    assert two["slow_arrivals"].tolist() == [True, True]
    # a third arrival (the fault of 20 Nov reached after 60 min): 40, 50, 60 min, median
    # 50 min = 3,000 s, slow at the default of 3 arrivals
    orders = _watch_orders()
    orders.loc[2, "arrived_at"] = orders.loc[2, "reported_at"] + pd.Timedelta(minutes=60)
    three = watch_list(orders, _customers(), month="2026-11").set_index("unit_id")
    assert three.loc["G1", "arrivals"] == 3 and three.loc["G1", "median_arrival_s"] == 3000.0
    assert bool(three.loc["G1", "slow_arrivals"])
    assert (
        "实际到达慢：到达现场中位 50 分钟（承诺 30 分钟，3 单有到达时间）"
        in three.loc["G1", "reason"]
    )
    four = watch_list(orders, _customers(), month="2026-11", min_arrivals=4)
    assert not four["slow_arrivals"].any()
    with pytest.raises(InputError, match="min_arrivals"):
        watch_list(orders, _customers(), min_arrivals=0)


def test_all_units_and_the_whole_record():
    # G1 is listed on weak reach and its two slow arrivals (min_arrivals=2)
    table = watch_list(_watch_orders(), _customers(), all_units=True, min_arrivals=2)
    table = table.set_index("unit_id")
    assert len(table) == 5  # 2 grids + 3 villages
    assert table.loc["琴城镇|乙村", "faults"] == 5  # October and 1 December counted too
    assert table.loc["琴城镇|乙村", "rank"] == 0 and not table.loc["琴城镇|乙村", "watch"]
    # G2's 10 ETAs: 300, 400, ..., 900 (乙村) and 900, 1000, 1900 (丙村): (700 + 800) / 2
    assert table.loc["G2", "median_eta_s"] == 750.0
    # 9 faults / 14 customers: ~642.9 per 1,000; 甲村 750 < 1.5 x 642.9 -> not "many" now
    assert table.loc["G1", "county_faults_per_1000"] == pytest.approx(9000 / 14)
    assert not table.loc["G1", "many_faults"] and table.loc["G1", "watch"]
    # with the default of 3 arrivals, two slow arrivals are not enough
    default = watch_list(_watch_orders(), _customers(), all_units=True).set_index("unit_id")
    assert not default.loc["G1", "slow_arrivals"] and not default.loc["G1", "watch"]


def test_weak_by_median_eta_alone_and_a_longer_promise():
    customers = _customers()
    customers.loc[customers["village"] == "乙村", "repair_eta_s"] = 2000.0  # all ok, but slow
    table = watch_list(_watch_orders(), customers, month="2026-11", all_units=True)
    yi = table.set_index("unit_id").loc["琴城镇|乙村"]
    assert yi["unreachable_share"] == 0 and yi["median_eta_s"] == 2000.0
    assert bool(yi["weak_reach"]) and not yi["watch"]  # arrivals fast, faults 3/7 = 429
    # with a 60-minute promise nothing is slow and nothing is weak by ETA
    longer = DEFAULT_SETTINGS.replace(repair_limit_s=3600.0)
    table = watch_list(_watch_orders(), customers, month="2026-11", settings=longer)
    assert table["unit_id"].tolist() == ["G1", "三溪乡|甲村"]  # weak share and many faults


def test_watch_bad_input():
    with pytest.raises(InputError, match="2026-11"):
        watch_list(_watch_orders(), _customers(), month="11/2026")
    with pytest.raises(MissingColumnError, match="repair_ok"):
        watch_list(_watch_orders(), _customers().drop(columns="repair_ok"))
    with pytest.raises(InputError, match="weak_share"):
        watch_list(_watch_orders(), _customers(), weak_share=0)
    start, end = period_bounds("2026-12", "month")
    assert (start, end) == (
        pd.Timestamp("2026-12-01", tz=BEIJING),
        pd.Timestamp("2027-01-01", tz=BEIJING),
    )


# --- the command line -----------------------------------------------------------------------


def test_cli_watch(tmp_path, capsys):
    import geopandas as gpd
    from shapely.geometry import Point, box

    from gridgeo.cli import main
    from gridgeo.store import GeoPackageStore

    customers = _customers()
    points = [Point(116.5, 27.2)] * len(customers)
    access = customers[["customer_id", "repair_ok", "repair_eta_s"]].assign(payment_ok=True)
    orders = _watch_orders().assign(order_id=lambda d: [f"o{i}" for i in range(len(d))])
    grids = pd.DataFrame({"grid_id": ["G1", "G2"], "tier": 3, "name": ["甲村网格", "琴城网格"]})
    layers = {
        "grids": gpd.GeoDataFrame(grids, geometry=[box(116, 27, 117, 28)] * 2, crs=4326),
        "customers": gpd.GeoDataFrame(
            customers.drop(columns=["repair_ok", "repair_eta_s"]), geometry=points, crs=4326
        ),
        "work_orders": gpd.GeoDataFrame(orders, geometry=[Point(116.5, 27.2)] * 10, crs=4326),
    }
    path = tmp_path / "w.gpkg"
    store = GeoPackageStore.create(
        path, layers, author="t", reason="t", keys={"work_orders": "order_id"}
    )
    assert main(["watch", "--workspace", str(path), "--month", "2026-11"]) == 2
    err = capsys.readouterr().err
    assert "gridgeo run" in err and len(err.strip().splitlines()) == 1
    store.add_layer(
        "customer_access",
        gpd.GeoDataFrame(access, geometry=points, crs=4326),
        key="customer_id",
        author="t",
        reason="t",
    )
    assert main(["watch", "--workspace", str(path), "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    # 丙村 (one slow arrival, fewer than the 3 slow arrivals need) is not listed
    assert "重点巡查 / watch list (2026-11): 2 处 / units" in out
    assert "1. 网格 甲村网格 (G1): 预测可达性弱：50% 的客户" in out
    assert "2. 村 三溪乡甲村" in out and "丙村" not in out
    assert main(["watch", "--workspace", str(path), "--month", "2026-13"]) == 2
    assert "2026-11" in capsys.readouterr().err
