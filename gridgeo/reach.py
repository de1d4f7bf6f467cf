"""Service-level reach: 30-minute repair and 10-minute payment for every customer.

Two promises of grid-based supply service are geographic: a repair crew reaches any fault within
30 minutes, and every customer reaches a payment point within 10 minutes. This module checks
them for every customer, summarises them per grid and draws isochrones.

Direction
---------
Repair reach runs **station → customer** on the directed road graph (one-way roads count, crews
drive at the graph's speeds). Payment access runs **customer → payment point**: the search starts
from the points on the transposed graph, which gives the same travel times as one search per
customer.

Payment mode
------------
The payment trip is made with the mode of the graph its engine is built on.
:data:`DEFAULT_PAYMENT_MODE` is ``"two_wheeler"``: in rural Jiangxi most households ride electric
two-wheelers (电动自行车) to the township, so "10 minutes to a payment point" is read as 10
minutes by e-bike (up to about 4 km at 25 km/h). The strict reading, on foot (10 minutes at
4.5 km/h = 750 m), is a walk-mode graph; a car-owning reading is a drive-mode graph.
:func:`engines_from_roads` builds the two engines from a roads layer.

Snapping
--------
A point joins the graph at the nearest point on the nearest edge (not the nearest node), found
in a metric CRS (see Engine); the off-road leg from the point to the road is walked at
:data:`~gridgeo.network.WALK_SPEED_KPH` and added to its travel time. A point farther than
``max_snap_m`` (default :data:`DEFAULT_MAX_SNAP_M`, 500 m: a hamlet at the end of a footpath is
still served, a position in the middle of a forest or a wrong geocode is not) from every road
gets ``too_far_from_road``. A point whose nearest edge lies on a small weakly connected road
piece (fewer than ``min_component_nodes`` nodes and not the largest piece: a hill hamlet's
tracks, a river island) joins the main network instead if a main edge is within ``max_snap_m``;
otherwise it stays on its piece and, unless a source is on the same piece, gets
``isolated_road_piece``. A point on an edge's end is at that node. Payment points and repair
stations are snapped the same way, with their own off-road legs; one that cannot be snapped is
left out with a warning.

Reasons
-------
Every customer gets one of :data:`REACH_REASONS`:

``ok``
    reached within the limit;
``over_limit``
    reached, but later than the limit;
``too_far_from_road``
    more than ``max_snap_m`` from every road: no travel time;
``isolated_road_piece``
    only near a small road piece that no source can reach;
``unreachable``
    on the main network, but no source reaches it on the directed graph (one-way traps, a
    separate network without a source);
``not_geocoded``
    no position (missing or empty geometry).

Engine
------
NetworkX stays the graph model; :class:`ReachEngine` is built once per graph (from the graph,
or with :meth:`ReachEngine.from_roads` straight from the roads layer the graph is made of, with
the same answers and without building and reading the graph's Python dicts) and holds a
``scipy.sparse`` CSR matrix of the directed graph (the least travel time over parallel edges),
its transpose (built on first use), component labels, and the road segments in a metric CRS (the
two directed edges of a two-way road are one segment with a time each way). Nearest-edge
snapping is exact and vectorised: a ``scipy.spatial.cKDTree`` of the segments' vertices
(densified to pieces of at most 25 m) gives candidate pieces, the point-to-piece distances are
numpy arithmetic, and the few points for which the candidates cannot be proven complete go to a
shapely STRtree; the points are searched in chunks on all CPUs (threads: the KD-tree and numpy
let go of the GIL). Each query is one multi-source ``scipy.sparse.csgraph.dijkstra`` call from
virtual source nodes that are joined to both ends of their snapped edge with the partial-edge
times; every target's time is then the least over the two ends of its own edge (plus the direct
way when a source lies on the same edge), all in numpy. On this project's 2-core machine the
10^6-node sample county with 10^6 customers takes about 5 s end to end from its roads layer
(about 9 s from a NetworkX graph; engine build included, see ``benchmarks/bench_reach.py``).

Travel times are NaN where there is none (too far, isolated, unreachable), never infinity.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter
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
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    GraphError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
)
from gridgeo.network import (
    MIN_EDGE_LENGTH_M,
    WALK_SPEED_KPH,
    _coords_lengths_m,
    _road_lines,
)

__all__ = [
    "DEFAULT_BANDS_S",
    "DEFAULT_GRID_COLUMNS",
    "DEFAULT_ISOCHRONE_BUFFER_M",
    "DEFAULT_KPI_WEIGHTS",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_MIN_COMPONENT_NODES",
    "DEFAULT_N_WORST_VILLAGES",
    "DEFAULT_PAYMENT_LIMIT_S",
    "DEFAULT_PAYMENT_MODE",
    "DEFAULT_REPAIR_LIMIT_S",
    "REACH_REASONS",
    "ReachEngine",
    "customer_access",
    "engines_from_roads",
    "isochrones",
    "payment_access",
    "reach_kpis",
    "repair_reach",
    "summary_zh",
]

logger = logging.getLogger(__name__)

REACH_REASONS = (
    "ok",
    "over_limit",
    "too_far_from_road",
    "isolated_road_piece",
    "unreachable",
    "not_geocoded",
)
_OK, _OVER, _TOO_FAR, _ISOLATED, _UNREACHABLE, _NOT_GEOCODED = range(6)

DEFAULT_REPAIR_LIMIT_S = 1800.0
DEFAULT_PAYMENT_LIMIT_S = 600.0
DEFAULT_MAX_SNAP_M = 500.0
DEFAULT_MIN_COMPONENT_NODES = 20
DEFAULT_PAYMENT_MODE = "two_wheeler"
DEFAULT_BANDS_S = (600.0, 1200.0, 1800.0)
DEFAULT_ISOCHRONE_BUFFER_M = 150.0
DEFAULT_KPI_WEIGHTS: Mapping[str, float] = {"hv": 5.0, "vulnerable": 3.0}
DEFAULT_N_WORST_VILLAGES = 5
DEFAULT_GRID_COLUMNS: Mapping[str, str] = {"tier2": "grid_t2", "tier3": "grid_t3"}
UNASSIGNED = "unassigned"
ALL_STATIONS = "all"

CRS = "EPSG:4326"
_WGS84 = pyproj.CRS(CRS)
_AT_NODE = 1e-12  # fractions this close to 0 or 1 are at the edge's end node
_PIECE_M = 25.0  # longest straight piece of the snapping KD-tree's densified roads
_KD_NEIGHBOURS = (5, 20, 128)  # nearest vertices tried, in rounds
_KD_CHUNK = 65_536
_KD_WORKERS = 8  # threads of the snapping, at most (and at most the CPUs)
_SURE_MARGIN_M = 1e-6  # rounding margin of the KD-tree completeness test


# --------------------------------------------------------------------------- checks


def _check_positive(value: Any, name: str) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        msg = f"`{name}` must be a positive number, got {value!r}"
        raise InputError(msg)
    return float(value)


def _as_geoseries(points: Any, name: str) -> gpd.GeoSeries:
    return _points(points, name)[0]


def _points(points: Any, name: str) -> tuple[gpd.GeoSeries, np.ndarray, np.ndarray]:
    """The points as a checked GeoSeries, its geometries and where they are not missing."""
    if isinstance(points, gpd.GeoDataFrame):
        series = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        series = points
    else:
        msg = f"`{name}` must be a GeoDataFrame or GeoSeries of points, got {type(points).__name__}"
        raise InputError(msg)
    if series.crs is None:
        msg = f"`{name}` has no CRS; set it with `.set_crs(...)` (it is never guessed)"
        raise CRSError(msg)
    geoms = series.to_numpy()
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms[has])
    if np.any(kinds != 0):
        k = int(np.flatnonzero(has)[kinds != 0][0])
        msg = (
            f"`{name}` must hold Points, row {series.index[k]!r} is a "
            f"{geoms[k].geom_type}; "
            "use `.representative_point()` for areas"
        )
        raise InvalidGeometryError(msg)
    return series, geoms, has


def _ids(frame: Any, id_column: str, name: str) -> np.ndarray:
    if isinstance(frame, gpd.GeoDataFrame):
        if id_column not in frame.columns:
            msg = (
                f"`{name}` has no column {id_column!r} (columns: {list(frame.columns)!r}); "
                "pass the id column as `id_column`"
            )
            raise MissingColumnError(msg)
        ids = frame[id_column]
    else:
        ids = pd.Series(frame.index, index=frame.index)
    if ids.isna().any():
        msg = f"`{name}` column {id_column!r} has missing ids; give every row an id"
        raise InputError(msg)
    dup = ids[ids.duplicated()]
    if len(dup):
        msg = f"`{name}` column {id_column!r} repeats the id {dup.iloc[0]!r}; ids must be unique"
        raise DuplicateIdError(msg)
    return ids.to_numpy()


# --------------------------------------------------------------------------- engine


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    """A cached transformer (creating one costs ~0.2 s)."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _end_parts_s(
    t: np.ndarray, cost_a: np.ndarray, cost_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Times of the two parts of a segment cut at fraction ``t``: between end a and the point
    (``t * cost_a``) and between the point and end b (``(1 - t) * cost_b``), with the costs of
    the direction travelled on each part; 0 for a point at that end, also where the cost is
    inf (a one-way road)."""
    with np.errstate(invalid="ignore"):  # 0 * inf where the point is at a node
        part_a = np.where(t == 0.0, 0.0, t * cost_a)
        part_b = np.where(t == 1.0, 0.0, (1.0 - t) * cost_b)
    return part_a, part_b


def _along_s(
    t_from: np.ndarray, t_to: np.ndarray, cost_ab: np.ndarray, cost_ba: np.ndarray
) -> np.ndarray:
    """Time along one segment from fraction ``t_from`` to ``t_to``: inf against a one-way road,
    0 where the two points coincide (also on a one-way road, where 0 * inf would be NaN)."""
    with np.errstate(invalid="ignore"):
        fwd = np.where(t_to >= t_from, (t_to - t_from) * cost_ab, np.inf)
        bwd = np.where(t_to <= t_from, (t_from - t_to) * cost_ba, np.inf)
    return np.where(t_to == t_from, 0.0, np.minimum(fwd, bwd))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``starts[i] : starts[i] + counts[i]`` (vectorised)."""
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    return np.repeat(starts - (ends - counts), counts) + np.arange(total)


