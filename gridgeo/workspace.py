"""A county workspace: the data model's layers in one versioned store.

A workspace is what a county company works in: one GeoPackage (the embedded
default store, :class:`~gridgeo.store.GeoPackageStore`) holding the layers of
the data model. The layers people edit are versioned, each with its key:

=================  ==================
layer              key
=================  ==================
``county``         ``adcode``
``towns``          ``town_code``
``villages``       ``village_code``
``substations``    ``substation_id``
``repair_stations`` ``station_id``
``payment_points`` ``point_id``
``grids``          ``grid_id``
=================  ==================

The road network is reference data imported from OSM or a roads file, not
edited in gridgeo: it is kept as an unversioned GeoPackage layer ``roads``
beside the versioned ones, as a *layer by mode* (see "Roads layers" in
:mod:`gridgeo.network`): every road piece that any travel mode uses, once, with
per mode whether the mode uses it, its speed and its direction. Each mode's
graph and engine (:func:`read_road_graph`, :func:`read_reach_engine`,
:func:`compute_access`) is built from that mode's full road set: the repair
truck's roads for repair, and for the payment trip by two-wheeler or on foot
also the paths, tracks, footways and cycleways a truck cannot use. From an OSM
extract the layer is :func:`gridgeo.network.roads_from_osm` (each mode's graph
then has exactly the edges of :func:`gridgeo.network.graph_from_osm`); a plain
roads layer (a county's own roads, the sample's generated roads) is made a layer
by mode by its ``highway`` classes when it is stored (:func:`create_workspace`,
:func:`replace_roads`).

Workspaces written before the roads were stored by mode hold the drive roads
only (a plain layer). They still open: their roads are read by the ``highway``
class rules, which is exact for ``drive``, and reading them for ``two_wheeler``
or ``walk`` warns, in one line, that those roads are missing and how to put them
in: ``gridgeo roads import FILE --workspace W``, FILE being the OSM extract (or
roads file) the workspace was made from. They cannot be upgraded in place: the
roads they lack are not in the workspace.

The customers' snaps to the roads of each travel mode are kept in a plain
table ``customer_snaps`` (:func:`read_customer_snaps`): made once, reused by
:func:`compute_access` until the roads or the customers' positions change. It
is a cache: written in one transaction of its own, never needed to open a
workspace, and made again when missing.

This module joins the pieces (store, network, grids, roster) into the jobs
the CLI and the API run; the analysis itself lives in those modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sqlite3
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgeo import archive as _archive
from gridgeo import geocode as _geocode
from gridgeo import grids as _grids
from gridgeo import io as _io
from gridgeo import network as _network
from gridgeo import reach as _reach
from gridgeo.crs import area_geometry, ensure_crs, metric_crs
from gridgeo.errors import (
    CoordinateError,
    DuplicateIdError,
    InputError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.roster import apply_roster
from gridgeo.store import GeoPackageStore

__all__ = [
    "ACCESS_LAYER",
    "COMPARE_GRID_COLUMNS",
    "COMPARE_STATUSES",
    "COMPARE_VILLAGE_COLUMNS",
    "NOT_COMPUTED",
    "OUTSIDE_COLUMNS",
    "OUTSIDE_TOLERANCE_M",
    "POINT_LAYERS",
    "ROADS_LAYER",
    "SNAPS_TABLE",
    "WORKLOAD_SOURCES",
    "WORKSPACE_KEYS",
    "EditBase",
    "GridBuild",
    "GridComparison",
    "OutsideCountyError",
    "OutsideCountyWarning",
    "access_for_customers",
    "build_grids",
    "check_inside_county",
    "compare_grid_versions",
    "compute_access",
    "count_grid_customers",
    "create_workspace",
    "default_workload",
    "describe_outside",
    "load_edit_base",
    "load_service_grids",
    "reach_kpi_function",
    "read_access",
    "read_customer_snaps",
    "read_gazetteer",
    "read_reach_engine",
    "read_road_graph",
    "read_roads",
    "replace_roads",
    "restore_grids",
    "save_grids",
    "village_workload",
]

logger = logging.getLogger(__name__)

WORKSPACE_KEYS: dict[str, str] = {
    "county": "adcode",
    "towns": "town_code",
    "villages": "village_code",
    "substations": "substation_id",
    "repair_stations": "station_id",
    "payment_points": "point_id",
    "grids": "grid_id",
}
CUSTOMERS_LAYER = "customers"
ACCESS_LAYER = "customer_access"
ROADS_LAYER = "roads"
# The customers' snaps, one row per travel mode (read_customer_snaps): a cache, not versioned.
SNAPS_TABLE = "customer_snaps"
_SNAP_COLUMNS = (
    ("seg", "<i8"),
    ("t", "<f8"),
    ("snap_m", "<f8"),
    ("leg_s", "<f8"),
    ("reason", "i1"),
    ("x_m", "<f8"),
    ("y_m", "<f8"),
)
# The reason of a customer that has no row in `customer_access` (imported after the
# access was computed, say): within neither promise until it is computed.
NOT_COMPUTED = "not_computed"
ACCESS_FLAGS = ("repair_ok", "payment_ok")
ACCESS_REASONS = ("repair_reason", "payment_reason", "reason")
REQUIRED_LAYERS = ("county", "villages", "substations")
ROSTER_COLUMNS_IN_GRIDS = (
    "manager",
    "members",
    "liaison",
    "phone",
    "liaison_phone",
    "member_bases",  # the members' bases for home visits (gridgeo.visits.member_bases)
)
# The layers of points checked against the county at creation (check_inside_county), and the
# name column shown for each (default ``name``).
POINT_LAYERS = ("substations", "repair_stations", "payment_points", "towns", "villages")
_NAME_COLUMNS = {"towns": "town", "villages": "village"}
# Points up to this far outside the county polygon are kept (boundary generalisation, a point
# on the county line); farther ones are refused unless allowed.
OUTSIDE_TOLERANCE_M = 500.0
OUTSIDE_COLUMNS = (
    "layer",
    "id",
    "name",
    "distance_m",
    "edge_lon",
    "edge_lat",
    "beyond_tolerance",
)
# The county's edges are cut into pieces of at most this many degrees (about 100 m) before
# they are projected for the distances of check_inside_county.
_DENSIFY_DEG = 0.001
# What `build_grids` counted the villages' workload from.
WORKLOAD_SOURCES = ("given", "customers", "equal")


class OutsideCountyError(CoordinateError):
    """Points of a workspace's layers lie outside the county beyond the tolerance.

    Attributes
    ----------
    outside
        The table of :func:`check_inside_county`: every point outside the county.
    """

    def __init__(self, msg: str, outside: pd.DataFrame) -> None:
        super().__init__(msg)
        self.outside = outside


class OutsideCountyWarning(UserWarning):
    """Points of a workspace's layers lie outside the county, kept (within the tolerance, or
    allowed)."""


def _to_metric(geoms: np.ndarray, transformer: pyproj.Transformer) -> np.ndarray:
    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, project), dtype=object)


def check_inside_county(
    layers: Mapping[str, gpd.GeoDataFrame],
    county: Any,
    *,
    tolerance_m: float = OUTSIDE_TOLERANCE_M,
) -> pd.DataFrame:
    """The points of a workspace's layers that lie outside the county, and how far.

    Every point (or village polygon) of the layers :data:`POINT_LAYERS` present in ``layers``
    is measured against the county polygon in the county's metric CRS
    (:func:`gridgeo.crs.metric_crs`). Both must already be in WGS84 (convert GCJ-02 / BD-09
    files on reading): a GCJ-02 file read as WGS84 is 300-600 m off around Nanfeng and shows
    up here as points just outside the county line.

    Parameters
    ----------
    layers
        ``{name: GeoDataFrame}`` as for :func:`create_workspace`; layers not in
        :data:`POINT_LAYERS` (the county, say) are not checked.
    county
        The county polygon(s): a GeoDataFrame, GeoSeries or shapely geometry in EPSG:4326.
    tolerance_m
        Points at most this far outside are marked ``beyond_tolerance`` False.

    Returns
    -------
    pandas.DataFrame
        One row per point outside the county (points on its line are inside), columns
        :data:`OUTSIDE_COLUMNS`: ``layer``, ``id`` (the layer's key, see
        :data:`WORKSPACE_KEYS`), ``name``, ``distance_m`` (to the county polygon),
        ``edge_lon`` / ``edge_lat`` (the nearest point of the county's edge, EPSG:4326) and
        ``beyond_tolerance``; in the order of :data:`POINT_LAYERS`, farthest first. Points
        with no geometry are not rows (other checks name them).

    Raises
    ------
    InputError
        If ``tolerance_m`` is negative or not a number.
    CRSError
        If a layer or the county has no CRS.
    """
    tol = float(tolerance_m)
    if not np.isfinite(tol) or tol < 0:
        msg = f"`tolerance_m` must be a distance in metres >= 0, got {tolerance_m!r}."
        raise InputError(msg)
    area = area_geometry(county)
    crs = metric_crs(area)
    to_m = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    # the edges are straight in lon/lat: keep them so in the metric CRS (a 20 km edge along a
    # parallel bows about 4 m away from the straight line between its ends there)
    dense = shapely.segmentize(area, _DENSIFY_DEG)
    area_m = _to_metric(np.array([dense], dtype=object), to_m)[0]
    shapely.prepare(area_m)
    frames = []
    for name in POINT_LAYERS:
        if name not in layers:
            continue
        gdf = ensure_crs(layers[name], source=f"`{name}`")
        geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
        has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        dist = np.zeros(len(geoms))
        dist[has] = shapely.distance(_to_metric(geoms[has], to_m), area_m)
        out = np.flatnonzero(dist > 0)
        if len(out) == 0:
            continue
        ends = shapely.get_point(shapely.shortest_line(_to_metric(geoms[out], to_m), area_m), 1)
        edge_x, edge_y = to_ll.transform(shapely.get_x(ends), shapely.get_y(ends))
        key = WORKSPACE_KEYS[name]
        ids = gdf[key].to_numpy()[out] if key in gdf.columns else gdf.index.to_numpy()[out]
        name_col = _NAME_COLUMNS.get(name, "name")
        names = gdf[name_col].to_numpy()[out] if name_col in gdf.columns else [None] * len(out)
        frames.append(
            pd.DataFrame(
                {
                    "layer": name,
                    "id": pd.Series(ids, dtype=object),
                    "name": pd.Series(names, dtype=object),
                    "distance_m": dist[out],
                    "edge_lon": np.asarray(edge_x, dtype=float),
                    "edge_lat": np.asarray(edge_y, dtype=float),
                    "beyond_tolerance": dist[out] > tol,
                }
            ).sort_values("distance_m", ascending=False, kind="stable")
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTSIDE_COLUMNS}).astype(
            {"distance_m": float, "edge_lon": float, "edge_lat": float, "beyond_tolerance": bool}
        )
    return pd.concat(frames, ignore_index=True)[list(OUTSIDE_COLUMNS)]


def describe_outside(outside: pd.DataFrame, *, max_rows: int = 20) -> list[str]:
    """The points outside the county as a short text table (Chinese and English header).

    Parameters
    ----------
    outside
        Rows of :func:`check_inside_county`.
    max_rows
        At most this many rows are listed; a last line counts the others.

    Returns
    -------
    list of str
        One line per row: layer, id, name, distance in km, nearest county edge lon/lat.
    """
    lines = [
        f"  {'layer 图层':<18s} {'id':<14s} {'name 名称':<18s} {'km':>7s}  "
        "nearest county edge 最近县界点 lon,lat"
    ]
    for row in outside.head(max_rows).itertuples(index=False):
        name = "" if row.name is None or row.name != row.name else str(row.name)
        lines.append(
            f"  {row.layer!s:<18s} {row.id!s:<14s} {name[:18]:<18s} "
            f"{row.distance_m / 1000:>7.2f}  {row.edge_lon:.5f},{row.edge_lat:.5f}"
        )
    if len(outside) > max_rows:
        lines.append(
            f"  ... 另有 {len(outside) - max_rows} 个 / and {len(outside) - max_rows} more"
        )
    return lines


def _outside_ids(outside: pd.DataFrame, max_ids: int = 10) -> str:
    parts = []
    for layer, group in outside.groupby("layer", sort=False):
        ids = [str(i) for i in group["id"].head(max_ids)]
        more = f" +{len(group) - max_ids}" if len(group) > max_ids else ""
        parts.append(f"{layer}: {', '.join(ids)}{more}")
    return "; ".join(parts)


def create_workspace(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    roads: gpd.GeoDataFrame | None = None,
    author: str,
    reason: str,
    overwrite: bool = False,
    outside_tolerance_m: float = OUTSIDE_TOLERANCE_M,
    allow_outside: bool = False,
) -> GeoPackageStore:
    """Create a workspace GeoPackage from the data model's layers.

    The points of the layers (substations, repair stations, payment points, township seats,
    villages) are checked against the county first (:func:`check_inside_county`): points
    farther outside than ``outside_tolerance_m`` are refused (:class:`OutsideCountyError`,
    nothing written) unless ``allow_outside``; points kept outside the county are named in
    one :class:`OutsideCountyWarning`. A village kept outside the county lies in no grid (the
    grids cover the county), and neither do customers located at its point: move its point
    inside the county in the villages file.

    Parameters
    ----------
    path
        The ``.gpkg`` file to create.
    layers
        ``{name: GeoDataFrame}`` for the versioned layers of
        :data:`WORKSPACE_KEYS` (``county``, ``villages`` and ``substations``
        at least). Each starts at version 1.
    roads
        The roads: a layer by mode (:func:`gridgeo.network.roads_from_osm`),
        or a plain roads layer, stored as a layer by mode
        (:func:`gridgeo.network.roads_for_modes`); unversioned.
    author, reason
        Recorded with version 1.
    overwrite
        Replace an existing file.
    outside_tolerance_m
        Points up to this far outside the county polygon (metres) are kept, and named in a
        warning.
    allow_outside
        Keep points farther outside too (named in the warning).

    Returns
    -------
    GeoPackageStore

    Raises
    ------
    OutsideCountyError
        If points lie farther than ``outside_tolerance_m`` outside the county and
        ``allow_outside`` is False; its ``outside`` is the table of
        :func:`check_inside_county`.
    """
    unknown = sorted(set(layers) - set(WORKSPACE_KEYS))
    if unknown:
        msg = (
            f"`layers` has unknown layer(s) {unknown!r}; a workspace holds "
            f"{sorted(WORKSPACE_KEYS)!r}."
        )
        raise InputError(msg)
    missing = [name for name in REQUIRED_LAYERS if name not in layers]
    if missing:
        msg = f"`layers` lacks {missing!r}: a workspace needs at least {list(REQUIRED_LAYERS)!r}."
        raise MissingColumnError(msg)
    outside = check_inside_county(layers, layers["county"], tolerance_m=outside_tolerance_m)
    beyond = outside[outside["beyond_tolerance"]]
    if len(beyond) and not allow_outside:
        msg = "\n".join(
            [
                f"{len(beyond)} point(s) lie more than {outside_tolerance_m:g} m outside the "
                f"county 县界外的点: check each file's datum (GCJ-02 / BD-09 files must be "
                "converted), cut the files to the county, or keep them with "
                "`allow_outside=True`",
                *describe_outside(beyond),
            ]
        )
        raise OutsideCountyError(msg, outside)
    if len(outside):
        warnings.warn(
            f"{len(outside)} point(s) lie outside the county and are kept "
            f"({len(beyond)} beyond {outside_tolerance_m:g} m): {_outside_ids(outside)}",
            OutsideCountyWarning,
            stacklevel=2,
        )
    by_mode = None if roads is None else _network.roads_for_modes(roads)  # checked before
    store = GeoPackageStore.create(
        path,
        dict(layers),
        author=author,
        reason=reason,
        keys={name: WORKSPACE_KEYS[name] for name in layers},
        overwrite=overwrite,
    )
    if by_mode is not None:
        _io.write_layer(by_mode, store.path, ROADS_LAYER)
    return store


def replace_roads(store: GeoPackageStore, roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Put new roads in a workspace in place of its ``roads`` layer (or as the first one).

    This is how a workspace of an older gridgeo, which holds the drive roads only, gets the
    roads of every mode: ``gridgeo roads import FILE --workspace W`` calls it with
    :func:`gridgeo.network.roads_from_osm` of the extract.

    Parameters
    ----------
    store
        The workspace.
    roads
        A layer by mode (:func:`gridgeo.network.roads_from_osm`) or a plain roads layer,
        stored as a layer by mode (:func:`gridgeo.network.roads_for_modes`). It is made and
        checked before the stored layer is replaced; a bad layer leaves the workspace as it was.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer by mode as stored.
    """
    by_mode = _network.roads_for_modes(roads)
    _io.write_layer(by_mode, store.path, ROADS_LAYER)
    return by_mode


def read_roads(store: GeoPackageStore, *, mode: str | None = None) -> gpd.GeoDataFrame:
    """The ``roads`` layer of a workspace.

    Parameters
    ----------
    store
        The workspace.
    mode
        The travel mode the roads are read for, if one. The roads of a workspace written
        before they were stored by mode (a plain layer: drive roads only) are read as they
        are; for ``"two_wheeler"`` or ``"walk"`` a warning says that the roads only those
        modes use are missing and which command puts them in.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer (by mode, see :mod:`gridgeo.network`), in EPSG:4326.

    Raises
    ------
    NotFoundError
        If the workspace has no ``roads`` layer.
    """
    if ROADS_LAYER not in _io.list_layers(store.path):
        msg = (
            f"workspace {str(store.path)!r} has no `roads` layer: import the roads first "
            f"(`gridgeo roads import FILE --workspace {store.path}`)."
        )
        raise NotFoundError(msg)
    roads = _io.read_layer(store.path, layer=ROADS_LAYER)
    if mode not in (None, "drive") and not _network.has_mode_columns(roads):
        msg = (
            f"workspace {store.path.name!r} holds the roads of an older gridgeo, drive roads "
            f"only: its {mode} roads lack the paths, tracks, footways and cycleways that only "
            f"{mode} may use; put them in with `gridgeo roads import FILE --workspace "
            f"{store.path}` (FILE: the OSM extract or roads file the workspace was made from)"
        )
        warnings.warn(msg, stacklevel=3)
    return roads


def read_road_graph(store: GeoPackageStore, *, mode: str = "drive") -> nx.MultiDiGraph:
    """The road graph of a workspace for one travel mode (see :data:`gridgeo.MODES`), made from
    that mode's roads (:func:`read_roads`)."""
    return _network.graph_from_roads(read_roads(store, mode=mode), mode=mode)


def read_reach_engine(store: GeoPackageStore, *, mode: str = "drive") -> _reach.ReachEngine:
    """The reach engine of a workspace's roads for one travel mode, built straight from that
    mode's roads (:func:`read_roads`; :meth:`gridgeo.reach.ReachEngine.from_roads`: the same
    answers as an engine built from :func:`read_road_graph`, about twice as fast to build)."""
    return _reach.ReachEngine.from_roads(read_roads(store, mode=mode), mode=mode)


def read_gazetteer(store: GeoPackageStore) -> _geocode.Gazetteer:
    """The address gazetteer of a workspace: its county, townships and villages."""
    layers = SimpleNamespace(
        county=store.read("county"), towns=store.read("towns"), villages=store.read("villages")
    )
    return _geocode.Gazetteer.from_sample(layers)


def village_workload(customers: pd.DataFrame) -> pd.DataFrame:
    """Count customers per village: the workload table the grid builder takes.

    Parameters
    ----------
    customers
        One row per customer with ``village_code`` (empty where the customer
        has no village), ``voltage_class`` (``HV``/``LV``) and ``vulnerable``.

    Returns
    -------
    pandas.DataFrame
        One row per village code: ``village_code``, ``customers``,
        ``hv_customers``, ``lv_customers``, ``vulnerable``.
    """
    missing = [c for c in ("village_code", "voltage_class", "vulnerable") if c not in customers]
    if missing:
        msg = f"`customers` lacks column(s) {missing!r} needed to count the workload per village."
        raise MissingColumnError(msg)
    frame = customers.loc[customers["village_code"].notna(), :]
    frame = frame.assign(
        _hv=(frame["voltage_class"].astype(str).str.upper() == "HV").astype(int),
        _vul=frame["vulnerable"].astype(bool).astype(int),
    )
    grouped = frame.groupby(frame["village_code"].astype(str), sort=True)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "hv_customers": grouped["_hv"].sum(),
            "vulnerable": grouped["_vul"].sum(),
        }
    )
    out["lv_customers"] = out["customers"] - out["hv_customers"]
    out.index.name = "village_code"
    return out.reset_index()[
        ["village_code", "customers", "hv_customers", "lv_customers", "vulnerable"]
    ]


