"""The county overview map and its offline HTML (maps/overview.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from gridgeo import (
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    SitingResult,
)
from maps.overview import (
    LAYER_NAMES,
    REPAIR_ICON_HTML,
    STATIC_DIR,
    county_overview_map,
    offline_html,
    save_offline,
)
from maps.places import MapPlaces

WGS84 = "EPSG:4326"
UTM50 = "EPSG:32650"  # Nanfeng (116.5 E) lies in UTM zone 50
# what a browser fetches by itself: scripts, style sheets, images, frames, CSS url()/@import
# (an <a href> in the attribution is a link the reader may click, not a load)
NETWORK_LOAD = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.I,
)


def _escaped(text: str) -> str:
    """``text`` as it appears inside Folium's embedded JSON (non-ASCII as \\uXXXX)."""
    return json.dumps(text)[1:-1]


def _figure(page: str, label_zh: str) -> str | None:
    """The value shown beside ``label_zh`` in the key-figures box."""
    found = re.search(
        re.escape(label_zh) + r'<br><span class="gg-en">[^<]*</span></th><td>([^<]*)</td>', page
    )
    return found.group(1) if found else None


def _has(page: str, text: str) -> bool:
    return text in page or _escaped(text) in page


@pytest.fixture
def layers() -> dict[str, Any]:
    """A 0.2 x 0.2 degree county: two supply grids (west, east), the east one split in two;
    two townships, three villages (V1 west, V2 south-east, V3 north-east), a national road,
    a township road, a lane and a river."""
    county = gpd.GeoDataFrame(
        {"adcode": ["361023"], "name": ["南丰县"]},
        geometry=[box(116.4, 27.0, 116.6, 27.2)],
        crs=WGS84,
    )
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2-A", "T2-B", "T3-A-01", "T3-B-01", "T3-B-02"],
            "tier": [1, 2, 2, 3, 3, 3],
            "parent_id": [None, "T1", "T1", "T2-A", "T2-B", "T2-B"],
            "name": ["南丰县", "甲供电网格", "乙供电网格", "甲网格1", "乙网格1", "乙网格2"],
            "substation_id": [None, "S1", "S2", "S1", "S2", "S2"],
            "manager": [None, "张三", "李四", "王五", "赵六", "钱七"],
            "phone": [None, "13800000001", "13800000002", "13800000003", "138", "139"],
            "customers": [6.0, 2.0, 4.0, 2.0, 3.0, 1.0],
            "villages": [None, "V1", "V2，V3", "V1", "V2，V3", None],
        },
        geometry=[
            box(116.4, 27.0, 116.6, 27.2),
            box(116.4, 27.0, 116.5, 27.2),
            box(116.5, 27.0, 116.6, 27.2),
            box(116.4, 27.0, 116.5, 27.2),
            box(116.5, 27.0, 116.6, 27.1),
            box(116.5, 27.1, 116.6, 27.2),
        ],
        crs=WGS84,
    ).to_crs(UTM50)  # given in a metric CRS: the builder must bring it back to lon/lat
    substations = gpd.GeoDataFrame(
        {"substation_id": ["S1", "S2"], "name": ["甲变电站", "乙变电站"]},
        geometry=[Point(116.45, 27.1), Point(116.55, 27.1)],
        crs=WGS84,
    )
    repair_stations = gpd.GeoDataFrame(
        {"station_id": ["RS1"], "name": ["抢修中心"]}, geometry=[Point(116.45, 27.05)], crs=WGS84
    )
    payment_points = gpd.GeoDataFrame(
        {"point_id": ["P1", "P2"], "name": ["营业厅", "代收点"], "kind_zh": ["营业厅", "代收点"]},
        geometry=[Point(116.46, 27.06), Point(116.56, 27.16)],
        crs=WGS84,
    )
    access = gpd.GeoDataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "repair_ok": [True, False, True, False],
            "payment_ok": [True, True, False, False],
            "repair_eta_s": [600.0, 2400.0, 900.0, None],
            "payment_eta_s": [120.0, 300.0, 900.0, None],
            "reason": ["ok", "over_limit", "over_limit", "not_geocoded"],
            "village_code": ["V1", "V3", "V2", "V3"],
        },
        geometry=[Point(116.41, 27.01), Point(116.58, 27.19), Point(116.52, 27.03), None],
        crs=WGS84,
    )
    isochrones = gpd.GeoDataFrame(
        {
            "station_id": ["all", "all", "all", "RS1"],
            "band_s": [600.0, 1200.0, 1800.0, 600.0],
        },
        geometry=[
            Point(116.45, 27.05).buffer(0.01),
            Point(116.45, 27.05).buffer(0.02),
            Point(116.45, 27.05).buffer(0.03),
            Point(116.45, 27.05).buffer(0.01),
        ],
        crs=WGS84,
    )
    # the planner's suggestion, given out of rank order and in a metric CRS
    suggested_sites = gpd.GeoDataFrame(
        {
            "rank": [2, 1],
            "name": ["三溪村", "太源村"],
            "gain_customers": [35, 421],
            "covered_share": [0.99, 0.97],
        },
        geometry=[Point(116.42, 27.18), Point(116.58, 27.02)],
        crs=WGS84,
    ).to_crs(UTM50)
    return {
        "county": county,
        "grids": grids,
        "substations": substations,
        "repair_stations": repair_stations,
        "payment_points": payment_points,
        "access": access,
        "isochrones": isochrones,
        "suggested_sites": suggested_sites,
        "places": MapPlaces(
            towns=gpd.GeoDataFrame(
                {"town_code": ["T1", "T2"], "town": ["甲镇", "乙镇"]},
                geometry=[Point(116.45, 27.1), Point(116.55, 27.1)],
                crs=WGS84,
            ),
            villages=gpd.GeoDataFrame(
                {
                    "village_code": ["V1", "V2", "V3"],
                    "village": ["一村", "二村", "三村"],
                    "town": ["甲镇", "乙镇", "乙镇"],
                },
                geometry=[Point(116.41, 27.01), Point(116.53, 27.04), Point(116.57, 27.18)],
                crs=WGS84,
            ),
            roads=gpd.GeoDataFrame(
                {
                    "highway": ["trunk", "trunk", "tertiary", "residential"],
                    "name": ["G206国道", "G206国道", "Y173乡道", None],
                },
                geometry=[
                    LineString([(116.5, 27.0), (116.5, 27.1)]),
                    LineString([(116.5, 27.1), (116.5, 27.2)]),
                    LineString([(116.5, 27.1), (116.55, 27.1)]),
                    LineString([(116.41, 27.01), (116.45, 27.05)]),
                ],
                crs=WGS84,
            ),
            rivers=gpd.GeoDataFrame(
                {"name": ["盱江"]},
                geometry=[LineString([(116.52, 27.0), (116.52, 27.2)])],
                crs=WGS84,
            ),
            data_date="2026-12-06",
            version=7,
        ),
    }


