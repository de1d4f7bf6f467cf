"""The county map's places: labels, roads, rivers, village-grid tooltips, the gaps by village
and the problem-village list (maps/places.py and their drawing in maps/overview.py)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import folium
import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

import gridgeo
from gridgeo import InputError, MissingColumnError, sample, workspace
from maps.overview import LAYER_NAMES, county_overview_map, save_offline
from maps.places import (
    ROAD_SIMPLIFY_M,
    MapPlaces,
    base_roads,
    gap_villages,
    problem_villages,
    read_map_places,
    road_labels,
    simplify_coverage,
)

WGS84 = "EPSG:4326"
UTM50 = "EPSG:32650"
CHINA = ZoneInfo("Asia/Shanghai")


def _small_county(**places: Any) -> dict[str, Any]:
    """A 0.2 x 0.2 degree county with one supply grid split into two village grids."""
    county = gpd.GeoDataFrame(
        {"adcode": ["361023"], "name": ["南丰县"]},
        geometry=[box(116.4, 27.0, 116.6, 27.2)],
        crs=WGS84,
    )
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T2-A", "T3-A-01", "T3-A-02"],
            "tier": [2, 3, 3],
            "parent_id": [None, "T2-A", "T2-A"],
            "name": ["琴城110kV变电站供电网格", "琴城110kV变电站网格7", "琴城110kV变电站网格8"],
            "manager": ["张三", "王五", None],
            "villages": [None, "V1，V2", "V3"],
        },
        geometry=[
            box(116.4, 27.0, 116.6, 27.2),
            box(116.4, 27.0, 116.5, 27.2),
            box(116.5, 27.0, 116.6, 27.2),
        ],
        crs=WGS84,
    )
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs=WGS84)
    default = MapPlaces(
        towns=gpd.GeoDataFrame(
            {"town": ["琴城镇", "白舍镇"]},
            geometry=[Point(116.45, 27.1), Point(116.55, 27.1)],
            crs=WGS84,
        ),
        villages=gpd.GeoDataFrame(
            {
                "village_code": ["V1", "V2", "V3"],
                "village": ["曾家丰村", "进贤村", "西坪村"],
                "town": ["琴城镇", "琴城镇", "白舍镇"],
            },
            geometry=[Point(116.41, 27.01), Point(116.45, 27.15), Point(116.57, 27.18)],
            crs=WGS84,
        ),
        roads=gpd.GeoDataFrame(
            {"highway": ["trunk", "trunk", "residential"], "name": ["G206国道", "G206国道", None]},
            geometry=[
                LineString([(116.5, 27.0), (116.5, 27.1)]),
                LineString([(116.5, 27.1), (116.5, 27.2)]),
                LineString([(116.41, 27.01), (116.45, 27.05)]),
            ],
            crs=WGS84,
        ),
        data_date="2026-12-06",
        version=7,
    )
    return {
        "county": county,
        "grids": grids,
        "substations": empty,
        "repair_stations": empty,
        "payment_points": empty,
        "places": MapPlaces(**{**default.__dict__, **places}),
    }


def _calls(m: folium.Map, function: str) -> list[tuple[Any, ...]]:
    """The arguments of every ``ggMap.<function>`` call drawn on the map."""
    found = []
    stack = [m]
    while stack:
        element = stack.pop()
        for child in element._children.values():
            if getattr(child, "function", None) == function:
                found.append(child.data)
            stack.append(child)
    return found


def _labels(m: folium.Map, css: str) -> list[list[Any]]:
    return [item for items, cls in _calls(m, "labels") if cls == css for item in items]


def _problems(page: str) -> list[dict[str, str]]:
    block = page[page.index('id="gg-problems"') :]
    block = block[: block.index("</ol>")]
    return [
        dict(re.findall(r'(data-[a-z]+)="([^"]*)"', li))
        | {"text": re.sub(r"<[^>]+>", "", li.split(">", 1)[1])}
        for li in re.findall(r"<li [^>]*>.*?</li>", block)
    ]


# --------------------------------------------------------------------------- labels, base


def test_township_village_and_road_labels(tmp_path):
    m = county_overview_map(**_small_county())
    assert _labels(m, "gg-label-township") == [
        [27.1, 116.45, "琴城镇", ""],
        [27.1, 116.55, "白舍镇", ""],
    ]
    assert [v[2] for v in _labels(m, "gg-label-village")] == ["曾家丰村", "进贤村", "西坪村"]
    # the national road's two pieces are one road: one label, in the middle of 27.0 .. 27.2
    assert _labels(m, "gg-label-road") == [[27.1, 116.5, "G206国道", "road9"]]
    # villages show from zoom 12 on, each road class from its own zoom
    ((zooms,),) = _calls(m, "zoomClasses")
    assert zooms["village"] == 12 and zooms["road9"] == 9
    page = save_offline(m, tmp_path / "map.html").read_text(encoding="utf-8")
    assert "ggMap.labels(" in page and ".gg-label-township" in page
    assert "gg.zoomClasses = function" in page  # gg-labels.js inlined


def test_labels_cannot_break_out_of_the_script():
    evil = "</script><script>alert(1)</script>"
    villages = gpd.GeoDataFrame(
        {"village_code": ["V1"], "village": [evil]}, geometry=[Point(116.41, 27.01)], crs=WGS84
    )
    m = county_overview_map(**_small_county(villages=villages))
    page = m.get_root().render()
    assert evil not in page
    assert "<\\/script><script>alert(1)<\\/script>" in page  # a string inside the JSON


def test_title_date_and_version():
    page = county_overview_map(**_small_county()).get_root().render()
    assert "<title>南丰县供电服务网格图 · 数据 2026-12-06 · 版本 7</title>" in page
    assert "数据 2026-12-06 · 版本 7" in page and "grids version 7" in page
    assert 'id="gg-edition"' in page
    bare = county_overview_map(**{**_small_county(), "places": None}).get_root().render()
    assert "<title>南丰县供电服务网格图</title>" in bare and 'id="gg-edition"' not in bare


def test_village_grid_tooltips_name_the_villages_and_manager():
    m = county_overview_map(**_small_county())
    group = next(
        c
        for c in m._children.values()
        if isinstance(c, folium.FeatureGroup) and c.layer_name == LAYER_NAMES["village_grids"]
    )
    (geojson,) = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    tips = {f["properties"]["grid_id"]: f["properties"]["tip"] for f in geojson.data["features"]}
    assert tips["T3-A-01"] == "琴城110kV变电站网格7（网格长 王五）<br>村 villages：曾家丰村、进贤村"
    assert tips["T3-A-02"] == "琴城110kV变电站网格8（网格长 —）<br>村 villages：西坪村"
    popup = geojson.data["features"][0]["properties"]["popup_html"]
    assert "曾家丰村、进贤村" in popup and "所属供电网格" in popup and "张三" in popup


def test_roads_merged_by_class_and_simplified_within_the_tolerance():
    # a lane that zigzags 3 m off a straight line, and a bend of 100 m: in metres (UTM 50)
    to_utm = gpd.GeoSeries([Point(116.5, 27.1)], crs=WGS84).to_crs(UTM50)
    x0, y0 = to_utm.iloc[0].x, to_utm.iloc[0].y
    zigzag = [(x0 + 50 * i, y0 + (3 if i % 2 else 0)) for i in range(21)]
    bend = [(x0, y0 + 500), (x0 + 500, y0 + 600), (x0 + 1000, y0 + 500)]
    roads = gpd.GeoDataFrame(
        {"highway": ["residential", "track", "trunk"]},
        geometry=[
            LineString(zigzag),
            LineString(bend),
            LineString([(x0, y0 - 900), (x0, y0 - 100)]),
        ],
        crs=UTM50,
    )
    base = base_roads(roads)
    assert base["group"].tolist() == ["national", "local"]  # main roads first
    assert base["min_zoom"].tolist() == [0, 12]
    assert str(base.crs) == WGS84
    local = base.set_index("group").geometry["local"]
    parts = shapely.get_parts(local)
    assert len(parts) == 2
    # the zigzag is straightened (2 points), the bend keeps its corner (3 points)
    assert sorted(len(p.coords) for p in parts) == [2, 3]
    # independent check: every input line lies within the tolerance (+1 m of rounding) of the
    # drawn one, measured in metres
    drawn = gpd.GeoSeries([local], crs=WGS84).to_crs(UTM50).iloc[0]
    for line in roads.geometry.iloc[:2]:
        assert line.hausdorff_distance(drawn.intersection(line.buffer(20))) <= ROAD_SIMPLIFY_M + 1.5


def test_road_labels_one_per_named_main_road():
    roads = gpd.GeoDataFrame(
        {
            "highway": ["motorway", "motorway_link", "tertiary", "residential", "primary"],
            "name": ["G35济广高速", "G35济广高速琴城互通匝道", "Y173乡道", "江心洲路", ""],
        },
        geometry=[LineString([(116.5, 27.0), (116.5, 27.2)])] * 5,
        crs=WGS84,
    )
    labels = road_labels(roads)
    # ramps, lanes and unnamed roads get no label; the expressway first (shown from zoom 9)
    assert labels[["name", "min_zoom"]].values.tolist() == [["G35济广高速", 9], ["Y173乡道", 12]]
    assert labels[["lat", "lon"]].values.tolist()[0] == pytest.approx([27.1, 116.5], abs=1e-5)


def test_rivers_are_drawn_when_the_workspace_has_them():
    rivers = gpd.GeoDataFrame(
        {"name": ["盱江"]}, geometry=[LineString([(116.52, 27.0), (116.52, 27.2)])], crs=WGS84
    )
    m = county_overview_map(**_small_county(rivers=rivers))
    names = {c.layer_name for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    assert LAYER_NAMES["rivers"] in names and LAYER_NAMES["roads"] in names
    bare = county_overview_map(**_small_county())
    names = {c.layer_name for c in bare._children.values() if isinstance(c, folium.FeatureGroup)}
    assert LAYER_NAMES["rivers"] not in names


def test_places_errors():
    with pytest.raises(InputError, match=r"`places` must be a maps\.places\.MapPlaces"):
        county_overview_map(**{**_small_county(), "places": {"towns": None}})
    towns = gpd.GeoDataFrame({"name": ["琴城镇"]}, geometry=[Point(116.45, 27.1)], crs=WGS84)
    with pytest.raises(MissingColumnError, match=r"`places\.towns` has no column\(s\) \['town'\]"):
        county_overview_map(**_small_county(towns=towns))
    with pytest.raises(InputError, match=r"`places\.roads` must be a GeoDataFrame"):
        county_overview_map(**_small_county(roads=pd.DataFrame({"highway": ["trunk"]})))


# --------------------------------------------------------------------------- gaps by village


def test_problem_villages_hand_made():
    # repair: V1 has 3 customers beyond 30 min (2 over the limit, 1 too far from a road), V3 1;
    # payment: V2 has 2, V3 1; C7 has no village and is not counted by village
    access = gpd.GeoDataFrame(
        {
            "customer_id": [f"C{i}" for i in range(1, 8)],
            "repair_ok": [False, False, False, True, True, False, False],
            "payment_ok": [True, True, True, False, False, False, True],
            "repair_reason": [
                "over_limit",
                "over_limit",
                "too_far_from_road",
                "ok",
                "ok",
                "over_limit",
                "over_limit",
            ],
            "payment_reason": ["ok", "ok", "ok", "over_limit", "over_limit", "over_limit", "ok"],
            "village_code": ["V1", "V1", "V1", "V2", "V2", "V3", None],
        },
        geometry=[
            Point(116.411, 27.012),
            Point(116.412, 27.011),
            Point(116.41, 27.01),
            Point(116.45, 27.15),
            Point(116.451, 27.151),
            None,
            Point(116.5, 27.1),
        ],
        crs=WGS84,
    )
    page = county_overview_map(**_small_county(), access=access).get_root().render()
    entries = _problems(page)
    assert [(e["data-village"], e["data-repair"], e["data-payment"]) for e in entries] == [
        ("V1", "3", "0"),
        ("V3", "1", "1"),
        ("V2", "0", "2"),
    ]
    assert entries[0]["text"].startswith("曾家丰村 琴城镇")
    assert "3 户抢修超30分钟（超出时限 2、离道路过远 1）" in entries[0]["text"]
    assert "3 customers beyond 30-min repair" in entries[0]["text"]
    # V1's bounds: its point and its customers' points (west, south, east, north)
    assert json.loads(html.unescape(entries[0]["data-bounds"])) == [116.41, 27.01, 116.412, 27.012]
    # V3's customer has no point: the village's own point
    assert json.loads(html.unescape(entries[1]["data-bounds"])) == [116.57, 27.18, 116.57, 27.18]
    assert "ggMap.problems(" in page


def test_gaps_by_township_at_the_county_zoom():
    # V1 and V2 lie in 琴城镇, V3 in 白舍镇 (at the townships' own points); V4 has no township
    access = gpd.GeoDataFrame(
        {
            "repair_ok": [False, False, False, False, False],
            "repair_reason": ["over_limit", "over_limit", "too_far_from_road", "over_limit", "ok"],
            "village_code": ["V1", "V2", "V2", "V3", "V4"],
        },
        geometry=[Point(116.41, 27.01)] * 5,
        crs=WGS84,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_code": ["V1", "V2", "V3", "V4"],
            "village": ["曾家丰村", "进贤村", "西坪村", "林场"],
            "town": ["琴城镇", "琴城镇", "白舍镇", None],
        },
        geometry=[
            Point(116.41, 27.01),
            Point(116.45, 27.15),
            Point(116.57, 27.18),
            Point(116.5, 27.1),
        ],
        crs=WGS84,
    )
    m = county_overview_map(**_small_county(villages=villages), access=access)
    (repair,) = [d for (d,) in _calls(m, "gaps") if d["css"] == "gg-gap-repair"]
    assert repair["townZoom"] == 11 < repair["minZoom"] == 13
    assert [t[:3] for t in repair["towns"]] == [
        [27.1, 116.45, 3],  # 琴城镇: V1 1 + V2 2, at the township's point
        [27.1, 116.5, 1],  # 林场 has no township: its own bubble, at its point
        [27.1, 116.55, 1],  # 白舍镇: V3
    ]
    assert repair["towns"][0][3].startswith("琴城镇：3 户抢修超30分钟（超出时限 2、离道路过远 1）")
    assert sum(v[2] for v in repair["villages"]) == 5


def test_no_problem_villages_says_so():
    access = gpd.GeoDataFrame(
        {"repair_ok": [True], "payment_ok": [True], "reason": ["ok"], "village_code": ["V1"]},
        geometry=[Point(116.41, 27.01)],
        crs=WGS84,
    )
    page = county_overview_map(**_small_county(), access=access).get_root().render()
    assert _problems(page) == []
    assert "没有客户超出服务承诺" in page


def test_gap_villages_needs_the_village_column():
    gaps = gpd.GeoDataFrame({"reason": ["over_limit"]}, geometry=[Point(116.5, 27.1)], crs=WGS84)
    with pytest.raises(MissingColumnError, match="`village_code`"):
        gap_villages(gaps)
    assert problem_villages({}).empty


@pytest.fixture(scope="module")
def sample_county() -> dict[str, Any]:
    """The bundled sample county with its customers' repair and payment access."""
    county = sample.load_sample()
    engines = gridgeo.engines_from_roads(county.roads)
    access = gridgeo.customer_access(
        engines["repair"],
        engines["payment"],
        county.customers,
        county.repair_stations,
        county.payment_points,
    )
    return {"county": county, "access": access}