@dataclass(frozen=True)
class GridBuild:
    """Grids built for a workspace, not yet saved."""

    service: _grids.ServiceGrids
    graph: nx.MultiDiGraph | None
    workload_source: str = "given"
    """Where the villages' workload came from, one of :data:`WORKLOAD_SOURCES`."""


def default_workload(store: GeoPackageStore) -> tuple[pd.DataFrame, str]:
    """The villages' workload of a workspace when none is given.

    The customers already imported, counted per village (:func:`village_workload`), if the
    workspace has a ``customers`` layer; else every village with equal weight (one
    ``customers`` each, so a supply grid's workload is its number of villages).

    Returns
    -------
    tuple
        The workload table (``village_code``, ``customers``, ...) and its source,
        ``"customers"`` or ``"equal"`` (see :data:`WORKLOAD_SOURCES`).
    """
    if CUSTOMERS_LAYER in store.layers():
        customers = store.read(CUSTOMERS_LAYER)
        if len(customers):
            return village_workload(customers), "customers"
    codes = store.read("villages")["village_code"].astype(str).to_numpy()
    ones = np.ones(len(codes), dtype=int)
    table = pd.DataFrame(
        {
            "village_code": codes,
            "customers": ones,
            "hv_customers": 0,
            "lv_customers": ones,
            "vulnerable": 0,
        }
    )
    return table, "equal"


