"""The generated year of sample work orders (gridgeo/_sample_orders.py).

The inputs are a hand-made county the test builds: 12 villages (6 in the valley at 100 m, 6 in
the hills at 650 m), three supply grids (tier 2) of four villages each, six village grids
(tier 3) with a roster, 30,000 customers (2,500 a village) whose repair ETAs the test sets
(valley 5-15 min, hills 20-40 min), plus 100 customers that cannot report (no village, no
reach). Every expected value below is counted here with pandas/numpy on the generated orders
and the test's own inputs, or follows from the parameters written in the generator's
docstring (season dates and factors, the 5-minute turnout): none is read from the generator.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgeo import _sample_orders as so
from gridgeo.errors import InputError, MissingColumnError, NotFoundError
from gridgeo.orders import ORDER_COLUMNS, TIME_COLUMNS
from gridgeo.store import GeoPackageStore

PER_VILLAGE = 2500
TZ = "Asia/Shanghai"
# the delay table the test plants (minutes per supply grid) and the documented turnout
DELAYS_MIN = {"G2-A": 2.0, "G2-B": 7.0, "G2-C": 15.0}
TURNOUT_MIN = 5.0
# the seasons as the docstring states them (local dates, ends included)
SEASONS = {
    "winter": ("2025-12-15", "2026-01-31", 1.5),
    "spring_festival": ("2026-02-10", "2026-02-23", 1.7),
    "tea": ("2026-04-01", "2026-04-30", 1.5),
    "summer": ("2026-07-01", "2026-08-31", 1.8),
    "tangerine": ("2026-10-15", "2026-11-30", 1.5),
}


def _county() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    codes = [f"V{i:02d}" for i in range(1, 13)]
    hills = [i >= 6 for i in range(12)]
    t2 = ["G2-A", "G2-A", "G2-B", "G2-B", "G2-C", "G2-C"] * 2
    t3 = [f"T3-{k}" for k in range(1, 7)] * 2  # T3-1 holds V01 and V07, ...
    villages = gpd.GeoDataFrame(
        {
            "village_code": codes,
            "village": [f"试验{i}村" for i in range(1, 13)],
            "town": ["山区乡" if h else "河谷镇" for h in hills],
            "elevation_m": [650.0 if h else 100.0 for h in hills],
        },
        geometry=shapely.points(116.3 + 0.02 * np.arange(12), 27.0 + 0.01 * np.arange(12)),
        crs="EPSG:4326",
    )
    n = PER_VILLAGE * 12
    vi = np.repeat(np.arange(12), PER_VILLAGE)
    eta = np.where(np.asarray(hills)[vi], rng.uniform(1200, 2400, n), rng.uniform(300, 900, n))
    ids = [f"C{i:06d}" for i in range(n)]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "address": [f"{villages['village'][v]}{k % 90 + 1}号" for k, v in enumerate(vi)],
            "category": np.where(rng.random(n) < 0.9, "residential", "commercial"),
            "town": villages["town"].to_numpy()[vi],
            "village_code": np.asarray(codes, dtype=object)[vi],
            "village": villages["village"].to_numpy()[vi],
            "grid_t1": "T1-TEST",
            "grid_t2": np.asarray(t2, dtype=object)[vi],
            "grid_t3": np.asarray(t3, dtype=object)[vi],
        }
    )
    station = customers["grid_t2"].str.replace("G2-", "S-", regex=False)
    access = pd.DataFrame({"customer_id": ids, "repair_eta_s": eta, "repair_station_id": station})
    # 50 customers not located to a village, 50 without road reach
    lost = pd.DataFrame(
        {
            "customer_id": [f"X{i:04d}" for i in range(100)],
            "address": "某地",
            "category": "residential",
            "town": "河谷镇",
            "village_code": [None] * 50 + ["V01"] * 50,
            "village": [""] * 50 + ["试验1村"] * 50,
            "grid_t1": "T1-TEST",
            "grid_t2": [None] * 50 + ["G2-A"] * 50,
            "grid_t3": [None] * 50 + ["T3-1"] * 50,
        }
    )
    lost_access = pd.DataFrame(
        {
            "customer_id": lost["customer_id"],
            "repair_eta_s": [100.0] * 50 + [np.nan] * 50,
            "repair_station_id": ["S-A"] * 50 + [None] * 50,
        }
    )
    customers = pd.concat([customers, lost], ignore_index=True)
    pts = villages.geometry.to_numpy()[
        customers["village_code"]
        .map(dict(zip(codes, range(12), strict=True)))
        .fillna(0)
        .to_numpy(dtype=int)
    ]
    customers = gpd.GeoDataFrame(customers, geometry=pts, crs="EPSG:4326")
    access = gpd.GeoDataFrame(
        pd.concat([access, lost_access], ignore_index=True),
        geometry=customers.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1-TEST", "G2-A", "G2-B", "G2-C", *[f"T3-{k}" for k in range(1, 7)]],
            "tier": [1, 2, 2, 2, 3, 3, 3, 3, 3, 3],
            "manager": [f"经理{k}" for k in range(10)],
            "members": [
                "",
                "",
                "",
                "",
                "张一、李二",
                "王三",
                "赵四、钱五",
                "孙六",
                "周七",
                "吴八、郑九",
            ],
        },
        geometry=[shapely.box(116, 26.9, 116.6, 27.3)] * 10,
        crs="EPSG:4326",
    )
    stations = gpd.GeoDataFrame(
        {"station_id": ["S-A", "S-B", "S-C"], "crews": [2, 3, 1]},
        geometry=shapely.points([116.3, 116.34, 116.38], [27.0, 27.02, 27.04]),
        crs="EPSG:4326",
    )
    return {
        "customers": customers,
        "customer_access": access,
        "grids": grids,
        "repair_stations": stations,
        "villages": villages,
    }


def _generate(layers: dict[str, pd.DataFrame], **kw) -> gpd.GeoDataFrame:
    return so.generate_work_orders(
        layers["customers"],
        layers["customer_access"],
        layers["grids"],
        layers["repair_stations"],
        layers["villages"],
        **kw,
    )


@pytest.fixture(scope="module")
def county() -> dict[str, pd.DataFrame]:
    return _county()


@pytest.fixture(scope="module")
def orders(county) -> gpd.GeoDataFrame:
    return _generate(county, grid_delay_min=DELAYS_MIN)


@pytest.fixture(scope="module")
def faults(orders) -> pd.DataFrame:
    f = orders[orders["kind"] == "fault"].copy()
    f["local_day"] = f["reported_at"].dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()
    return f


def _plain(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    out = pd.DataFrame(gdf.drop(columns="geometry"))
    out["wkb"] = shapely.to_wkb(gdf.geometry.to_numpy())
    return out


def test_same_output_every_run_and_whatever_the_input_order(county, orders):
    again = _generate(county, grid_delay_min=DELAYS_MIN)
    pd.testing.assert_frame_equal(_plain(orders), _plain(again))
    shuffled = {name: layer.sample(frac=1.0, random_state=3) for name, layer in county.items()}
    pd.testing.assert_frame_equal(
        _plain(orders), _plain(_generate(shuffled, grid_delay_min=DELAYS_MIN))
    )
    other = _generate(county, grid_delay_min=DELAYS_MIN, seed=99)
    assert len(other) != len(orders) or not other["order_id"].equals(orders["order_id"])


def test_schema_one_year_in_china_time_and_labelled_generated(orders):
    assert list(orders.columns) == [*ORDER_COLUMNS, "geometry"]
    assert orders.crs.to_epsg() == 4326
    for col in (*TIME_COLUMNS, "outage_start", "outage_end"):
        assert str(orders[col].dt.tz) == "UTC", col
    local = orders["reported_at"].dt.tz_convert(TZ)
    assert local.min() >= pd.Timestamp("2025-12-01", tz=TZ)
    assert local.max() < pd.Timestamp("2026-12-01", tz=TZ)
    assert orders["order_id"].is_unique
    assert orders["result"].str.contains("GENERATED").all()
    assert orders["result"].str.contains("生成的示例").all()
    # a few thousand orders for 30,000 customers, mostly faults, every kind present
    assert 3000 <= len(orders) <= 9000
    kinds = orders["kind"].value_counts()
    assert kinds.idxmax() == "fault"
    assert set(kinds.index) == {
        "fault", "complaint", "report", "opinion", "suggestion", "consultation", "praise",
        "service_request", "payment",
    }  # fmt: skip
    sources = orders["source"].value_counts(normalize=True)
    assert sources.idxmax() == "95598" and sources["95598"] > 0.5
    assert {"grid_member", "online"} <= set(sources.index)
    assert orders.geometry.notna().all()


def test_seasonal_peaks_show_in_the_fault_counts(faults):
    days = pd.date_range("2025-12-01", "2026-11-30", freq="D")
    per_day = faults.groupby("local_day").size().reindex(days, fill_value=0)
    in_any = np.zeros(len(days), dtype=bool)
    for start, end, _ in SEASONS.values():
        in_any |= (days >= start) & (days <= end)
    base_days = per_day[~in_any]
    base = base_days.mean()
    for name, (start, end, factor) in SEASONS.items():
        inside = per_day[(days >= start) & (days <= end)]
        ratio = inside.mean() / base
        # Poisson noise of the ratio of two means
        sd = ratio * np.sqrt(1 / inside.sum() + 1 / base_days.sum())
        assert ratio > 1 + (factor - 1) / 2, (name, ratio)
        assert abs(ratio - factor) < 4 * sd + 0.05, (name, ratio, factor, sd)
    # and by month: July and August well above the spring and early-autumn months
    month = faults["local_day"].dt.strftime("%Y-%m").value_counts()
    spring = month[["2026-03", "2026-05", "2026-06", "2026-09"]].mean()
    assert month["2026-07"] > 1.4 * spring and month["2026-08"] > 1.4 * spring
    assert month["2026-01"] > 1.25 * spring
    assert month["2026-11"] > 1.2 * spring and month["2026-04"] > 1.2 * spring


def test_more_faults_in_the_hills_and_far_from_the_stations(county, faults):
    customers = county["customers"]
    hill_codes = county["villages"].loc[county["villages"]["elevation_m"] > 500, "village_code"]
    hill = customers["village_code"].isin(hill_codes)
    village_of = customers.set_index("customer_id")["village_code"]
    f_hill = faults["customer_id"].map(village_of).isin(hill_codes)
    rate_hill = f_hill.sum() / hill.sum()
    rate_valley = (~f_hill).sum() / (customers["village_code"].notna() & ~hill).sum()
    # the hill factor alone is 1 + (650 - 150) / 500 = 2.0, and the hills' lines are older
    assert rate_hill / rate_valley > 2.0
    # plausible rates: a few faults per hundred customers and year
    assert 0.03 < rate_valley < 0.12
    assert 0.08 < rate_hill < 0.4


def test_dispatch_is_the_customers_station_and_arrivals_recover_the_grid_delay(county, faults):
    access = county["customer_access"].set_index("customer_id")
    assert (faults["station_id"] == faults["customer_id"].map(access["repair_station_id"])).all()
    assert np.allclose(faults["predicted_eta_s"], faults["customer_id"].map(access["repair_eta_s"]))
    dispatch_min = (faults["dispatched_at"] - faults["reported_at"]).dt.total_seconds() / 60
    assert dispatch_min.between(2, 8).all()  # a few minutes after the report
    extra_s = (faults["arrived_at"] - faults["dispatched_at"]).dt.total_seconds() - faults[
        "predicted_eta_s"
    ]
    med = extra_s.groupby(faults["grid_t2"]).median()
    assert set(med.index) == set(DELAYS_MIN)
    for grid, delay in DELAYS_MIN.items():
        expected_s = (TURNOUT_MIN + delay) * 60
        assert abs(med[grid] - expected_s) < 60, (grid, med[grid], expected_s)
    # crews are the station's: S-A has 2, S-B 3, S-C 1
    crews = faults["crew"].str.split("-").str[-1].astype(int)
    limit = faults["station_id"].map({"S-A": 2, "S-B": 3, "S-C": 1})
    assert (crews >= 1).all() and (crews <= limit).all()


def test_timelines_are_ordered_and_the_status_is_the_last_step(orders):
    t = np.column_stack(
        [orders[c].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
         .astype("float") for c in TIME_COLUMNS]
    )  # fmt: skip
    nat = np.column_stack([orders[c].isna().to_numpy() for c in TIME_COLUMNS])
    t[nat] = np.nan
    assert not nat[:, 0].any()  # every order has its report time
    earlier = np.fmax.accumulate(t, axis=1)
    for j in range(1, t.shape[1]):
        ok = nat[:, j] | np.isnan(earlier[:, j - 1]) | (t[:, j] >= earlier[:, j - 1])
        assert ok.all(), TIME_COLUMNS[j]
    last = [TIME_COLUMNS[max(np.flatnonzero(~row))] for row in nat]
    expected = [c.removesuffix("_at") for c in last]
    assert orders["status"].tolist() == expected
    out = orders["outage_start"].notna()
    assert (orders.loc[out, "outage_start"] < orders.loc[out, "outage_end"]).all()
    # faults: arrival, repair and closing present; callbacks for most orders
    f = orders[orders["kind"] == "fault"]
    assert f[["arrived_at", "repaired_at", "closed_at"]].notna().all().all()
    assert 0.9 < f["called_back_at"].notna().mean() < 0.99
    called = orders["called_back_at"].notna()
    assert orders.loc[called, "satisfaction"].isin(["satisfied", "basic", "dissatisfied"]).all()
    assert (orders.loc[~called, "satisfaction"] == "").all()


def test_every_customer_exists_with_its_grids_and_a_member_of_its_village_grid(county, orders):
    customers = county["customers"].set_index("customer_id")
    with_c = orders[orders["customer_id"] != ""]
    assert with_c["customer_id"].isin(customers.index).all()
    # those without village or reach report nothing
    assert not with_c["customer_id"].str.startswith("X").any()
    for col in ("grid_t1", "grid_t2", "grid_t3", "village", "address"):
        assert (with_c[col] == with_c["customer_id"].map(customers[col])).all(), col
    assert (with_c["location_source"] == "customer").all()
    members = county["grids"].set_index("grid_id")["members"].str.split("、")
    ok = [m in members[g] for m, g in zip(orders["member"], orders["grid_t3"], strict=True)]
    assert all(ok)
    # the member of a village is always the same person
    assert (orders.groupby("village")["member"].nunique() == 1).all()


def test_repeats_only_within_30_days_and_every_such_pair_linked(orders):
    d = orders[orders["customer_id"] != ""][["order_id", "customer_id", "kind", "reported_at",
                                              "repeat_of"]]  # fmt: skip
    expected = {}
    for _, g in d.groupby(["customer_id", "kind"]):
        g = g.sort_values("reported_at")
        times = g["reported_at"].tolist()
        ids = g["order_id"].tolist()
        for i in range(len(g)):
            prior = [
                k for k in range(len(g))
                if times[k] < times[i] and times[i] - times[k] <= pd.Timedelta(days=30)
            ]  # fmt: skip
            expected[ids[i]] = ids[max(prior, key=lambda k: times[k])] if prior else ""
    got = d.set_index("order_id")["repeat_of"]
    assert got.to_dict() == expected
    assert (got != "").sum() > 50  # planted repeats exist
    # a fault reported again (1-20 days later): an earlier fault of the customer within
    # 20 days was not settled the first time (another fault may lie between the two)
    f = orders[orders["kind"] == "fault"]
    rep = f[f["result"].str.startswith("同一故障")]
    assert len(rep) > 50
    for cid, when in zip(rep["customer_id"], rep["reported_at"], strict=True):
        before = f[(f["customer_id"] == cid) & (f["reported_at"] < when)]
        before = before[when - before["reported_at"] <= pd.Timedelta(days=20)]
        assert (~before["first_time"]).any(), cid
    assert (orders.loc[orders["customer_id"] == "", "repeat_of"] == "").all()


def test_outages_cut_the_whole_village(county, orders):
    counts = county["customers"]["village_code"].value_counts()  # all customers, lost included
    code_of = county["villages"].set_index("village")["village_code"]
    out = orders[orders["outage_start"].notna()]
    hv = (orders["kind"] == "fault") & (orders["fault_kind"] == "hv")
    assert (orders["outage_start"].notna() == (hv | orders["planned"])).all()
    assert orders["customers_affected"].notna().equals(orders["outage_start"].notna())
    expected = out["village"].map(code_of).map(counts)
    assert (out["customers_affected"] == expected).all()
    assert (expected.loc[out["village"] == "试验1村"] == PER_VILLAGE + 50).all()
    # HV faults: from before the report until the repair; planned: 2 a month, 4-8 h
    f = out[~out["planned"]]
    assert (f["outage_start"] < f["reported_at"]).all()
    assert (f["outage_end"] == f["repaired_at"]).all()
    planned = out[out["planned"]]
    assert len(planned) == 24
    hours = (planned["outage_end"] - planned["outage_start"]).dt.total_seconds() / 3600
    assert hours.between(4, 8).all()
    start_local = planned["outage_start"].dt.tz_convert(TZ)
    assert (start_local.dt.hour == 8).all() and (start_local.dt.day_of_week < 5).all()
    assert (planned["reported_at"] < planned["outage_start"]).all()
    assert (planned["customer_id"] == "").all() and (planned["location_source"] == "point").all()


def test_complaints_follow_slow_arrivals(faults, orders):
    on_site_min = (faults["arrived_at"] - faults["reported_at"]).dt.total_seconds() / 60
    # (times are whole seconds: one second of rounding either side of the thresholds)
    slow = set(faults.loc[on_site_min >= 45 - 1 / 60, "customer_id"])
    fast = set(faults.loc[on_site_min <= 20 + 1 / 60, "customer_id"])
    complaints = orders[orders["kind"] == "complaint"]
    assert complaints["result"].str.contains("到达慢").sum() > 20
    late = complaints[complaints["result"].str.contains("到达慢")]
    assert late["customer_id"].isin(slow).all()
    praise_after = orders[orders["kind"] == "praise"]["customer_id"].isin(fast).sum()
    assert praise_after > 0
    # the late are less satisfied
    sat = faults.loc[faults["satisfaction"] != "", "satisfaction"]
    bad = (sat == "dissatisfied").groupby(on_site_min.loc[sat.index] > 30).mean()
    assert bad[True] > 2 * bad[False]


def test_default_delay_table_is_0_5_10_minutes_in_grid_id_order(county):
    orders = _generate(county)
    f = orders[orders["kind"] == "fault"]
    extra_s = (f["arrived_at"] - f["dispatched_at"]).dt.total_seconds() - f["predicted_eta_s"]
    med = extra_s.groupby(f["grid_t2"]).median()
    for grid, delay in {"G2-A": 0, "G2-B": 5, "G2-C": 10}.items():
        assert abs(med[grid] - (TURNOUT_MIN + delay) * 60) < 60, grid


def test_missing_columns_and_no_reporting_customer_are_clear_errors(county):
    bad = county["customer_access"].drop(columns="repair_eta_s")
    with pytest.raises(MissingColumnError, match=r"customer_access.*repair_eta_s"):
        so.generate_work_orders(
            county["customers"], bad, county["grids"], county["repair_stations"],
            county["villages"],
        )  # fmt: skip
    none = county["customer_access"].assign(repair_eta_s=np.nan)
    with pytest.raises(InputError, match="gridgeo run"):
        so.generate_work_orders(
            county["customers"], none, county["grids"], county["repair_stations"],
            county["villages"],
        )  # fmt: skip


def test_stored_as_a_versioned_layer_with_its_reason(county, orders, tmp_path):
    path = tmp_path / "ws.gpkg"
    store = GeoPackageStore.create(
        path,
        county,
        author="t",
        reason="t",
        keys={
            "customers": "customer_id",
            "customer_access": "customer_id",
            "grids": "grid_id",
            "repair_stations": "station_id",
            "villages": "village_code",
        },
    )
    lines: list[str] = []
    version, n = so.add_sample_orders(store, author="tester", progress=lines.append)
    assert version == 1 and n > 0
    assert lines[0].startswith("示例工单 / sample work orders: 计算中 / computing")
    assert lines[-1].startswith("示例工单 / sample work orders: 完成 / done in")
    assert f"{n:,} orders" in lines[-1] and "GENERATED" in lines[-1]
    versions = store.list_versions("work_orders")
    assert versions["reason"].tolist() == ["generated sample records (生成的示例工单)"]
    assert versions["author"].tolist() == ["tester"]
    # read back independently of gridgeo: the default-seed orders, whole
    stored = gpd.read_file(path, layer="work_orders")
    fresh = _generate(county)
    assert len(stored) == n == len(fresh)
    assert sorted(stored["order_id"]) == sorted(fresh["order_id"])
    back = store.read("work_orders").set_index("order_id").loc[fresh["order_id"]]
    for col in ("reported_at", "arrived_at", "outage_start"):
        pd.testing.assert_series_equal(
            back[col].reset_index(drop=True), fresh[col].reset_index(drop=True),
            check_names=False, check_dtype=False,
        )  # fmt: skip
    # the same year again writes nothing
    assert so.add_sample_orders(store, author="tester")[0] == 1
    assert store.current_version("work_orders") == 1


def test_a_workspace_without_service_levels_is_told_what_to_run(county, tmp_path):
    layers = {k: v for k, v in county.items() if k != "customer_access"}
    keys = {"customers": "customer_id", "grids": "grid_id", "repair_stations": "station_id",
            "villages": "village_code"}  # fmt: skip
    store = GeoPackageStore.create(tmp_path / "ws.gpkg", layers, author="t", reason="t", keys=keys)
    with pytest.raises(NotFoundError, match=r"customer_access.*gridgeo run"):
        so.add_sample_orders(store)
    assert "work_orders" not in store.layers()


def test_the_reports_recover_what_the_generator_put_in(orders):
    """The product's own figures on the generated year: the per-grid delay and the peaks."""
    from gridgeo.performance import service_figures
    from gridgeo.watch import fault_peaks

    # the year 2026 (January to November of the generated year)
    figures = service_figures(orders, by="grid_t2", period="year", periods=["2026"])
    figures = figures.set_index("grid_t2")
    # actual travel = arrived - departed; the generator departs 20-45 % of the 5-minute turnout
    # after dispatch (median 97.5 s) and arrives turnout + ETA x f (median f = 1) + the grid's
    # delay + noise after dispatch: actual - predicted has median ~ 300 - 97.5 + delay
    for grid, delay in DELAYS_MIN.items():
        expected_s = TURNOUT_MIN * 60 - 97.5 + delay * 60
        got = figures.loc[grid, "eta_diff_median_s"]
        assert abs(got - expected_s) < 60, (grid, got, expected_s)
    # the county's monthly faults: summer flagged as a seasonal peak, the off-season months not
    peaks = fault_peaks(orders, grid_column="grid_t1", period="month").set_index("period")
    for month in ("2026-07", "2026-08"):
        assert peaks.loc[month, "peak"] and peaks.loc[month, "seasonal_peak"], month
    for month in ("2026-03", "2026-05", "2026-06", "2026-09"):
        assert not peaks.loc[month, "peak"], month


def test_a_county_too_small_for_complaints_still_gets_its_orders(county):
    """With a handful of customers no complaint may be drawn: the generator still makes the
    year's other orders (it failed on the empty list of complaints)."""
    small = dict(county)
    customers = county["customers"]
    small["customers"] = customers.iloc[:3].copy()
    small["customer_access"] = county["customer_access"].iloc[:3].copy()
    orders = _generate(small)
    ids = set(orders["customer_id"].astype(str)) - {""}  # outages name a village, not a customer
    assert ids <= set(customers["customer_id"].iloc[:3])
    assert len(orders) > 0
