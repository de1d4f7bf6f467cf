"""Tests of gridgeo.network: road graphs from OSM, roads layers and GraphML."""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from gridgeo.errors import (
    CorruptFileError,
    CRSError,
    EmptyDataError,
    GraphError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.network import (
    CHINESE_ROAD_CLASSES,
    MIN_EDGE_LENGTH_M,
    SPEEDS_KPH,
    TWO_WHEELER_MAX_KPH,
    WALK_SPEED_KPH,
    graph_from_osm,
    graph_from_roads,
    graph_summary,
    has_mode_columns,
    label_components,
    nodes_from_graph,
    parse_maxspeed,
    read_graphml,
    road_lines,
    roads_for_modes,
    roads_from_graph,
    roads_from_graphs,
    roads_from_osm,
)

GEOD = pyproj.Geod(ellps="WGS84")
LON0, LAT0, STEP = 116.5, 27.2, 0.001  # near Nanfeng; 0.001 deg lon is about 99 m


def geod_m(coords) -> float:
    """Independent geodesic length of a coordinate sequence (pyproj, one line at a time)."""
    lons, lats = zip(*coords, strict=True)
    return GEOD.line_length(lons, lats)


def write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways) -> Path:
    """A tiny OSM XML file: nodes {id: (col, row)} on a 0.001-degree grid, ways (id, refs, tags)."""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for nid, (col, row) in nodes.items():
        lines.append(
            f'<node id="{nid}" lat="{LAT0 + row * STEP:.7f}" lon="{LON0 + col * STEP:.7f}"/>'
        )
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def edge_set(G) -> set[tuple[int, int]]:
    return {(u, v) for u, v in G.edges()}


# --------------------------------------------------------------------------- parse_maxspeed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("60 mph", 60 * 1.609344),
        ("60mph", 60 * 1.609344),
        ("10 knots", 18.52),
        ("CN:rural", 70.0),
        ("CN:urban", 50.0),
        ("CN:motorway", 120.0),
        ("DE:urban", 50.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("FR:rural", 80.0),
        ("XX:urban", 50.0),
        ("30;50", 30.0),
        ("50;30 mph", 30 * 1.609344),
        ("walk", 7.0),
        ("none", None),
        ("signals", None),
        ("fast", None),
        ("", None),
        ("0", None),
        ("-20", None),
        ("999", None),
        (None, None),
        (float("nan"), None),
        (80, 80.0),
        (True, None),
        ([50], None),
    ],
)
def test_parse_maxspeed(value, expected):
    result = parse_maxspeed(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


# --------------------------------------------------------------------------- hand-made OSM

# a cross of roads: 1-2-3 east-west, 2-4 north; plus special ways
CROSS_NODES = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (1, 1)}


def test_oneway_reverse_roundabout_and_motorway(tmp_path):
    nodes = {
        **CROSS_NODES,
        5: (3, 0),
        6: (4, 0),
        7: (5, 0),
        10: (0, 3),
        11: (1, 3),
        12: (1, 4),
        20: (3, 3),
        21: (4, 3),
    }
    ways = [
        (100, [1, 2], {"highway": "residential"}),
        (101, [2, 3], {"highway": "residential", "oneway": "yes"}),
        (102, [3, 5], {"highway": "residential", "oneway": "-1"}),
        (103, [5, 6], {"highway": "residential", "oneway": "no", "junction": "roundabout"}),
        (104, [6, 7], {"highway": "residential", "oneway": "reversible"}),
        (105, [10, 11, 12, 10], {"highway": "tertiary", "junction": "roundabout"}),
        (106, [20, 21], {"highway": "motorway"}),
        (107, [2, 4], {"highway": "residential", "oneway": "true"}),
    ]
    path = write_osm(tmp_path / "oneway.osm", nodes, ways)
    G = graph_from_osm(path, simplify=False)
    expected = {
        (1, 2), (2, 1),  # two-way
        (2, 3),  # oneway=yes
        (5, 3),  # oneway=-1: against the drawing direction
        (5, 6), (6, 5),  # explicit oneway=no beats the roundabout
        (6, 7), (7, 6),  # reversible counts as two-way
        (10, 11), (11, 12), (12, 10),  # roundabout implied one-way
        (20, 21),  # motorway implied one-way
        (2, 4),
    }  # fmt: skip
    assert edge_set(G) == expected
    assert G.edges[5, 3, 0]["reversed"] is True
    assert G.edges[5, 3, 0]["oneway"] is True
    assert G.edges[2, 3, 0]["reversed"] is False
    assert G.edges[1, 2, 0]["oneway"] is False
    assert G.edges[2, 1, 0]["reversed"] is True
    # geometry oriented from u to v, also on the reversed edge
    x5, y5 = G.nodes[5]["x"], G.nodes[5]["y"]
    assert G.edges[5, 3, 0]["geometry"].coords[0] == pytest.approx((x5, y5))
    assert graph_summary(G)["n_oneway_edges"] == 7


def test_walk_mode_ignores_oneway_and_uses_walking_speed(tmp_path):
    ways = [
        (100, [1, 2, 3], {"highway": "primary", "oneway": "yes", "maxspeed": "80"}),
        (101, [2, 4], {"highway": "footway"}),
    ]
    path = write_osm(tmp_path / "walk.osm", CROSS_NODES, ways)
    G = graph_from_osm(path, mode="walk", simplify=False)
    assert edge_set(G) == {(1, 2), (2, 1), (2, 3), (3, 2), (2, 4), (4, 2)}
    for u, v, d in G.edges(data=True):
        assert d["speed_kph"] == WALK_SPEED_KPH
        length = geod_m([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in (u, v)])
        assert d["travel_time"] == pytest.approx(length / (4.5 / 3.6), rel=1e-9)
    drive = graph_from_osm(path, mode="drive", simplify=False)
    assert edge_set(drive) == {(1, 2), (2, 3)}  # footway not drivable, oneway respected


