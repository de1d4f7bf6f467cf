"""The county map as a picture: a PNG for phones (WeChat) and an A4 landscape PDF.

County leaders open files from WeChat on their phones, whose preview may not run JavaScript,
so the offline HTML map (:mod:`maps.overview`) is also drawn as a static picture from the same
workspace: :func:`county_picture` writes ``county_map.png`` and ``county_map.pdf``.

What it shows: the county boundary, the supply grids (tier 2, outlines) and village grids
(tier 3, thin outlines), the roads by class, the substations, repair stations and payment
points, the customers beyond the repair and payment promises aggregated by village (circles
sized by their number), the township names, the worst villages numbered on the map and listed
beside it (the HTML map's problem villages, :func:`maps.places.problem_villages`: most customers
beyond the repair promise first), the planner's suggested new repair stations when asked for,
the title ``XX县供电服务网格图``, the data date and the grids' version (as the HTML map,
:func:`maps.places.read_map_places`), the key figures in large type, a legend, a scale bar and a
north arrow. Everything on it is in Chinese; no English code is shown.

The layout. One drawing of A4 landscape proportions (297 × 210 mm) is saved twice: as a
1600 × 1131 px PNG (about 137 dpi) and as the A4 PDF, so what a leader sees on the phone and
what is printed are the same picture. Landscape, because the county map and a column of
figures sit side by side at a size that stays readable: WeChat's image viewer opens the PNG
full screen and lets it be turned and zoomed. The key figures are 30 pt (57 px in the PNG):
about 14 px on a 390 px wide phone held upright, 30 px held across; a portrait picture would
have needed a second layout for the A4 landscape PDF.

The PDF's text is a real text layer: the fonts are embedded as subsets (``pdf.fonttype`` 42),
so the Chinese can be searched and copied. With matplotlib 3.11 Type 3 fonts kept the text
extractable too, but the file was larger (359 KB against 350 KB for the sample county). Labels
on the map sit on pale boxes, not stroked halos: path effects turn text into outlines, which
the text layer would lose.

The Chinese font is the machine's own (:func:`gridgeo.fonts.cjk_font`); without one,
:class:`gridgeo.NotFoundError` says how to install it, before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Rectangle

import gridgeo
from gridgeo.fonts import cjk_font
from maps.places import MapPlaces, check_places, gap_villages, problem_villages, read_map_places

__all__ = [
    "PDF_FONTTYPE",
    "PICTURE_DPI",
    "PICTURE_SIZE_IN",
    "TITLE_SUFFIX",
    "county_picture",
    "picture_title",
]

# A4 landscape in inches; saved at PICTURE_DPI this is 1600 x 1131 px
PICTURE_SIZE_IN = (297 / 25.4, 210 / 25.4)
PICTURE_DPI = 1600 / PICTURE_SIZE_IN[0]
PDF_FONTTYPE = 42
TITLE_SUFFIX = "供电服务网格图"
WGS84 = "EPSG:4326"
VILLAGE_CODE = "village_code"
N_WORST_VILLAGES = 8
# where the parts sit, as fractions of the figure (left, bottom, width, height)
MAP_BOX = (0.01, 0.01, 0.62, 0.86)
TITLE_XY = (0.02, 0.955)
SUBTITLE_XY = (0.02, 0.905)
PANEL_LEFT = 0.655
TITLE_SIZE_PT = 30
SUBTITLE_SIZE_PT = 12
FIGURE_LABEL_SIZE_PT = 14
FIGURE_VALUE_SIZE_PT = 30
TOWN_LABEL_SIZE_PT = 11
VILLAGE_LABEL_SIZE_PT = 10
LEGEND_SIZE_PT = 10.5
# the roads by class: (classes, colour, width in points, legend label); later ones on top
ROAD_STYLES = (
    (
        ("residential", "track", "unclassified", "service", "living_street"),
        "#c9c2b4",
        0.3,
        "村道、小路",
    ),
    (("tertiary", "tertiary_link"), "#b0a48c", 0.6, "县乡道路"),
    (("secondary", "secondary_link", "primary", "primary_link"), "#d08c3c", 1.1, "省道"),
    (("trunk", "trunk_link", "motorway", "motorway_link"), "#c0392b", 1.6, "国道、高速"),
)
ROAD_SIMPLIFY_M = 15.0
GRID_SIMPLIFY_M = 10.0
COUNTY_COLOUR = "#222222"
SUPPLY_GRID_COLOUR = "#3a5a8c"
VILLAGE_GRID_COLOUR = "#9aa7b8"
BACKGROUND_COLOUR = "#f4f1ea"
LAND_COLOUR = "#ffffff"
SUBSTATION_COLOUR = "#6a1b9a"
REPAIR_STATION_COLOUR = "#c62828"
PAYMENT_POINT_COLOUR = "#2e7d32"
REPAIR_GAP_COLOUR = "#e41a1c"
PAYMENT_GAP_COLOUR = "#ff7f00"
SUGGESTED_COLOUR = "#1565c0"
# circle area in points^2 per customer beyond a promise, and the smallest circle drawn
GAP_AREA_PER_CUSTOMER = 4.0
GAP_MIN_AREA = 12.0
Offsets = tuple[tuple[float, float], ...]
# where a label may sit around its point (points: right, up), the first that overlaps nothing
TOWN_OFFSETS_PT: Offsets = (
    (0, 9),
    (0, -9),
    (24, 0),
    (-24, 0),
    (20, 10),
    (-20, 10),
    (20, -10),
    (-20, -10),
)
VILLAGE_OFFSETS_PT: Offsets = (
    (0, -10),
    (0, 10),
    (30, 0),
    (-30, 0),
    (26, -12),
    (-26, -12),
    (26, 12),
    (-26, 12),
    (0, -22),
    (0, 22),
)
SCALE_BAR_STEPS_M = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


@contextmanager
def _cjk_style() -> Iterator[str]:
    """matplotlib settings for the picture (Chinese font, embedded PDF fonts), restored after."""
    family = cjk_font()
    with mpl.rc_context(
        {
            "font.family": [family, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "pdf.fonttype": PDF_FONTTYPE,
            "svg.fonttype": "none",
        }
    ):
        yield family


def picture_title(county_name: str) -> str:
    """The picture's title: ``南丰县供电服务网格图`` for ``南丰县``."""
    return f"{county_name}{TITLE_SUFFIX}"


