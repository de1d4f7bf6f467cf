"""What the county map shows of the places themselves: names, roads, rivers, villages in need.

The county overview map (:mod:`maps.overview`) needs no basemap tiles: its base is drawn from
the workspace's own layers. This module prepares them for display:

- :class:`MapPlaces` holds the townships, villages, roads and rivers of a workspace with the
  data's date and the grids' version (:func:`read_map_places` reads them from a workspace);
- :func:`base_roads` merges and simplifies the roads by class, in metres;
- :func:`road_labels` places one label per named main road;
- :func:`gap_villages`, :func:`gap_dots` and :func:`problem_villages` aggregate the customers
  outside a promise by village (the map's gap markers at low zoom and its problem list).

Everything here prepares what gridgeo computed for display (merging, simplifying, counting
rows); it does no analysis of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import gridgeo
from gridgeo import InputError, MissingColumnError, ensure_crs

WGS84 = "EPSG:4326"
CHINA_TIME = ZoneInfo("Asia/Shanghai")
# layers a workspace may hold its rivers in (none of the sample's; a county's own files may)
RIVER_LAYERS = ("rivers", "waterways", "water")
# a problem village's zoom box holds its customers within this distance of its point
BOUNDS_RADIUS_M = 3000.0
# the layers whose latest save dates the map's data
DATED_LAYERS = ("customer_access", "customers", "grids", "villages", "county")
VILLAGE_CODE = "village_code"
VILLAGE_NAME = "village"
TOWN_NAME = "town"
# road groups, main first: (group, highway classes, colour, weight, shown from zoom)
ROAD_GROUPS: tuple[tuple[str, tuple[str, ...], str, float, int], ...] = (
    ("national", ("motorway", "motorway_link", "trunk", "trunk_link"), "#e07b39", 3.5, 0),
    ("provincial", ("primary", "primary_link", "secondary", "secondary_link"), "#eba35f", 2.5, 0),
    ("county", ("tertiary", "tertiary_link"), "#c4a57a", 1.6, 10),
    ("local", (), "#b5b5b5", 1.0, 12),  # every other class
)
# classes whose names are labelled, and from which zoom (ramps and links are not)
ROAD_LABEL_ZOOM = {"motorway": 9, "trunk": 9, "primary": 10, "secondary": 11, "tertiary": 12}
# 10 m simplification is invisible at the zooms a county map is read at (1 px ~ 2.4 m at 16)
ROAD_SIMPLIFY_M = 10.0
# grids, as shapely.coverage_simplify takes it (Visvalingam-Whyatt): a vertex goes when the
# triangle it makes with its neighbours is under (10 m)^2, e.g. a 1 m kink on a 100 m edge
GRID_SIMPLIFY_M = 10.0
RIVER_SIMPLIFY_M = 10.0
# 1e-5 degree is about 1 m
COORD_DECIMALS = 5
# the longest a degree of latitude gets (at the poles; a degree of longitude is never longer):
# a tolerance in degrees of tolerance_m / this moves no point by more than tolerance_m
METRES_PER_DEGREE_MAX = 111_694.0


@dataclass(frozen=True)
class MapPlaces:
    """The places of a county for its map.

    Attributes
    ----------
    towns
        Township points with ``town`` (name), or None.
    villages
        Village points with ``village_code``, ``village`` and ``town``, or None: labelled
        at closer zooms, and the positions of the gap markers aggregated by village.
    roads
        Road lines with ``highway`` (and ``name``), or None.
    rivers
        River lines or polygons (``name`` when present), or None.
    data_date
        The date of the data shown (``YYYY-MM-DD``, China time), or None.
    version
        The version of the grids shown, or None.
    """

    towns: gpd.GeoDataFrame | None = None
    villages: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    rivers: gpd.GeoDataFrame | None = None
    data_date: str | None = None
    version: int | None = None


def _checked_layer(gdf: Any, name: str, columns: tuple[str, ...]) -> gpd.GeoDataFrame | None:
    """A copy of a layer of ``places`` in EPSG:4326 without empty rows (towns and villages
    as points), or None."""
    if gdf is None:
        return None
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"`places.{name}` must be a GeoDataFrame, got {type(gdf).__name__}"
        raise InputError(msg)
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        msg = (
            f"`places.{name}` has no column(s) {missing!r}; columns present: {list(gdf.columns)!r}"
        )
        raise MissingColumnError(msg)
    gdf = ensure_crs(gdf, source=f"places.{name}").to_crs(WGS84)
    keep = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    gdf = gdf[keep]
    if name in ("towns", "villages"):
        # a village given as a polygon is labelled at a point inside it
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    return gdf


def check_places(places: Any) -> MapPlaces:
    """``places`` with its layers checked and in EPSG:4326.

    Raises
    ------
    InputError
        If ``places`` is not a :class:`MapPlaces` or a layer is not a GeoDataFrame.
    MissingColumnError
        If ``towns`` lacks ``town``, ``villages`` lacks ``village_code`` / ``village`` or
        ``roads`` lacks ``highway``.
    CRSError
        If a layer has no CRS.
    """
    if not isinstance(places, MapPlaces):
        msg = (
            f"`places` must be a maps.places.MapPlaces (read_map_places), got "
            f"{type(places).__name__}"
        )
        raise InputError(msg)
    return MapPlaces(
        towns=_checked_layer(places.towns, "towns", (TOWN_NAME,)),
        villages=_checked_layer(places.villages, "villages", (VILLAGE_CODE, VILLAGE_NAME)),
        roads=_checked_layer(places.roads, "roads", ("highway",)),
        rivers=_checked_layer(places.rivers, "rivers", ()),
        data_date=places.data_date,
        version=places.version,
    )


def read_map_places(store: gridgeo.GeoPackageStore) -> MapPlaces:
    """The townships, villages, roads and rivers of a workspace, its data date and version.

    Parameters
    ----------
    store
        The workspace.

    Returns
    -------
    MapPlaces
        Layers the workspace lacks are None. ``data_date`` is the day (China time) of the
        latest save of the customers' access, the customers, the grids, the villages or the
        county; ``version`` is the grids' current version.
    """
    versioned = store.layers()
    files = set(gridgeo.list_layers(store.path))
    towns = store.read("towns") if "towns" in versioned else None
    villages = store.read("villages") if "villages" in versioned else None
    roads = None
    if gridgeo.ROADS_LAYER in files:
        roads = gridgeo.read_layer(store.path, layer=gridgeo.ROADS_LAYER)
        roads = roads[[c for c in ("highway", "name", roads.geometry.name) if c in roads]]
        if "highway" not in roads:
            roads = roads.assign(highway="")  # no class: drawn as minor roads
    rivers = None
    for layer in RIVER_LAYERS:
        if layer in files:
            rivers = gridgeo.read_layer(store.path, layer=layer)
            break
    saved: list[pd.Timestamp] = []
    for layer in DATED_LAYERS:
        if layer in versioned:
            created = store.list_versions(layer)["created_at"]
            if len(created):
                saved.append(created.max())
    data_date = None
    if saved:
        latest: dt.datetime = max(saved).to_pydatetime()
        data_date = latest.astimezone(CHINA_TIME).date().isoformat()
    version = store.current_version("grids") if "grids" in versioned else None
    return MapPlaces(
        towns=towns,
        villages=villages,
        roads=roads,
        rivers=rivers,
        data_date=data_date,
        version=version,
    )


def _simplified(
    gdf: gpd.GeoDataFrame, tolerance_m: float, *, preserve_topology: bool = True
) -> gpd.GeoSeries:
    """The geometries simplified by at most ``tolerance_m`` metres, in EPSG:4326, coordinates
    on a 1 m grid; with ``preserve_topology`` no polygon becomes invalid (slower).

    Simplified in degrees with ``tolerance_m`` over the longest a degree can be (at the
    poles), so no line moves by more than ``tolerance_m`` anywhere, and no vertex needs to be
    projected to metres and back (most of the time of a metric simplification).
    """
    lonlat = gdf.geometry.to_crs(WGS84)
    tolerance_deg = tolerance_m / METRES_PER_DEGREE_MAX
    simple = lonlat.simplify(tolerance_deg, preserve_topology=preserve_topology)
    return simple.set_precision(10.0**-COORD_DECIMALS)


def simplify_coverage(
    gdf: gpd.GeoDataFrame, *, tolerance_m: float = GRID_SIMPLIFY_M
) -> gpd.GeoDataFrame:
    """Polygons that tile an area (grids of one tier) simplified, their shared edges
    simplified once so that no gap or overlap opens between them.

    :func:`shapely.coverage_simplify` (Visvalingam-Whyatt): a vertex goes when the triangle it
    makes with its neighbours is smaller than ``tolerance_m`` squared (in square metres; taken
    in degrees with the longest a degree can be, so never more). When the polygons are no
    clean coverage (they overlap or are invalid), each is simplified on its own by
    Douglas-Peucker within ``tolerance_m``, topology kept. Returns a copy in EPSG:4326.
    """
    out = gdf.to_crs(WGS84)
    geoms = out.geometry.to_numpy()
    if len(geoms) == 0:
        return out
    tolerance_deg = tolerance_m / METRES_PER_DEGREE_MAX
    polygonal = shapely.get_type_id(geoms)
    if np.isin(polygonal, (3, 6)).all() and shapely.coverage_is_valid(geoms):
        simple = shapely.coverage_simplify(geoms, tolerance_deg)
    else:
        simple = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    return out.set_geometry(gpd.GeoSeries(simple, index=out.index, crs=WGS84))


def road_group(highway: pd.Series) -> pd.Series:
    """The display group (``national`` ... ``local``) of each road's ``highway`` class."""
    first = highway.astype("string").fillna("").str.split(r"[;,]").str[0].str.strip()
    group = pd.Series("local", index=highway.index, dtype=object)
    for name, classes, *_ in ROAD_GROUPS:
        if classes:
            group[first.isin(classes).to_numpy()] = name
    return group