def test_maxspeed_sets_speed_and_travel_time(tmp_path):
    ways = [
        (100, [1, 2], {"highway": "residential", "maxspeed": "60 mph"}),
        (101, [2, 3], {"highway": "residential", "maxspeed": "CN:rural"}),
        (102, [2, 4], {"highway": "residential", "maxspeed": "30;50"}),
    ]
    path = write_osm(tmp_path / "maxspeed.osm", CROSS_NODES, ways)
    G = graph_from_osm(path, simplify=False)
    expected = {(1, 2): 96.56064, (2, 3): 70.0, (2, 4): 30.0}
    for (u, v), speed in expected.items():
        d = G.edges[u, v, 0]
        assert d["speed_kph"] == pytest.approx(speed)
        length = geod_m([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in (u, v)])
        assert d["length"] == pytest.approx(length, rel=1e-9)
        assert d["travel_time"] == pytest.approx(length / speed * 3.6, rel=1e-9)
    # without maxspeed the table speed holds; two-wheelers are capped at 25 km/h
    table = graph_from_osm(path, simplify=False, use_maxspeed=False)
    assert {d["speed_kph"] for *_, d in table.edges(data=True)} == {20.0}
    bike = graph_from_osm(path, mode="two_wheeler", simplify=False)
    assert max(d["speed_kph"] for *_, d in bike.edges(data=True)) <= TWO_WHEELER_MAX_KPH
    assert bike.edges[2, 4, 0]["speed_kph"] == 18.0  # residential table speed < 25 < 30


def test_access_and_class_rules_per_mode(tmp_path):
    nodes = {i: (i, 0) for i in range(1, 12)}
    ways = [
        (100, [1, 2], {"highway": "residential"}),
        (101, [2, 3], {"highway": "residential", "access": "private"}),
        (102, [3, 4], {"highway": "track", "tracktype": "grade3"}),
        (103, [4, 5], {"highway": "service", "service": "parking_aisle"}),
        (104, [5, 6], {"highway": "footway"}),
        (105, [6, 7], {"highway": "footway", "bicycle": "yes"}),
        (106, [7, 8], {"highway": "motorway", "oneway": "no"}),
        (107, [8, 9], {"highway": "unclassified", "motor_vehicle": "no"}),
        (108, [9, 10], {"highway": "pedestrian", "area": "yes"}),
        (109, [10, 11], {"highway": "steps", "foot": "no"}),
        (110, [1, 11], {"highway": "unclassified", "access": "no", "motorcar": "yes"}),
    ]
    path = write_osm(tmp_path / "access.osm", nodes, ways)

    def ways_in(mode):
        G = graph_from_osm(path, mode=mode, simplify=False)
        return {d["osmid"] for *_, d in G.edges(data=True)}

    assert ways_in("drive") == {100, 102, 106, 110}
    assert ways_in("two_wheeler") == {100, 102, 103, 105, 107}
    assert ways_in("walk") == {100, 102, 103, 104, 105, 107}


def test_clip_to_boundary(tmp_path):
    nodes = {i: (i, 0) for i in range(1, 6)}
    ways = [(100, [1, 2, 3, 4, 5], {"highway": "secondary"})]
    path = write_osm(tmp_path / "clip.osm", nodes, ways)
    # a box around nodes 1..3 (cols 0.5..3.5 of the grid)
    poly = box(LON0 + 0.5 * STEP, LAT0 - STEP, LON0 + 3.5 * STEP, LAT0 + STEP)
    G = graph_from_osm(path, boundary=poly, simplify=False)
    assert set(G.nodes) == {1, 2, 3}
    assert edge_set(G) == {(1, 2), (2, 1), (2, 3), (3, 2)}
    # the same box as a GeoDataFrame in a metric CRS is reprojected first
    gdf = gpd.GeoDataFrame(geometry=[poly], crs="EPSG:4326").to_crs("EPSG:32650")
    G2 = graph_from_osm(path, boundary=gdf, simplify=True)
    assert set(G2.nodes) == {1, 3}
    assert G2.edges[1, 3, 0]["length"] == pytest.approx(
        geod_m([(LON0 + STEP, LAT0), (LON0 + 3 * STEP, LAT0)]), rel=1e-6
    )
    with pytest.raises(CRSError, match="`boundary` has no CRS"):
        graph_from_osm(path, boundary=gpd.GeoSeries([poly]))
    with pytest.raises(GraphError, match="contains no 'drive' road"):
        graph_from_osm(path, boundary=box(100, 20, 100.01, 20.01))
    with pytest.raises(CRSError, match="not lon/lat degrees"):
        graph_from_osm(path, boundary=box(400000, 3000000, 410000, 3010000))
    with pytest.raises(InvalidGeometryError, match="Polygon or MultiPolygon"):
        graph_from_osm(path, boundary=Point(LON0, LAT0))
    with pytest.raises(InputError, match="`boundary` must be a shapely"):
        graph_from_osm(path, boundary="everywhere")


def test_disconnected_piece_is_component_one(tmp_path):
    nodes = {**CROSS_NODES, 7: (5, 5), 8: (6, 5), 9: (7, 5)}
    ways = [
        (100, [1, 2, 3], {"highway": "residential"}),
        (101, [2, 4], {"highway": "residential"}),
        (102, [7, 8, 9], {"highway": "track"}),
    ]
    path = write_osm(tmp_path / "pieces.osm", nodes, ways)
    G = graph_from_osm(path, simplify=False)
    comp = nx.get_node_attributes(G, "component")
    assert comp == {1: 0, 2: 0, 3: 0, 4: 0, 7: 1, 8: 1, 9: 1}
    assert G.graph["components"] == [4, 3]
    assert sorted(map(len, nx.weakly_connected_components(G)), reverse=True) == [4, 3]
    summary = graph_summary(G)
    assert summary["components"] == 2
    assert summary["largest_component_share"] == pytest.approx(4 / 7)


