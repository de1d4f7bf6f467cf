"""The county overview map: one HTML file that county leadership opens offline.

:func:`county_overview_map` draws the county, its supply grids (tier 2, one colour per
substation) with the village grids (tier 3) inside, the substations, repair stations and
payment points, the repair bands (10/20/30 minutes, when given), the customers outside a
service promise (coverage gaps) and a legend of what is drawn with the key figures, in
Chinese with English alongside; the planner's siting suggestion (new repair stations from
:func:`gridgeo.site_facilities`) can be drawn on it as numbered, dashed markers with its
before/after reach in the figures. Given the workspace's places (:mod:`maps.places`), the map
has its own base (roads by class, rivers), township, village and road names, village-grid
tooltips, the coverage gaps as one bubble per township or village (by zoom) before the
single dots, a "problem villages" panel that zooms to each, and the data's date and version
in its title; the labels, bubbles and panel are drawn by ``maps/static/gg-labels.js``.
:func:`save_offline` writes it as ONE self-contained HTML file: no basemap tiles, Leaflet
inlined from ``maps/static/``, no script or style sheet loaded from the network.

The builders draw what gridgeo computed; they do no analysis of their own.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from gridgeo import (
    DEFAULT_REPAIR_LIMIT_S,
    DEFAULT_SETTINGS,
    NOT_COMPUTED,
    NOT_LOCATED,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    SitingResult,
    ensure_crs,
    with_customer_counts,
)
from maps.places import (
    MapPlaces,
    base_rivers,
    base_roads,
    check_places,
    gap_dots,
    gap_towns,
    gap_villages,
    problem_villages,
    road_labels,
    simplify_coverage,
)

logger = logging.getLogger(__name__)

# twenty well-separated colours; the supply grids take them in grid-id order
SUPPLY_GRID_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#ff9da7",
    "#9c755f",
    "#8cd17d",
    "#a0cbe8",
    "#ffbe7d",
    "#d4a6c8",
    "#86bcb6",
    "#f1ce63",
    "#bab0ac",
    "#499894",
    "#d37295",
    "#79706e",
    "#b6992d",
    "#fabfd2",
)
# band upper bound (s) -> fill colour; darker = closer to a repair station
# one colour per isochrone band of the settings (10, 20, 30 minutes)
BAND_COLOURS = dict(zip(DEFAULT_SETTINGS.bands_s, ("#08519c", "#3182bd", "#9ecae1"), strict=True))
BAND_FILL_OPACITY = 0.35
GRID_FILL_OPACITY = 0.45
COUNTY_COLOUR = "#333333"
VILLAGE_GRID_COLOUR = "#555555"
SUBSTATION_COLOUR = "#6a1b9a"
REPAIR_STATION_COLOUR = "#c62828"
PAYMENT_POINT_COLOUR = "#2e7d32"
REPAIR_GAP_COLOUR = "#e41a1c"
PAYMENT_GAP_COLOUR = "#ff7f00"
BACKGROUND_COLOUR = "#f4f1ea"
LAYER_CONTROL_POSITION = "bottomright"
# 1e-5 degree is about 1 m: plenty for a county map, and it keeps the HTML small
COORD_PRECISION_DEG = 1e-5
# the reach bands follow every road (150 m buffers): ~10 m simplification is invisible on the
# map and cuts the file size several times
BAND_SIMPLIFY_DEG = 1e-4
FONT_FAMILY = (
    '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC", '
    '"WenQuanYi Micro Hei", "SimHei", sans-serif'
)
REASONS_ZH = {
    "ok": "达标",
    "over_limit": "超出时限",
    "too_far_from_road": "离道路过远",
    "isolated_road_piece": "位于孤立路段",
    "not_geocoded": "未定位",
    NOT_COMPUTED: "未计算",
}
# (path in `figures`, Chinese label, English label, format)
FIGURE_ROWS = (
    ("customers", "客户数", "customers", "count"),
    ("not_located", f"其中{NOT_LOCATED}（不在任何网格）", "of them not located in a grid", "count"),
    ("grids.tier2", "供电网格（二级）", "supply grids, tier 2", "count"),
    ("grids.tier3", "村级网格（三级）", "village grids, tier 3", "count"),
    ("substations", "变电站", "substations", "count"),
    ("repair_stations", "抢修站", "repair stations", "count"),
    ("payment_points", "缴费点", "payment points", "count"),
    ("reach.repair_share_ok", "30分钟抢修到达率", "30-min repair reach", "share"),
    ("reach.payment_share_ok", "10分钟缴费可达率", "10-min payment access", "share"),
    ("reach.repair_median_eta_s", "抢修用时中位数", "median repair time", "minutes"),
    ("reach.payment_median_eta_s", "缴费用时中位数", "median payment time", "minutes"),
)
# the phone's strip of key figures: (Chinese label of a key-figures row, short Chinese, English)
STRIP_FIGURES = (
    ("30分钟抢修到达率", "抢修30分钟", "repair"),
    ("10分钟缴费可达率", "缴费10分钟", "payment"),
    ("抢修未达标客户", "抢修缺口", "gaps"),
)
LAYER_NAMES = {
    "county": "县界 County boundary",
    "isochrones": "抢修到达圈 Repair reach 10/20/30 min",
    "supply_grids": "供电网格（二级）Supply grids",
    "village_grids": "村级网格（三级）Village grids",
    "substations": "变电站 Substations",
    "repair_stations": "抢修站 Repair stations",
    "payment_points": "缴费点 Payment points",
    "repair_gaps": "抢修未达标客户 Beyond 30-min repair",
    "payment_gaps": "缴费未达标客户 Beyond 10-min payment",
    "suggested_stations": "选址建议：新增抢修站 Suggested new repair stations",
    "rivers": "河流 Rivers",
    "roads": "道路 Roads",
    "place_names": "地名 Place names",
}
RIVER_COLOUR = "#6baed6"
# labels: township names always, village names from this zoom on (the county fits at ~10)
VILLAGE_LABEL_ZOOM = 12
# coverage gaps: one bubble per township below the first zoom (the whole county in view),
# one per village below the second, the customers' dots from it on
GAP_VILLAGES_MIN_ZOOM = 11
GAP_DOTS_MIN_ZOOM = 13
# dots drawn at once near the view (the rest when the reader pans there)
GAP_DOTS_MAX_SHOWN = 4000
# the problem-village list names at most this many villages (the rest are counted)
PROBLEM_VILLAGES_MAX = 30
# a village grid's tooltip names at most this many of its villages
TOOLTIP_VILLAGES_MAX = 8
SERVICE_TEXT = {
    # service: (Chinese promise, English promise, Chinese kind)
    "repair": ("抢修超30分钟", "beyond 30-min repair", "抢修"),
    "payment": ("缴费超10分钟", "beyond 10-min payment", "缴费"),
}
# the columns a siting suggestion must carry (`covered_share` is optional)
SUGGESTED_SITE_COLUMNS = ("rank", "name", "gain_customers")
SITING_KEYS = ("share_before", "share_after")

STATIC_DIR = Path(__file__).resolve().parent / "static"
# what a browser fetches by itself (an <a href> in the attribution is not fetched)
_NETWORK_LOAD = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.I,
)
_TILE_LAYER = re.compile(r"""L\.tileLayer(?:\.wms)?\(\s*["'](?:https?:)?//""")
_JQUERY_USE = re.compile(r"\$\(|\$\.ajax")
_TAG_WITH_URL = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["'][^>]*>(?:\s*</script>)?""",
    re.I,
)


def _check_frame(gdf: Any, name: str, columns: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` in EPSG:4326 with empty geometries dropped."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = (
            f"`{name}` must be a GeoDataFrame, got {type(gdf).__name__}; "
            "read it with gridgeo.read_layer or GeoPackageStore.read"
        )
        raise InputError(msg)
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        msg = f"`{name}` has no column(s) {missing!r}; columns present: {list(gdf.columns)!r}"
        raise MissingColumnError(msg)
    gdf = ensure_crs(gdf, source=name)
    return gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]


def _rounded(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy with coordinates on a 1 m grid (display only)."""
    return gdf.set_geometry(
        shapely.set_precision(gdf.geometry.values, COORD_PRECISION_DEG), crs=gdf.crs
    )


def _geojson(gdf: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """GeoJSON with only the named properties (plain JSON types)."""
    data: dict[str, Any] = json.loads(_rounded(gdf[[*columns, "geometry"]]).to_json(drop_id=True))
    return data


def _text(value: Any) -> str:
    """A cell value as escaped HTML text ('—' when missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,d}"
    return html.escape(str(value))


def _share(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{100 * float(value):.1f}%"


def _lookup(figures: Mapping[str, Any], path: str) -> Any:
    """``figures["a"]["b"]`` for ``"a.b"``, or ``figures["a.b"]``; None when absent."""
    if path in figures:
        return figures[path]
    node: Any = figures
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _format_figure(value: Any, kind: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if kind == "share":
        return f"{100 * float(value):.1f}%"
    if kind == "minutes":
        return f"{float(value) / 60:.1f} 分钟 min"
    if kind == "count":
        return f"{int(value):,d}"
    return html.escape(str(value))


def _grid_kpi(kpis: Mapping[str, pd.DataFrame] | None, tier: int, grid_id: Any, col: str) -> Any:
    """A value of ``reach_kpis(...)["tier{tier}"]`` for one grid, None when absent."""
    if kpis is None:
        return None
    table = kpis.get(f"tier{tier}")
    if table is None or col not in table.columns or grid_id not in table.index:
        return None
    return table.at[grid_id, col]


def _grid_value(row: pd.Series, kpis: Mapping[str, pd.DataFrame] | None, col: str) -> Any:
    """A KPI of a grid: its own column if the grid carries it, else from ``kpis``."""
    if col in row.index and not pd.isna(row[col]):
        return row[col]
    return _grid_kpi(kpis, int(row["tier"]), row["grid_id"], col)


def _grid_popup(
    grid: pd.Series, children: pd.DataFrame, kpis: Mapping[str, pd.DataFrame] | None
) -> str:
    """HTML of a supply grid's popup: its people and service levels, its village grids."""
    rows = [
        ("网格名 Grid", _text(grid.get("name"))),
        ("网格编号 Grid id", _text(grid.get("grid_id"))),
        ("变电站 Substation", _text(grid.get("substation_id"))),
        ("网格长 Manager", _text(grid.get("manager"))),
        ("电话 Phone", _text(grid.get("phone"))),
        ("党员联络人 Liaison", _text(grid.get("liaison"))),
        ("客户数 Customers", _text(grid.get("customers"))),
        ("30分钟抢修达标率 Repair ≤30 min", _share(_grid_value(grid, kpis, "repair_share_ok"))),
        ("10分钟缴费达标率 Payment ≤10 min", _share(_grid_value(grid, kpis, "payment_share_ok"))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    parts = [f'<table class="gg-popup">{body}</table>']
    if len(children):
        head = (
            "<tr><th>村级网格 Village grid</th><th>网格长</th><th>电话</th>"
            "<th>客户数</th><th>抢修达标</th><th>缴费达标</th></tr>"
        )
        lines = "".join(
            f"<tr><td>{_text(c.get('name'))}</td><td>{_text(c.get('manager'))}</td>"
            f"<td>{_text(c.get('phone'))}</td><td>{_text(c.get('customers'))}</td>"
            f"<td>{_share(_grid_value(c, kpis, 'repair_share_ok'))}</td>"
            f"<td>{_share(_grid_value(c, kpis, 'payment_share_ok'))}</td></tr>"
            for _, c in children.iterrows()
        )
        parts.append(f'<table class="gg-popup gg-children">{head}{lines}</table>')
    return "".join(parts)


def _point_label(gdf: gpd.GeoDataFrame, columns: tuple[str, ...]) -> pd.Series:
    """A short text per point from the first columns present (id, name, kind...)."""
    present = [c for c in columns if c in gdf.columns]
    if not present:
        return pd.Series("", index=gdf.index)
    label = gdf[present[0]].astype("string").fillna("")
    for c in present[1:]:
        label = label + " · " + gdf[c].astype("string").fillna("")
    return label


def _div_icon(html_text: str, size: int) -> folium.DivIcon:
    return folium.DivIcon(
        html=html_text, icon_size=(size, size), icon_anchor=(size // 2, size // 2), class_name=""
    )


SUBSTATION_ICON_HTML = (
    f'<div style="width:12px;height:12px;margin:2px;background:{SUBSTATION_COLOUR};'
    'border:2px solid #fff;box-shadow:0 0 2px #000;transform:rotate(45deg)"></div>'
)
REPAIR_ICON_HTML = (
    f'<div style="width:18px;height:18px;background:{REPAIR_STATION_COLOUR};color:#fff;'
    "border:2px solid #fff;box-shadow:0 0 2px #000;font:bold 12px/18px sans-serif;"
    'text-align:center;border-radius:3px">修</div>'
)

# a suggestion: white, round and dashed, so nobody takes it for a station in service (red,
# square, solid); the class marks the map's markers (the legend's sample has none)
SUGGESTED_ICON_SIZE = 24


def _suggested_icon_html(label: str, *, css_class: str = "gg-suggested") -> str:
    font = 12 if len(label) <= 2 else 9
    return (
        f'<div class="{css_class}" style="width:18px;height:18px;background:#fff;'
        f"color:{REPAIR_STATION_COLOUR};border:2px dashed {REPAIR_STATION_COLOUR};"
        f"box-shadow:0 0 3px rgba(0,0,0,0.6);font:bold {font}px/18px sans-serif;"
        f'text-align:center;border-radius:50%">{label}</div>'
    )


def _check_suggested_sites(gdf: Any) -> gpd.GeoDataFrame:
    """A copy of the suggested sites in EPSG:4326, checked, in rank order."""
    sites = _check_frame(gdf, "suggested_sites", SUGGESTED_SITE_COLUMNS)
    if len(sites) < len(gdf):
        # _check_frame drops rows without a position; a suggestion must not vanish silently
        lost = gdf.index.difference(sites.index)[:5].tolist()
        msg = (
            f"`suggested_sites` row(s) {lost!r} have no position; give every suggested site "
            "its point (e.g. the village's point)"
        )
        raise InvalidGeometryError(msg)
    if sites.empty:
        msg = "`suggested_sites` has no rows; pass None to draw no siting suggestion"
        raise EmptyDataError(msg)
    not_point = sites.geom_type != "Point"
    if not_point.any():
        label = sites.index[not_point][0]
        msg = (
            f"`suggested_sites` must hold points, row {label!r} is a "
            f"{sites.geom_type[label]}; pass one point per site (e.g. its centroid)"
        )
        raise InvalidGeometryError(msg)
    for column, lowest in (("rank", 1), ("gain_customers", 0)):
        values = pd.to_numeric(sites[column], errors="coerce")
        bad = values.isna() | (values < lowest) | (values % 1 != 0)
        if bad.any():
            label = sites.index[bad.to_numpy()][0]
            msg = (
                f"`suggested_sites` column `{column}` must hold whole numbers >= {lowest}, row "
                f"{label!r} has {sites[column][label]!r}; pass the `picks` of "
                "gridgeo.site_facilities"
            )
            raise InputError(msg)
        sites = sites.assign(**{column: values.astype("int64")})
    repeated = sites["rank"].duplicated()
    if repeated.any():
        msg = (
            f"`suggested_sites` has rank {int(sites['rank'][repeated].iloc[0])!r} more than "
            "once; give each suggested site its own rank (1, 2, ...)"
        )
        raise DuplicateIdError(msg)
    if "covered_share" in sites.columns:
        share = pd.to_numeric(sites["covered_share"], errors="coerce")
        bad = share.isna() | (share < 0) | (share > 1)
        if bad.any():
            label = sites.index[bad.to_numpy()][0]
            msg = (
                f"`suggested_sites` column `covered_share` must hold shares in [0, 1], row "
                f"{label!r} has {sites['covered_share'][label]!r}; drop the column or fix it"
            )
            raise InputError(msg)
        sites = sites.assign(covered_share=share.astype(float))
    return sites.sort_values("rank", kind="stable")


def _check_siting(siting: Any, n_sites: int | None) -> dict[str, Any]:
    """``k``, ``share_before``, ``share_after`` and ``limit_s`` of a siting summary."""
    if isinstance(siting, SitingResult):
        siting = {
            "k": siting.k,
            "share_before": siting.share_before,
            "share_after": siting.share_after,
            "limit_s": siting.limit_s,
        }
    if not isinstance(siting, Mapping):
        msg = (
            f"`siting` must be a mapping with {list(SITING_KEYS)!r} (and `k`, `limit_s`) or a "
            f"gridgeo.SitingResult, got {type(siting).__name__}"
        )
        raise InputError(msg)
    missing = [key for key in SITING_KEYS if key not in siting]
    if missing:
        msg = (
            f"`siting` lacks {missing!r}; give the shares covered before and after the new "
            "stations (SitingResult.share_before / share_after)"
        )
        raise InputError(msg)
    out: dict[str, Any] = {}
    for key in SITING_KEYS:
        value = siting[key]
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= float(value) <= 1:
            msg = f"`siting[{key!r}]` must be a share in [0, 1], got {value!r}"
            raise InputError(msg)
        out[key] = float(value)
    k = siting.get("k", n_sites)
    if k is None:
        msg = (
            "`siting` has no `k` and no `suggested_sites` are given; give `k` (how many new "
            "stations)"
        )
        raise InputError(msg)
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        msg = f"`siting['k']` must be a whole number >= 1 (how many new stations), got {k!r}"
        raise InputError(msg)
    if n_sites is not None and k != n_sites:
        msg = (
            f"`siting['k']`={k!r} but `suggested_sites` has {n_sites} row(s); pass the picks "
            "and the summary of the same siting"
        )
        raise InputError(msg)
    limit_s = siting.get("limit_s", DEFAULT_REPAIR_LIMIT_S)
    if isinstance(limit_s, bool) or not isinstance(limit_s, Real) or not float(limit_s) > 0:
        msg = f"`siting['limit_s']` must be a time > 0 in seconds, got {limit_s!r}"
        raise InputError(msg)
    out["k"], out["limit_s"] = int(k), float(limit_s)
    return out


def _minutes(limit_s: float) -> str:
    return f"{limit_s / 60:g}"


def _suggestion_tip(rank: int, name: str, gain: int, minutes: str) -> str:
    """The one-line text of a suggested site (HTML: ``name`` is escaped)."""
    return (
        f"建议新增抢修站 #{rank} {html.escape(name)}：新增{minutes}分钟可达 {gain:,d} 户 / "
        f"+{gain:,d} customers within {minutes} min"
    )


def _add_suggested_sites(m: folium.Map, sites: gpd.GeoDataFrame, limit_s: float) -> None:
    minutes = _minutes(limit_s)
    names = sites["name"].astype("string").fillna("—")
    tips = [
        _suggestion_tip(r, n, g, minutes)
        for r, n, g in zip(sites["rank"], names, sites["gain_customers"], strict=True)
    ]
    popups = []
    for _, site in sites.iterrows():
        rows = [
            ("选址建议 Suggestion", f"新增抢修站 new repair station #{site['rank']}"),
            ("村 Village", _text(site["name"])),
            (
                f"新增{minutes}分钟可达 Newly within {minutes} min",
                f"{site['gain_customers']:,d} 户 customers",
            ),
        ]
        if "covered_share" in site.index:
            rows.append((f"建成后{minutes}分钟到达率 Reach after", _share(site["covered_share"])))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        popups.append(f'<table class="gg-popup">{body}</table>')
    data = sites.assign(tip=tips, popup_html=popups)
    group = folium.FeatureGroup(name=LAYER_NAMES["suggested_stations"])
    group.add_to(m)
    folium.GeoJson(
        _geojson(data, ["rank", "tip", "popup_html"]),
        marker=folium.Marker(icon=_div_icon("", SUGGESTED_ICON_SIZE)),
        # folium copies the style into each marker's icon options: one number per marker
        style_function=lambda f: {"html": _suggested_icon_html(str(f["properties"]["rank"]))},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False, max_width=420),
    ).add_to(group)


def _add_points(
    group: folium.FeatureGroup,
    gdf: gpd.GeoDataFrame,
    *,
    label_columns: tuple[str, ...],
    kind_zh: str,
    marker: folium.Marker | folium.CircleMarker,
) -> None:
    if gdf.empty:
        return  # folium's tooltip refuses a layer without features
    data = gdf.assign(label=_point_label(gdf, label_columns), kind_zh=kind_zh)
    folium.GeoJson(
        _geojson(data, ["kind_zh", "label"]),
        marker=marker,
        tooltip=folium.GeoJsonTooltip(fields=["kind_zh", "label"], labels=False),
    ).add_to(group)


def _band_colour(band_s: Any) -> str:
    """The fill colour of a repair band (the widest band's colour for a band not in the
    settings)."""
    return BAND_COLOURS.get(float(band_s), BAND_COLOURS[max(BAND_COLOURS)])


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal inside a <script> (compact JSON, UTF-8 text)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/")


class _Call(MacroElement):
    """A call of a function of ``maps/static/gg-labels.js`` on the map and the element's
    parent (a feature group): ``ggMap.<function>(map, group, *args)``."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "ggMap.{{ this.function }}({{ this.map_name }}, {{ this._parent.get_name() }}"
        "{% for a in this.args %}, {{ a }}{% endfor %});\n"
        "{% endmacro %}"
    )

    def __init__(self, function: str, m: folium.Map, *args: Any) -> None:
        super().__init__()
        self._name = "GgCall"
        self.function = function
        self.map_name = m.get_name()
        self.data = args  # the arguments as Python values (for tests and size checks)
        self.args = [_js(a) for a in args]


class _ShowFrom(MacroElement):
    """Keeps a layer of a feature group on the map only from a zoom on."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "ggMap.showFrom({{ this.map_name }}, {{ this._parent.get_name() }}, "
        "{{ this.layer.get_name() }}, {{ this.min_zoom }});\n"
        "{% endmacro %}"
    )

    def __init__(self, m: folium.Map, layer: folium.GeoJson, min_zoom: int) -> None:
        super().__init__()
        self._name = "GgShowFrom"
        self.map_name = m.get_name()
        self.layer = layer
        self.min_zoom = int(min_zoom)


class _Problems(MacroElement):
    """The problem-village panel (``#gg-problems``) and the script that makes its entries
    zoom the map to their village."""

    _template = Template(
        "{% macro html(this, kwargs) %}{{ this.panel }}{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        'ggMap.problems({{ this._parent.get_name() }}, "gg-problems");\n'
        "{% endmacro %}"
    )

    def __init__(self, panel: str) -> None:
        super().__init__()
        self._name = "GgProblems"
        self.panel = panel


PLACES_CSS = f"""
.gg-label {{ width: 0 !important; height: 0 !important; background: none; border: none; }}
.gg-label-text {{ position: absolute; left: 0; top: 0; transform: translate(-50%, -50%);
  white-space: nowrap; font-family: {FONT_FAMILY}; color: #222; pointer-events: none;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }}
.gg-label-township .gg-label-text {{ font-size: 14px; font-weight: bold; letter-spacing: 1px;
  transform: translate(-50%, calc(-100% - 9px)); }}
.gg-label-village .gg-label-text {{ font-size: 11px; color: #444;
  transform: translate(-50%, 8px); }}
.gg-label-road .gg-label-text {{ font-size: 11px; color: #8a4b12; }}
.gg-hide-village .gg-label-village, .gg-hide-road9 .gg-label-road9,
.gg-hide-road10 .gg-label-road10, .gg-hide-road11 .gg-label-road11,
.gg-hide-road12 .gg-label-road12 {{ display: none; }}
.gg-gap-agg {{ display: flex; align-items: center; justify-content: center; color: #fff;
  border: 1px solid #fff; border-radius: 9px; box-shadow: 0 0 2px rgba(0,0,0,0.6);
  font: bold 11px/16px sans-serif; box-sizing: border-box; }}
.gg-gap-repair {{ background: {REPAIR_GAP_COLOUR}; }}
.gg-gap-payment {{ background: {PAYMENT_GAP_COLOUR}; }}
.gg-problems ol {{ margin: 0; padding-left: 1.8em; }}
.gg-problems li {{ margin: 3px 0; cursor: pointer; }}
.gg-problems li:hover, .gg-problems li.gg-current {{ background: #fdecea; }}
.gg-problems .gg-more {{ margin-top: 4px; color: #555; }}
.gg-edition {{ font-weight: normal; font-size: 12px; color: #333; margin-top: 2px; }}
"""
# the label classes that show from a zoom on: class suffix -> zoom
LABEL_ZOOMS = {"village": VILLAGE_LABEL_ZOOM, **{f"road{z}": z for z in (9, 10, 11, 12)}}


def _add_assets(m: folium.Map) -> None:
    """gg-labels.js and the labels' style, once per page."""
    root = cast(Figure, m.get_root())
    if "gg_labels" in root.header._children:
        return
    script = _static_text("gg-labels.js").replace("</script", "<\\/script")
    root.header.add_child(
        Element(f"<style>{PLACES_CSS}</style>\n<script>{script}</script>"), name="gg_labels"
    )


def _add_rivers(m: folium.Map, rivers: gpd.GeoDataFrame) -> None:
    if rivers.empty:
        return
    group = folium.FeatureGroup(name=LAYER_NAMES["rivers"])
    group.add_to(m)
    data = gpd.GeoDataFrame(geometry=base_rivers(rivers).to_numpy(), crs="EPSG:4326")
    folium.GeoJson(
        json.loads(data.to_json(drop_id=True)),
        style_function=lambda _f: {
            "color": RIVER_COLOUR,
            "weight": 2,
            "fillColor": RIVER_COLOUR,
            "fillOpacity": 0.5,
        },
        interactive=False,
    ).add_to(group)


def _add_roads(m: folium.Map, roads: gpd.GeoDataFrame) -> None:
    """The roads by class, main roads on top; the minor classes only at closer zooms."""
    base = base_roads(roads)
    if base.empty:
        return
    group = folium.FeatureGroup(name=LAYER_NAMES["roads"])
    group.add_to(m)
    # drawn local first so that the main roads lie on top
    for _, row in base.iloc[::-1].iterrows():
        style = {"color": row["colour"], "weight": float(row["weight"]), "opacity": 0.9}
        layer = folium.GeoJson(
            shapely.geometry.mapping(row.geometry),
            style_function=lambda _f, style=style: style,
            interactive=False,
        )
        layer.add_to(group)
        if int(row["min_zoom"]) > 0:
            _ShowFrom(m, layer, int(row["min_zoom"])).add_to(group)


def _label_items(lat: Any, lon: Any, text: Any, zoom_name: str = "") -> list[list[Any]]:
    return [
        [round(float(y), 5), round(float(x), 5), str(t), zoom_name]
        for y, x, t in zip(lat, lon, text, strict=True)
        if isinstance(t, str) and t.strip()
    ]


def _add_place_names(m: folium.Map, places: MapPlaces) -> None:
    """Township names, village names (closer zooms) and main road names (by class)."""
    group = folium.FeatureGroup(name=LAYER_NAMES["place_names"])
    group.add_to(m)
    if places.roads is not None and len(places.roads):
        labels = road_labels(places.roads)
        items = [
            [float(r.lat), float(r.lon), str(r.name), f"road{int(r.min_zoom)}"]
            for r in labels.itertuples(index=False)
        ]
        _Call("labels", m, items, "gg-label-road").add_to(group)
    if places.villages is not None and len(places.villages):
        v = places.villages
        items = _label_items(v.geometry.y, v.geometry.x, v["village"].astype("string"))
        _Call("labels", m, items, "gg-label-village").add_to(group)
    if places.towns is not None and len(places.towns):
        t = places.towns
        items = _label_items(t.geometry.y, t.geometry.x, t["town"].astype("string"))
        _Call("labels", m, items, "gg-label-township").add_to(group)
    _Call("zoomClasses", m, LABEL_ZOOMS).add_to(group)


def _split_villages(value: Any) -> list[str]:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return []
    return [v for v in re.split(r"[，,、;；\s]+", str(value)) if v]


def _village_grid_tips(
    village: gpd.GeoDataFrame, names: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Per village grid: its tooltip (name, manager, villages) and its villages' line."""
    tips, lines = [], []
    for _, grid in village.iterrows():
        codes = _split_villages(grid.get("villages"))
        shown = [names.get(c, c) for c in codes[:TOOLTIP_VILLAGES_MAX]]
        line = "、".join(shown)
        if len(codes) > TOOLTIP_VILLAGES_MAX:
            line += f" 等{len(codes)}村"
        name = grid.get("name")
        name = grid["grid_id"] if name is None or pd.isna(name) or not str(name) else name
        manager = grid.get("manager")
        manager = "—" if manager is None or pd.isna(manager) else manager
        tip = f"{html.escape(str(name))}（网格长 {html.escape(str(manager))}）"
        if line:
            tip += f"<br>村 villages：{html.escape(line)}"
        tips.append(tip)
        lines.append(line)
    return tips, lines


def _gap_data(
    gaps: gpd.GeoDataFrame,
    service: str,
    *,
    villages: gpd.GeoDataFrame | None,
    towns: gpd.GeoDataFrame | None = None,
    colour: str,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The data of a gap layer for gg-labels.js and the gaps counted by village (None when
    the customers carry no village)."""
    reason_col = f"{service}_reason" if f"{service}_reason" in gaps.columns else "reason"
    zh, en, kind_zh = SERVICE_TEXT[service]

    def bubble(place: str, row: pd.Series) -> list[Any]:
        n = int(row["customers"])
        reasons = html.escape(_reasons_text(row["reasons"]))
        tip = f"{html.escape(place)}：{n:,d} 户{zh}（{reasons}）/ {n:,d} customers {en}"
        return [float(row["lat"]), float(row["lon"]), n, tip]

    by_village = None
    bubbles: list[list[Any]] = []
    town_bubbles: list[list[Any]] = []
    if "village_code" in gaps.columns:
        by_village = gap_villages(gaps, villages=villages, reason_column=reason_col)
        for code, row in by_village.iterrows():
            bubbles.append(bubble(str(row["name"]) if pd.notna(row["name"]) else str(code), row))
        by_town = gap_towns(by_village, towns=towns)
        town_bubbles = [bubble(str(t), row) for t, row in by_town.iterrows()]
    dots = gap_dots(gaps, reason_column=reason_col, eta_column=f"{service}_eta_s")
    reasons_list = sorted(dots["reason"].unique().tolist())
    reason_index = {r: i for i, r in enumerate(reasons_list)}
    # a dot names its village by its place in `names` (-1: none): a name per dot would
    # make up a third of the file at 150,000 customers
    codes = [] if by_village is None else [str(c) for c in by_village.index]
    names = [] if by_village is None else [html.escape(str(n)) for n in by_village["name"]]
    village_index = {c: i for i, c in enumerate(codes)}
    dot_rows = [
        [
            float(d.lat),
            float(d.lon),
            int(d.customers),
            reason_index[d.reason],
            None if pd.isna(d.eta_min) else float(d.eta_min),
            village_index.get(str(d.village_code), -1),
        ]
        for d in dots.itertuples(index=False)
    ]
    data = {
        "colour": colour,
        "css": f"gg-gap-{service}",
        "minZoom": GAP_DOTS_MIN_ZOOM,
        "maxDots": GAP_DOTS_MAX_SHOWN,
        "townZoom": GAP_VILLAGES_MIN_ZOOM,
        "towns": town_bubbles,
        "villages": bubbles,
        "dots": dot_rows,
        "names": names,
        "reasons": [html.escape(f"原因 {REASONS_ZH.get(r, r)}") for r in reasons_list],
        "dotTip": [f"{zh} 户数 customers", f"{kind_zh}用时（分钟）min"],
    }
    return data, by_village


def _reasons_text(reasons: Mapping[str, int]) -> str:
    return "、".join(f"{REASONS_ZH.get(r, r)} {n:,d}" for r, n in reasons.items())


def _problems_panel(table: pd.DataFrame) -> str:
    """The problem-village panel: one entry per village, worst first."""
    items = []
    for code, row in table.head(PROBLEM_VILLAGES_MAX).iterrows():
        lines = []
        for service in ("repair", "payment"):
            n = int(row[service])
            if n:
                zh, en, _ = SERVICE_TEXT[service]
                lines.append(
                    f"{n:,d} 户{zh}（{html.escape(_reasons_text(row[f'{service}_reasons']))}）"
                    f' <span class="gg-en">{n:,d} customers {en}</span>'
                )
        bounds = _js([float(row[c]) for c in ("west", "south", "east", "north")])
        town = f' <span class="gg-en">{html.escape(str(row["town"]))}</span>' if row["town"] else ""
        items.append(
            f'<li data-village="{html.escape(str(code))}" data-repair="{int(row["repair"])}" '
            f'data-payment="{int(row["payment"])}" data-bounds="{html.escape(bounds)}" '
            f'tabindex="0" role="button"><b>{html.escape(str(row["name"]))}</b>{town}<br>'
            + "<br>".join(lines)
            + "</li>"
        )
    more = ""
    if table.empty:
        more = (
            '<div class="gg-more">没有客户超出服务承诺 '
            '<span class="gg-en">no customer beyond a promise</span></div>'
        )
    if len(table) > PROBLEM_VILLAGES_MAX:
        rest = len(table) - PROBLEM_VILLAGES_MAX
        more = (
            f'<div class="gg-more">另有 {rest} 个村 '
            f'<span class="gg-en">{rest} more villages</span></div>'
        )
    return (
        '<div class="gg-box gg-problems" id="gg-problems">'
        '<div class="gg-title">问题村 <span class="gg-en">Problem villages</span></div>'
        f"<ol>{''.join(items)}</ol>{more}</div>\n"
    )


def _edition(places: MapPlaces | None) -> tuple[str, str]:
    """The data's date and version in Chinese and English ('' when unknown)."""
    if places is None:
        return "", ""
    zh, en = [], []
    if places.data_date:
        zh.append(f"数据 {places.data_date}")
        en.append(f"data of {places.data_date}")
    if places.version is not None:
        zh.append(f"版本 {places.version}")
        en.append(f"grids version {places.version}")
    return " · ".join(zh), " · ".join(en)


def _legend_html(
    supply_colours: list[str],
    figure_rows: list[tuple[str, str, str]],
    title: str,
    *,
    suggested: bool = False,
    bands_s: tuple[float, ...] = (),
    gaps: tuple[str, ...] = (),
) -> str:
    """The legend and key-figures boxes; the legend lists only what the map draws: the
    repair bands ``bands_s`` (seconds) and the coverage gaps of the services ``gaps``."""
    swatches = "".join(
        f'<span style="display:inline-block;width:10px;height:12px;background:{c}"></span>'
        for c in supply_colours[:8]
    )

    def item(symbol: str, zh: str, en: str) -> str:
        return (
            f'<div class="gg-item"><span class="gg-sym">{symbol}</span>'
            f'{zh} <span class="gg-en">{en}</span></div>'
        )

    def box(style: str) -> str:
        return f'<span style="display:inline-block;width:18px;height:12px;{style}"></span>'

    def dot(colour: str, size: int) -> str:
        return (
            f'<span style="display:inline-block;width:{size}px;height:{size}px;'
            f'border-radius:50%;background:{colour}"></span>'
        )

    legend = "".join(
        [
            '<div class="gg-title">图例 <span class="gg-en">Legend</span></div>',
            item(box(f"border:2px solid {COUNTY_COLOUR}"), "县界", "county boundary"),
            item(swatches, "供电网格（二级，按变电站着色）", "supply grid, one colour each"),
            item(
                box(f"border:1.5px dashed {VILLAGE_GRID_COLOUR}"),
                "村级网格（三级）",
                "village grid",
            ),
            item(
                SUBSTATION_ICON_HTML.replace("margin:2px", "margin:2px 3px"), "变电站", "substation"
            ),
            item(REPAIR_ICON_HTML, "抢修站", "repair station"),
            *(
                [
                    item(
                        _suggested_icon_html("1", css_class="gg-suggested-key"),
                        "选址建议：新增抢修站（编号为建议顺序）",
                        "suggested new repair station, numbered in order",
                    )
                ]
                if suggested
                else []
            ),
            item(dot(PAYMENT_POINT_COLOUR, 9), "缴费点", "payment point"),
            *(
                item(
                    box(f"background:{_band_colour(b)};opacity:{0.4 + BAND_FILL_OPACITY}"),
                    f"抢修{_minutes(b)}分钟可达",
                    f"repair within {_minutes(b)} min",
                )
                for b in sorted(bands_s)
            ),
            *(
                [
                    item(
                        dot(REPAIR_GAP_COLOUR, 7),
                        "抢修超30分钟的客户",
                        "customer beyond 30-min repair",
                    )
                ]
                if "repair" in gaps
                else []
            ),
            *(
                [
                    item(
                        dot(PAYMENT_GAP_COLOUR, 7),
                        "缴费超10分钟的客户",
                        "customer beyond 10-min payment",
                    )
                ]
                if "payment" in gaps
                else []
            ),
        ]
    )
    rows = "".join(
        f'<tr><th>{zh}<br><span class="gg-en">{en}</span></th><td>{value}</td></tr>'
        for zh, en, value in figure_rows
    )
    # the phone shows these few figures as a strip (maps/static/gg-layout.css)
    short = {zh: (short_zh, en) for zh, short_zh, en in STRIP_FIGURES}
    strip = '<span class="gg-sep">·</span> '.join(
        f'<span class="gg-chip">{short[zh][0]} <span class="gg-en">{short[zh][1]}</span> '
        f"<b>{value}</b></span> "
        for zh, _en, value in figure_rows
        if zh in short
    )
    style = f"""
<style>
.leaflet-container {{ background: {BACKGROUND_COLOUR}; font-family: {FONT_FAMILY}; }}
.gg-box {{ background: rgba(255,255,255,0.93);
  border: 1px solid #999; border-radius: 6px; padding: 8px 10px; font-family: {FONT_FAMILY};
  font-size: 12px; line-height: 1.35; color: #222; box-shadow: 0 1px 4px rgba(0,0,0,0.3); }}
.gg-title {{ font-weight: bold; font-size: 14px; margin-bottom: 4px; }}
.gg-en {{ color: #666; font-size: 11px; }}
.gg-item {{ margin: 2px 0; white-space: nowrap; }}
.gg-sym {{ display: inline-block; min-width: 30px; text-align: center; vertical-align: middle;
  margin-right: 4px; }}
.gg-figures table {{ border-collapse: collapse; }}
.gg-figures th {{ text-align: left; font-weight: normal; padding: 1px 10px 1px 0; }}
.gg-figures td {{ text-align: right; font-weight: bold; font-size: 14px; white-space: nowrap; }}
table.gg-popup {{ border-collapse: collapse; font-family: {FONT_FAMILY}; font-size: 12px; }}
table.gg-popup th, table.gg-popup td {{ border-bottom: 1px solid #eee; padding: 1px 6px;
  text-align: left; }}
table.gg-children {{ margin-top: 6px; }}
</style>"""
    return (
        f"{style}\n"
        # a preview that runs no script (WeChat's) shows the panels but cannot draw the map
        '<noscript><div class="gg-box gg-noscript">地图需在浏览器中打开（微信：右上角“…”→'
        '在浏览器打开）<br><span class="gg-en">Open the file in a browser to see the map.'
        "</span></div></noscript>\n"
        f'<div class="gg-box gg-figures" id="gg-figures"><div class="gg-title">{title}</div>'
        f'<div class="gg-strip">{strip}</div><table>{rows}</table></div>\n'
        f'<div class="gg-box gg-legend" id="gg-legend">{legend}</div>\n'
    )


def county_overview_map(
    *,
    county: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    substations: gpd.GeoDataFrame,
    repair_stations: gpd.GeoDataFrame,
    payment_points: gpd.GeoDataFrame,
    access: gpd.GeoDataFrame | None = None,
    isochrones: gpd.GeoDataFrame | None = None,
    figures: Mapping[str, Any] | None = None,
    kpis: Mapping[str, pd.DataFrame] | None = None,
    customer_counts: Mapping[int, pd.DataFrame] | None = None,
    suggested_sites: gpd.GeoDataFrame | None = None,
    siting: Mapping[str, Any] | SitingResult | None = None,
    title: str | None = None,
    places: MapPlaces | None = None,
    m: folium.Map | None = None,
) -> folium.Map:
    """The county overview map: grids, stations, repair reach, coverage gaps, key figures.

    Parameters
    ----------
    county
        The county boundary (``name`` is used in the title when present).
    grids
        Service grids (``grid_id``, ``tier``; shown when present: ``name``, ``parent_id``,
        ``substation_id``, ``manager``, ``phone``, ``liaison``, ``customers`` and per-grid
        ``repair_share_ok`` / ``payment_share_ok``). Tier-2 grids are filled, one colour
        each; tier-3 grids are dashed outlines; tier 1 is not drawn (the county is).
    substations, repair_stations, payment_points
        Points; ids, names and (payment points) ``kind_zh`` label them.
    access
        Per-customer access with point geometry (the ``customer_access`` layer):
        customers with ``repair_ok`` / ``payment_ok`` False are drawn as coverage gaps;
        ``reason``, ``repair_reason``, ``payment_reason``, ``repair_eta_s`` and
        ``payment_eta_s`` label them when present.
    isochrones
        Repair reach bands (``band_s``; rows with ``station_id == "all"`` are used when the
        column is present), drawn 30 → 20 → 10 minutes.
    figures
        Key figures, nested (as the demo's ``summary.json``) or flat with dotted keys:
        ``customers``, ``grids.tier2``, ``grids.tier3``, ``substations``, ``repair_stations``,
        ``payment_points``, ``reach.repair_share_ok``, ``reach.payment_share_ok``,
        ``reach.repair_median_eta_s``, ``reach.payment_median_eta_s``. Counts missing from
        it are taken from the layers drawn.
    kpis
        The result of :func:`gridgeo.reach_kpis`: per-grid service levels for the popups
        (tables ``tier2`` / ``tier3`` indexed by grid id) and, when ``figures`` lacks
        them, the county's (table ``county``).
    customer_counts
        Customers per grid, tier → table (:func:`gridgeo.count_grid_customers` or
        :func:`gridgeo.customers_per_grid` per tier, with the row ``未定位``): the
        customers of the popups, the county total and the not located customers of the key
        figures. When given, they replace the grids' own count columns and
        ``figures["customers"]``, so that the map shows the counts every other output shows.
    suggested_sites
        The planner's suggested new repair stations (points, any CRS): ``rank`` (1, 2, ...,
        the pick order), ``name`` (the village), ``gain_customers`` (customers newly within
        the repair promise) and optionally ``covered_share`` (the county's share after this
        pick), e.g. :func:`gridgeo.site_facilities`'s ``picks`` with the candidates'
        points and names. Drawn in their own layer as numbered, dashed markers.
    siting
        The siting summary: a :class:`gridgeo.SitingResult`, or a mapping with
        ``share_before`` and ``share_after`` (shares in [0, 1]) and optionally ``k`` (default:
        the rows of ``suggested_sites``) and ``limit_s`` (default 1,800 s). Adds the line
        "新增k处抢修站：30分钟抢修可达 before → after" to the key figures.
    title
        Title of the key-figures box (default: ``"<county name>供电服务网格总览"``).
    places
        The county's places (:func:`maps.places.read_map_places`): the roads by class and
        the rivers drawn as the map's base (no tiles), township names, village names at
        closer zooms and main road names as labels, the villages' names in the village
        grids' tooltips and as the positions of the coverage gaps counted by village, and the
        data's date and version in the title. With villages and an ``access`` column
        ``village_code``, the gaps are one marker per township (count and reasons) below zoom
        11, one per village below zoom 13 and dots from there on, and a "problem villages"
        panel (``#gg-problems``) lists the villages with customers outside a promise, each
        zooming the map to its village.
    m
        A map to draw on; a new one without basemap tiles when None.

    Returns
    -------
    folium.Map
        The map (``m`` itself when given). Save it with :func:`save_offline`.

    Raises
    ------
    InputError
        If a layer is not a GeoDataFrame, ``figures`` is not a mapping, ``access`` has
        neither ``repair_ok`` nor ``payment_ok``, a ``suggested_sites`` rank or gain is not a
        whole number (>= 1, >= 0) or a share is outside [0, 1], or ``siting`` is not a
        siting summary or disagrees with ``suggested_sites`` on ``k``.
    MissingColumnError
        If ``grids`` lacks ``grid_id`` / ``tier``, ``isochrones`` lacks ``band_s`` or
        ``suggested_sites`` lacks ``rank`` / ``name`` / ``gain_customers``.
    EmptyDataError
        If ``county`` has no geometry or ``suggested_sites`` has no rows.
    InvalidGeometryError
        If a suggested site has no position or is not a point.
    DuplicateIdError
        If a ``suggested_sites`` rank repeats.
    CRSError
        If a layer has no CRS.
    """
    county = _check_frame(county, "county")
    if county.empty:
        msg = "`county` has no geometry; pass the county boundary layer (`county`)"
        raise EmptyDataError(msg)
    grids = _check_frame(grids, "grids", ("grid_id", "tier"))
    substations = _check_frame(substations, "substations")
    repair_stations = _check_frame(repair_stations, "repair_stations")
    payment_points = _check_frame(payment_points, "payment_points")
    n_total = n_lost = None
    if customer_counts is not None:
        if not isinstance(customer_counts, Mapping) or not all(
            isinstance(t, pd.DataFrame) and "customers" in t for t in customer_counts.values()
        ):
            msg = (
                "`customer_counts` must map tiers to tables with a `customers` column "
                "(gridgeo.count_grid_customers)"
            )
            raise InputError(msg)
        grids = with_customer_counts(grids, customer_counts)
        if customer_counts:
            table = customer_counts[min(customer_counts)]["customers"]
            n_total = int(table.sum())
            n_lost = int(table.get(NOT_LOCATED, 0))
    n_access = None
    access_rows = None  # every customer, with a point or not (counted by village)
    if access is not None:
        n_access = len(access)  # customers without a point count too
        given_access = access
        access = _check_frame(access, "access")
        access_rows = ensure_crs(given_access, source="access")
        if not {"repair_ok", "payment_ok"} & set(access.columns):
            msg = (
                "`access` has neither `repair_ok` nor `payment_ok`; pass the result of "
                "gridgeo.customer_access (the `customer_access` layer)"
            )
            raise InputError(msg)
    if isochrones is not None:
        isochrones = _check_frame(isochrones, "isochrones", ("band_s",))
    if places is not None:
        places = check_places(places)
    if figures is not None and not isinstance(figures, Mapping):
        msg = f"`figures` must be a mapping (e.g. summary.json), got {type(figures).__name__}"
        raise InputError(msg)
    if suggested_sites is not None:
        suggested_sites = _check_suggested_sites(suggested_sites)
    summary = None
    if siting is not None:
        n_sites = None if suggested_sites is None else len(suggested_sites)
        summary = _check_siting(siting, n_sites)
    limit_s = DEFAULT_REPAIR_LIMIT_S if summary is None else summary["limit_s"]

    if m is None:
        minx, miny, maxx, maxy = county.total_bounds
        m = folium.Map(
            location=[(miny + maxy) / 2, (minx + maxx) / 2],
            zoom_start=10,
            tiles=None,
            control_scale=True,
            prefer_canvas=True,
        )
        m.fit_bounds([[miny, minx], [maxy, maxx]])

    # county boundary
    county_group = folium.FeatureGroup(name=LAYER_NAMES["county"])
    county_group.add_to(m)
    folium.GeoJson(
        _geojson(county, []),
        style_function=lambda _f: {
            "color": COUNTY_COLOUR,
            "weight": 3,
            "fillColor": "#ffffff",
            "fillOpacity": 0.6,
        },
        interactive=False,
    ).add_to(county_group)

    # supply grids (tier 2), one colour each, with a popup listing their village grids
    tiers = pd.to_numeric(grids["tier"], errors="coerce")
    # each tier tiles the county: simplified as a coverage, so no gap opens between grids
    supply = simplify_coverage(grids[tiers == 2].sort_values("grid_id"))
    village = simplify_coverage(grids[tiers == 3].sort_values("grid_id"))
    colours = [SUPPLY_GRID_COLOURS[i % len(SUPPLY_GRID_COLOURS)] for i in range(len(supply))]
    popups: list[str] = []
    if len(supply):
        by_parent = (
            village.groupby("parent_id", sort=False) if "parent_id" in village.columns else None
        )
        for _, grid in supply.iterrows():
            children = (
                by_parent.get_group(grid["grid_id"])
                if by_parent is not None and grid["grid_id"] in by_parent.groups
                else village.iloc[:0]
            )
            popups.append(_grid_popup(grid, children, kpis))
        label = _point_label(supply, ("name",)).where(lambda s: s != "", supply["grid_id"])
        manager = (
            supply["manager"].astype("string").fillna("—")
            if "manager" in supply.columns
            else pd.Series("—", index=supply.index)
        )
        data = supply.assign(
            colour=colours,
            label=label,
            tip=label + "（网格长 " + manager + "）",
            popup_html=popups,
        )
        group = folium.FeatureGroup(name=LAYER_NAMES["supply_grids"])
        group.add_to(m)
        folium.GeoJson(
            _geojson(data, ["grid_id", "colour", "tip", "popup_html"]),
            style_function=lambda f: {
                "color": "#ffffff",
                "weight": 2,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": GRID_FILL_OPACITY,
            },
            highlight_function=lambda _f: {"weight": 4, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
            popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False, max_width=520),
        ).add_to(group)
    if len(village):
        # a village grid lies on its supply grid: its tooltip names it, its manager and its
        # villages; its popup shows it and then its supply grid's people and rates
        names: dict[str, str] = {}
        if places is not None and places.villages is not None:
            names = dict(
                zip(
                    places.villages["village_code"].astype(str),
                    places.villages["village"].astype(str),
                    strict=True,
                )
            )
        tips, village_lines = _village_grid_tips(village, names)
        # the supply grid's own rows only: its full popup lists all its village grids again
        parent_popup = {
            grid["grid_id"]: _grid_popup(grid, village.iloc[:0], kpis)
            for _, grid in supply.iterrows()
        }
        village_popups = []
        for (_, grid), line in zip(village.iterrows(), village_lines, strict=True):
            own = _grid_popup(grid, village.iloc[:0], kpis)
            own = own.replace(
                "</table>",
                f"<tr><th>村 Villages</th><td>{html.escape(line) or '—'}</td></tr></table>",
                1,
            )
            parent = parent_popup.get(grid.get("parent_id"), "")
            if parent:
                parent = (
                    '<div class="gg-title" style="margin-top:6px">所属供电网格 '
                    f'<span class="gg-en">supply grid</span></div>{parent}'
                )
            village_popups.append(own + parent)
        group = folium.FeatureGroup(name=LAYER_NAMES["village_grids"])
        group.add_to(m)
        folium.GeoJson(
            _geojson(
                village.assign(tip=tips, popup_html=village_popups),
                ["grid_id", "tip", "popup_html"],
            ),
            style_function=lambda _f: {
                "color": VILLAGE_GRID_COLOUR,
                "weight": 1.5,
                "dashArray": "5 4",
                "fill": True,
                "fillOpacity": 0,
            },
            highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
            popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False, max_width=520),
        ).add_to(group)

    # repair reach bands: widest first so the nearer bands lie on top
    drawn_bands: tuple[float, ...] = ()
    if isochrones is not None and len(isochrones):
        bands = isochrones
        if "station_id" in bands.columns and (bands["station_id"] == "all").any():
            bands = bands[bands["station_id"] == "all"]
        bands = bands.sort_values("band_s", ascending=False)
        band_colour = {b: _band_colour(b) for b in bands["band_s"].unique()}
        drawn_bands = tuple(float(b) for b in band_colour)
        data = bands.assign(colour=bands["band_s"].map(band_colour)).set_geometry(
            bands.geometry.simplify(BAND_SIMPLIFY_DEG, preserve_topology=True)
        )
        group = folium.FeatureGroup(name=LAYER_NAMES["isochrones"])
        group.add_to(m)
        folium.GeoJson(
            _geojson(data, ["band_s", "colour"]),
            style_function=lambda f: {
                "stroke": False,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": BAND_FILL_OPACITY,
            },
            interactive=False,
        ).add_to(group)

    if places is not None and places.rivers is not None:
        _add_rivers(m, places.rivers)
    if places is not None and places.roads is not None:
        _add_roads(m, places.roads)

    # coverage gaps: customers outside a promise, by village at low zoom
    _add_assets(m)
    n_gaps: dict[str, int] = {}
    gaps_by_village: dict[str, pd.DataFrame] = {}
    if access is not None and access_rows is not None:
        villages = places.villages if places is not None else None
        towns = places.towns if places is not None else None
        located = access_rows.geometry.notna() & ~access_rows.geometry.is_empty
        customers = access_rows.set_geometry(
            access_rows.geometry.where(located & (access_rows.geom_type == "Point"), None)
        )
        # payment first so that the rarer repair gaps are drawn on top
        for service, colour in (("payment", PAYMENT_GAP_COLOUR), ("repair", REPAIR_GAP_COLOUR)):
            if f"{service}_ok" not in customers.columns:
                continue
            failed = ~customers[f"{service}_ok"].fillna(False).astype(bool).to_numpy()
            gaps = customers[failed]
            n_gaps[service] = int(gaps.geometry.notna().sum())
            data, by_village = _gap_data(
                gaps, service, villages=villages, towns=towns, colour=colour
            )
            if by_village is not None:
                gaps_by_village[service] = by_village
            group = folium.FeatureGroup(name=LAYER_NAMES[f"{service}_gaps"])
            group.add_to(m)
            _Call("gaps", m, data).add_to(group)
    if gaps_by_village:
        _Problems(_problems_panel(problem_villages(gaps_by_village))).add_to(m)

    # stations on top
    group = folium.FeatureGroup(name=LAYER_NAMES["payment_points"])
    group.add_to(m)
    _add_points(
        group,
        payment_points,
        label_columns=("point_id", "name", "kind_zh"),
        kind_zh="缴费点",
        marker=folium.CircleMarker(
            radius=4,
            color="#ffffff",
            weight=1,
            fill=True,
            fill_color=PAYMENT_POINT_COLOUR,
            fill_opacity=1.0,
        ),
    )
    group = folium.FeatureGroup(name=LAYER_NAMES["substations"])
    group.add_to(m)
    _add_points(
        group,
        substations,
        label_columns=("substation_id", "name"),
        kind_zh="变电站",
        marker=folium.Marker(icon=_div_icon(SUBSTATION_ICON_HTML, 16)),
    )
    group = folium.FeatureGroup(name=LAYER_NAMES["repair_stations"])
    group.add_to(m)
    _add_points(
        group,
        repair_stations,
        label_columns=("station_id", "name"),
        kind_zh="抢修站",
        marker=folium.Marker(icon=_div_icon(REPAIR_ICON_HTML, 22)),
    )
    if suggested_sites is not None:
        _add_suggested_sites(m, suggested_sites, limit_s)
    if places is not None:
        _add_place_names(m, places)

    if not any(isinstance(c, folium.LayerControl) for c in m._children.values()):
        folium.LayerControl(collapsed=False, position=LAYER_CONTROL_POSITION).add_to(m)

    # legend and key figures
    figures = dict(figures or {})
    if n_total is not None:
        figures.update(customers=n_total, not_located=n_lost)
    county_kpis = kpis.get("county") if kpis is not None else None
    fallback: dict[str, Any] = {
        "grids.tier2": len(supply),
        "grids.tier3": len(village),
        "substations": len(substations),
        "repair_stations": len(repair_stations),
        "payment_points": len(payment_points),
    }
    if n_access is not None:
        fallback["customers"] = n_access
    rows: list[tuple[str, str, str]] = []
    for path, zh, en, kind in FIGURE_ROWS:
        value = _lookup(figures, path)
        if value is None and county_kpis is not None and len(county_kpis):
            column = path.removeprefix("reach.")
            if column in county_kpis.columns:
                value = county_kpis[column].iloc[0]
        if value is None:
            value = fallback.get(path)
        if value is not None:
            rows.append((zh, en, _format_figure(value, kind)))
    if summary is not None:
        minutes = _minutes(summary["limit_s"])
        rows.append(
            (
                f"新增{summary['k']}处抢修站：{minutes}分钟抢修可达",
                f"{summary['k']} new stations (suggested): {minutes}-min repair reach",
                f"{_share(summary['share_before'])} → {_share(summary['share_after'])}",
            )
        )
    for service, zh, en in (
        ("repair", "抢修未达标客户", "beyond 30-min repair"),
        ("payment", "缴费未达标客户", "beyond 10-min payment"),
    ):
        if service in n_gaps:
            rows.append((zh, en + " (on map)", f"{n_gaps[service]:,d}"))
    name = county["name"].iloc[0] if "name" in county.columns else ""
    name = "" if name is None or pd.isna(name) else str(name)
    edition_zh, edition_en = _edition(places)
    if title is None:
        page_title = f"{name}供电服务网格图"
        title = f"{html.escape(name)}供电服务网格总览"
    else:
        page_title = title
        title = html.escape(title)
    title += '<br><span class="gg-en">Grid-based power supply service overview</span>'
    if edition_zh:
        title += (
            f'<div class="gg-edition" id="gg-edition">{html.escape(edition_zh)} '
            f'<span class="gg-en">{html.escape(edition_en)}</span></div>'
        )
    root = cast(Figure, m.get_root())  # a folium.Map's root is its Figure
    # the browser tab and the saved page's name (branca writes it unescaped)
    root.title = html.escape(" · ".join(t for t in (page_title, edition_zh) if t))
    legend = _legend_html(
        colours,
        rows,
        title,
        suggested=suggested_sites is not None,
        bands_s=drawn_bands,
        gaps=tuple(n_gaps),
    )
    root.html.add_child(Element(legend))
    return m


def _static_text(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def _leaflet_css() -> str:
    """Leaflet's CSS with its layer-control icons as data URIs."""
    css = _static_text("leaflet.css")
    for image in ("layers.png", "layers-2x.png"):
        data = base64.b64encode((STATIC_DIR / image).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{image})", f"url(data:image/png;base64,{data})")
    return css


def offline_html(m: folium.Map) -> str:
    """The map as one self-contained HTML page that loads nothing from the network.

    Leaflet's JS and CSS are inlined from ``maps/static/``; Folium's other defaults (jQuery,
    Bootstrap, Font Awesome, Awesome Markers) are dropped, since the builders here use none
    of them.

    Parameters
    ----------
    m
        The map, made without network tiles (``tiles=None``).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    InputError
        If the map loads tiles from the network, uses jQuery (``folium.Popup``), or needs a
        script or style sheet other than Leaflet's from the network.
    """
    if not isinstance(m, folium.Map):
        msg = f"`m` must be a folium.Map, got {type(m).__name__}"
        raise InputError(msg)
    page = m.get_root().render()
    if _TILE_LAYER.search(page):
        msg = (
            "the map loads basemap tiles from the network; create it with `tiles=None` "
            "(county_overview_map does) to save it for offline use"
        )
        raise InputError(msg)
    if _JQUERY_USE.search(page):
        msg = (
            "the map uses jQuery (folium.Popup or objects kept in front), which is not "
            "vendored; use folium.GeoJsonPopup / GeoJsonTooltip instead"
        )
        raise InputError(msg)

    leaflet_js = _static_text("leaflet.js").replace("</script", "<\\/script")
    inline = {
        "leaflet.js": f"<script>{leaflet_js}</script>",
        "leaflet.css": f"<style>{_leaflet_css()}</style>",
    }
    dropped = ("jquery", "bootstrap", "awesome-markers", "awesome.rotate", "fontawesome")
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        url = match.group(1)
        file_name = url.rsplit("/", 1)[-1].split("?")[0]
        if "leaflet@" in url and file_name in inline:
            return inline.pop(file_name)
        if any(d in url.lower() for d in dropped):
            return ""
        unknown.append(url)
        return match.group(0)

    page = _TAG_WITH_URL.sub(replace, page)
    if unknown:
        msg = (
            f"the map needs {unknown!r} from the network, which cannot be inlined; "
            "remove the plugin or element that adds it"
        )
        raise InputError(msg)
    if inline:
        msg = f"Leaflet's {sorted(inline)!r} not found in the rendered map; is `m` a folium.Map?"
        raise InputError(msg)
    # the panels' places on a phone, a laptop and paper (gg-layout.js marks the page at once
    # and docks the panels once the map is made)
    layout_js = _static_text("gg-layout.js").replace("</script", "<\\/script")
    layout = f"<style>{_static_text('gg-layout.css')}</style>\n<script>{layout_js}</script>\n"
    page = page.replace("</head>", f"{layout}</head>", 1)
    load = _NETWORK_LOAD.search(page)
    if load:
        msg = (
            f"the map would still load a resource from the network ({load.group(0)!r}); "
            "remove the image, frame or style that points to the internet"
        )
        raise InputError(msg)
    return _stable_ids(page)


_ELEMENT_ID = re.compile(r"\b([a-z][a-z0-9_]*?)_([0-9a-f]{32})(?![0-9a-f])")


def _stable_ids(page: str) -> str:
    """Replace Folium's random element ids (``map_<uuid4 hex>``) by numbers in page order.

    The same map then gives the same bytes every time (DESIGN: determinism).
    """
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        n = numbers.setdefault(match.group(2), len(numbers) + 1)
        return f"{match.group(1)}_{n:04d}"

    return _ELEMENT_ID.sub(number, page)


def save_offline(m: folium.Map, path: str | Path) -> Path:
    """Write the map as ONE self-contained HTML file that opens with no internet.

    Parameters
    ----------
    m
        The map (e.g. from :func:`county_overview_map`).
    path
        The HTML file to write (its folder is created).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        As :func:`offline_html`.
    """
    page = offline_html(m)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    logger.info("saved offline map %s (%d bytes)", path, path.stat().st_size)
    return path