def base_roads(
    roads: gpd.GeoDataFrame, *, tolerance_m: float = ROAD_SIMPLIFY_M
) -> gpd.GeoDataFrame:
    """The roads as one merged, simplified line per display group, main roads first.

    Parameters
    ----------
    roads
        Road lines with ``highway`` (EPSG:4326 or any CRS).
    tolerance_m
        Simplification tolerance in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        ``group``, ``colour``, ``weight``, ``min_zoom`` and the lines (EPSG:4326, coordinates
        on a 1 m grid), one row per group that has roads.
    """
    lines = roads[roads.geom_type.isin(["LineString", "MultiLineString"])]
    groups = road_group(lines["highway"])
    rows = []
    for name, _classes, colour, weight, min_zoom in ROAD_GROUPS:
        part = lines.geometry[groups == name]
        if part.empty:
            continue
        merged = shapely.line_merge(shapely.multilinestrings(shapely.get_parts(part.to_numpy())))
        rows.append((name, colour, weight, min_zoom, merged))
    if not rows:
        return gpd.GeoDataFrame(
            {"group": [], "colour": [], "weight": [], "min_zoom": []}, geometry=[], crs=WGS84
        )
    frame = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["group", "colour", "weight", "min_zoom", "geometry"]),
        geometry="geometry",
        crs=lines.crs,
    )
    # lines: Douglas-Peucker without the topology check (a third of the time), which only
    # matters for polygons
    return frame.set_geometry(_simplified(frame, tolerance_m, preserve_topology=False), crs=WGS84)