def test_simplify_contracts_interstitial_nodes(tmp_path):
    nodes = {
        1: (0, 0), 2: (1, 0.2), 3: (2, 0.1), 4: (3, 0), 5: (4, 0),  # curvy main road
        6: (3, 1), 7: (3, 2),  # side road from 4
        8: (5, 0.5), 9: (6, 0),  # one-way continuation, named differently after 9
        10: (7, 0),
        20: (10, 10), 21: (11, 10), 22: (11, 11), 23: (10, 11),  # a ring on its own
    }  # fmt: skip
    ways = [
        (100, [1, 2, 3, 4], {"highway": "secondary", "name": "G"}),
        (101, [4, 5], {"highway": "secondary", "name": "G"}),
        (102, [4, 6, 7], {"highway": "track"}),
        (103, [5, 8, 9], {"highway": "secondary", "name": "G", "oneway": "yes"}),
        (104, [9, 10], {"highway": "secondary", "name": "S", "oneway": "yes"}),
        (105, [20, 21, 22, 23, 20], {"highway": "residential"}),
    ]
    path = write_osm(tmp_path / "simplify.osm", nodes, ways)
    raw = graph_from_osm(path, simplify=False)
    G = graph_from_osm(path, simplify=True)
    # 2, 3 pass-through; 6 pass-through; 8 pass-through one-way; 4 junction; 5 two-way ->
    # one-way change; 9 name change; ring kept with its lowest node
    assert set(G.nodes) == {1, 4, 5, 7, 9, 10, 20}
    assert edge_set(G) == {
        (1, 4),
        (4, 1),
        (4, 5),
        (5, 4),
        (4, 7),
        (7, 4),
        (5, 9),
        (9, 10),
        (20, 20),
    }
    assert G.number_of_edges() == 10  # the ring both ways as two self-loops
    d = G.edges[1, 4, 0]
    coords = [(LON0 + c * STEP, LAT0 + r * STEP) for c, r in (nodes[n] for n in (1, 2, 3, 4))]
    np.testing.assert_allclose(d["geometry"].coords, coords)
    assert d["length"] == pytest.approx(geod_m(coords), rel=1e-9)
    assert d["travel_time"] == pytest.approx(geod_m(coords) / 40 * 3.6, rel=1e-9)
    back = G.edges[4, 1, 0]
    np.testing.assert_allclose(back["geometry"].coords, coords[::-1])
    ring = [G.edges[20, 20, k]["geometry"] for k in (0, 1)]
    ring_coords = [
        (LON0 + c * STEP, LAT0 + r * STEP) for c, r in (nodes[n] for n in (20, 21, 22, 23, 20))
    ]
    np.testing.assert_allclose(
        sorted([g.coords[:] for g in ring]), sorted([ring_coords, ring_coords[::-1]])
    )
    assert G.edges[20, 20, 0]["length"] == pytest.approx(geod_m(ring_coords), rel=1e-9)
    # simplification keeps the total length and travel time of every direction
    for attr in ("length", "travel_time"):
        total_raw = sum(nx.get_edge_attributes(raw, attr).values())
        total = sum(nx.get_edge_attributes(G, attr).values())
        assert total == pytest.approx(total_raw, rel=1e-12)
    # shortest travel times between kept nodes agree with the raw graph (networkx Dijkstra)
    for s, t in [(1, 10), (7, 9), (10, 1)]:
        try:
            expected = nx.shortest_path_length(raw, s, t, weight="travel_time")
        except nx.NetworkXNoPath:
            with pytest.raises(nx.NetworkXNoPath):
                nx.shortest_path_length(G, s, t, weight="travel_time")
            continue
        assert nx.shortest_path_length(G, s, t, weight="travel_time") == pytest.approx(expected)


def test_zero_length_edges(tmp_path):
    nodes = {1: (0, 0), 2: (1, 0), 3: (1, 0), 4: (2, 0)}  # 2 and 3 share a position
    ways = [
        (100, [1, 2, 2, 3], {"highway": "residential"}),  # a repeated node
        (101, [3, 4], {"highway": "tertiary"}),
    ]
    path = write_osm(tmp_path / "zero.osm", nodes, ways)
    G = graph_from_osm(path, simplify=False)
    assert not any(u == v for u, v in G.edges())
    assert G.edges[2, 3, 0]["length"] == MIN_EDGE_LENGTH_M
    times = np.array(list(nx.get_edge_attributes(G, "travel_time").values()))
    assert (times > 0).all() and np.isfinite(times).all()
    assert nx.has_path(G, 1, 4)


def test_way_nodes_missing_from_the_file_cut_the_way(tmp_path):
    nodes = {1: (0, 0), 2: (1, 0), 4: (3, 0), 5: (4, 0)}  # node 3 is not in the extract
    ways = [(100, [1, 2, 3, 4, 5], {"highway": "tertiary", "oneway": "yes"})]
    path = write_osm(tmp_path / "cut.osm", nodes, ways)
    G = graph_from_osm(path, simplify=False)
    assert edge_set(G) == {(1, 2), (4, 5)}  # 2-4 is not bridged
    assert G.graph["components"] == [2, 2]


def test_compressed_xml_is_read(tmp_path):
    import bz2

    ways = [(100, [1, 2, 3], {"highway": "tertiary"})]
    plain = write_osm(tmp_path / "plain.osm", CROSS_NODES, ways)
    (tmp_path / "packed.osm.bz2").write_bytes(bz2.compress(plain.read_bytes()))
    (tmp_path / "packed.osm.gz").write_bytes(gzip.compress(plain.read_bytes()))
    expected = edge_set(graph_from_osm(plain, simplify=False))
    assert expected == {(1, 2), (2, 1), (2, 3), (3, 2)}
    for name in ("packed.osm.bz2", "packed.osm.gz"):
        assert edge_set(graph_from_osm(tmp_path / name, simplify=False)) == expected