def build_grids(
    store: GeoPackageStore,
    workload: pd.DataFrame | None = None,
    *,
    method: str = _grids.DEFAULT_METHOD,
    n_grids: int | Mapping[Any, int] | None = None,
    target_workload: float | None = None,
    roster: pd.DataFrame | None = None,
    seed: int = 0,
) -> GridBuild:
    """Build the three tiers from a workspace's county, villages and substations.

    The road graph (drive mode) is read from the workspace for
    ``method="network"``. With ``roster``, the people are filled in.

    The villages' workload is, in this order: ``workload`` when given; else the customers
    already imported, counted per village; else every village with equal weight
    (:func:`default_workload`). :attr:`GridBuild.workload_source` says which.

    Parameters
    ----------
    store
        The workspace.
    workload
        Per-village table (``village_code``, ``customers``, ...; see
        :func:`gridgeo.grids.build_service_grids`), or None for the default above.
    method
        ``"network"``: each village goes to the substation that reaches it first by road;
        ``"voronoi"``: to the substation nearest in straight line. Either way whole villages
        are assigned (a Voronoi of the substations evaluated village by village: a village's
        cell goes to the substation nearest its point), never a plain Voronoi split of the
        county. ``"network"`` needs the workspace's roads.
    n_grids, target_workload, seed
        See :func:`gridgeo.grids.build_service_grids`.
    roster
        The people of the grids (:func:`gridgeo.roster.apply_roster`).

    Returns
    -------
    GridBuild
    """
    source = "given"
    if workload is None:
        workload, source = default_workload(store)
    county = store.read("county")
    villages = store.read("villages")
    substations = store.read("substations")
    if method == "network" and ROADS_LAYER not in _io.list_layers(store.path):
        msg = (
            f"workspace {store.path.name!r} has no roads 工作区没有道路: grids by road travel "
            "time (--method network, the default) need them; import the roads (`gridgeo roads "
            f"import FILE --workspace {store.path}`), or build by straight-line distance to the "
            "substations with --method voronoi"
        )
        raise NotFoundError(msg)
    graph = read_road_graph(store) if method == "network" else None
    service = _grids.build_service_grids(
        county,
        villages,
        substations,
        workload,
        graph=graph,
        method=method,
        n_grids=n_grids,
        target_workload=target_workload,
        seed=seed,
    )
    if roster is not None:
        service = _with_grids(service, apply_roster(service.grids, roster))
    return GridBuild(service=service, graph=graph, workload_source=source)


def _with_grids(service: _grids.ServiceGrids, grids: gpd.GeoDataFrame) -> _grids.ServiceGrids:
    return _grids.ServiceGrids(
        grids=grids,
        village_grid=service.village_grid,
        cells=service.cells,
        county=service.county,
        pieces=service.pieces,
    )


