"""Visit windows and front-loaded visit days (gridgeo.visits), on a hand-made road whose
travel times add up by eye, checked by brute force over every visiting order with the
NetworkX travel times."""

from __future__ import annotations

import datetime as dt
import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from handgraphs import hand_graph, pts
from oracle import Oracle
from test_visits import county_part  # noqa: F401  (the part of the sample county, a fixture)

from gridgeo.errors import InputError
from gridgeo.routing import ReachEngine
from gridgeo.visits import (
    VisitSettings,
    day_route_legs,
    member_bases,
    plan_visits,
    route_day,
    visit_windows,
)

TOL_S = 1e-6
# A straight road W(-1100) - A(0) - B(1000) - C(3500) - D(5000) (metres along x), two-way at
# 10 m/s: A-W 110 s, A-B 100 s, B-C 250 s, C-D 150 s. The base is at A.
NODES = {
    "W": (-1100.0, 0.0),
    "A": (0.0, 0.0),
    "B": (1000.0, 0.0),
    "C": (3500.0, 0.0),
    "D": (5000.0, 0.0),
}
EDGES = [
    ("W", "A", 110.0, True),
    ("A", "B", 100.0, True),
    ("B", "C", 250.0, True),
    ("C", "D", 150.0, True),
]


@pytest.fixture(scope="module")
def road() -> tuple[dict[str, dict[str, float]], ReachEngine]:
    G = hand_graph(NODES, EDGES)
    times = {u: nx.single_source_dijkstra_path_length(G, u, weight="travel_time") for u in NODES}
    return times, ReachEngine(G)


def _member() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"member": ["甲"], "grid_ids": [["G1"]], "base_id": ["RS1"], "base_name": ["站"]},
        geometry=pts(NODES["A"]).to_numpy(),
        crs="EPSG:4326",
    )


def _customers(nodes: list[str], **columns: list[object]) -> gpd.GeoDataFrame:
    data: dict[str, list[object]] = {
        "customer_id": [f"c{i + 1}" for i in range(len(nodes))],
        "grid_t3": ["G1"] * len(nodes),
        "village_code": ["V1"] * len(nodes),
    }
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=pts(*(NODES[n] for n in nodes)), crs="EPSG:4326")


def _schedule(
    T: dict[str, dict[str, float]],
    order: tuple[str, ...],
    service: dict[str, float],
    window: dict[str, tuple[float, float]],
) -> tuple[float, float, bool, list[float]]:
    """Travel, time back at A, whether every window holds, and the visits' starts (s after
    leaving A), waiting for a window to open: the brute force's own arithmetic."""
    now, here, travel, starts, ok = 0.0, "A", 0.0, [], True
    for stop in order:
        node = stop.split(":")[0]
        travel += T[here][node]
        early, late = window.get(stop, (0.0, float("inf")))
        now = max(now + T[here][node], early)
        ok &= now <= late + TOL_S
        starts.append(now)
        now += service[stop]
        here = node
    travel += T[here]["A"]
    return travel, now + T[here]["A"], ok, starts


# ------------------------------------------------------------------ windows


def test_windows_are_read_from_clock_texts():
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "visit_window": ["09:00-12:00", "9:00至11:30", "", "14:00-"],
        }
    )
    w = visit_windows(customers, VisitSettings(day_start="08:00"))
    # seconds after leaving the base at 08:00
    assert w["tw_early_s"].tolist()[:2] == [3600.0, 3600.0]
    assert w["tw_late_s"].tolist()[:2] == [4 * 3600.0, 3.5 * 3600.0]
    assert w.loc[2].isna().all()
    assert w.loc[3, "tw_early_s"] == 6 * 3600.0 and pd.isna(w.loc[3, "tw_late_s"])
    both = pd.DataFrame({"customer_id": ["a"], "open": ["10:30"], "close": ["11:00"]})
    w = visit_windows(both, VisitSettings(day_start="08:30"))
    assert w.iloc[0].tolist() == [7200.0, 9000.0]
    bad = pd.DataFrame({"customer_id": ["a", "b"], "visit_window": ["09:00-12:00", "上午"]})
    with pytest.raises(InputError, match=r"visit_window.*\(b\).*09:00-12:00"):
        visit_windows(bad)
    backwards = pd.DataFrame({"customer_id": ["x"], "visit_window": ["12:00-09:00"]})
    with pytest.raises(InputError, match="closes before it opens"):
        visit_windows(backwards)