def test_osm_file_errors(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        graph_from_osm(tmp_path / "missing.osm.pbf")
    bad_pbf = tmp_path / "bad.osm.pbf"
    bad_pbf.write_bytes(b"this is not a pbf" * 10)
    with pytest.raises(CorruptFileError, match="cannot read OSM file"):
        graph_from_osm(bad_pbf)
    bad_xml = tmp_path / "bad.osm"
    bad_xml.write_text("<osm><node id='1'", encoding="utf-8")
    with pytest.raises(CorruptFileError, match=r"bad\.osm"):
        graph_from_osm(bad_xml)
    unknown = tmp_path / "roads.txt"
    unknown.write_text("hello", encoding="utf-8")
    with pytest.raises(CorruptFileError, match=r"\.osm\.pbf"):
        graph_from_osm(unknown)
    only_foot = write_osm(tmp_path / "foot.osm", CROSS_NODES, [(1, [1, 2], {"highway": "steps"})])
    with pytest.raises(GraphError, match="no roads usable in 'drive' mode"):
        graph_from_osm(only_foot)
    with pytest.raises(InputError, match="`mode` must be one of"):
        graph_from_osm(only_foot, mode="bus")
    with pytest.raises(InputError, match="`speeds_kph` must map"):
        graph_from_osm(only_foot, speeds_kph={"track": -5})
    # a class given a speed becomes usable
    G = graph_from_osm(only_foot, speeds_kph={"steps": 2.0}, simplify=False)
    assert G.edges[1, 2, 0]["speed_kph"] == 2.0


# --------------------------------------------------------------------------- real extracts

EXTRACTS = {
    # name: (min nodes, max nodes, min edges, max edges) of the simplified drive graph; the
    # README gives OSMnx-style drive sizes (no service roads, no tracks), ours include both
    "andorra_graphhopper.osm.pbf": (1_000, 4_000, 2_000, 8_000),
    "heidelberg_ors_test.osm.pbf": (5_000, 30_000, 12_000, 70_000),
    "osm_shanghai_huangpu_drive.osm": (500, 1_500, 1_100, 3_500),
    "north-bayreuth_graphhopper.osm.gz": (600, 4_000, 1_400, 10_000),
}


@pytest.fixture(scope="module")
def real_graphs(roads_dir):
    return {name: graph_from_osm(roads_dir / name) for name in EXTRACTS}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXTRACTS))
def test_real_extract_loads(real_graphs, name):
    G = real_graphs[name]
    lo_n, hi_n, lo_e, hi_e = EXTRACTS[name]
    assert lo_n <= len(G) <= hi_n
    assert lo_e <= G.number_of_edges() <= hi_e
    assert G.graph["crs"] == "EPSG:4326"
    edges = list(G.edges(keys=True, data=True))
    times = np.array([d["travel_time"] for *_, d in edges])
    assert (times > 0).all() and np.isfinite(times).all()
    for u, v, _, d in edges:
        geom = d["geometry"]
        assert isinstance(geom, LineString)
        assert geom.coords[0] == (G.nodes[u]["x"], G.nodes[u]["y"])
        assert geom.coords[-1] == (G.nodes[v]["x"], G.nodes[v]["y"])
        assert isinstance(d["highway"], str) and d["highway"] in SPEEDS_KPH["drive"]
    # lengths agree with pyproj on each geometry (the minimum length aside)
    lengths = np.array([d["length"] for *_, d in edges])
    independent = np.array([geod_m(d["geometry"].coords) for *_, d in edges])
    np.testing.assert_allclose(np.maximum(independent, MIN_EDGE_LENGTH_M), lengths, rtol=1e-9)
    sizes = sorted(map(len, nx.weakly_connected_components(G)), reverse=True)
    assert G.graph["components"] == sizes
    comp = nx.get_node_attributes(G, "component")
    largest = max(nx.weakly_connected_components(G), key=len)
    assert {comp[n] for n in largest} == {0}