def test_a_problem_village_of_the_sample(sample_county):
    county, access = sample_county["county"], sample_county["access"]
    customers = county.customers
    frame = gpd.GeoDataFrame(
        access.assign(village_code=customers["village_code"].to_numpy()),
        geometry=customers.geometry.to_numpy(),
        crs=customers.crs,
    )
    tier1 = gpd.GeoDataFrame(
        {"grid_id": ["T1"], "tier": [1]},
        geometry=county.county.geometry.to_numpy(),
        crs=county.county.crs,
    )
    places = MapPlaces(towns=county.towns, villages=county.villages, roads=county.roads)
    m = county_overview_map(
        county=county.county,
        grids=tier1,
        substations=county.substations,
        repair_stations=county.repair_stations,
        payment_points=county.payment_points,
        access=frame,
        places=places,
    )
    entries = _problems(m.get_root().render())
    assert len(entries) == 30
    # independent count with pandas: customers beyond the 30-min promise, by village
    joined = pd.DataFrame(
        {
            "village_code": customers["village_code"].astype(str),
            "repair_ok": access["repair_ok"].astype(bool),
            "eta": access["repair_eta_s"],
        }
    )
    beyond = joined[~joined["repair_ok"]].groupby("village_code").size()
    over_30 = joined[joined["eta"] > 30 * 60].groupby("village_code").size()
    worst = beyond.sort_values(ascending=False).index[0]
    assert entries[0]["data-village"] == worst
    for entry in entries:
        code = entry["data-village"]
        assert int(entry["data-repair"]) == beyond.get(code, 0), code
        if code in over_30.index:
            assert f"超出时限 {over_30[code]:,d}" in entry["text"], (code, entry["text"])
    name = county.villages.set_index("village_code").loc[worst, "village"]
    assert entries[0]["text"].startswith(name)
    # the village's bubble on the map carries the same count
    (repair,) = [d for (d,) in _calls(m, "gaps") if d["css"] == "gg-gap-repair"]
    bubbles = {tip.split("：")[0]: n for _lat, _lon, n, tip in repair["villages"]}
    assert bubbles[name] == beyond[worst]