def _cumcount(*keys: np.ndarray) -> np.ndarray:
    """Rank of each row among the rows with the same keys, in row order (``cumcount``)."""
    order = np.lexsort(keys[::-1])  # stable: equal keys keep their row order
    n = len(order)
    same = np.ones(max(n - 1, 0), dtype=bool)  # row i + 1 has the keys of row i (sorted)
    for key in keys:
        k = key[order]
        same &= k[1:] == k[:-1]
    pos = np.arange(n)
    start = np.maximum.accumulate(np.where(np.r_[True, ~same][:n], pos, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = pos - start
    return rank


@dataclass(frozen=True)
class _Snap:
    """Positional snapping result of a set of points."""

    seg: np.ndarray  # segment index, -1 where not snapped
    t: np.ndarray  # fraction along the segment (a -> b), NaN where not snapped
    snap_m: np.ndarray  # distance to the road, NaN where not snapped / not geocoded
    leg_s: np.ndarray  # off-road walking time
    reason: np.ndarray  # int8 code into REACH_REASONS (ok / too_far / isolated / not_geocoded)
    xy: np.ndarray  # metric coordinates of the points (NaN where missing)


class ReachEngine:
    """
    A compiled road graph for bulk travel-time queries, built once per graph and reused.

    Parameters
    ----------
    G
        A road graph of :mod:`gridgeo.network` (``MultiDiGraph`` or ``DiGraph``, EPSG:4326, node
        ``x``/``y``, edge ``weight`` and ``geometry``; edges without geometry are straight).
    weight
        Edge attribute with the travel cost in seconds.
    max_snap_m
        Largest distance from a point to a road at which it is still joined to the road.
    min_component_nodes
        Weakly connected road pieces with fewer nodes (other than the largest) are "small
        isolated pieces", see the module docstring.
    walk_speed_kph
        Speed of the off-road legs.

    Attributes
    ----------
    crs
        The metric CRS of the snapping (CGCS2000 Gauss-Krüger in China, else UTM).
    mode
        ``G.graph["mode"]`` if the graph has one, else None.
    n_nodes, n_edges
        Size of the compiled graph (directed edges, parallel edges included).

    Raises
    ------
    GraphError
        If ``G`` is not a directed graph, has no edges, or an edge has no usable ``weight``.
    CRSError
        If ``G.graph["crs"]`` is missing or not geographic.
    """

    def __init__(
        self,
        G: nx.MultiDiGraph | nx.DiGraph,
        *,
        weight: str = "travel_time",
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
        walk_speed_kph: float = WALK_SPEED_KPH,
    ) -> None:
        if not isinstance(G, nx.DiGraph):
            msg = (
                f"`G` must be a directed road graph (networkx MultiDiGraph/DiGraph), got "
                f"{type(G).__name__}; build it with `graph_from_osm` or `graph_from_roads`"
            )
            raise GraphError(msg)
        crs = G.graph.get("crs")
        if crs is None:
            msg = '`G.graph["crs"]` is missing; road graphs are EPSG:4326 (set it or rebuild G)'
            raise CRSError(msg)
        if not pyproj.CRS.from_user_input(crs).equals(pyproj.CRS(CRS)):
            msg = f'`G.graph["crs"]` must be EPSG:4326, got {crs!r}; unproject the graph first'
            raise CRSError(msg)
        self._settings(max_snap_m, min_component_nodes, walk_speed_kph)
        self.weight = weight
        self.mode = G.graph.get("mode")
        self._build(G)

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        mode: str = "drive",
        speeds_kph: Mapping[str, float] | None = None,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
        walk_speed_kph: float = WALK_SPEED_KPH,
    ) -> ReachEngine:
        """
        Build the engine straight from a roads layer, without the NetworkX graph in between.

        The engine answers exactly as ``ReachEngine(graph_from_roads(roads, mode=mode,
        speeds_kph=speeds_kph))`` (same nodes, edges, travel costs and road geometry; tested),
        but skips building and then reading the NetworkX graph, which is most of the build time
        (see ``benchmarks/bench_reach.py``). This is how a workspace's engines are built.

        Parameters
        ----------
        roads
            The roads layer (see :func:`gridgeo.network.graph_from_roads`).
        mode, speeds_kph
            As in :func:`gridgeo.network.graph_from_roads`.
        max_snap_m, min_component_nodes, walk_speed_kph
            As in :class:`ReachEngine`.

        Raises
        ------
        InputError, MissingColumnError, CRSError, EmptyDataError, InvalidGeometryError, GraphError
            As :func:`gridgeo.network.graph_from_roads` for a bad roads layer.
        """
        r = _road_lines(roads, mode, speeds_kph, lengths=False)
        self = cls.__new__(cls)
        self._settings(max_snap_m, min_component_nodes, walk_speed_kph)
        self.weight = "travel_time"
        self.mode = mode
        keep = np.flatnonzero(r.keep)
        su, sv, way = r.su[keep], r.sv[keep], r.direction[keep]
        # the nodes that graph_from_roads keeps, in its order
        touched = np.zeros(len(r.node_ids), dtype=bool)
        touched[su] = True
        touched[sv] = True
        used = np.flatnonzero(touched)  # sorted, as np.unique in graph_from_roads
        compact = np.full(len(r.node_ids), -1, dtype=np.int64)
        compact[used] = np.arange(len(used))
        nodes = r.node_ids[used].tolist()
        a, b = compact[su], compact[sv]
        # the lines' points in their drawing direction, and with the lines against it turned
        # round: one segment per line, oriented the way it can be driven
        flip = way < 0
        ncoord = np.bincount(r.which, minlength=len(r.keep))
        cstart = np.cumsum(ncoord) - ncoord
        ncoord, cstart = ncoord[keep], cstart[keep]
        which = np.repeat(np.arange(len(keep)), ncoord)
        pos = np.arange(len(which)) - np.repeat(np.cumsum(ncoord) - ncoord, ncoord)
        drawn = r.coords[cstart[which] + pos]
        lon, lat = r.node_x[used], r.node_y[used]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # the geodesic lengths (pyproj lets go of the GIL) while the segments are indexed
            lengths = pool.submit(_coords_lengths_m, drawn, which, len(keep))
            self._set_crs(lon, lat)
            # metric coordinates: the lines' ends are their nodes, so the nodes and the inner
            # points are projected (a third fewer points than every line's own ends)
            first = np.cumsum(ncoord) - ncoord
            last = first + ncoord - 1
            inner = np.ones(len(which), dtype=bool)
            inner[first] = False
            inner[last] = False
            node_x, node_y = self._to_m.transform(lon, lat)
            xy = np.empty((len(which), 2))
            xy[first, 0], xy[first, 1] = node_x[a], node_y[a]
            xy[last, 0], xy[last, 1] = node_x[b], node_y[b]
            xy[inner, 0], xy[inner, 1] = self._to_m.transform(drawn[inner, 0], drawn[inner, 1])
            if flip.any():
                xy = xy[
                    first[which] + np.where(np.repeat(flip, ncoord), ncoord[which] - 1 - pos, pos)
                ]
            self._index_segments(xy, which, len(keep))
            length_m = lengths.result()
        # the travel time of graph_from_roads' edges, same arithmetic
        tt = np.maximum(length_m, MIN_EDGE_LENGTH_M) / r.speed_kph[keep] * 3.6
        along, against = way >= 0, way <= 0
        self._compile_graph(
            nodes,
            np.concatenate([a[along], b[against]]),
            np.concatenate([b[along], a[against]]),
            np.concatenate([tt[along], tt[against]]),
            seg_a=np.where(flip, b, a),
            seg_b=np.where(flip, a, b),
            seg_tt_f=tt,
            seg_tt_b=np.where(way == 0, tt, np.inf),
        )
        return self

    def _settings(self, max_snap_m: Any, min_component_nodes: Any, walk_speed_kph: Any) -> None:
        self.max_snap_m = _check_positive(max_snap_m, "max_snap_m")
        self.walk_speed_kph = _check_positive(walk_speed_kph, "walk_speed_kph")
        if isinstance(min_component_nodes, bool) or not isinstance(
            min_component_nodes, int | np.integer
        ):
            msg = f"`min_component_nodes` must be an int, got {min_component_nodes!r}"
            raise InputError(msg)
        self.min_component_nodes = int(min_component_nodes)

    # ----------------------------------------------------------------- build

    def _build(self, G: nx.DiGraph) -> None:
        # NetworkX's public views cost about three times more than its dicts at 10^6 edges;
        # the dicts (`_node`, `_adj`) are read only
        node_dict = G._node
        nodes = list(node_dict)
        index = {n: i for i, n in enumerate(nodes)}
        n = len(nodes)
        try:
            lon = np.fromiter(map(itemgetter("x"), node_dict.values()), dtype=float, count=n)
            lat = np.fromiter(map(itemgetter("y"), node_dict.values()), dtype=float, count=n)
        except KeyError as exc:
            msg = "every node of `G` needs `x` (lon) and `y` (lat) attributes"
            raise GraphError(msg) from exc
        # one pass over the adjacency: the edge dicts and, per node, how many edges leave it
        adj = G._adj
        if G.is_multigraph():
            degree = [sum(map(len, nbrs.values())) for nbrs in adj.values()]
            heads = [v for nbrs in adj.values() for v, keys in nbrs.items() for _ in keys]
            datas = [d for nbrs in adj.values() for keys in nbrs.values() for d in keys.values()]
        else:
            degree = list(map(len, adj.values()))
            heads = [v for nbrs in adj.values() for v in nbrs]
            datas = [d for nbrs in adj.values() for d in nbrs.values()]
        if not datas:
            msg = "`G` has no edges; a reach needs a road graph"
            raise GraphError(msg)
        m = len(datas)
        eu = np.repeat(np.arange(n, dtype=np.int64), degree)
        ev = np.fromiter(map(index.__getitem__, heads), dtype=np.int64, count=m)
        weight = self.weight
        w_l = [d.get(weight) for d in datas]
        try:
            # fromiter is twice as fast; it refuses None, which asarray reads as NaN (refused
            # below with the edge named)
            w = np.fromiter(w_l, dtype=float, count=m)
        except (TypeError, ValueError):
            try:
                w = np.asarray(w_l, dtype=float)
            except (TypeError, ValueError) as exc:
                msg = f"edge attribute `weight`={weight!r} of `G` must be numeric on every edge"
                raise GraphError(msg) from exc
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            msg = (
                f"edge ({nodes[eu[k]]!r}, {nodes[ev[k]]!r}) of `G` has `{weight}`={w_l[k]!r}; "
                "every edge needs a finite, non-negative travel cost (rebuild the graph)"
            )
            raise GraphError(msg)
        geom = np.fromiter((d.get("geometry") for d in datas), dtype=object, count=m)
        del datas, heads, w_l
        missing = shapely.is_missing(geom)
        if missing.any():
            geom[missing] = shapely.linestrings(
                np.stack(
                    [
                        np.column_stack([lon[eu[missing]], lat[eu[missing]]]),
                        np.column_stack([lon[ev[missing]], lat[ev[missing]]]),
                    ],
                    axis=1,
                )
            )
        fwd, bwd, lonlat, which = self._pair_twins(eu, ev, geom)
        self._set_crs(lon, lat)
        x, y = self._to_m.transform(lonlat[:, 0], lonlat[:, 1])
        self._index_segments(np.column_stack([x, y]), which, len(fwd))
        # a segment runs a -> b (its forward edge, finite cost) and b -> a (its twin, or inf)
        self._compile_graph(
            nodes,
            eu,
            ev,
            w,
            seg_a=eu[fwd],
            seg_b=ev[fwd],
            seg_tt_f=w[fwd],
            seg_tt_b=np.where(bwd >= 0, w[np.maximum(bwd, 0)], np.inf),
        )

    def _set_crs(self, lon: np.ndarray, lat: np.ndarray) -> None:
        self.crs = metric_crs((lon.min(), lat.min(), lon.max(), lat.max()))
        self._to_m = _transformer(CRS, self.crs.to_wkt())

    def _compile_graph(
        self,
        nodes: list[Any],
        eu: np.ndarray,
        ev: np.ndarray,
        w: np.ndarray,
        *,
        seg_a: np.ndarray,
        seg_b: np.ndarray,
        seg_tt_f: np.ndarray,
        seg_tt_b: np.ndarray,
    ) -> None:
        n = len(nodes)
        self.n_nodes = n
        self.n_edges = len(eu)
        self._nodes = nodes

        # the directed graph: least cost over parallel edges
        self._csr = self._least_cost_csr(eu, ev, w, n)
        self._csr_t: sparse.csr_matrix | None = None

        # components: the largest and those of at least min_component_nodes are the main network
        n_comp, labels = csgraph.connected_components(self._csr, directed=True, connection="weak")
        sizes = np.bincount(labels, minlength=n_comp)
        main_comp = sizes >= self.min_component_nodes
        main_comp[int(np.argmax(sizes))] = True
        self._node_main = main_comp[labels]

        self._seg_a = seg_a
        self._seg_b = seg_b
        self._seg_two_way = np.isfinite(seg_tt_b)
        self._seg_tt_f = seg_tt_f
        self._seg_tt_b = seg_tt_b
        self._seg_main = self._node_main[self._seg_a]
        self._main_segs = np.flatnonzero(self._seg_main)

    @staticmethod
    def _least_cost_csr(eu: np.ndarray, ev: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
        """CSR matrix of the least cost over the parallel edges of each (u, v), sorted indices."""
        key = eu * n + ev
        if len(eu) > 1 and np.all(eu[1:] >= eu[:-1]):
            # read row by row from the adjacency: the parallel edges of a pair are adjacent
            first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(eu[first], minlength=n), out=indptr[1:])
            csr = sparse.csr_matrix(
                (np.minimum.reduceat(w, first), ev[first], indptr), shape=(n, n)
            )
            csr.sort_indices()
            return csr
        # by (u, v): rows in order, parallel edges adjacent, columns sorted within a row
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(eu[order[first]], minlength=n), out=indptr[1:])
        return sparse.csr_matrix(
            (np.minimum.reduceat(w[order], first), ev[order[first]], indptr), shape=(n, n)
        )

    @staticmethod
    def _pair_twins(
        eu: np.ndarray, ev: np.ndarray, geom: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pair each two-way road's twin edges into one segment.

        Returns the forward edge of each segment, its backward twin (-1 on a one-way road), and
        the segments' lon/lat coordinates with the segment of each.
        """
        # all coordinates in one call; an edge's are coords[start[e] : start[e] + ncoord[e]]
        coords, cwhich = shapely.get_coordinates(geom, return_index=True)
        ncoord = np.bincount(cwhich, minlength=len(geom))
        cstart = np.cumsum(ncoord) - ncoord
        lo, hi = np.minimum(eu, ev), np.maximum(eu, ev)
        loop = eu == ev
        role = (eu > ev).astype(np.int64)
        if loop.any():  # a two-way loop: its two edges alternate roles
            role = np.where(loop, _cumcount(lo, ncoord) % 2, role)
        rank = _cumcount(lo, hi, ncoord, role)
        order = np.lexsort((role, rank, ncoord, hi, lo))
        same = np.zeros(len(order), dtype=bool)
        if len(order) > 1:
            a, b = order[:-1], order[1:]
            same[:-1] = (
                (lo[a] == lo[b])
                & (hi[a] == hi[b])
                & (ncoord[a] == ncoord[b])
                & (rank[a] == rank[b])
                & (role[a] == 0)
                & (role[b] == 1)
            )
        first = order[same]
        second = order[np.flatnonzero(same) + 1]
        # twins: the second edge's coordinates are the first's in reverse order
        c1 = coords[_ranges(cstart[first], ncoord[first])]
        c2 = coords[_ranges(cstart[second], ncoord[second])]
        counts = ncoord[first]
        starts = np.cumsum(counts) - counts
        rep_start = np.repeat(starts, counts)
        rep_count = np.repeat(counts, counts)
        mirror = rep_start + rep_count - 1 - (np.arange(len(c1)) - rep_start)
        close = np.all(np.abs(c1 - c2[mirror]) <= 1e-9, axis=1)
        twin = np.logical_and.reduceat(close, starts) if len(starts) else np.zeros(0, dtype=bool)
        first, second = first[twin], second[twin]
        paired = np.zeros(len(eu), dtype=bool)
        paired[first] = True
        paired[second] = True
        single = np.flatnonzero(~paired)
        fwd = np.concatenate([first, single])
        bwd = np.concatenate([second, np.full(len(single), -1, dtype=np.int64)])
        seg_order = np.argsort(fwd, kind="stable")  # deterministic: by first edge
        fwd, bwd = fwd[seg_order], bwd[seg_order]
        lonlat = coords[_ranges(cstart[fwd], ncoord[fwd])]
        which = np.repeat(np.arange(len(fwd)), ncoord[fwd])
        return fwd, bwd, lonlat, which

    def _index_segments(self, xy: np.ndarray, which: np.ndarray, n_seg: int) -> None:
        """The segments' metric coordinates, densified, in a KD-tree for the snapping."""
        # densified to pieces of at most _PIECE_M, in a KD-tree: the bulk nearest-edge search
        # (an STRtree nearest query per point is ~5x slower); metric geometries are built only
        # when needed
        self._seg_xy, self._seg_which = xy, which
        n = len(xy)
        # each straight piece i -> i + 1 of a segment: its vector, length and the distance of
        # its start along the segment
        to_next = np.zeros(n, dtype=bool)
        to_next[:-1] = which[1:] == which[:-1]
        dxy = np.zeros((n, 2))
        dxy[:-1] = xy[1:] - xy[:-1]
        dxy[~to_next] = 0.0
        length = np.hypot(dxy[:, 0], dxy[:, 1])
        start = np.cumsum(length) - length
        firsts = np.flatnonzero(np.r_[True, ~to_next[:-1]])
        start -= start[firsts][which - which[0]] if n else 0.0
        # cut into `count` equal pieces of at most _PIECE_M
        count = np.maximum(1, np.ceil(length / _PIECE_M)).astype(np.int64)
        rep = np.repeat(np.arange(n), count)
        frac = (np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)) / count[rep]
        # most pieces are short (count 1, frac 0): interpolate only the cut ones
        cut = np.flatnonzero(frac > 0)
        vxy = xy[rep]
        vxy[cut] += frac[cut, None] * dxy[rep[cut]]
        cum = start[rep]
        cum[cut] += frac[cut] * length[rep[cut]]
        self._v_xy, self._v_cum = vxy, cum
        self._v_seg = which[rep]
        self._v_next = to_next[rep]
        self._seg_len = np.zeros(n_seg)
        lasts = np.flatnonzero(~to_next)
        self._seg_len[which[lasts]] = start[lasts]
        self._half_piece_m = float((length / count).max()) / 2.0 if n else 0.0
        # sliding-midpoint splits build in less than half the time of median splits; queries
        # are as fast on road vertices
        self._kdtree = cKDTree(vxy, leafsize=32, balanced_tree=False, compact_nodes=False)

    @cached_property
    def _to_ll(self) -> pyproj.Transformer:
        """Metric CRS -> EPSG:4326, built on first use (a transformer costs ~0.06 s)."""
        return _transformer(self.crs.to_wkt(), CRS)

    @cached_property
    def _seg_geom_m(self) -> np.ndarray:
        lines = shapely.linestrings(self._seg_xy, indices=self._seg_which)
        return np.asarray(lines, dtype=object)

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self._seg_geom_m)

    @cached_property
    def _tree_main(self) -> shapely.STRtree:
        return shapely.STRtree(self._seg_geom_m[self._main_segs])

    @staticmethod
    def _transform(geoms: np.ndarray, transformer: pyproj.Transformer) -> np.ndarray:
        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, fn)

    def __repr__(self) -> str:
        return (
            f"ReachEngine(n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"segments={len(self._seg_a)}, crs={self.crs.to_string()!r}, mode={self.mode!r})"
        )

    # ----------------------------------------------------------------- snapping

    def _points_m(self, points: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        series, geoms, has = _points(points, name)
        xy = np.full((len(geoms), 2), np.nan)
        if has.any():
            crs = pyproj.CRS.from_user_input(series.crs)
            tr = self._to_m if crs.equals(_WGS84) else _transformer(crs.to_wkt(), self.crs.to_wkt())
            c = shapely.get_coordinates(geoms[has])
            x, y = tr.transform(c[:, 0], c[:, 1])
            xy[has] = np.column_stack([x, y])
        ok = np.isfinite(xy).all(axis=1)
        return xy, ok

    def _nearest_pieces(
        self, p: np.ndarray, k: int, main_only: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest piece next to the ``k`` nearest vertices: segment, distance, along, sure.

        ``main_only`` keeps the pieces of the main network: the candidates are still complete
        when every vertex (of any piece) within the distance plus half a piece is among the
        ``k``, so no second KD-tree is needed.
        """
        vx, vy, nv = self._v_xy[:, 0], self._v_xy[:, 1], len(self._v_xy)
        dv, iv = self._kdtree.query(p, k=k)
        dv, iv = dv.reshape(len(p), k), iv.reshape(len(p), k)
        # pieces (v, v+1) and (v-1, v) of each neighbour vertex v
        a = np.concatenate([iv, iv - 1], axis=1)
        valid = np.concatenate(
            [self._v_next[iv], (iv > 0) & self._v_next[np.maximum(iv - 1, 0)]], axis=1
        )
        a = np.where(valid, a, 0)
        if main_only:
            valid &= self._seg_main[self._v_seg[a]]
        b = np.minimum(a + 1, nv - 1)
        ax, ay = vx[a], vy[a]
        abx, aby = vx[b] - ax, vy[b] - ay
        apx, apy = p[:, :1] - ax, p[:, 1:] - ay
        ab2 = abx * abx + aby * aby
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(ab2 > 0, np.clip((apx * abx + apy * aby) / ab2, 0.0, 1.0), 0.0)
        # the nearest piece by squared distance (no square roots over all candidates)
        dx, dy = apx - f * abx, apy - f * aby
        d2 = np.where(valid, dx * dx + dy * dy, np.inf)
        best = np.argmin(d2, axis=1)
        rows = np.arange(len(p))
        a_best = a[rows, best]
        d_best = np.where(valid[rows, best], np.hypot(dx[rows, best], dy[rows, best]), np.inf)
        along = self._v_cum[a_best] + f[rows, best] * np.sqrt(ab2[rows, best])
        h = self._half_piece_m
        sure = (dv[:, -1] > np.sqrt(d_best * d_best + h * h) + _SURE_MARGIN_M) | (k >= nv)
        return self._v_seg[a_best], d_best, along, sure

    def _nearest(
        self, xy: np.ndarray, *, main_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest segment, distance and distance along it for each point (exact).

        The KD-tree of the densified roads gives the nearest vertices; the nearest point of the
        pieces next to them is exact when every vertex within ``sqrt(d**2 + h**2)`` is among
        them, ``d`` being that distance and ``h`` half the longest piece (a piece at distance
        ``d' <= d`` has an end within ``sqrt(d'**2 + h**2)``: its nearest point is the foot of
        a perpendicular or an end, and one end is at most ``h`` from it). Points where that does
        not hold are tried with more neighbours, then with the STRtree of the segments.
        ``main_only`` restricts the search to the main network.
        """
        n = len(xy)
        seg = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        along = np.zeros(n)
        todo = np.arange(n)
        nv = len(self._v_xy)
        workers = max(1, min(os.cpu_count() or 1, _KD_WORKERS))
        for k in _KD_NEIGHBOURS:
            k = min(k, nv)
            # chunks of points in threads (the KD-tree and numpy let go of the GIL)
            size = min(_KD_CHUNK, max(1, -(-len(todo) // workers)))
            chunks = [todo[lo : lo + size] for lo in range(0, len(todo), size)]
            if len(chunks) > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    found = list(
                        pool.map(
                            self._nearest_pieces,
                            [xy[idx] for idx in chunks],
                            [k] * len(chunks),
                            [main_only] * len(chunks),
                        )
                    )
            else:
                found = [self._nearest_pieces(xy[idx], k, main_only) for idx in chunks]
            left = []
            for idx, (s_, d_, a_, sure) in zip(chunks, found, strict=True):
                seg[idx[sure]], dist[idx[sure]], along[idx[sure]] = s_[sure], d_[sure], a_[sure]
                left.append(idx[~sure])
            todo = np.concatenate(left) if left else todo[:0]
            if len(todo) == 0 or k == nv:
                break
        if len(todo):
            pts = shapely.points(xy[todo])
            tree = self._tree_main if main_only else self._tree
            (qi, ti), d = tree.query_nearest(pts, return_distance=True, all_matches=False)
            if main_only:
                ti = self._main_segs[ti]
            seg[todo[qi]] = ti
            dist[todo[qi]] = d
            along[todo[qi]] = shapely.line_locate_point(self._seg_geom_m[ti], pts[qi])
        return seg, dist, along

    def _snap(self, points: Any, name: str) -> _Snap:
        xy, has = self._points_m(points, name)
        n = len(xy)
        seg = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.nan)
        along = np.full(n, np.nan)
        reason = np.full(n, _NOT_GEOCODED, dtype=np.int8)
        reason[has] = _TOO_FAR
        idx = np.flatnonzero(has)
        s_idx, s_dist, s_along = self._nearest(xy[idx])
        near = s_dist <= self.max_snap_m
        idx, s_idx, s_dist, s_along = idx[near], s_idx[near], s_dist[near], s_along[near]
        seg[idx], dist[idx], along[idx] = s_idx, s_dist, s_along
        reason[idx] = _OK
        small = idx[~self._seg_main[s_idx]]
        if len(small):
            m_idx, m_dist, m_along = self._nearest(xy[small], main_only=True)
            join = m_dist <= self.max_snap_m
            j = small[join]
            seg[j], dist[j], along[j] = m_idx[join], m_dist[join], m_along[join]
            reason[small[~join]] = _ISOLATED
        snapped = seg >= 0
        t = np.full(n, np.nan)
        length = self._seg_len[seg[snapped]]
        with np.errstate(invalid="ignore", divide="ignore"):
            t[snapped] = np.where(length > 0, along[snapped] / length, 0.0)
        t = np.where(t <= _AT_NODE, 0.0, np.where(t >= 1.0 - _AT_NODE, 1.0, t))
        leg_s = dist / (self.walk_speed_kph / 3.6)
        return _Snap(seg=seg, t=t, snap_m=dist, leg_s=leg_s, reason=reason, xy=xy)

    def snap(self, points: gpd.GeoSeries | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """
        Join points to the road graph at the nearest point of the nearest edge.

        Parameters
        ----------
        points
            Points in any CRS; missing or empty geometries are ``not_geocoded``.

        Returns
        -------
        geopandas.GeoDataFrame
            On the index of ``points``: ``u``, ``v`` (node ids of the snapped edge, oriented as
            the edge's geometry; None where not snapped), ``two_way`` (the road can be driven
            both ways), ``fraction`` (0-1 along the edge from ``u``), ``snap_m`` (off-road
            distance), ``offroad_s`` (walking time of it), ``geometry`` (the point on the road,
            EPSG:4326) and ``reason`` (``ok``, ``too_far_from_road``, ``isolated_road_piece``,
            ``not_geocoded``).
        """
        s = self._snap(points, "points")
        index = _as_geoseries(points, "points").index
        ok = s.seg >= 0
        seg = np.maximum(s.seg, 0)
        nodes = np.fromiter([*self._nodes, None], dtype=object, count=self.n_nodes + 1)
        u = np.where(ok, self._seg_a[seg], self.n_nodes)
        v = np.where(ok, self._seg_b[seg], self.n_nodes)
        on_road = np.full(len(ok), None, dtype=object)
        if ok.any():
            p = shapely.line_interpolate_point(self._seg_geom_m[seg[ok]], s.t[ok], normalized=True)
            on_road[ok] = self._transform(p, self._to_ll)
        return gpd.GeoDataFrame(
            {
                "u": nodes[u],
                "v": nodes[v],
                "two_way": np.where(ok, self._seg_two_way[seg], False),
                "fraction": s.t,
                "snap_m": s.snap_m,
                "offroad_s": s.leg_s,
                "reason": np.asarray(REACH_REASONS, dtype=object)[s.reason],
            },
            geometry=on_road,
            index=index,
            crs=CRS,
        )

    # ----------------------------------------------------------------- searches

    def _matrix(self, reverse: bool) -> sparse.csr_matrix:
        if not reverse:
            return self._csr
        if self._csr_t is None:
            self._csr_t = self._csr.transpose().tocsr()
        return self._csr_t

    def _seg_costs(self, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cost a -> b and b -> a along each segment (inf where not allowed)."""
        if reverse:
            return self._seg_tt_b, self._seg_tt_f
        return self._seg_tt_f, self._seg_tt_b

    def _extended(self, src: _Snap, usable: np.ndarray, reverse: bool) -> sparse.csr_matrix:
        """The graph with one virtual node per usable source, joined to its edge's ends."""
        base = self._matrix(reverse)
        n = self.n_nodes
        tt_ab, tt_ba = self._seg_costs(reverse)
        j = np.flatnonzero(usable)
        seg, t, leg = src.seg[j], src.t[j], src.leg_s[j]
        a, b = self._seg_a[seg], self._seg_b[seg]
        # to a: backwards along the segment (or 0 at a); to b: forwards (or 0 at b)
        part_a, part_b = _end_parts_s(t, tt_ba[seg], tt_ab[seg])
        cost_a, cost_b = part_a + leg, part_b + leg
        rows = np.concatenate([np.arange(len(j)), np.arange(len(j))])
        cols = np.concatenate([a, b])
        cost = np.concatenate([cost_a, cost_b])
        fin = np.isfinite(cost)
        rows, cols, cost = rows[fin], cols[fin], cost[fin]
        order = np.lexsort((cols, rows))
        rows, cols, cost = rows[order], cols[order], cost[order]
        counts = np.bincount(rows, minlength=len(j))
        indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
        indices = np.concatenate([base.indices, cols.astype(base.indices.dtype)])
        data = np.concatenate([base.data, cost])
        m = n + len(j)
        return sparse.csr_matrix((data, indices, indptr), shape=(m, m))

    def _travel(
        self, src: _Snap, dst: _Snap, *, reverse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Least time from any usable source to each target: eta_s, source position, reason."""
        n = self.n_nodes
        usable = src.seg >= 0
        j = np.flatnonzero(usable)
        nt = len(dst.seg)
        eta = np.full(nt, np.inf)
        best = np.full(nt, -1, dtype=np.int64)
        if len(j) == 0:
            return self._finish(eta, best, dst)
        M = self._extended(src, usable, reverse)
        dist, _, origin = csgraph.dijkstra(
            M,
            directed=True,
            indices=np.arange(n, n + len(j)),
            min_only=True,
            return_predecessors=True,
        )
        origin = np.where(origin >= n, origin - n, -1)
        origin = np.where(origin >= 0, j[np.maximum(origin, 0)], -1)
        tt_ab, tt_ba = self._seg_costs(reverse)
        on = np.flatnonzero(dst.seg >= 0)
        seg, t = dst.seg[on], dst.t[on]
        a, b = self._seg_a[seg], self._seg_b[seg]
        part_a, part_b = _end_parts_s(t, tt_ab[seg], tt_ba[seg])
        cand = np.stack([dist[a] + part_a, dist[b] + part_b])
        cand_src = np.stack([origin[a], origin[b]])
        pick = np.argmin(cand, axis=0)
        e = cand[pick, np.arange(len(on))]
        s_best = cand_src[pick, np.arange(len(on))]
        # sources on the target's own segment: the direct way along it
        e, s_best = self._same_segment(src, j, seg, t, e, s_best, tt_ab, tt_ba)
        eta[on] = e + dst.leg_s[on]
        best[on] = np.where(np.isfinite(e), s_best, -1)
        return self._finish(eta, best, dst)

    def _same_segment(
        self,
        src: _Snap,
        j: np.ndarray,
        seg: np.ndarray,
        t: np.ndarray,
        e: np.ndarray,
        s_best: np.ndarray,
        tt_ab: np.ndarray,
        tt_ba: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        s_seg = src.seg[j]
        order = np.argsort(s_seg, kind="stable")
        s_sorted = s_seg[order]
        lo = np.searchsorted(s_sorted, seg, side="left")
        hi = np.searchsorted(s_sorted, seg, side="right")
        counts = hi - lo
        if not counts.any():
            return e, s_best
        tgt = np.repeat(np.arange(len(seg)), counts)
        start = np.repeat(lo - np.cumsum(counts) + counts, counts)
        pos = order[start + np.arange(len(tgt))]
        sj = j[pos]
        ts, tt_ = src.t[sj], t[tgt]
        sg = seg[tgt]
        direct = _along_s(ts, tt_, tt_ab[sg], tt_ba[sg]) + src.leg_s[sj]
        # the best direct way per target (ties: the earlier source), where it beats the graph
        order = np.lexsort((sj, direct, tgt))
        first = order[np.r_[True, tgt[order][1:] != tgt[order][:-1]]]
        better = direct[first] < e[tgt[first]]
        e = e.copy()
        s_best = s_best.copy()
        e[tgt[first][better]] = direct[first][better]
        s_best[tgt[first][better]] = sj[first][better]
        return e, s_best

    @staticmethod
    def _finish(
        eta: np.ndarray, best: np.ndarray, dst: _Snap
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        reason = dst.reason.copy()
        reached = np.isfinite(eta)
        reason[reached] = _OK
        reason[~reached & (reason == _OK)] = _UNREACHABLE
        eta = np.where(reached, eta, np.nan)
        return eta, best, reason

    def travel_times(
        self,
        sources: gpd.GeoSeries | gpd.GeoDataFrame,
        targets: gpd.GeoSeries | gpd.GeoDataFrame,
        *,
        reverse: bool = False,
    ) -> pd.DataFrame:
        """
        Least travel time between the nearest source and every target, off-road legs included.

        Parameters
        ----------
        sources
            Points (stations, payment points) in any CRS.
        targets
            Points (customers) in any CRS.
        reverse
            False: from the sources to the targets (repair crews); True: from the targets to
            the sources (customers going to a payment point), on the transposed graph.

        Returns
        -------
        pandas.DataFrame
            On the index of ``targets``: ``eta_s`` (NaN where there is none), ``source`` (the
            index label of the best source, None where there is none), ``snap_m`` and
            ``reason`` (``ok`` where a time exists, else ``too_far_from_road``,
            ``isolated_road_piece``, ``unreachable`` or ``not_geocoded``).
        """
        src = self._snap(sources, "sources")
        dst = self._snap(targets, "targets")
        eta, best, reason = self._travel(src, dst, reverse=reverse)
        src_index = _as_geoseries(sources, "sources").index
        labels = np.empty(len(src_index) + 1, dtype=object)
        labels[:-1] = src_index.to_numpy()
        labels[-1] = None
        index = _as_geoseries(targets, "targets").index
        return pd.DataFrame(
            {
                "eta_s": eta,
                "source": labels[np.where(best >= 0, best, len(src_index))],
                "snap_m": dst.snap_m,
                "reason": np.asarray(REACH_REASONS, dtype=object)[reason],
            },
            index=index,
        )


# --------------------------------------------------------------------------- per customer


def _service(
    engine: ReachEngine,
    customers: Any,
    sources: Any,
    *,
    limit_s: float,
    id_column: str,
    reverse: bool,
    prefix: str,
    source_name: str,
    id_name: str,
) -> pd.DataFrame:
    if not isinstance(engine, ReachEngine):
        msg = f"`engine` must be a ReachEngine, got {type(engine).__name__}; build one from G"
        raise InputError(msg)
    limit_s = _check_positive(limit_s, "limit_s")
    if len(_as_geoseries(sources, source_name)) == 0:
        msg = f"`{source_name}` has no rows; a reach needs at least one"
        raise EmptyDataError(msg)
    ids = _ids(sources, id_column, source_name)
    src = engine._snap(sources, source_name)
    bad = src.seg < 0
    if bad.all():
        msg = (
            f"no row of `{source_name}` lies within `max_snap_m`={engine.max_snap_m!r} m of a "
            "road (or has a position); check their CRS and positions"
        )
        raise InputError(msg)
    if bad.any():
        names = ids[bad][:5].tolist()
        warnings.warn(
            f"{int(bad.sum())} row(s) of `{source_name}` are not usable "
            f"({names!r}: no position or farther than {engine.max_snap_m} m from a road)",
            stacklevel=3,
        )
    if (src.reason == _ISOLATED).any():
        warnings.warn(
            f"row(s) {ids[src.reason == _ISOLATED][:5].tolist()!r} of `{source_name}` lie on a "
            "small isolated road piece and serve only that piece",
            stacklevel=3,
        )
    dst = engine._snap(customers, "customers")
    eta, best, reason = engine._travel(src, dst, reverse=reverse)
    ok = np.isfinite(eta) & (eta <= limit_s)
    reason = np.where(np.isfinite(eta), np.where(ok, _OK, _OVER), reason)
    id_arr = np.empty(len(ids) + 1, dtype=object)
    id_arr[:-1] = ids
    id_arr[-1] = None
    index = customers.index  # checked by the snapping above
    return pd.DataFrame(
        {
            f"{prefix}_eta_s": eta,
            id_name: id_arr[np.where(best >= 0, best, len(ids))],
            f"{prefix}_ok": ok,
            f"{prefix}_reason": np.asarray(REACH_REASONS, dtype=object)[reason],
            f"{prefix}_snap_m": dst.snap_m,
        },
        index=index,
    )


def repair_reach(
    engine: ReachEngine,
    customers: gpd.GeoDataFrame | gpd.GeoSeries,
    stations: gpd.GeoDataFrame,
    *,
    limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    id_column: str = "station_id",
) -> pd.DataFrame:
    """
    Repair reach: least driving time from any repair station to every customer.

    Station → customer on the directed graph of ``engine`` (a drive-mode graph), off-road legs
    at walking speed at both ends.

    Parameters
    ----------
    engine
        A :class:`ReachEngine` of the drive graph.
    customers
        Customer points in any CRS; missing positions are ``not_geocoded``.
    stations
        Repair stations with an id column.
    limit_s
        The promise (default 1,800 s = 30 minutes).
    id_column
        Station id column.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``repair_eta_s`` (NaN where none), ``repair_station_id``,
        ``repair_ok``, ``repair_reason`` (one of :data:`REACH_REASONS`), ``repair_snap_m``.

    Raises
    ------
    InputError
        If ``limit_s`` is not positive or no station is near a road.
    EmptyDataError
        If ``stations`` is empty.
    MissingColumnError
        If ``id_column`` is missing.
    DuplicateIdError
        If a station id repeats.
    CRSError
        If an input has no CRS.
    """
    return _service(
        engine,
        customers,
        stations,
        limit_s=limit_s,
        id_column=id_column,
        reverse=False,
        prefix="repair",
        source_name="stations",
        id_name="repair_station_id",
    )


def payment_access(
    engine: ReachEngine,
    customers: gpd.GeoDataFrame | gpd.GeoSeries,
    points: gpd.GeoDataFrame,
    *,
    limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    id_column: str = "point_id",
) -> pd.DataFrame:
    """
    Payment access: least travel time from every customer to its nearest payment point.

    Customer → point on the directed graph of ``engine``, whose mode is the travel mode (see
    :data:`DEFAULT_PAYMENT_MODE` in the module docstring; :func:`engines_from_roads`).

    Parameters
    ----------
    engine
        A :class:`ReachEngine` of the graph of the payment travel mode.
    customers
        Customer points in any CRS; missing positions are ``not_geocoded``.
    points
        Payment points with an id column.
    limit_s
        The promise (default 600 s = 10 minutes).
    id_column
        Payment point id column.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``payment_eta_s``, ``payment_point_id``, ``payment_ok``,
        ``payment_reason``, ``payment_snap_m``.

    Raises
    ------
    InputError, EmptyDataError, MissingColumnError, DuplicateIdError, CRSError
        As :func:`repair_reach`.
    """
    return _service(
        engine,
        customers,
        points,
        limit_s=limit_s,
        id_column=id_column,
        reverse=True,
        prefix="payment",
        source_name="points",
        id_name="payment_point_id",
    )


def engines_from_roads(
    roads: gpd.GeoDataFrame,
    *,
    payment_mode: str = DEFAULT_PAYMENT_MODE,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
) -> dict[str, ReachEngine]:
    """
    Build the repair (drive) and payment engines from a roads layer.

    Parameters
    ----------
    roads
        The roads layer (see :func:`gridgeo.network.graph_from_roads`).
    payment_mode
        Travel mode of the payment trip: ``"two_wheeler"`` (default), ``"walk"`` or ``"drive"``.
    max_snap_m, min_component_nodes
        Passed to :class:`ReachEngine`.

    Returns
    -------
    dict
        ``{"repair": ReachEngine, "payment": ReachEngine}`` (the same engine if
        ``payment_mode="drive"``).
    """
    engines: dict[str, ReachEngine] = {}
    for service, mode in (("repair", "drive"), ("payment", payment_mode)):
        if service == "payment" and mode == "drive":
            engines[service] = engines["repair"]
            continue
        engines[service] = ReachEngine.from_roads(
            roads, mode=mode, max_snap_m=max_snap_m, min_component_nodes=min_component_nodes
        )
    return engines


def customer_access(
    repair_engine: ReachEngine,
    payment_engine: ReachEngine,
    customers: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    customer_id_column: str = "customer_id",
    station_id_column: str = "station_id",
    point_id_column: str = "point_id",
) -> pd.DataFrame:
    """
    The ``customer_access`` table of the data model: repair reach and payment access together.

    Parameters
    ----------
    repair_engine
        Engine of the drive graph.
    payment_engine
        Engine of the payment mode's graph (:data:`DEFAULT_PAYMENT_MODE`).
    customers
        Customers (any CRS) with ``customer_id_column``.
    stations, points
        Repair stations and payment points.
    repair_limit_s, payment_limit_s
        The two promises.
    customer_id_column, station_id_column, point_id_column
        Id columns.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``customer_id``, ``repair_eta_s``,
        ``repair_station_id``, ``repair_ok``, ``repair_reason``, ``payment_eta_s``,
        ``payment_point_id``, ``payment_ok``, ``payment_reason``, ``reason`` (``ok`` when both
        promises hold, else the repair reason if repair fails, else the payment reason).
    """
    cust_ids = _ids(customers, customer_id_column, "customers")
    rep = repair_reach(
        repair_engine, customers, stations, limit_s=repair_limit_s, id_column=station_id_column
    )
    pay = payment_access(
        payment_engine, customers, points, limit_s=payment_limit_s, id_column=point_id_column
    )
    reason = np.where(
        ~rep["repair_ok"].to_numpy(),
        rep["repair_reason"].to_numpy(),
        pay["payment_reason"].to_numpy(),
    )
    out = pd.DataFrame({"customer_id": cust_ids}, index=customers.index)
    cols = ["repair_eta_s", "repair_station_id", "repair_ok", "repair_reason"]
    out[cols] = rep[cols]
    cols = ["payment_eta_s", "payment_point_id", "payment_ok", "payment_reason"]
    out[cols] = pay[cols]
    out["reason"] = reason
    return out


# --------------------------------------------------------------------------- KPIs


def _flag(values: pd.Series, true_values: Sequence[str]) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        return values.fillna(0).to_numpy() != 0
    text = values.astype("string").str.strip().str.lower()
    return text.isin([v.lower() for v in true_values]).fillna(False).to_numpy(dtype=bool)


def _group_stats(data: pd.DataFrame, key: str, services: list[str]) -> pd.DataFrame:
    g = data.groupby(key, sort=True)
    out = pd.DataFrame({"customers": g.size()})
    out["hv_customers"] = g["_hv"].sum()
    out["vulnerable_customers"] = g["_vuln"].sum()
    for s in services:
        ok = data[f"{s}_ok"].astype(bool)
        w = data["_w"]
        out[f"{s}_ok_n"] = ok.groupby(data[key]).sum()
        out[f"{s}_share_ok"] = out[f"{s}_ok_n"] / out["customers"]
        for flag, name in (("_hv", "hv"), ("_vuln", "vulnerable")):
            sub = data[flag]
            num = (ok & sub).groupby(data[key]).sum()
            den = sub.groupby(data[key]).sum()
            out[f"{s}_share_ok_{name}"] = (num / den.where(den > 0)).astype(float)
        out[f"{s}_share_ok_weighted"] = (w * ok).groupby(data[key]).sum() / w.groupby(
            data[key]
        ).sum()
        eta = data[f"{s}_eta_s"]
        ge = eta.groupby(data[key])
        out[f"{s}_median_eta_s"] = ge.median()
        out[f"{s}_p95_eta_s"] = ge.quantile(0.95)
    return out


def reach_kpis(
    access: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    grid_columns: Mapping[str, str] = DEFAULT_GRID_COLUMNS,
    village_column: str = "village_code",
    hv_column: str | None = "voltage_class",
    vulnerable_column: str | None = "vulnerable",
    weights: Mapping[str, float] = DEFAULT_KPI_WEIGHTS,
    n_worst_villages: int = DEFAULT_N_WORST_VILLAGES,
) -> dict[str, pd.DataFrame]:
    """
    Service-level KPIs per grid of each tier, per village and for the county.

    Parameters
    ----------
    access
        The result of :func:`customer_access`, :func:`repair_reach` or
        :func:`payment_access` (the services present are summarised).
    customers
        Customer attributes on the same index: the grid id per tier, the village, HV and
        vulnerable flags.
    grid_columns
        Tier name → column of grid ids (default ``{"tier2": "grid_t2", "tier3": "grid_t3"}``).
        Customers without a grid are counted in the grid ``"unassigned"``.
    village_column
        Village column (``village_code``).
    hv_column
        High-voltage flag: bool, or a voltage class (``"HV"`` counts); None for no HV KPIs.
    vulnerable_column
        Vulnerable-customer flag (bool); None for none.
    weights
        ``{"hv": w, "vulnerable": w}``: weight of an HV and of a vulnerable customer in the
        weighted share (multiplied when both; others weigh 1).
    n_worst_villages
        How many villages ``worst_villages`` lists per grid.

    Returns
    -------
    dict of pandas.DataFrame
        ``"county"`` (one row), one table per key of ``grid_columns`` (indexed by grid id) and
        ``"villages"`` (indexed by village), each with ``customers``, ``hv_customers``,
        ``vulnerable_customers`` and per service (``repair``, ``payment``): ``{s}_ok_n``,
        ``{s}_share_ok``, ``{s}_share_ok_hv``, ``{s}_share_ok_vulnerable``,
        ``{s}_share_ok_weighted``, ``{s}_median_eta_s`` and ``{s}_p95_eta_s`` (over the
        customers with a travel time; linear interpolation as ``numpy.percentile``); the
        county and grid tables add ``worst_villages`` (codes of the villages with the lowest
        share of customers for whom every promise holds, only villages below 100 %, separated
        by ``"; "``). ``"non_compliant"`` lists each customer for whom a promise fails, with
        the grid ids, village, times and reasons.

    Raises
    ------
    InputError
        If no service is in ``access`` or the indexes differ.
    MissingColumnError
        If a named column is missing.
    """
    services = [s for s in ("repair", "payment") if f"{s}_ok" in access.columns]
    if not services:
        msg = (
            "`access` has neither `repair_ok` nor `payment_ok`; pass the result of "
            "`customer_access`, `repair_reach` or `payment_access`"
        )
        raise InputError(msg)
    for s in services:
        for col in (f"{s}_eta_s", f"{s}_reason"):
            if col not in access.columns:
                msg = f"`access` has no column {col!r}; pass an unmodified reach result"
                raise MissingColumnError(msg)
    if not access.index.equals(customers.index):
        msg = (
            "`access` and `customers` must share their index (the reach functions keep the "
            "customers' index); align them with `customers.loc[access.index]`"
        )
        raise InputError(msg)
    needed = [*grid_columns.values(), village_column]
    needed += [c for c in (hv_column, vulnerable_column) if c is not None]
    for col in needed:
        if col not in customers.columns:
            msg = (
                f"`customers` has no column {col!r} (columns: {list(customers.columns)!r}); "
                "pass the right name or None"
            )
            raise MissingColumnError(msg)
    if isinstance(n_worst_villages, bool) or not isinstance(n_worst_villages, int | np.integer):
        msg = f"`n_worst_villages` must be an int, got {n_worst_villages!r}"
        raise InputError(msg)
    w_hv = _check_positive(weights.get("hv", 1.0), "weights['hv']")
    w_vuln = _check_positive(weights.get("vulnerable", 1.0), "weights['vulnerable']")

    data = pd.DataFrame(index=access.index)
    for s in services:
        data[f"{s}_ok"] = access[f"{s}_ok"].fillna(False).astype(bool)
        data[f"{s}_eta_s"] = access[f"{s}_eta_s"].astype(float)
        data[f"{s}_reason"] = access[f"{s}_reason"]
    data["_all_ok"] = np.logical_and.reduce([data[f"{s}_ok"] for s in services])
    n = len(data)
    data["_hv"] = (
        _flag(customers[hv_column], ("hv", "true", "yes", "1", "高压"))
        if hv_column
        else np.zeros(n, dtype=bool)
    )
    data["_vuln"] = (
        _flag(customers[vulnerable_column], ("true", "yes", "1", "是"))
        if vulnerable_column
        else np.zeros(n, dtype=bool)
    )
    data["_w"] = np.where(data["_hv"], w_hv, 1.0) * np.where(data["_vuln"], w_vuln, 1.0)
    for tier, col in grid_columns.items():
        data[f"_grid_{tier}"] = customers[col].astype("string").fillna(UNASSIGNED)
    data["_village"] = customers[village_column].astype("string").fillna(UNASSIGNED)
    data["_county"] = "county"

    out: dict[str, pd.DataFrame] = {}
    villages = _group_stats(data, "_village", services)
    for tier, key in [("county", "_county")] + [(t, f"_grid_{t}") for t in grid_columns]:
        table = _group_stats(data, key, services)
        pairs = (
            data.groupby([key, "_village"], sort=True)
            .agg(_share=("_all_ok", "mean"), _n=("_all_ok", "size"))
            .reset_index()
        )
        pairs = pairs[pairs["_share"] < 1.0].sort_values(
            [key, "_share", "_n", "_village"], ascending=[True, True, False, True], kind="stable"
        )
        worst = pairs.groupby(key, sort=True)["_village"].agg(
            lambda v: "; ".join(v.iloc[: int(n_worst_villages)])
        )
        table["worst_villages"] = worst.reindex(table.index).fillna("")
        table.index.name = "grid_id" if tier != "county" else None
        out[tier] = table
    villages.index.name = village_column
    out["villages"] = villages

    bad = ~data["_all_ok"]
    nc = pd.DataFrame(index=access.index[bad.to_numpy()])
    if "customer_id" in access.columns:
        nc["customer_id"] = access.loc[bad, "customer_id"]
    for col in grid_columns.values():
        nc[col] = customers.loc[bad, col]
    nc[village_column] = customers.loc[bad, village_column]
    for s in services:
        for c in (f"{s}_eta_s", f"{s}_ok", f"{s}_reason"):
            nc[c] = data.loc[bad, c]
    out["non_compliant"] = nc
    return out


def _pct(value: Any) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100.0 * value:.1f}%"


def _minutes(value: Any) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value / 60.0:.1f} 分钟"


_REASON_ZH = {
    "ok": "达标",
    "over_limit": "超出时限",
    "too_far_from_road": "离道路过远",
    "isolated_road_piece": "位于孤立路段",
    "unreachable": "道路不可达",
    "not_geocoded": "未定位",
}


def summary_zh(
    kpis: Mapping[str, pd.DataFrame],
    *,
    title: str = "供电服务可达性摘要",
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    n_grids: int = 5,
    village_names: Mapping[str, str] | None = None,
) -> str:
    """
    A one-page Chinese summary (Markdown) of :func:`reach_kpis`.

    Parameters
    ----------
    kpis
        The result of :func:`reach_kpis`.
    title
        Heading, e.g. ``"南丰县供电服务可达性摘要"``.
    repair_limit_s, payment_limit_s
        The promises, for the wording ("30 分钟", "10 分钟").
    n_grids
        How many of the lowest grids of each tier to list.
    village_names
        Village code → name, for the worst villages.

    Returns
    -------
    str
        Markdown text: county figures, reasons of non-compliance, the lowest grids per tier and
        the worst villages. Shares have one decimal (``97.3%``), times are in minutes.
    """
    if "county" not in kpis or "non_compliant" not in kpis:
        msg = "`kpis` must be the result of `reach_kpis` (keys 'county', 'non_compliant', ...)"
        raise InputError(msg)
    county = kpis["county"].iloc[0]
    services = [s for s in ("repair", "payment") if f"{s}_share_ok" in kpis["county"].columns]
    label = {
        "repair": f"{repair_limit_s / 60:g} 分钟抢修到达率",
        "payment": f"{payment_limit_s / 60:g} 分钟缴费可达率",
    }
    lines = [f"# {title}", "", "## 全县", "", f"- 客户数：{int(county['customers']):,} 户"]
    for s in services:
        lines.append(
            f"- {label[s]}：{_pct(county[f'{s}_share_ok'])}"
            f"（高压客户 {_pct(county[f'{s}_share_ok_hv'])}，"
            f"重点关怀客户 {_pct(county[f'{s}_share_ok_vulnerable'])}，"
            f"加权 {_pct(county[f'{s}_share_ok_weighted'])}）；"
            f"用时中位数 {_minutes(county[f'{s}_median_eta_s'])}，"
            f"95 分位 {_minutes(county[f'{s}_p95_eta_s'])}"
        )
    nc = kpis["non_compliant"]
    lines += ["", f"## 未达标客户：{len(nc):,} 户", ""]
    for s in services:
        counts = nc.loc[~nc[f"{s}_ok"].astype(bool), f"{s}_reason"].value_counts()
        if len(counts) == 0:
            continue
        parts = "，".join(
            f"{_REASON_ZH.get(str(r), str(r))} {int(c):,} 户"
            for r, c in sorted(counts.items(), key=lambda rc: (-rc[1], str(rc[0])))
        )
        lines.append(f"- {'抢修' if s == 'repair' else '缴费'}：{parts}")
    tiers = [k for k in kpis if k not in ("county", "villages", "non_compliant")]
    tier_zh = {"tier2": "二级网格", "tier3": "三级网格"}
    for tier in tiers:
        table = kpis[tier]
        key = [f"{s}_share_ok" for s in services]
        low = table.sort_values([*key, "customers"], ascending=[True] * len(key) + [False])
        low = low.head(int(n_grids))
        lines += ["", f"## 达标率最低的{tier_zh.get(tier, tier)}", ""]
        header = "| 网格 | 客户数 | " + " | ".join(label[s] for s in services) + " |"
        lines += [header, "|" + "---|" * (2 + len(services))]
        for gid, row in low.iterrows():
            cells = " | ".join(_pct(row[f"{s}_share_ok"]) for s in services)
            lines.append(f"| {gid} | {int(row['customers']):,} | {cells} |")
    worst = str(county.get("worst_villages", "") or "")
    if worst:
        names = village_names or {}
        vt = kpis["villages"]
        lines += ["", "## 最需关注的村", ""]
        for code in worst.split("; "):
            row = vt.loc[code]
            shares = "，".join(f"{label[s]} {_pct(row[f'{s}_share_ok'])}" for s in services)
            name = names.get(code, "")
            lines.append(f"- {code}{(' ' + name) if name else ''}：{shares}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- isochrones


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Parts of metric ``lines`` between the fractions ``start`` < ``end`` (vectorised)."""
    if len(lines) == 0:
        return np.empty(0, dtype=object)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    length = shapely.length(lines)
    step = np.zeros(len(coords))
    same = which[1:] == which[:-1]
    step[1:] = np.where(same, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
    cum = np.cumsum(step)
    offset = np.zeros(len(lines))
    firsts = np.flatnonzero(np.r_[True, ~same])
    offset[which[firsts]] = cum[firsts]
    cum = cum - offset[which]
    a, b = start * length, end * length
    inner = (cum > a[which]) & (cum < b[which])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines, a))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, b))
    n = len(lines)
    all_xy = np.concatenate([p0, coords[inner], p1])
    all_idx = np.concatenate([np.arange(n), which[inner], np.arange(n)])
    all_key = np.concatenate([np.full(n, -np.inf), cum[inner], np.full(n, np.inf)])
    order = np.lexsort((all_key, all_idx))
    return shapely.linestrings(all_xy[order], indices=all_idx[order])


def _reached_lines(
    engine: ReachEngine,
    dist: np.ndarray,
    src: _Snap,
    cols: np.ndarray,
    band_s: float,
    *,
    reverse: bool,
) -> np.ndarray:
    """Metric lines of every road part reached within ``band_s`` (``dist`` over all nodes)."""
    a, b = engine._seg_a, engine._seg_b
    geom = engine._seg_geom_m
    # costs of moving a -> b and b -> a in the searched direction
    tt_f, tt_b = engine._seg_costs(reverse)
    pieces = []
    with np.errstate(divide="ignore", invalid="ignore"):
        # forwards from a, backwards from b
        fa = np.where(dist[a] <= band_s, np.clip((band_s - dist[a]) / tt_f, 0.0, 1.0), 0.0)
        fa = np.where((dist[a] <= band_s) & (tt_f == 0), 1.0, fa)
        fb = np.where(dist[b] <= band_s, np.clip((band_s - dist[b]) / tt_b, 0.0, 1.0), 0.0)
        fb = np.where((dist[b] <= band_s) & (tt_b == 0), 1.0, fb)
    full = np.minimum(fa + fb, 1.0) >= 1.0
    k = np.flatnonzero(full)
    pieces.append(geom[k])
    k = np.flatnonzero(~full & (fa > 0))
    pieces.append(_substrings(geom[k], np.zeros(len(k)), fa[k]))
    k = np.flatnonzero(~full & (fb > 0))
    pieces.append(_substrings(geom[k], 1.0 - fb[k], np.ones(len(k))))
    # the sources' own segments and off-road legs
    j = cols[src.leg_s[cols] <= band_s]
    if len(j):
        seg, t, rest = src.seg[j], src.t[j], band_s - src.leg_s[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.minimum(1.0, t + np.where(tt_f[seg] > 0, rest / tt_f[seg], np.inf))
            down = np.maximum(0.0, t - np.where(tt_b[seg] > 0, rest / tt_b[seg], np.inf))
        m = up > t
        pieces.append(_substrings(geom[seg[m]], t[m], up[m]))
        m = down < t
        pieces.append(_substrings(geom[seg[m]], down[m], t[m]))
        on_road = shapely.line_interpolate_point(geom[seg], t, normalized=True)
        legs = shapely.shortest_line(shapely.points(src.xy[j]), on_road)
        pieces.append(legs)
        pieces.append(shapely.points(src.xy[j]))
    out = np.concatenate(pieces)
    return out[~shapely.is_empty(out)]


def isochrones(
    engine: ReachEngine,
    stations: gpd.GeoDataFrame,
    *,
    bands_s: Sequence[float] = DEFAULT_BANDS_S,
    per_station: bool = True,
    buffer_m: float = DEFAULT_ISOCHRONE_BUFFER_M,
    id_column: str = "station_id",
    reverse: bool = False,
) -> gpd.GeoDataFrame:
    """
    Areas reached within each time band, per station and for all stations together.

    The area of a band is the union of every road part reached within the band (edges reached
    in part are cut at the reached fraction; the stations' own edges and off-road legs
    included), buffered by ``buffer_m`` in the metric CRS. It follows the roads: it is never a
    convex hull, and a valley without a road stays outside.

    Parameters
    ----------
    engine
        The engine of the drive graph.
    stations
        Repair stations (or any sources) with an id column.
    bands_s
        Upper bounds of the bands, seconds (default 10, 20, 30 minutes).
    per_station
        Also return each station's own areas (each as if it were alone).
    buffer_m
        Half-width of the area around the reached roads.
    id_column
        Station id column.
    reverse
        Times towards the stations instead of from them (payment points).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per (station, band): ``station_id`` (``"all"`` for all stations
        together), ``band_s``, ``area_km2`` and the (Multi)Polygon ``geometry``; the ``"all"``
        rows first, then by station order and band.

    Raises
    ------
    InputError
        If ``bands_s`` is empty or not positive, or no station is near a road.
    """
    bands = np.asarray(list(bands_s), dtype=float)
    if bands.size == 0 or not np.all(np.isfinite(bands)) or np.any(bands <= 0):
        msg = f"`bands_s` must be positive seconds, got {bands_s!r}"
        raise InputError(msg)
    bands = np.unique(bands)
    buffer_m = _check_positive(buffer_m, "buffer_m")
    ids = _ids(stations, id_column, "stations")
    src = engine._snap(stations, "stations")
    usable = src.seg >= 0
    if not usable.any():
        msg = f"no row of `stations` lies within `max_snap_m`={engine.max_snap_m!r} m of a road"
        raise InputError(msg)
    j = np.flatnonzero(usable)
    n = engine.n_nodes
    M = engine._extended(src, usable, reverse)
    limit = float(bands.max())
    runs: list[tuple[Any, np.ndarray, np.ndarray]] = []
    dist = csgraph.dijkstra(
        M, directed=True, indices=np.arange(n, n + len(j)), min_only=True, limit=limit
    )
    runs.append((ALL_STATIONS, dist, j))
    if per_station:
        for pos, jj in enumerate(j):
            d = csgraph.dijkstra(M, directed=True, indices=n + pos, limit=limit)
            runs.append((ids[jj], d, np.array([jj])))
    rows = []
    for sid, dist, cols in runs:
        for band in bands:
            lines = _reached_lines(engine, dist, src, cols, float(band), reverse=reverse)
            # one buffer per part, then a cascaded union: far faster than buffering a
            # collection; simplifying by 2 % of the buffer moves the edge by at most that
            parts = shapely.buffer(shapely.simplify(lines, 0.02 * buffer_m), buffer_m, quad_segs=4)
            area = shapely.union_all(parts)
            rows.append((sid, float(band), float(shapely.area(area)) / 1e6, area))
    geoms = ReachEngine._transform(np.array([r[3] for r in rows], dtype=object), engine._to_ll)
    return gpd.GeoDataFrame(
        {
            "station_id": [r[0] for r in rows],
            "band_s": [r[1] for r in rows],
            "area_km2": [r[2] for r in rows],
        },
        geometry=geoms,
        crs=CRS,
    )
