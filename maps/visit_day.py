"""A grid member's visit day on a map: the stops numbered in visiting order and the route.

:func:`visit_day_map` draws what :mod:`gridgeo.visit_sheets` prints (a
:class:`gridgeo.visit_sheets.VisitDaySheet`) with the stops' points and the legs of
:func:`gridgeo.visits.day_route_legs`: a numbered marker per stop (the sheet's 序号), the base,
and each leg along the roads (solid), or straight (dashed) where the road engine has no way;
a box says which. The map has no tiles (:func:`maps.overview.save_offline` writes it as one
HTML file that opens with no internet, e.g. on the member's phone).
"""

from __future__ import annotations

import html
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element, Figure

from gridgeo import InputError, VisitDaySheet

__all__ = ["ROAD_COLOUR", "STRAIGHT_COLOUR", "visit_day_map"]

ROAD_COLOUR = "#1565c0"
STRAIGHT_COLOUR = "#757575"
STOP_COLOUR = "#e65100"
BASE_COLOUR = "#2e7d32"
MARKER_PX = 22


def _number_icon(text: str, colour: str, *, css_class: str) -> folium.DivIcon:
    size = MARKER_PX
    font = 12 if len(text) <= 2 else 9
    return folium.DivIcon(
        html=(
            f'<div class="{css_class}" style="width:{size}px;height:{size}px;'
            f"background:{colour};color:#fff;border:2px solid #fff;border-radius:50%;"
            f"box-shadow:0 0 3px #000;font:bold {font}px/{size - 4}px sans-serif;"
            f'text-align:center">{html.escape(text)}</div>'
        ),
        icon_size=(size, size),
        icon_anchor=(size // 2, size // 2),
        class_name="",
    )


def visit_day_map(
    sheet: VisitDaySheet,
    points: gpd.GeoSeries,
    base: Any,
    legs: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
) -> folium.Map:
    """
    The visit day on a map: numbered stops in the sheet's order, the base, the route.

    Parameters
    ----------
    sheet
        The day sheet (:func:`gridgeo.visit_sheets.day_sheet`).
    points
        The stops' points in the sheet's order (one per row of ``sheet.stops``).
    base
        The member's base (a shapely point, EPSG:4326).
    legs
        The route's legs (:func:`gridgeo.visits.day_route_legs`: ``from_seq``, ``to_seq``,
        ``drawn``, line).
    m
        A map to draw on (default: a new one without tiles, fitted to the day).

    Returns
    -------
    folium.Map

    Raises
    ------
    InputError
        ``points`` does not have one point per stop of the sheet.
    """
    if len(points) != len(sheet.stops):
        msg = (
            f"`points` has {len(points)} point(s) for the sheet's {len(sheet.stops)} stops: "
            "give the stops' points in the sheet's order"
        )
        raise InputError(msg)
    pts = gpd.GeoSeries(points).to_crs("EPSG:4326")
    legs = legs.to_crs("EPSG:4326")
    xy = np.vstack([[[base.x, base.y]], np.column_stack([pts.x, pts.y])])
    if m is None:
        m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    (lon0, lat0), (lon1, lat1) = xy.min(axis=0), xy.max(axis=0)
    m.fit_bounds([[lat0, lon0], [lat1, lon1]], padding=(20, 20))

    for drawn, colour, dash in (("roads", ROAD_COLOUR, None), ("straight", STRAIGHT_COLOUR, "6 6")):
        part = legs[legs["drawn"] == drawn]
        if not len(part):
            continue
        folium.GeoJson(
            part[["from_seq", "to_seq", "geometry"]].to_json(),
            name="道路路线 route on the roads" if drawn == "roads" else "直线 straight legs",
            style_function=lambda _f, c=colour, d=dash: {
                "color": c,
                "weight": 4,
                "opacity": 0.85,
                **({"dashArray": d} if d else {}),
            },
        ).add_to(m)

    folium.Marker(
        [base.y, base.x],
        icon=_number_icon("站", BASE_COLOUR, css_class="gg-visit-base"),
        tooltip=f"出发地 / base: {sheet.base_id} {sheet.base_name}",
    ).add_to(m)
    for row, p in zip(sheet.stops.itertuples(index=False), pts, strict=True):
        seq = int(row[0])
        tip = " · ".join(
            str(v) for v in (f"{seq}. {row[1]}", row[3], row[4], row[5], row[6], row[8]) if v
        )
        folium.Marker(
            [p.y, p.x],
            icon=_number_icon(str(seq), STOP_COLOUR, css_class="gg-visit-stop"),
            tooltip=html.escape(tip),
        ).add_to(m)

    title = sheet.title.replace("走访单 / visit sheet", "走访路线图 / visit route map", 1)
    n_road = int((legs["drawn"] == "roads").sum())
    n_straight = int((legs["drawn"] == "straight").sum())
    how = f"道路路线 / along the roads: {n_road} legs"
    if n_straight:
        how += f"; 直线（无道路路径）/ straight, no road path: {n_straight} legs"
    box = (
        '<div class="gg-visit-box" style="position:fixed;top:8px;left:50px;z-index:1000;'
        "background:#fff;padding:4px 8px;border:1px solid #888;border-radius:4px;"
        'font:12px sans-serif;max-width:80vw">'
        f"<b>{html.escape(title)}</b><br>"
        f"{html.escape(how)}<br>"
        f"{html.escape(' · '.join(sheet.total_lines()[:1] + sheet.total_lines()[3:]))}</div>"
    )
    root = cast(Figure, m.get_root())  # a folium.Map's root is its Figure
    root.title = html.escape(title)
    root.html.add_child(Element(box))
    return m