def test_read_map_places_from_a_workspace(tmp_path):
    county = sample.load_sample()
    layers = {n: getattr(county, n) for n in workspace.WORKSPACE_KEYS if n != "grids"}
    roads = gridgeo.roads_from_graph(gridgeo.graph_from_roads(county.roads))
    before = dt.datetime.now(CHINA).date()
    store = workspace.create_workspace(
        tmp_path / "ws.gpkg", layers, roads=roads, author="t", reason="t"
    )
    after = dt.datetime.now(CHINA).date()
    places = read_map_places(store)
    assert len(places.villages) == len(county.villages)
    assert set(places.towns["town"]) == set(county.towns["town"])
    assert len(places.roads) == len(roads) and "highway" in places.roads
    assert places.rivers is None
    assert places.version is None  # no grids yet
    assert before.isoformat() <= places.data_date <= after.isoformat()
    # a county's own river layer is drawn when the workspace holds one
    river = gpd.GeoDataFrame(
        {"name": ["盱江"]}, geometry=[LineString([(116.52, 27.0), (116.52, 27.3)])], crs=WGS84
    )
    gridgeo.write_layer(river, store.path, "rivers")
    assert read_map_places(store).rivers["name"].tolist() == ["盱江"]


def test_grids_simplified_as_a_coverage_without_gaps():
    # two grids sharing an edge that wiggles 1 m (in UTM 50) every 50 m: each kink is a
    # triangle of 100 x 1 / 2 = 50 m^2, under the tolerance's (10 m)^2 even in degrees
    x0, y0 = 500_000.0, 3_000_000.0
    edge = [(x0 + 1000 + (1 if i % 2 else 0), y0 + 50 * i) for i in range(21)]
    west = shapely.Polygon([(x0, y0), *edge, (x0, y0 + 1000)])
    east = shapely.Polygon([(x0 + 2000, y0), (x0 + 2000, y0 + 1000), *edge[::-1]])
    grids = gpd.GeoDataFrame({"grid_id": ["W", "E"]}, geometry=[west, east], crs=UTM50)
    out = simplify_coverage(grids)
    assert str(out.crs) == WGS84 and out["grid_id"].tolist() == ["W", "E"]
    metric = out.to_crs(UTM50).geometry
    # the wiggle is gone and both grids share the same straightened edge:
    # no overlap and no gap between them (checked with shapely in metres)
    assert shapely.get_num_coordinates(metric.iloc[0]) < shapely.get_num_coordinates(west)
    assert metric.iloc[0].intersection(metric.iloc[1]).area < 1.0
    union = shapely.union_all(metric.to_numpy())
    assert abs(union.area - shapely.union_all([west, east]).area) < 1.0
    assert isinstance(union, shapely.Polygon) and not union.interiors
    # overlapping polygons (no clean coverage) are simplified one by one
    overlapping = gpd.GeoDataFrame(geometry=[west, west.buffer(10)], crs=UTM50)
    assert simplify_coverage(overlapping).is_valid.all()
