"""Three-tier service grids: county, substation supply grids, village grids.

Tier 1 is the county company. Tier 2 holds one supply grid per substation
(每一变电站为一供电网). Tier 3 cuts every supply grid into village-level grids,
one per grid member (网格员), balanced on workload.

How the grids are made
----------------------
1. **Village cells.** Every village gets a cell: its own polygon where one is
   given, elsewhere the Voronoi cell of its point in the metric CRS, clipped
   to the county (:func:`village_cells`). The cells tile the county without
   gaps or overlaps, so every grid is a union of whole cells and a village is
   never split between grids.
2. **Tier 2.** Each village goes to the substation that reaches it first
   along the road network, substation → village (the repair direction), on
   the routing engine reach uses (:mod:`gridgeo.routing`): villages and
   substations join the roads at the nearest point of the nearest edge with
   their off-road legs walked, and one multi-source search gives every village
   the substation :func:`gridgeo.reach.repair_reach` would pick with the
   substations as stations, ties included
   (:func:`assign_villages_to_substations`). A village with no road time from
   any substation (farther than the engine's ``max_snap_m`` from every road,
   on a small isolated road piece no substation is on, or unreachable on the
   directed graph) goes to the nearest substation in straight line, with a
   warning that counts them by reason. With ``method="voronoi"`` every
   village goes to the nearest substation in straight line. This is a network
   Voronoi evaluated at village granularity: a village cell goes whole to the
   substation its village point is nearest to. Every substation takes the
   village it stands in, so it lies in its own supply grid; one standing in
   the village of another substation that keeps it heads no grid (warning).
   Substations farther than ``max_outside_m`` outside the county are refused.
   A supply grid is the union of its villages' cells. Pieces of a supply grid
   that do not touch the piece holding the substation (enclaves) go whole to
   the neighbouring grid they share the longest boundary with, so every
   supply grid is contiguous.
3. **A county in pieces.** Each detached piece of the county is gridded on
   its own: the villages of a piece with substations go to those
   substations. A piece without a substation (with or without villages)
   joins one supply grid whole: the one whose substation reaches it first by
   road (its villages, or its inner point), else the grid nearest to it in
   straight line; ``ServiceGrids.pieces`` says which and how. A grid may then
   have one part in each piece, never two parts in one piece.
4. **Tier 3.** The village adjacency graph of each supply grid (cells that
   share a boundary; the parts of a grid in several pieces linked at their
   nearest cells) is cut into ``k`` contiguous regions with the smallest
   largest deviation from the mean workload (:func:`balance_village_grids`).
5. **Topology** is checked on every build and every edit preview
   (:func:`validate_grids`): a build that breaks a rule is refused with
   :class:`GridTopologyError`, an edit preview carries its problems.

Redraws (:func:`preview_move_villages`, :func:`preview_redraw_boundary`,
:func:`preview_split_grid`, :func:`preview_merge_grids`,
:func:`preview_reassign_substation`) never change their input: each returns a
:class:`Preview` with the new grids, the KPI diff (customers, workload,
villages, imbalance, plus any KPIs a ``kpis`` function adds, e.g. reach) and
the topology problems. Grids loaded from a store become editable again with
:func:`service_grids_from_layers`.

Workload is an input: a table of customers (and HV / LV customers and
vulnerable households) per village, as counted by the caller.
"""

from __future__ import annotations

import logging
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gridgeo.crs import metric_crs
from gridgeo.errors import (
    CoordinateError,
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    GraphError,
    GridTopologyError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.network import coords_lengths_m
from gridgeo.routing import REACH_REASONS, ReachEngine, best_times, segment_lines
from gridgeo.settings import DEFAULT_SETTINGS

__all__ = [
    "ASSIGN_METHODS",
    "ASSIGN_REASONS",
    "GRID_COLUMNS",
    "JOIN_COLUMNS",
    "PIECE_COLUMNS",
    "PIECE_HOW",
    "PROBLEM_KINDS",
    "TIER_COUNTY",
    "TIER_SUPPLY",
    "TIER_VILLAGE",
    "WEIGHT_TERMS",
    "GridTopologyError",
    "Preview",
    "ServiceGrids",
    "assign_to_grids",
    "assign_villages_to_substations",
    "balance_village_grids",
    "build_service_grids",
    "grid_imbalance",
    "preview_merge_grids",
    "preview_move_villages",
    "preview_reassign_substation",
    "preview_redraw_boundary",
    "preview_split_grid",
    "refresh_counts",
    "service_grids_from_layers",
    "validate_grids",
    "village_adjacency",
    "village_cells",
    "village_join_options",
]

logger = logging.getLogger(__name__)

TIER_COUNTY, TIER_SUPPLY, TIER_VILLAGE = 1, 2, 3
ASSIGN_METHODS = ("network", "voronoi")
DEFAULT_METHOD = "network"
DEFAULT_WEIGHT = "travel_time"
DEFAULT_OFFROAD_SPEED_KPH = DEFAULT_SETTINGS.walk_speed_kph
DEFAULT_TARGET_WORKLOAD = 1500.0
DEFAULT_RESTARTS = 8
DEFAULT_TOLERANCE_M2 = 1.0
DEFAULT_MIN_SHARE = 0.5
DEFAULT_MIN_SHARED_BOUNDARY_M = 1.0
# A substation may stand this far outside the county boundary (digitising, datum
# shifts); one farther out is refused rather than made to head a grid.
DEFAULT_MAX_OUTSIDE_M = 500.0
DEFAULT_WEIGHTS: Mapping[str, float] = {"customers": 1.0}

VILLAGE_ID = "village_code"
SUBSTATION_ID = "substation_id"
COUNT_COLUMNS = ("customers", "hv_customers", "lv_customers", "vulnerable")
# Terms a workload may be weighted with: the count columns, plus the cell area
# and the road length inside the cell, computed when the table lacks them.
WEIGHT_TERMS = (*COUNT_COLUMNS, "area_km2", "road_km")
GRID_COLUMNS = (
    "grid_id",
    "tier",
    "parent_id",
    "name",
    "substation_id",
    "voltage_kv",
    "customers",
    "hv_customers",
    "lv_customers",
    "vulnerable",
    "workload",
    "imbalance_pct",
    "n_villages",
    "villages",
    "area_km2",
    "geometry",
)
_META_COLUMNS = ("grid_id", "tier", "parent_id", "name", "substation_id", "voltage_kv")
PROBLEM_KINDS = (
    "duplicate_id",
    "bad_tier",
    "empty",
    "invalid_geometry",
    "orphan",
    "not_nested",
    "parent_not_union",
    "gap",
    "overlap",
    "outside_county",
    "not_contiguous",
    "shared_substation",
    "substation_outside",
)
# How each piece of the county got its supply grid(s): its own substations, a
# substation standing in it, the substation that reaches it first by road, or
# the nearest supply grid in straight line.
PIECE_HOW = ("own", "substation", "road", "nearest")
PIECE_COLUMNS = (
    "piece",
    "area_km2",
    "lon",
    "lat",
    "n_villages",
    "substations",
    "grid_id",
    "how",
)
_VILLAGE_SEP = "，"
# Local search stops after this many improving moves per restart (a safety
# net: each move strictly improves the score, so it always stops anyway).
_MAX_MOVES = 10_000
# Perturb-and-descend rounds after each restart's first descent (iterated local search).
_ILS_ROUNDS = 10
_FINAL_ROUNDS = 20


KpiFunction = Callable[["ServiceGrids"], pd.DataFrame]


@dataclass(frozen=True)
class ServiceGrids:
    """Service grids of a county and what they are made of.

    Attributes
    ----------
    grids
        All tiers, one row per grid, columns :data:`GRID_COLUMNS`, EPSG:4326.
    village_grid
        Tier-3 ``grid_id`` of each village, on the villages' index.
    cells
        One row per village on the villages' index: ``village_code``, the
        count columns, ``workload`` and the village cell polygon (EPSG:4326).
    county
        The county boundary (one row, EPSG:4326).
    pieces
        One row per piece of the county (a county may be in several detached
        pieces), largest first, columns :data:`PIECE_COLUMNS`: ``piece``
        (1, 2, ...), ``area_km2``, centroid ``lon``/``lat``, ``n_villages``,
        the ``substations`` standing in it and the tier-2 ``grid_id`` (s)
        covering it (joined with "，"), and ``how`` it got them
        (:data:`PIECE_HOW`). Set by :func:`build_service_grids`; None on grids
        loaded or edited.
    """

    grids: gpd.GeoDataFrame
    village_grid: pd.Series
    cells: gpd.GeoDataFrame
    county: gpd.GeoDataFrame
    pieces: pd.DataFrame | None = None


@dataclass(frozen=True)
class Preview:
    """The result of an edit, not saved anywhere.

    Attributes
    ----------
    grids
        The grids after the edit (all tiers, EPSG:4326).
    kpi_diff
        One row per grid id present before or after: KPIs ``customers``,
        ``workload``, ``n_villages`` and ``imbalance_pct`` with ``_before``,
        ``_after`` and ``_change`` suffixes.
    problems
        Topology problems of the edited grids (empty when it may be saved).
    service
        The edited :class:`ServiceGrids`, to chain edits or to save.
    """

    grids: gpd.GeoDataFrame
    kpi_diff: pd.DataFrame
    problems: list[dict[str, Any]]
    service: ServiceGrids


# --------------------------------------------------------------------------- #
# input checks


def _to_4326(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str) -> Any:
    if gdf.crs is None:
        msg = (
            f"`{name}` has no CRS: gridgeo never guesses one. Set it, e.g. "
            f"`{name}.set_crs('EPSG:4326')`."
        )
        raise CRSError(msg)
    if gdf.crs.equals(pyproj.CRS.from_epsg(4326)):
        return gdf.copy()
    return gdf.to_crs(4326)


def _check_frame(
    gdf: Any, name: str, columns: Iterable[str] = (), *, allow_empty: bool = False
) -> gpd.GeoDataFrame:
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=gdf)
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"`{name}` must be a GeoDataFrame, got {type(gdf).__name__!r}."
        raise InputError(msg)
    if len(gdf) == 0:
        msg = f"`{name}` has no rows: nothing to build grids from."
        raise EmptyDataError(msg)
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        msg = f"`{name}` lacks column(s) {missing!r}; it has {list(gdf.columns)!r}."
        raise MissingColumnError(msg)
    out = _to_4326(gdf, name)
    if allow_empty:
        return out
    geoms = np.asarray(out.geometry.values, dtype=object)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        rows = list(out.index[bad][:10])
        msg = f"`{name}` has missing or empty geometries at rows {rows!r}: fix or drop them."
        raise InvalidGeometryError(msg)
    return out


def _check_unique(values: pd.Series, name: str, column: str) -> None:
    dup = values[values.duplicated(keep=False)]
    if len(dup):
        msg = (
            f"`{name}` column `{column}` repeats id(s) {sorted(map(str, set(dup)))[:10]!r}: "
            "every id must be unique."
        )
        raise DuplicateIdError(msg)