def _share(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{100 * float(value):.1f}%"


def _count(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{int(value):,d} 户"


def _minutes(limit_s: float) -> str:
    return f"{limit_s / 60:g}"


def _lookup(figures: Mapping[str, Any] | None, *path: str) -> Any:
    node: Any = figures
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _data_line(places: MapPlaces) -> str:
    """``数据日期 2026-12-06 · 网格版本 v1``: the date and grid version the HTML map shows."""
    date = places.data_date or "—"
    version = "—" if places.version is None else f"v{places.version}"
    return f"数据日期 {date}　·　网格版本 {version}"


def _gaps_by_village(
    customers: gpd.GeoDataFrame, access: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """The customers beyond each promise per village, worst first, at the village's point.

    Counted and ranked as the HTML map's problem villages (:func:`maps.places.gap_villages`,
    :func:`maps.places.problem_villages`); customers with no village are not drawn (they are
    in the key figures).
    """
    with_village = access.assign(village_code=customers[VILLAGE_CODE].to_numpy())
    by_service: dict[str, pd.DataFrame] = {}
    for service in ("repair", "payment"):
        missed = ~with_village[f"{service}_ok"].fillna(False).astype(bool)
        by_service[service] = gap_villages(
            with_village[missed.to_numpy()],
            villages=villages,
            reason_column=f"{service}_reason",
        )
    ranked = problem_villages(by_service)
    if ranked.empty:
        return gpd.GeoDataFrame(
            {"village": [], "town": [], "repair_gap": [], "payment_gap": []},
            geometry=[],
            crs=WGS84,
        )
    where = pd.concat([t[["lon", "lat"]] for t in by_service.values() if len(t)])
    where = where[~where.index.duplicated()].reindex(ranked.index)
    return gpd.GeoDataFrame(
        {
            "village": ranked["name"].astype(str).to_numpy(),
            "town": ranked["town"].fillna("").astype(str).to_numpy(),
            "repair_gap": ranked["repair"].to_numpy(),
            "payment_gap": ranked["payment"].to_numpy(),
        },
        index=ranked.index,
        geometry=gpd.points_from_xy(where["lon"], where["lat"]),
        crs=WGS84,
    )


def _town_points(places: MapPlaces) -> gpd.GeoDataFrame:
    """One point per township: the ``towns`` layer when there is one, else the middle of its
    villages."""
    if places.towns is not None and len(places.towns):
        return places.towns[["town", "geometry"]]
    villages = places.villages
    if villages is None or "town" not in villages.columns or villages.empty:
        return gpd.GeoDataFrame({"town": []}, geometry=[], crs=WGS84)
    metric = villages.to_crs(gridgeo.metric_crs(villages))
    xy = (
        pd.DataFrame({"town": metric["town"], "x": metric.geometry.x, "y": metric.geometry.y})
        .groupby("town", sort=True)[["x", "y"]]
        .mean()
    )
    return gpd.GeoDataFrame(
        {"town": xy.index}, geometry=gpd.points_from_xy(xy["x"], xy["y"]), crs=metric.crs
    ).to_crs(WGS84)


def _place_labels(ax: Any, labels: list[tuple[Any, Offsets]]) -> None:
    """Move each label (in order: the first ones win) to the first of its offsets where it
    overlaps no label placed before it; a label that fits nowhere keeps its first offset."""
    renderer = ax.figure.canvas.get_renderer()
    placed: list[Any] = []
    for text, offsets in labels:
        for offset in offsets:
            text.xyann = offset
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
        else:
            text.xyann = offsets[0]
            box = text.get_window_extent(renderer)
        placed.append(box)


def _backing(alpha: float = 0.75) -> dict[str, Any]:
    """A pale box behind a label on the map. Not a stroked halo: path effects turn text into
    outlines, and the PDF's text layer would lose it."""
    return {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": alpha}


def _scale_bar(ax: Any, crs_is_metric: bool) -> None:
    """A scale bar in the lower left of the map (the map is drawn in a metric CRS)."""
    if not crs_is_metric:
        return
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    length = max(s for s in SCALE_BAR_STEPS_M if s <= width / 4 or s == SCALE_BAR_STEPS_M[0])
    left, bottom = x0 + 0.04 * width, y0 + 0.04 * (y1 - y0)
    height = 0.008 * (y1 - y0)
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom),
                length / 2,
                height,
                facecolor="#222222" if i == 0 else "white",
                edgecolor="#222222",
                linewidth=0.8,
                zorder=20,
            )
        )
    km = length / 1000
    for x, text in ((left, "0"), (left + length, f"{km:g} 公里")):
        ax.text(
            x,
            bottom + 2.2 * height,
            text,
            ha="center",
            va="bottom",
            fontsize=LEGEND_SIZE_PT,
            zorder=20,
            bbox=_backing(),
        )


def _north_arrow(ax: Any) -> None:
    x, y = 0.95, 0.86
    ax.add_patch(
        FancyArrow(
            x,
            y,
            0,
            0.07,
            width=0.012,
            head_width=0.035,
            head_length=0.035,
            length_includes_head=True,
            transform=ax.transAxes,
            facecolor="#222222",
            edgecolor="#222222",
            zorder=20,
        )
    )
    ax.text(
        x,
        y - 0.012,
        "北",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=13,
        fontweight="bold",
        zorder=20,
        bbox=_backing(),
    )


def _figure_rows(
    figures: Mapping[str, Any] | None,
    kpis: Mapping[str, pd.DataFrame] | None,
    siting: gridgeo.SitingResult | None,
    n_sites: int,
) -> list[tuple[str, str]]:
    """(label, value) of the key figures: from ``figures`` (``summary.json``) where given,
    else from the KPIs of the stored access."""
    county = kpis["county"].iloc[0] if kpis is not None else None

    def pick(key: str) -> Any:
        value = _lookup(figures, "reach", key)
        if value is None and county is not None and key in county.index:
            value = county[key]
        return value

    settings = gridgeo.DEFAULT_SETTINGS
    repair_min, payment_min = _minutes(settings.repair_limit_s), _minutes(settings.payment_limit_s)
    total = pick("customers")
    if total is None:
        total = _lookup(figures, "customers")
    rows = [
        (f"{repair_min}分钟抢修到达率", _share(pick("repair_share_ok"))),
        (f"{payment_min}分钟缴费可达率", _share(pick("payment_share_ok"))),
    ]
    for service, minutes, label in (
        ("repair", repair_min, "抢修"),
        ("payment", payment_min, "缴费"),
    ):
        ok = pick(f"{service}_ok_n")
        beyond = None if total is None or ok is None else int(total) - int(ok)
        rows.append((f"{label}超{minutes}分钟的客户", _count(beyond)))
    if siting is not None and n_sites:
        rows.append(
            (
                f"新增{n_sites}处抢修站后{repair_min}分钟到达率",
                f"{_share(siting.share_before)} → {_share(siting.share_after)}",
            )
        )
    return rows


def _plot_map(
    ax: Any,
    *,
    county: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    substations: gpd.GeoDataFrame,
    repair_stations: gpd.GeoDataFrame,
    payment_points: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame | None,
    suggested: gpd.GeoDataFrame | None,
) -> tuple[list[Any], list[tuple[Any, Offsets]]]:
    """Draw the map's layers on ``ax`` (all in one metric CRS); answer the legend handles and
    the labels to place (:func:`_place_labels`)."""
    handles: list[Any] = []
    county.plot(ax=ax, facecolor=LAND_COLOUR, edgecolor="none", zorder=1)
    if roads is not None and len(roads):
        highway = roads["highway"].astype(str) if "highway" in roads else pd.Series("", roads.index)
        for i, (classes, colour, width, label) in enumerate(ROAD_STYLES):
            mask = highway.isin(classes).to_numpy()
            if i == 0:  # everything not classed below is drawn as a minor road
                later = np.zeros(len(roads), dtype=bool)
                for other, *_ in ROAD_STYLES[1:]:
                    later |= highway.isin(other).to_numpy()
                mask = ~later
            if mask.any():
                roads[mask].plot(ax=ax, color=colour, linewidth=width, zorder=2 + i * 0.1)
            if label:
                handles.append(Line2D([], [], color=colour, linewidth=width + 0.6, label=label))
    tier3 = grids[grids["tier"] == 3]
    tier2 = grids[grids["tier"] == 2]
    if len(tier3):
        tier3.boundary.plot(ax=ax, color=VILLAGE_GRID_COLOUR, linewidth=0.5, zorder=3)
        handles.append(
            Line2D([], [], color=VILLAGE_GRID_COLOUR, linewidth=0.8, label="村级网格（三级）")
        )
    if len(tier2):
        tier2.boundary.plot(ax=ax, color=SUPPLY_GRID_COLOUR, linewidth=1.3, zorder=4)
        handles.append(
            Line2D([], [], color=SUPPLY_GRID_COLOUR, linewidth=1.6, label="供电网格（二级）")
        )
    county.boundary.plot(ax=ax, color=COUNTY_COLOUR, linewidth=2.2, zorder=5)
    handles.insert(0, Line2D([], [], color=COUNTY_COLOUR, linewidth=2.2, label="县界"))

    if gaps is not None and len(gaps):
        for column, colour, label, filled in (
            ("payment_gap", PAYMENT_GAP_COLOUR, "缴费未达标客户（按村）", False),
            ("repair_gap", REPAIR_GAP_COLOUR, "抢修未达标客户（按村）", True),
        ):
            some = gaps[gaps[column] > 0]
            if not len(some):
                continue
            sizes = np.maximum(GAP_MIN_AREA, GAP_AREA_PER_CUSTOMER * some[column].to_numpy())
            ax.scatter(
                some.geometry.x,
                some.geometry.y,
                s=sizes,
                facecolor=colour if filled else "none",
                edgecolor=colour,
                alpha=0.55 if filled else 0.9,
                linewidth=0.6 if filled else 1.4,
                zorder=8 if filled else 7,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markersize=10,
                    markerfacecolor=colour if filled else "none",
                    markeredgecolor=colour,
                    markeredgewidth=1.4,
                    alpha=0.7 if filled else 0.9,
                    label=label,
                )
            )
    for frame, marker, size, colour, label, z in (
        (payment_points, "o", 10, PAYMENT_POINT_COLOUR, "缴费点", 9),
        (substations, "s", 36, SUBSTATION_COLOUR, "变电站", 10),
        (repair_stations, "^", 90, REPAIR_STATION_COLOUR, "抢修站", 11),
    ):
        if len(frame):
            ax.scatter(
                frame.geometry.x,
                frame.geometry.y,
                s=size,
                marker=marker,
                color=colour,
                edgecolor="white",
                linewidth=0.6,
                zorder=z,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker=marker,
                    markersize=np.sqrt(size) + 1,
                    color=colour,
                    markeredgecolor="white",
                    label=label,
                )
            )
    site_labels: list[tuple[Any, Offsets]] = []
    if suggested is not None and len(suggested):
        ax.scatter(
            suggested.geometry.x,
            suggested.geometry.y,
            s=260,
            marker="*",
            color=SUGGESTED_COLOUR,
            edgecolor="white",
            linewidth=0.8,
            zorder=12,
        )
        for _, site in suggested.iterrows():
            text = ax.annotate(
                f"建议{int(site['rank'])}",
                (site.geometry.x, site.geometry.y),
                xytext=VILLAGE_OFFSETS_PT[0],
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=VILLAGE_LABEL_SIZE_PT,
                color=SUGGESTED_COLOUR,
                fontweight="bold",
                zorder=16,
                bbox=_backing(),
            )
            site_labels.append((text, VILLAGE_OFFSETS_PT))
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="*",
                markersize=15,
                color=SUGGESTED_COLOUR,
                markeredgecolor="white",
                label="建议新增抢修站",
            )
        )
    # placed in this order: townships, then suggested sites, then problem villages
    labels: list[tuple[Any, Offsets]] = []
    for _, town in towns.iterrows():
        if town.geometry is None or town.geometry.is_empty:
            continue
        text = ax.annotate(
            str(town["town"]),
            (town.geometry.x, town.geometry.y),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=TOWN_LABEL_SIZE_PT,
            fontweight="bold",
            color="#1b1b1b",
            zorder=14,
            bbox=_backing(),
        )
        labels.append((text, TOWN_OFFSETS_PT))
    labels.extend(site_labels)
    if gaps is not None and len(gaps):
        for rank, (_, village) in enumerate(gaps.head(N_WORST_VILLAGES).iterrows(), start=1):
            text = ax.annotate(
                f"{rank} {village['village']}",
                (village.geometry.x, village.geometry.y),
                xytext=VILLAGE_OFFSETS_PT[0],
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=VILLAGE_LABEL_SIZE_PT,
                color="#8b0000",
                zorder=15,
                bbox=_backing(),
            )
            labels.append((text, VILLAGE_OFFSETS_PT))
    return handles, labels


