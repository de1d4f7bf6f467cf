"""Tests of gridgeo.reach: snapping, repair reach, payment access and KPIs.

Expected travel times come from hand arithmetic on small graphs and, on real graphs, from the
independent oracle of tests/oracle.py: brute-force nearest edge (shapely distances to every
edge), the partial-edge arithmetic written there, and NetworkX's Dijkstra for the graph part
(tests/test_routing_oracle.py runs it on every kind of input).
"""

from __future__ import annotations

import itertools
import math
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from handgraphs import TOL_S, WALK_MPS, frame, hand_graph, ll, pts
from oracle import Oracle
from shapely.geometry import LineString, Point

from gridgeo.errors import (
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    GraphError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
)
from gridgeo.network import graph_from_osm, graph_from_roads, roads_from_graph
from gridgeo.reach import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_MIN_COMPONENT_NODES,
    DEFAULT_PAYMENT_LIMIT_S,
    DEFAULT_PAYMENT_MODE,
    DEFAULT_REPAIR_LIMIT_S,
    REACH_REASONS,
    ReachEngine,
    customer_access,
    engines_from_roads,
    payment_access,
    rank_grids,
    reach_kpis,
    repair_reach,
    summary_zh,
)
from gridgeo.routing import travel_times
from gridgeo.sample import load_sample

# A(0,0) - B(1000,0) - C(2000,0) two-way, 100 s each; C -> D(2000,1000) one-way 50 s;
# D -> E(1000,1000) one-way 60 s; E -> B one-way 70 s. Two small pieces: F-G 290 m north of
# D-E, H-I 1 km north of it.
NODES = {
    "A": (0.0, 0.0),
    "B": (1000.0, 0.0),
    "C": (2000.0, 0.0),
    "D": (2000.0, 1000.0),
    "E": (1000.0, 1000.0),
    "F": (1500.0, 1300.0),
    "G": (1700.0, 1300.0),
    "H": (1500.0, 2000.0),
    "I": (1700.0, 2000.0),
}
EDGES = [
    ("A", "B", 100.0, True),
    ("B", "C", 100.0, True),
    ("C", "D", 50.0, False),
    ("D", "E", 60.0, False),
    ("E", "B", 70.0, False),
    ("F", "G", 30.0, True),
    ("H", "I", 30.0, True),
]


@pytest.fixture(scope="module")
def hand() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


@pytest.fixture(scope="module")
def station_a() -> gpd.GeoDataFrame:
    return frame(["S1"], (0.0, 0.0), column="station_id")


# --------------------------------------------------------------------------- hand graphs