def _county_geometry(county: Any) -> tuple[gpd.GeoDataFrame, Any]:
    county = _check_frame(county, "county")
    geom = shapely.make_valid(shapely.union_all(np.asarray(county.geometry.values, dtype=object)))
    geom = shapely.union_all(
        [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
    )
    if shapely.is_empty(geom) or shapely.area(geom) == 0:
        msg = "`county` has no polygon area: pass the county boundary polygon."
        raise InvalidGeometryError(msg)
    return county, geom


def _county_frame(county4326: gpd.GeoDataFrame, county_geom: Any) -> gpd.GeoDataFrame:
    """The county as one row: the first row's attributes and the union of all polygons."""
    return gpd.GeoDataFrame(
        county4326.drop(columns=county4326.geometry.name).iloc[:1].reset_index(drop=True),
        geometry=[county_geom],
        crs=4326,
    )


def _points_of(geoms: np.ndarray) -> np.ndarray:
    """Points of point geometries; a representative point of anything else."""
    is_point = shapely.get_type_id(geoms) == 0
    out = geoms.copy()
    out[~is_point] = shapely.point_on_surface(geoms[~is_point])
    return out


def _check_method(method: str) -> None:
    if method not in ASSIGN_METHODS:
        msg = f"Unknown `method` {method!r}: use one of {ASSIGN_METHODS!r}."
        raise InputError(msg)


# --------------------------------------------------------------------------- #
# village cells


@lru_cache(maxsize=16)
def _transformer(crs_from: Any, crs_to: Any) -> pyproj.Transformer:
    """A cached transformer (creating one costs ~0.1 s, twice per build)."""
    return pyproj.Transformer.from_crs(crs_from, crs_to, always_xy=True)


def _project(geoms: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def _polygonal(geom: Any) -> Any:
    """The polygon parts of a geometry (drops the lines and points of overlays)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _county_pieces(county_m: Any, *, min_area_m2: float = 0.0) -> np.ndarray:
    """The separate polygons of a county (metric CRS), largest first, then west to east."""
    parts = [g for g in shapely.get_parts(_polygonal(county_m)) if shapely.area(g) > min_area_m2]
    parts.sort(
        key=lambda g: (
            -round(float(shapely.area(g)), 3),
            round(float(shapely.get_x(shapely.centroid(g))), 3),
            round(float(shapely.get_y(shapely.centroid(g))), 3),
        )
    )
    return np.array(parts, dtype=object)


def _piece_of_areas(geoms_m: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Position of the county piece holding most of each geometry's area (-1: none)."""
    out = np.full(len(geoms_m), -1, dtype=np.int64)
    if len(geoms_m) == 0 or len(pieces) == 0:
        return out
    gi, pi = shapely.STRtree(pieces).query(geoms_m, predicate="intersects")
    area = shapely.area(shapely.intersection(geoms_m[gi], pieces[pi]))
    keep = area > 0
    gi, pi, area = gi[keep], pi[keep], area[keep]
    if len(gi) == 0:
        return out
    order = np.lexsort((pi, -area, gi))
    gi, pi = gi[order], pi[order]
    first = np.r_[True, gi[1:] != gi[:-1]]
    out[gi[first]] = pi[first]
    return out


def _cells_metric(
    county_m: Any,
    points_m: np.ndarray,
    codes: np.ndarray,
    polygons_m: np.ndarray | None,
    pieces: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    """Cells of the villages in the metric CRS, tiling the county pieces that hold villages.

    Returns the cells, the county piece of each cell and the county pieces no
    village cell lies in (position -> polygon), which the caller gives to a cell.
    """
    n = len(points_m)
    xy = shapely.get_coordinates(points_m)
    _, first, counts = np.unique(np.round(xy, 3), axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        same = [str(codes[i]) for i in first[counts > 1]][:10]
        msg = (
            f"Villages share a point with another village (first of each: {same!r}): "
            "Voronoi cells need distinct points; move one of them or give village polygons."
        )
        raise InputError(msg)
    if n == 1:
        cells = np.array([county_m], dtype=object)
    else:
        minx, miny, maxx, maxy = shapely.total_bounds(np.append(points_m, county_m))
        pad = max(maxx - minx, maxy - miny)
        frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
        vor = shapely.voronoi_polygons(shapely.multipoints(points_m), extend_to=frame, ordered=True)
        cells = shapely.get_parts(vor)
        if len(cells) != n:  # pragma: no cover - guarded by the duplicate check
            msg = f"Voronoi diagram gave {len(cells)} cells for {n} villages."
            raise InputError(msg)
        cells = shapely.intersection(cells, county_m)
    if polygons_m is not None:
        has = ~(shapely.is_missing(polygons_m) | shapely.is_empty(polygons_m))
        polys = np.empty(n, dtype=object)
        polys[:] = shapely.Polygon()
        taken = shapely.Polygon()
        # Earlier villages keep an overlapped piece, so the polygons are disjoint.
        overlapped = []
        for i in np.flatnonzero(has):
            p = _polygonal(shapely.intersection(shapely.make_valid(polygons_m[i]), county_m))
            if shapely.area(shapely.intersection(p, taken)) > DEFAULT_TOLERANCE_M2:
                overlapped.append(str(codes[i]))
            polys[i] = _polygonal(shapely.difference(p, taken))
            taken = shapely.union(taken, polys[i])
        if overlapped:
            warnings.warn(
                f"village polygons of {overlapped[:10]!r} overlap earlier ones; "
                "the overlap went to the earlier village",
                stacklevel=3,
            )
        cells = shapely.union(shapely.difference(cells, taken), polys)
    cells = np.array([_polygonal(c) for c in cells], dtype=object)
    return _merge_fragments(cells, points_m, codes, pieces)


def _merge_fragments(
    cells: np.ndarray, points_m: np.ndarray, codes: np.ndarray, pieces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    """Give every detached piece of a cell to a neighbour in the same piece of the county.

    A Voronoi cell clipped to a concave county (or a cell left around a village
    polygon, or a cell reaching over into another piece of a county in
    pieces) can fall apart; the part holding the village point (else the
    largest) stays and is the cell's main part. Another part joins the main
    part it shares the longest boundary with in the same county piece, else
    the nearest main part in that piece. Parts in a county piece where no cell
    has its main part (a piece without villages) are not given to any cell:
    they come back, as one polygon per piece, for the caller to place.

    Returns the cells, the county piece position of each cell's main part and
    the county pieces without villages (position -> polygon).
    """
    n = len(cells)
    parts, owner = shapely.get_parts(cells, return_index=True)
    keep = shapely.area(parts) > 0
    parts, owner = parts[keep], owner[keep]
    present = np.zeros(n, dtype=bool)
    present[owner] = True
    if not present.all():
        empty = [str(codes[i]) for i in np.flatnonzero(~present)]
        msg = (
            f"Village(s) {empty[:10]!r} get no area inside the county (their cell "
            "is empty): check that their points lie in the county."
        )
        raise InputError(msg)
    area = shapely.area(parts)
    holds = shapely.intersects(parts, points_m[owner])
    # main part per cell: holds the point first, then the largest
    order = np.lexsort((-area, ~holds, owner))
    is_main = np.zeros(len(parts), dtype=bool)
    is_main[order[np.r_[True, owner[order][1:] != owner[order][:-1]]]] = True
    main_idx = np.flatnonzero(is_main)
    main_of = np.empty(n, dtype=np.int64)
    main_of[owner[main_idx]] = main_idx
    part_piece = _piece_of_areas(parts, pieces)
    cell_piece = part_piece[main_of]
    if len(parts) == n:
        return cells, cell_piece, {}
    with_cells = set(cell_piece.tolist())
    main_piece = part_piece[main_idx]
    main_owner = owner[main_idx]
    tree = shapely.STRtree(parts[main_idx])
    pieces_of: dict[int, list[Any]] = {int(i): [parts[main_of[i]]] for i in range(n)}
    loose_parts: dict[int, list[Any]] = {}
    for j in np.flatnonzero(~is_main):
        p = int(part_piece[j])
        if p >= 0 and p not in with_cells:
            loose_parts.setdefault(p, []).append(parts[j])
            continue
        same = main_owner != owner[j]
        if p >= 0:
            same &= main_piece == p
        cand = tree.query(parts[j], predicate="intersects")
        cand = cand[same[cand]]
        shared = shapely.length(shapely.intersection(parts[j], parts[main_idx[cand]]))
        if len(cand) and shared.max() > 0:
            target = int(main_owner[cand[np.argmax(shared)]])
        elif same.any():
            pool = np.flatnonzero(same)
            dist = shapely.distance(parts[j], parts[main_idx[pool]])
            target = int(main_owner[pool[np.argmin(dist)]])
        else:  # the only cell in its piece: the part stays with it
            target = int(owner[j])
        pieces_of[target].append(parts[j])
    merged = np.array(
        [
            shapely.union_all(pieces_of[i]) if len(pieces_of[i]) > 1 else pieces_of[i][0]
            for i in range(n)
        ],
        dtype=object,
    )
    loose = {p: shapely.union_all(v) for p, v in sorted(loose_parts.items())}
    return merged, cell_piece, loose


def _nearest_cell(cells_m: np.ndarray, geom: Any, among: np.ndarray | None = None) -> int:
    """Position of the cell nearest to ``geom`` (among the given positions; first on a tie)."""
    pool = np.arange(len(cells_m)) if among is None else np.asarray(among)
    return int(pool[np.argmin(shapely.distance(cells_m[pool], geom))])


def _village_table(villages: Any) -> gpd.GeoDataFrame:
    villages = _check_frame(villages, "villages", [VILLAGE_ID])
    _check_unique(villages[VILLAGE_ID], "villages", VILLAGE_ID)
    return villages


def _polygons_for(
    villages: gpd.GeoDataFrame, village_polygons: Any, tr: pyproj.Transformer
) -> np.ndarray | None:
    geoms = np.asarray(villages.geometry.values, dtype=object)
    own = geoms.copy()
    own[shapely.get_type_id(geoms) == 0] = None
    if village_polygons is not None:
        vp = _check_frame(village_polygons, "village_polygons", [VILLAGE_ID])
        _check_unique(vp[VILLAGE_ID], "village_polygons", VILLAGE_ID)
        unknown = sorted(map(str, set(vp[VILLAGE_ID]) - set(villages[VILLAGE_ID])))
        if unknown:
            msg = (
                f"`village_polygons` has village codes not in `villages`: {unknown[:10]!r}; "
                "drop them or add the villages."
            )
            raise NotFoundError(msg)
        by_code = pd.Series(np.asarray(vp.geometry.values, dtype=object), index=vp[VILLAGE_ID])
        given = by_code.reindex(villages[VILLAGE_ID]).to_numpy(dtype=object)
        own = np.where(pd.isna(given), own, given)
    if all(g is None for g in own):
        return None
    out = np.empty(len(own), dtype=object)
    mask = np.array([g is not None for g in own])
    out[mask] = _project(np.asarray(own[mask], dtype=object), tr)
    return out


def village_cells(
    county: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    *,
    village_polygons: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Cut the county into one cell per village.

    A village's cell is its polygon (clipped to the county) where one is given,
    elsewhere the Voronoi cell of its point in the county's metric CRS
    (:func:`gridgeo.crs.metric_crs`), clipped to the county and with the
    other villages' polygons taken out. Detached pieces of a cell go to the
    neighbouring cell they share the longest boundary with in the same piece
    of the county (a county may be in several detached pieces). A piece of the
    county that holds no village goes whole to the nearest cell. The cells
    tile the county: no gaps, no overlaps.

    Parameters
    ----------
    county
        County boundary (one or more polygons, any CRS).
    villages
        Villages with a unique ``village_code`` and a point each (a polygon
        geometry counts as the village polygon; its inner point is used).
    village_polygons
        Optional village polygons with ``village_code``; villages without one
        get their Voronoi cell. Overlapping polygons are made disjoint (the
        earlier village keeps the overlap) with a warning.

    Returns
    -------
    geopandas.GeoDataFrame
        ``village_code`` and the cell polygon (EPSG:4326), on the villages'
        index.

    Raises
    ------
    InputError
        If two villages share a point or a village gets no area in the county.
    """
    _, county_geom = _county_geometry(county)
    villages = _village_table(villages)
    crs = metric_crs(county_geom)
    to_m = _transformer(4326, crs)
    county_m = _project(np.array([county_geom], dtype=object), to_m)[0]
    cells_m, _, loose = _cells_for(
        villages, county_m, _county_pieces(county_m), village_polygons, to_m
    )
    for geom in loose.values():  # a piece of the county without villages: the nearest cell
        i = _nearest_cell(cells_m, geom)
        cells_m[i] = shapely.union(cells_m[i], geom)
    cells = _project(cells_m, _transformer(crs, 4326))
    return gpd.GeoDataFrame(
        {VILLAGE_ID: villages[VILLAGE_ID].to_numpy()},
        geometry=cells,
        index=villages.index,
        crs=4326,
    )


def _cells_for(
    villages: gpd.GeoDataFrame,
    county_m: Any,
    pieces: np.ndarray,
    village_polygons: Any,
    to_m: pyproj.Transformer,
) -> tuple[np.ndarray, np.ndarray, dict[int, Any]]:
    geoms = np.asarray(villages.geometry.values, dtype=object)
    points_m = _project(_points_of(geoms), to_m)
    polygons_m = _polygons_for(villages, village_polygons, to_m)
    return _cells_metric(county_m, points_m, villages[VILLAGE_ID].to_numpy(), polygons_m, pieces)


def _adjacency_metric(
    cells_m: np.ndarray, *, min_shared_m: float = DEFAULT_MIN_SHARED_BOUNDARY_M
) -> sparse.csr_matrix:
    n = len(cells_m)
    tree = shapely.STRtree(cells_m)
    i, j = tree.query(cells_m, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(cells_m[i], cells_m[j]))
    keep = shared >= min_shared_m
    i, j, shared = i[keep], j[keep], shared[keep]
    m = sparse.coo_matrix((shared, (i, j)), shape=(n, n))
    return (m + m.T).tocsr()


def village_adjacency(
    cells: gpd.GeoDataFrame, *, min_shared_m: float = DEFAULT_MIN_SHARED_BOUNDARY_M
) -> sparse.csr_matrix:
    """Which village cells share a boundary, and how long it is.

    Parameters
    ----------
    cells
        Village cells (any CRS), e.g. from :func:`village_cells`.
    min_shared_m
        Cells that share less boundary than this (metres) are not neighbours
        (cells meeting at a corner never are).

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric ``n x n`` matrix in the row order of ``cells``; entry
        ``(i, j)`` is the shared boundary length in metres.
    """
    cells = _check_frame(cells, "cells")
    crs = metric_crs(cells)
    cells_m = _project(np.asarray(cells.geometry.values, dtype=object), _transformer(4326, crs))
    return _adjacency_metric(cells_m, min_shared_m=min_shared_m)


# --------------------------------------------------------------------------- #
# tier 2: villages to substations


def _road_engine(graph: Any, *, weight: str, offroad_speed_kph: float) -> ReachEngine:
    """The routing engine of ``graph``: itself if it is one, else built from the graph."""
    if isinstance(graph, ReachEngine):
        return graph
    if not isinstance(graph, nx.Graph):
        msg = (
            "`graph` must be a ReachEngine or a NetworkX road graph (e.g. from "
            f"gridgeo.network.graph_from_roads), got {type(graph).__name__!r}."
        )
        raise GraphError(msg)
    if not graph.is_directed():  # every road of an undirected graph runs both ways
        graph = graph.to_directed()
    return ReachEngine(graph, weight=weight, walk_speed_kph=offroad_speed_kph)


def _nearest_substation_metric(
    points_m: np.ndarray, subs_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    tree = cKDTree(shapely.get_coordinates(subs_m))
    dist, idx = tree.query(shapely.get_coordinates(points_m))
    return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=float)


def _substation_table(substations: Any) -> gpd.GeoDataFrame:
    subs = _check_frame(substations, "substations", [SUBSTATION_ID])
    _check_unique(subs[SUBSTATION_ID], "substations", SUBSTATION_ID)
    return subs


def _assign(
    points: np.ndarray,
    points_m: np.ndarray,
    subs_points: np.ndarray,
    subs_m: np.ndarray,
    *,
    engine: ReachEngine | None,
    method: str,
    codes: np.ndarray,
    sub_ids: np.ndarray,
) -> np.ndarray:
    """Position of the substation of each village (points in EPSG:4326 and metric)."""
    nearest, _ = _nearest_substation_metric(points_m, subs_m)
    if method == "voronoi":
        return nearest
    if engine is None:
        msg = (
            "`method='network'` needs the road `graph` (gridgeo.network.graph_from_roads); "
            "pass it or use `method='voronoi'`."
        )
        raise InputError(msg)
    # the points in EPSG:4326, as reach is given them: the same snaps as reach
    src = engine.snap_points(gpd.GeoSeries(subs_points, crs=4326), "substations")
    dst = engine.snap_points(gpd.GeoSeries(points, crs=4326), "villages")
    if not src.usable.all():
        warnings.warn(
            "变电站离道路过远，村庄无法经道路到达 / "
            f"substation(s) {list(map(str, sub_ids[~src.usable][:10]))!r} are farther than "
            f"{engine.max_snap_m:g} m from every road; no village reaches them by road",
            stacklevel=3,
        )
    _, best, reason = best_times(engine, src, dst, reverse=False)
    none = best < 0
    if none.any():
        why = ", ".join(
            f"{REACH_REASONS[r]}: {int((reason[none] == r).sum())}" for r in np.unique(reason[none])
        )
        warnings.warn(
            f"{int(none.sum())} village(s) have no road time from any substation ({why}; e.g. "
            f"{list(map(str, codes[none][:5]))!r}); they go to the nearest substation in "
            "straight line",
            stacklevel=3,
        )
    return np.where(none, nearest, best)


def assign_villages_to_substations(
    villages: gpd.GeoDataFrame,
    substations: gpd.GeoDataFrame,
    *,
    graph: nx.MultiDiGraph | ReachEngine | None = None,
    method: str = DEFAULT_METHOD,
    weight: str = DEFAULT_WEIGHT,
    offroad_speed_kph: float = DEFAULT_OFFROAD_SPEED_KPH,
) -> pd.Series:
    """Give each village the substation nearest to it.

    ``method="network"``: the substation that reaches the village first along
    the directed road graph, substation → village (the repair direction), on
    the routing engine of :mod:`gridgeo.routing` with its rules: villages and
    substations join the roads at the nearest point of the nearest edge (not
    the nearest node), their off-road legs walked; points farther than the
    engine's ``max_snap_m`` from every road are not joined; a point near only a
    small isolated road piece stays on it. One multi-source search
    (:func:`gridgeo.routing.best_times`) picks each village's substation
    exactly as :func:`gridgeo.reach.repair_reach` would with the substations,
    in their row order, as the stations (ties too). A village with no road
    time from any substation (too far from a road, on an isolated piece no
    substation is on, or unreachable) goes to the nearest substation in
    straight line; a warning counts them by reason. A substation too far from
    every road reaches no village by road (warning).

    ``method="voronoi"``: the nearest substation in straight line in the
    metric CRS.

    Parameters
    ----------
    villages
        Villages with ``village_code`` and a point (any CRS).
    substations
        Substations with a unique ``substation_id`` and a point (any CRS).
    graph
        The drive-mode :class:`~gridgeo.routing.ReachEngine` (reuse the one
        reach uses), or a NetworkX road graph (EPSG:4326 node ``x``/``y``) from
        which one is built as ``ReachEngine(graph, weight=weight,
        walk_speed_kph=offroad_speed_kph)`` (an undirected graph's roads run
        both ways). Required for ``"network"``.
    method
        ``"network"`` or ``"voronoi"``.
    weight
        Edge attribute to minimise (seconds), when ``graph`` is a NetworkX
        graph (an engine has its own).
    offroad_speed_kph
        Speed of the off-road legs, when ``graph`` is a NetworkX graph (an
        engine has its own).

    Returns
    -------
    pandas.Series
        ``substation_id`` per village, on the villages' index.

    Raises
    ------
    GraphError
        If ``graph`` is neither an engine nor a usable NetworkX road graph
        (e.g. an edge without a numeric ``weight``).
    CRSError
        If an input has no CRS, or the graph's ``G.graph["crs"]`` is missing or
        not EPSG:4326.
    """
    _check_method(method)
    villages = _village_table(villages)
    subs = _substation_table(substations)
    crs = metric_crs(villages)
    to_m = _transformer(4326, crs)
    points = _points_of(np.asarray(villages.geometry.values, dtype=object))
    subs_points = _points_of(np.asarray(subs.geometry.values, dtype=object))
    engine = (
        None
        if graph is None or method == "voronoi"
        else _road_engine(graph, weight=weight, offroad_speed_kph=offroad_speed_kph)
    )
    sub_ids = subs[SUBSTATION_ID].to_numpy()
    idx = _assign(
        points,
        _project(points, to_m),
        subs_points,
        _project(subs_points, to_m),
        engine=engine,
        method=method,
        codes=villages[VILLAGE_ID].to_numpy(),
        sub_ids=sub_ids,
    )
    return pd.Series(sub_ids[idx], index=villages.index, name=SUBSTATION_ID)


def _components(adj: sparse.csr_matrix, members: np.ndarray) -> list[np.ndarray]:
    sub = adj[members][:, members]
    n_comp, lab = csgraph.connected_components(sub, directed=False)
    return [members[lab == c] for c in range(n_comp)]


def _claim_home_villages(group: np.ndarray, home: np.ndarray) -> np.ndarray:
    """Give every substation the village it stands in, so it lies in its own supply grid.

    A village that went by travel time to another substation goes to the
    substation standing in it; where several stand in one village, the one the
    village went to keeps it, else the first in input order. Substations are
    taken in input order.
    """
    group = group.copy()
    for g, h in enumerate(home):
        if h < 0:
            continue
        holder = group[h]
        if holder == g or (holder >= 0 and home[holder] == h):
            continue
        group[h] = g
    return group


def _make_contiguous(
    group: np.ndarray,
    adj: sparse.csr_matrix,
    home: np.ndarray,
    n_groups: int,
    piece: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Move enclaves of each group to the neighbour group they share most boundary with.

    A group may have one part in each piece of the county (``piece`` is the
    county piece of each village); in a piece, the part holding the group's
    home village ``home[g]`` (-1 if none) is its main part (else its largest),
    the others are enclaves. Every move joins an enclave to an adjacent group,
    so the total number of parts falls by at least one per move and the loop
    ends; an enclave with no neighbouring group (a piece whose cells do not
    connect) stays as it is. Villages of group -1 are left alone.
    """
    group = group.copy()
    moved = 0
    stuck: set[int] = set()
    while True:
        enclaves: list[np.ndarray] = []
        for g in range(n_groups):
            members = np.flatnonzero(group == g)
            if len(members) == 0:
                continue
            comps = _components(adj, members)
            if len(comps) == 1:
                continue
            by_piece: dict[int, list[np.ndarray]] = {}
            for c in comps:
                by_piece.setdefault(int(piece[c[0]]), []).append(c)
            for cs in by_piece.values():
                if len(cs) == 1:
                    continue
                main = max(range(len(cs)), key=lambda c: (home[g] in cs[c], len(cs[c])))
                enclaves.extend(
                    cs[c] for c in range(len(cs)) if c != main and int(cs[c].min()) not in stuck
                )
        if not enclaves:
            return group, moved
        comp = min(enclaves, key=lambda c: (len(c), int(c.min())))
        rows = adj[comp]
        others = group[rows.indices]
        inside = np.isin(rows.indices, comp)
        own = group[comp[0]]
        cand = (~inside) & (others != own) & (others >= 0)
        if not cand.any():
            stuck.add(int(comp.min()))
            continue
        shared = pd.Series(rows.data[cand]).groupby(others[cand]).sum()
        target = int(shared.sort_index().idxmax())
        group[comp] = target
        moved += len(comp)


def _road_times(
    engine: ReachEngine, subs_points: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Road time (s) from the nearest substation to each target point, and its position (-1)."""
    src = engine.snap_points(gpd.GeoSeries(subs_points, crs=4326), "substations")
    dst = engine.snap_points(gpd.GeoSeries(targets, crs=4326), "pieces")
    eta, best, _ = best_times(engine, src, dst, reverse=False)
    return np.asarray(eta, dtype=float), np.asarray(best, dtype=np.int64)


def _link_parts(adj: sparse.csr_matrix, cells_m: np.ndarray) -> sparse.csr_matrix:
    """Link the separate parts of a village graph (a grid in several county pieces).

    Each part is linked to the largest part at its pair of cells nearest to
    each other, so the balancing sees one connected graph. The links form a
    star, so a region never needs a link to connect its villages within one
    piece: every region stays contiguous inside each piece.
    """
    n_comp, lab = csgraph.connected_components(adj, directed=False)
    if n_comp == 1:
        return adj
    main = int(np.argmax(np.bincount(lab)))
    main_cells = np.flatnonzero(lab == main)
    tree = shapely.STRtree(cells_m[main_cells])
    rows: list[int] = []
    cols: list[int] = []
    for c in range(n_comp):
        if c == main:
            continue
        mine = np.flatnonzero(lab == c)
        (src, dst), dist = tree.query_nearest(cells_m[mine], return_distance=True)
        k = int(np.argmin(dist))
        a, b = int(mine[src[k]]), int(main_cells[dst[k]])
        rows += [a, b]
        cols += [b, a]
    link = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=adj.shape)
    return (adj + link).tocsr()


def _substation_names(subs: gpd.GeoDataFrame) -> np.ndarray:
    if "name" in subs.columns:
        return subs["name"].fillna(subs[SUBSTATION_ID].astype(str)).astype(str).to_numpy()
    return subs[SUBSTATION_ID].astype(str).to_numpy()


def _check_substations_near(
    subs: gpd.GeoDataFrame, subs_m: np.ndarray, county_m: Any, max_outside_m: float
) -> None:
    """Refuse substations farther than ``max_outside_m`` outside the county, with a table."""
    if not np.isfinite(max_outside_m) or max_outside_m < 0:
        msg = f"`max_outside_m` is {max_outside_m!r}: give a distance in metres >= 0."
        raise InputError(msg)
    dist = shapely.distance(subs_m, county_m)
    far = np.flatnonzero(dist > max_outside_m)
    if len(far) == 0:
        return
    far = far[np.argsort(-dist[far], kind="stable")]
    ids = subs[SUBSTATION_ID].astype(str).to_numpy()
    names = _substation_names(subs)
    lines = [
        f"县界外的变电站 / substations outside the county: {len(far)} of {len(subs)} stand "
        f"more than {max_outside_m:g} m outside the county boundary, far from the villages "
        "they would serve:",
        f"  {'substation_id':<16s} {'name':<16s} {'km outside':>10s}",
    ]
    lines += [f"  {ids[i]:<16s} {names[i]:<16s} {dist[i] / 1000:>10.1f}" for i in far[:20]]
    if len(far) > 20:
        lines.append(f"  ... and {len(far) - 20} more")
    lines.append(
        "Fix: correct their coordinates (a file in GCJ-02 or BD-09 needs its datum given "
        "when it is read, e.g. --datum gcj02 at `gridgeo workspace init`) or drop them from "
        "the substations file, then build again."
    )
    raise CoordinateError("\n".join(lines))


# --------------------------------------------------------------------------- #
# tier 3: balanced contiguous partition


def grid_imbalance(workload_per_grid: Any) -> float:
    """Largest deviation of a grid's workload from the mean, in percent of the mean.

    Parameters
    ----------
    workload_per_grid
        Workload of each grid (array-like of non-negative numbers).

    Returns
    -------
    float
        ``max(|w - mean|) / mean * 100``; 0.0 when every workload is 0.
    """
    w = np.asarray(workload_per_grid, dtype=float).ravel()
    if w.size == 0:
        msg = "`workload_per_grid` is empty: there is no grid to compare."
        raise EmptyDataError(msg)
    mean = w.mean()
    if mean == 0:
        return 0.0
    return float(np.abs(w - mean).max() / mean * 100.0)


def _score(loads: np.ndarray, mean: float) -> tuple[float, float]:
    dev = loads - mean
    return float(np.abs(dev).max()), float((dev * dev).sum())


def _bfs_hops(nbrs: list[np.ndarray], sources: list[int], n: int) -> np.ndarray:
    hops = np.full(n, -1, dtype=np.int64)
    queue = deque(sources)
    for s in sources:
        hops[s] = 0
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if hops[v] < 0:
                hops[v] = hops[u] + 1
                queue.append(v)
    return hops


def _grow(nbrs: list[np.ndarray], w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded region growing: the lightest region that can grow takes a neighbour."""
    n = len(w)
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:
        hops = _bfs_hops(nbrs, seeds, n)
        far = np.flatnonzero(hops == hops.max())
        seeds.append(int(rng.choice(far)))
    labels = np.full(n, -1, dtype=np.int64)
    loads = np.zeros(k)
    for r, s in enumerate(seeds):
        labels[s] = r
        loads[r] = w[s]
    left = n - k
    jitter = rng.random(n) * 1e-6
    while left:
        best = None
        for r in np.argsort(loads, kind="stable"):
            members = np.flatnonzero(labels == r)
            cand = {int(v) for u in members for v in nbrs[u] if labels[v] < 0}
            if cand:
                # most links into the region keeps it compact
                best = (
                    int(r),
                    max(cand, key=lambda v: (int((labels[nbrs[v]] == r).sum()) + jitter[v], -v)),
                )
                break
        if best is None:  # pragma: no cover - connected graphs always grow
            break
        r, v = best
        labels[v] = r
        loads[r] += w[v]
        left -= 1
    return labels


def _connected_without(nbrs: list[np.ndarray], labels: np.ndarray, region: int, v: int) -> bool:
    members = np.flatnonzero(labels == region)
    members = members[members != v]
    if len(members) <= 1:
        return len(members) == 1
    start = int(members[0])
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for x in nbrs[u]:
            x = int(x)
            if x != v and x not in seen and labels[x] == region:
                seen.add(x)
                stack.append(x)
    return len(seen) == len(members)


def _local_search(
    nbrs: list[np.ndarray],
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray,
    k: int,
    labels: np.ndarray,
) -> np.ndarray:
    """Steepest descent over single boundary-village moves keeping regions connected."""
    labels = labels.copy()
    mean = w.sum() / k
    loads = np.bincount(labels, weights=w, minlength=k)
    sizes = np.bincount(labels, minlength=k)
    score = _score(loads, mean)
    for _ in range(_MAX_MOVES):
        a, b = labels[src], labels[dst]
        cross = a != b
        if not cross.any():
            break
        pairs = np.unique(np.column_stack([src[cross], b[cross]]), axis=0)
        v, to = pairs[:, 0], pairs[:, 1]
        frm = labels[v]
        ok = sizes[frm] > 1
        v, to, frm = v[ok], to[ok], frm[ok]
        if len(v) == 0:
            break
        new = np.tile(loads, (len(v), 1))
        rows = np.arange(len(v))
        new[rows, frm] -= w[v]
        new[rows, to] += w[v]
        dev = np.abs(new - mean)
        cand_max = dev.max(axis=1)
        cand_ssq = ((new - mean) ** 2).sum(axis=1)
        eps = 1e-9 * max(mean, 1.0)
        better = (cand_max < score[0] - eps) | (
            (cand_max <= score[0] + eps) & (cand_ssq < score[1] - eps)
        )
        if not better.any():
            break
        idx = np.flatnonzero(better)
        idx = idx[np.lexsort((v[idx], cand_ssq[idx], cand_max[idx]))]
        for i in idx:
            if _connected_without(nbrs, labels, int(frm[i]), int(v[i])):
                labels[v[i]] = to[i]
                loads = new[i]
                sizes[frm[i]] -= 1
                sizes[to[i]] += 1
                score = (float(cand_max[i]), float(cand_ssq[i]))
                break
        else:
            break
    return labels


def _perturb(
    nbrs: list[np.ndarray],
    src: np.ndarray,
    dst: np.ndarray,
    labels: np.ndarray,
    k: int,
    rng: np.random.Generator,
    n_moves: int,
) -> np.ndarray:
    """A few random boundary moves that keep every region connected and non-empty."""
    labels = labels.copy()
    sizes = np.bincount(labels, minlength=k)
    for _ in range(n_moves):
        cross = np.flatnonzero(labels[src] != labels[dst])
        if len(cross) == 0:
            break
        e = int(rng.choice(cross))
        v, to = int(src[e]), int(labels[dst[e]])
        frm = int(labels[v])
        if sizes[frm] > 1 and _connected_without(nbrs, labels, frm, v):
            labels[v] = to
            sizes[frm] -= 1
            sizes[to] += 1
    return labels


def balance_village_grids(
    adjacency: Any,
    workload: Any,
    k: int,
    *,
    seed: int = 0,
    restarts: int = DEFAULT_RESTARTS,
) -> np.ndarray:
    """Cut a village adjacency graph into ``k`` contiguous, balanced regions.

    Minimises the largest deviation of a region's workload from the mean (then
    the sum of squared deviations). Each restart grows ``k`` regions from
    spread-out seeds (the lightest region takes the neighbour with most links
    into it), then runs a steepest-descent local search that moves boundary
    villages between neighbouring regions while the region left behind stays
    connected, then perturbs and descends again; the best of all restarts is
    kept. The same ``seed`` gives the same labels.

    Parameters
    ----------
    adjacency
        Symmetric ``n x n`` scipy sparse matrix (or array); a non-zero entry
        means the two villages are neighbours.
    workload
        Workload per village (length ``n``, non-negative).
    k
        Number of regions, ``1 <= k <= n``.
    seed
        Random seed.
    restarts
        Number of independent starts.

    Returns
    -------
    numpy.ndarray
        Region label ``0..k-1`` per village, numbered in order of the first
        village of each region.

    Raises
    ------
    InputError
        If ``k`` is out of range, workloads are negative or not finite, or
        the graph is not connected.
    """
    w = np.asarray(workload, dtype=float).ravel()
    n = len(w)
    adj = sparse.csr_matrix(adjacency)
    if adj.shape != (n, n):
        msg = f"`adjacency` is {adj.shape!r} but `workload` has {n} villages: they must match."
        raise InputError(msg)
    if n == 0:
        msg = "`workload` is empty: there are no villages to group."
        raise EmptyDataError(msg)
    if not np.isfinite(w).all() or (w < 0).any():
        msg = "`workload` must be finite and non-negative for every village."
        raise InputError(msg)
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        msg = f"`k` is {k!r}: it must be a whole number from 1 to the {n} villages."
        raise InputError(msg)
    if restarts < 1:
        msg = f"`restarts` is {restarts!r}: use 1 or more."
        raise InputError(msg)
    adj = ((adj + adj.T) != 0).astype(np.int8).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    n_comp, _ = csgraph.connected_components(adj, directed=False)
    if n_comp > 1:
        msg = (
            f"`adjacency` has {n_comp} separate pieces: contiguous regions need a connected "
            "village graph (give the villages of one contiguous area)."
        )
        raise InputError(msg)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    if k == n:
        return np.arange(n, dtype=np.int64)
    nbrs = [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(n)]
    coo = adj.tocoo()
    src, dst = coo.row.astype(np.int64), coo.col.astype(np.int64)
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    rng = np.random.default_rng(seed)
    mean = w.sum() / k
    best, best_score = None, None
    for _ in range(restarts):
        labels = _local_search(nbrs, src, dst, w, k, _grow(nbrs, w, k, rng))
        cur = labels
        cur_score = _score(np.bincount(cur, weights=w, minlength=k), mean)
        for _ in range(_ILS_ROUNDS):
            strength = int(rng.integers(1, max(2, n // (2 * k)) + 1))
            trial = _perturb(nbrs, src, dst, cur, k, rng, strength)
            trial = _local_search(nbrs, src, dst, w, k, trial)
            trial_score = _score(np.bincount(trial, weights=w, minlength=k), mean)
            if trial_score < cur_score:
                cur, cur_score = trial, trial_score
        if best_score is None or cur_score < best_score:
            best, best_score = cur, cur_score
    assert best is not None and best_score is not None
    # a last perturb-and-descend walk from the best of all restarts
    for _ in range(_FINAL_ROUNDS):
        strength = int(rng.integers(1, max(2, n // (2 * k)) + 1))
        trial = _local_search(
            nbrs, src, dst, w, k, _perturb(nbrs, src, dst, best, k, rng, strength)
        )
        trial_score = _score(np.bincount(trial, weights=w, minlength=k), mean)
        if trial_score < best_score:
            best, best_score = trial, trial_score
    _, first = np.unique(best, return_index=True)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(k)
    return rank[best]


# --------------------------------------------------------------------------- #
# workload


def _workload_table(villages: gpd.GeoDataFrame, workload: Any) -> pd.DataFrame:
    """Counts per village on the villages' index (0 for villages not listed)."""
    if isinstance(workload, pd.Series):
        workload = pd.DataFrame({VILLAGE_ID: workload.index, "customers": workload.to_numpy()})
    if not isinstance(workload, pd.DataFrame):
        msg = f"`workload` must be a DataFrame with `{VILLAGE_ID}` and `customers`."
        raise InputError(msg)
    if VILLAGE_ID not in workload.columns and workload.index.name == VILLAGE_ID:
        workload = workload.reset_index()
    missing = [c for c in (VILLAGE_ID, "customers") if c not in workload.columns]
    if missing:
        msg = f"`workload` lacks column(s) {missing!r}; it has {list(workload.columns)!r}."
        raise MissingColumnError(msg)
    _check_unique(workload[VILLAGE_ID], "workload", VILLAGE_ID)
    known = workload[VILLAGE_ID].isin(set(villages[VILLAGE_ID]))
    if not known.all():
        lost = workload.loc[~known, "customers"].sum()
        warnings.warn(
            f"{int((~known).sum())} row(s) of `workload` name villages not in `villages` "
            f"(e.g. {list(workload.loc[~known, VILLAGE_ID][:5])!r}, {lost!r} customers); "
            "they are left out",
            stacklevel=3,
        )
    extra = [c for c in workload.columns if c not in (VILLAGE_ID, *COUNT_COLUMNS)]
    cols = [c for c in (*COUNT_COLUMNS, *extra) if c in workload.columns]
    table = workload.set_index(VILLAGE_ID)[cols].reindex(villages[VILLAGE_ID])
    for c in COUNT_COLUMNS:
        if c not in table.columns:
            table[c] = 0.0
    if "lv_customers" not in workload.columns:
        table["lv_customers"] = table["customers"] - table["hv_customers"].fillna(0)
    numeric = table[[c for c in table.columns if c in WEIGHT_TERMS]]
    values = numeric.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & numeric.notna() | (values < 0)
    if bad.to_numpy().any():
        rows = list(values.index[bad.any(axis=1)][:10])
        msg = f"`workload` has non-numeric or negative counts for villages {rows!r}: fix them."
        raise InputError(msg)
    table[values.columns] = values.fillna(0.0)
    table.index = villages.index
    return table


def _road_km(cells_m: np.ndarray, engine: ReachEngine, to_m: pyproj.Transformer) -> np.ndarray:
    """Road length (km) per cell, each road segment of the engine counted once at its middle
    point (a two-way road is one segment); geodesic lengths, as the graph's ``length``."""
    lines = np.asarray(segment_lines(engine).values, dtype=object)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    length_m = coords_lengths_m(coords, which, len(lines))
    mid_m = _project(shapely.line_interpolate_point(lines, 0.5, normalized=True), to_m)
    # a middle point on a shared cell edge counts once, for the first cell
    pt_i, cell_i = shapely.STRtree(cells_m).query(mid_m, predicate="intersects")
    order = np.lexsort((cell_i, pt_i))
    pt_i, cell_i = pt_i[order], cell_i[order]
    first = np.r_[True, pt_i[1:] != pt_i[:-1]] if len(pt_i) else np.zeros(0, dtype=bool)
    pt_i, cell_i = pt_i[first], cell_i[first]
    km = np.bincount(cell_i, weights=length_m[pt_i], minlength=len(cells_m))
    return km / 1000.0


def _workload_values(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None,
    cells_m: np.ndarray,
    engine: ReachEngine | None,
    to_m: pyproj.Transformer,
) -> np.ndarray:
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(WEIGHT_TERMS))
    if unknown:
        msg = f"Unknown `weights` term(s) {unknown!r}: use some of {WEIGHT_TERMS!r}."
        raise InputError(msg)
    if not weights or any(not np.isfinite(x) or x < 0 for x in weights.values()):
        msg = f"`weights` {weights!r} must give non-negative numbers to at least one term."
        raise InputError(msg)
    total = np.zeros(len(table))
    for term, factor in weights.items():
        if term in table.columns:
            values = table[term].to_numpy(dtype=float)
        elif term == "area_km2":
            values = shapely.area(cells_m) / 1e6
        elif term == "road_km":
            if engine is None:
                msg = "`weights` uses `road_km` but no `graph` was given: pass the road graph."
                raise InputError(msg)
            values = _road_km(cells_m, engine, to_m)
        else:  # pragma: no cover - count columns are always in the table
            values = np.zeros(len(table))
        total += factor * values
    return total


# --------------------------------------------------------------------------- #
# assembling the grids table


def _join_codes(codes: Iterable[Any]) -> str:
    return _VILLAGE_SEP.join(sorted(map(str, codes)))


def _assemble(
    meta: pd.DataFrame, village_grid: pd.Series, cells: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Sums and geometries of every grid from its villages; rows sorted by tier and id."""
    meta = meta.loc[:, list(_META_COLUMNS)].copy()
    meta = meta.sort_values(["tier", "grid_id"], kind="stable").reset_index(drop=True)
    parent = dict(zip(meta["grid_id"], meta["parent_id"], strict=True))
    # the grid of each village at every tier
    chains: dict[int, pd.Series] = {TIER_VILLAGE: village_grid.astype(object)}
    chains[TIER_SUPPLY] = chains[TIER_VILLAGE].map(parent)
    chains[TIER_COUNTY] = chains[TIER_SUPPLY].map(parent)
    geoms = np.asarray(cells.geometry.values, dtype=object)
    codes = cells[VILLAGE_ID].to_numpy()
    sums: dict[str, list[float]] = {c: [] for c in (*COUNT_COLUMNS, "workload")}
    out_geom, n_vil, vil_str = [], [], []
    for gid, t in zip(meta["grid_id"], meta["tier"], strict=True):
        at = chains.get(int(t))
        mask = (at == gid).to_numpy() if at is not None else np.zeros(len(cells), dtype=bool)
        for c in sums:
            sums[c].append(float(cells[c].to_numpy()[mask].sum()))
        out_geom.append(shapely.union_all(geoms[mask]) if mask.any() else shapely.Polygon())
        n_vil.append(int(mask.sum()))
        vil_str.append(_join_codes(codes[mask]))
    grids = gpd.GeoDataFrame(meta, geometry=out_geom, crs=4326)
    for c, values in sums.items():
        grids[c] = values
    grids["n_villages"] = n_vil
    grids["villages"] = vil_str
    imb = np.full(len(grids), np.nan)
    for i, (gid, t) in enumerate(zip(grids["grid_id"], grids["tier"], strict=True)):
        if t == TIER_VILLAGE:
            continue
        kids = grids.loc[grids["grid_id"].map(parent) == gid] if t == TIER_SUPPLY else None
        if t == TIER_COUNTY:
            kids = grids.loc[
                (grids["tier"] == TIER_VILLAGE) & (grids["grid_id"].map(parent).map(parent) == gid)
            ]
        if kids is not None and len(kids):
            imb[i] = grid_imbalance(kids["workload"])
    grids["imbalance_pct"] = imb
    crs = metric_crs(grids) if len(grids) else None
    area = gpd.GeoSeries(grids.geometry.values, crs=4326).to_crs(crs).area / 1e6
    grids["area_km2"] = area.to_numpy()
    return grids.loc[:, list(GRID_COLUMNS)]


def _grid_counts(
    n_grids: Any, target_workload: float | None, totals: dict[str, float], sizes: dict[str, int]
) -> dict[str, int]:
    if n_grids is not None and target_workload is not None:
        msg = "Give either `n_grids` or `target_workload`, not both."
        raise InputError(msg)
    out = {}
    if n_grids is None:
        target = DEFAULT_TARGET_WORKLOAD if target_workload is None else float(target_workload)
        if not np.isfinite(target) or target <= 0:
            msg = f"`target_workload` is {target_workload!r}: give a positive number."
            raise InputError(msg)
        for sid, total in totals.items():
            out[sid] = max(1, round(total / target))
    elif isinstance(n_grids, Mapping):
        unknown = sorted(map(str, set(n_grids) - set(totals)))
        if unknown:
            msg = (
                f"`n_grids` names substation(s) {unknown!r} that head no supply grid; "
                f"known: {sorted(totals)!r}."
            )
            raise NotFoundError(msg)
        out = {sid: n_grids.get(sid, 1) for sid in totals}
    else:
        out = dict.fromkeys(totals, n_grids)
    for sid, k in out.items():
        if not isinstance(k, (int, np.integer)) or k < 1:
            msg = f"`n_grids` for substation {sid!r} is {k!r}: give a whole number >= 1."
            raise InputError(msg)
        if k > sizes[sid]:
            warnings.warn(
                f"supply grid of substation {sid!r} has {sizes[sid]} village(s), fewer than "
                f"the {k} grids asked; it gets {sizes[sid]}",
                stacklevel=3,
            )
            out[sid] = sizes[sid]
    return {sid: int(k) for sid, k in out.items()}


def _region_order(labels: np.ndarray, k: int, centres: np.ndarray) -> np.ndarray:
    """Rank regions north to south, then west to east, by the mean of their cell centres."""
    cy = np.bincount(labels, weights=centres[:, 1], minlength=k) / np.bincount(labels, minlength=k)
    cx = np.bincount(labels, weights=centres[:, 0], minlength=k) / np.bincount(labels, minlength=k)
    order = np.lexsort((np.round(cx, 3), -np.round(cy, 3)))
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank


def _tier3_id(substation_id: Any, i: int) -> str:
    return f"T3-{substation_id}-{i:02d}"


def build_service_grids(
    county: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    substations: gpd.GeoDataFrame,
    workload: pd.DataFrame,
    *,
    graph: nx.MultiDiGraph | ReachEngine | None = None,
    method: str = DEFAULT_METHOD,
    n_grids: int | Mapping[Any, int] | None = None,
    target_workload: float | None = None,
    weights: Mapping[str, float] | None = None,
    village_polygons: gpd.GeoDataFrame | None = None,
    seed: int = 0,
    restarts: int = DEFAULT_RESTARTS,
    max_outside_m: float = DEFAULT_MAX_OUTSIDE_M,
) -> ServiceGrids:
    """Build the three tiers of service grids of a county.

    Tier 1 is the county (``T1-<adcode>``). Tier 2 is one supply grid per
    substation (``T2-<substation_id>``): the union of the cells of the villages
    nearest to it (:func:`assign_villages_to_substations`; a network Voronoi
    evaluated per village, so a village is never split), made contiguous by
    giving enclaves to the neighbouring grid they share most boundary with.
    Every substation takes the village it stands in (the nearest village for
    one standing just outside the county), so it lies in its own supply grid;
    where several stand in one village, the one the village went to keeps it
    (else the first in input order) and the others head no grid: their
    villages go to its grid (warning). Substations farther than
    ``max_outside_m`` outside the county are refused.

    A county in several detached pieces is gridded piece by piece: the
    villages of a piece with substations go to those substations; a piece
    without a substation joins one supply grid whole, the one whose
    substation reaches it first by road (``method="network"``: its villages,
    or its inner point for a piece without villages), else the grid nearest
    to it in straight line. ``ServiceGrids.pieces`` lists every piece, its
    grid(s) and how it got them (:data:`PIECE_HOW`). A grid may have one part
    in each piece, never two parts in one piece.

    Tier 3 cuts each supply grid into ``k`` contiguous village grids
    (``T3-<substation_id>-01`` ..., numbered north to south) balanced on
    workload (:func:`balance_village_grids`). The result is checked with
    :func:`validate_grids` and refused if it breaks a rule.

    Parameters
    ----------
    county
        County boundary, one row (columns ``adcode`` and ``name`` are used
        for the tier-1 id and name when present), any CRS.
    villages
        Villages with a unique ``village_code`` and a point (any CRS).
    substations
        Substations with a unique ``substation_id`` and a point; ``name`` and
        ``voltage_kv`` are used when present. A substation that gets no
        village heads no grid (with a warning).
    workload
        Per-village table: ``village_code``, ``customers`` and optionally
        ``hv_customers``, ``lv_customers`` (default ``customers -
        hv_customers``), ``vulnerable``, ``area_km2``, ``road_km``. Villages
        not listed have no customers. A Series of customers indexed by
        village code also works.
    graph
        The drive-mode :class:`~gridgeo.routing.ReachEngine` or a NetworkX
        road graph (an engine is built from it, see
        :func:`assign_villages_to_substations`), for ``method="network"``;
        also used for ``road_km`` (the engine's road segments).
    method
        ``"network"`` (nearest by road travel time) or ``"voronoi"``.
    n_grids
        Number of tier-3 grids: one number for every supply grid, or a
        mapping ``substation_id -> number`` (missing ones get 1).
    target_workload
        Alternative to ``n_grids``: each supply grid gets
        ``round(workload / target_workload)`` tier-3 grids (at least 1).
        With neither, the target is ``DEFAULT_TARGET_WORKLOAD``.
    weights
        Workload of a village as ``sum(weight * term)`` over terms of
        :data:`WEIGHT_TERMS` (e.g. ``{"customers": 1, "area_km2": 5}``
        counts a km² like 5 customers). Default: customers.
    village_polygons
        Optional village polygons (see :func:`village_cells`).
    seed
        Random seed of the balancing; the same seed gives the same grids.
    restarts
        Restarts of the balancing per supply grid.
    max_outside_m
        How far (m) a substation may stand outside the county boundary (and
        outside its own supply grid); one farther out is refused.

    Returns
    -------
    ServiceGrids
        The grids (columns :data:`GRID_COLUMNS`, EPSG:4326), the tier-3 grid
        of each village, the village cells with their workload (a cell may
        carry a piece of the county without villages) and the county pieces.

    Raises
    ------
    CoordinateError
        If substations stand farther than ``max_outside_m`` outside the
        county; the message is a table of their ids, names and distances.
    GridTopologyError
        If the grids break a topology rule; the message lists the problems
        with their grids and places (lon, lat), ``problems`` holds them.
    """
    _check_method(method)
    county4326, county_geom = _county_geometry(county)
    villages = _village_table(villages)
    subs = _substation_table(substations)
    crs = metric_crs(county_geom)
    to_m = _transformer(4326, crs)
    to_ll = _transformer(crs, 4326)
    codes = villages[VILLAGE_ID].to_numpy()
    sub_ids = subs[SUBSTATION_ID].to_numpy()
    table = _workload_table(villages, workload)
    county_m = _project(np.array([county_geom], dtype=object), to_m)[0]
    pieces = _county_pieces(county_m)
    cells_m, cell_piece, loose = _cells_for(villages, county_m, pieces, village_polygons, to_m)
    points = _points_of(np.asarray(villages.geometry.values, dtype=object))
    points_m = _project(points, to_m)
    subs_points = _points_of(np.asarray(subs.geometry.values, dtype=object))
    subs_m = _project(subs_points, to_m)
    _check_substations_near(subs, subs_m, county_m, max_outside_m)
    needs_roads = method == "network" or "road_km" in (weights or {})
    engine = (
        _road_engine(graph, weight=DEFAULT_WEIGHT, offroad_speed_kph=DEFAULT_OFFROAD_SPEED_KPH)
        if graph is not None and needs_roads
        else None
    )
    home = _substation_homes(subs_m, cells_m)
    sub_piece = cell_piece[home]
    # tier 2 in each piece of the county with substations: its villages among its substations
    group = np.full(len(villages), -1, dtype=np.int64)
    for p in np.unique(cell_piece):
        vm = cell_piece == p
        sm = np.flatnonzero(sub_piece == p)
        if len(sm) == 0:
            continue
        idx = _assign(
            points[vm],
            points_m[vm],
            subs_points[sm],
            subs_m[sm],
            engine=engine,
            method=method,
            codes=codes[vm],
            sub_ids=sub_ids[sm],
        )
        group[vm] = sm[idx]
    adj = _adjacency_metric(cells_m)
    group = _claim_home_villages(group, home)
    # a substation standing in the village another one keeps would head a grid it is not
    # in: its villages (the ones nearest to that village) go to that substation's grid
    merged = {}
    for g in range(len(subs)):
        holder = int(group[home[g]])
        if holder != g and (group == g).any():
            merged[str(sub_ids[g])] = str(sub_ids[holder])
            group[group == g] = holder
    if merged:
        pairs = ", ".join(f"{a} → {b}" for a, b in merged.items())
        warnings.warn(
            "变电站与另一变电站同在一村，不单独成供电网格 / "
            f"substation(s) {list(merged)!r} stand in the village of another substation and "
            f"head no supply grid of their own; their villages go to its grid ({pairs}). "
            "Give village polygons or more villages to separate them",
            stacklevel=2,
        )
    group, moved = _make_contiguous(group, adj, home, len(subs), cell_piece)
    if moved:
        logger.info("%d village(s) of enclaves joined a neighbouring supply grid", moved)
    # pieces without a substation of their own join a supply grid whole
    sub_at, _ = _piece_of_points(subs_m, pieces)
    joins = _join_pieces(
        pieces,
        cell_piece,
        loose,
        group,
        cells_m,
        sub_at,
        points,
        subs_points,
        engine=engine,
        to_ll=to_ll,
    )
    for p, (g, _) in joins.items():
        if p in loose:
            i = _nearest_cell(cells_m, loose[p], np.flatnonzero(group == g))
            cells_m[i] = shapely.union(cells_m[i], loose[p])
        else:
            group[cell_piece == p] = g
    table["workload"] = _workload_values(table, weights, cells_m, engine, to_m)

    sub_names = _substation_names(subs)
    volts = (
        pd.to_numeric(subs["voltage_kv"], errors="coerce").to_numpy(dtype=float)
        if "voltage_kv" in subs.columns
        else np.full(len(subs), np.nan)
    )
    used = [g for g in range(len(subs)) if (group == g).any()]
    unused = [
        str(sub_ids[g]) for g in range(len(subs)) if g not in used and str(sub_ids[g]) not in merged
    ]
    if unused:
        warnings.warn(
            f"substation(s) {unused!r} are nearest to no village and head no supply grid "
            "(each stands in the village of another substation)",
            stacklevel=2,
        )
    wl = table["workload"].to_numpy()
    totals = {sub_ids[g]: float(wl[group == g].sum()) for g in used}
    sizes = {sub_ids[g]: int((group == g).sum()) for g in used}
    ks = _grid_counts(n_grids, target_workload, totals, sizes)

    adcode = str(county4326["adcode"].iloc[0]) if "adcode" in county4326.columns else "county"
    cname = str(county4326["name"].iloc[0]) if "name" in county4326.columns else "县"
    t1 = f"T1-{adcode}"
    rows: list[tuple[Any, ...]] = [(t1, TIER_COUNTY, None, f"{cname}供电公司", None, np.nan)]
    village_grid = np.empty(len(villages), dtype=object)
    centres = shapely.get_coordinates(shapely.centroid(cells_m))
    ss = np.random.SeedSequence(seed)
    child_seeds = ss.spawn(len(subs))
    for g in sorted(used, key=lambda g: str(sub_ids[g])):
        sid, sname = sub_ids[g], sub_names[g]
        t2 = f"T2-{sid}"
        rows.append((t2, TIER_SUPPLY, t1, f"{sname}供电网格", sid, volts[g]))
        members = np.flatnonzero(group == g)
        k = ks[sid]
        sub_seed = int(child_seeds[g].generate_state(1)[0])
        sub_adj = _link_parts(adj[members][:, members], cells_m[members])
        labels = balance_village_grids(sub_adj, wl[members], k, seed=sub_seed, restarts=restarts)
        rank = _region_order(labels, k, centres[members])
        for r in range(k):
            rows.append(
                (_tier3_id(sid, r + 1), TIER_VILLAGE, t2, f"{sname}网格{r + 1}", sid, volts[g])
            )
        village_grid[members] = [_tier3_id(sid, int(rank[lab]) + 1) for lab in labels]
    meta = pd.DataFrame(rows, columns=list(_META_COLUMNS))
    cells = gpd.GeoDataFrame(
        table.assign(**{VILLAGE_ID: codes}).loc[:, [VILLAGE_ID, *COUNT_COLUMNS, "workload"]],
        geometry=_project(cells_m, _transformer(crs, 4326)),
        crs=4326,
    )
    vg = pd.Series(village_grid, index=villages.index, name="grid_id")
    grids = _assemble(meta, vg, cells)
    county_out = _county_frame(county4326, county_geom)
    problems = validate_grids(
        grids, county=county_out, substations=subs, max_outside_m=max_outside_m
    )
    if problems:
        raise GridTopologyError(_problems_message("The built grids", problems), problems)
    piece_table = _piece_table(pieces, cell_piece, group, joins, sub_at, sub_ids, to_ll)
    return ServiceGrids(
        grids=grids, village_grid=vg, cells=cells, county=county_out, pieces=piece_table
    )


def _substation_homes(subs_m: np.ndarray, cells_m: np.ndarray) -> np.ndarray:
    """The village cell each substation stands in; the nearest cell for one outside every cell.

    On a shared cell edge the first cell wins. A substation outside the
    cells stands a little outside the county (farther ones are refused before)
    or in a piece of the county without villages.
    """
    home = np.full(len(subs_m), -1, dtype=np.int64)
    cell_i, sub_i = shapely.STRtree(subs_m).query(cells_m, predicate="intersects")
    order = np.lexsort((-cell_i, sub_i))  # on a shared edge the first cell wins
    home[sub_i[order]] = cell_i[order]
    for g in np.flatnonzero(home < 0):
        home[g] = _nearest_cell(cells_m, subs_m[g])
    return home


def _piece_of_points(points_m: np.ndarray, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The county piece each point lies in (else the nearest one) and its distance (m)."""
    if len(points_m) == 0 or len(pieces) == 0:
        return np.full(len(points_m), -1, dtype=np.int64), np.full(len(points_m), np.inf)
    dist = shapely.distance(points_m[:, None], pieces[None, :])
    return np.argmin(dist, axis=1).astype(np.int64), dist.min(axis=1)


def _join_pieces(
    pieces: np.ndarray,
    cell_piece: np.ndarray,
    loose: dict[int, Any],
    group: np.ndarray,
    cells_m: np.ndarray,
    sub_at: np.ndarray,
    points: np.ndarray,
    subs_points: np.ndarray,
    *,
    engine: ReachEngine | None,
    to_ll: pyproj.Transformer,
) -> dict[int, tuple[int, str]]:
    """The supply grid (substation position) each piece without a grid of its own joins, and how.

    A piece with a substation standing in it (and no villages) joins that
    substation's grid (``"substation"``). Else, with the roads, the substation
    (among those heading a grid) that reaches one of the piece's villages, or
    for a piece without villages its inner point, first joins it (``"road"``);
    without roads or a road time, the supply grid nearest to the piece in
    straight line (``"nearest"``). Grids are those of the pieces with
    substations: a joined piece never decides another's grid.
    """
    heads = np.unique(group[group >= 0])
    todo = [
        p
        for p in range(len(pieces))
        if p in loose or ((cell_piece == p).any() and (group[cell_piece == p] < 0).all())
    ]
    out: dict[int, tuple[int, str]] = {}
    targets: list[Any] = []
    owner: list[int] = []
    for p in todo:
        standing = [g for g in np.flatnonzero(sub_at == p) if g in set(heads.tolist())]
        if standing:
            out[p] = (int(standing[0]), "substation")
        elif p in loose:
            inner = shapely.point_on_surface(loose[p])
            targets.append(_project(np.array([inner], dtype=object), to_ll)[0])
            owner.append(p)
        else:
            vm = np.flatnonzero(cell_piece == p)
            targets.extend(points[vm])
            owner.extend([p] * len(vm))
    if engine is not None and targets:
        eta, best = _road_times(engine, subs_points[heads], np.array(targets, dtype=object))
        eta = np.where(best >= 0, eta, np.inf)
        own = np.asarray(owner)
        for p in dict.fromkeys(owner):
            at = np.flatnonzero(own == p)
            t = at[np.argmin(eta[at])]
            if np.isfinite(eta[t]):
                out[p] = (int(heads[best[t]]), "road")
    assigned = np.flatnonzero(group >= 0)
    for p in todo:
        if p in out:
            continue
        dist = shapely.distance(cells_m[assigned], pieces[p])
        per = pd.Series(dist).groupby(group[assigned]).min()
        out[p] = (int(per.idxmin()), "nearest")
    return dict(sorted(out.items()))


def _piece_table(
    pieces: np.ndarray,
    cell_piece: np.ndarray,
    group: np.ndarray,
    joins: dict[int, tuple[int, str]],
    sub_at: np.ndarray,
    sub_ids: np.ndarray,
    to_ll: pyproj.Transformer,
) -> pd.DataFrame:
    """One row per county piece: where it is, what stands in it, its supply grid(s) and how."""
    centres = _project(shapely.centroid(pieces), to_ll) if len(pieces) else np.array([])
    rows = []
    for p in range(len(pieces)):
        in_p = cell_piece == p
        if p in joins:
            g, how = joins[p]
            grid_ids = [f"T2-{sub_ids[g]}"]
        else:
            how = "own"
            grid_ids = sorted({f"T2-{sub_ids[g]}" for g in np.unique(group[in_p]) if g >= 0})
        rows.append(
            (
                p + 1,
                round(float(shapely.area(pieces[p])) / 1e6, 4),
                round(float(shapely.get_x(centres[p])), 6),
                round(float(shapely.get_y(centres[p])), 6),
                int(in_p.sum()),
                _VILLAGE_SEP.join(sorted(map(str, sub_ids[sub_at == p]))),
                _VILLAGE_SEP.join(grid_ids),
                how,
            )
        )
    return pd.DataFrame(rows, columns=list(PIECE_COLUMNS))


# --------------------------------------------------------------------------- #
# topology checks


_PROBLEM_FIX = {
    "not_contiguous": "a grid in separate parts within one piece of the county",
    "gap": "part of the county in no grid",
    "overlap": "two grids of one tier overlap",
    "outside_county": "a grid reaches outside the county boundary",
    "substation_outside": "a substation outside its own supply grid",
}
_MESSAGE_ROWS = 8


def _problems_message(what: str, problems: list[dict[str, Any]]) -> str:
    """The problems as a short table: kind, grids, where (lon, lat), area and detail."""
    lines = [f"网格拓扑问题 / {what} break {len(problems)} topology rule(s):"]
    for p in problems[:_MESSAGE_ROWS]:
        ids = "-" if p.get("grid_id") is None else str(p["grid_id"])
        if p.get("other_id") is not None:
            ids += f" / {p['other_id']}"
        where = p.get("location")
        at = f" at {where[0]:.5f},{where[1]:.5f}" if where else ""
        area = f" ({p['area_m2'] / 1e6:,.3f} km²)" if p.get("area_m2") else ""
        detail = f": {p['detail']}" if p.get("detail") else ""
        lines.append(f"  {p['problem']} {ids}{at}{area}{detail}")
    if len(problems) > _MESSAGE_ROWS:
        lines.append(f"  ... and {len(problems) - _MESSAGE_ROWS} more")
    kinds = sorted({p["problem"] for p in problems} & set(_PROBLEM_FIX))
    why = "; ".join(_PROBLEM_FIX[k] for k in kinds)
    lines.append(
        "Fix: check the county boundary and the villages and substations at the places "
        "listed (a village or substation in the wrong place or datum, a piece of the county "
        "without villages), then build again" + (f" ({why})." if why else ".")
    )
    return "\n".join(lines)


def validate_grids(
    grids: gpd.GeoDataFrame,
    *,
    county: gpd.GeoDataFrame | None = None,
    substations: gpd.GeoDataFrame | None = None,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    max_outside_m: float = DEFAULT_MAX_OUTSIDE_M,
) -> list[dict[str, Any]]:
    """List every topology problem of a set of tiered grids.

    Rules: ids are unique; tiers are 1, 2 or 3; geometries are non-empty and
    valid; every grid of tier > 1 has a parent one tier up (``orphan``
    otherwise) and lies inside it (``not_nested``); a parent is the union of
    its children (``parent_not_union``); the grids of each tier cover the
    county (``gap``) without overlapping each other (``overlap``); nothing
    lies outside the county (``outside_county``); grids of tiers 2 and 3 are
    contiguous within each piece of the county (``not_contiguous``): where
    the county itself is in detached pieces a grid may have one part in each
    piece, never two parts in one piece; no substation heads two supply grids
    (``shared_substation``); with ``substations``, each supply grid's
    substation lies in it, or at most ``max_outside_m`` from it
    (``substation_outside``). Areas are measured in the metric CRS and only
    parts larger than ``tolerance_m2`` count.

    Parameters
    ----------
    grids
        Grids with ``grid_id``, ``tier``, ``parent_id`` (and
        ``substation_id`` for the substation rules), any CRS.
    county
        County boundary; without it the tier-1 grids stand for the county.
    substations
        Optional substations with ``substation_id`` and a point, to check
        that every supply grid holds its own substation.
    tolerance_m2
        Smallest area (m²) reported as a gap, overlap or stray part.
    max_outside_m
        How far (m) a substation may stand outside its own supply grid.

    Returns
    -------
    list of dict
        One dict per problem: ``problem`` (one of :data:`PROBLEM_KINDS`),
        ``grid_id``, ``other_id`` (the other grid, or None), ``area_m2``
        (None where no area applies), ``location`` (lon, lat) and
        ``detail``; sorted by problem kind, then ids.
    """
    if isinstance(grids, gpd.GeoDataFrame) and len(grids) == 0:
        return [_problem("empty", None, detail="no grids at all")]
    grids = _check_frame(grids, "grids", ["grid_id", "tier", "parent_id"], allow_empty=True)
    crs = metric_crs(grids)
    to_m = _transformer(4326, crs)
    to_ll = _transformer(crs, 4326)
    ids = grids["grid_id"].astype(object).to_numpy()
    tiers = pd.to_numeric(grids["tier"], errors="coerce").to_numpy()
    parents = grids["parent_id"].astype(object).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    geoms_m = _project(geoms, to_m)
    problems: list[dict[str, Any]] = []

    def loc(g: Any) -> tuple[float, float] | None:
        if g is None or shapely.is_empty(g):
            return None
        p = shapely.point_on_surface(g) if shapely.is_valid(g) else shapely.centroid(g)
        x, y = to_ll.transform(shapely.get_x(p), shapely.get_y(p))
        return (round(float(x), 7), round(float(y), 7))

    def add(kind: str, gid: Any, other: Any = None, piece: Any = None, **kw: Any) -> None:
        area = None if piece is None else round(float(shapely.area(piece)), 3)
        problems.append(_problem(kind, gid, other, area, loc(piece), **kw))

    for gid in pd.unique(ids[pd.Series(ids).duplicated().to_numpy()]):
        add("duplicate_id", gid, detail=f"{int((ids == gid).sum())} rows")
    bad_tier = ~np.isin(tiers, [TIER_COUNTY, TIER_SUPPLY, TIER_VILLAGE])
    for i in np.flatnonzero(bad_tier):
        add("bad_tier", ids[i], detail=f"tier {grids['tier'].iloc[i]!r}")
    empty = shapely.is_missing(geoms_m) | shapely.is_empty(geoms_m)
    for i in np.flatnonzero(empty):
        add("empty", ids[i])
    valid = np.zeros(len(geoms_m), dtype=bool)
    valid[~empty] = shapely.is_valid(geoms_m[~empty])
    for i in np.flatnonzero(~empty & ~valid):
        add(
            "invalid_geometry",
            ids[i],
            piece=geoms_m[i],
            detail=shapely.is_valid_reason(geoms_m[i]),
        )
    usable = ~empty & ~bad_tier
    fixed = geoms_m.copy()
    fixed[usable & ~valid] = shapely.make_valid(geoms_m[usable & ~valid])
    fixed[usable] = [_polygonal(g) for g in fixed[usable]]

    # parents and children
    first_row = {gid: i for i, gid in reversed(list(enumerate(ids)))}
    kids: dict[Any, list[int]] = {}
    for i in np.flatnonzero(~bad_tier):
        if tiers[i] == TIER_COUNTY:
            if not pd.isna(parents[i]):
                add("orphan", ids[i], parents[i], detail="a tier-1 grid has no parent")
            continue
        p = first_row.get(parents[i]) if not pd.isna(parents[i]) else None
        if p is None or tiers[p] != tiers[i] - 1:
            add(
                "orphan",
                ids[i],
                None if pd.isna(parents[i]) else parents[i],
                detail=f"needs a tier-{int(tiers[i]) - 1} parent",
            )
            continue
        kids.setdefault(p, []).append(int(i))
        if usable[i] and usable[p]:
            out = _polygonal(shapely.difference(fixed[i], fixed[p]))
            if shapely.area(out) > tolerance_m2:
                add("not_nested", ids[i], ids[p], piece=out)
    for p in np.flatnonzero(usable & (tiers < TIER_VILLAGE)):
        members = [i for i in kids.get(p, []) if usable[i]]
        union = shapely.union_all(fixed[members]) if members else shapely.Polygon()
        diff = _polygonal(shapely.symmetric_difference(fixed[p], union))
        if shapely.area(diff) > tolerance_m2:
            add("parent_not_union", ids[p], piece=diff)

    # coverage of each tier
    if county is not None:
        _, county_geom = _county_geometry(county)
        ref = _project(np.array([county_geom], dtype=object), to_m)[0]
    else:
        ref = shapely.union_all(fixed[usable & (tiers == TIER_COUNTY)])
    # a grid may have one part in each piece of a county in pieces, never two in one piece
    county_pieces = _county_pieces(ref, min_area_m2=tolerance_m2)
    for t in (TIER_COUNTY, TIER_SUPPLY, TIER_VILLAGE):
        rows = np.flatnonzero(usable & (tiers == t))
        if len(rows) == 0:
            continue
        if county is not None or t > TIER_COUNTY:
            cover = shapely.union_all(fixed[rows])
            for piece in shapely.get_parts(_polygonal(shapely.difference(ref, cover))):
                if shapely.area(piece) > tolerance_m2:
                    add("gap", None, piece=piece, detail=f"tier {t}")
        tree = shapely.STRtree(fixed[rows])
        a, b = tree.query(fixed[rows], predicate="intersects")
        keep = a < b
        a, b = rows[a[keep]], rows[b[keep]]
        inter = shapely.intersection(fixed[a], fixed[b])
        for x, y, piece in zip(a, b, inter, strict=True):
            piece = _polygonal(piece)
            if shapely.area(piece) > tolerance_m2:
                add("overlap", ids[x], ids[y], piece=piece)
        if t in (TIER_SUPPLY, TIER_VILLAGE):
            for i in rows:
                _check_contiguous(ids[i], fixed[i], county_pieces, tolerance_m2, add, loc)
    if county is not None:
        for i in np.flatnonzero(usable):
            out = _polygonal(shapely.difference(fixed[i], ref))
            if shapely.area(out) > tolerance_m2:
                add("outside_county", ids[i], piece=out)
    if substations is not None and "substation_id" in grids.columns:
        _check_substations_in_grids(
            grids,
            fixed,
            usable & (tiers == TIER_SUPPLY),
            substations,
            to_m,
            max_outside_m,
            problems,
        )
    if "substation_id" in grids.columns:
        t2 = grids.loc[tiers == TIER_SUPPLY, ["grid_id", "substation_id"]].dropna()
        for sid, rows_ in t2.groupby("substation_id", sort=True):
            if len(rows_) > 1:
                names = sorted(map(str, rows_["grid_id"]))
                add("shared_substation", names[0], names[1], detail=f"substation {sid!r}")
    problems.sort(key=lambda p: (p["problem"], str(p["grid_id"]), str(p["other_id"])))
    return problems


def _check_contiguous(
    gid: Any,
    geom: Any,
    county_pieces: np.ndarray,
    tolerance_m2: float,
    add: Callable[..., None],
    loc: Callable[[Any], tuple[float, float] | None],
) -> None:
    """A ``not_contiguous`` problem for each part of a grid detached within one county piece.

    The largest part of the grid in a county piece is its main part there;
    every other part in the same piece is reported at its own location.
    """
    parts = np.array(
        [g for g in shapely.get_parts(geom) if shapely.area(g) > tolerance_m2], dtype=object
    )
    if len(parts) < 2:
        return
    where = _piece_of_areas(parts, county_pieces)
    n_pieces = len(county_pieces)
    for p in np.unique(where):
        at = np.flatnonzero(where == p)
        if len(at) < 2:
            continue
        at = at[np.argsort(-shapely.area(parts[at]), kind="stable")]
        main = loc(parts[at[0]])
        piece_txt = (
            f"county piece {p + 1} of {n_pieces}" if p >= 0 and n_pieces > 1 else "the county"
        )
        for j in at[1:]:
            add(
                "not_contiguous",
                gid,
                piece=parts[j],
                detail=(
                    f"a part detached from the grid's main part in {piece_txt} "
                    f"(main part at {main[0]:.5f},{main[1]:.5f}; {len(at)} parts there)"
                    if main
                    else f"{len(at)} separate parts in {piece_txt}"
                ),
            )


def _check_substations_in_grids(
    grids: gpd.GeoDataFrame,
    fixed: np.ndarray,
    rows: np.ndarray,
    substations: Any,
    to_m: pyproj.Transformer,
    max_outside_m: float,
    problems: list[dict[str, Any]],
) -> None:
    """A ``substation_outside`` problem for each supply grid standing away from its substation."""
    subs = _substation_table(substations)
    pts = _points_of(np.asarray(subs.geometry.values, dtype=object))
    by_id = dict(zip(subs[SUBSTATION_ID].astype(str), range(len(subs)), strict=True))
    pts_m = _project(pts, to_m)
    names = _substation_names(subs)
    for i in np.flatnonzero(rows):
        sid = grids["substation_id"].iloc[i]
        if pd.isna(sid) or str(sid) not in by_id:
            continue
        k = by_id[str(sid)]
        dist = float(shapely.distance(pts_m[k], fixed[i]))
        if dist > max_outside_m:
            problems.append(
                _problem(
                    "substation_outside",
                    grids["grid_id"].iloc[i],
                    location=(
                        round(float(shapely.get_x(pts[k])), 7),
                        round(float(shapely.get_y(pts[k])), 7),
                    ),
                    detail=(
                        f"substation {sid} {names[k]} stands {dist / 1000:.2f} km outside its "
                        "own supply grid, far from its villages"
                    ),
                )
            )


def _problem(
    kind: str,
    grid_id: Any,
    other_id: Any = None,
    area_m2: float | None = None,
    location: tuple[float, float] | None = None,
    *,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "problem": kind,
        "grid_id": grid_id,
        "other_id": other_id,
        "area_m2": area_m2,
        "location": location,
        "detail": detail,
    }


# --------------------------------------------------------------------------- #
# redraws


def _meta(grids: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(grids.loc[:, list(_META_COLUMNS)]).reset_index(drop=True)


_KPI_COLUMNS = ("customers", "workload", "n_villages", "imbalance_pct")


def _kpis(service: ServiceGrids, kpis: KpiFunction | None) -> pd.DataFrame:
    out = service.grids.set_index("grid_id")[["tier", *_KPI_COLUMNS]]
    if kpis is not None:
        extra = pd.DataFrame(kpis(service))
        clash = sorted(set(extra.columns) & set(out.columns))
        if clash:
            msg = f"`kpis` returned column(s) {clash!r} that gridgeo already reports: rename them."
            raise InputError(msg)
        out = out.join(extra, how="left")
    return out


def _kpi_diff(before: ServiceGrids, after: ServiceGrids, kpis: KpiFunction | None) -> pd.DataFrame:
    a, b = _kpis(before, kpis), _kpis(after, kpis)
    ids = sorted(set(a.index) | set(b.index), key=str)
    out = pd.DataFrame(index=pd.Index(ids, name="grid_id"))
    out["tier"] = b["tier"].combine_first(a["tier"]).reindex(ids).astype(int)
    for c in [c for c in a.columns if c != "tier"]:
        x = pd.to_numeric(a[c].reindex(ids), errors="coerce").astype(float)
        y = pd.to_numeric(b[c].reindex(ids), errors="coerce").astype(float)
        if c in ("customers", "workload", "n_villages"):
            x, y = x.fillna(0.0), y.fillna(0.0)
        out[f"{c}_before"] = x
        out[f"{c}_after"] = y
        out[f"{c}_change"] = y - x
    appeared = ~out.index.isin(a.index) | ~out.index.isin(b.index)
    out["changed"] = out.filter(like="_change").fillna(0).ne(0).any(axis=1) | appeared
    return out.sort_values(["tier"], kind="stable")


def _preview(
    service: ServiceGrids,
    meta: pd.DataFrame,
    village_grid: pd.Series,
    kpis: KpiFunction | None = None,
) -> Preview:
    grids = _assemble(meta, village_grid, service.cells)
    new = ServiceGrids(
        grids=grids, village_grid=village_grid, cells=service.cells, county=service.county
    )
    problems = validate_grids(grids, county=service.county)
    return Preview(
        grids=grids,
        kpi_diff=_kpi_diff(service, new, kpis),
        problems=problems,
        service=new,
    )


def service_grids_from_layers(
    grids: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, county: gpd.GeoDataFrame
) -> ServiceGrids:
    """Rebuild a :class:`ServiceGrids` from stored layers, to preview edits on them.

    Parameters
    ----------
    grids
        Stored grids with :data:`GRID_COLUMNS` (tier-3 rows list their villages
        in ``villages``, joined with "，").
    cells
        Stored village cells (``ServiceGrids.cells``): ``village_code``, the
        count columns, ``workload`` and the cell polygon.
    county
        The county boundary.

    Returns
    -------
    ServiceGrids

    Raises
    ------
    InputError
        If a village is in no tier-3 grid or in more than one.
    """
    grids = _check_frame(grids, "grids", GRID_COLUMNS[:-1], allow_empty=True)
    cells = _check_frame(cells, "cells", [VILLAGE_ID, *COUNT_COLUMNS, "workload"])
    county4326, county_geom = _county_geometry(county)
    t3 = grids.loc[grids["tier"] == TIER_VILLAGE, ["grid_id", "villages"]]
    pairs = [
        (code, gid)
        for gid, codes in zip(t3["grid_id"], t3["villages"].fillna(""), strict=True)
        for code in str(codes).split(_VILLAGE_SEP)
        if code
    ]
    listed = pd.DataFrame(pairs, columns=[VILLAGE_ID, "grid_id"])
    twice = sorted(listed.loc[listed[VILLAGE_ID].duplicated(), VILLAGE_ID].unique())
    if twice:
        msg = f"Villages {twice[:10]!r} are listed in more than one tier-3 grid of `grids`."
        raise InputError(msg)
    by_code = listed.set_index(VILLAGE_ID)["grid_id"]
    codes = cells[VILLAGE_ID].astype(str)
    missing = sorted(set(codes) - set(by_code.index))
    if missing:
        msg = f"Villages {missing[:10]!r} of `cells` are in no tier-3 grid of `grids`."
        raise InputError(msg)
    vg = pd.Series(by_code.reindex(codes).to_numpy(), index=cells.index, name="grid_id")
    county_out = _county_frame(county4326, county_geom)
    return ServiceGrids(grids=grids, village_grid=vg, cells=cells, county=county_out)


def refresh_counts(service: ServiceGrids) -> ServiceGrids:
    """Recount every grid's customers and workload from its village cells.

    Use it after the cells' counts changed (a new customer import): the grid
    geometries and ids stay, the count columns and imbalance follow the cells.
    Columns other than :data:`GRID_COLUMNS` (the roster's people) are kept.
    """
    _check_service(service)
    grids = _assemble(_meta(service.grids), service.village_grid, service.cells)
    extra = [c for c in service.grids.columns if c not in grids.columns]
    if extra:
        grids = grids.merge(
            pd.DataFrame(service.grids[["grid_id", *extra]]), on="grid_id", how="left"
        )
    return ServiceGrids(
        grids=grids,
        village_grid=service.village_grid,
        cells=service.cells,
        county=service.county,
    )


def _check_service(service: Any) -> None:
    if not isinstance(service, ServiceGrids):
        msg = (
            f"`service` must be the ServiceGrids from build_service_grids, got "
            f"{type(service).__name__!r}."
        )
        raise InputError(msg)


def _grid_row(service: ServiceGrids, grid_id: Any, tier: int | None = None) -> pd.Series:
    rows = service.grids.loc[service.grids["grid_id"] == grid_id]
    if len(rows) == 0:
        msg = (
            f"No grid with `grid_id` {grid_id!r}: pick one of the ids of the current grids "
            "(the `grids` layer, or the output of `gridgeo grids build`)."
        )
        raise NotFoundError(msg)
    row = rows.iloc[0]
    if tier is not None and int(row["tier"]) != tier:
        msg = f"Grid {grid_id!r} is tier {int(row['tier'])}; this edit needs a tier-{tier} grid."
        raise InputError(msg)
    return row


def preview_move_villages(
    service: ServiceGrids,
    village_codes: Iterable[Any],
    to_grid_id: Any,
    *,
    kpis: KpiFunction | None = None,
) -> Preview:
    """Preview moving villages into another tier-3 grid.

    The villages may come from any grids, also of another supply grid (the
    supply grids follow their tier-3 grids).

    Parameters
    ----------
    service
        Current grids (from :func:`build_service_grids` or an earlier preview).
    village_codes
        ``village_code`` of each village to move.
    to_grid_id
        The tier-3 grid that receives them.
    kpis
        Optional function ``ServiceGrids -> DataFrame`` indexed by ``grid_id``
        with more KPIs (e.g. reach figures) to diff before and after.

    Returns
    -------
    Preview

    Raises
    ------
    NotFoundError
        If a village code or the grid id is unknown.
    """
    _check_service(service)
    _grid_row(service, to_grid_id, TIER_VILLAGE)
    codes = list(dict.fromkeys(village_codes))
    if not codes:
        msg = "`village_codes` is empty: name at least one village to move."
        raise InputError(msg)
    known = service.cells[VILLAGE_ID]
    unknown = [c for c in codes if c not in set(known)]
    if unknown:
        msg = f"Unknown `village_codes` {unknown[:10]!r}: they are not villages of these grids."
        raise NotFoundError(msg)
    vg = service.village_grid.copy()
    vg[known.isin(codes).to_numpy()] = to_grid_id
    return _preview(service, _meta(service.grids), vg, kpis)


def preview_redraw_boundary(
    service: ServiceGrids,
    polygon: Any,
    to_grid_id: Any,
    *,
    min_share: float = DEFAULT_MIN_SHARE,
    kpis: KpiFunction | None = None,
) -> Preview:
    """Preview a boundary drawn by hand: villages mostly inside ``polygon`` join a grid.

    A village moves when more than ``min_share`` of its cell's area lies in the
    drawn polygon; villages are never split.

    Parameters
    ----------
    service
        Current grids.
    polygon
        The drawn polygon: a shapely geometry in EPSG:4326, or a
        GeoDataFrame / GeoSeries with a CRS.
    to_grid_id
        The tier-3 grid that receives the villages.
    min_share
        Share of a cell's area that must lie in the polygon (0-1).
    kpis
        Optional function ``ServiceGrids -> DataFrame`` indexed by ``grid_id``
        with more KPIs (e.g. reach figures) to diff before and after.

    Returns
    -------
    Preview

    Raises
    ------
    InputError
        If the polygon has no area or takes in no village.
    """
    _check_service(service)
    _grid_row(service, to_grid_id, TIER_VILLAGE)
    if isinstance(polygon, (gpd.GeoDataFrame, gpd.GeoSeries)):
        polygon = shapely.union_all(
            np.asarray(_to_4326(polygon, "polygon").geometry.values, dtype=object)
        )
    if not isinstance(polygon, shapely.Geometry) or shapely.area(polygon) == 0:
        msg = "`polygon` must be a polygon with area (EPSG:4326 lon/lat)."
        raise InvalidGeometryError(msg)
    if not 0 <= min_share < 1:
        msg = f"`min_share` is {min_share!r}: give a share from 0 to below 1."
        raise InputError(msg)
    crs = metric_crs(service.cells)
    to_m = _transformer(4326, crs)
    cells_m = _project(np.asarray(service.cells.geometry.values, dtype=object), to_m)
    poly_m = _project(np.array([shapely.make_valid(polygon)], dtype=object), to_m)[0]
    share = shapely.area(shapely.intersection(cells_m, poly_m)) / shapely.area(cells_m)
    inside = share > min_share
    if not inside.any():
        msg = (
            f"The drawn `polygon` covers more than {min_share:.0%} of no village cell: "
            "draw it over the villages to move."
        )
        raise InputError(msg)
    return preview_move_villages(service, service.cells[VILLAGE_ID][inside], to_grid_id, kpis=kpis)


def preview_split_grid(
    service: ServiceGrids,
    grid_id: Any,
    *,
    k: int = 2,
    seed: int = 0,
    restarts: int = DEFAULT_RESTARTS,
    kpis: KpiFunction | None = None,
) -> Preview:
    """Preview splitting a tier-3 grid into ``k`` balanced contiguous grids.

    The first part keeps ``grid_id``; the others get the next free numbers of
    the same supply grid (``T3-<substation_id>-NN``).

    Parameters
    ----------
    service
        Current grids.
    grid_id
        The tier-3 grid to split.
    k
        Number of parts.
    seed
        Random seed of the balancing.
    restarts
        Restarts of the balancing.
    kpis
        Optional function ``ServiceGrids -> DataFrame`` indexed by ``grid_id``
        with more KPIs (e.g. reach figures) to diff before and after.

    Returns
    -------
    Preview
    """
    _check_service(service)
    row = _grid_row(service, grid_id, TIER_VILLAGE)
    members = np.flatnonzero((service.village_grid == grid_id).to_numpy())
    if not 2 <= k <= len(members):
        msg = (
            f"`k` is {k!r}, but grid {grid_id!r} has {len(members)} village(s): "
            "a split needs 2 <= k <= villages."
        )
        raise InputError(msg)
    crs = metric_crs(service.cells)
    cells_m = _project(
        np.asarray(service.cells.geometry.values, dtype=object)[members], _transformer(4326, crs)
    )
    adj = _link_parts(_adjacency_metric(cells_m), cells_m)  # a grid may span county pieces
    labels = balance_village_grids(
        adj, service.cells["workload"].to_numpy()[members], k, seed=seed, restarts=restarts
    )
    meta = _meta(service.grids)
    sid = row["substation_id"]
    siblings = meta.loc[meta["parent_id"] == row["parent_id"], "grid_id"].astype(str)
    prefix = f"T3-{sid}-"
    used = {
        int(s[len(prefix) :])
        for s in siblings
        if s.startswith(prefix) and s[len(prefix) :].isdigit()
    }
    new_ids = [grid_id]
    nxt = max(used, default=0) + 1
    base = str(row["name"]).rstrip("0123456789")
    new_rows = []
    for _ in range(1, k):
        while nxt in used:
            nxt += 1
        gid = _tier3_id(sid, nxt)
        used.add(nxt)
        new_ids.append(gid)
        new_rows.append(
            (gid, TIER_VILLAGE, row["parent_id"], f"{base}{nxt}", sid, row["voltage_kv"])
        )
    meta = pd.concat([meta, pd.DataFrame(new_rows, columns=list(_META_COLUMNS))], ignore_index=True)
    vg = service.village_grid.copy()
    vg.iloc[members] = [new_ids[lab] for lab in labels]
    return _preview(service, meta, vg, kpis)


def preview_merge_grids(
    service: ServiceGrids, grid_ids: Iterable[Any], *, kpis: KpiFunction | None = None
) -> Preview:
    """Preview merging tier-3 grids into one.

    The merged grid keeps the first id in sorted order (and its supply grid);
    the others disappear. Grids that do not touch give a ``not_contiguous``
    problem in the preview.

    Parameters
    ----------
    service
        Current grids.
    grid_ids
        Two or more tier-3 grid ids.
    kpis
        Optional function ``ServiceGrids -> DataFrame`` indexed by ``grid_id``
        with more KPIs (e.g. reach figures) to diff before and after.

    Returns
    -------
    Preview
    """
    _check_service(service)
    ids = sorted(dict.fromkeys(grid_ids), key=str)
    if len(ids) < 2:
        msg = f"`grid_ids` {ids!r}: a merge needs at least two different tier-3 grids."
        raise InputError(msg)
    for gid in ids:
        _grid_row(service, gid, TIER_VILLAGE)
    keep = ids[0]
    vg = service.village_grid.copy()
    vg[vg.isin(ids[1:]).to_numpy()] = keep
    meta = _meta(service.grids)
    meta = meta.loc[~meta["grid_id"].isin(ids[1:])].reset_index(drop=True)
    return _preview(service, meta, vg, kpis)


def preview_reassign_substation(
    service: ServiceGrids,
    grid_id: Any,
    substation_id: Any,
    substations: gpd.GeoDataFrame,
    *,
    kpis: KpiFunction | None = None,
) -> Preview:
    """Preview giving a supply grid (and its tier-3 grids) another substation.

    Grid ids stay as they are (they are the grids' identities in the store);
    ``substation_id``, ``voltage_kv`` and the names change. A substation that
    already heads another supply grid gives a ``shared_substation`` problem.

    Parameters
    ----------
    service
        Current grids.
    grid_id
        The tier-2 grid.
    substation_id
        The new substation, a ``substation_id`` of ``substations``.
    substations
        Substations with ``substation_id`` (and ``name``, ``voltage_kv``).
    kpis
        Optional function ``ServiceGrids -> DataFrame`` indexed by ``grid_id``
        with more KPIs (e.g. reach figures) to diff before and after.

    Returns
    -------
    Preview
    """
    _check_service(service)
    row = _grid_row(service, grid_id, TIER_SUPPLY)
    subs = _substation_table(substations)
    match = subs.loc[subs[SUBSTATION_ID] == substation_id]
    if len(match) == 0:
        msg = f"No substation with `substation_id` {substation_id!r} in `substations`."
        raise NotFoundError(msg)
    new = match.iloc[0]
    name = (
        str(new["name"]) if "name" in subs.columns and pd.notna(new["name"]) else str(substation_id)
    )
    volt = float(new["voltage_kv"]) if "voltage_kv" in subs.columns else np.nan
    meta = _meta(service.grids)
    old_name = str(row["name"]).removesuffix("供电网格")
    is_t2 = meta["grid_id"] == grid_id
    kids = meta["parent_id"] == grid_id
    meta.loc[is_t2 | kids, "substation_id"] = substation_id
    meta.loc[is_t2 | kids, "voltage_kv"] = volt
    meta.loc[is_t2, "name"] = f"{name}供电网格"
    meta.loc[kids, "name"] = [
        f"{name}{s.removeprefix(old_name)}" if s.startswith(old_name) else s
        for s in meta.loc[kids, "name"].astype(str)
    ]
    return _preview(service, meta, service.village_grid.copy(), kpis)


JOIN_COLUMNS = ("grid_id", "name", "parent_id", "ok", "problems")


def village_join_options(
    service: ServiceGrids,
    village_code: Any,
    *,
    adjacency: sparse.csr_matrix | None = None,
) -> pd.DataFrame:
    """The tier-3 grids a village may move into: its grid's contiguous neighbours.

    A candidate is a tier-3 grid other than the village's own with a cell that shares a
    boundary with the village's cell (:func:`village_adjacency`). Each candidate is tried
    with :func:`preview_move_villages`: the move is ``ok`` when the edited grids break no
    topology rule (the grid left behind stays contiguous and not empty, ...), the rule a
    save applies, so ``ok`` here means the same move saves.

    Parameters
    ----------
    service
        Current grids.
    village_code
        The ``village_code`` of the village to move.
    adjacency
        The cells' adjacency (:func:`village_adjacency` of ``service.cells``), when the
        caller keeps it; computed when None.

    Returns
    -------
    pandas.DataFrame
        One row per neighbouring tier-3 grid, sorted by ``grid_id``, columns
        :data:`JOIN_COLUMNS`: ``ok`` and the ``problems`` (their ``problem`` codes, joined
        with "，") the move would have.

    Raises
    ------
    NotFoundError
        If ``village_code`` is not a village of these grids.
    """
    _check_service(service)
    codes = service.cells[VILLAGE_ID].astype(str).to_numpy()
    at = np.flatnonzero(codes == str(village_code))
    if len(at) == 0:
        msg = f"Unknown `village_code` {village_code!r}: it is not a village of these grids."
        raise NotFoundError(msg)
    if adjacency is None:
        adjacency = village_adjacency(service.cells)
    cell = int(at[0])
    own = service.village_grid.iloc[cell]
    near = adjacency.getrow(cell).indices
    candidates = sorted(
        {str(g) for g in service.village_grid.iloc[near] if str(g) != str(own)}, key=str
    )
    grids = service.grids.set_index(service.grids["grid_id"].astype(str))
    rows = []
    for gid in candidates:
        problems = preview_move_villages(service, [codes[cell]], gid).problems
        found = sorted({str(p.get("problem")) for p in problems})
        rows.append(
            (gid, grids.at[gid, "name"], grids.at[gid, "parent_id"], not problems,
             _VILLAGE_SEP.join(found))
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(JOIN_COLUMNS))


# --------------------------------------------------------------------------- #
# customers into grids

ASSIGN_REASONS = ("ok", "near_boundary", "not_geocoded", "outside_grids")
# A located position outside every grid but at most this far from the nearest one (a village
# point picked a little outside the county line) is put into a grid (``near_boundary``); the
# same distance as gridgeo.workspace.OUTSIDE_TOLERANCE_M, the points a workspace keeps.
NEAR_BOUNDARY_M = 500.0
# The grids' edges are cut into pieces of at most this many degrees (about 100 m) before they
# are projected for the near-boundary distances, as for gridgeo.workspace.check_inside_county.
_NEAR_DENSIFY_DEG = 0.001


def _near_grids(
    geoms: np.ndarray, t3: gpd.GeoDataFrame, near_boundary_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """For points outside every tier-3 grid: the positions (in ``t3``) of the points at most
    ``near_boundary_m`` metres from a grid, and of their nearest grid (ties: the first)."""
    to_m = _transformer(4326, metric_crs(t3))
    grids_m = _project(shapely.segmentize(t3.geometry.to_numpy(), _NEAR_DENSIFY_DEG), to_m)
    hit_point, hit_grid = shapely.STRtree(grids_m).query_nearest(
        _project(geoms, to_m), max_distance=near_boundary_m, all_matches=True
    )
    order = np.lexsort((hit_grid, hit_point))
    hit_point, hit_grid = hit_point[order], hit_grid[order]
    keep = np.ones(len(hit_point), dtype=bool)
    keep[1:] = hit_point[1:] != hit_point[:-1]
    return hit_point[keep], hit_grid[keep]


def assign_to_grids(
    points: Any, grids: gpd.GeoDataFrame, *, near_boundary_m: float = NEAR_BOUNDARY_M
) -> pd.DataFrame:
    """The grid of every point for each tier, in one vectorised pass.

    Each point is looked up among the tier-3 grids with one STRtree query
    (``predicate="intersects"``); tiers 2 and 1 follow from ``parent_id``, so
    the three ids of a point always nest. A point on the shared boundary of
    two grids goes to the one whose ``grid_id`` sorts first (deterministic).

    A point outside every grid but at most ``near_boundary_m`` metres from the
    county (the union of the tier-3 grids, measured in its metric CRS) is put
    into the grid it is nearest to, with reason ``near_boundary``: a village
    point picked on a map a little outside the county line keeps its
    customers. When ``points`` is a customers frame and such a customer is
    placed at its village's point (``location_source`` ``"village"``) whose
    ``village_code`` a tier-3 grid lists in ``villages``, it goes to that grid
    instead (the two normally agree; the village list wins). Points farther
    out are ``outside_grids``.

    Parameters
    ----------
    points
        GeoSeries or GeoDataFrame of points (any CRS, reprojected to 4326);
        missing or empty geometries are allowed (``not_geocoded``). A
        GeoDataFrame with ``location_source`` and ``village_code`` (the
        customers layer) lets the village rule above apply.
    grids
        The grids, all tiers (columns ``grid_id``, ``tier``, ``parent_id``;
        ``villages`` for the village rule).
    near_boundary_m
        How far outside the grids a point is still put into one, in metres
        (default :data:`NEAR_BOUNDARY_M`, the workspace's tolerance for points
        outside the county); 0 turns the rule off.

    Returns
    -------
    pandas.DataFrame
        On the points' index: ``grid_t1``, ``grid_t2``, ``grid_t3`` (None
        where not assigned) and ``grid_reason`` (:data:`ASSIGN_REASONS`).
    """
    frame = points if isinstance(points, gpd.GeoDataFrame) else None
    if frame is not None:
        points = frame.geometry
    if not isinstance(points, gpd.GeoSeries):
        msg = f"`points` must be a GeoSeries or GeoDataFrame, got {type(points).__name__}."
        raise InputError(msg)
    try:
        tol = float(near_boundary_m)
    except (TypeError, ValueError):
        tol = float("nan")
    if not np.isfinite(tol) or tol < 0:
        msg = f"`near_boundary_m` must be a distance in metres >= 0, got {near_boundary_m!r}."
        raise InputError(msg)
    points = _to_4326(points, "points")
    grids = _to_4326(_check_frame(grids, "grids", ["grid_id", "tier", "parent_id"]), "grids")
    t3 = grids.loc[grids["tier"] == TIER_VILLAGE].sort_values("grid_id", kind="stable")
    if len(t3) == 0:
        msg = "`grids` has no tier-3 grids: build the grids first (build_service_grids)."
        raise EmptyDataError(msg)
    parent = dict(zip(grids["grid_id"], grids["parent_id"], strict=True))  # a few hundred grids

    geoms = points.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    tree = shapely.STRtree(t3.geometry.to_numpy())
    hit_point, hit_grid = tree.query(geoms, predicate="intersects")
    # keep the first grid (lowest position = smallest grid_id) of each point
    first = np.full(len(geoms), -1, dtype=np.int64)
    order = np.lexsort((hit_grid, hit_point))
    hit_point, hit_grid = hit_point[order], hit_grid[order]
    keep = np.ones(len(hit_point), dtype=bool)
    keep[1:] = hit_point[1:] != hit_point[:-1]
    first[hit_point[keep]] = hit_grid[keep]

    # outside every grid but near the county: the nearest grid, or the village's grid
    near = np.zeros(len(geoms), dtype=bool)
    outside = np.flatnonzero((first < 0) & ~missing)
    if len(outside) and tol > 0:
        near_point, near_grid = _near_grids(geoms[outside], t3, tol)
        near[outside[near_point]] = True
        first[outside[near_point]] = near_grid
        columns = {"location_source", "village_code"}
        if frame is not None and columns <= set(frame.columns) and "villages" in t3.columns:
            listed: dict[str, int] = {}
            for k, codes in enumerate(t3["villages"].fillna("").astype(str)):
                for code in codes.split(_VILLAGE_SEP):
                    if code:
                        listed.setdefault(code, k)  # t3 sorted: the first grid_id wins
            at = np.flatnonzero(near)
            at = at[frame["location_source"].to_numpy(dtype=object)[at] == "village"]
            pos_of = pd.Series(frame["village_code"].to_numpy(dtype=object)[at]).astype(str)
            pos_of = pos_of.map(listed)
            has = pos_of.notna().to_numpy()
            first[at[has]] = pos_of.to_numpy()[has].astype(np.int64)

    # ids per tier-3 position, then index them with each point's position
    ids3 = t3["grid_id"].to_numpy(dtype=object)
    ids2 = np.array([parent.get(g) for g in ids3], dtype=object)
    ids1 = np.array([parent.get(g) for g in ids2], dtype=object)
    found = first >= 0
    pos = np.maximum(first, 0)
    none = np.array(None, dtype=object)
    grid_t3 = np.where(found, ids3[pos], none)
    grid_t2 = np.where(found, ids2[pos], none)
    grid_t1 = np.where(found, ids1[pos], none)
    reason = np.where(
        missing,
        "not_geocoded",
        np.where(near, "near_boundary", np.where(found, "ok", "outside_grids")),
    )
    return pd.DataFrame(
        {"grid_t1": grid_t1, "grid_t2": grid_t2, "grid_t3": grid_t3, "grid_reason": reason},
        index=points.index,
    )