def _group(m: folium.Map, key: str) -> folium.FeatureGroup:
    groups = [
        c
        for c in m._children.values()
        if isinstance(c, folium.FeatureGroup) and c.layer_name == LAYER_NAMES[key]
    ]
    assert len(groups) == 1, key
    return groups[0]


def _geojson_of(m: folium.Map, key: str) -> folium.GeoJson:
    (geojson,) = [c for c in _group(m, key)._children.values() if isinstance(c, folium.GeoJson)]
    return geojson


def _features(m: folium.Map, key: str) -> list[dict]:
    return _geojson_of(m, key).data["features"]


def _legend(page: str) -> str:
    start = page.index('id="gg-legend"')
    return page[start : page.index("</div>\n", start)]


def test_builds_a_map_without_mutating_inputs(layers):
    frames = {k: v for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}
    places = layers["places"]
    frames.update({f"places.{k}": getattr(places, k) for k in ("towns", "villages", "roads")})
    before = {k: v.copy() for k, v in frames.items()}
    m = county_overview_map(**layers)
    assert isinstance(m, folium.Map)
    for k, v in frames.items():
        assert_geodataframe_equal(v, before[k])
    assert layers["grids"].crs == UTM50


def test_layers_are_drawn_in_lon_lat(layers):
    m = county_overview_map(**layers)
    supply = _features(m, "supply_grids")
    assert [f["properties"]["grid_id"] for f in supply] == ["T2-A", "T2-B"]
    # the east supply grid came in as UTM; its corners must be the lon/lat box again
    ring = supply[1]["geometry"]["coordinates"][0]
    lons = sorted({round(x, 4) for x, _ in ring})
    lats = sorted({round(y, 4) for _, y in ring})
    assert lons == [116.5, 116.6]
    assert lats == [27.0, 27.2]
    # independent check of one corner: pyproj forward then inverse on the input's UTM value
    to_utm = Transformer.from_crs(WGS84, UTM50, always_xy=True)
    x, y = to_utm.transform(116.6, 27.2)
    east = layers["grids"].geometry.iloc[2]
    assert min(abs(x - px) + abs(y - py) for px, py in east.exterior.coords) < 1e-3
    assert supply[0]["properties"]["colour"] != supply[1]["properties"]["colour"]
    village = _features(m, "village_grids")
    assert [f["properties"]["grid_id"] for f in village] == ["T3-A-01", "T3-B-01", "T3-B-02"]


