"""Tests of gridgeo.isochrones and of the routing search it stands on (``reached_points``).

The guarantee under test (module docstring of :mod:`gridgeo.isochrones`): a band's polygon
contains every point within ``inner`` of the road parts reached within the band and leaves out
every point farther than ``outer`` from all of them, with

    inner = buffer - sqrt(2) h - h / 2 - tol,   outer = buffer + sqrt(2) h + tol,
    h = buffer / 6 (the cell), tol = 0.27 buffer (the display tolerance).

Expected values: travel times by hand on small graphs, and on the sample county from the
independent oracle of tests/oracle.py (brute-force shapely snapping of the stations, NetworkX's
Dijkstra for the node times) with the partial-edge arithmetic written here for points every
25 m along every edge.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from handgraphs import GK, RING_EDGES, RING_NODES, WALK_MPS, X0, Y0, frame, hand_graph
from oracle import Oracle
from shapely.geometry import Point

from gridgeo import isochrones as isochrones_from_package
from gridgeo.errors import InputError
from gridgeo.isochrones import (
    CELLS_PER_BUFFER,
    TOLERANCE_PER_BUFFER,
    isochrone_bounds_m,
    isochrones,
)
from gridgeo.network import graph_from_roads
from gridgeo.routing import ReachEngine, node_times, reached_lines, reached_points
from gridgeo.sample import load_sample

# A(0,0) - B(1000,0) - C(2000,0) two-way, 100 s each; C -> D(2000,1000) one-way 50 s;
# D -> E(1000,1000) one-way 60 s; E -> B one-way 70 s.
NODES, EDGES = RING_NODES, RING_EDGES  # see tests/handgraphs.py


def _bounds_by_hand(buffer_m: float, tol_m: float) -> tuple[float, float]:
    h = buffer_m / 6
    return (
        buffer_m - math.sqrt(2) * h - h / 2 - tol_m,
        buffer_m + math.sqrt(2) * h + tol_m,
    )


@pytest.fixture(scope="module")
def hand() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


@pytest.fixture(scope="module")
def station_a() -> gpd.GeoDataFrame:
    return frame(["S1"], (0.0, 0.0), column="station_id")


@pytest.fixture(scope="module")
def county():
    return load_sample()


@pytest.fixture(scope="module")
def county_graph(county) -> nx.MultiDiGraph:
    return graph_from_roads(county.roads, mode="drive")


def _gk(iso: gpd.GeoDataFrame) -> shapely.Geometry:
    return iso.to_crs(GK).geometry.iloc[0]


def _at(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


# --------------------------------------------------------------------------- the guarantee


def test_bounds_are_the_documented_ones() -> None:
    assert CELLS_PER_BUFFER == 6
    assert TOLERANCE_PER_BUFFER == 0.27
    # 150 m: h = 25 m, tol = 40.5 m; 25 sqrt(2) = 35.3553 m
    inner, outer = isochrone_bounds_m(150.0)
    assert inner == pytest.approx(150 - 35.355339 - 12.5 - 40.5, abs=1e-5)
    assert outer == pytest.approx(150 + 35.355339 + 40.5, abs=1e-5)
    assert isochrone_bounds_m(150.0, tolerance_m=0) == pytest.approx(
        (150 - 35.355339 - 12.5, 150 + 35.355339), abs=1e-5
    )
    assert isochrone_bounds_m(10.0) == pytest.approx(_bounds_by_hand(10.0, 2.7), abs=1e-9)


def test_hand_graph_band_follows_the_reached_road(
    hand: ReachEngine, station_a: gpd.GeoDataFrame
) -> None:
    iso = isochrones(hand, station_a, bands_s=(150.0,), buffer_m=10.0, per_station=False)
    assert iso["station_id"].tolist() == ["all"]
    area = _gk(iso)
    inner, outer = _bounds_by_hand(10.0, 2.7)  # 4.11 m and 15.06 m
    # reached within 150 s: A-B (100 s) and half of B-C, up to x = 1500; not the rest
    near = inner - 0.01
    for x, y in [(0, 0), (1000, 0), (1490, 0), (700, near), (700, -near), (-near, 0), (0, -near)]:
        assert area.covers(_at(x, y)), (x, y)
    # farther than `outer` from A-B and the half of B-C: out (E -> B is one-way towards B)
    for x, y in [(1500 + outer + 0.01, 0), (700, outer + 0.01), (-outer - 0.01, 0), (1000, 500)]:
        assert not area.covers(_at(x, y)), (x, y)
    # a strip about 1,500 m long, between the two widths either side
    assert 2 * inner * 1500 / 1e6 < iso["area_km2"].iloc[0] < 2 * outer * 1500 / 1e6 + 0.001


def test_traced_outline_without_simplification(
    hand: ReachEngine, station_a: gpd.GeoDataFrame
) -> None:
    iso = isochrones(
        hand, station_a, bands_s=(150.0,), buffer_m=10.0, tolerance_m=0, per_station=False
    )
    area = _gk(iso)
    assert area.is_valid
    inner, outer = _bounds_by_hand(10.0, 0.0)  # 6.81 m and 12.36 m
    for x, y in [(1490, inner - 0.01), (700, -(inner - 0.01)), (-(inner - 0.01), 0)]:
        assert area.covers(_at(x, y)), (x, y)
    for x, y in [(1500 + outer + 0.01, 0), (700, outer + 0.01), (700, -(outer + 0.01))]:
        assert not area.covers(_at(x, y)), (x, y)
    # the traced outline runs along the cells: every vertex on the grid of 10/6 m cells
    h = 10.0 / 6
    corners = shapely.get_coordinates(iso.to_crs(GK).geometry.to_numpy()) / h
    np.testing.assert_allclose(corners, np.round(corners), atol=1e-6)


def test_payment_isochrones_towards_points(hand: ReachEngine) -> None:
    points = frame(["P"], (1000.0, 0.0), column="point_id")  # node B
    iso = isochrones(
        hand, points, bands_s=(80.0,), buffer_m=10.0, id_column="point_id", reverse=True
    )
    assert iso["station_id"].tolist() == ["all", "P"]
    _, outer = _bounds_by_hand(10.0, 2.7)
    for row in range(2):
        area = iso.to_crs(GK).geometry.iloc[row]
        # towards B within 80 s: 0.8 of A-B and of C-B, all of E -> B (70 s), and the last
        # 10 s of D -> E: 1/6 of it, up to x = 1166.7
        for x, y in [(1000, 990), (250, 0), (1750, 0), (1150, 1000)]:
            assert area.covers(_at(x, y)), (x, y)
        for x, y in [(200 - outer - 0.01, 0), (1166.67 + outer + 0.01, 1000), (1500, 500)]:
            assert not area.covers(_at(x, y)), (x, y)


def test_isochrone_errors(hand: ReachEngine, station_a: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match="`bands_s` must be positive"):
        isochrones(hand, station_a, bands_s=())
    with pytest.raises(InputError, match="`bands_s` must be positive"):
        isochrones(hand, station_a, bands_s=(600, -1))
    with pytest.raises(InputError, match="`buffer_m` must be a positive"):
        isochrones(hand, station_a, buffer_m=0)
    with pytest.raises(InputError, match="`tolerance_m` must be a finite number"):
        isochrones(hand, station_a, tolerance_m=-1)
    with pytest.raises(InputError, match="`tolerance_m` must be a number"):
        isochrones(hand, station_a, tolerance_m="30")
    with pytest.raises(InputError, match="no row of `stations` lies within"):
        isochrones(hand, frame(["S"], (9000.0, 9000.0), column="station_id"))


def test_nothing_reached_is_an_empty_polygon(hand: ReachEngine) -> None:
    # 100 m off the road: a walk of 80 s before the road; nothing is reached within 60 s
    station = frame(["S"], (500.0, 100.0), column="station_id")
    iso = isochrones(hand, station, bands_s=(60.0, 120.0), buffer_m=10.0)
    assert iso["band_s"].tolist() == [60.0, 120.0, 60.0, 120.0]
    empty = iso.geometry.is_empty.tolist()
    assert empty == [True, False, True, False]
    assert (iso.geometry.geom_type == "MultiPolygon").all()
    assert iso["area_km2"].tolist()[0] == 0.0
    # within 120 s: the leg, and 40 s of A-B either way (x from 100 to 900)
    area = iso.to_crs(GK).geometry.iloc[1]
    assert area.covers(_at(500, 50)) and area.covers(_at(150, 0))
    assert not area.covers(_at(0, 0))


# --------------------------------------------------------------------------- reached points


def test_reached_points_by_hand(hand: ReachEngine) -> None:
    # a station 50 m north of x = 500 on A-B: 40 s on foot to the road, then 10 s per 100 m
    src = hand.snap_points(frame(["S"], (500.0, 50.0), column="station_id"))
    dist, cols = node_times(hand, src, limit_s=100.0)
    xy, t = reached_points(hand, dist, src, cols, limit_s=100.0, spacing_m=100.0, reverse=False)
    x, y = xy[:, 0] - X0, xy[:, 1] - Y0
    on_road = np.abs(y) < 1e-6
    # along the road: A-B all (40 + 50 = 90 s at either end) and B-C up to x = 1100 (100 s)
    np.testing.assert_allclose(t[on_road], 40 + np.abs(x[on_road] - 500) / 10, atol=1e-6)
    # from A (x = 0) to the reached end (x = 1100), at most 100 m apart
    road_x = np.sort(x[on_road])
    assert road_x[0] == pytest.approx(0.0, abs=1e-6)
    assert 1000.0 < road_x[-1] <= 1100.0 + 1e-6
    assert np.diff(road_x).max() <= 100.0 + 1e-6
    # the leg: every 50 m at most from the station to the road, all at the leg's time
    leg = ~on_road
    np.testing.assert_allclose(x[leg], 500.0, atol=1e-6)
    assert y[leg].max() == pytest.approx(50.0)
    np.testing.assert_allclose(t[leg], 50 / WALK_MPS, atol=1e-9)
    assert (t <= 100.0).all()


def test_reached_points_reverse_and_spacing(hand: ReachEngine) -> None:
    src = hand.snap_points(frame(["P"], (1000.0, 0.0), column="point_id"))  # node B
    dist, cols = node_times(hand, src, reverse=True, limit_s=80.0)
    xy, t = reached_points(hand, dist, src, cols, limit_s=80.0, spacing_m=100.0, reverse=True)
    x, y = np.round(xy[:, 0] - X0, 6), np.round(xy[:, 1] - Y0, 6)
    # towards B: from A-B and C-B 10 s per 100 m; E -> B 70 s over 1,000 m; D -> E 60 s
    ab = (y == 0) & (x <= 1000)
    np.testing.assert_allclose(t[ab], (1000 - x[ab]) / 10, atol=1e-6)
    assert 200 <= x[ab].min() < 300  # reached from x = 200, points at most 100 m apart
    cb = (y == 0) & (x >= 1000)
    assert 1700 < x[cb].max() <= 1800
    de = (y == 1000) & (x > 1000)
    np.testing.assert_allclose(t[de], 70 + (x[de] - 1000) / 1000 * 60, atol=1e-6)
    assert 1066.7 < x[de].max() <= 1166.7  # the last 10 s of D -> E
    eb = x == 1000
    np.testing.assert_allclose(t[eb & (y > 0)], y[eb & (y > 0)] / 1000 * 70, atol=1e-6)
    with pytest.raises(InputError, match="`spacing_m` must be a positive"):
        reached_points(hand, dist, src, cols, limit_s=80.0, spacing_m=0.0, reverse=True)


def test_reached_points_sample_reached_lines(county, county_graph) -> None:
    engine = ReachEngine(county_graph)
    src = engine.snap_points(county.repair_stations.iloc[:3], "stations")
    each, usable = node_times(engine, src, limit_s=1200.0, each=True)
    for reverse in (False, True):
        if reverse:
            each, usable = node_times(engine, src, limit_s=1200.0, each=True, reverse=True)
        dist, cols = each[0], usable[:1]
        xy, t = reached_points(
            engine, dist, src, cols, limit_s=1200.0, spacing_m=20.0, reverse=reverse
        )
        for band in (600.0, 1200.0):
            lines = reached_lines(engine, dist, src, cols, band, reverse=reverse)
            points = shapely.points(xy[t <= band])
            # on the reached parts ...
            gap = shapely.STRtree(lines).query_nearest(points, return_distance=True)[1]
            assert gap.max() < 1e-6
            # ... and every point of them within 20 m (along the road) of one
            probe = shapely.points(shapely.get_coordinates(shapely.segmentize(lines, 2.0)))
            near = shapely.STRtree(points).query_nearest(probe, return_distance=True)[1]
            assert near.max() <= 20.0 + 1e-6


# --------------------------------------------------------------------------- sample county


def _true_times(
    oracle: Oracle, src_xy: np.ndarray, step_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``step_m`` along every edge (and the stations' off-road legs) with their
    true travel time from the stations, and the node time at each edge's start."""
    du_all, snapped = oracle.node_times(src_xy)
    du = du_all[oracle.eu]
    lines, tt = oracle.lines, oracle.tt
    counts = np.maximum(2, np.ceil(oracle.length_m / step_m).astype(int) + 1)
    which = np.repeat(np.arange(len(lines)), counts)
    frac = np.concatenate([np.linspace(0, 1, c) for c in counts])
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(lines[which], frac, normalized=True)
    )
    time = du[which] + frac * tt[which]
    # a point of a two-way road is also reached along its twin
    twin = oracle.twins()[which]
    has = twin >= 0
    time[has] = np.minimum(time[has], du[twin[has]] + (1 - frac[has]) * tt[twin[has]])
    # from a station on the same edge, straight along it
    legs_xy, legs_t = [], []
    for p, e, t in zip(snapped.point, snapped.edge, snapped.t, strict=True):
        leg = snapped.dist_m[p] / oracle.walk_mps
        m = (which == e) & (frac >= t)
        time[m] = np.minimum(time[m], leg + (frac[m] - t) * tt[e])
        m = (twin == e) & (1 - frac >= t)
        time[m] = np.minimum(time[m], leg + (1 - frac[m] - t) * tt[e])
        # the leg itself, reached at the leg's time
        road = shapely.get_coordinates(shapely.line_interpolate_point(lines[e], t, normalized=True))
        f = np.linspace(0, 1, 11)[:, None]
        legs_xy.append(src_xy[p] + f * (road - src_xy[p]))
        legs_t.append(np.full(11, leg))
    return (
        np.concatenate([xy, *legs_xy]),
        np.concatenate([time, *legs_t]),
        du,
        tt,
    )


