"""Roads layers from any source: Chinese road classes, route numbers, speed/one-way columns."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import LineString, Point

from gridgeo import io
from gridgeo.cli import main
from gridgeo.errors import InputError, MissingColumnError
from gridgeo.network import (
    MODES,
    graph_from_roads,
    road_class_to_highway,
    roads_for_modes,
)

GK = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
# about 116.53 E, 27.21 N (琴城镇, Nanfeng) in GK metres
X0, Y0 = 453_500.0, 3_010_000.0
GEOD = pyproj.Geod(ellps="WGS84")

# the documented table, written by hand: Chinese class -> OSM highway
BY_HAND = {
    "高速公路": "motorway",
    "国道": "trunk",
    "省道": "primary",
    "县道": "secondary",
    "乡道": "tertiary",
    "村道": "unclassified",
    "专用公路": "service",
    "机耕道": "track",
    "人行道": "footway",
}
# route numbers of the same classes
CODES = {
    "高速公路": "G35",
    "国道": "G206",
    "省道": "S223",
    "县道": "X512",
    "乡道": "Y001",
    "村道": "C003",
    "专用公路": "Z101",
}


def county_lines() -> list[LineString]:
    """Eleven lines split at their junctions on a 1 km grid, with a few bends."""
    p = {
        (i, j): (X0 + 1000 * i, Y0 + 1000 * j)  # grid points
        for i in range(4)
        for j in range(3)
    }
    return [
        LineString([p[0, 0], p[1, 0]]),
        LineString([p[1, 0], p[2, 0]]),
        LineString([p[2, 0], p[3, 0]]),
        LineString([p[0, 0], (X0 + 300, Y0 + 600), p[0, 1]]),
        LineString([p[1, 0], p[1, 1]]),
        LineString([p[0, 1], p[1, 1]]),
        LineString([p[1, 1], (X0 + 1500, Y0 + 1200), p[2, 1]]),
        LineString([p[2, 1], p[2, 0]]),
        LineString([p[2, 1], p[2, 2]]),
        LineString([p[1, 1], p[1, 2]]),
        LineString([p[1, 2], p[2, 2]]),
    ]


CLASSES = ["高速公路", "国道", "省道", "县道", "乡道", "村道", "村道", "专用公路", "机耕道",
           "人行道", "乡道"]  # fmt: skip


def chinese_layer(column: str = "road_class", values: list[str] | None = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            column: CLASSES if values is None else values,
            "名称": [f"路{k}" for k in range(len(CLASSES))],
            "oneway": ["是"] + ["否"] * (len(CLASSES) - 1),  # the expressway is one-way
        },
        geometry=county_lines(),
        crs=GK,
    )


def osm_twin() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "highway": [BY_HAND[c] for c in CLASSES],
            "name": [f"路{k}" for k in range(len(CLASSES))],
            "oneway": ["yes"] + ["no"] * (len(CLASSES) - 1),
        },
        geometry=county_lines(),
        crs=GK,
    )


def edge_table(G: nx.MultiDiGraph) -> list[tuple]:
    """Edges by their end coordinates (ids aside), with rounded length and travel time."""
    rows = []
    for u, v, d in G.edges(data=True):
        a, b = G.nodes[u], G.nodes[v]
        rows.append(
            (round(a["x"], 7), round(a["y"], 7), round(b["x"], 7), round(b["y"], 7),
             d["highway"], round(d["length"], 6), round(d["travel_time"], 6))
        )  # fmt: skip
    return sorted(rows)


def reach_times(G: nx.MultiDiGraph, sources: int = 3) -> list[dict]:
    """NetworkX Dijkstra travel times from the first nodes (by position), keyed by position."""
    pos = {n: (round(d["x"], 7), round(d["y"], 7)) for n, d in G.nodes(data=True)}
    out = []
    for s in sorted(G.nodes, key=lambda n: pos[n])[:sources]:
        t = nx.single_source_dijkstra_path_length(G, s, weight="travel_time")
        out.append({pos[n]: round(v, 6) for n, v in t.items()})
    return out


def assert_same_graphs(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    for mode in MODES:
        ga, gb = graph_from_roads(a, mode=mode), graph_from_roads(b, mode=mode)
        assert ga.number_of_nodes() == gb.number_of_nodes() > 0, mode
        assert ga.number_of_edges() == gb.number_of_edges() > 0, mode
        assert edge_table(ga) == edge_table(gb), mode
        assert reach_times(ga) == reach_times(gb), mode


# --------------------------------------------------------------------------- the class table


@pytest.mark.parametrize(
    ("value", "highway"),
    [
        # national expressways: 1-2 digits, 4 digits (regional/ring), a parallel-line letter
        ("G35", "motorway"),
        ("G1", "motorway"),
        ("G1501", "motorway"),
        ("G4W2", "motorway"),
        # ordinary national roads: 3 digits (1xx radial, 2xx N-S, 3xx E-W, 5xx links)
        ("G206", "trunk"),
        ("g105", "trunk"),
        ("G", "trunk"),
        # provincial expressways (1-2 or 4 digits) and ordinary provincial roads (3 digits)
        ("S40", "motorway"),
        ("S223", "primary"),
        ("X512", "secondary"),
        ("Y001", "tertiary"),
        ("C", "unclassified"),
        ("Z101", "service"),
        (" 县道 ", "secondary"),
        ("城区道路", "residential"),
        ("主干路", "primary"),
        ("次干路", "secondary"),
        ("支路", "residential"),
        ("二级公路", "primary"),
        ("residential", "residential"),
        ("其他", None),
        ("", None),
        (None, None),
    ],
)
def test_road_class_to_highway(value, highway):
    assert road_class_to_highway(value) == highway


# --------------------------------------------------------------------------- same engine


def test_gauss_kruger_shapefile_with_chinese_classes_gives_the_osm_twin_graphs(tmp_path):
    shp = tmp_path / "roads.shp"
    chinese_layer().to_file(shp, encoding="utf-8")
    gpkg = tmp_path / "twin.gpkg"
    osm_twin().to_file(gpkg, layer="roads")
    from_shp = roads_for_modes(io.read_layer(shp))
    from_osm = roads_for_modes(io.read_layer(gpkg))
    cols = ["highway", "name", "drive", "two_wheeler", "walk", "drive_oneway", "drive_speed_kph"]
    pd.testing.assert_frame_equal(from_shp[cols], from_osm[cols])
    assert_same_graphs(from_shp, from_osm)
    # the layer read directly (no roads_for_modes) gives the same graphs too
    assert_same_graphs(io.read_layer(shp), io.read_layer(gpkg))
    # what each mode may use, from the table: the expressway is drive only, the footway not
    drive = graph_from_roads(from_shp, mode="drive")
    walk = graph_from_roads(from_shp, mode="walk")
    assert {d["highway"] for *_, d in drive.edges(data=True)} == set(BY_HAND.values()) - {"footway"}
    assert {d["highway"] for *_, d in walk.edges(data=True)} == set(BY_HAND.values()) - {"motorway"}
    # 9 two-way drive lines (2 edges each) and the one-way expressway: 19 edges on 9 nodes
    assert drive.number_of_edges() == 9 * 2 + 1
    assert drive.number_of_nodes() == 9
    assert walk.number_of_edges() == 10 * 2


def test_names_and_route_numbers_give_the_same_layer():
    names = chinese_layer()
    codes = chinese_layer(values=[CODES.get(c, c) for c in CLASSES])
    assert (codes["road_class"] != names["road_class"]).sum() == 9  # all but 机耕道, 人行道
    a, b = roads_for_modes(names), roads_for_modes(codes)
    pd.testing.assert_frame_equal(a, b)
    assert a["highway"].tolist() == [BY_HAND[c] for c in CLASSES]


@pytest.mark.parametrize("column", ["道路等级", "ROAD_CLASS", "kind", "class", "公路等级"])
def test_class_column_names(column):
    expected = roads_for_modes(osm_twin())
    got = roads_for_modes(chinese_layer(column=column))
    pd.testing.assert_frame_equal(got.drop(columns="name"), expected.drop(columns="name"))


def test_missing_osm_classes_are_filled_from_the_chinese_column():
    layer = osm_twin().assign(road_class=CLASSES)
    layer.loc[[2, 5], "highway"] = None
    layer = layer.drop(columns="oneway")
    got = roads_for_modes(layer)
    assert got["highway"].tolist() == [BY_HAND[c] for c in CLASSES]


# --------------------------------------------------------------------------- speeds, one-way


def three_edges() -> gpd.GeoDataFrame:
    """A-B-C-D east along the GK grid: 1000 m, 2000 m, 1500 m."""
    xs = [X0, X0 + 1000, X0 + 3000, X0 + 4500]
    return gpd.GeoDataFrame(
        {
            "道路等级": ["县道", "村道", "乡道"],
            "限速": ["60", None, "30公里/小时"],
            "是否单行": ["否", "是", "反向"],
            "车道数": [2, 1, None],
        },
        geometry=[LineString([(xs[k], Y0), (xs[k + 1], Y0)]) for k in range(3)],
        crs=GK,
    )


def test_speed_and_oneway_columns_are_honoured(tmp_path):
    shp = tmp_path / "three.shp"
    # GBK, as Chinese GIS software writes them: 4-character names fit the 10-byte .dbf names
    three_edges().to_file(shp, encoding="GBK")
    layer = io.read_layer(shp)
    lines = gpd.GeoSeries(three_edges().geometry, crs=GK).to_crs(4326)
    length = [GEOD.line_length(*line.xy) for line in lines]  # independent geodesic lengths
    assert all(abs(m - g) < 0.2 for m, g in zip(length, [1000, 2000, 1500], strict=True))
    lon = [lines.iloc[0].coords[0][0]] + [line.coords[-1][0] for line in lines]
    a, b, c, d = (round(x, 6) for x in lon)

    # drive: 县道 at its given 60 km/h both ways; 村道 default 25 km/h A->D only (是);
    # 乡道 at 30 km/h against its drawing (反向), so D->C only
    # two-wheeler: capped at 25 km/h; 村道 (unclassified) 22 km/h; walk 4.5 km/h both ways
    expected = {
        "drive": {(a, b): length[0] / 60 * 3.6, (b, a): length[0] / 60 * 3.6,
                  (b, c): length[1] / 25 * 3.6, (d, c): length[2] / 30 * 3.6},
        "two_wheeler": {(a, b): length[0] / 25 * 3.6, (b, a): length[0] / 25 * 3.6,
                        (b, c): length[1] / 22 * 3.6, (d, c): length[2] / 25 * 3.6},
        "walk": {(p, q): length[k] / 4.5 * 3.6
                 for k, (s, t) in enumerate([(a, b), (b, c), (c, d)])
                 for p, q in ((s, t), (t, s))},
    }  # fmt: skip
    stored = roads_for_modes(layer)
    assert stored["lanes"].tolist()[:2] == [2.0, 1.0] and np.isnan(stored["lanes"].iloc[2])
    for mode in MODES:
        G = graph_from_roads(stored, mode=mode)
        x = {n: round(G.nodes[n]["x"], 6) for n in G.nodes}
        got = {(x[u], x[v]): t for u, v, t in G.edges(data="travel_time")}
        assert got.keys() == expected[mode].keys(), mode
        for key, t in expected[mode].items():
            assert math.isclose(got[key], t, rel_tol=1e-6), (mode, key)
        if mode == "drive":  # reach: from A to C, nothing reaches D; from D only C
            node = {x[n]: n for n in G.nodes}
            from_a = nx.single_source_dijkstra_path_length(G, node[a], weight="travel_time")
            assert set(from_a) == {node[a], node[b], node[c]}
            assert math.isclose(from_a[node[c]], expected["drive"][a, b] + expected["drive"][b, c])
            from_d = nx.single_source_dijkstra_path_length(G, node[d], weight="travel_time")
            assert set(from_d) == {node[d], node[c]}


def test_unreadable_speed_and_oneway_values_are_named():
    bad_speed = three_edges().assign(限速=["60", "fast", None])
    with pytest.raises(InputError, match=r"'限速'.*\[1\].*'fast'"):
        roads_for_modes(bad_speed)
    bad_oneway = three_edges().assign(是否单行=["否", "maybe", "是"])
    with pytest.raises(InputError, match=r"'是否单行'.*\[1\].*'maybe'.*反向"):
        roads_for_modes(bad_oneway)


# --------------------------------------------------------------------------- bad layers


def test_a_layer_without_class_columns_lists_its_columns():
    layer = three_edges().drop(columns="道路等级").assign(width_m=5.0)
    with pytest.raises(MissingColumnError) as err:
        roads_for_modes(layer)
    msg = str(err.value)
    for fragment in ("'限速'", "'是否单行'", "'车道数'", "'width_m'", "road_class", "国道", "G/S"):
        assert fragment in msg
    assert "geometry" not in msg


def test_unknown_classes_are_listed_with_row_counts():
    layer = chinese_layer(values=["国道", "其他", "其他", "快速干道", *CLASSES[4:]])
    with pytest.raises(InputError, match=r"'其他' \(2 行 rows\), '快速干道' \(1 行 rows\)"):
        roads_for_modes(layer)


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")  # writing the test's Shapefile
def test_a_layer_by_mode_saved_as_shapefile_keeps_its_modes(tmp_path):
    layer = roads_for_modes(osm_twin())
    shp = tmp_path / "by_mode.shp"
    layer.to_file(shp)
    back = io.read_layer(shp)
    assert "two_whee_1" in back.columns  # the .dbf cut the names
    assert_same_graphs(back, layer)


# --------------------------------------------------------------------------- command line


def test_cli_roads_import_of_a_chinese_shapefile(tmp_path, capsys):
    shp = tmp_path / "roads.shp"
    chinese_layer().to_file(shp, encoding="utf-8")
    out = tmp_path / "roads.gpkg"
    assert main(["roads", "import", str(shp), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "km of drive roads" in captured.out and captured.err == ""
    stored = gpd.read_file(out, layer="roads")
    assert stored.crs.to_epsg() == 4326
    assert_same_graphs(stored, roads_for_modes(osm_twin()))


def test_cli_roads_import_errors_in_one_line(tmp_path, capsys):
    plain = tmp_path / "plain.gpkg"
    three_edges().drop(columns="道路等级").to_file(plain, layer="roads")
    assert main(["roads", "import", str(plain)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gridgeo: error:")
    assert "'限速'" in err[0] and "road_class" in err[0] and "Traceback" not in err[0]

    osm = tmp_path / "x.osm"
    osm.write_text("<osm version='0.6'></osm>", encoding="utf-8")
    assert main(["roads", "import", str(osm), "--datum", "gcj02"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--datum" in err[0] and "WGS84" in err[0]


def test_cli_roads_import_converts_a_gcj02_layer(tmp_path, capsys):
    src = tmp_path / "gcj.geojson"
    chinese_layer().to_crs(4326).to_file(src)
    outs = {}
    for datum in ("wgs84", "gcj02"):
        outs[datum] = tmp_path / f"{datum}.gpkg"
        args = ["roads", "import", str(src), "--datum", datum, "--out", str(outs[datum])]
        assert main(args) == 0
    capsys.readouterr()
    a = gpd.read_file(outs["wgs84"], layer="roads")
    b = gpd.read_file(outs["gcj02"], layer="roads")
    assert len(a) == len(b) == len(CLASSES)
    # GCJ-02 is 300-600 m off WGS84 around Nanfeng: every line start moved by about that much
    for la, lb in zip(a.geometry, b.geometry, strict=True):
        (x0, y0), (x1, y1) = la.coords[0], lb.coords[0]
        moved_m = GEOD.inv(x0, y0, x1, y1)[2]
        assert 200 < moved_m < 700
    assert a["highway"].tolist() == b["highway"].tolist() == [BY_HAND[c] for c in CLASSES]
    assert Point(a.geometry.iloc[0].coords[0]).distance(Point(116.53, 27.2)) < 0.1


def test_cli_workspace_init_with_a_gcj02_chinese_roads_layer(tmp_path, capsys):
    from gridgeo import workspace
    from gridgeo.store import GeoPackageStore

    roads = chinese_layer().to_crs(4326)
    area = roads.union_all().envelope.buffer(0.02)
    gpd.GeoDataFrame({"adcode": ["361023"], "name": ["南丰县"]}, geometry=[area], crs=4326).to_file(
        tmp_path / "county.geojson"
    )
    x, y = roads.geometry.iloc[5].centroid.coords[0]
    gpd.GeoDataFrame(
        {"village_code": ["361023100201"], "village": ["甲村"], "town_code": ["361023100"],
         "town": ["琴城镇"]},
        geometry=[Point(x, y)], crs=4326,
    ).to_file(tmp_path / "villages.geojson")  # fmt: skip
    gpd.GeoDataFrame(
        {"substation_id": ["s1"], "name": ["甲站"]}, geometry=[Point(x + 0.001, y)], crs=4326
    ).to_file(tmp_path / "substations.geojson")
    roads.to_file(tmp_path / "roads_gcj02.gpkg", layer="roads")  # taken as GCJ-02 numbers
    out = tmp_path / "ws.gpkg"
    args = ["workspace", "init", str(out), "--county", str(tmp_path / "county.geojson"),
            "--villages", str(tmp_path / "villages.geojson"),
            "--substations", str(tmp_path / "substations.geojson"),
            "--roads", str(tmp_path / "roads_gcj02.gpkg"), "--roads-datum", "gcj02",
            "--author", "规划 张三", "--reason", "测试"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    stored = workspace.read_roads(GeoPackageStore.open(out))
    assert stored["highway"].tolist() == [BY_HAND[c] for c in CLASSES]
    (x0, y0), (x1, y1) = roads.geometry.iloc[0].coords[0], stored.geometry.iloc[0].coords[0]
    assert 200 < GEOD.inv(x0, y0, x1, y1)[2] < 700  # moved from GCJ-02 to WGS84


def test_geofabrik_fclass_and_upper_case_columns():
    # Geofabrik's Shapefiles: oneway F = along the line, T = against it, B = both ways
    layer = gpd.GeoDataFrame(
        {"FCLASS": ["primary", "track_grade3", "footway"], "ONEWAY": ["B", "F", "T"]},
        geometry=three_edges().geometry,
        crs=GK,
    )
    got = roads_for_modes(layer)
    assert got["highway"].tolist() == ["primary", "track", "footway"]
    assert got["drive"].tolist() == [True, True, False]
    assert got["drive_oneway"].tolist() == [0, 1, 0]
    assert got["two_wheeler_oneway"].tolist() == [0, 1, -1]
    assert got["walk_oneway"].tolist() == [0, 0, 0]
    # elsewhere T/F are not read as true/false: the message names the column and row
    with pytest.raises(InputError, match=r"'ONEWAY'.*\[0, 1, 2\].*'B'"):
        roads_for_modes(
            layer.assign(FCLASS=["省道", "机耕道", "人行道"]).rename(
                columns={"FCLASS": "road_class"}
            )
        )