def test_a_window_forces_an_order_other_than_the_shortest(road):
    T, engine = road
    # c1 at B may be visited from 08:25, c2 at C must be started by 08:06, c3 at W by 08:16
    nodes = ["B", "C", "W"]
    window_text = ["08:25-09:00", "08:00-08:06", "08:00-08:16"]
    customers = _customers(nodes, visit_window=window_text)
    settings = VisitSettings(mode="drive", day_start="08:00", visit_s=60.0)
    service = dict.fromkeys(nodes, 60.0)
    window = {"B": (1500.0, 3600.0), "C": (0.0, 360.0), "W": (0.0, 960.0)}
    orders = list(itertools.permutations(nodes))
    shortest = min(_schedule(T, o, service, {})[0] for o in orders)
    assert shortest == pytest.approx(920.0)  # 2 x (1100 + 3500) m at 10 m/s
    kept = [o for o in orders if _schedule(T, o, service, window)[2]]
    best = min(_schedule(T, o, service, window)[0] for o in kept)
    best_orders = [o for o in kept if _schedule(T, o, service, window)[0] == pytest.approx(best)]
    # C first (350 s), then W (870 s), then B, waiting there for 08:25: A-C-W-A-B-A
    assert best == pytest.approx(1120.0) and best_orders == [("C", "W", "B")]

    plan = plan_visits(
        customers,
        _member(),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=settings,
    )
    assert plan.unplanned.empty
    assert plan.stops["customer_id"].tolist() == ["c2", "c3", "c1"]
    day = plan.days.iloc[0]
    assert day["travel_s"] == pytest.approx(best, abs=TOL_S)
    _, back, _, starts = _schedule(T, best_orders[0], service, window)
    assert plan.stops["arrive_s"].tolist() == pytest.approx(starts, abs=TOL_S)
    assert plan.stops["eta"].tolist() == ["08:05", "08:14", "08:25"]
    assert day["total_s"] == pytest.approx(back, abs=TOL_S)  # the wait at B counts

    # the same on one day's route
    stops = customers.drop(columns=["customer_id", "grid_t3", "village_code"])
    route = route_day(engine, pts(NODES["A"]).iloc[0], stops, settings=settings)
    assert route.order.tolist() == [1, 2, 0]
    assert route.travel_s == pytest.approx(best, abs=TOL_S)