def test_supply_grid_popup_lists_people_and_village_grids(layers):
    kpis = {
        "tier2": pd.DataFrame({"repair_share_ok": [0.5, 0.75]}, index=["T2-A", "T2-B"]),
        "tier3": pd.DataFrame({"repair_share_ok": [0.25]}, index=["T3-B-02"]),
    }
    m = county_overview_map(**layers, kpis=kpis)
    west, east = _features(m, "supply_grids")
    popup = east["properties"]["popup_html"]
    for text in ("网格名", "乙供电网格", "网格长", "李四", "电话", "13800000002", "客户数"):
        assert text in popup
    assert "30分钟抢修达标率" in popup
    assert "75.0%" in popup
    # the east grid's village grids, with their own managers; not the west one's
    assert "乙网格1" in popup and "赵六" in popup and "钱七" in popup and "25.0%" in popup
    assert "甲网格1" not in popup
    assert "50.0%" in west["properties"]["popup_html"]
    assert "甲网格1" in west["properties"]["popup_html"]
    assert east["properties"]["tip"] == "乙供电网格（网格长 李四）"


def test_popup_escapes_html_in_names(layers):
    grids = layers["grids"].copy()
    grids.loc[1, "name"] = "<script>alert(1)</script>"
    m = county_overview_map(**{**layers, "grids": grids})
    popup = _features(m, "supply_grids")[0]["properties"]["popup_html"]
    assert "<script>" not in popup
    assert "&lt;script&gt;" in popup


def _gaps(m: folium.Map, key: str) -> dict[str, Any]:
    """The data gg-labels.js draws a gap layer from (its one `ggMap.gaps` call)."""
    (call,) = [
        c for c in _group(m, key)._children.values() if getattr(c, "function", None) == "gaps"
    ]
    return call.data[0]


def test_coverage_gaps_are_the_customers_outside_a_promise(layers):
    m = county_overview_map(**layers)
    # C2 and C4 fail repair, C3 and C4 fail payment; C4 has no point so it is no dot
    repair, payment = _gaps(m, "repair_gaps"), _gaps(m, "payment_gaps")
    (c2,) = repair["dots"]
    lat, lon, n, reason, eta, village = c2
    assert (lat, lon, n, eta) == (27.19, 116.58, 1, 40.0)  # 2400 s / 60
    assert repair["names"][village] == "三村"
    assert repair["reasons"][reason] == "原因 超出时限"
    (c3,) = payment["dots"]
    assert c3[:3] == [27.03, 116.52, 1] and c3[4] == 15.0  # 900 s / 60
    assert payment["names"][c3[5]] == "二村"
    # by village (C4 counts in its village V3 although it has no point), at the village point
    ((lat, lon, n, tip),) = repair["villages"]
    assert (lat, lon, n) == (27.18, 116.57, 2)
    # reasons largest first, ties by reason code (not_geocoded before over_limit)
    assert tip == "三村：2 户抢修超30分钟（未定位 1、超出时限 1）/ 2 customers beyond 30-min repair"
    assert [(v[2], v[3].split("：")[0]) for v in payment["villages"]] == [(1, "二村"), (1, "三村")]
    assert repair["minZoom"] == payment["minZoom"] == 13


def test_coverage_gaps_without_villages_are_dots_only(layers):
    access = layers["access"].drop(columns="village_code")
    m = county_overview_map(**{**layers, "access": access})
    repair = _gaps(m, "repair_gaps")
    assert repair["villages"] == []  # gg-labels.js then shows the dots at every zoom
    assert repair["dots"] == [[27.19, 116.58, 1, 0, 40.0, -1]] and repair["names"] == []
    assert 'id="gg-problems"' not in m.get_root().render()