def osmnx_drive_km(xml_path: Path) -> float:
    """Drivable km by OSMnx's reader (unsimplified), filtered with the documented tag rules."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    extra = ["motorcar", "motor_vehicle", "vehicle", "area", "service", "junction", "access"]
    ox.settings.useful_tags_way = list({*saved, *extra})
    try:
        G = ox.graph_from_xml(xml_path, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = saved
    excluded = {"parking_aisle", "driveway", "drive-through", "parking", "emergency_access"}
    denied = {"no", "private", "agricultural", "forestry"}
    total = 0.0
    for _, _, d in G.edges(data=True):
        if d.get("highway") not in SPEEDS_KPH["drive"] or d.get("area") == "yes":
            continue
        if d["highway"] == "service" and d.get("service") in excluded:
            continue
        access = next(
            (d[k] for k in ("motorcar", "motor_vehicle", "vehicle", "access") if k in d), None
        )
        if access is not None and set(access.split(";")) <= denied:
            continue
        # OSMnx adds a two-way street as the drawn edge plus a `reversed` twin: count it once
        if d["oneway"] or not d["reversed"]:
            total += d["length"]
    return total / 1000


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The XML file you are loading appears:UserWarning")
@pytest.mark.parametrize(
    "name", ["osm_shanghai_huangpu_drive.osm", "north-bayreuth_graphhopper.osm.gz"]
)
def test_drive_km_matches_osmnx(real_graphs, roads_dir, tmp_path, name):
    src = roads_dir / name
    xml = tmp_path / "extract.osm"
    if name.endswith(".gz"):
        with gzip.open(src, "rb") as fin, xml.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copy(src, xml)
    expected_km = osmnx_drive_km(xml)
    ours_km = graph_summary(real_graphs[name])["road_km"]
    # OSMnx measures great circles on a sphere (R = 6,371,009 m), we use the WGS84 ellipsoid:
    # per edge the two differ by -0.3 % (north-south) to +0.2 % (east-west) at 31 deg N, a bit
    # more further north. Measured: Shanghai -0.04 %, North Bayreuth +0.18 %
    assert ours_km == pytest.approx(expected_km, rel=0.005)


# --------------------------------------------------------------------------- GraphML


@pytest.fixture(scope="module")
def osmnx_shanghai(roads_dir):
    import warnings

    import osmnx as ox

    with warnings.catch_warnings():
        # the Shanghai extract was written by OSMnx; its reader warns about that
        warnings.filterwarnings("ignore", "The XML file you are loading appears", UserWarning)
        return ox.graph_from_xml(roads_dir / "osm_shanghai_huangpu_drive.osm", retain_all=True)


def test_read_graphml_from_osmnx(osmnx_shanghai, tmp_path):
    import osmnx as ox

    H = osmnx_shanghai
    path = tmp_path / "shanghai.graphml"
    ox.save_graphml(H, path)
    G = read_graphml(path)
    assert len(G) == len(H)
    assert G.number_of_edges() == H.number_of_edges()
    assert set(G.nodes) == set(H.nodes)
    assert all(isinstance(n, int) for n in G.nodes)
    for u, v, k, d in H.edges(keys=True, data=True):
        g = G.edges[u, v, k]
        assert g["length"] == pytest.approx(d["length"], rel=1e-12)
        assert isinstance(g["geometry"], LineString)
        assert g["geometry"].coords[0] == pytest.approx((H.nodes[u]["x"], H.nodes[u]["y"]))
        assert g["geometry"].coords[-1] == pytest.approx((H.nodes[v]["x"], H.nodes[v]["y"]))
        assert isinstance(g["oneway"], bool)
        assert isinstance(g["highway"], str)
        assert 0 < g["travel_time"] < math.inf
    # OSMnx's own speeds: saved and loaded as floats
    H2 = ox.add_edge_travel_times(ox.add_edge_speeds(H))
    ox.save_graphml(H2, path)
    G2 = read_graphml(path)
    for u, v, k, d in H2.edges(keys=True, data=True):
        assert G2.edges[u, v, k]["speed_kph"] == pytest.approx(d["speed_kph"])
        assert G2.edges[u, v, k]["travel_time"] == pytest.approx(d["travel_time"], rel=1e-6)
    assert (
        sorted(map(len, nx.weakly_connected_components(G2)), reverse=True) == G2.graph["components"]
    )


def test_read_graphml_projected_graph(osmnx_shanghai, tmp_path):
    import osmnx as ox

    H = osmnx_shanghai
    path = tmp_path / "projected.graphml"
    ox.save_graphml(ox.project_graph(H), path)
    G = read_graphml(path)
    assert G.graph["crs"] == "EPSG:4326"
    node = next(iter(H.nodes))
    assert G.nodes[node]["x"] == pytest.approx(H.nodes[node]["x"], abs=1e-7)
    assert G.nodes[node]["y"] == pytest.approx(H.nodes[node]["y"], abs=1e-7)


def test_read_graphml_errors(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_graphml(tmp_path / "none.graphml")
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="cannot read GraphML"):
        read_graphml(bad)
    nx.write_graphml(nx.MultiDiGraph([(1, 2)]), tmp_path / "noxy.graphml")
    with pytest.raises(CorruptFileError, match="without numeric `x`/`y`"):
        read_graphml(tmp_path / "noxy.graphml")


def test_read_graphml_fills_missing_geometry_and_speed(tmp_path):
    H = nx.MultiDiGraph(crs="epsg:4326")
    H.add_node(1, x=LON0, y=LAT0)
    H.add_node(2, x=LON0 + STEP, y=LAT0)
    H.add_edge(1, 2, highway="['tertiary', 'residential']", name="['A', 'B']", oneway="False")
    nx.write_graphml(H, tmp_path / "plain.graphml")
    G = read_graphml(tmp_path / "plain.graphml")
    d = G.edges[1, 2, 0]
    expected_m = geod_m([(LON0, LAT0), (LON0 + STEP, LAT0)])
    assert d["length"] == pytest.approx(expected_m, rel=1e-9)
    assert d["highway"] == "tertiary"
    assert d["name"] == "A; B"
    assert d["speed_kph"] == pytest.approx((30 + 20) / 2)  # mean of both classes, like OSMnx
    assert d["travel_time"] == pytest.approx(expected_m / 25 * 3.6)
    assert list(d["geometry"].coords) == [(LON0, LAT0), (LON0 + STEP, LAT0)]


# --------------------------------------------------------------------------- roads layer

X0, Y0 = 400_000.0, 3_010_000.0  # EPSG:32650, near Nanfeng


def utm_roads() -> gpd.GeoDataFrame:
    """Five 1000 m lines: A-B-C east, B-D north, and a separate E-F."""
    A, B, C, D = (X0, Y0), (X0 + 1000, Y0), (X0 + 2000, Y0), (X0 + 1000, Y0 + 1000)
    E, F = (X0 + 5000, Y0 + 5000), (X0 + 6000, Y0 + 5000)
    G_ = (X0 + 7000, Y0 + 5000)
    return gpd.GeoDataFrame(
        {
            "highway": ["国道", "residential", "村道", "机耕道", "footway"],
            "oneway": [None, "yes", False, "-1", None],
            "speed_kph": [36.0, np.nan, 36.0, np.nan, np.nan],
            "name": ["G206", None, "", "", ""],
        },
        geometry=[LineString([A, B]), LineString([B, C]), LineString([B, D]), LineString([E, F]),
                  LineString([F, G_])],
        crs="EPSG:32650",
        index=[10, 11, 12, 13, 14],
    )  # fmt: skip


def test_graph_from_roads_known_lengths():
    roads = utm_roads()
    G = graph_from_roads(roads)
    # UTM zone 50 scale factor near 116.5 E is about 0.99963: 1000 grid m are ~1000.4 m
    lines = gpd.GeoSeries(roads.geometry, crs=roads.crs).to_crs(4326)
    true_m = [geod_m(line.coords) for line in lines]
    assert all(abs(m - 1000) < 1 for m in true_m)
    assert len(G) == 6  # A, B, C, D, E, F (the footway's end G is not drivable)
    assert G.number_of_edges() == 2 + 1 + 2 + 1
    by_row = {}
    for u, v, d in G.edges(data=True):
        by_row.setdefault(d["road_index"], []).append((u, v, d))
    assert sorted(by_row) == [10, 11, 12, 13]
    (u, v, d), (_, _, d_back) = sorted(by_row[10], key=lambda e: e[2]["reversed"])
    assert d["highway"] == "trunk" and d["name"] == "G206"
    assert d["length"] == pytest.approx(true_m[0], rel=1e-9)
    assert d["travel_time"] == pytest.approx(true_m[0] / 10, rel=1e-9)  # 36 km/h = 10 m/s
    assert d_back["travel_time"] == pytest.approx(d["travel_time"])
    assert d["geometry"].coords[0] == pytest.approx((G.nodes[u]["x"], G.nodes[u]["y"]))
    assert by_row[11][0][2]["speed_kph"] == SPEEDS_KPH["drive"]["residential"]
    assert by_row[12][0][2]["highway"] == CHINESE_ROAD_CLASSES["村道"] == "unclassified"
    (u13, v13, d13) = by_row[13][0]  # oneway=-1: drawn E->F, driven F->E
    assert d13["reversed"] and d13["highway"] == "track" and d13["speed_kph"] == 12.0
    assert G.nodes[u13]["x"] > G.nodes[v13]["x"]
    # node ids numbered from the sorted end-point coordinates: A has the smallest lon
    a_id = min(G.nodes, key=lambda n: (G.nodes[n]["x"], G.nodes[n]["y"]))
    assert a_id == 0
    assert G.graph["components"] == [4, 2]
    summary = graph_summary(G)
    assert summary["road_km"] == pytest.approx(sum(true_m[:4]) / 1000, rel=1e-9)
    assert summary["n_oneway_edges"] == 2
    walk = graph_from_roads(roads, mode="walk")
    assert walk.number_of_edges() == 10
    assert {d["speed_kph"] for *_, d in walk.edges(data=True)} == {WALK_SPEED_KPH}


def test_roads_round_trip():
    G = graph_from_roads(utm_roads())
    layer = roads_from_graph(G)
    assert list(layer.columns) == [
        "u", "v", "key", "highway", "name", "length_m", "speed_kph", "oneway", "travel_time_s",
        "geometry",
    ]  # fmt: skip
    assert layer.crs.to_epsg() == 4326
    assert len(layer) == 4  # one row per road
    H = graph_from_roads(layer)
    assert edge_set(H) == edge_set(G)
    assert sum(nx.get_edge_attributes(H, "travel_time").values()) == pytest.approx(
        sum(nx.get_edge_attributes(G, "travel_time").values())
    )


def test_roads_and_nodes_from_osm_graph(real_graphs):
    G = real_graphs["osm_shanghai_huangpu_drive.osm"]
    layer = roads_from_graph(G)
    summary = graph_summary(G)
    assert layer["length_m"].sum() / 1000 == pytest.approx(summary["road_km"])
    twins = sum(
        1 for u, v, k, d in G.edges(keys=True, data=True) if not d["oneway"] and d["reversed"]
    )
    assert len(layer) == G.number_of_edges() - twins
    nodes = nodes_from_graph(G)
    assert nodes.index.name == "node"
    assert list(nodes.columns) == ["x", "y", "component", "geometry"]
    assert len(nodes) == len(G)
    n = next(iter(G.nodes))
    assert nodes.loc[n, "component"] == G.nodes[n]["component"]
    assert nodes.geometry[n].x == G.nodes[n]["x"]


def test_graph_from_roads_errors():
    roads = utm_roads()
    with pytest.raises(CRSError, match="`roads` has no CRS"):
        graph_from_roads(roads.set_crs(None, allow_override=True))
    with pytest.raises(MissingColumnError, match="no column 'highway'"):
        graph_from_roads(roads.drop(columns="highway"))
    bad = roads.copy()
    bad.loc[12, "geometry"] = Point(X0, Y0)
    with pytest.raises(InvalidGeometryError, match=r"rows \[12\].*Point"):
        graph_from_roads(bad)
    bad = roads.copy()
    bad["oneway"] = ["yes", "maybe", None, None, None]
    with pytest.raises(InputError, match=r"`oneway` has unreadable values in rows \[11\]"):
        graph_from_roads(bad)
    with pytest.raises(EmptyDataError, match="no rows"):
        graph_from_roads(roads.iloc[:0])
    with pytest.raises(GraphError, match="usable in 'drive' mode"):
        graph_from_roads(roads.iloc[[4]])
    with pytest.raises(InputError, match="must be a GeoDataFrame"):
        graph_from_roads(pd.DataFrame(roads))
    with pytest.warns(UserWarning, match="not road classes"):
        graph_from_roads(roads.assign(highway=["国道", "runway", "村道", "机耕道", "footway"]))


def test_graph_from_roads_multilines_and_given_ids():
    lines = gpd.GeoDataFrame(
        {"highway": ["tertiary", "tertiary"], "u": [7, 8], "v": [8, 9]},
        geometry=[
            LineString([(LON0, LAT0), (LON0 + STEP, LAT0)]),
            LineString([(LON0 + STEP, LAT0), (LON0 + 2 * STEP, LAT0)]),
        ],
        crs="EPSG:4326",
    )
    G = graph_from_roads(lines)
    assert set(G.nodes) == {7, 8, 9}
    multi = gpd.GeoDataFrame(
        {"highway": ["tertiary"]},
        geometry=[shapely.MultiLineString(list(lines.geometry))],
        crs="EPSG:4326",
    )
    shifted = lines.assign(u=[7, 9], v=[8, 8])  # row 1 drawn 8->9 but labelled 9->8
    with pytest.warns(UserWarning, match=r"do not end at the position.*rows \[1\]"):
        graph_from_roads(shifted)
    M = graph_from_roads(multi)
    assert M.number_of_edges() == 4
    assert graph_summary(M)["road_km"] == pytest.approx(
        2 * geod_m([(LON0, LAT0), (LON0 + STEP, LAT0)]) / 1000, rel=1e-9
    )


def test_label_components_is_pure_and_deterministic():
    H = nx.MultiDiGraph(crs="EPSG:4326")
    H.add_edges_from([(5, 6), (6, 7), (1, 2), (3, 4), (4, 3)])
    G = label_components(H)
    assert "component" not in H.nodes[1] and "components" not in H.graph
    comp = nx.get_node_attributes(G, "component")
    assert comp[5] == comp[6] == comp[7] == 0
    # two pieces of size 2: the one holding the smaller node id comes first
    assert comp[1] == comp[2] == 1
    assert comp[3] == comp[4] == 2
    assert G.graph["components"] == [3, 2, 2]


def test_fast_graph_assembly_equals_the_public_networkx_api(roads_dir):
    # graph_from_* fill the adjacency dicts directly for speed; the result must be the graph
    # that networkx's own add_nodes_from/add_edges_from build from the same data
    G = graph_from_osm(roads_dir / "andorra_graphhopper.osm.pbf")
    H = nx.MultiDiGraph()
    H.graph.update(G.graph)
    H.add_nodes_from(G.nodes(data=True))
    H.add_edges_from(G.edges(keys=True, data=True))
    assert nx.utils.graphs_equal(G, H)
    assert dict(G.in_degree()) == dict(H.in_degree())
    assert dict(G.out_degree()) == dict(H.out_degree())
    for u, v, k in list(G.edges(keys=True))[:500]:
        assert G.pred[v][u][k] is G.succ[u][v][k]
    R = G.reverse(copy=True)
    assert R.number_of_edges() == G.number_of_edges()
    src = next(iter(G.nodes))
    assert nx.single_source_dijkstra_path_length(
        G, src, weight="travel_time"
    ) == nx.single_source_dijkstra_path_length(H, src, weight="travel_time")


# --------------------------------------------------------------------------- roads layers by mode


def edges_in_order(G) -> list[tuple]:
    """Every edge with its ends, travel time and shape, in the graph's own order."""
    return [
        (u, v, d["travel_time"], d["highway"], d["oneway"], tuple(d["geometry"].coords))
        for u, v, d in G.edges(data=True)
    ]