def _draw(
    fig: Figure,
    *,
    title: str,
    data_line: str,
    rows: list[tuple[str, str]],
    worst: list[str],
    layers: Mapping[str, Any],
) -> None:
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(MAP_BOX)
    ax.set_facecolor(BACKGROUND_COLOUR)
    handles, labels = _plot_map(ax, **layers)
    # the county's extent, widened to the map box's proportions (no distortion, no warning)
    minx, miny, maxx, maxy = layers["county"].total_bounds
    pad = 0.03 * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    box_ratio = (MAP_BOX[3] * PICTURE_SIZE_IN[1]) / (MAP_BOX[2] * PICTURE_SIZE_IN[0])
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w, half_h = (maxx - minx) / 2, (maxy - miny) / 2
    if half_h / half_w > box_ratio:
        half_w = half_h / box_ratio
    else:
        half_h = half_w * box_ratio
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_aspect("equal", adjustable="box", anchor="C")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_color("#999999")
    _place_labels(ax, labels)
    _scale_bar(ax, crs_is_metric=True)
    _north_arrow(ax)

    fig.text(*TITLE_XY, title, fontsize=TITLE_SIZE_PT, fontweight="bold", va="center")
    fig.text(*SUBTITLE_XY, data_line, fontsize=SUBTITLE_SIZE_PT, color="#444444", va="center")

    # the legend in two columns at the foot of the right column, drawn first: the list of
    # worst villages stops above it
    legend = fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(PANEL_LEFT - 0.008, 0.01),
        ncol=2,
        fontsize=LEGEND_SIZE_PT,
        frameon=True,
        title="图例",
        title_fontsize=LEGEND_SIZE_PT + 1,
        alignment="left",
        borderaxespad=0.2,
        columnspacing=1.0,
        handlelength=1.8,
    )
    legend.get_frame().set_edgecolor("#bbbbbb")
    renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()
    legend_top = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted()).y1

    # the key figures: label small, value large, one under the other
    y = 0.955
    fig.text(PANEL_LEFT, y, "主要指标", fontsize=FIGURE_LABEL_SIZE_PT + 2, fontweight="bold")
    y -= 0.055
    for label, value in rows:
        fig.text(PANEL_LEFT, y, label, fontsize=FIGURE_LABEL_SIZE_PT, color="#333333")
        y -= 0.058
        fig.text(
            PANEL_LEFT,
            y,
            value,
            fontsize=FIGURE_VALUE_SIZE_PT,
            fontweight="bold",
            color="#b71c1c" if "→" not in value else SUGGESTED_COLOUR,
        )
        y -= 0.05
    line_step = 0.028
    if worst and y - 0.035 - line_step > legend_top:
        fig.text(PANEL_LEFT, y, "问题村（抢修未达标客户最多）", fontsize=FIGURE_LABEL_SIZE_PT)
        y -= 0.035
        for line in worst:
            if y - 0.012 < legend_top:
                break
            fig.text(PANEL_LEFT + 0.005, y, line, fontsize=LEGEND_SIZE_PT + 1, color="#8b0000")
            y -= line_step