def _grids_layer(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids as stored: the data model's columns, villages as text."""
    out = grids.copy()
    for column in ROSTER_COLUMNS_IN_GRIDS:
        if column not in out:
            out[column] = ""
    if "version" in out:
        out = out.drop(columns="version")  # the store writes it
    return out


_SAME_GRID = ("tier", "parent_id", "substation_id", "villages")


def _keep_unchanged(layer: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """An edit rewrites only the grids it changes: a grid with the same id, tier, parent,
    substation, villages and polygon as the stored one keeps the stored row as it is (its
    count and workload columns too, which previews recompute from other inputs)."""
    stored = current.drop(columns=["version"], errors="ignore").set_index("grid_id", drop=False)
    shared = [c for c in layer.columns if c in stored.columns]
    if layer.geometry.name not in shared:
        return layer
    out = layer.copy()
    for pos, grid_id in enumerate(out["grid_id"].to_numpy()):
        if grid_id not in stored.index:
            continue
        old = stored.loc[grid_id]
        new = out.iloc[pos]
        same = all(
            str(new[c]) == str(old[c]) for c in _SAME_GRID if c in out.columns and c in stored
        ) and shapely.equals_exact(new.geometry, old.geometry, tolerance=1e-9)
        if same:
            out.iloc[pos, [out.columns.get_loc(c) for c in shared]] = old[shared].to_numpy()
    return out


def _carry_roster(grids: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the people of each grid id when an edit's grids do not carry them."""
    missing = [c for c in ROSTER_COLUMNS_IN_GRIDS if c not in grids.columns and c in current]
    if not missing:
        return grids
    people = pd.DataFrame(current[["grid_id", *missing]])
    merged = grids.merge(people, on="grid_id", how="left")
    return gpd.GeoDataFrame(merged, geometry=grids.geometry.name, crs=grids.crs)


def _without_member_bases(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids for a grids layer stored before rosters named the members' bases (its
    columns are fixed): without the empty ``member_bases`` column."""
    if layer["member_bases"].astype("string").fillna("").str.strip().ne("").any():
        msg = (
            "这个工作区的网格层没有 member_bases 列 / the workspace's grids were stored "
            "without a `member_bases` column: leave the roster's `member_bases` empty (members "
            "then start from the nearest station)"
        )
        raise InputError(msg)
    return layer.drop(columns="member_bases")


def save_grids(
    store: GeoPackageStore,
    grids: gpd.GeoDataFrame,
    *,
    author: str,
    reason: str,
    expected_version: int | None = None,
) -> int:
    """Save grids as a new version of the workspace's ``grids`` layer.

    Roster columns (manager, members, liaison, phones) that ``grids`` lacks
    are carried over from the stored grids by ``grid_id``, so an edit never
    loses the people. The grids are validated (:func:`gridgeo.grids.validate_grids`) inside
    the save: a grid set with topology problems is refused and the store is
    left as it was. The customers' grid ids (``grid_t1``/``grid_t2``/``grid_t3``,
    ``grid_reason``) are recomputed for the new grids and, where any changed, saved in the
    same transaction as a new version of ``customers``: the archive of every grid and "whom
    to call" always follow the grids. The first save creates the layer.
    ``expected_version`` is the version the edit was based on; None means "the current one"
    (a fresh build, not an edit).

    Returns
    -------
    int
        The new version number.
    """
    current_grids = store.read("grids") if "grids" in store.layers() else None
    if current_grids is not None:
        grids = _carry_roster(grids, current_grids)
    layer = _grids_layer(grids)
    if current_grids is not None and "member_bases" not in current_grids:
        layer = _without_member_bases(layer)
    if current_grids is not None:
        layer = _keep_unchanged(layer, current_grids)
    county = store.read("county")

    def validate(gdf: gpd.GeoDataFrame) -> list[str]:
        problems = _grids.validate_grids(gdf, county=county)
        return [
            f"{p['problem']} at grid {p.get('grid_id')!r}"
            + (f" / {p['other_id']!r}" if p.get("other_id") is not None else "")
            for p in problems
        ]

    problems = validate(layer)
    if "grids" not in store.layers():
        if problems:
            msg = f"grids break {len(problems)} topology rule(s): {problems[:5]!r}"
            raise InputError(msg)
        store.add_layer("grids", layer, key="grid_id", author=author, reason=reason)
        moved = _customers_in(store, layer)
        if moved is not None:  # customers imported before there were grids
            store.save("customers", moved[0], expected_version=moved[1], author=author,
                       reason=reason)  # fmt: skip
        return store.current_version("grids")
    current = store.current_version("grids")
    expected = current if expected_version is None else expected_version
    if problems:  # refused with the store's own message, nothing written
        return store.save(
            "grids", layer, expected_version=expected, author=author, reason=reason,
            validate=validate,
        )  # fmt: skip
    changes = {"grids": (layer, expected)}
    moved = _customers_in(store, layer)
    if moved is not None:
        changes[CUSTOMERS_LAYER] = moved
    return store.save_many(changes, author=author, reason=reason)["grids"]


def restore_grids(
    store: GeoPackageStore, version: int, *, expected_version: int, author: str, reason: str
) -> int:
    """Make grids ``version`` current again as a new version, with the customers' grid ids
    recomputed for them in the same transaction (see :func:`save_grids`).

    Returns
    -------
    int
        The new version number of ``grids``.
    """
    old = store.read("grids", version=version)
    changes = {"grids": (old, expected_version)}
    moved = _customers_in(store, old)
    if moved is not None:
        changes[CUSTOMERS_LAYER] = moved
    saved = store.save_many(changes, author=author, reason=reason, restored_from={"grids": version})
    return saved["grids"]


def _customers_in(
    store: GeoPackageStore, grids: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, int] | None:
    """The customers layer with its grid ids for ``grids`` and the version it was read at, or
    None when there is no customers layer or no id changes."""
    if CUSTOMERS_LAYER not in store.layers():
        return None
    version = store.current_version(CUSTOMERS_LAYER)  # first: a save in between is a conflict
    customers = store.read(CUSTOMERS_LAYER)
    assigned = _grids.assign_to_grids(customers, grids)
    same = all(
        customers[c].astype(object).where(customers[c].notna(), None).tolist()
        == assigned[c].astype(object).where(assigned[c].notna(), None).tolist()
        for c in assigned.columns
    )
    if same:
        return None
    updated = customers.copy()
    for c in assigned.columns:
        updated[c] = assigned[c].to_numpy()
    return updated, version


def _customer_cells(
    points: gpd.GeoSeries | gpd.GeoDataFrame, cells: gpd.GeoDataFrame, village_grid: pd.Series
) -> np.ndarray:
    """The village cell that holds each customer (its row position in ``cells``, -1 for
    none): the rule of :func:`gridgeo.grids.assign_to_grids` (which sets the customers' grid
    ids) applied to the cells the grids are made of. A point on the border of cells of two
    grids goes to the grid whose id sorts first, as there; a point just outside every cell
    (``near_boundary``) goes to its village's cell or the nearest one, as there."""
    frame = points if isinstance(points, gpd.GeoDataFrame) else None
    points = points.geometry if frame is not None else points
    if points.crs is not None and cells.crs is not None and not points.crs.equals(cells.crs):
        points = points.to_crs(cells.crs)
    geoms = points.to_numpy()
    hit_point, hit_cell = shapely.STRtree(cells.geometry.to_numpy()).query(
        geoms, predicate="intersects"
    )
    _, grid_rank = np.unique(village_grid.astype(str).to_numpy(), return_inverse=True)
    order = np.lexsort((hit_cell, grid_rank[hit_cell], hit_point))
    hit_point, hit_cell = hit_point[order], hit_cell[order]
    first = np.ones(len(hit_point), dtype=bool)
    first[1:] = hit_point[1:] != hit_point[:-1]
    out = np.full(len(geoms), -1, dtype=np.int64)
    out[hit_point[first]] = hit_cell[first]
    rest = np.flatnonzero((out < 0) & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if len(rest):
        # each cell as a tier-3 "grid" whose id sorts by (grid, cell): the same tie rule
        ids = [f"{g}\x00{i:09d}" for i, g in enumerate(village_grid.astype(str))]
        as_grids = gpd.GeoDataFrame(
            {
                "grid_id": ids,
                "tier": _grids.TIER_VILLAGE,
                "parent_id": None,
                "villages": cells["village_code"].astype(str).to_numpy(),
            },
            geometry=cells.geometry.to_numpy(),
            crs=cells.crs,
        )
        subset = frame.iloc[rest] if frame is not None else points.iloc[rest]
        got = _grids.assign_to_grids(subset, as_grids)["grid_t3"].to_numpy(dtype=object)
        has = pd.notna(got)
        out[rest[has]] = [int(str(g).rsplit("\x00", 1)[1]) for g in got[has]]
    return out


def load_service_grids(store: GeoPackageStore) -> tuple[_grids.ServiceGrids, int]:
    """The workspace's current grids as an editable :class:`~gridgeo.grids.ServiceGrids`.

    Village cells are recomputed from the county and the villages (the same
    cells the build used, as both are deterministic). Their counts are the
    customers whose located position lies in the cell (zero where there is no
    ``customers`` layer yet): a grid's customers in a preview are then those
    of :func:`gridgeo.archive.customers_per_grid`, the customers in its
    polygon, before and after the edit, and the not located customers
    (:data:`gridgeo.archive.NOT_LOCATED`) are in no cell. The workload of a
    village is its customer count: previews of grids built with other
    ``weights`` show customer-count KPIs.

    Returns
    -------
    tuple
        The grids and the version they were read at (pass it as
        ``expected_version`` when saving an edit).
    """
    customers = store.read(CUSTOMERS_LAYER) if CUSTOMERS_LAYER in store.layers() else None
    return _load_service_grids(store, customers)


def _load_service_grids(
    store: GeoPackageStore, customers: gpd.GeoDataFrame | None
) -> tuple[_grids.ServiceGrids, int]:
    """:func:`load_service_grids` with the customers layer read by the caller (None: none)."""
    if "grids" not in store.layers():
        msg = f"workspace {str(store.path)!r} has no grids yet: run `gridgeo grids build` first."
        raise NotFoundError(msg)
    version = store.current_version("grids")
    grids = store.read("grids", version=version)
    county = store.read("county")
    villages = store.read("villages")
    cells = _grids.village_cells(county, villages)
    for column in _grids.COUNT_COLUMNS:
        cells[column] = 0
    cells["workload"] = 0.0
    service = _grids.service_grids_from_layers(grids, cells, county)
    if customers is not None:
        cell = _customer_cells(customers, service.cells, service.village_grid)
        codes = service.cells["village_code"].astype(str).to_numpy(dtype=object)
        in_cells = customers.assign(grid_t3=np.where(cell >= 0, codes[np.maximum(cell, 0)], None))
        table = _archive.customers_per_grid(in_cells, tier=3).reindex(codes, fill_value=0)
        cells = service.cells.copy()
        for column in _grids.COUNT_COLUMNS:
            cells[column] = table[column].to_numpy(dtype=int)
        cells["workload"] = cells["customers"].astype(float)
        service = _grids.ServiceGrids(
            grids=service.grids,
            village_grid=service.village_grid,
            cells=cells,
            county=service.county,
        )
    return _grids.refresh_counts(service), version


def _flags(access: pd.DataFrame, column: str) -> np.ndarray:
    """A yes/no column of ``access`` as booleans, a missing value as no (never True)."""
    return access[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def reach_kpi_function(
    customers: gpd.GeoDataFrame, access: pd.DataFrame
) -> Callable[[_grids.ServiceGrids], pd.DataFrame]:
    """KPIs of a grid edit's preview: repair and payment compliance per grid.

    The reach of each customer does not depend on the grid lines (stations
    and roads stay); what an edit changes is which customers each grid
    answers for. The returned function recomputes, for the grids of a
    :class:`~gridgeo.grids.ServiceGrids`, the share of customers within the
    30-minute repair and the 10-minute payment promise, following each
    customer's position (the village cell it lies in) into its (new) grid:
    a grid answers for the customers in its polygon, as
    :func:`gridgeo.archive.customers_per_grid` counts them.

    Parameters
    ----------
    customers
        The customers layer (their points).
    access
        The customers' access on the same index (:func:`read_access`); a
        missing ``repair_ok`` / ``payment_ok`` counts as not within the promise.
    """
    if not access.index.equals(customers.index):
        msg = "`access` and `customers` must share their index (see `read_access`)."
        raise InputError(msg)
    if not isinstance(customers, gpd.GeoDataFrame):
        msg = "`customers` must be a GeoDataFrame with the customers' points (the layer)."
        raise InputError(msg)
    missing = [c for c in ACCESS_FLAGS if c not in access]
    if missing:
        msg = f"`access` lacks {missing!r}: pass the customers' access (see `read_access`)."
        raise MissingColumnError(msg)
    points = customers
    repair_ok = _flags(access, "repair_ok")
    payment_ok = _flags(access, "payment_ok")
    seen: dict[str, Any] = {}

    def kpis(service: _grids.ServiceGrids) -> pd.DataFrame:
        # the cells stay through an edit: find each customer's cell once
        if seen.get("cells") is not service.cells:
            seen["cells"] = service.cells
            seen["cell"] = _customer_cells(points, service.cells, service.village_grid)
        cell = seen["cell"]
        t3_of_cell = service.village_grid.to_numpy(dtype=object)
        t3 = pd.Series(np.where(cell >= 0, t3_of_cell[np.maximum(cell, 0)], None), dtype=object)
        parent = service.grids.set_index("grid_id")["parent_id"]
        t2 = t3.map(parent)
        t1 = t2.map(parent)
        frames = []
        for column in (t3, t2, t1):
            frame = pd.DataFrame({"grid_id": column, "repair": repair_ok, "payment": payment_ok})
            frames.append(frame.dropna(subset=["grid_id"]))
        both = pd.concat(frames)
        out = both.groupby("grid_id").mean() * 100.0
        return out.rename(columns={"repair": "repair_ok_pct", "payment": "payment_ok_pct"})

    return kpis


# The layers an edit preview starts from: a new version of any of them (saved by this
# process or another) makes a new edit base (load_edit_base).
EDIT_BASE_LAYERS = ("grids", "county", "villages", CUSTOMERS_LAYER, ACCESS_LAYER)
# Edit bases kept in memory, one per workspace file: the newest few workspaces.
_EDIT_BASES_KEPT = 4
_edit_bases: OrderedDict[str, tuple[tuple[Any, ...], EditBase]] = OrderedDict()
_edit_bases_lock = threading.Lock()


@dataclass(frozen=True)
class EditBase:
    """What every edit preview of one version of a workspace's grids starts from.

    Attributes
    ----------
    service
        The current grids, editable (:func:`load_service_grids`). Shared by every
        caller of :func:`load_edit_base`: the ``preview_*`` functions never change it.
    version
        The grids version it was read at (pass it as ``expected_version`` when saving).
    kpis
        The reach KPIs of a preview (:func:`reach_kpi_function`, each customer's village
        cell already found), None when the workspace has no customers or no access yet.
    adjacency
        Which village cells share a boundary (:func:`gridgeo.grids.village_adjacency`),
        for :func:`gridgeo.grids.village_join_options`.
    villages
        The ``villages`` layer as read: code, name, town and point of each village.
    """

    service: _grids.ServiceGrids
    version: int
    kpis: Callable[[_grids.ServiceGrids], pd.DataFrame] | None
    adjacency: Any
    villages: gpd.GeoDataFrame


def _edit_base_key(store: GeoPackageStore) -> tuple[Any, ...]:
    """The version and checksum of every layer an edit base is made from."""
    layers = store.layers()
    key: list[tuple[Any, ...]] = []
    for layer in EDIT_BASE_LAYERS:
        if layer not in layers:
            key.append((layer, None))
            continue
        last = store.list_versions(layer).iloc[-1]
        key.append((layer, int(last["version"]), str(last["checksum"])))
    return tuple(key)


def _build_edit_base(store: GeoPackageStore) -> EditBase:
    layers = store.layers()
    customers = store.read(CUSTOMERS_LAYER) if CUSTOMERS_LAYER in layers else None
    service, version = _load_service_grids(store, customers)
    kpis = None
    if customers is not None and ACCESS_LAYER in layers:
        kpis = reach_kpi_function(
            customers, access_for_customers(customers, store.read(ACCESS_LAYER))
        )
        kpis(service)  # finds each customer's village cell now, once per edit base
    return EditBase(
        service=service,
        version=version,
        kpis=kpis,
        adjacency=_grids.village_adjacency(service.cells),
        villages=store.read("villages"),
    )


def load_edit_base(store: GeoPackageStore) -> EditBase:
    """The workspace's current grids ready for edit previews, kept in memory per version.

    Making it (reading the grids, villages and customers, cutting the village cells, finding
    every customer's cell) takes about a second on a county; previews on it take a fraction
    of that. It is kept per workspace file and made again when any of
    :data:`EDIT_BASE_LAYERS` has a new version, also one saved by another process (each
    call compares the store's versions and checksums, a few milliseconds).

    Returns
    -------
    EditBase

    Raises
    ------
    NotFoundError
        If the workspace has no grids yet.
    """
    path = str(Path(store.path).resolve())
    key = _edit_base_key(store)
    with _edit_bases_lock:  # one build at a time: two at once would take twice as long
        kept = _edit_bases.get(path)
        if kept is not None and kept[0] == key:
            _edit_bases.move_to_end(path)
            return kept[1]
        base = _build_edit_base(store)
        if _edit_base_key(store) == key:  # nothing saved while it was made: keep it
            _edit_bases[path] = (key, base)
            _edit_bases.move_to_end(path)
            while len(_edit_bases) > _EDIT_BASES_KEPT:
                _edit_bases.popitem(last=False)
        return base


def access_for_customers(
    customers: gpd.GeoDataFrame,
    access: pd.DataFrame,
    *,
    customer_id_column: str = "customer_id",
) -> gpd.GeoDataFrame:
    """The access row of every customer: customers and ``customer_access`` joined.

    Every front (CLI, API, map) reads the customers' access through this join. A customer
    without an access row (imported after the access was computed, say) is within neither
    promise: ``repair_ok`` and ``payment_ok`` False, reasons :data:`NOT_COMPUTED`, no times
    or stations. Access rows of customers no longer in ``customers`` are left out.

    Parameters
    ----------
    customers
        The customers layer (``customer_id_column`` and the points).
    access
        The ``customer_access`` layer (:func:`gridgeo.reach.customer_access`): one row per
        customer id with ``repair_ok`` and ``payment_ok``.
    customer_id_column
        The id column of both.

    Returns
    -------
    geopandas.GeoDataFrame
        The access columns on the customers' index, in their order, with their points.

    Raises
    ------
    MissingColumnError
        If an id column or ``repair_ok`` / ``payment_ok`` is missing.
    DuplicateIdError
        If a customer has more than one access row.
    """
    for frame, name in ((customers, "customers"), (access, "access")):
        if customer_id_column not in frame:
            msg = f"`{name}` lacks the id column {customer_id_column!r}."
            raise MissingColumnError(msg)
    missing = [c for c in ACCESS_FLAGS if c not in access]
    if missing:
        msg = f"`access` lacks {missing!r}: pass the `customer_access` layer."
        raise MissingColumnError(msg)
    drop = ["version"] if "version" in access else []
    if isinstance(access, gpd.GeoDataFrame):
        drop.append(access.geometry.name)
    table = pd.DataFrame(access.drop(columns=drop))
    keys = table[customer_id_column].astype(str)
    twice = keys[keys.duplicated()].unique().tolist()
    if twice:
        msg = f"`access` has more than one row for customer(s) {twice[:5]!r}."
        raise DuplicateIdError(msg)
    ids = customers[customer_id_column].astype(str).to_numpy()
    # a hash look-up: np.isin on Python strings sorts object arrays (17 s for 30,000 ids)
    found = pd.Index(keys.to_numpy()).get_indexer(ids) >= 0
    joined = table.set_axis(keys.to_numpy()).reindex(ids)
    joined.index = customers.index
    joined[customer_id_column] = customers[customer_id_column].to_numpy()
    for column in ACCESS_FLAGS:
        joined[column] = _flags(joined, column)
    if "reason" not in joined:
        joined["reason"] = None
    for column in ACCESS_REASONS:
        if column in joined:
            joined[column] = joined[column].astype(object).where(found, NOT_COMPUTED)
    return gpd.GeoDataFrame(joined, geometry=customers.geometry.to_numpy(), crs=customers.crs)


def read_access(store: GeoPackageStore) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The customers of a workspace and their access (:func:`access_for_customers`).

    Returns
    -------
    tuple
        The ``customers`` layer and its access on the same index, with the customers'
        points; customers without an access row are within neither promise.

    Raises
    ------
    NotFoundError
        If the workspace has no ``customers`` or no ``customer_access`` layer.
    """
    layers = store.layers()
    if CUSTOMERS_LAYER not in layers:
        msg = (
            f"workspace {store.path.name!r} has no `customers` layer: import the customer "
            "archive first (`gridgeo customers import FILE --workspace ...`)."
        )
        raise NotFoundError(msg)
    if ACCESS_LAYER not in layers:
        msg = (
            f"workspace {store.path.name!r} has no `{ACCESS_LAYER}` layer: compute the "
            "customers' repair and payment access first (gridgeo.compute_access)."
        )
        raise NotFoundError(msg)
    customers = store.read(CUSTOMERS_LAYER)
    return customers, access_for_customers(customers, store.read(ACCESS_LAYER))


def count_grid_customers(
    store: GeoPackageStore, *, version: int | None = None
) -> dict[int, pd.DataFrame]:
    """The customers of every grid of a workspace, per tier.

    Counted by :func:`gridgeo.archive.customers_per_grid`, the one definition every output
    uses: a grid's customers are those whose located position it contains.

    Parameters
    ----------
    store
        The workspace.
    version
        A version of the grids (default: the current one). The customers are put into that
        version's polygons (:func:`gridgeo.grids.assign_to_grids`, the rule that sets their
        stored grid ids), so the counts belong to the grids read even if a save lands between
        the reads.

    Returns
    -------
    dict of pandas.DataFrame
        Tier (1, 2, 3) → customers per grid of that tier, then the row
        :data:`~gridgeo.archive.NOT_LOCATED`; each adds up to the county's customers (all
        zero without a ``customers`` layer).
    """
    grids = store.read("grids", version=version)
    if CUSTOMERS_LAYER in store.layers():
        customers = store.read(CUSTOMERS_LAYER)
        # always by the polygons just read (30 ms for 30,000 customers): the stored grid ids
        # would give the same, but a save may land between the two reads, and a count must
        # belong to one version of the grids
        assigned = _grids.assign_to_grids(customers, grids)
        customers = customers.assign(**{c: assigned[c].to_numpy() for c in assigned})
    else:
        columns = [*_archive.GRID_ID_COLUMNS.values(), "voltage_class", "vulnerable"]
        customers = pd.DataFrame(columns=columns)
    return {
        tier: _archive.customers_per_grid(customers, grids, tier=tier)
        for tier in _archive.GRID_ID_COLUMNS
    }


def compute_access(
    store: GeoPackageStore,
    *,
    payment_mode: str = _reach.DEFAULT_PAYMENT_MODE,
    repair_limit_s: float = _reach.DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = _reach.DEFAULT_PAYMENT_LIMIT_S,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair reach and payment access of every customer of a workspace.

    The customers' snaps are the stored ones (:func:`read_customer_snaps`): made once, then
    reused until the roads or the customers' positions change.

    Returns the customers layer and the ``customer_access`` table on its index.
    """
    version = store.current_version(CUSTOMERS_LAYER)  # first: a save in between re-snaps
    customers = store.read(CUSTOMERS_LAYER)
    engines = _reach.engines_from_roads(
        read_roads(store, mode=payment_mode), payment_mode=payment_mode
    )
    snaps = {
        service: _customer_snap(store, engines[service], customers, version=version, mode=mode)
        for service, mode in (("repair", "drive"), ("payment", payment_mode))
        if service == "repair" or engines["payment"] is not engines["repair"]
    }
    access = _reach.customer_access(
        engines["repair"],
        engines["payment"],
        customers,
        store.read("repair_stations"),
        store.read("payment_points"),
        repair_limit_s=repair_limit_s,
        payment_limit_s=payment_limit_s,
        repair_snap=snaps["repair"],
        payment_snap=snaps.get("payment", snaps["repair"]),
    )
    return customers, access


# --------------------------------------------------------------------------- stored snaps


def _points_digest(points: gpd.GeoSeries) -> str:
    """A short hash of the points in order (CRS, which rows have a position, coordinates):
    what a snap of them depends on, besides the engine."""
    geoms = points.to_numpy()
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    h = hashlib.sha256()
    h.update(str(points.crs.to_wkt() if points.crs is not None else None).encode())
    h.update(np.ascontiguousarray(has).data)
    h.update(np.ascontiguousarray(shapely.get_coordinates(geoms[has]), dtype="<f8").data)
    return h.hexdigest()[:16]


def _snap_arrays(snap: _reach.Snap) -> dict[str, np.ndarray]:
    arrays = {
        "seg": snap.seg,
        "t": snap.t,
        "snap_m": snap.snap_m,
        "leg_s": snap.leg_s,
        "reason": snap.reason,
        "x_m": snap.xy[:, 0],
        "y_m": snap.xy[:, 1],
    }
    return {name: np.ascontiguousarray(arrays[name], dtype=dt) for name, dt in _SNAP_COLUMNS}


def _read_stored_snap(
    store: GeoPackageStore, mode: str, *, fingerprint: str, digest: str, n_rows: int
) -> _reach.Snap | None:
    """The stored snap of ``mode`` if it was made by an engine of ``fingerprint`` for the
    points of ``digest``, else None (also when there is none or it cannot be read)."""
    names = [name for name, _ in _SNAP_COLUMNS]
    sql = (
        f"SELECT engine_fingerprint, points_digest, n_rows, {', '.join(names)} "
        f'FROM "{SNAPS_TABLE}" WHERE mode = ?'
    )
    try:
        con = sqlite3.connect(store.path, timeout=store.timeout_s)
        try:
            row = con.execute(sql, (mode,)).fetchone()
        finally:
            con.close()
    except sqlite3.Error:  # no table yet (or an unreadable one: made again)
        return None
    if row is None or tuple(row[:3]) != (fingerprint, digest, n_rows):
        return None
    arrays = {}
    for (name, dtype), blob in zip(_SNAP_COLUMNS, row[3:], strict=True):
        if not isinstance(blob, bytes) or len(blob) != n_rows * np.dtype(dtype).itemsize:
            return None
        arrays[name] = np.frombuffer(blob, dtype=dtype).copy()
    return _reach.Snap(
        seg=arrays["seg"].astype(np.int64),
        t=arrays["t"].astype(float),
        snap_m=arrays["snap_m"].astype(float),
        leg_s=arrays["leg_s"].astype(float),
        reason=arrays["reason"].astype(np.int8),
        xy=np.column_stack([arrays["x_m"], arrays["y_m"]]).astype(float),
        fingerprint=fingerprint,
    )


def _write_snap(
    store: GeoPackageStore, mode: str, snap: _reach.Snap, *, digest: str, version: int
) -> bool:
    """Store ``snap`` as the one of ``mode`` (one transaction: the row of ``mode`` is
    replaced, nothing else changes). A failure is logged and leaves the workspace as it was:
    the table is a cache, the snap is made again next time."""
    arrays = _snap_arrays(snap)
    names = [name for name, _ in _SNAP_COLUMNS]
    blobs = ", ".join(f'"{name}" BLOB NOT NULL' for name in names)
    create = (
        f'CREATE TABLE IF NOT EXISTS "{SNAPS_TABLE}" ('
        '"fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "mode" TEXT NOT NULL UNIQUE, '
        '"engine_fingerprint" TEXT NOT NULL, "points_digest" TEXT NOT NULL, '
        '"customers_version" INTEGER NOT NULL, "n_rows" INTEGER NOT NULL, '
        f'"created_at" TEXT NOT NULL, {blobs})'
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    insert = (
        f'INSERT INTO "{SNAPS_TABLE}" (mode, engine_fingerprint, points_digest, '
        f"customers_version, n_rows, created_at, {', '.join(names)}) "
        f"VALUES ({', '.join('?' * (6 + len(names)))})"
    )
    values: list[Any] = [mode, snap.fingerprint, digest, int(version), len(snap), now]
    values += [arrays[name].tobytes() for name in names]
    try:
        con = sqlite3.connect(store.path, timeout=store.timeout_s, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(create)
            known = con.execute(
                "SELECT 1 FROM gpkg_contents WHERE table_name = ?", (SNAPS_TABLE,)
            ).fetchone()
            if known is None:  # registered, so that GDAL and QGIS list it as a table
                con.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change) VALUES (?, 'attributes', ?, ?, ?)",
                    (SNAPS_TABLE, SNAPS_TABLE, "gridgeo: customers' stored snaps (a cache)", now),
                )
            con.execute(f'DELETE FROM "{SNAPS_TABLE}" WHERE mode = ?', (mode,))
            con.execute(insert, values)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
    except (sqlite3.Error, OSError) as exc:
        logger.warning(
            "workspace %s: the customers' %s snap was not stored (%s); it is made again next "
            "time, nothing else changed",
            store.path.name,
            mode,
            exc,
        )
        return False
    return True


def _customer_snap(
    store: GeoPackageStore,
    engine: _reach.ReachEngine,
    customers: gpd.GeoDataFrame,
    *,
    version: int,
    mode: str | None,
) -> _reach.Snap:
    if not isinstance(engine, _reach.ReachEngine):
        msg = (
            f"`engine` must be a ReachEngine, got {type(engine).__name__}; "
            "use `read_reach_engine(store, mode=...)`"
        )
        raise InputError(msg)
    mode = engine.mode if mode is None else mode
    if not isinstance(mode, str) or not mode:
        msg = (
            f"`mode` must name the engine's travel mode (e.g. 'drive'), got {mode!r}; pass "
            "`mode=` for an engine built from a graph without one"
        )
        raise InputError(msg)
    digest = _points_digest(customers.geometry)
    stored = _read_stored_snap(
        store, mode, fingerprint=engine.fingerprint, digest=digest, n_rows=len(customers)
    )
    if stored is not None:
        return stored
    snap = engine.snap_points(customers, "customers")
    _write_snap(store, mode, snap, digest=digest, version=version)
    return snap


def read_customer_snaps(
    store: GeoPackageStore, engine: _reach.ReachEngine, *, mode: str | None = None
) -> _reach.Snap:
    """The customers' snap on ``engine``: stored in the workspace once, reused after.

    Snapping every customer to its nearest road is most of a reach's time, and it changes only
    when the roads or the customers do. The workspace keeps one snap per travel mode in the
    table :data:`SNAPS_TABLE` (``customer_snaps``: per mode, the engine's
    :attr:`~gridgeo.routing.ReachEngine.fingerprint`, a digest of the customers' positions,
    the customers version it was made at and the snap's arrays ``seg``, ``t``, ``snap_m``,
    ``leg_s``, ``reason``, ``x_m``, ``y_m`` as little-endian binary columns, one row per
    customer in the order of the customers layer: a 10^6-customer snap reads back in
    milliseconds, where a table of 10^6 rows takes seconds). The stored snap is returned when
    it was made by an engine of the same fingerprint (same roads, mode and snapping
    settings) for the same positions in the same order; otherwise the customers are snapped,
    the snap replaces the stored one (one transaction) and is returned. A customers version
    that changes no position (a grid save that moves customers to other grids, an edited
    address) keeps the stored snap. The table is a cache: if it cannot be written (the file is
    busy, say), that is logged and the snap is returned all the same; nothing else changes.

    Parameters
    ----------
    store
        The workspace.
    engine
        The engine of the travel mode (:func:`read_reach_engine`).
    mode
        The travel mode the snap is stored under; default the engine's own (``engine.mode``).

    Returns
    -------
    gridgeo.routing.Snap
        One row per customer, in the order of ``store.read("customers")``; for
        ``customer_snap`` of :func:`gridgeo.reach.repair_reach` and
        :func:`gridgeo.reach.payment_access`.

    Raises
    ------
    NotFoundError
        If the workspace has no ``customers`` layer.
    InputError
        If ``engine`` is not a ReachEngine, or neither ``mode`` nor the engine names a mode.
    """
    if CUSTOMERS_LAYER not in store.layers():
        msg = (
            f"workspace {store.path.name!r} has no `customers` layer: import the customer "
            "archive first (`gridgeo customers import FILE --workspace ...`)."
        )
        raise NotFoundError(msg)
    version = store.current_version(CUSTOMERS_LAYER)  # first: a save in between re-snaps
    customers = store.read(CUSTOMERS_LAYER)
    return _customer_snap(store, engine, customers, version=version, mode=mode)


# --------------------------------------------------------------------------- #
# comparing two versions of the grids

# how a stored grid lists its villages (its ``villages`` column, as gridgeo.grids writes it)
_VILLAGE_LIST_SEP = "，"

COMPARE_GRID_COLUMNS = (
    "grid_id",
    "tier",
    "status",
    "name_a",
    "name_b",
    "parent_a",
    "parent_b",
    "substation_a",
    "substation_b",
    "villages_a",
    "villages_b",
    "villages_in",
    "villages_out",
    "customers_a",
    "customers_b",
    "customers_change",
)
COMPARE_VILLAGE_COLUMNS = (
    "village_code",
    "village",
    "town",
    "grid_a",
    "grid_b",
    "grid_name_a",
    "grid_name_b",
    "supply_a",
    "supply_b",
    "lon",
    "lat",
)
COMPARE_STATUSES = ("added", "removed", "changed", "same")


@dataclass(frozen=True)
class GridComparison:
    """What changed between two versions of a workspace's grids (:func:`compare_grid_versions`).

    Attributes
    ----------
    version_a, version_b
        The two grids versions compared (``a`` is "before", ``b`` "after").
    grids
        One row per grid of either version (columns :data:`COMPARE_GRID_COLUMNS`), sorted by
        tier then ``grid_id``: ``status`` is ``added`` (only in b), ``removed`` (only in a),
        ``changed`` (its name, parent, substation, villages or customers differ) or
        ``same``; ``villages_a``/``villages_b`` count its villages, ``villages_in`` /
        ``villages_out`` those it gained / lost; ``customers_a``/``customers_b`` are the
        workspace's current customers that each version's polygons put in it.
    villages
        One row per village whose tier-3 grid (or supply grid) differs (columns
        :data:`COMPARE_VILLAGE_COLUMNS`), sorted by ``village_code``: its grid and supply
        grid in each version (None where a version does not list it), the grids' names,
        and its point (``lon``, ``lat``, EPSG:4326).
    """

    version_a: int
    version_b: int
    grids: pd.DataFrame
    villages: pd.DataFrame


def _check_grids_version(known: list[int], value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value not in known:
        listed = ", ".join(map(str, known)) if len(known) <= 12 else f"{known[0]}–{known[-1]}"
        msg = (
            f"没有网格版本 {value!r} / `{field}` {value!r} is no version of the grids: pick one "
            f"of the saved versions ({listed})."
        )
        raise NotFoundError(msg)
    return int(value)


def _village_lists(grids: pd.DataFrame) -> dict[str, frozenset[str]]:
    """grid_id -> the village codes its ``villages`` column lists."""
    return {
        str(gid): frozenset(c for c in str(codes).split(_VILLAGE_LIST_SEP) if c)
        for gid, codes in zip(grids["grid_id"], grids["villages"].fillna(""), strict=True)
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _customer_counts(
    customers: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame
) -> dict[tuple[int, str], int]:
    """(tier, grid_id) -> the customers ``grids`` put in that grid (the rule of a save)."""
    if customers is None:
        return {}
    assigned = _grids.assign_to_grids(customers, grids)
    placed = customers.assign(**{c: assigned[c].to_numpy() for c in assigned})
    counts: dict[tuple[int, str], int] = {}
    for tier in _archive.GRID_ID_COLUMNS:
        table = _archive.customers_per_grid(placed, grids, tier=tier)["customers"]
        counts |= {(tier, str(g)): int(n) for g, n in table.items() if g != _archive.NOT_LOCATED}
    return counts


def compare_grid_versions(store: GeoPackageStore, version_a: int, version_b: int) -> GridComparison:
    """What changed between two saved versions of the grids: grids and villages.

    Both versions are read from the store (:meth:`GeoPackageStore.read` with ``version=``).
    A village changed grids when the tier-3 grid whose ``villages`` lists it differs; a grid
    changed when its name, parent, substation, villages or customers differ (its polygon is
    the union of its villages, so it follows them). The customers are the workspace's
    current ``customers`` layer put into each version's polygons by
    :func:`gridgeo.grids.assign_to_grids` and counted by
    :func:`gridgeo.archive.customers_per_grid`, as a save does: the change in a grid's
    customers is then the change of the grids alone (zero counts without a customers
    layer). Only ids, names, counts and village points are returned: no personal data.

    Parameters
    ----------
    store
        The workspace.
    version_a, version_b
        Two different versions of the grids (see ``store.list_versions("grids")``);
        ``a`` is "before", ``b`` "after".

    Returns
    -------
    GridComparison

    Raises
    ------
    NotFoundError
        If the workspace has no grids, or either version is not one of them.
    InputError
        If the two versions are the same.
    """
    if "grids" not in store.layers():
        msg = f"workspace {store.path.name!r} has no grids yet: run `gridgeo grids build` first."
        raise NotFoundError(msg)
    known = sorted(int(v) for v in store.list_versions("grids")["version"])
    a = _check_grids_version(known, version_a, "version_a")
    b = _check_grids_version(known, version_b, "version_b")
    if a == b:
        msg = (
            f"两个版本相同 / `version_a` and `version_b` are both {a}: pick two different "
            "versions of the grids to compare."
        )
        raise InputError(msg)
    grids_a, grids_b = store.read("grids", version=a), store.read("grids", version=b)
    customers = store.read(CUSTOMERS_LAYER) if CUSTOMERS_LAYER in store.layers() else None
    count_a, count_b = _customer_counts(customers, grids_a), _customer_counts(customers, grids_b)
    lists_a, lists_b = _village_lists(grids_a), _village_lists(grids_b)
    rows_a = grids_a.set_index(grids_a["grid_id"].astype(str))
    rows_b = grids_b.set_index(grids_b["grid_id"].astype(str))

    rows = []
    for gid in set(rows_a.index) | set(rows_b.index):
        old = rows_a.loc[gid] if gid in rows_a.index else None
        new = rows_b.loc[gid] if gid in rows_b.index else None
        tier = int(rows_b.at[gid, "tier"] if new is not None else rows_a.at[gid, "tier"])
        va, vb = lists_a.get(gid, frozenset()), lists_b.get(gid, frozenset())
        row = {
            "grid_id": gid,
            "tier": tier,
            "name_a": None if old is None else _text_or_none(old["name"]),
            "name_b": None if new is None else _text_or_none(new["name"]),
            "parent_a": None if old is None else _text_or_none(old["parent_id"]),
            "parent_b": None if new is None else _text_or_none(new["parent_id"]),
            "substation_a": None if old is None else _text_or_none(old["substation_id"]),
            "substation_b": None if new is None else _text_or_none(new["substation_id"]),
            "villages_a": len(va),
            "villages_b": len(vb),
            "villages_in": len(vb - va),
            "villages_out": len(va - vb),
            "customers_a": count_a.get((tier, gid), 0) if old is not None else 0,
            "customers_b": count_b.get((tier, gid), 0) if new is not None else 0,
        }
        if old is None:
            row["status"] = "added"
        elif new is None:
            row["status"] = "removed"
        else:
            same = (
                va == vb
                and row["customers_a"] == row["customers_b"]
                and all(row[f"{k}_a"] == row[f"{k}_b"] for k in ("name", "parent", "substation"))
            )
            row["status"] = "same" if same else "changed"
        rows.append(row)
    grids = pd.DataFrame(rows, columns=list(COMPARE_GRID_COLUMNS))
    grids["customers_change"] = grids["customers_b"] - grids["customers_a"]
    grids = grids.sort_values(["tier", "grid_id"], kind="stable").reset_index(drop=True)

    def village_grid(lists: dict[str, frozenset[str]], rows: pd.DataFrame) -> dict[str, str]:
        t3 = set(rows.index[rows["tier"].astype(int) == _grids.TIER_VILLAGE])
        return {code: gid for gid, codes in lists.items() if gid in t3 for code in codes}

    in_a, in_b = village_grid(lists_a, rows_a), village_grid(lists_b, rows_b)
    parent_a = {str(g): _text_or_none(p) for g, p in rows_a["parent_id"].items()}
    parent_b = {str(g): _text_or_none(p) for g, p in rows_b["parent_id"].items()}
    name_a = {str(g): _text_or_none(n) for g, n in rows_a["name"].items()}
    name_b = {str(g): _text_or_none(n) for g, n in rows_b["name"].items()}
    moved = []
    for code in sorted(set(in_a) | set(in_b)):
        ga, gb = in_a.get(code), in_b.get(code)
        sa = parent_a.get(ga) if ga else None
        sb = parent_b.get(gb) if gb else None
        if ga != gb or sa != sb:
            moved.append((code, ga, gb, name_a.get(ga) if ga else None,
                          name_b.get(gb) if gb else None, sa, sb))  # fmt: skip
    villages = pd.DataFrame(
        moved,
        columns=["village_code", "grid_a", "grid_b", "grid_name_a", "grid_name_b",
                 "supply_a", "supply_b"],
    )  # fmt: skip
    if "villages" in store.layers():
        layer = store.read("villages")
        points = layer.geometry.to_crs(4326)
        where = pd.DataFrame(
            {
                "village": layer["village"].to_numpy() if "village" in layer else None,
                "town": layer["town"].to_numpy() if "town" in layer else None,
                "lon": points.x.round(6).to_numpy(),
                "lat": points.y.round(6).to_numpy(),
            },
            index=layer["village_code"].astype(str).to_numpy(),
        )
        where = where.loc[~where.index.duplicated()]
        villages = villages.join(where, on="village_code")
    else:
        villages = villages.assign(village=None, town=None, lon=np.nan, lat=np.nan)
    villages = villages.loc[:, list(COMPARE_VILLAGE_COLUMNS)].reset_index(drop=True)
    return GridComparison(version_a=a, version_b=b, grids=grids, villages=villages)