def test_customers_at_one_point_are_one_dot(layers):
    # three customers beyond 30 minutes at one point (their village's point): one dot of 3
    access = gpd.GeoDataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "repair_ok": [False, False, False],
            "repair_eta_s": [1900.0, 2500.0, 2000.0],
            "reason": ["over_limit"] * 3,
            "village_code": ["V1"] * 3,
        },
        geometry=[Point(116.41, 27.01)] * 3,
        crs=WGS84,
    )
    repair = _gaps(county_overview_map(**{**layers, "access": access}), "repair_gaps")
    assert repair["dots"] == [[27.01, 116.41, 3, 0, 41.7, 0]]  # 2500 s = 41.7 min
    assert repair["names"] == ["一村"]


def test_isochrones_use_the_all_station_bands_widest_first(layers):
    m = county_overview_map(**layers)
    bands = [f["properties"]["band_s"] for f in _features(m, "isochrones")]
    assert bands == [1800.0, 1200.0, 600.0]


def test_suggested_sites_are_numbered_dashed_markers_in_rank_order(layers):
    m = county_overview_map(**layers)
    geojson = _geojson_of(m, "suggested_stations")
    sites = geojson.data["features"]
    # given as rank 2, 1: drawn as 1, 2, back in lon/lat from UTM
    assert [f["properties"]["rank"] for f in sites] == [1, 2]
    assert sites[0]["geometry"]["coordinates"] == pytest.approx([116.58, 27.02], abs=1e-5)
    assert sites[1]["geometry"]["coordinates"] == pytest.approx([116.42, 27.18], abs=1e-5)
    assert [f["properties"]["tip"] for f in sites] == [
        "建议新增抢修站 #1 太源村：新增30分钟可达 421 户 / +421 customers within 30 min",
        "建议新增抢修站 #2 三溪村：新增30分钟可达 35 户 / +35 customers within 30 min",
    ]
    popup = sites[0]["properties"]["popup_html"]
    assert "太源村" in popup and "421 户" in popup and "97.0%" in popup
    # each marker's icon: its own number in a dashed circle, unlike the solid station square
    icons = [geojson.style_function(f)["html"] for f in sites]
    assert [re.search(r">(\d+)</div>$", i).group(1) for i in icons] == ["1", "2"]
    assert all("dashed" in i and "gg-suggested" in i for i in icons)
    assert "dashed" not in REPAIR_ICON_HTML
    # drawn after (above) the stations in service
    names = [c.layer_name for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    assert names.index(LAYER_NAMES["suggested_stations"]) > names.index(
        LAYER_NAMES["repair_stations"]
    )


def test_suggestion_legend_entry_and_key_figure_line(layers):
    siting = {"share_before": 0.956, "share_after": 0.986}
    page = county_overview_map(**layers, siting=siting).get_root().render()
    assert _has(page, LAYER_NAMES["suggested_stations"])
    legend = _legend(page)
    assert "选址建议：新增抢修站" in legend and "suggested new repair station" in legend
    assert "dashed" in legend
    # k defaults to the 2 suggested sites
    assert _figure(page, "新增2处抢修站：30分钟抢修可达") == "95.6% → 98.6%"
    assert "2 new stations (suggested): 30-min repair reach" in page
    # the figure line only with a siting summary
    page = county_overview_map(**layers).get_root().render()
    assert "选址建议：新增抢修站" in _legend(page)
    assert "抢修站：30分钟抢修可达" not in page


def test_siting_result_and_its_limit(layers):
    # 900 of 1,000 customers within 20 minutes before, 950 after: 90.0% -> 95.0%
    result = SitingResult(
        chosen=("V2", "V1"),
        picks=pd.DataFrame(),
        candidates=pd.DataFrame(),
        customers=pd.DataFrame(),
        n_customers=1000,
        total_weight=1000.0,
        covered_before=900,
        covered_after=950,
        weight_before=900.0,
        weight_after=950.0,
        k=2,
        method="exact",
        limit_s=1200.0,
        reverse=False,
        optimal=True,
    )
    m = county_overview_map(**layers, siting=result)
    page = m.get_root().render()
    assert _figure(page, "新增2处抢修站：20分钟抢修可达") == "90.0% → 95.0%"
    tips = [f["properties"]["tip"] for f in _features(m, "suggested_stations")]
    assert (
        tips[0] == "建议新增抢修站 #1 太源村：新增20分钟可达 421 户 / +421 customers within 20 min"
    )
    # a summary alone (with its k) gives the line without a layer
    alone = {k: v for k, v in layers.items() if k != "suggested_sites"}
    page = (
        county_overview_map(**alone, siting={"share_before": 0.5, "share_after": 0.625, "k": 3})
        .get_root()
        .render()
    )
    assert _figure(page, "新增3处抢修站：30分钟抢修可达") == "50.0% → 62.5%"
    assert not _has(page, LAYER_NAMES["suggested_stations"])


def test_suggested_site_names_are_escaped(layers):
    sites = layers["suggested_sites"].copy()
    sites.loc[0, "name"] = "<b>村</b>"
    m = county_overview_map(**{**layers, "suggested_sites": sites})
    second = _features(m, "suggested_stations")[1]["properties"]
    assert "<b>" not in second["tip"] and "&lt;b&gt;村&lt;/b&gt;" in second["tip"]
    assert "<b>" not in second["popup_html"]


def test_suggestion_errors(layers):
    sites = layers["suggested_sites"]

    def draw(suggested_sites=sites, siting=None):
        return county_overview_map(**{**layers, "suggested_sites": suggested_sites}, siting=siting)

    with pytest.raises(InputError, match="`suggested_sites` must be a GeoDataFrame"):
        draw(pd.DataFrame(sites.drop(columns="geometry")))
    with pytest.raises(
        MissingColumnError, match=r"`suggested_sites` has no column\(s\) \['name'\]"
    ):
        draw(sites.drop(columns="name"))
    with pytest.raises(CRSError):
        draw(sites.set_crs(None, allow_override=True))
    with pytest.raises(EmptyDataError, match="pass None to draw no siting suggestion"):
        draw(sites.iloc[:0])
    no_point = sites.copy()
    no_point.loc[1, "geometry"] = None
    with pytest.raises(InvalidGeometryError, match=r"row\(s\) \[1\] have no position"):
        draw(no_point)
    area = sites.copy()
    area.loc[0, "geometry"] = area.geometry.iloc[0].buffer(100)
    with pytest.raises(InvalidGeometryError, match="must hold points, row 0 is a Polygon"):
        draw(area)
    for column, value in (("rank", 0), ("rank", 1.5), ("rank", "eins"), ("gain_customers", -1)):
        bad = sites.astype({column: object})
        bad.loc[0, column] = value
        with pytest.raises(InputError, match=f"column `{column}` must hold whole numbers"):
            draw(bad)
    with pytest.raises(DuplicateIdError, match="rank 1 more than once"):
        draw(sites.assign(rank=[1, 1]))
    with pytest.raises(InputError, match=r"`covered_share` must hold shares in \[0, 1\]"):
        draw(sites.assign(covered_share=[0.5, 1.5]))
    with pytest.raises(InputError, match="`siting` must be a mapping"):
        draw(siting=[0.956, 0.986])
    with pytest.raises(InputError, match=r"`siting` lacks \['share_after'\]"):
        draw(siting={"share_before": 0.956})
    with pytest.raises(InputError, match=r"`siting\['share_after'\]` must be a share"):
        draw(siting={"share_before": 0.956, "share_after": 98.6})
    with pytest.raises(InputError, match=r"`siting\['k'\]`=3 but `suggested_sites` has 2"):
        draw(siting={"share_before": 0.956, "share_after": 0.986, "k": 3})
    with pytest.raises(InputError, match=r"`siting\['k'\]` must be a whole number"):
        draw(siting={"share_before": 0.956, "share_after": 0.986, "k": 0})
    with pytest.raises(InputError, match=r"`siting\['limit_s'\]` must be a time > 0"):
        draw(siting={"share_before": 0.956, "share_after": 0.986, "limit_s": -5})
    with pytest.raises(InputError, match="`siting` has no `k` and no `suggested_sites`"):
        draw(None, siting={"share_before": 0.956, "share_after": 0.986})


def test_page_has_layers_legend_figures_in_chinese(layers):
    figures = {"customers": 4, "reach": {"repair_share_ok": 0.956, "payment_share_ok": 0.838}}
    page = county_overview_map(**layers, figures=figures).get_root().render()
    for name in LAYER_NAMES.values():
        assert _has(page, name), name
    assert "L.control.layers" in page
    for text in ("图例", "Legend", "变电站", "抢修站", "缴费点", "抢修10分钟可达", "县界"):
        assert text in page, text
    assert "南丰县供电服务网格总览" in page
    assert _figure(page, "30分钟抢修到达率") == "95.6%"
    assert _figure(page, "10分钟缴费可达率") == "83.8%"
    assert _figure(page, "客户数") == "4"
    # counts not in `figures` come from the layers: 2 substations, 2 tier-2, 3 tier-3 grids
    assert _figure(page, "变电站") == "2"
    assert _figure(page, "村级网格（三级）") == "3"
    assert _figure(page, "供电网格（二级）") == "2"
    assert _figure(page, "抢修站") == "1"
    assert _figure(page, "缴费点") == "2"
    # gap counts: one customer on the map beyond each promise
    assert _figure(page, "抢修未达标客户") == "1"
    assert _figure(page, "缴费未达标客户") == "1"


def test_customer_counts_replace_the_grids_and_figures_counts(layers):
    # the grids carry stale counts (2 and 4 customers) and the figures say 99: the counts
    # table (gridgeo.count_grid_customers) is what the popups and the key figures show
    def table(rows: dict[str, int]) -> pd.DataFrame:
        return pd.DataFrame(
            {"customers": list(rows.values()), "hv_customers": 0, "lv_customers": 0,
             "vulnerable": 0},
            index=pd.Index(list(rows), name="grid_id"),
        )  # fmt: skip

    counts = {
        1: table({"T1": 7, "未定位": 2}),
        2: table({"T2-A": 3, "T2-B": 4, "未定位": 2}),
        3: table({"T3-A-01": 3, "T3-B-01": 1, "T3-B-02": 3, "未定位": 2}),
    }
    m = county_overview_map(**layers, figures={"customers": 99}, customer_counts=counts)
    west, east = _features(m, "supply_grids")
    assert "Customers</th><td>3</td>" in west["properties"]["popup_html"]
    assert "Customers</th><td>4</td>" in east["properties"]["popup_html"]
    # the village grids of the east grid: 乙网格1 holds 1 customer, 乙网格2 holds 3
    assert "<td>乙网格1</td><td>赵六</td><td>138</td><td>1</td>" in east["properties"]["popup_html"]
    assert "<td>乙网格2</td><td>钱七</td><td>139</td><td>3</td>" in east["properties"]["popup_html"]
    page = m.get_root().render()
    assert _figure(page, "客户数") == "9"  # 7 in the grids + 2 not located
    assert _figure(page, "其中未定位（不在任何网格）") == "2"
    with pytest.raises(InputError, match="`customer_counts`"):
        county_overview_map(**layers, customer_counts={2: "no table"})


def test_figures_from_county_kpis_when_not_given(layers):
    kpis = {"county": pd.DataFrame({"repair_share_ok": [0.5], "payment_share_ok": [0.25]})}
    page = county_overview_map(**layers, kpis=kpis).get_root().render()
    assert _figure(page, "30分钟抢修到达率") == "50.0%"
    # no figures given: all 4 rows of `access` are customers, C4 without a point too
    assert _figure(page, "客户数") == "4"
    assert _figure(page, "10分钟缴费可达率") == "25.0%"


def test_optional_layers_can_be_left_out(layers):
    m = county_overview_map(
        **{k: v for k, v in layers.items() if k not in ("access", "isochrones", "suggested_sites")}
    )
    names = {c.layer_name for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    assert LAYER_NAMES["repair_gaps"] not in names
    assert LAYER_NAMES["isochrones"] not in names
    assert LAYER_NAMES["suggested_stations"] not in names
    assert LAYER_NAMES["supply_grids"] in names
    # no suggestion: no legend entry and no siting line either
    page = m.get_root().render()
    assert "选址建议" not in page
    assert "new stations (suggested)" not in page


def test_reuses_a_given_map(layers):
    m = county_overview_map(**layers)
    again = county_overview_map(**layers, m=m)
    assert again is m
    controls = [c for c in m._children.values() if isinstance(c, folium.LayerControl)]
    assert len(controls) == 1
    groups = [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    assert len(groups) == 2 * len(LAYER_NAMES)


def test_errors(layers):
    with pytest.raises(InputError, match="`county` must be a GeoDataFrame"):
        county_overview_map(**{**layers, "county": pd.DataFrame({"a": [1]})})
    with pytest.raises(MissingColumnError, match=r"`grids` has no column\(s\) \['tier'\]"):
        county_overview_map(**{**layers, "grids": layers["grids"].drop(columns="tier")})
    with pytest.raises(CRSError):
        county_overview_map(
            **{**layers, "substations": layers["substations"].set_crs(None, allow_override=True)}
        )
    with pytest.raises(EmptyDataError, match="`county` has no geometry"):
        county_overview_map(**{**layers, "county": layers["county"].iloc[:0]})
    with pytest.raises(InputError, match="neither `repair_ok` nor `payment_ok`"):
        county_overview_map(
            **{**layers, "access": layers["access"].drop(columns=["repair_ok", "payment_ok"])}
        )
    with pytest.raises(MissingColumnError, match="`isochrones` has no column"):
        county_overview_map(**{**layers, "isochrones": layers["isochrones"].drop(columns="band_s")})
    with pytest.raises(InputError, match="`figures` must be a mapping"):
        county_overview_map(**layers, figures=[("customers", 3)])


def test_saved_html_loads_nothing_from_the_network(layers, tmp_path):
    m = county_overview_map(**layers)
    path = save_offline(m, tmp_path / "out" / "county_map.html")
    page = path.read_text(encoding="utf-8")
    assert not NETWORK_LOAD.search(page), NETWORK_LOAD.search(page)
    assert "L.tileLayer" not in page
    # Leaflet itself is inlined (its banner), with its CSS and the layer icon as a data URI
    assert "Leaflet 1.9.4, a JS library for interactive maps" in page
    assert ".leaflet-pane" in page
    assert "url(data:image/png;base64," in page
    assert "url(images/layers" not in page
    for dropped in ("jquery", "bootstrap.bundle", "awesome-markers", "fontawesome"):
        assert dropped not in page.lower(), dropped
    leaflet_js = (STATIC_DIR / "leaflet.js").stat().st_size
    assert leaflet_js < path.stat().st_size < leaflet_js + 300_000


def test_offline_refuses_what_it_cannot_inline(layers, tmp_path):
    with pytest.raises(InputError, match="tiles=None"):
        offline_html(folium.Map(location=[27.1, 116.5]))
    m = county_overview_map(**layers)
    folium.Marker([27.1, 116.5], popup=folium.Popup("弹窗")).add_to(m)
    with pytest.raises(InputError, match="jQuery"):
        offline_html(m)
    m = county_overview_map(**layers)
    folium.plugins.MarkerCluster().add_to(m)
    with pytest.raises(InputError, match="cannot be inlined"):
        save_offline(m, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
    m = county_overview_map(**layers)
    m.get_root().html.add_child(folium.Element('<img src="https://example.org/logo.png">'))
    with pytest.raises(InputError, match="would still load a resource from the network"):
        offline_html(m)
    with pytest.raises(InputError, match=r"`m` must be a folium\.Map"):
        offline_html("not a map")


def test_vendored_leaflet_and_its_licence():
    assert "Leaflet 1.9.4" in (STATIC_DIR / "leaflet.js").read_text(encoding="utf-8")[:200]
    licence = (STATIC_DIR / "LICENSE-leaflet.txt").read_text(encoding="utf-8")
    assert "BSD 2-Clause License" in licence
    assert "Vladimir Agafonkin" in licence or "Volodymyr Agafonkin" in licence


@pytest.mark.slow
def test_renders_offline_in_headless_chromium(
    layers, tmp_path, offline_page, screenshot, blocked_requests, page_errors
):
    # the browser harness (tests/browserharness.py): Debian's Chromium, phone and desktop
    # sizes, every non-local load blocked and recorded (the test fails if the page tried
    # one), no host name resolves; without Chromium it skips locally and fails under CI=true
    siting = {"share_before": 0.956, "share_after": 0.986}
    m = county_overview_map(**layers, siting=siting)
    path = save_offline(m, tmp_path / "county_map.html")
    offline_page.goto(path.as_uri())
    offline_page.locator(".leaflet-marker-icon").nth(4).wait_for(state="attached")
    offline_page.locator("canvas").first.wait_for(state="attached")
    screenshot("county_map")
    dom = offline_page.content()
    assert page_errors == []
    assert blocked_requests == []
    # Leaflet ran: it built its panes, the markers, the canvas and the layer control
    assert dom.count('class="leaflet-pane') >= 5
    assert "leaflet-map-pane" in dom
    # 2 substations + 1 repair station + 2 suggested stations; then the labels (2 townships,
    # 3 villages, 2 roads)
    icons = re.findall(r'<div class="leaflet-marker-icon([^"]*)"', dom)
    assert len([c for c in icons if "gg-label" not in c and "gg-gap-agg" not in c]) == 5
    assert len([c for c in icons if "gg-label-township" in c]) == 2
    assert len([c for c in icons if "gg-label-village" in c]) == 3
    assert len([c for c in icons if "gg-label-road" in c]) == 2
    # and bubbles instead of single dots: below zoom 11 one per township (乙镇 holds V3 with
    # C2 and C4 beyond 30-min repair, C4 without a point, and V2's C3 and V3's C4 beyond
    # 10-min payment), from 11 on one per village
    zoom = "() => { for (const k in window) { try { if (window[k] instanceof L.Map) "
    zoom += "return [window[k].getZoom(), window[k].getCenter()]; } catch (e) {} } }"
    # (once the page has settled: the layout fits the county to the free part of the screen)
    offline_page.wait_for_function(
        "() => { let z = null; for (const k in window) { try { if (window[k] instanceof L.Map)"
        " z = window[k].getZoom(); } catch (e) {} }"
        " const n = document.querySelectorAll('.gg-gap-payment').length;"
        " return (z < 11 && n === 1) || (z >= 11 && z < 13 && n === 2); }",
        timeout=5000,
    )
    level, _ = offline_page.evaluate(zoom)
    repair = offline_page.locator(".gg-gap-repair").all_inner_texts()
    payment = offline_page.locator(".gg-gap-payment").all_inner_texts()
    assert repair == ["2"]
    assert sorted(payment) == (["2"] if level < 11 else ["1", "1"]), level
    # a township's name is on the map, shown
    township = offline_page.locator(".gg-label-township .gg-label-text", has_text="乙镇")
    assert township.is_visible()
    # the suggestions are drawn as markers numbered in rank order (the legend's sample apart)
    numbers = re.findall(
        r'<div class="leaflet-marker-icon[^"]*"[^>]*><div class="gg-suggested"[^>]*>(\d+)</div>',
        dom,
    )
    assert numbers == ["1", "2"]
    assert "选址建议：新增抢修站 Suggested new repair stations" in dom  # its layer control
    assert "95.6% → 98.6%" in dom
    assert "<canvas" in dom
    assert "leaflet-control-layers-overlays" in dom
    assert "县界 County boundary" in dom
    assert 'id="gg-figures"' in dom and 'id="gg-legend"' in dom
    # a problem village: its entry zooms the map to it, where the single dots replace the
    # village bubbles (the phone opens the list from its button first)
    before, _ = offline_page.evaluate(zoom)
    button = offline_page.locator('#gg-bar button[data-sheet="problems"]')
    if button.is_visible():
        button.click()
    offline_page.locator('#gg-problems li[data-village="V3"]').click()
    offline_page.wait_for_function(
        "() => document.querySelectorAll('.gg-gap-agg').length === 0", timeout=5000
    )
    after, centre = offline_page.evaluate(zoom)
    assert before < 13 <= after
    # V3's bounds: its point (116.57, 27.18) and C2's (116.58, 27.19)
    assert 27.18 <= centre["lat"] <= 27.19 and 116.57 <= centre["lng"] <= 116.58
    screenshot("county_map_problem_village")
    assert page_errors == []


def test_the_same_map_gives_the_same_bytes(layers, tmp_path):
    # Folium names its elements with random uuid4 hex; the saved page numbers them instead
    siting = {"share_before": 0.956, "share_after": 0.986}
    one, two = (county_overview_map(**layers, siting=siting) for _ in range(2))
    first = save_offline(one, tmp_path / "a.html").read_bytes()
    second = save_offline(two, tmp_path / "b.html").read_bytes()
    assert first == second
    assert re.search(rb"_[0-9a-f]{32}(?![0-9a-f])", first) is None


def test_legend_lists_only_the_bands_and_gaps_drawn(layers):
    full = _legend(county_overview_map(**layers).get_root().render())
    for text in ("抢修10分钟可达", "抢修20分钟可达", "抢修30分钟可达", "抢修超30分钟的客户"):
        assert text in full, text
    # no bands, no access: the legend shows neither
    bare = {k: v for k, v in layers.items() if k not in ("isochrones", "access")}
    legend = _legend(county_overview_map(**bare).get_root().render())
    assert "分钟可达" not in legend
    assert "抢修超30分钟的客户" not in legend and "缴费超10分钟的客户" not in legend
    assert "抢修站" in legend and "县界" in legend
    # only the 10- and 30-minute bands: the 20-minute one is not in the legend
    two = layers["isochrones"][layers["isochrones"]["band_s"] != 1200.0]
    legend = _legend(county_overview_map(**{**layers, "isochrones": two}).get_root().render())
    assert "抢修10分钟可达" in legend and "抢修30分钟可达" in legend
    assert "抢修20分钟可达" not in legend