def road_labels(roads: gpd.GeoDataFrame) -> pd.DataFrame:
    """One label per named main road: at the middle of its longest merged stretch.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``lat``, ``lon``, ``min_zoom``, ordered main roads first, then by name.
    """
    if "name" not in roads.columns or roads.empty:
        return pd.DataFrame(columns=["name", "lat", "lon", "min_zoom"])
    first = roads["highway"].astype("string").fillna("").str.split(r"[;,]").str[0].str.strip()
    names = roads["name"].astype("string").fillna("").str.strip()
    keep = first.isin(list(ROAD_LABEL_ZOOM)) & (names != "")
    named = roads[keep.to_numpy()]
    if named.empty:
        return pd.DataFrame(columns=["name", "lat", "lon", "min_zoom"])
    # lengths in degrees: a label needs no metre accuracy, and projecting every vertex
    # took most of the map's time for the sample county's roads
    lines = named.geometry.to_crs(WGS84)
    rows = []
    for name, index in named.groupby(names[keep.to_numpy()].to_numpy()).groups.items():
        merged = shapely.line_merge(
            shapely.multilinestrings(shapely.get_parts(lines.loc[index].to_numpy()))
        )
        parts = shapely.get_parts(merged)
        longest = parts[int(np.argmax(shapely.length(parts)))]
        middle = shapely.line_interpolate_point(longest, 0.5, normalized=True)
        zoom = min(ROAD_LABEL_ZOOM[c] for c in first.loc[index].unique())
        rows.append((str(name), zoom, middle))
    points = gpd.GeoSeries([r[2] for r in rows], crs=WGS84)
    out = pd.DataFrame(
        {
            "name": [r[0] for r in rows],
            "lat": points.y.round(COORD_DECIMALS).to_numpy(),
            "lon": points.x.round(COORD_DECIMALS).to_numpy(),
            "min_zoom": [r[1] for r in rows],
        }
    )
    return out.sort_values(["min_zoom", "name"], kind="stable").reset_index(drop=True)