def test_hand_graph_repair_times(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    customers = pts(
        (1500.0, 0.0),  # halfway B-C, on the road
        (1500.0, 100.0),  # 100 m north of halfway B-C
        (1500.0, 1010.0),  # 10 m off D->E, halfway along the one-way
        (2100.0, -100.0),  # beyond C: nearest road point is node C
        (400.0, 0.0),  # on A-B, 400 m from the station
    )
    r = repair_reach(hand, customers, station_a, limit_s=280.0)
    expected = [
        100 + 0.5 * 100,
        100 + 0.5 * 100 + 100 / WALK_MPS,
        100 + 100 + 50 + 0.5 * 60 + 10 / WALK_MPS,
        100 + 100 + math.hypot(100, 100) / WALK_MPS,
        0.4 * 100,
    ]
    np.testing.assert_allclose(r["repair_eta_s"], expected, rtol=0, atol=TOL_S)
    assert r["repair_station_id"].tolist() == ["S1"] * 5
    assert r["repair_ok"].tolist() == [True, True, False, False, True]
    assert r["repair_reason"].tolist() == ["ok", "ok", "over_limit", "over_limit", "ok"]
    np.testing.assert_allclose(r["repair_snap_m"], [0, 100, 10, math.hypot(100, 100), 0], atol=1e-6)
    assert r.index.equals(customers.index)


def test_one_way_makes_station_to_customer_longer(
    hand: ReachEngine, station_a: gpd.GeoDataFrame
) -> None:
    customer = pts((1500.0, 1010.0))
    to_customer = repair_reach(hand, customer, station_a)["repair_eta_s"].iloc[0]
    points = station_a.rename(columns={"station_id": "point_id"})
    to_point = payment_access(hand, customer, points)["payment_eta_s"].iloc[0]
    leg = 10 / WALK_MPS
    # station -> customer: A-B-C-D then half of D->E; customer -> station: half of D->E, E-B-A
    assert to_customer == pytest.approx(100 + 100 + 50 + 30 + leg, abs=TOL_S)
    assert to_point == pytest.approx(30 + 70 + 100 + leg, abs=TOL_S)
    assert to_customer > to_point


def test_source_and_target_on_the_same_one_way_edge(hand: ReachEngine) -> None:
    station = frame(["S"], (1500.0, 1000.0), column="station_id")  # halfway D->E
    customers = pts((1200.0, 1000.0), (1800.0, 1000.0))
    r = repair_reach(hand, customers, station)
    downstream = 0.3 * 60
    # upstream: on to E (30), E->B, B->C, C->D, then 0.2 of D->E
    upstream = 30 + 70 + 100 + 50 + 0.2 * 60
    np.testing.assert_allclose(r["repair_eta_s"], [downstream, upstream], atol=TOL_S)
    # customer -> point on the same edge: the reverse holds
    points = station.rename(columns={"station_id": "point_id"})
    p = payment_access(hand, customers, points, limit_s=600.0)
    np.testing.assert_allclose(p["payment_eta_s"], [upstream, downstream], atol=TOL_S)
    # a customer exactly where the station is: 0 s both ways, not round the loop
    here = pts((1500.0, 1000.0))
    assert repair_reach(hand, here, station)["repair_eta_s"].iloc[0] == pytest.approx(0, abs=TOL_S)
    assert payment_access(hand, here, points)["payment_eta_s"].iloc[0] == pytest.approx(
        0, abs=TOL_S
    )


def test_station_off_road_leg_and_nearest_station(hand: ReachEngine) -> None:
    stations = frame(
        ["far", "near"], (0.0, 20.0), (2000.0, 1000.0), column="station_id"
    )  # 'far' is 20 m off A
    customers = pts((1000.0, 0.0), (1500.0, 1000.0))
    r = repair_reach(hand, customers, stations)
    # B from 'far': 20 m walk (16 s) + A->B = 116; from 'near' (node D): D->E->B = 130
    assert r["repair_eta_s"].iloc[0] == pytest.approx(20 / WALK_MPS + 100, abs=TOL_S)
    assert r["repair_station_id"].iloc[0] == "far"
    assert r["repair_eta_s"].iloc[1] == pytest.approx(0.5 * 60, abs=TOL_S)
    assert r["repair_station_id"].iloc[1] == "near"


def test_isolated_piece_joins_main_network_when_near(
    hand: ReachEngine, station_a: gpd.GeoDataFrame
) -> None:
    customers = pts((1600.0, 1290.0), (1600.0, 2010.0), (9000.0, 9000.0), None)
    r = repair_reach(hand, customers, station_a)
    # near F-G (10 m) but D->E is 290 m away: joins D->E at 0.4 from D
    assert r["repair_eta_s"].iloc[0] == pytest.approx(250 + 0.4 * 60 + 290 / WALK_MPS, abs=TOL_S)
    assert r["repair_snap_m"].iloc[0] == pytest.approx(290.0, abs=1e-6)
    # H-I is 1,010 m from the main network: stays isolated
    assert r["repair_reason"].tolist()[1:] == [
        "isolated_road_piece",
        "too_far_from_road",
        "not_geocoded",
    ]
    assert r["repair_eta_s"].iloc[1:].isna().all()
    assert r["repair_station_id"].iloc[1:].isna().all()
    assert not r["repair_ok"].iloc[1:].any()
    snap = hand.snap(customers)
    assert snap["reason"].tolist() == [
        "ok",
        "isolated_road_piece",
        "too_far_from_road",
        "not_geocoded",
    ]
    assert (snap["u"].iloc[0], snap["v"].iloc[0]) == ("D", "E")
    assert snap["fraction"].iloc[0] == pytest.approx(0.4, abs=1e-9)
    assert (snap["u"].iloc[1], snap["v"].iloc[1]) in {("H", "I"), ("I", "H")}
    assert bool(snap["two_way"].iloc[1])
    on_road = snap.geometry.iloc[0]
    assert (on_road.x, on_road.y) == pytest.approx(ll(1600.0, 1000.0), abs=1e-9)


def test_isolated_piece_with_its_own_station(hand: ReachEngine) -> None:
    stations = frame(["main", "island"], (0.0, 0.0), (1500.0, 2000.0), column="station_id")
    with pytest.warns(UserWarning, match="isolated road piece"):
        r = repair_reach(hand, pts((1600.0, 2010.0), (1500.0, 0.0)), stations)
    assert r["repair_eta_s"].iloc[0] == pytest.approx(0.5 * 30 + 10 / WALK_MPS, abs=TOL_S)
    assert r["repair_station_id"].tolist() == ["island", "main"]
    assert r["repair_reason"].tolist() == ["ok", "ok"]


def test_small_max_snap_and_component_threshold() -> None:
    G = hand_graph(NODES, EDGES)
    # with min_component_nodes=2 the pieces count as main network: no joining across
    engine = ReachEngine(G, min_component_nodes=2, max_snap_m=50.0)
    snap = engine.snap(pts((1600.0, 1290.0), (1500.0, 100.0)))
    assert (snap["u"].iloc[0], snap["v"].iloc[0]) in {("F", "G"), ("G", "F")}
    assert snap["reason"].tolist() == ["ok", "too_far_from_road"]
    r = repair_reach(engine, pts((1600.0, 1290.0)), frame(["S"], (0.0, 0.0), column="station_id"))
    assert r["repair_reason"].tolist() == ["unreachable"]


def test_unreachable_behind_one_way() -> None:
    # X -> Y one-way only: a station at Y cannot reach X's customers
    G = hand_graph({"X": (0.0, 0.0), "Y": (1000.0, 0.0)}, [("X", "Y", 100.0, False)])
    engine = ReachEngine(G)
    r = repair_reach(
        engine, pts((0.0, 0.0), (250.0, 0.0)), frame(["S"], (1000.0, 0.0), column="station_id")
    )
    assert r["repair_reason"].tolist() == ["unreachable", "unreachable"]
    points = frame(["P"], (1000.0, 0.0), column="point_id")
    p = payment_access(engine, pts((0.0, 0.0), (250.0, 0.0)), points)
    np.testing.assert_allclose(p["payment_eta_s"], [100.0, 75.0], atol=TOL_S)


def test_parallel_edges_use_their_own_time_and_the_least_time_between_nodes() -> None:
    G = hand_graph({"X": (0.0, 0.0), "Y": (1000.0, 0.0), "Z": (2000.0, 0.0)}, [])
    straight = LineString([ll(0, 0), ll(1000, 0)])
    detour = LineString([ll(0, 0), ll(500, 400), ll(1000, 0)])
    G.add_edge("X", "Y", travel_time=100.0, geometry=straight)
    G.add_edge("X", "Y", travel_time=300.0, geometry=detour)
    G.add_edge("Y", "Z", travel_time=50.0, geometry=LineString([ll(1000, 0), ll(2000, 0)]))
    engine = ReachEngine(G)
    customers = pts((500.0, 400.0), (1500.0, 0.0))
    r = repair_reach(engine, customers, frame(["S"], (0.0, 0.0), column="station_id"))
    # the detour's apex is halfway along it; Z's edge is reached by the faster straight edge
    np.testing.assert_allclose(r["repair_eta_s"], [150.0, 125.0], atol=TOL_S)
    assert engine.n_edges == 3


def test_customer_access_table(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    customers = gpd.GeoDataFrame(
        {"customer_id": ["c1", "c2", "c3"]},
        geometry=pts((1500.0, 0.0), (1500.0, 1010.0), None).to_numpy(),
        index=[10, 20, 30],
        crs="EPSG:4326",
    )
    points = frame(["P"], (1000.0, 1000.0), column="point_id")  # node E
    out = customer_access(hand, hand, customers, station_a, points, payment_limit_s=100.0)
    assert out.columns.tolist() == [
        "customer_id",
        "repair_eta_s",
        "repair_station_id",
        "repair_ok",
        "repair_reason",
        "payment_eta_s",
        "payment_point_id",
        "payment_ok",
        "payment_reason",
        "reason",
    ]
    assert out.index.tolist() == [10, 20, 30]
    # c1 -> E: halfway B->C, C->D, D->E = 50 + 50 + 60; c2: half of D->E + leg
    np.testing.assert_allclose(
        out["payment_eta_s"].iloc[:2], [160.0, 30 + 10 / WALK_MPS], atol=TOL_S
    )
    assert out["reason"].tolist() == ["over_limit", "ok", "not_geocoded"]
    assert out["payment_point_id"].tolist()[:2] == ["P", "P"]


def test_engine_reuse_and_repr(hand: ReachEngine) -> None:
    assert hand.n_nodes == 9
    assert hand.n_edges == 11
    assert "EPSG:4548" in repr(hand)
    assert hand.mode == "drive"
    s = frame(["S"], (0.0, 0.0), column="station_id")
    a = repair_reach(hand, pts((1500.0, 0.0)), s)
    b = repair_reach(hand, pts((1500.0, 0.0)), s)
    pd.testing.assert_frame_equal(a, b)


def test_reasons_and_defaults() -> None:
    assert REACH_REASONS == (
        "ok",
        "over_limit",
        "too_far_from_road",
        "isolated_road_piece",
        "unreachable",
        "not_geocoded",
    )
    assert DEFAULT_REPAIR_LIMIT_S == 1800.0
    assert DEFAULT_PAYMENT_LIMIT_S == 600.0
    assert 300.0 <= DEFAULT_MAX_SNAP_M <= 1000.0
    assert DEFAULT_PAYMENT_MODE == "two_wheeler"
    assert DEFAULT_MIN_COMPONENT_NODES > 4  # the sample's hill hamlets (4 nodes) are small


# --------------------------------------------------------------------------- errors


def test_engine_errors() -> None:
    G = hand_graph(NODES, EDGES)
    with pytest.raises(GraphError, match="directed road graph"):
        ReachEngine(nx.MultiGraph(G))
    with pytest.raises(GraphError, match="no edges"):
        ReachEngine(nx.MultiDiGraph(crs="EPSG:4326"))
    H = G.copy()
    del H.graph["crs"]
    with pytest.raises(CRSError, match="crs"):
        ReachEngine(H)
    H = G.copy()
    H.graph["crs"] = "EPSG:4548"
    with pytest.raises(CRSError, match="EPSG:4326"):
        ReachEngine(H)
    H = G.copy()
    H.edges["A", "B", 0]["travel_time"] = -1.0
    with pytest.raises(GraphError, match="non-negative travel cost"):
        ReachEngine(H)
    H = G.copy()
    H.edges["A", "B", 0]["travel_time"] = "fast"
    with pytest.raises(GraphError, match="must be numeric"):
        ReachEngine(H)
    H = G.copy()
    del H.nodes["A"]["x"]
    with pytest.raises(GraphError, match="`x` \\(lon\\)"):
        ReachEngine(H)
    with pytest.raises(InputError, match="`max_snap_m` must be a positive"):
        ReachEngine(G, max_snap_m=0)
    with pytest.raises(InputError, match="`min_component_nodes` must be an int"):
        ReachEngine(G, min_component_nodes=2.5)  # type: ignore[arg-type]


def test_edges_without_geometry_are_straight() -> None:
    G = hand_graph(NODES, EDGES)
    for *_, d in G.edges(data=True):
        del d["geometry"]
    engine = ReachEngine(G)
    r = repair_reach(engine, pts((1500.0, 100.0)), frame(["S"], (0.0, 0.0), column="station_id"))
    assert r["repair_eta_s"].iloc[0] == pytest.approx(150 + 100 / WALK_MPS, abs=TOL_S)


def test_input_errors(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    c = pts((1500.0, 0.0))
    with pytest.raises(InputError, match="GeoDataFrame or GeoSeries"):
        repair_reach(hand, [Point(0, 0)], station_a)  # type: ignore[arg-type]
    with pytest.raises(CRSError, match="`customers` has no CRS"):
        repair_reach(hand, gpd.GeoSeries([Point(ll(0, 0))]), station_a)
    with pytest.raises(InvalidGeometryError, match="must hold Points"):
        repair_reach(hand, gpd.GeoSeries([LineString([ll(0, 0), ll(1, 1)])], crs=4326), station_a)
    with pytest.raises(MissingColumnError, match="no column 'station_id'"):
        repair_reach(hand, c, station_a.rename(columns={"station_id": "id"}))
    with pytest.raises(DuplicateIdError, match="repeats the id 'S'"):
        repair_reach(hand, c, frame(["S", "S"], (0, 0), (10, 0), column="station_id"))
    with pytest.raises(InputError, match="missing ids"):
        repair_reach(hand, c, frame([None], (0, 0), column="station_id"))  # type: ignore[list-item]
    with pytest.raises(EmptyDataError, match="`stations` has no rows"):
        repair_reach(hand, c, station_a.iloc[:0])
    with pytest.raises(InputError, match="`limit_s` must be a positive"):
        repair_reach(hand, c, station_a, limit_s=-5)
    with pytest.raises(InputError, match="`engine` must be a ReachEngine"):
        repair_reach(None, c, station_a)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no row of `points` lies within"):
        payment_access(hand, c, frame(["P"], (9000, 9000), column="point_id"))
    with pytest.warns(UserWarning, match="1 row\\(s\\) of `stations` are not usable"):
        r = repair_reach(hand, c, frame(["S", "X"], (0, 0), (9000, 9000), column="station_id"))
    assert r["repair_station_id"].tolist() == ["S"]


def test_customers_in_another_crs(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    c = pts((1500.0, 100.0)).to_crs(3857)
    r = repair_reach(hand, c, station_a.to_crs(4548))
    assert r["repair_eta_s"].iloc[0] == pytest.approx(150 + 100 / WALK_MPS, abs=1e-5)


# --------------------------------------------------------------------------- independent check


def _check_against_networkx(
    G: nx.MultiDiGraph,
    *,
    n: int,
    seed: int,
    reverse: bool,
    engine: ReachEngine | None = None,
) -> None:
    """The engine's answers (by default ``ReachEngine(G)``) against the oracle on ``G``."""
    engine = ReachEngine(G) if engine is None else engine
    o = Oracle.of_engine(G, engine)
    tgt_xy = o.random_points(n, seed)
    src_xy = o.random_points(5, seed + 100, far_share=0.0)
    targets = o.to_points(tgt_xy)
    sources = gpd.GeoDataFrame(
        {"station_id": [f"S{i}" for i in range(5)]}, geometry=o.to_points(src_xy), crs="EPSG:4326"
    )
    expected = o.times(src_xy, tgt_xy, reverse=reverse)
    eta, best = expected.eta_s, expected.best
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if reverse:
            got = payment_access(
                engine, targets, sources.rename(columns={"station_id": "point_id"})
            )
            got_eta, got_id = got["payment_eta_s"].to_numpy(), got["payment_point_id"]
        else:
            got = repair_reach(engine, targets, sources)
            got_eta, got_id = got["repair_eta_s"].to_numpy(), got["repair_station_id"]
    assert np.isfinite(eta).sum() >= 0.8 * n
    np.testing.assert_array_equal(np.isnan(got_eta), np.isnan(eta))
    fin = np.isfinite(eta)
    np.testing.assert_allclose(got_eta[fin], eta[fin], rtol=0, atol=TOL_S)
    known = best >= 0
    assert (got_id.to_numpy()[known] == np.array([f"S{i}" for i in best[known]])).all()


def test_andorra_matches_networkx(roads_dir) -> None:
    G = graph_from_osm(roads_dir / "andorra_graphhopper.osm.pbf")
    _check_against_networkx(G, n=1000, seed=1, reverse=False)
    _check_against_networkx(G, n=1000, seed=2, reverse=True)


def test_heidelberg_matches_networkx(roads_dir) -> None:
    G = graph_from_osm(roads_dir / "heidelberg_ors_test.osm.pbf")
    _check_against_networkx(G, n=1000, seed=3, reverse=False)


@pytest.fixture(scope="module")
def county():
    return load_sample()


@pytest.fixture(scope="module")
def county_graph(county) -> nx.MultiDiGraph:
    return graph_from_roads(county.roads, mode="drive")


def test_sample_county_matches_networkx(county, county_graph) -> None:
    _check_against_networkx(county_graph, n=1000, seed=4, reverse=False)


def test_sample_county_customers_with_real_stations(county, county_graph) -> None:
    engine = ReachEngine(county_graph)
    customers = county.customers.sample(1000, random_state=5)
    stations = county.repair_stations
    crs = engine.crs
    cxy = shapely.get_coordinates(customers.to_crs(crs).geometry.to_numpy())
    sxy = shapely.get_coordinates(stations.to_crs(crs).geometry.to_numpy())
    expected = Oracle.of_engine(county_graph, engine).times(sxy, cxy, reverse=False)
    eta, best = expected.eta_s, expected.best
    got = repair_reach(engine, customers, stations)
    fin = np.isfinite(eta)
    np.testing.assert_array_equal(got["repair_eta_s"].isna().to_numpy(), ~fin)
    np.testing.assert_allclose(got["repair_eta_s"].to_numpy()[fin], eta[fin], atol=TOL_S)
    known = best >= 0
    ids = stations["station_id"].to_numpy()
    assert (got["repair_station_id"].to_numpy()[known] == ids[best[known]]).all()


def test_sample_isolated_pieces(county, county_graph) -> None:
    engine = ReachEngine(county_graph)
    pieces = county.meta["isolated_road_pieces"]
    # the centre of each piece; the generator puts hill hamlets over 1,500 m from other roads
    at = gpd.GeoSeries([Point(p["lon"], p["lat"]) for p in pieces], crs="EPSG:4326")
    r = repair_reach(engine, at, county.repair_stations)
    kinds = [p["kind"] for p in pieces]
    for kind, reason in zip(kinds, r["repair_reason"], strict=True):
        if kind == "hill_hamlet":
            assert reason == "isolated_road_piece"
    # every piece centre (the river island's too) joins the main network only if within reach
    snap = engine.snap(at)
    main_dist = _main_network_distance(county_graph, engine.crs, at)
    for kind, d, reason, rep in zip(
        kinds, main_dist, snap["reason"], r["repair_reason"], strict=True
    ):
        assert reason == ("ok" if d <= DEFAULT_MAX_SNAP_M else "isolated_road_piece"), kind
        if reason == "isolated_road_piece":
            assert rep == "isolated_road_piece"


def _main_network_distance(G: nx.MultiDiGraph, crs: pyproj.CRS, at: gpd.GeoSeries) -> np.ndarray:
    main = max(nx.weakly_connected_components(G), key=len)
    lines = [d["geometry"] for u, _, d in G.edges(data=True) if u in main]
    lines_m = gpd.GeoSeries(lines, crs="EPSG:4326").to_crs(crs).to_numpy()
    p = at.to_crs(crs).to_numpy()
    return np.array([shapely.distance(q, lines_m).min() for q in p])


def test_from_roads_matches_networkx(county, county_graph, roads_dir) -> None:
    # the engine built straight from the roads layer, against NetworkX on the graph of the
    # same layer (graph_from_roads): the sample county and a real OSM extract's roads
    engine = ReachEngine.from_roads(county.roads)
    _check_against_networkx(county_graph, n=1000, seed=6, reverse=False, engine=engine)
    roads = roads_from_graph(graph_from_osm(roads_dir / "andorra_graphhopper.osm.pbf"))
    G = graph_from_roads(roads)
    engine = ReachEngine.from_roads(roads)
    _check_against_networkx(G, n=1000, seed=7, reverse=False, engine=engine)
    _check_against_networkx(G, n=1000, seed=8, reverse=True, engine=engine)


def _same_engine(a: ReachEngine, b: ReachEngine) -> None:
    assert a._nodes == b._nodes
    assert (a.n_nodes, a.n_edges, len(a._seg_a)) == (b.n_nodes, b.n_edges, len(b._seg_a))
    assert a.crs == b.crs and a.mode == b.mode
    assert a._csr.shape == b._csr.shape and (a._csr != b._csr).nnz == 0
    np.testing.assert_array_equal(a._node_main, b._node_main)

    def segments(e: ReachEngine) -> list[tuple]:
        # orientation-free: (nodes, costs each way, coordinates) of every segment
        rows = []
        xy = np.round(e._seg_xy, 6)
        for s in range(len(e._seg_a)):
            pts = xy[e._seg_which == s]
            fwd = (int(e._seg_a[s]), int(e._seg_b[s]), e._seg_tt_f[s], e._seg_tt_b[s])
            if (fwd[0], pts[0].tolist()) > (fwd[1], pts[-1].tolist()) and np.isfinite(fwd[3]):
                fwd, pts = (fwd[1], fwd[0], fwd[3], fwd[2]), pts[::-1]
            rows.append((*fwd, tuple(map(tuple, pts))))
        return sorted(rows)

    assert segments(a) == segments(b)


def test_from_roads_builds_the_graph_engine(county) -> None:
    # the sample's roads in every mode, and without u/v ids (nodes from the coordinates)
    roads = county.roads.iloc[:4000]
    for mode in ("drive", "two_wheeler", "walk"):
        _same_engine(
            ReachEngine.from_roads(roads, mode=mode),
            ReachEngine(graph_from_roads(roads, mode=mode)),
        )
    bare = roads.drop(columns=["u", "v"])
    _same_engine(ReachEngine.from_roads(bare), ReachEngine(graph_from_roads(bare)))


def _line_m(*xy: tuple[float, float]) -> LineString:
    return LineString([ll(*p) for p in xy])


def _geodesic_m(*xy: tuple[float, float]) -> float:
    geod = pyproj.Geod(ellps="WGS84")
    return sum(geod.inv(*ll(*p), *ll(*q))[2] for p, q in itertools.pairwise(xy))


def test_from_roads_one_way_against_the_drawing_and_multilines() -> None:
    # A(0,0) -> B(1000,0) drawn A to B but one-way "-1" (traffic B -> A only); A - C(1000,1000)
    # a two-way MultiLineString of two parts A-M, M-C; C - B two-way. 36 km/h = 10 m/s.
    m = (500.0, 500.0)
    roads = gpd.GeoDataFrame(
        {"highway": ["primary"] * 3, "speed_kph": [36.0] * 3, "oneway": ["-1", "no", None]},
        geometry=[
            _line_m((0, 0), (1000, 0)),
            shapely.MultiLineString([_line_m((0, 0), m), _line_m(m, (1000, 1000))]),
            _line_m((1000, 1000), (1000, 0)),
        ],
        crs="EPSG:4326",
    )
    engine = ReachEngine.from_roads(roads)
    _same_engine(engine, ReachEngine(graph_from_roads(roads)))
    ab = _geodesic_m((0, 0), (1000, 0)) / 10.0
    ac = (_geodesic_m((0, 0), m) + _geodesic_m(m, (1000, 1000))) / 10.0
    cb = _geodesic_m((1000, 1000), (1000, 0)) / 10.0
    station = frame(["S1"], (0.0, 0.0), column="station_id")
    customers = pts((1000.0, 0.0), (500.0, 0.0))
    got = repair_reach(engine, customers, station)["repair_eta_s"].to_numpy()
    # A -> B cannot be driven: round by C, then back along A-B from B for the midpoint
    np.testing.assert_allclose(got, [ac + cb, ac + cb + ab / 2], atol=1e-3)
    point = frame(["P1"], (0.0, 0.0), column="point_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pay = payment_access(engine, customers, point)["payment_eta_s"].to_numpy()
    # B -> A is allowed: straight back
    np.testing.assert_allclose(pay, [ab, ab / 2], atol=1e-3)


def test_from_roads_errors(county) -> None:
    with pytest.raises(MissingColumnError, match="highway"):
        ReachEngine.from_roads(county.roads.drop(columns=["highway", "road_class"]).iloc[:10])
    with pytest.raises(CRSError):
        ReachEngine.from_roads(county.roads.iloc[:10].set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="max_snap_m"):
        ReachEngine.from_roads(county.roads.iloc[:10], max_snap_m=-1)


def test_engines_from_roads(county) -> None:
    engines = engines_from_roads(county.roads)
    assert engines["repair"].mode == "drive"
    assert engines["payment"].mode == DEFAULT_PAYMENT_MODE
    same = engines_from_roads(county.roads, payment_mode="drive")
    assert same["payment"] is same["repair"]


# --------------------------------------------------------------------------- KPIs


@pytest.fixture
def kpi_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = pd.Index([f"c{i}" for i in range(10)])
    access = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(10)],
            "repair_eta_s": [600, 900, 1500, 2000, 2500, np.nan, 700, 800, 1900, 1000],
            "repair_ok": [True, True, True, False, False, False, True, True, False, True],
            "repair_reason": ["ok"] * 3
            + ["over_limit", "over_limit", "too_far_from_road", "ok", "ok", "over_limit", "ok"],
            "payment_eta_s": [100, 200, 700, 300, 400, np.nan, 500, 650, 100, 200],
            "payment_ok": [True, True, False, True, True, False, True, False, True, True],
            "payment_reason": [
                *("ok", "ok", "over_limit", "ok", "ok", "too_far_from_road"),
                *("ok", "over_limit", "ok", "ok"),
            ],
        },
        index=idx,
    )
    customers = pd.DataFrame(
        {
            "grid_t2": ["G1"] * 6 + ["G2"] * 4,
            "grid_t3": ["G1a", "G1a", "G1a", "G1b", "G1b", "G1b", "G2a", "G2a", "G2a", None],
            "village_code": ["V1", "V1", "V2", "V3", "V3", "V3", "V4", "V4", "V5", "V5"],
            "voltage_class": ["LV", "HV", "LV", "HV", "LV", "LV", "LV", "HV", "LV", "LV"],
            "vulnerable": [False, False, True, False, True, False, False, False, True, False],
        },
        index=idx,
    )
    return access, customers


def test_reach_kpis_by_tier(kpi_tables) -> None:
    access, customers = kpi_tables
    k = reach_kpis(access, customers, weights={"hv": 5.0, "vulnerable": 3.0}, n_worst_villages=2)
    assert set(k) == {"county", "tier2", "tier3", "villages", "non_compliant"}
    c = k["county"].iloc[0]
    ok = access["repair_ok"].to_numpy()
    hv = (customers["voltage_class"] == "HV").to_numpy()
    vul = customers["vulnerable"].to_numpy()
    eta = access["repair_eta_s"].to_numpy(dtype=float)
    assert c["customers"] == 10
    assert c["repair_ok_n"] == 6
    assert c["repair_share_ok"] == pytest.approx(0.6)
    assert c["repair_share_ok_hv"] == pytest.approx(ok[hv].mean())  # 2 of 3
    assert c["repair_share_ok_vulnerable"] == pytest.approx(ok[vul].mean())  # 1 of 3
    w = np.where(hv, 5.0, 1.0) * np.where(vul, 3.0, 1.0)
    assert c["repair_share_ok_weighted"] == pytest.approx((w * ok).sum() / w.sum())
    fin = eta[np.isfinite(eta)]
    assert c["repair_median_eta_s"] == pytest.approx(np.median(fin))
    assert c["repair_p95_eta_s"] == pytest.approx(np.percentile(fin, 95))
    assert c["payment_share_ok"] == pytest.approx(0.7)
    t2 = k["tier2"]
    assert t2.index.tolist() == ["G1", "G2"]
    g1 = eta[:6][np.isfinite(eta[:6])]
    assert t2.loc["G1", "repair_p95_eta_s"] == pytest.approx(np.percentile(g1, 95))
    assert t2.loc["G2", "repair_share_ok"] == pytest.approx(3 / 4)
    assert t2.loc["G2", "payment_share_ok_hv"] == pytest.approx(0.0)
    t3 = k["tier3"]
    # the customer with no grid (no located position) is a row of its own: 未定位
    assert t3.index.tolist() == ["G1a", "G1b", "G2a", "未定位"]
    assert t3.loc["G1b", "repair_share_ok"] == pytest.approx(0.0)
    assert t3.loc["未定位", "customers"] == 1
    assert math.isnan(t3.loc["未定位", "repair_share_ok_hv"])
    # worst villages: share of customers with both promises kept
    # V1 1/1? no: V1 = c0 ok/ok, c1 ok/ok -> 1.0; V2 = c2 fails payment -> 0; V3 -> 0 of 3;
    # V4 = c6 ok, c7 fails payment -> 0.5; V5 = c8 fails repair, c9 ok -> 0.5
    assert c["worst_villages"] == "V3; V2"
    assert t2.loc["G2", "worst_villages"] == "V4; V5"
    assert t3.loc["G1a", "worst_villages"] == "V2"
    nc = k["non_compliant"]
    assert nc.index.tolist() == ["c2", "c3", "c4", "c5", "c7", "c8"]
    assert nc.loc["c5", "repair_reason"] == "too_far_from_road"
    assert nc["customer_id"].tolist() == ["C2", "C3", "C4", "C5", "C7", "C8"]
    assert k["villages"].loc["V3", "repair_share_ok"] == 0.0


def test_reach_kpis_one_service_and_errors(kpi_tables) -> None:
    access, customers = kpi_tables
    rep = access[["repair_eta_s", "repair_ok", "repair_reason"]]
    k = reach_kpis(rep, customers, hv_column=None, vulnerable_column=None)
    assert "payment_share_ok" not in k["county"].columns
    assert math.isnan(k["county"]["repair_share_ok_hv"].iloc[0])
    with pytest.raises(InputError, match="neither `repair_ok` nor `payment_ok`"):
        reach_kpis(access[["customer_id"]], customers)
    with pytest.raises(MissingColumnError, match="'repair_reason'"):
        reach_kpis(access.drop(columns="repair_reason"), customers)
    with pytest.raises(InputError, match="share their index"):
        reach_kpis(access, customers.iloc[::-1])
    with pytest.raises(MissingColumnError, match="no column 'grid_t3'"):
        reach_kpis(access, customers.drop(columns="grid_t3"))
    with pytest.raises(InputError, match="`n_worst_villages` must be an int"):
        reach_kpis(access, customers, n_worst_villages=1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="weights\\['hv'\\]"):
        reach_kpis(access, customers, weights={"hv": 0})
    with pytest.raises(InputError, match="must be the result of `reach_kpis`"):
        summary_zh({})


SUMMARY_GRIDS = pd.DataFrame(
    {
        "grid_id": ["G1", "G2", "G1a", "G1b", "G2a"],
        "tier": [2, 2, 3, 3, 3],
        "parent_id": ["", "", "G1", "G1", "G2"],
        "name": [
            "琴城变电站供电网格",
            "白舍变电站供电网格",
            "水南村网格",
            "太和村网格",
            "白舍村网格",
        ],
        "manager": ["", "", "孙七", "周八", "吴九"],
    }
)
SUMMARY_VILLAGES = pd.DataFrame(
    {
        "village_code": ["V1", "V2", "V3", "V4", "V5"],
        "village": ["水南村", "东门村", "石邮村", "白舍村", "上塘村"],
        "town": ["琴城镇", "琴城镇", "琴城镇", "白舍镇", "白舍镇"],
    }
)


def test_summary_zh(kpi_tables) -> None:
    access, customers = kpi_tables
    k = reach_kpis(access, customers)
    text = summary_zh(
        k, title="南丰县供电服务可达性摘要", grids=SUMMARY_GRIDS, villages=SUMMARY_VILLAGES
    )
    assert text.startswith("# 南丰县供电服务可达性摘要")
    assert "客户数：10 户" in text
    assert "30 分钟抢修到达率：60.0%" in text
    assert "10 分钟缴费可达率：70.0%" in text
    eta = access["repair_eta_s"].dropna().to_numpy()
    assert f"用时中位数 {np.median(eta) / 60:.1f} 分钟" in text
    assert f"95 分位 {np.percentile(eta, 95) / 60:.1f} 分钟" in text
    assert "未达标客户：6 户" in text
    assert "超出时限 3 户" in text
    assert "离道路过远 1 户" in text
    # 9 of the 10 customers have a tier-3 grid (grid_t3 of c9 is None)
    assert "客户数：10 户（网格内 9 户，未定位 1 户）" in text
    # grids by name, no ids and no English in the text
    assert "G1" not in text and "V3" not in text and "unassigned" not in text
    # tier 2 = the substations' supply grids (G1 holds G1a and G1b), tier 3 = village grids
    t2 = text.split("## 达标率最低的供电网格")[1].split("## ")[0]
    t3 = text.split("## 达标率最低的村级网格")[1].split("## ")[0]
    # G1: repair 3/6, payment 4/6 -> min 50 %; G2: repair 3/4, payment 3/4 -> 75 %
    assert t2.index("| 琴城变电站供电网格 | 2 | 6 | 50.0% | 66.7% |") < t2.index(
        "| 白舍变电站供电网格 | 1 | 4 | 75.0% | 75.0% |"
    )
    # worst first by the lower of the two shares: G1b 0 % (repair), then G1a and G2a both
    # 66.7 % with 3 customers (by id); the 未定位 row (c9: repair ok, payment ok) last
    rows = [line for line in t3.splitlines() if line.startswith("| ") and "%" in line]
    assert rows == [
        "| 太和村网格 | 琴城变电站供电网格 | 周八 | 3 | 0.0% | 66.7% |",
        "| 水南村网格 | 琴城变电站供电网格 | 孙七 | 3 | 100.0% | 66.7% |",
        "| 白舍村网格 | 白舍变电站供电网格 | 吴九 | 3 | 66.7% | 66.7% |",
        "| 未定位（不在任何网格） | — | — | 1 | 100.0% | 100.0% |",
    ]
    assert t2 != t3
    # villages with township and reason, worst first (share of customers with both promises:
    # V3 0/3, V2 0/1, V4 1/2, V5 1/2); V3: c3 2000 s and c4 2500 s over 30 min (median
    # 37.5 min), c5 too far from the road; V2: c2 700 s to pay; V4: c7 650 s; V5: c8 1900 s
    villages = text.split("## 最需关注的村")[1].strip().splitlines()
    assert villages == [
        "- 琴城镇 石邮村：2 户超 30 分钟，最近抢修站中位 38 分钟；1 户离道路过远"
        "（30 分钟抢修到达率 0.0%，10 分钟缴费可达率 66.7%）",
        "- 琴城镇 东门村：1 户 10 分钟内到不了缴费点，最近缴费点中位 12 分钟"
        "（30 分钟抢修到达率 100.0%，10 分钟缴费可达率 0.0%）",
        "- 白舍镇 白舍村：1 户 10 分钟内到不了缴费点，最近缴费点中位 11 分钟"
        "（30 分钟抢修到达率 100.0%，10 分钟缴费可达率 50.0%）",
        "- 白舍镇 上塘村：1 户超 30 分钟，最近抢修站中位 32 分钟"
        "（30 分钟抢修到达率 50.0%，10 分钟缴费可达率 100.0%）",
    ]


def test_summary_zh_without_layers_and_unknown_village(kpi_tables) -> None:
    access, customers = kpi_tables
    customers = customers.assign(
        village_code=customers["village_code"].where(customers.index != "c5")
    )
    text = summary_zh(reach_kpis(access, customers), village_names={"V3": "石邮村"})
    # no grids layer: grids by id; no villages layer: the names given, else the code
    assert "| G1b | — | — | 3 | 0.0% | 66.7% |" in text
    assert "- 石邮村：2 户超 30 分钟" in text
    # c5 (too far from the road, no village): not an English row, listed last
    assert "unassigned" not in text
    assert text.rstrip().splitlines()[-1].startswith("- 村名未知的客户：1 户")


def test_rank_grids_by_the_lower_share() -> None:
    table = pd.DataFrame(
        {
            "customers": [100, 50, 10, 20, 5],
            "repair_share_ok": [0.9, 0.65, 0.6, 0.7, 0.0],
            "payment_share_ok": [0.5, 0.8, 0.6, 0.6, 0.0],
        },
        index=pd.Index(["X", "Y", "Z", "W", "未定位"], name="grid_id"),
    )
    # lowest of the two: X 0.5, Y 0.65, Z 0.6, W 0.6 (more customers first); 未定位 is no grid
    assert rank_grids(table).index.tolist() == ["X", "W", "Z", "Y"]
    with pytest.raises(InputError, match="tier table"):
        rank_grids(table[["customers"]])


# --------------------------------------------------------------------------- more engine cases


def test_travel_times_both_directions(hand: ReachEngine) -> None:
    sources = pts((0.0, 0.0), (2000.0, 1000.0))  # A, D
    sources.index = ["a", "d"]
    targets = pts((1500.0, 1010.0), None, (9000.0, 9000.0))
    fwd = travel_times(hand, sources, targets)
    # from A: 250 + 30; from D: 30 (+ 8 s leg each)
    assert fwd["eta_s"].iloc[0] == pytest.approx(30 + 10 / WALK_MPS, abs=TOL_S)
    assert fwd["source"].iloc[0] == "d"
    assert fwd["source"].iloc[1:].isna().all()
    assert fwd["reason"].tolist() == ["ok", "not_geocoded", "too_far_from_road"]
    back = travel_times(hand, sources, targets, reverse=True)
    # to A: 30 + 70 + 100; to D: on to E (30), E-B (70), B-C (100), C-D (50)
    assert back["eta_s"].iloc[0] == pytest.approx(200 + 10 / WALK_MPS, abs=TOL_S)
    assert back["source"].iloc[0] == "a"
    assert fwd.index.equals(targets.index)


def test_plain_digraph_and_tuple_node_ids() -> None:
    G = hand_graph(NODES, EDGES)
    H = nx.DiGraph(crs="EPSG:4326")
    for n, d in G.nodes(data=True):
        H.add_node((n, 1), **d)
    for u, v, d in G.edges(data=True):
        H.add_edge((u, 1), (v, 1), **d)
    engine = ReachEngine(H)
    snap = engine.snap(pts((1500.0, 1010.0)))
    assert (snap["u"].iloc[0], snap["v"].iloc[0]) == (("D", 1), ("E", 1))
    r = repair_reach(engine, pts((1500.0, 1010.0)), frame(["S"], (0.0, 0.0), column="station_id"))
    assert r["repair_eta_s"].iloc[0] == pytest.approx(280 + 10 / WALK_MPS, abs=TOL_S)


def test_walk_speed_parameter() -> None:
    engine = ReachEngine(hand_graph(NODES, EDGES), walk_speed_kph=3.6)  # 1 m/s
    r = repair_reach(engine, pts((1500.0, 100.0)), frame(["S"], (0.0, 0.0), column="station_id"))
    assert r["repair_eta_s"].iloc[0] == pytest.approx(150 + 100, abs=TOL_S)
    with pytest.raises(InputError, match="`walk_speed_kph` must be a positive"):
        ReachEngine(hand_graph(NODES, EDGES), walk_speed_kph=float("nan"))


def test_no_customer_geocoded(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    r = repair_reach(hand, pts(None, None), station_a)
    assert r["repair_reason"].tolist() == ["not_geocoded", "not_geocoded"]
    assert r["repair_snap_m"].isna().all()