def county_picture(
    workspace: str | Path,
    out_png: str | Path | None,
    out_pdf: str | Path | None = None,
    *,
    summary: Mapping[str, Any] | None = None,
    suggest_stations: int = 0,
) -> tuple[Path | None, Path | None]:
    """Draw a workspace's county map as a PNG (1600 × 1131 px) and an A4 landscape PDF.

    Parameters
    ----------
    workspace
        The workspace GeoPackage (its county, grids, stations, villages, roads; the
        customers and their access when computed).
    out_png
        The PNG to write (None: none).
    out_pdf
        The PDF to write (None: none); at least one of the two.
    summary
        The key figures of the run (``summary.json``'s content); without them the figures
        are computed from the stored access.
    suggest_stations
        > 0 draws that many suggested new repair stations (as ``python -m maps``).

    Returns
    -------
    tuple of pathlib.Path
        The PNG and the PDF (None when not asked for).

    Raises
    ------
    InputError
        Neither file asked for, or ``suggest_stations`` is not a whole number >= 0.
    NotFoundError
        No Chinese font on the machine (the message says how to install one), or the
        workspace lacks a layer the map needs.
    """
    if out_png is None and out_pdf is None:
        msg = "no picture asked for: name the PNG (`--png map.png`) or the PDF (`--pdf map.pdf`)"
        raise gridgeo.InputError(msg)
    k = suggest_stations
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        msg = (
            f"`--suggest-stations` must be a whole number >= 0 (new repair stations to "
            f"suggest; 0 for none), got {k!r}"
        )
        raise gridgeo.InputError(msg)
    k = int(k)
    # the font first: without it nothing is read or written
    with _cjk_style():
        store = gridgeo.GeoPackageStore.open(workspace)
        layers = store.layers()
        county = store.read("county")
        places = check_places(read_map_places(store))
        repair_stations = store.read("repair_stations")
        crs = gridgeo.metric_crs(county)
        customers = access = kpis = None
        if "customers" in layers and gridgeo.ACCESS_LAYER in layers:
            customers, access = gridgeo.read_access(store)
            if _lookup(summary, "reach") is None:
                kpis = gridgeo.reach_kpis(access, customers)
        suggested = siting = None
        if k:
            # the same siting as the HTML map (imported here: maps.__main__ imports this module)
            from maps.__main__ import suggest_repair_stations

            if customers is None and "customers" in layers:
                customers = store.read("customers")
            suggested, siting = suggest_repair_stations(store, customers, repair_stations, k)
        roads = None
        if places.roads is not None:
            roads = places.roads[["highway", "geometry"]].to_crs(crs)
            roads = roads.set_geometry(roads.geometry.simplify(ROAD_SIMPLIFY_M))
        gaps = None
        if customers is not None and access is not None and VILLAGE_CODE in customers:
            gaps = _gaps_by_village(customers, access, places.villages)
        county_name = str(county["name"].iloc[0]) if "name" in county.columns else ""
        worst = []
        if gaps is not None:
            for rank, (_, v) in enumerate(gaps.head(N_WORST_VILLAGES).iterrows(), start=1):
                town = f"（{v['town']}）" if v["town"] else ""
                worst.append(
                    f"{rank}. {v['village']}{town}  抢修 {int(v['repair_gap']):,d} 户 · "
                    f"缴费 {int(v['payment_gap']):,d} 户"
                )
        grids = store.read("grids").to_crs(crs)
        grids = grids.set_geometry(grids.geometry.simplify(GRID_SIMPLIFY_M))
        drawn = {
            "county": county.to_crs(crs),
            "grids": grids,
            "roads": roads,
            "substations": store.read("substations").to_crs(crs),
            "repair_stations": repair_stations.to_crs(crs),
            "payment_points": store.read("payment_points").to_crs(crs),
            "towns": _town_points(places).to_crs(crs),
            "gaps": None if gaps is None else gaps.to_crs(crs),
            "suggested": None if suggested is None else suggested.to_crs(crs),
        }
        fig = Figure(figsize=PICTURE_SIZE_IN, dpi=PICTURE_DPI)
        FigureCanvasAgg(fig)
        _draw(
            fig,
            title=picture_title(county_name),
            data_line=_data_line(places),
            rows=_figure_rows(summary, kpis, siting, k),
            worst=worst,
            layers=drawn,
        )
        png = None if out_png is None else Path(out_png)
        pdf = None if out_pdf is None else Path(out_pdf)
        if png is not None:
            _save(fig, png, "png")
        if pdf is not None:
            _save(fig, pdf, "pdf")
    return png, pdf


def _save(fig: Figure, path: Path, fmt: str) -> None:
    """Write beside the final name, then move into place (an interrupted save leaves the old
    file whole); no creation date, so the same inputs give the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp.{fmt}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        metadata: dict[str, Any] = (
            {"CreationDate": None, "Producer": "gridgeo"} if fmt == "pdf" else {"Software": None}
        )
        fig.savefig(tmp, format=fmt, dpi=PICTURE_DPI, metadata=metadata)
        # mkstemp makes the file private (0600); the picture is for sharing, as the map is
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
