"""Tests of gridgeo.dispatch: the nearest repair station by travel time for one fault.

Expected times come from hand arithmetic on a small graph and, on the sample county, from an
independent computation in this file (brute-force nearest edge, the partial-edge arithmetic done
here, NetworkX's own Dijkstra), the approach of ``tests/test_reach.py``.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from handgraphs import GK, TOL_S, WALK_MPS, X0, Y0, hand_graph, ll
from shapely.geometry import Point

from gridgeo.dispatch import DISPATCH_REASONS, FAULT_SOURCES, DispatchResult, dispatch
from gridgeo.errors import CoordinateError, InputError, NotFoundError
from gridgeo.geocode import Gazetteer
from gridgeo.network import graph_from_roads
from gridgeo.reach import DEFAULT_MAX_SNAP_M, DEFAULT_MIN_COMPONENT_NODES, ReachEngine
from gridgeo.routing import StationLabels
from gridgeo.sample import load_sample

# the hand graph in EPSG:4548 metres (see tests/handgraphs.py)
_TO_GK = pyproj.Transformer.from_crs("EPSG:4326", GK, always_xy=True)


def gk(coords: np.ndarray) -> np.ndarray:
    x, y = _TO_GK.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([np.asarray(x) - X0, np.asarray(y) - Y0])


# A(0,0) -> B(500,0) one-way 50 s; B - C(1000,0) 50 s; C - D(1000,1000) 100 s;
# D - E(0,1000) 100 s; E - A 100 s (two-way); F(0,-1000) -> A one-way 100 s (nothing reaches F);
# G(3000,0) - H(3200,0): a small piece far from the rest.
NODES = {
    "A": (0.0, 0.0),
    "B": (500.0, 0.0),
    "C": (1000.0, 0.0),
    "D": (1000.0, 1000.0),
    "E": (0.0, 1000.0),
    "F": (0.0, -1000.0),
    "G": (3000.0, 0.0),
    "H": (3200.0, 0.0),
}
EDGES = [
    ("A", "B", 50.0, False),
    ("B", "C", 50.0, True),
    ("C", "D", 100.0, True),
    ("D", "E", 100.0, True),
    ("E", "A", 100.0, True),
    ("F", "A", 100.0, False),
    ("G", "H", 20.0, True),
]


def stations(**xy: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "station_id": list(xy),
            "name": [f"{k}站" for k in xy],
            "crews": list(range(1, len(xy) + 1)),
        },
        geometry=[Point(ll(*p)) for p in xy.values()],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def hand() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


# S1 at B: 500 m from the fault in a straight line, but A -> B is one-way away from it;
# S2 at E: 710 m away, straight down E -> A; S3 200 m north of D.
HAND_STATIONS = {"S1": (500.0, 0.0), "S2": (0.0, 1000.0), "S3": (1000.0, 1200.0)}
FAULT = (10.0, 300.0)  # 10 m east of A-E, 300 m from A


def test_nearest_by_time_is_not_nearest_by_distance(hand: ReachEngine) -> None:
    st = stations(**HAND_STATIONS)
    r = dispatch(hand, st, point=ll(*FAULT), limit_s=300.0)
    assert isinstance(r, DispatchResult)
    leg = 10 / WALK_MPS  # 8 s
    expected = {
        "S1": 50 + 100 + 100 + 0.7 * 100 + leg,  # B -> C -> D -> E -> 700 m down E-A
        "S2": 0.7 * 100 + leg,
        "S3": 200 / WALK_MPS + 100 + 0.7 * 100 + leg,  # walk 200 m to D, D -> E -> ...
    }
    assert r.options["station_id"].tolist() == ["S2", "S1", "S3"]
    np.testing.assert_allclose(
        r.options["eta_s"].to_numpy(), [expected[s] for s in ("S2", "S1", "S3")], atol=TOL_S
    )
    assert r.options["within_limit"].tolist() == [True, False, False]
    assert r.options["reason"].tolist() == ["ok", "over_limit", "over_limit"]
    assert r.options["name"].tolist() == ["S2站", "S1站", "S3站"]
    assert r.options["crews"].tolist() == [2, 1, 3]
    assert r.station_id == "S2"
    assert r.eta_s == pytest.approx(78.0, abs=TOL_S)
    assert r.within_limit is True
    assert r.reason == "ok"
    assert r.fault.located_by == "point"
    assert r.fault.match_level is None
    # the route: from E straight down to the fault's point on the road, 700 m
    assert r.route is not None
    assert r.route.crs == "EPSG:4326"
    assert r.route_km == pytest.approx(0.7, abs=1e-6)
    np.testing.assert_allclose(
        gk(shapely.get_coordinates(r.route.geometry.iloc[0])), [[0, 1000], [0, 300]], atol=1e-3
    )


def test_route_along_the_one_way_detour(hand: ReachEngine) -> None:
    st = stations(S1=HAND_STATIONS["S1"], S3=HAND_STATIONS["S3"])
    r = dispatch(hand, st, point=ll(*FAULT), limit_s=300.0)
    assert r.station_id == "S1"
    assert r.eta_s == pytest.approx(50 + 100 + 100 + 70 + 8, abs=TOL_S)  # 328 s
    assert r.within_limit is False
    assert r.reason == "over_limit"
    assert r.route_km == pytest.approx((500 + 1000 + 1000 + 700) / 1000, abs=1e-6)
    assert r.route is not None
    xy = gk(shapely.get_coordinates(r.route.geometry.iloc[0]))
    np.testing.assert_allclose(
        xy, [[500, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 300]], atol=1e-3
    )
    assert r.route["route_km"].iloc[0] == pytest.approx(r.route_km)


def test_station_and_fault_on_the_same_edge(hand: ReachEngine) -> None:
    st = stations(S4=(0.0, 800.0), S2=HAND_STATIONS["S2"])
    r = dispatch(hand, st, point=ll(0.0, 300.0))
    assert r.station_id == "S4"
    assert r.eta_s == pytest.approx(50.0, abs=TOL_S)  # 500 m of a 1000 m, 100 s edge
    assert r.route_km == pytest.approx(0.5, abs=1e-6)
    assert r.route is not None
    xy = gk(shapely.get_coordinates(r.route.geometry.iloc[0]))
    np.testing.assert_allclose(xy, [[0, 800], [0, 300]], atol=1e-3)


def test_reasons_without_a_route(hand: ReachEngine) -> None:
    st = stations(S2=HAND_STATIONS["S2"], FAR=(5000.0, 5000.0))
    # F has only an outgoing road: no station can drive to it
    r = dispatch(hand, st, point=ll(0.0, -1000.0))
    assert r.reason == "unreachable"
    assert r.station_id is None
    assert math.isnan(r.eta_s) and math.isnan(r.route_km)
    assert r.route is None
    assert r.within_limit is False
    assert r.options["reason"].tolist() == ["unreachable", "too_far_from_road"]
    assert r.options["eta_s"].isna().all()
    r = dispatch(hand, st, point=ll(3100.0, 10.0))
    assert r.reason == "isolated_road_piece"
    assert r.route is None
    r = dispatch(hand, st, point=ll(0.0, 3000.0))
    assert r.reason == "too_far_from_road"
    assert r.options["reason"].tolist() == ["too_far_from_road"] * 2
    assert set(DISPATCH_REASONS) >= set(r.options["reason"])


def test_gcj02_point_is_converted(hand: ReachEngine) -> None:
    from gridgeo.crs import wgs84_to_gcj02

    st = stations(S2=HAND_STATIONS["S2"])
    lon, lat = ll(*FAULT)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    r = dispatch(hand, st, point=(g_lon, g_lat), datum="gcj02")
    assert r.fault.lon == pytest.approx(lon, abs=1e-7)
    assert r.fault.lat == pytest.approx(lat, abs=1e-7)
    assert r.eta_s == pytest.approx(78.0, abs=1e-3)


def test_errors(hand: ReachEngine) -> None:
    st = stations(**HAND_STATIONS)
    with pytest.raises(InputError, match="exactly one of `point`, `customer_id`, `address`"):
        dispatch(hand, st, point=ll(*FAULT), address="琴城镇")
    with pytest.raises(InputError, match="exactly one of"):
        dispatch(hand, st)
    with pytest.raises(CoordinateError, match="looks like \\(lat, lon\\)"):
        lon, lat = ll(*FAULT)
        dispatch(hand, st, point=(lat, lon))
    with pytest.raises(CoordinateError, match="not a usable position"):
        dispatch(hand, st, point=(0.0, 0.0))
    with pytest.raises(InputError, match="`point` must be a \\(lon, lat\\) pair"):
        dispatch(hand, st, point="here")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="`customers`"):
        dispatch(hand, st, customer_id="C1")
    with pytest.raises(InputError, match="`gazetteer`"):
        dispatch(hand, st, address="琴城镇")
    with pytest.raises(InputError, match="`limit_s`"):
        dispatch(hand, st, point=ll(*FAULT), limit_s=-1)
    with pytest.raises(InputError, match="`engine` must be a ReachEngine"):
        dispatch(None, st, point=ll(*FAULT))  # type: ignore[arg-type]
    assert FAULT_SOURCES == ("point", "customer", "address")


# --------------------------------------------------------------------------- sample county


@pytest.fixture(scope="module")
def county():
    return load_sample()


@pytest.fixture(scope="module")
def county_graph(county) -> nx.MultiDiGraph:
    return graph_from_roads(county.roads, mode="drive")


@pytest.fixture(scope="module")
def county_engine(county_graph) -> ReachEngine:
    return ReachEngine(county_graph)


def _expected_station_times(
    G: nx.MultiDiGraph, stations_xy: np.ndarray, fault_xy: np.ndarray, crs: pyproj.CRS
) -> np.ndarray:
    """Time from each station to each fault (rows: faults), computed without gridgeo.reach."""
    rows = [(u, v, d["travel_time"], d["geometry"]) for u, v, _, d in G.edges(keys=True, data=True)]
    e = pd.DataFrame(rows, columns=["u", "v", "tt", "geom"])
    lines = gpd.GeoSeries(e["geom"], crs="EPSG:4326").to_crs(crs).to_numpy()
    # the reversed twin of each edge (a two-way road), else -1
    by_pair: dict[tuple, list[int]] = {}
    for i, (u, v) in enumerate(zip(e["u"], e["v"], strict=True)):
        by_pair.setdefault((u, v), []).append(i)
    rev = shapely.reverse(e["geom"].to_numpy())
    twin = np.full(len(e), -1)
    for i, (u, v) in enumerate(zip(e["u"], e["v"], strict=True)):
        for j in by_pair.get((v, u), []):
            if j != i and shapely.equals_exact(e["geom"].iloc[j], rev[i], tolerance=1e-9):
                twin[i] = j
                break
    size = {n: len(c) for c in nx.weakly_connected_components(G) for n in c}
    largest = max(size.values())
    main = np.array([size[u] >= DEFAULT_MIN_COMPONENT_NODES or size[u] == largest for u in e["u"]])

    def snap(xy: np.ndarray) -> list[tuple[int, float, float] | None]:
        out: list[tuple[int, float, float] | None] = []
        for p in shapely.points(xy):
            d = shapely.distance(p, lines)
            k = int(np.argmin(d))
            if not main[k] and (main & (d <= DEFAULT_MAX_SNAP_M)).any():
                k = int(np.flatnonzero(main)[np.argmin(d[main])])
            if d[k] > DEFAULT_MAX_SNAP_M:
                out.append(None)
                continue
            t = float(shapely.line_locate_point(lines[k], p, normalized=True))
            t = 0.0 if t < 1e-9 else 1.0 if t > 1 - 1e-9 else t
            out.append((k, t, float(d[k])))
        return out

    def reps(edge: int, t: float) -> list[tuple[int, float]]:
        return [(edge, t)] + ([(int(twin[edge]), 1.0 - t)] if twin[edge] >= 0 else [])

    s_snap, f_snap = snap(stations_xy), snap(fault_xy)
    out = np.full((len(fault_xy), len(stations_xy)), np.nan)
    for i, s in enumerate(s_snap):
        if s is None:
            continue
        H = G.copy()
        S = ("station", i)
        leg = s[2] / WALK_MPS
        for edge, t in reps(s[0], s[1]):
            u, v, tt = e["u"].iloc[edge], e["v"].iloc[edge], e["tt"].iloc[edge]
            if t == 0.0:
                H.add_edge(S, u, travel_time=leg)
            H.add_edge(S, v, travel_time=leg + (1.0 - t) * tt)
        dist = nx.single_source_dijkstra_path_length(H, S, weight="travel_time")
        for k, f in enumerate(f_snap):
            if f is None:
                continue
            best = math.inf
            for ed, tf in reps(f[0], f[1]):
                u, v, tt = e["u"].iloc[ed], e["v"].iloc[ed], e["tt"].iloc[ed]
                if tf == 1.0:
                    best = min(best, dist.get(v, math.inf))
                best = min(best, dist.get(u, math.inf) + tf * tt)
                for es, ts in reps(s[0], s[1]):
                    if es == ed and tf >= ts:
                        best = min(best, leg + (tf - ts) * tt)
            if math.isfinite(best):
                out[k, i] = best + f[2] / WALK_MPS
    return out


def test_sample_county_matches_networkx(county, county_graph, county_engine) -> None:
    customers = county.customers.sample(20, random_state=11)
    st = county.repair_stations
    crs = county_engine.crs
    cxy = shapely.get_coordinates(customers.to_crs(crs).geometry.to_numpy())
    sxy = shapely.get_coordinates(st.to_crs(crs).geometry.to_numpy())
    expected = _expected_station_times(county_graph, sxy, cxy, crs)
    ids = st["station_id"].to_numpy()
    reached = 0
    for k, cid in enumerate(customers["customer_id"]):
        r = dispatch(county_engine, st, customer_id=cid, customers=county.customers)
        assert r.fault.located_by == "customer"
        got = r.options.set_index("station_id")["eta_s"].reindex(ids).to_numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected[k]))
        fin = np.isfinite(expected[k])
        np.testing.assert_allclose(got[fin], expected[k][fin], rtol=0, atol=TOL_S)
        if not fin.any():
            assert r.route is None
            continue
        reached += 1
        assert r.eta_s == pytest.approx(np.nanmin(expected[k]), abs=TOL_S)
        assert r.within_limit == (r.eta_s <= 1800.0)
        # the route starts at the station's and ends at the fault's point on the road
        assert r.route is not None
        line = r.route.geometry.iloc[0]
        s_on = county_engine.snap(st[st["station_id"] == r.station_id]).geometry.iloc[0]
        f_on = county_engine.snap(customers.iloc[[k]]).geometry.iloc[0]
        c = shapely.get_coordinates(line)
        np.testing.assert_allclose(c[0], [s_on.x, s_on.y], atol=1e-7)
        np.testing.assert_allclose(c[-1], [f_on.x, f_on.y], atol=1e-7)
        length_m = float(gpd.GeoSeries([line], crs="EPSG:4326").to_crs(crs).length.iloc[0])
        assert length_m / 1000 == pytest.approx(r.route_km, rel=1e-6, abs=1e-6)
        # never shorter than the straight line, never faster than its length at 120 km/h
        ends = gpd.GeoSeries([s_on, f_on], crs="EPSG:4326").to_crs(crs)
        assert float(ends.iloc[0].distance(ends.iloc[1])) <= length_m + 1e-6
        assert r.route_km / 120 * 3600 <= r.eta_s + TOL_S
    assert reached >= 15


def test_sample_county_address_and_customer_errors(county, county_engine) -> None:
    st = county.repair_stations
    gaz = Gazetteer.from_sample(county)
    r = dispatch(county_engine, st, address="南丰县琴城镇人民路社区2组75号", gazetteer=gaz)
    assert r.fault.located_by == "address"
    assert r.fault.match_level == "village"
    assert r.station_id == "RS01"  # the county seat's own station
    assert r.reason == "ok"
    with pytest.raises(InputError, match="no_admin_name"):
        dispatch(county_engine, st, address="xyzzy 不知道", gazetteer=gaz)
    with pytest.raises(InputError, match="罗坊村\\(白舍镇\\), 罗坊村\\(紫霄镇\\)"):
        dispatch(county_engine, st, address="南丰县罗坊村3组", gazetteer=gaz)
    with pytest.raises(UserWarning, match="town level"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dispatch(county_engine, st, address="南丰县白舍镇", gazetteer=gaz)
    with pytest.raises(NotFoundError, match="'NO-SUCH-ID'"):
        dispatch(county_engine, st, customer_id="NO-SUCH-ID", customers=county.customers)


# --------------------------------------------------------------------------- availability


@pytest.fixture(scope="module")
def hand_labels(hand: ReachEngine) -> StationLabels:
    return StationLabels(hand, stations(**HAND_STATIONS))


@pytest.mark.parametrize("with_labels", [False, True])
def test_unavailable_station_gives_the_next_by_eta(hand, hand_labels, with_labels) -> None:
    st = stations(**HAND_STATIONS)
    labels = hand_labels if with_labels else None
    # S2 (78 s) is busy: S1 (328 s, round the one-way loop) goes, S3 (408 s) stays listed
    r = dispatch(hand, st, point=ll(*FAULT), limit_s=300.0, labels=labels, unavailable=["S2"])
    assert r.station_id == "S1"
    assert r.eta_s == pytest.approx(50 + 100 + 100 + 70 + 8, abs=TOL_S)
    assert r.reason == "over_limit" and r.within_limit is False
    assert r.route_km == pytest.approx(3.2, abs=1e-6)
    assert r.options["station_id"].tolist() == ["S2", "S1", "S3"]
    assert r.options["available"].tolist() == [False, True, True]
    assert r.options["eta_s"].iloc[0] == pytest.approx(78.0, abs=TOL_S)
    assert r.options["reason"].iloc[0] == "ok"  # its own time is still shown
    # a station without crews is not available either
    no_crew = st.assign(crews=[1, 0, 3])  # S2 has none
    r = dispatch(hand, no_crew, point=ll(*FAULT), labels=labels)
    assert r.station_id == "S1"
    assert r.options.set_index("station_id")["available"].to_dict() == {
        "S1": True,
        "S2": False,
        "S3": True,
    }


@pytest.mark.parametrize("with_labels", [False, True])
def test_no_station_available(hand, hand_labels, with_labels) -> None:
    st = stations(**HAND_STATIONS)
    labels = hand_labels if with_labels else None
    r = dispatch(hand, st, point=ll(*FAULT), labels=labels, unavailable=("S1", "S2", "S3"))
    assert r.station_id is None
    assert r.reason == "no_station_available"
    assert r.reason in DISPATCH_REASONS
    assert math.isnan(r.eta_s) and math.isnan(r.route_km)
    assert r.route is None and r.within_limit is False
    assert not r.options["available"].any()
    assert r.options["eta_s"].notna().all()  # every station's time is still listed
    # nothing reaches F: the road reason wins, whatever the availability
    r = dispatch(hand, st, point=ll(0.0, -1000.0), labels=labels, unavailable=["S1"])
    assert r.reason == "unreachable"


def test_unavailable_and_labels_errors(hand, hand_labels) -> None:
    st = stations(**HAND_STATIONS)
    with pytest.raises(InputError, match=r"\['NOPE'\].*S1, S2, S3"):
        dispatch(hand, st, point=ll(*FAULT), unavailable=["S1", "NOPE"])
    with pytest.raises(InputError, match="`unavailable` must be a collection"):
        dispatch(hand, st, point=ll(*FAULT), unavailable="S1")
    with pytest.raises(InputError, match="`labels` were built for other stations"):
        dispatch(hand, stations(S1=(500.0, 10.0)), point=ll(*FAULT), labels=hand_labels)
    other = ReachEngine(hand_graph(NODES, EDGES))
    with pytest.raises(InputError, match="`labels` were built on another engine"):
        dispatch(other, st, point=ll(*FAULT), labels=hand_labels)
    with pytest.raises(InputError, match="`labels` must be StationLabels"):
        dispatch(hand, st, point=ll(*FAULT), labels="labels")  # type: ignore[arg-type]