def pairs_and_times(G) -> tuple[list[tuple], np.ndarray]:
    """The edges' node pairs, sorted, and their travel times in the same order."""
    edges = sorted((u, v, d["travel_time"]) for u, v, d in G.edges(data=True))
    return [e[:2] for e in edges], np.array([e[2] for e in edges])


def mode_values(layer: gpd.GeoDataFrame, mode: str) -> list[tuple]:
    """(usable, speed or None, direction) of each row for one mode."""
    speeds = layer[f"{mode}_speed_kph"].astype(object).where(layer[mode], None)
    return list(zip(layer[mode], speeds, layer[f"{mode}_oneway"], strict=True))


def test_roads_for_modes_by_hand():
    roads = utm_roads()
    layer = roads_for_modes(roads)
    assert has_mode_columns(layer) and not has_mode_columns(roads)
    assert layer.crs.to_epsg() == 4326 and len(layer) == 5
    assert layer["highway"].tolist() == ["trunk", "residential", "unclassified", "track", "footway"]
    # the speeds of the plain rules, by hand: a given speed_kph replaces the class default in
    # drive mode and caps it for two-wheelers (25 km/h at most); walkers ignore one-way tags
    assert mode_values(layer, "drive") == [
        (True, 36.0, 0), (True, 20.0, 1), (True, 36.0, 0), (True, 12.0, -1), (False, None, 0),
    ]  # fmt: skip
    assert mode_values(layer, "two_wheeler") == [
        (True, 25.0, 0), (True, 18.0, 1), (True, 22.0, 0), (True, 12.0, -1), (True, 8.0, 0),
    ]  # fmt: skip
    assert mode_values(layer, "walk") == [(True, WALK_SPEED_KPH, 0)] * 5
    lines = gpd.GeoSeries(roads.geometry, crs=roads.crs).to_crs(4326)
    assert layer["length_m"].to_numpy() == pytest.approx([geod_m(g.coords) for g in lines])
    # each mode's graph of the layer is the graph of the plain layer, edge by edge (the nodes
    # are numbered alike; the layer names them, so they come in the order they appear there)
    for mode in ("drive", "two_wheeler", "walk"):
        got, want = graph_from_roads(layer, mode=mode), graph_from_roads(roads, mode=mode)
        assert sorted(edges_in_order(got)) == sorted(edges_in_order(want))
        assert dict(got.nodes(data=True)) == dict(want.nodes(data=True))
    # a layer by mode is kept as it is
    again = roads_for_modes(layer)
    assert again is not layer and again.equals(layer)
    with pytest.raises(InputError, match="speeds_kph"):
        roads_for_modes(layer, speeds_kph={"drive": {"track": 5.0}})
    with pytest.raises(InputError, match="speeds_kph"):
        graph_from_roads(layer, speeds_kph={"track": 5.0})