def base_rivers(
    rivers: gpd.GeoDataFrame, *, tolerance_m: float = RIVER_SIMPLIFY_M
) -> gpd.GeoSeries:
    """The rivers simplified by ``tolerance_m`` metres, in EPSG:4326."""
    return _simplified(rivers, tolerance_m)


def _village_table(gaps: pd.DataFrame, villages: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Name, town and point of every village code of ``gaps`` (the villages layer first, the
    gaps' own ``village`` / ``town`` columns, else the code)."""
    codes = pd.Index(gaps[VILLAGE_CODE].dropna().astype(str).unique())
    table = pd.DataFrame(index=codes)
    table["name"] = pd.Series(codes, index=codes, dtype=object)
    table["town"] = ""
    table["lon"] = np.nan
    table["lat"] = np.nan
    own = gaps.dropna(subset=[VILLAGE_CODE]).assign(_code=lambda d: d[VILLAGE_CODE].astype(str))
    for column, target in ((VILLAGE_NAME, "name"), (TOWN_NAME, "town")):
        if column in own.columns:
            found = own.dropna(subset=[column]).groupby("_code")[column].first().astype(str)
            table.loc[found.index, target] = found
    if villages is not None and len(villages):
        layer = villages.assign(_code=villages[VILLAGE_CODE].astype(str)).drop_duplicates("_code")
        layer = layer.set_index("_code").reindex(codes)
        known = layer[VILLAGE_NAME].notna().to_numpy()
        table.loc[known, "name"] = layer.loc[known, VILLAGE_NAME].astype(str).to_numpy()
        if TOWN_NAME in layer.columns:
            has_town = (known & layer[TOWN_NAME].notna()).to_numpy()
            table.loc[has_town, "town"] = layer.loc[has_town, TOWN_NAME].astype(str).to_numpy()
        geoms = layer.geometry
        placed = (known & geoms.notna() & ~geoms.is_empty).to_numpy()
        table.loc[placed, "lon"] = geoms[placed].x.to_numpy()
        table.loc[placed, "lat"] = geoms[placed].y.to_numpy()
    return table


def gap_villages(
    gaps: gpd.GeoDataFrame,
    *,
    villages: gpd.GeoDataFrame | None = None,
    reason_column: str = "reason",
) -> pd.DataFrame:
    """The customers outside a promise counted by village.

    Parameters
    ----------
    gaps
        The customers outside the promise (rows of the access layer, EPSG:4326, points or
        none) with ``village_code`` (and optionally ``village``, ``town``).
    villages
        The villages layer (points): names, townships and marker positions.
    reason_column
        The column with the reason code of each customer.

    Returns
    -------
    pandas.DataFrame
        Indexed by village code, most customers first: ``name``, ``town``, ``customers``,
        ``reasons`` (a dict reason → customers, largest first, ties by reason code),
        ``lon`` / ``lat`` (the village's point, else the median of its customers' points)
        and the bounds ``west``, ``south``, ``east``, ``north`` of that point and its
        customers' points within :data:`BOUNDS_RADIUS_M` of it.
        Customers without a village code are not counted.
    """
    columns = ["name", "town", "customers", "reasons", "lon", "lat"]
    bounds = ["west", "south", "east", "north"]
    if VILLAGE_CODE not in gaps.columns:
        msg = f"`access` has no `{VILLAGE_CODE}` column to count the gaps by village"
        raise MissingColumnError(msg)
    known = gaps[gaps[VILLAGE_CODE].notna()]
    if known.empty:
        return pd.DataFrame(columns=columns + bounds)
    table = _village_table(known, villages)
    code = known[VILLAGE_CODE].astype(str)
    reason = (
        known[reason_column].astype("string").fillna("unknown")
        if reason_column in known.columns
        else pd.Series("unknown", index=known.index, dtype="string")
    )
    table["customers"] = code.value_counts().reindex(table.index).astype("int64")
    pairs = pd.DataFrame({"code": code.to_numpy(), "reason": reason.to_numpy()})
    by_reason = pairs.groupby(["code", "reason"]).size().sort_values(ascending=False, kind="stable")
    reasons: dict[str, dict[str, int]] = {c: {} for c in table.index}
    for (c, r), n in by_reason.items():
        reasons[c][str(r)] = int(n)
    table["reasons"] = pd.Series(reasons, dtype=object)
    has_point = known.geometry.notna() & ~known.geometry.is_empty
    placed = known[has_point.to_numpy()]
    xy = pd.DataFrame(
        {
            "code": code[has_point.to_numpy()].to_numpy(),
            "x": placed.geometry.x,
            "y": placed.geometry.y,
        }
    )
    centre = xy.groupby("code").agg(mx=("x", "median"), my=("y", "median")).reindex(table.index)
    table["lon"] = table["lon"].fillna(centre["mx"])
    table["lat"] = table["lat"].fillna(centre["my"])
    # the zoom box: the village's point and its customers near it (a GPS point far off, or
    # a customer placed at the township seat, must not widen it to half the county)
    near = xy.join(table[["lon", "lat"]], on="code")
    dx_m = (near["x"] - near["lon"]) * METRES_PER_DEGREE_MAX * np.cos(np.radians(near["lat"]))
    dy_m = (near["y"] - near["lat"]) * METRES_PER_DEGREE_MAX
    near = near[np.hypot(dx_m, dy_m) <= BOUNDS_RADIUS_M]
    stats = near.groupby("code").agg(
        west=("x", "min"), east=("x", "max"), south=("y", "min"), north=("y", "max")
    ).reindex(table.index)  # fmt: skip
    table["west"] = np.fmin(stats["west"], table["lon"])
    table["east"] = np.fmax(stats["east"], table["lon"])
    table["south"] = np.fmin(stats["south"], table["lat"])
    table["north"] = np.fmax(stats["north"], table["lat"])
    table = table[table["lon"].notna()]
    for column in ("lon", "lat", *bounds):
        table[column] = table[column].astype(float).round(COORD_DECIMALS)
    order = np.lexsort((table.index.to_numpy(), -table["customers"].to_numpy()))
    return table.iloc[order][columns + bounds]


def gap_towns(by_village: pd.DataFrame, *, towns: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """The customers outside a promise counted by township, from :func:`gap_villages`.

    Parameters
    ----------
    by_village
        The result of :func:`gap_villages`.
    towns
        Township points with ``town``: the markers' positions (else the customers-weighted
        mean of the township's village points).

    Returns
    -------
    pandas.DataFrame
        Indexed by township name, most customers first (ties by name): ``customers``,
        ``reasons`` (summed, largest first, ties by reason code), ``lon``, ``lat``. Villages
        without a township are their own row (under their name).
    """
    if by_village.empty:
        return pd.DataFrame(columns=["customers", "reasons", "lon", "lat"])
    town = by_village["town"].astype("string").fillna("")
    key = town.where(town != "", by_village["name"].astype(str)).astype(str).to_numpy(dtype=object)
    weights = by_village["customers"].astype(float)
    frame = pd.DataFrame(
        {
            "key": key,
            "customers": by_village["customers"].astype("int64").to_numpy(),
            "wx": (by_village["lon"] * weights).to_numpy(),
            "wy": (by_village["lat"] * weights).to_numpy(),
        }
    )
    out = frame.groupby("key", sort=True).sum()
    out["lon"] = out["wx"] / out["customers"]
    out["lat"] = out["wy"] / out["customers"]
    if towns is not None and len(towns):
        first = towns.drop_duplicates(TOWN_NAME)
        points = first.set_axis(first[TOWN_NAME].astype(str).to_numpy(dtype=object))
        known = out.index.intersection(points.index)
        out.loc[known, "lon"] = points.loc[known].geometry.x.to_numpy()
        out.loc[known, "lat"] = points.loc[known].geometry.y.to_numpy()
    reasons: dict[str, dict[str, int]] = {k: {} for k in out.index}
    for k, village_reasons in zip(key, by_village["reasons"], strict=True):
        for r, n in village_reasons.items():
            reasons[k][r] = reasons[k].get(r, 0) + int(n)
    out["reasons"] = pd.Series(
        {k: dict(sorted(v.items(), key=lambda rn: (-rn[1], rn[0]))) for k, v in reasons.items()},
        dtype=object,
    )
    for column in ("lon", "lat"):
        out[column] = out[column].astype(float).round(COORD_DECIMALS)
    order = np.lexsort((out.index.to_numpy(), -out["customers"].to_numpy()))
    return out.iloc[order][["customers", "reasons", "lon", "lat"]]


def gap_dots(
    gaps: gpd.GeoDataFrame, *, reason_column: str = "reason", eta_column: str | None = None
) -> pd.DataFrame:
    """The customers outside a promise as dots: one per position (1 m) and reason.

    Many customers share a point (located at their village's point); one dot then stands for
    all of them, with their number.

    Returns
    -------
    pandas.DataFrame
        ``lat``, ``lon``, ``customers``, ``reason``, ``eta_min`` (the longest time, minutes,
        one decimal; NaN when unknown) and ``village_code`` (when ``gaps`` has it), ordered
        by position.
    """
    has_point = gaps.geometry.notna() & ~gaps.geometry.is_empty
    placed = gaps[has_point.to_numpy()]
    frame = pd.DataFrame(
        {
            "lat": placed.geometry.y.round(COORD_DECIMALS).to_numpy(),
            "lon": placed.geometry.x.round(COORD_DECIMALS).to_numpy(),
            "reason": (
                placed[reason_column].astype("string").fillna("unknown").to_numpy()
                if reason_column in placed.columns
                else "unknown"
            ),
            "eta_s": (
                pd.to_numeric(placed[eta_column], errors="coerce").to_numpy()
                if eta_column is not None and eta_column in placed.columns
                else np.nan
            ),
            "village_code": (
                placed[VILLAGE_CODE].astype("string").fillna("").to_numpy()
                if VILLAGE_CODE in placed.columns
                else ""
            ),
        }
    )
    dots = (
        frame.groupby(["lat", "lon", "reason"], sort=True)
        .agg(
            customers=("reason", "size"),
            eta_s=("eta_s", "max"),
            village_code=("village_code", "first"),
        )
        .reset_index()
    )
    dots["eta_min"] = (dots["eta_s"] / 60).round(1)
    return dots[["lat", "lon", "customers", "reason", "eta_min", "village_code"]]


def problem_villages(by_service: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The villages with customers outside a promise, worst first.

    Parameters
    ----------
    by_service
        ``"repair"`` / ``"payment"`` → :func:`gap_villages` of that service.

    Returns
    -------
    pandas.DataFrame
        Indexed by village code: ``name``, ``town``, ``repair`` and ``payment`` (customers
        outside each promise, 0 when none), ``repair_reasons`` / ``payment_reasons`` and the
        bounds (``west``, ``south``, ``east``, ``north``) of both; most customers beyond the
        repair promise first, then beyond the payment promise, then by code.
    """
    frames = {s: t for s, t in by_service.items() if t is not None and len(t)}
    if not frames:
        return pd.DataFrame(
            columns=["name", "town", "repair", "payment", "repair_reasons", "payment_reasons",
                     "west", "south", "east", "north"]
        )  # fmt: skip
    codes = pd.Index(sorted(set().union(*(t.index for t in frames.values()))))
    out = pd.DataFrame(index=codes)
    out["name"] = None
    out["town"] = None
    for service in ("repair", "payment"):
        table = frames.get(service)
        if table is None:
            out[service] = 0
            out[f"{service}_reasons"] = [{} for _ in codes]
            continue
        t = table.reindex(codes)
        out[service] = t["customers"].fillna(0).astype("int64")
        out[f"{service}_reasons"] = [r if isinstance(r, dict) else {} for r in t["reasons"]]
        out["name"] = out["name"].fillna(t["name"])
        out["town"] = out["town"].fillna(t["town"])
    stacked = pd.concat([t[["west", "south", "east", "north"]] for t in frames.values()])
    bounds = stacked.groupby(level=0).agg(
        west=("west", "min"), south=("south", "min"), east=("east", "max"), north=("north", "max")
    )
    out = out.join(bounds)
    order = np.lexsort((codes.to_numpy(), -out["payment"].to_numpy(), -out["repair"].to_numpy()))
    return out.iloc[order]
