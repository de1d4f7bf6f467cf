"""Visit plans and day routes (gridgeo.visits), checked against hand arithmetic, brute force
and NetworkX on the sample county's roads (tests/oracle.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from handgraphs import hand_graph, pts
from oracle import Oracle
from shapely.geometry import box

from gridgeo.errors import InputError
from gridgeo.network import graph_from_roads
from gridgeo.routing import ReachEngine
from gridgeo.visits import (
    UNPLANNED_REASONS,
    VisitSettings,
    member_bases,
    plan_visits,
    route_day,
    visit_priority,
)

SAMPLE_GPKG = Path(__file__).resolve().parents[1] / "sample_data" / "nanfeng" / "nanfeng.gpkg"
TOL_S = 1e-6

# A straight road W(-1100) - A(0) - B(1000) - C(3500) (metres along x), two-way at 10 m/s.
LINE_NODES = {"W": (-1100.0, 0.0), "A": (0.0, 0.0), "B": (1000.0, 0.0), "C": (3500.0, 0.0)}
LINE_EDGES = [("W", "A", 110.0, True), ("A", "B", 100.0, True), ("B", "C", 250.0, True)]


@pytest.fixture(scope="module")
def line() -> tuple[nx.MultiDiGraph, ReachEngine]:
    G = hand_graph(LINE_NODES, LINE_EDGES)
    return G, ReachEngine(G)


def _base(xy: tuple[float, float]) -> gpd.GeoDataFrame:
    """A members table of one member 甲 on grid G1 with its base at ``xy``."""
    return gpd.GeoDataFrame(
        {"member": ["甲"], "grid_ids": [["G1"]], "base_id": ["RS1"], "base_name": ["站"]},
        geometry=pts(xy).to_numpy(),
        crs="EPSG:4326",
    )


def _customers(xy: list[tuple[float, float]], **columns: list[object]) -> gpd.GeoDataFrame:
    ids = [f"c{i + 1}" for i in range(len(xy))]
    data = {"customer_id": ids, "grid_t3": ["G1"] * len(xy), "village_code": ["V1"] * len(xy)}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=pts(*xy).to_numpy(), crs="EPSG:4326")


# ------------------------------------------------------------------ one day's route


def test_route_day_beats_nearest_neighbour_and_is_optimal(line):
    G, engine = line
    stops = gpd.GeoDataFrame(
        {"visit_s": [60.0, 60.0, 60.0]},
        geometry=pts(LINE_NODES["B"], LINE_NODES["W"], LINE_NODES["C"]).to_numpy(),
        crs="EPSG:4326",
        index=["B", "W", "C"],
    )
    settings = VisitSettings(mode="drive", day_length_s=3600.0)
    route = route_day(engine, pts(LINE_NODES["A"]).iloc[0], stops, settings=settings)
    # NetworkX times between the nodes the stops sit on
    nodes = ["A", "B", "W", "C"]
    T = {u: nx.single_source_dijkstra_path_length(G, u, weight="travel_time") for u in nodes}
    # nearest neighbour from A: B (100), then W (210 < 250), then C (460), back (350) = 1120 s
    here, left, nn = "A", ["B", "W", "C"], 0.0
    while left:
        nxt = min(left, key=lambda n: T[here][n])
        nn += T[here][nxt]
        here = nxt
        left.remove(nxt)
    nn += T[here]["A"]
    assert nn == pytest.approx(1120.0)
    best = min(
        sum(T[a][b] for a, b in itertools.pairwise(["A", *p, "A"]))
        for p in itertools.permutations(["B", "W", "C"])
    )
    assert best == pytest.approx(920.0)  # 2 x (1100 + 3500) m at 10 m/s
    assert route.travel_s == pytest.approx(best, abs=TOL_S)
    assert route.travel_s <= nn
    # arrivals follow the order: each leg's time, plus 60 s at every stop before
    order = [stops.index[i] for i in route.order]
    t, here = 0.0, "A"
    for k, stop in enumerate(order):
        t += T[here][stop]
        assert route.arrive_s[k] == pytest.approx(t, abs=TOL_S)
        t += 60.0
        here = stop
    assert route.total_s == pytest.approx(920.0 + 180.0, abs=TOL_S)


def test_route_day_keeps_time_windows(line):
    _, engine = line
    # C must be reached within 400 s of leaving A (it is 350 s away): C first, then B and W
    stops = gpd.GeoDataFrame(
        {"visit_s": [60.0, 60.0, 60.0], "tw_late_s": [np.nan, np.nan, 400.0]},
        geometry=pts(LINE_NODES["B"], LINE_NODES["W"], LINE_NODES["C"]).to_numpy(),
        crs="EPSG:4326",
    )
    route = route_day(
        engine, pts(LINE_NODES["A"]).iloc[0], stops, settings=VisitSettings(mode="drive")
    )
    assert route.order[0] == 2
    assert route.arrive_s[0] == pytest.approx(350.0, abs=TOL_S)
    # C (350) +60, to B 250 -> 660, +60, to W 210 -> 930, +60, back to A 110 -> 1100
    assert route.total_s == pytest.approx(1100.0, abs=TOL_S)
    assert route.travel_s == pytest.approx(920.0, abs=TOL_S)


def test_route_day_refuses_a_day_too_short(line):
    _, engine = line
    stops = gpd.GeoDataFrame(
        {"visit_s": [600.0, 600.0]},
        geometry=pts(LINE_NODES["C"], LINE_NODES["W"]).to_numpy(),
        crs="EPSG:4326",
    )
    # round trip 920 s + 1200 s of visits > 1800 s
    with pytest.raises(InputError, match="do not fit a visit day"):
        route_day(
            engine,
            pts(LINE_NODES["A"]).iloc[0],
            stops,
            settings=VisitSettings(mode="drive", day_length_s=1800.0),
        )


# ------------------------------------------------------------------ plans on a hand case


def test_priorities_fill_the_first_visit_days(line):
    _, engine = line
    b = LINE_NODES["B"]
    customers = _customers(
        [b] * 6,
        vulnerable=[False, True, False, False, False, False],
        voltage_class=["LV", "LV", "HV", "LV", "LV", "LV"],
    )
    orders = pd.DataFrame(
        {
            "customer_id": ["c4", "c6", "c6", "c1"],
            "kind": ["complaint", "fault", "fault", "fault"],
            "reported_at": pd.to_datetime(
                ["2026-12-20 10:00", "2026-06-01 10:00", "2026-11-01 10:00", "2026-12-01 09:00"]
            ).tz_localize("Asia/Shanghai"),
        }
    )
    # B is 100 s from A: a day of 2300 s takes two visits of 1000 s (200 + 2000), not three
    settings = VisitSettings(
        mode="drive", day_length_s=2300.0, visit_s=1000.0, hv_visit_s=1000.0, season_min_faults=99
    )
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=settings,
        orders=orders,
    )
    by_day = plan.stops.groupby("date")["customer_id"].agg(sorted)
    # weights: vulnerable 4 (c2), complaint 3 (c4), HV 2 (c3) = repeated faults 2 (c6), then
    # c1 (one fault only) and c5; 2027-01-01 is a Friday: the Wednesdays are 6, 13, 20, 27
    assert by_day.to_dict() == {
        dt.date(2027, 1, 6): ["c2", "c4"],
        dt.date(2027, 1, 13): ["c3", "c6"],
        dt.date(2027, 1, 20): ["c1", "c5"],
    }
    assert (plan.days["total_s"] <= 2300.0).all()
    assert plan.days["total_s"].tolist() == pytest.approx([2200.0] * 3, abs=TOL_S)
    assert plan.unplanned.empty
    reasons = plan.stops.set_index("customer_id")["priority_reasons"]
    assert reasons["c2"] == "重点关怀" and reasons["c4"] == "近期投诉"
    assert reasons["c6"] == "重复故障" and reasons["c1"] == ""

    # overdue first: c5's last visit was 10 months ago, the others' 3 months ago
    last = pd.Series(
        pd.to_datetime(["2026-10-01"] * 4 + ["2026-03-01", "2026-10-01"]),
        index=[f"c{i}" for i in range(1, 7)],
    )
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=settings,
        orders=orders,
        last_visits=last,
    )
    first = plan.stops[plan.stops["date"] == dt.date(2027, 1, 6)]
    assert sorted(first["customer_id"]) == ["c2", "c5"]
    assert first.set_index("customer_id").loc["c5", "priority_reasons"] == "逾期未访"


def test_a_full_round_lists_what_cannot_be_planned(line):
    _, engine = line
    customers = _customers([LINE_NODES["B"]] * 10)
    # monthly rounds: January 2027 has 4 Wednesdays of two visits: 8 fit, 2 do not, 1 day more
    settings = VisitSettings(mode="drive", day_length_s=2300.0, visit_s=1000.0, visits_per_year=12)
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=settings,
    )
    assert len(plan.stops) == 8
    assert plan.stops.groupby("date").size().tolist() == [2, 2, 2, 2]
    # equal customers go by customer_id as text (c1, c10, c2, ..., c9): c8 and c9 are last
    assert sorted(plan.unplanned["customer_id"]) == ["c8", "c9"]
    assert set(plan.unplanned["reason"]) == {"no_visit_day_left"}
    assert plan.members.loc[0, "extra_days_needed"] == 1
    assert plan.members.loc[0, "unplanned"] == 2
    assert any("extra visit days needed: 1" in line for line in plan.lines())


def test_year_plan_visits_everyone_twice(line):
    _, engine = line
    nodes = ["B", "C", "W", "B", "A", "A"]
    customers = _customers([LINE_NODES[n] for n in nodes], category=["commercial"] + [""] * 5)
    customers.loc[5, "grid_t3"] = "G2"  # a grid without members
    customers.loc[6] = customers.loc[0]
    customers.loc[6, ["customer_id", "grid_t3"]] = ["c7", None]  # in no grid
    customers.loc[4, "geometry"] = None  # not located
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-12-31",
        settings=VisitSettings(mode="drive"),
    )
    counts = plan.stops.groupby("customer_id")["round"].agg(sorted)
    assert counts.to_dict() == {"c1": [1, 2], "c2": [1, 2], "c3": [1, 2], "c4": [1, 2]}
    half = pd.to_datetime(plan.stops["date"]) < pd.Timestamp("2027-07-01")
    assert ((plan.stops["round"] == 1) == half).all()
    lost = plan.unplanned.set_index(["customer_id", "round"])["reason"].to_dict()
    assert lost == {
        ("c5", 1): "not_located",
        ("c5", 2): "not_located",
        ("c6", 1): "no_member",
        ("c6", 2): "no_member",
        ("c7", 1): "no_grid",
        ("c7", 2): "no_grid",
    }
    assert set(plan.unplanned["reason_text"]) <= set(UNPLANNED_REASONS.values())
    # commercial customers take 15 minutes, the others 10
    visit = plan.stops.set_index(["customer_id", "round"])["visit_s"]
    assert visit[("c1", 1)] == 900.0 and visit[("c2", 1)] == 600.0
    # all on one day each round: A-W-A-B-C-A = 220 + 700 s travel
    assert plan.days["stops"].tolist() == [4, 4]
    assert plan.days["travel_s"].tolist() == pytest.approx([920.0, 920.0], abs=TOL_S)
    assert plan.days["date"].tolist() == [dt.date(2027, 1, 6), dt.date(2027, 7, 7)]
    first = plan.stops[plan.stops["round"] == 1]
    assert first["eta"].iloc[0] >= "08:30"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"day_length_s": 0}, "day_length_s"),
        ({"visit_s": -1}, "visit_s"),
        ({"weekday": 7}, "weekday"),
        ({"visits_per_year": 5}, "visits_per_year"),
        ({"mode": "walk"}, "mode"),
        ({"day_start": "8h30"}, "day_start"),
    ],
)
def test_settings_refuse_bad_values(kwargs, match):
    with pytest.raises(InputError, match=match):
        VisitSettings(**kwargs)


def test_plan_refuses_bad_period_and_mode(line):
    _, engine = line
    customers = _customers([LINE_NODES["B"]])
    with pytest.raises(InputError, match="before it starts"):
        plan_visits(
            customers,
            _base(LINE_NODES["A"]),
            engine,
            start="2027-02-01",
            end="2027-01-01",
            settings=VisitSettings(mode="drive"),
        )
    with pytest.raises(InputError, match="travel mode 'drive'"):
        plan_visits(
            customers,
            _base(LINE_NODES["A"]),
            engine,
            start="2027-01-01",
            end="2027-01-31",
            settings=VisitSettings(mode="two_wheeler"),
        )
    with pytest.raises(InputError, match="`start` is not a date"):
        plan_visits(
            customers,
            _base(LINE_NODES["A"]),
            engine,
            start="soon",
            end="2027-01-31",
            settings=VisitSettings(mode="drive"),
        )


def test_season_village_priority():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "village_code": ["V1", "V1", "V2"]})
    # two faults in V1 last July: the summer season starts within the round July-December
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "kind": ["fault", "fault", "fault"],
            "reported_at": pd.to_datetime(["2026-07-10", "2026-08-02", "2026-07-15"]).tz_localize(
                "Asia/Shanghai"
            ),
        }
    )
    pr = visit_priority(
        customers,
        orders=orders,
        on=dt.date(2027, 7, 1),
        until=dt.date(2027, 12, 31),
        settings=VisitSettings(repeat_fault_count=9),
    )
    assert pr["season"].tolist() == [True, True, False]
    assert pr["priority"].tolist() == [1, 1, 0]
    # the January-June round does not contain the start of summer (July) nor winter's (Dec)
    pr = visit_priority(
        customers,
        orders=orders,
        on=dt.date(2027, 1, 1),
        until=dt.date(2027, 3, 31),
        settings=VisitSettings(repeat_fault_count=9),
    )
    assert not pr["season"].any()


def test_member_bases_nearest_station_or_given():
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "G1", "G2"],
            "tier": [1, 3, 3],
            "members": ["x", "甲、乙", "丙,甲"],
        },
        geometry=[
            box(116.0, 27.0, 116.2, 27.1),
            box(116.0, 27.0, 116.1, 27.1),
            box(116.1, 27.0, 116.2, 27.1),
        ],
        crs="EPSG:4326",
    )
    stations = gpd.GeoDataFrame(
        {"station_id": ["S1", "S2"], "name": ["西所", "东所"]},
        geometry=[shapely.Point(116.04, 27.05), shapely.Point(116.16, 27.05)],
        crs="EPSG:4326",
    )
    m = member_bases(grids, stations).set_index("member")
    assert list(m.index) == ["丙", "乙", "甲"]  # tier-1 members are not visit members
    assert m.loc["甲", "grid_ids"] == ["G1", "G2"]
    assert m["base_id"].to_dict() == {"丙": "S2", "乙": "S1", "甲": "S1"}
    given = member_bases(grids, stations, bases=pd.DataFrame({"member": ["甲"], "base_id": ["S2"]}))
    assert given.set_index("member").loc["甲", "base_name"] == "东所"
    with pytest.raises(InputError, match="unknown station"):
        member_bases(grids, stations, bases=pd.DataFrame({"member": ["甲"], "base_id": ["S9"]}))
    with pytest.raises(InputError, match="unknown member"):
        member_bases(grids, stations, bases=pd.DataFrame({"member": ["丁"], "base_id": ["S1"]}))
    # bases from the grids layer (a roster's column): per member in order, or one for all
    grids["member_bases"] = ["", "S2、S1", "S1"]
    m = member_bases(grids, stations).set_index("member")["base_id"].to_dict()
    assert m == {"丙": "S1", "乙": "S1", "甲": "S2"}  # 甲: S2 on G1 (the first grid), S1 on G2
    grids["member_bases"] = ["", "S2", ""]
    m = member_bases(grids, stations).set_index("member")["base_id"].to_dict()
    assert m == {"丙": "S2", "乙": "S2", "甲": "S2"}  # 丙 nearest to G2: S2
    grids["member_bases"] = ["", "S2、S1、S1", ""]
    with pytest.raises(InputError, match="names 2 member"):
        member_bases(grids, stations)


# ------------------------------------------------------------------ the sample county's roads

CENTRE = (116.574, 27.275)  # 洽湾供电所 (RS05), north of the county seat
ROADS_HALF_DEG = 0.08  # the county part whose roads the test uses
AREA_HALF_DEG = 0.05  # where the test's grids and customers are


@pytest.fixture(scope="module")
def county_part() -> dict[str, object]:
    """Roads, stations and villages of a part of the sample county, two hand-made tier-3
    grids (west: members 甲、乙; east: 丙) and customers made around the villages."""
    x, y = CENTRE
    roads = gpd.read_file(SAMPLE_GPKG, layer="roads")
    roads = roads[
        roads.intersects(
            box(x - ROADS_HALF_DEG, y - ROADS_HALF_DEG, x + ROADS_HALF_DEG, y + ROADS_HALF_DEG)
        )
    ]
    G = graph_from_roads(roads.reset_index(drop=True), mode="two_wheeler")
    engine = ReachEngine(G)
    area = box(x - AREA_HALF_DEG, y - AREA_HALF_DEG, x + AREA_HALF_DEG, y + AREA_HALF_DEG)
    villages = gpd.read_file(SAMPLE_GPKG, layer="villages")
    villages = villages[villages.within(area)].sort_values("village_code")
    stations = gpd.read_file(SAMPLE_GPKG, layer="repair_stations")
    west = box(x - AREA_HALF_DEG, y - AREA_HALF_DEG, x, y + AREA_HALF_DEG)
    east = box(x, y - AREA_HALF_DEG, x + AREA_HALF_DEG, y + AREA_HALF_DEG)
    grids = gpd.GeoDataFrame(
        {"grid_id": ["W", "E"], "tier": [3, 3], "members": ["甲、乙", "丙"]},
        geometry=[west, east],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(14)
    rows = []
    for v in villages.itertuples():
        for k in range(8):
            # three at the village's point (addresses located to the village), five around it
            dx, dy = (0.0, 0.0) if k < 3 else tuple(rng.normal(0.0, 0.0025, 2))
            p = shapely.Point(v.geometry.x + dx, v.geometry.y + dy)
            grid = "W" if west.contains(p) else "E" if east.contains(p) else None
            if grid is None:
                continue
            rows.append(
                {
                    "customer_id": f"{v.village_code}{k:02d}",
                    "grid_t3": grid,
                    "village_code": v.village_code,
                    "village": v.village,
                    "vulnerable": bool(rng.random() < 0.1),
                    "voltage_class": "HV" if rng.random() < 0.05 else "LV",
                    "category": "residential",
                    "geometry": p,
                }
            )
    customers = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    assert len(customers) >= 60, "the county part should hold a few villages"
    return {"G": G, "engine": engine, "grids": grids, "stations": stations, "customers": customers}


def test_year_plan_on_sample_roads_against_networkx(county_part):
    G, engine = county_part["G"], county_part["engine"]
    grids, customers = county_part["grids"], county_part["customers"]
    members = member_bases(grids, county_part["stations"])
    settings = VisitSettings(day_length_s=3 * 3600.0, visit_s=240.0)  # two-wheeler
    plan = plan_visits(
        customers, members, engine, start="2027-01-01", end="2027-12-31", settings=settings
    )
    stops = plan.stops
    again = plan_visits(
        customers, members, engine, start="2027-01-01", end="2027-12-31", settings=settings
    )
    pd.testing.assert_frame_equal(again.stops, stops)  # a fixed solver budget and seed

    # every customer twice a year, once a round, or listed as not planned with a reason
    seen = pd.concat([stops[["customer_id", "round"]], plan.unplanned[["customer_id", "round"]]])
    assert not seen.duplicated().any()
    expected = pd.MultiIndex.from_product([customers["customer_id"], [1, 2]])
    assert set(map(tuple, seen.to_numpy())) == set(expected)
    assert len(stops) >= 0.9 * 2 * len(customers)
    assert set(plan.unplanned["reason"]) <= set(UNPLANNED_REASONS)

    # no stop outside the member's grids
    grid_geom = grids.set_index("grid_id").geometry
    grids_of = members.set_index("member")["grid_ids"]
    for member, part in stops.groupby("member"):
        mine = shapely.union_all(grid_geom[grids_of[member]].to_numpy())
        assert part.geometry.within(mine).all()
        assert part["grid_id"].isin(grids_of[member]).all()

    # each day's route time from NetworkX (single-source Dijkstra per place, tests/oracle.py)
    oracle = Oracle.of_engine(G, engine)
    base_of = members.set_index("member").geometry
    total_route = total_nn = 0.0
    for member, part in stops.groupby("member"):
        places = gpd.GeoSeries([base_of[member], *part.geometry], crs="EPSG:4326")
        xy = oracle.to_metric(places)
        uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        T = oracle.times(uniq, uniq, reverse=False).per_source_s
        base = inverse[0]
        place = dict(zip(part.index, inverse[1:], strict=True))
        for (date, _), day in part.groupby(["date", "round"]):
            day = day.sort_values("seq")
            path = [base, *(place[i] for i in day.index), base]
            travel = sum(T[a, b] for a, b in itertools.pairwise(path))
            row = plan.days[(plan.days["member"] == member) & (plan.days["date"] == date)]
            assert len(row) == 1
            assert travel == pytest.approx(row["travel_s"].iloc[0], abs=TOL_S)
            assert travel + day["visit_s"].sum() <= settings.day_length_s + TOL_S
            # arrivals: the legs so far plus the visits before
            clock, here = 0.0, base
            for i, stop in day.iterrows():
                clock += T[here, place[i]]
                assert stop["arrive_s"] == pytest.approx(clock, abs=TOL_S)
                clock += stop["visit_s"]
                here = place[i]
            # nearest neighbour over the day's places, from the base
            todo, here, nn = set(path[1:-1]), base, 0.0
            while todo:
                nxt = min(sorted(todo), key=lambda p: T[here, p])
                nn += T[here, nxt]
                here = nxt
                todo.discard(nxt)
            nn += T[here, base]
            total_route += travel
            total_nn += nn
    assert total_route <= total_nn + TOL_S


def test_visit_rows_follow_the_data_model(line):
    _, engine = line
    customers = _customers([LINE_NODES["B"], LINE_NODES["C"]])
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=VisitSettings(mode="drive"),
    )
    rows = plan.visit_rows()
    assert list(rows.columns[:7]) == [
        "visit_id",
        "customer_id",
        "member",
        "planned_on",
        "done_at",
        "kind",
        "outcome",
    ]
    assert sorted(rows["visit_id"]) == ["c1-20270106", "c2-20270106"]
    assert set(rows["kind"]) == {"home"} and rows["done_at"].isna().all()
    # both orders take 700 s of travel (a straight road); leave A at 08:30
    # B first: B at 100 s (08:31), C at 100 + 600 + 250 s (08:45)
    # C first: C at 350 s (08:35), B at 350 + 600 + 250 s (08:50)
    expected = {("c1", "c2"): ["08:31", "08:45"], ("c2", "c1"): ["08:35", "08:50"]}
    assert rows["eta"].tolist() == expected[tuple(rows["customer_id"])]


def test_a_quarter_is_the_first_part_of_its_round(line):
    _, engine = line
    customers = _customers([LINE_NODES["B"]] * 60)
    settings = VisitSettings(mode="drive", day_length_s=2300.0, visit_s=1000.0)
    plan = plan_visits(
        customers,
        _base(LINE_NODES["A"]),
        engine,
        start="2027-01-01",
        end="2027-03-31",
        settings=settings,
    )
    # two visits a visit day; January-June 2027 has 26 Wednesdays, 13 of them in the quarter
    assert len(plan.stops) == 26
    assert plan.stops["date"].max() == dt.date(2027, 3, 31)
    member = plan.members.iloc[0]
    assert member["later_in_round"] == 26  # April-June
    assert member["unplanned"] == 8 and member["extra_days_needed"] == 4
    assert len(plan.unplanned) == 8

    # from April on, with records: c1 was visited in February (done for the round), the
    # others never (overdue)
    last = pd.Series(pd.NaT, index=customers["customer_id"], dtype="datetime64[ns]")
    last["c1"] = pd.Timestamp("2027-02-10")
    plan = plan_visits(
        customers.iloc[:5],
        _base(LINE_NODES["A"]),
        engine,
        start="2027-04-01",
        end="2027-06-30",
        settings=settings,
        last_visits=last,
    )
    assert sorted(plan.stops["customer_id"]) == ["c2", "c3", "c4", "c5"]
    assert plan.stops["overdue"].all() and plan.unplanned.empty
    assert plan.stops["date"].min() == dt.date(2027, 4, 7)