def test_roads_for_modes_warns_once_and_leaves_out_rows_of_no_mode():
    roads = utm_roads()
    roads.loc[14, "highway"] = "runway"
    with pytest.warns(UserWarning, match="runway") as caught:
        layer = roads_for_modes(roads, speeds_kph={"drive": {"track": 6.0}})
    assert len([w for w in caught if "runway" in str(w.message)]) == 1
    assert len(layer) == 4 and "runway" not in set(layer["highway"])
    assert layer["drive_speed_kph"].tolist()[3] == 6.0
    assert layer["two_wheeler_speed_kph"].tolist()[3] == 12.0
    with pytest.raises(InputError, match="modes"):
        roads_for_modes(roads, speeds_kph={"bus": {"track": 6.0}})
    with pytest.raises(GraphError, match="any mode"), pytest.warns(UserWarning, match="runway"):
        roads_for_modes(roads.assign(highway="runway"))


BY_MODE_NODES = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (1, 1), 5: (3, 0)}
BY_MODE_WAYS = [
    (11, [1, 2, 3], {"highway": "residential", "oneway": "yes"}),
    (12, [2, 4], {"highway": "footway"}),
    (13, [3, 5], {"highway": "footway", "bicycle": "yes"}),
    (14, [1, 4], {"highway": "service", "motor_vehicle": "no"}),
]


