"""Snap once, reuse: gridgeo.routing's exact nearest-edge snapping, the engine's fingerprint,
and the reach functions on snaps made before.

The snapping is checked against the brute-force shapely oracle of tests/oracle.py (every edge
measured with ``shapely.distance``, no spatial index, the small-piece rule written there): the
off-road distance, the reason, the position on the road and the edge it is on, for random points
(some beyond the snapping distance), points near small isolated road pieces and points with no
position, on the sample county and a real OSM extract. Travel times are checked by hand on a
small graph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from handgraphs import WALK_MPS, frame, hand_graph, pts
from oracle import Oracle

from gridgeo.errors import InputError
from gridgeo.network import graph_from_osm, graph_from_roads
from gridgeo.reach import customer_access, payment_access, repair_reach
from gridgeo.routing import ReachEngine, Snap
from gridgeo.sample import load_sample

TESTS = Path(__file__).resolve().parent
POSITION_M = 1e-6  # snapped positions and distances agree to a micrometre

# A(0,0) - B(1000,0) two-way 100 s, B - C(1000,1000) one-way 80 s, and a piece D-E far north
NODES = {
    "A": (0.0, 0.0),
    "B": (1000.0, 0.0),
    "C": (1000.0, 1000.0),
    "D": (0.0, 5000.0),
    "E": (300.0, 5000.0),
}
EDGES = [("A", "B", 100.0, True), ("B", "C", 80.0, False), ("D", "E", 30.0, True)]


@pytest.fixture(scope="module")
def hand() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


@pytest.fixture(scope="module")
def graphs(roads_dir: Path) -> dict[str, nx.MultiDiGraph]:
    return {
        "nanfeng": graph_from_roads(load_sample().roads, mode="drive"),
        "andorra": graph_from_osm(roads_dir / "andorra_graphhopper.osm.pbf", mode="drive"),
    }


def _points(oracle: Oracle, seed: int, n: int) -> gpd.GeoSeries:
    """``n`` seeded points around the roads (5 % far beyond reach), 500 near the small pieces
    and three with no position (None, empty, None)."""
    near_small = oracle.random_points(
        500, seed + 1, far_share=0.0, near_m=800.0, edges=np.flatnonzero(~oracle.main_edge)
    )
    xy = np.vstack([oracle.random_points(n, seed), near_small])
    points = oracle.to_points(xy)
    return pd.concat(
        [points, gpd.GeoSeries([None, shapely.Point(), None], crs="EPSG:4326")],
        ignore_index=True,
    )


def _check_against_oracle(engine: ReachEngine, oracle: Oracle, points: gpd.GeoSeries) -> None:
    got = engine.snap(points)
    want = oracle.snap(oracle.to_metric(points))
    np.testing.assert_array_equal(got["reason"].to_numpy(), want.reason)
    snapped = want.snapped
    np.testing.assert_array_equal(got["snap_m"].notna().to_numpy(), snapped)
    np.testing.assert_allclose(
        got["snap_m"].to_numpy()[snapped], want.dist_m[snapped], rtol=0, atol=POSITION_M
    )
    # the position on the road: the oracle's, on the edge (one of the edges through it)
    first = np.unique(want.point, return_index=True)[1]
    rows, edges, t = want.point[first], want.edge[first], want.t[first]
    assert (rows == np.flatnonzero(snapped)).all()
    expected = shapely.get_coordinates(
        shapely.line_interpolate_point(oracle.lines[edges], t, normalized=True)
    )
    on_road = shapely.get_coordinates(got.geometry.iloc[rows].to_crs(oracle.crs).to_numpy())
    assert np.abs(on_road - expected).max() <= POSITION_M
    # and the edge gridgeo chose is one of those edges, at the same fraction of it
    ties: dict[tuple[int, object, object], list[tuple[float, float]]] = {}
    for p, e, te in zip(want.point, want.edge, want.t, strict=True):
        key = (int(p), oracle.nodes[oracle.eu[e]], oracle.nodes[oracle.ev[e]])
        ties.setdefault(key, []).append((te, oracle.length_m[e]))
    u, v, frac = (got[c].to_numpy()[rows] for c in ("u", "v", "fraction"))
    for r, ur, vr, fr in zip(rows, u, v, frac, strict=True):
        on = ties.get((int(r), ur, vr), [])
        assert any(abs(fr - te) * length <= POSITION_M for te, length in on), (r, ur, vr)


@pytest.mark.parametrize("name", ["nanfeng", "andorra"])
def test_snapping_is_the_brute_force_nearest_edge(graphs, name: str) -> None:
    G = graphs[name]
    engine = ReachEngine(G)
    oracle = Oracle.of_engine(G, engine)
    points = _points(oracle, seed=7, n=20_000)  # more than one chunk of the search
    _check_against_oracle(engine, oracle, points)
    reasons = set(engine.snap(points)["reason"])
    assert {"ok", "too_far_from_road", "not_geocoded"} <= reasons
    if name == "nanfeng":  # the generator's hill hamlets lie over 1,500 m from other roads
        assert "isolated_road_piece" in reasons


def test_the_nearest_road_is_found_behind_a_cluster_of_nearer_vertices() -> None:
    # P(6, 1) is 1 m from the middle of the 12 m road A-B, whose ends are 6.08 m away; a
    # little road F1-F4 of three 0.8 m edges 3 m away puts its 8 vertices (each edge has its
    # own two) nearer to P than A and B. Its vertices being the nearest must not make it the
    # nearest road.
    nodes = {"A": (0.0, 0.0), "B": (12.0, 0.0)}
    nodes |= {f"F{i}": (4.8 + 0.8 * i, 4.0) for i in range(4)}
    edges = [("A", "B", 12.0, True)] + [(f"F{i}", f"F{i + 1}", 1.0, True) for i in range(3)]
    engine = ReachEngine(hand_graph(nodes, edges), min_component_nodes=1)  # no small pieces
    got = engine.snap(pts((6.0, 1.0)))
    assert got["snap_m"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert {got["u"].iloc[0], got["v"].iloc[0]} == {"A", "B"}
    assert got["fraction"].iloc[0] == pytest.approx(0.5, abs=1e-9)


def test_snapping_without_enough_neighbours_falls_back_to_the_strtree(
    graphs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one nearest vertex never proves the nearest piece: every point goes to the STRtree
    # (the whole network, then the main network for points near a small piece)
    monkeypatch.setattr("gridgeo.routing.engine._KD_NEIGHBOURS", (1,))
    G = graphs["nanfeng"]
    engine = ReachEngine(G)
    oracle = Oracle.of_engine(G, engine)
    _check_against_oracle(engine, oracle, _points(oracle, seed=8, n=2000))


def test_chunks_threads_and_order_do_not_change_a_snap(
    graphs, monkeypatch: pytest.MonkeyPatch
) -> None:
    G = graphs["nanfeng"]
    engine = ReachEngine(G)
    points = _points(Oracle.of_engine(G, engine), seed=9, n=6000)
    whole = engine.snap_points(points)
    monkeypatch.setattr("gridgeo.routing.engine._KD_CHUNK", 257)  # 26 chunks on the threads
    chunked = engine.snap_points(points)
    shuffled = np.random.default_rng(1).permutation(len(points))
    again = engine.snap_points(points.iloc[shuffled])
    for name in ("seg", "t", "snap_m", "leg_s", "reason", "xy"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
        np.testing.assert_array_equal(getattr(again, name), getattr(whole, name)[shuffled])


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_follows_the_roads_and_the_snapping_settings() -> None:
    G = hand_graph(NODES, EDGES)
    fp = ReachEngine(G).fingerprint
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert ReachEngine(hand_graph(NODES, EDGES)).fingerprint == fp
    others = [
        ReachEngine(G, max_snap_m=400.0),
        ReachEngine(G, min_component_nodes=3),
        ReachEngine(G, walk_speed_kph=5.0),
        ReachEngine(hand_graph(NODES, [("A", "B", 101.0, True), *EDGES[1:]])),  # a time
        ReachEngine(hand_graph(NODES, [*EDGES[:2], ("D", "E", 30.0, False)])),  # a one-way
        ReachEngine(hand_graph({**NODES, "E": (300.0, 5001.0)}, EDGES)),  # a road moved
    ]
    prints = {e.fingerprint for e in others}
    assert fp not in prints and len(prints) == len(others)


def test_fingerprint_is_the_same_in_another_process(hand: ReachEngine) -> None:
    code = (
        "from handgraphs import hand_graph; from gridgeo.routing import ReachEngine; "
        f"print(ReachEngine(hand_graph({NODES!r}, {EDGES!r})).fingerprint)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == hand.fingerprint


def test_a_snap_carries_its_engines_fingerprint(hand: ReachEngine) -> None:
    snap = hand.snap_points(pts((500.0, 10.0), (1000.0, 600.0), None))
    assert snap.fingerprint == hand.fingerprint
    assert snap.take(np.array([2, 0])).fingerprint == hand.fingerprint
    back = Snap.from_frame(snap.to_frame())
    assert back.fingerprint == hand.fingerprint
    np.testing.assert_array_equal(back.seg, snap.seg)
    np.testing.assert_array_equal(back.t, snap.t)
    assert hand.check_snap(back, 3) is back


def test_check_snap_refuses_another_engines_or_other_points_snap(hand: ReachEngine) -> None:
    points = pts((500.0, 10.0), (1000.0, 600.0))
    snap = hand.snap_points(points)
    with pytest.raises(InputError, match=r"`customer_snap` has 2 rows for 3 points.*re-snap"):
        hand.check_snap(snap, 3, name="customer_snap")
    other = ReachEngine(hand_graph(NODES, EDGES), max_snap_m=400.0)
    with pytest.raises(InputError, match=r"made by another engine.*re-snap"):
        other.check_snap(snap, 2)
    bare = Snap.from_frame(pd.DataFrame(snap.to_frame()))  # a plain table: no fingerprint
    with pytest.raises(InputError, match=r"fingerprint None.*re-snap"):
        hand.check_snap(bare, 2)
    with pytest.raises(InputError, match=r"must be a Snap"):
        hand.check_snap(snap.to_frame(), 2)


# --------------------------------------------------------------------------- reach on snaps


def test_reach_on_a_snap_made_before_by_hand(hand: ReachEngine) -> None:
    customers = gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2", "c3"]},
        geometry=pts((500.0, 10.0), (1000.0, 600.0), None),
        crs="EPSG:4326",
    )
    stations = frame(["S1"], (0.0, 0.0), column="station_id")
    snap = hand.snap_points(customers)
    got = repair_reach(hand, customers, stations, customer_snap=snap)
    # c1: half of A-B (50 s) + 10 m walked; c2: A-B, then 60 % of the one-way B-C
    expected = [50.0 + 10.0 / WALK_MPS, 100.0 + 0.6 * 80.0]
    np.testing.assert_allclose(got["repair_eta_s"].to_numpy()[:2], expected, atol=1e-6)
    assert got["repair_reason"].tolist() == ["ok", "ok", "not_geocoded"]
    # payment: c2 cannot go back against the one-way B -> C
    points = stations.rename(columns={"station_id": "point_id"})
    pay = payment_access(hand, customers, points, customer_snap=snap)
    assert pay["payment_eta_s"].iloc[0] == pytest.approx(expected[0], abs=1e-6)
    assert pay["payment_reason"].tolist() == ["ok", "unreachable", "not_geocoded"]


@pytest.fixture(scope="module")
def sample_reach():
    county = load_sample()
    roads = county.roads
    repair = ReachEngine.from_roads(roads, mode="drive")
    payment = ReachEngine.from_roads(roads, mode="two_wheeler")
    customers = county.customers.sample(5000, random_state=2)
    return repair, payment, customers, county.repair_stations, county.payment_points


def test_reach_on_stored_snaps_equals_reach_that_snaps(sample_reach) -> None:
    repair, payment, customers, stations, points = sample_reach
    rep_snap = Snap.from_frame(repair.snap_points(customers).to_frame())  # stored, read back
    pay_snap = payment.snap_points(customers)
    pd.testing.assert_frame_equal(
        repair_reach(repair, customers, stations, customer_snap=rep_snap),
        repair_reach(repair, customers, stations),
    )
    pd.testing.assert_frame_equal(
        payment_access(payment, customers, points, customer_snap=pay_snap),
        payment_access(payment, customers, points),
    )
    pd.testing.assert_frame_equal(
        customer_access(
            repair,
            payment,
            customers,
            stations,
            points,
            repair_snap=rep_snap,
            payment_snap=pay_snap,
        ),
        customer_access(repair, payment, customers, stations, points),
    )


def test_reach_refuses_a_snap_of_another_engine_or_other_customers(sample_reach) -> None:
    repair, payment, customers, stations, points = sample_reach
    rep_snap = repair.snap_points(customers)
    with pytest.raises(InputError, match=r"`customer_snap` was made by another engine"):
        repair_reach(payment, customers, stations, customer_snap=rep_snap)
    with pytest.raises(InputError, match=r"`customer_snap` has 5000 rows for 4999 points"):
        repair_reach(repair, customers.iloc[1:], stations, customer_snap=rep_snap)
    with pytest.raises(InputError, match=r"`payment_snap` was made by another engine"):
        customer_access(
            repair,
            payment,
            customers,
            stations,
            points,
            repair_snap=rep_snap,
            payment_snap=rep_snap,
        )
    with pytest.raises(InputError, match=r"`customers` must be a GeoDataFrame"):
        repair_reach(repair, pd.DataFrame(index=customers.index), stations, customer_snap=rep_snap)