def _distance_to_outline(area: shapely.Geometry, points: np.ndarray) -> np.ndarray:
    rings = shapely.get_rings(shapely.get_parts(area))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    segments = shapely.linestrings(np.stack([a, b], axis=1))
    return shapely.STRtree(segments).query_nearest(
        shapely.points(points), return_distance=True, all_matches=False
    )[1]


def test_isochrones_follow_reached_roads(county, county_graph) -> None:
    engine = ReachEngine(county_graph)
    oracle = Oracle.of_engine(county_graph, engine)
    stations = county.repair_stations.iloc[:2]
    bands = (600.0, 1200.0)
    buffer_m = 150.0
    iso = isochrones(engine, stations, bands_s=bands, buffer_m=buffer_m)
    assert iso.crs == "EPSG:4326"
    assert iso["station_id"].tolist() == ["all", "all"] + [
        s for s in stations["station_id"] for _ in bands
    ]
    assert iso["band_s"].tolist() == list(bands) * 3
    inner, outer = _bounds_by_hand(buffer_m, 40.5)  # 61.6 m and 225.9 m
    sxy = oracle.to_metric(stations.geometry)
    step = 25.0
    for sid, src_xy in [("all", sxy), (stations["station_id"].iloc[0], sxy[:1])]:
        xy, time, du, tt = _true_times(oracle, src_xy, step)
        for band in bands:
            area = iso[(iso["station_id"] == sid) & (iso["band_s"] == band)].to_crs(engine.crs)
            area = area.geometry.iloc[0]
            assert area.geom_type == "MultiPolygon" and area.is_valid
            shapely.prepare(area)
            # every fully reached edge and every point reached in time are inside, at least
            # `inner` from the outline
            full = du + tt <= band
            assert full.sum() > 10
            assert shapely.covers(area, oracle.lines[full]).all()
            inside = time <= band - 1e-6
            assert shapely.covers(area, shapely.points(xy[inside])).all()
            assert _distance_to_outline(area, xy[inside]).min() >= inner - 1e-6
            # a point later than the band and farther than `outer` + step from every point
            # reached in time (so farther than `outer` from every reached road part) is out
            late = np.flatnonzero(time > band)
            tree = shapely.STRtree(shapely.points(xy[inside]))
            gap = tree.query_nearest(
                shapely.points(xy[late]), return_distance=True, all_matches=False
            )[1]
            far = late[gap > outer + step]
            assert len(far) > 100
            assert not shapely.intersects(area, shapely.points(xy[far])).any()
            # it follows the roads: no hull
            assert area.area < 0.9 * shapely.convex_hull(area).area


def test_sample_county_polygons_are_light_and_deterministic(county) -> None:
    engine = ReachEngine.from_roads(county.roads, mode="drive")
    stations = county.repair_stations
    iso = isochrones(engine, stations)
    assert len(iso) == 3 * (len(stations) + 1) == 24
    geoms = iso.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert (shapely.get_num_coordinates(geoms) <= 5_000).all()
    again = isochrones(engine, stations)
    assert (shapely.to_wkb(geoms) == shapely.to_wkb(again.geometry.to_numpy())).all()
    assert iso["area_km2"].tolist() == again["area_km2"].tolist()
    # "all" is the union of the stations' own areas: the same polygons as one search from
    # all the stations together
    alone = isochrones(engine, stations, per_station=False)
    assert alone["station_id"].tolist() == ["all"] * 3
    assert (shapely.to_wkb(alone.geometry.to_numpy()) == shapely.to_wkb(geoms[:3])).all()
    # the bands nest: each band's area holds the one before
    for sid in iso["station_id"].unique():
        rows = iso[iso["station_id"] == sid].to_crs(engine.crs).geometry.to_numpy()
        assert (np.diff(shapely.area(rows)) > 0).all()
    assert isochrones_from_package is isochrones