def test_roads_from_osm_by_hand(tmp_path):
    path = write_osm(tmp_path / "modes.osm", BY_MODE_NODES, BY_MODE_WAYS)
    layer = roads_from_osm(path)
    values = zip(*(mode_values(layer, m) for m in ("drive", "two_wheeler", "walk")), strict=True)
    rows = dict(
        zip(zip(layer["u"], layer["v"], layer["highway"], strict=True), values, strict=True)
    )
    no = (False, None, 0)
    walk = (True, WALK_SPEED_KPH, 0)
    # by hand: trucks and two-wheelers ride the one-way street 1-2-3 through node 2 (nothing
    # else of theirs meets it there), walkers also take the footway 2-4, so for them the street
    # is two pieces; a footway is a two-wheeler's only where bicycles are allowed; the service
    # road closed to motor vehicles is open to two-wheelers and walkers
    assert rows == {
        (1, 3, "residential"): ((True, 20.0, 1), (True, 18.0, 1), no),
        (1, 2, "residential"): (no, no, walk),
        (2, 3, "residential"): (no, no, walk),
        (2, 4, "footway"): (no, no, walk),
        (3, 5, "footway"): (no, (True, 8.0, 0), walk),
        (1, 4, "service"): (no, (True, 15.0, 0), walk),
    }
    one_way = layer.geometry[(layer["u"] == 1) & (layer["v"] == 3)].iloc[0]
    assert one_way.coords[0] == pytest.approx((LON0, LAT0))  # drawn the way it is driven
    assert len(one_way.coords) == 3
    for mode in ("drive", "two_wheeler", "walk"):
        pairs, times = pairs_and_times(graph_from_roads(layer, mode=mode))
        want_pairs, want_times = pairs_and_times(graph_from_osm(path, mode=mode))
        assert pairs == want_pairs
        assert np.abs(times - want_times).max() < 1e-6


def test_roads_from_osm_without_roads_of_a_mode(tmp_path):
    only_foot = write_osm(
        tmp_path / "foot.osm", {1: (0, 0), 2: (1, 0)}, [(1, [1, 2], {"highway": "steps"})]
    )
    layer = roads_from_osm(only_foot)
    assert layer[["drive", "two_wheeler", "walk"]].values.tolist() == [[False, False, True]]
    with pytest.raises(GraphError, match="'drive'"):
        graph_from_roads(layer, mode="drive")
    assert graph_from_roads(layer, mode="walk").number_of_edges() == 2
    with pytest.raises(GraphError, match=r"no road of any mode .* inside `boundary`"):
        roads_from_osm(only_foot, boundary=box(100, 20, 100.01, 20.01))
    with pytest.raises(NotFoundError):
        roads_from_osm(tmp_path / "missing.osm.pbf")
    with pytest.raises(InputError, match="modes"):
        roads_from_osm(only_foot, speeds_kph={"steps": 2.0})  # type: ignore[dict-item]


def test_roads_from_graphs_pairs_an_edge_with_its_reverse_and_checks_its_input(tmp_path):
    path = write_osm(tmp_path / "modes.osm", BY_MODE_NODES, BY_MODE_WAYS)
    walk = graph_from_osm(path, mode="walk")
    layer = roads_from_graphs({"walk": walk})
    # every walk edge has its reverse: one row per street piece, none of another mode
    assert len(layer) == walk.number_of_edges() / 2 == 5
    assert not layer["drive"].any() and not layer["two_wheeler"].any()
    with pytest.raises(InputError, match="graphs"):
        roads_from_graphs({})
    with pytest.raises(InputError, match="graphs"):
        roads_from_graphs({"bus": walk})
    projected = walk.copy()
    projected.graph["crs"] = "EPSG:3857"
    with pytest.raises(CRSError, match="EPSG:4326"):
        roads_from_graphs({"walk": projected})
    with pytest.raises(GraphError, match="edges"):
        roads_from_graphs({"walk": nx.MultiDiGraph(crs="EPSG:4326")})


def test_a_layer_by_mode_is_checked():
    layer = roads_for_modes(utm_roads())
    with pytest.raises(MissingColumnError, match="walk_oneway"):
        graph_from_roads(layer.drop(columns="walk_oneway"))
    with pytest.raises(InputError, match="drive_speed_kph"):
        graph_from_roads(layer.assign(drive_speed_kph=0.0))
    with pytest.raises(InputError, match="`walk`"):
        graph_from_roads(layer.assign(walk="maybe"), mode="walk")
    with pytest.raises(InputError, match="two_wheeler_oneway"):
        graph_from_roads(layer.assign(two_wheeler_oneway="sideways"), mode="two_wheeler")
    with pytest.raises(GraphError, match="'walk'"):
        graph_from_roads(layer.assign(walk=False), mode="walk")
    # yes/no flags as text, and the rows a mode does not use whatever their speed
    text = layer.assign(
        walk=np.where(layer["walk"], "yes", "no"), drive_speed_kph=layer["drive_speed_kph"]
    )
    r = road_lines(text, "drive", None)
    assert r.keep.tolist() == [True, True, True, True, False]
    assert np.isnan(r.speed_kph[4])