def test_windows_on_a_day_the_solver_orders(road):
    """Nine places (more than the exact search takes): PyVRP with the windows as the clients'
    time windows; the route keeps every window and is the shortest of all 9! orders."""
    _, engine = road
    nodes = ["B", "C", "D", "W", "B", "C", "D", "W", "B"]
    # C and D (2, 3) must be started by 08:20, the W at 4 from 10:00 on; the others open
    text = ["", "08:00-08:20", "08:00-08:20", "10:00-", "", "", "", "", ""]
    # each at its own place on the road, 5 m apart, shifted towards A
    x = np.array([NODES[n][0] - np.sign(NODES[n][0]) * 5.0 * k for k, n in enumerate(nodes)])
    stops = gpd.GeoDataFrame(
        {"visit_window": text}, geometry=pts(*((v, 0.0) for v in x)), crs="EPSG:4326"
    )
    settings = VisitSettings(mode="drive", day_start="08:00", visit_s=120.0)
    route = route_day(engine, pts(NODES["A"]).iloc[0], stops, settings=settings)
    # brute force: on this straight road at 10 m/s a leg takes |x1 - x2| / 10 s
    early = np.array([0.0, 0.0, 0.0, 7200.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    late = np.array([np.inf, 1200.0, 1200.0, np.inf, np.inf, np.inf, np.inf, np.inf, np.inf])
    perms = np.array(list(itertools.permutations(range(9))))
    xs = np.concatenate([np.zeros((len(perms), 1)), x[perms], np.zeros((len(perms), 1))], 1)
    legs = np.abs(np.diff(xs, axis=1)) / 10.0
    now = np.zeros(len(perms))
    ok = np.ones(len(perms), dtype=bool)
    for k in range(9):
        now = np.maximum(now + legs[:, k], early[perms[:, k]])
        ok &= now <= late[perms[:, k]] + TOL_S
        now += 120.0
    travel = legs.sum(axis=1)
    best = travel[ok].min()
    # out to the farthest D (4990 m) and back, then to the farthest W (-1085 m) and back
    assert best == pytest.approx(2 * 499.0 + 2 * 108.5)
    mine = int(np.flatnonzero((perms == route.order).all(axis=1))[0])
    assert ok[mine]
    assert route.travel_s == pytest.approx(best, abs=TOL_S)


def test_a_window_no_day_can_keep_is_listed(road):
    _, engine = road
    customers = _customers(["B", "C"], visit_window=["07:00-08:10", ""])
    plan = plan_visits(
        customers,
        _member(),
        engine,
        start="2027-01-01",
        end="2027-01-31",
        settings=VisitSettings(mode="drive", day_start="08:30"),
    )
    assert plan.stops["customer_id"].tolist() == ["c2"]
    assert plan.unplanned[["customer_id", "reason"]].values.tolist() == [
        ["c1", "window_outside_day"]
    ]


# ------------------------------------------------------------------ front-loaded days


def _best_day_s(T: dict[str, dict[str, float]], stops: list[tuple[str, float]]) -> float:
    """The least time of a day over every order of its stops: travel plus visits."""
    visits = sum(s for _, s in stops)
    nodes = sorted({n for n, _ in stops})
    return visits + min(
        sum(T[a][b] for a, b in itertools.pairwise(["A", *o, "A"]))
        for o in itertools.permutations(nodes)
    )


def test_overdue_and_priority_customers_take_the_earliest_days(road):
    T, engine = road
    # 6 重点关怀 customers at C (5 min each), 6 plain ones at B (1 min), 1 at W overdue
    nodes = ["C"] * 6 + ["B"] * 6 + ["W"]
    customers = _customers(
        nodes,
        vulnerable=[True] * 6 + [False] * 7,
        category=["residential"] * 6 + ["quick"] * 6 + ["residential"],
    )
    settings = VisitSettings(
        mode="drive",
        day_length_s=2000.0,
        visit_s=300.0,
        visit_s_by_category={"quick": 60.0},
    )
    last = pd.Series(pd.Timestamp("2026-12-20"), index=customers["customer_id"])
    last["c13"] = pd.Timestamp("2026-01-10")  # last visited a year ago: overdue
    plan = plan_visits(
        customers,
        _member(),
        engine,
        start="2027-01-01",
        end="2027-03-31",
        settings=settings,
        last_visits=last,
    )
    assert plan.unplanned.empty and (plan.days["total_s"] <= 2000.0 + TOL_S).all()
    s = plan.stops.set_index("customer_id")
    rank = {c: (not s.loc[c, "overdue"], -int(s.loc[c, "priority"])) for c in s.index}
    assert rank["c13"] < rank["c1"] < rank["c7"]  # overdue, then 重点关怀, then the others
    node_of = dict(zip(customers["customer_id"], nodes, strict=True))
    # every customer that comes before another (overdue, then by priority) has a day no
    # later than the other's, unless it does not fit the other's day in the other's place
    # (tried by brute force over the orders of that day's stops)
    inversions = 0
    for p, q in itertools.permutations(s.index, 2):
        if rank[p] < rank[q] and s.loc[p, "date"] > s.loc[q, "date"]:
            inversions += 1
            day = s[s["date"] == s.loc[q, "date"]]
            swapped = [(node_of[c], day.loc[c, "visit_s"]) for c in day.index if c != q]
            swapped.append((node_of[p], s.loc[p, "visit_s"]))
            assert _best_day_s(T, swapped) > settings.day_length_s, (p, q)
    # the case is made so that plain customers fill the first day's spare minutes
    assert inversions > 0
    first = s[s["date"] == dt.date(2027, 1, 6)]
    # c13 at W and two at C (A-W-A-C-A: 920 s) with 900 s of visits; 3 quick ones fill the
    # 180 s left (equal ones by customer id as text: c10, c11, c12 before c7)
    assert set(first.index) == {"c13", "c1", "c2", "c10", "c11", "c12"}


# ------------------------------------------------------------------ the route's legs


def test_route_legs_follow_the_roads_or_go_straight(road):
    _, engine = road
    # B and D on the road, then a point 5 km off it (beyond snapping): no road way there
    stops = pts(NODES["B"], NODES["D"], (2000.0, 5000.0))
    legs = day_route_legs(engine, pts(NODES["A"]).iloc[0], stops)
    assert legs[["from_seq", "to_seq"]].values.tolist() == [[0, 1], [1, 2], [2, 3], [3, 0]]
    assert legs["drawn"].tolist() == ["roads", "roads", "straight", "straight"]
    # A-B 100 s; B-D 250 + 150 s
    assert legs["travel_s"].tolist()[:2] == pytest.approx([100.0, 400.0], abs=TOL_S)
    metric = legs.to_crs("EPSG:4548")
    assert metric.length.tolist()[:2] == pytest.approx([1000.0, 4000.0], abs=0.01)
    # each leg runs from one stop to the next
    ends = [NODES["A"], NODES["B"], NODES["D"], (2000.0, 5000.0), NODES["A"]]
    for k, line in enumerate(metric.geometry):
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        assert (x0 - 500_000.0, y0 - 3_000_000.0) == pytest.approx(ends[k], abs=0.01)
        assert (x1 - 500_000.0, y1 - 3_000_000.0) == pytest.approx(ends[k + 1], abs=0.01)
    assert len(metric.geometry[2].coords) == 2  # straight: two points


# ------------------------------------------------------------------ windows on the sample roads


def test_windows_kept_on_the_sample_roads_against_networkx(county_part):  # noqa: F811
    """A round of a part of the sample county with every fourth customer to be visited
    09:00-11:00 and every fourth 13:30-16:00: each planned visit starts within its window,
    by the NetworkX travel times (tests/oracle.py) and the waits they imply."""
    G, engine = county_part["G"], county_part["engine"]
    customers = county_part["customers"].copy()
    k = np.arange(len(customers)) % 4
    customers["visit_window"] = np.where(k == 0, "09:00-11:00", np.where(k == 1, "13:30-16:00", ""))
    members = member_bases(county_part["grids"], county_part["stations"])
    settings = VisitSettings(visit_s=600.0)  # two-wheeler, 8 h from 08:30
    plan = plan_visits(
        customers, members, engine, start="2027-01-01", end="2027-06-30", settings=settings
    )
    seen = [*plan.stops["customer_id"], *plan.unplanned["customer_id"]]
    assert sorted(seen) == sorted(customers["customer_id"])
    assert len(plan.stops) >= 0.9 * len(customers)
    window = {
        "09:00-11:00": (1800.0, 9000.0),  # seconds after leaving the base at 08:30
        "13:30-16:00": (18000.0, 27000.0),
        "": (0.0, np.inf),
    }
    window_of = dict(zip(customers["customer_id"], customers["visit_window"], strict=True))
    oracle = Oracle.of_engine(G, engine)
    base_of = members.set_index("member").geometry
    waits = 0
    for member, part in plan.stops.groupby("member"):
        places = gpd.GeoSeries([base_of[member], *part.geometry], crs="EPSG:4326")
        uniq, inverse = np.unique(oracle.to_metric(places), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        T = oracle.times(uniq, uniq, reverse=False).per_source_s
        base, place = inverse[0], dict(zip(part.index, inverse[1:], strict=True))
        for date, day in part.groupby("date"):
            clock, here = 0.0, base
            for i, stop in day.sort_values("seq").iterrows():
                clock += T[here, place[i]]
                early, late = window[window_of[stop["customer_id"]]]
                waits += clock < early - 1.0
                clock = max(clock, early)
                assert clock <= late + TOL_S, (member, date, stop["customer_id"])
                assert stop["arrive_s"] == pytest.approx(clock, abs=1e-6)
                clock += stop["visit_s"]
                here = place[i]
            clock += T[here, base]
            row = plan.days[(plan.days["member"] == member) & (plan.days["date"] == date)]
            assert clock <= settings.day_length_s + TOL_S
            assert clock == pytest.approx(row["total_s"].iloc[0], abs=1e-6)
    assert waits > 0  # some visits wait for their window: the windows matter here


def test_equal_visits_go_strictly_by_priority(road):
    _, engine = road
    # all visits 5 min; 6 plain customers at B (on the way to C), 4 重点关怀 at C, c11 at W
    # overdue; days of 2000 s
    nodes = ["B"] * 6 + ["C"] * 4 + ["W"]
    customers = _customers(nodes, vulnerable=[False] * 6 + [True] * 4 + [False])
    settings = VisitSettings(mode="drive", day_length_s=2000.0, visit_s=300.0)
    last = pd.Series(pd.Timestamp("2026-12-20"), index=customers["customer_id"])
    last["c11"] = pd.Timestamp("2026-01-10")
    plan = plan_visits(
        customers,
        _member(),
        engine,
        start="2027-01-01",
        end="2027-03-31",
        settings=settings,
        last_visits=last,
    )
    day = plan.stops.set_index("customer_id")["date"]
    by_day = plan.stops.groupby("date")["customer_id"].agg(sorted).tolist()
    # A-W-A-C-A is 920 s: c11 and two at C (900 s of visits) fill the first day (equal ones by
    # customer id as text: c10 before c7); the other two at C (700 + 600 s) the second, with
    # room for two at B (on the way: no more travel, 300 s each); the other four at B the third
    assert by_day == [
        ["c10", "c11", "c7"],
        ["c1", "c2", "c8", "c9"],
        ["c3", "c4", "c5", "c6"],
    ]
    # every overdue customer's day <= every priority customer's day <= every other's
    assert day["c11"] <= day.drop("c11").min()
    assert day[["c7", "c8", "c9", "c10"]].max() <= day[["c1", "c2", "c3", "c4", "c5", "c6"]].min()
