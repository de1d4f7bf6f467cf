"""The road engine: a compiled road graph per travel mode, with exact nearest-edge snapping.

NetworkX is the public graph model (:mod:`gridgeo.network`); :class:`ReachEngine` is its compiled
form for bulk work: a ``scipy.sparse`` CSR matrix of travel times, weakly connected components,
and the road segments in a metric CRS for snapping points to the nearest edge. The searches over
it live in :mod:`gridgeo.routing.search`.

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
``isolated_road_piece``. Payment points and repair stations are snapped the same way, with
their own off-road legs; one that cannot be snapped is left out with a warning.

A point whose position on the road lies within :data:`AT_NODE_M` (1 µm, measured along its
edge) of an end of the edge is **at that node**: its fraction along the edge is exactly 0 or 1,
and every search treats it as the node itself (it reaches the node and leaves it in 0 s, also
on a one-way edge, where the partial-edge arithmetic of :func:`end_parts_s` and
:func:`along_s` never forms 0 * inf). The rule is a distance, not a fraction of the edge, so
that the answer does not depend on the edge's length or on the CRS a point came in: a junction
given in EPSG:3857, a national or provincial CRS or through a GCJ-02 round trip lands some
1e-10 m from its node (rounding along a long edge is of the same order), and without the rule
a point at the end of a one-way edge would have to drive the whole edge. Which of the edges
meeting at a node the point snaps to then does not matter: from any of them it is the node.

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
(densified to pieces of at most 12.5 m) gives candidate pieces, the point-to-piece distances are
numpy arithmetic, and the few points for which the candidates cannot be proven complete (a
piece at distance ``d`` has an end within ``sqrt(d**2 + h**2)``, ``h`` half the longest piece)
go to more neighbours, then to a shapely STRtree. The search looks no farther than the
radius in which a piece within ``max_snap_m`` has an end: a point beyond it is too far from
the road, whatever its exact distance. The points are searched in chunks of 16,384 in Z-order
(neighbours together, so that a chunk's tree walks and road look-ups stay in the CPU cache)
on all CPUs (threads: the KD-tree and numpy let go of the GIL). The KD-tree walk is most of
it: on this project's 2-core machine snapping the 10^6 customers of the 10^6-node sample
county takes 1.1 s, 2.0-2.3x faster than the first version (25 m pieces, unbounded search in
the customers' order; see ``benchmarks/bench_reach.py``).

Snap once, reuse
----------------
Customers and roads change far less often than reaches are asked for, and snapping is most of
a reach: :meth:`ReachEngine.snap_points` returns a :class:`Snap` that can be kept (a workspace
stores it: :func:`gridgeo.workspace.read_customer_snaps`) and passed back to the reach
functions. A snap carries the :attr:`ReachEngine.fingerprint` of its engine, a hash of the
compiled graph, the segments and the snapping settings, and :meth:`ReachEngine.check_snap`
refuses it for an engine of another fingerprint or another number of points.

Searches
--------
Each query is one multi-source ``scipy.sparse.csgraph.dijkstra`` call from
virtual source nodes that are joined to both ends of their snapped edge with the partial-edge
times; every target's time is then the least over the two ends of its own edge (plus the direct
way when a source lies on the same edge), all in numpy. On this project's 2-core machine the
10^6-node sample county with 10^6 customers takes about 4.5 s end to end from its roads layer
(about 8.4 s from a NetworkX graph; engine build and snapping included), and 0.28 s with the
customers' snaps stored: 1.6x the ``scipy.sparse.csgraph.dijkstra`` call alone (see
``benchmarks/bench_reach.py``).

"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Mapping
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

from gridgeo._validate import as_geoseries, check_points, check_positive
from gridgeo.crs import metric_crs
from gridgeo.errors import CRSError, GraphError, InputError
from gridgeo.network import MIN_EDGE_LENGTH_M, WALK_SPEED_KPH, coords_lengths_m, road_lines
from gridgeo.settings import CRS, DEFAULT_SETTINGS

__all__ = [
    "AT_NODE_M",
    "CRS",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_MIN_COMPONENT_NODES",
    "REACH_REASONS",
    "ReachEngine",
    "Snap",
    "along_s",
    "end_parts_s",
    "ranges",
    "reason_code",
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

DEFAULT_MAX_SNAP_M = DEFAULT_SETTINGS.max_snap_m
DEFAULT_MIN_COMPONENT_NODES = DEFAULT_SETTINGS.min_component_nodes

_WGS84 = pyproj.CRS(CRS)
AT_NODE_M = 1e-6  # a snapped position this close to an edge's end (along it) is at that node
# longest straight piece of the snapping KD-tree's densified roads: half of it bounds the
# completeness test, so 12.5 m (not 25 m) settles 97 % of the points of the 10^6-node county
# in the first round instead of 70 %, for 8 % more vertices
_PIECE_M = 12.5
_KD_NEIGHBOURS = (5, 20, 128)  # nearest vertices tried, in rounds
# points per chunk of the snapping, in Z-order: a chunk's KD-tree walks and road look-ups
# then stay in the CPU cache (2-3x faster at 10^6 points)
_KD_CHUNK = 16_384
_KD_WORKERS = 8  # threads of the snapping, at most (and at most the CPUs)
_SURE_MARGIN_M = 1e-6  # rounding margin of the KD-tree completeness test
# version of the snapping rules, in ReachEngine.fingerprint: raise it when a change of the
# rules changes where points snap, so that stored snaps are made again
_SNAP_RULES = 1


def reason_code(reason: str) -> int:
    """The int8 code of a reason of :data:`REACH_REASONS` (as in :attr:`Snap.reason`)."""
    return REACH_REASONS.index(reason)


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    """A cached transformer (creating one costs ~0.2 s)."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def end_parts_s(
    t: np.ndarray, cost_a: np.ndarray, cost_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Times of the two parts of a segment cut at fraction ``t``: between end a and the point
    (``t * cost_a``) and between the point and end b (``(1 - t) * cost_b``), with the costs of
    the direction travelled on each part; 0 for a point at that end (``t`` exactly 0 or 1, as
    :meth:`ReachEngine.snap_points` sets it within :data:`AT_NODE_M`), also where the cost is
    inf (a one-way road)."""
    with np.errstate(invalid="ignore"):  # 0 * inf where the point is at a node
        part_a = np.where(t == 0.0, 0.0, t * cost_a)
        part_b = np.where(t == 1.0, 0.0, (1.0 - t) * cost_b)
    return part_a, part_b


def along_s(
    t_from: np.ndarray, t_to: np.ndarray, cost_ab: np.ndarray, cost_ba: np.ndarray
) -> np.ndarray:
    """Time along one segment from fraction ``t_from`` to ``t_to``: inf against a one-way road,
    0 where the two points coincide (also on a one-way road, where 0 * inf would be NaN)."""
    with np.errstate(invalid="ignore"):
        fwd = np.where(t_to >= t_from, (t_to - t_from) * cost_ab, np.inf)
        bwd = np.where(t_to <= t_from, (t_from - t_to) * cost_ba, np.inf)
    return np.where(t_to == t_from, 0.0, np.minimum(fwd, bwd))


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
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


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """The low 16 bits of ``v`` (int64, non-negative) moved to the even bit positions."""
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


def _zorder_code(xy: np.ndarray) -> np.ndarray:
    """Z-order (Morton) codes of finite points on a 65,536 x 65,536 grid over their extent, in
    any CRS: sorted by code, points near each other come near each other. (The order within a
    cell is left open: it changes which chunk a point is searched in, never its answer.)"""
    lo = xy.min(axis=0)
    span = float((xy.max(axis=0) - lo).max()) or 1.0
    q = np.minimum((xy - lo) * (65536.0 / span), 65535.0).astype(np.int64)
    return _spread_bits(q[:, 0]) | (_spread_bits(q[:, 1]) << 1)


def _transform_geoms(geoms: np.ndarray, transformer: pyproj.Transformer) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


@dataclass(frozen=True)
class Snap:
    """Where a set of points joins the road graph of one engine (positional arrays).

    A snap is tied to the engine that made it (segment numbers are the engine's) and can be
    stored and reused as long as the roads and the points do not change: see
    :meth:`ReachEngine.snap_points` and :meth:`to_frame` / :meth:`from_frame`. It carries the
    :attr:`ReachEngine.fingerprint` of that engine, and :meth:`ReachEngine.check_snap` refuses
    it for another engine (other roads or snapping settings) or another number of points.

    Attributes
    ----------
    seg
        Segment number of each point, -1 where not snapped.
    t
        Fraction along the segment (its ``a`` end to its ``b`` end), NaN where not snapped.
    snap_m
        Off-road distance to the road, metres; NaN where not snapped or not geocoded.
    leg_s
        Walking time of the off-road leg, seconds.
    reason
        int8 code into :data:`REACH_REASONS` (``ok``, ``too_far_from_road``,
        ``isolated_road_piece`` or ``not_geocoded``).
    xy
        The points in the engine's metric CRS (NaN where missing).
    fingerprint
        :attr:`ReachEngine.fingerprint` of the engine that made the snap (None: unknown, which
        no engine accepts in :meth:`ReachEngine.check_snap`).
    """

    seg: np.ndarray
    t: np.ndarray
    snap_m: np.ndarray
    leg_s: np.ndarray
    reason: np.ndarray
    xy: np.ndarray
    fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.seg)

    @property
    def usable(self) -> np.ndarray:
        """Where the point is joined to the road graph."""
        return self.seg >= 0

    def take(self, positions: np.ndarray) -> Snap:
        """The snap of the points at ``positions`` (a subset, in that order)."""
        p = np.asarray(positions)
        return Snap(
            seg=self.seg[p],
            t=self.t[p],
            snap_m=self.snap_m[p],
            leg_s=self.leg_s[p],
            reason=self.reason[p],
            xy=self.xy[p],
            fingerprint=self.fingerprint,
        )

    def to_frame(self) -> pd.DataFrame:
        """The snap as a table (for storing): ``seg``, ``t``, ``snap_m``, ``leg_s``,
        ``reason`` (code), ``x_m``, ``y_m``; the engine's fingerprint in
        ``frame.attrs["fingerprint"]``."""
        frame = pd.DataFrame(
            {
                "seg": self.seg.astype(np.int64),
                "t": self.t,
                "snap_m": self.snap_m,
                "leg_s": self.leg_s,
                "reason": self.reason.astype(np.int8),
                "x_m": self.xy[:, 0],
                "y_m": self.xy[:, 1],
            }
        )
        frame.attrs["fingerprint"] = self.fingerprint
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, fingerprint: str | None = None) -> Snap:
        """A snap from :meth:`to_frame`'s table (rows in the points' order), made by the
        engine of ``fingerprint`` (default: ``frame.attrs["fingerprint"]``)."""
        if fingerprint is None:
            fingerprint = frame.attrs.get("fingerprint")
        return cls(
            seg=frame["seg"].to_numpy(dtype=np.int64),
            t=frame["t"].to_numpy(dtype=float),
            snap_m=frame["snap_m"].to_numpy(dtype=float),
            leg_s=frame["leg_s"].to_numpy(dtype=float),
            reason=frame["reason"].to_numpy(dtype=np.int8),
            xy=np.column_stack(
                [frame["x_m"].to_numpy(dtype=float), frame["y_m"].to_numpy(dtype=float)]
            ),
            fingerprint=fingerprint,
        )


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
        r = road_lines(roads, mode, speeds_kph, lengths=False)
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
            lengths = pool.submit(coords_lengths_m, drawn, which, len(keep))
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
        self.max_snap_m = check_positive(max_snap_m, "max_snap_m")
        self.walk_speed_kph = check_positive(walk_speed_kph, "walk_speed_kph")
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
        c1 = coords[ranges(cstart[first], ncoord[first])]
        c2 = coords[ranges(cstart[second], ncoord[second])]
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
        lonlat = coords[ranges(cstart[fwd], ncoord[fwd])]
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
        # the piece from each vertex to the next, and 1 / its squared length: zero from the
        # last vertex of a segment (a piece of no length: the vertex itself, its segment's end)
        nv = len(vxy)
        ab = np.zeros((nv, 2))
        ab[:-1] = vxy[1:] - vxy[:-1]
        ab[~to_next[rep]] = 0.0
        self._v_abx, self._v_aby = ab[:, 0].copy(), ab[:, 1].copy()
        ab2 = self._v_abx * self._v_abx + self._v_aby * self._v_aby
        with np.errstate(divide="ignore"):
            self._v_inv_ab2 = np.where(ab2 > 0, 1.0 / ab2, 0.0)
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

    @cached_property
    def _node_segs(self) -> tuple[np.ndarray, np.ndarray]:
        """The segments at each node, as CSR arrays ``(indptr, seg)``: the segments with an
        end at node ``i`` are ``seg[indptr[i] : indptr[i + 1]]`` (a route's steps are looked
        up here, in time linear in the route, not in the graph)."""
        ends = np.concatenate([self._seg_a, self._seg_b])
        order = np.argsort(ends, kind="stable")
        indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=self.n_nodes), out=indptr[1:])
        return indptr, (order % len(self._seg_a)).astype(np.int32)

    @cached_property
    def fingerprint(self) -> str:
        """A short stable hash (16 hex digits) of everything a :class:`Snap` depends on.

        The compiled graph (CSR matrix), the segments (ends, costs each way, metric
        coordinates), the metric CRS, the mode and the snapping settings (``max_snap_m``,
        ``min_component_nodes``, ``walk_speed_kph``) and the version of the snapping rules. Two
        engines built from the same roads the same way have the same fingerprint, in any
        process; a stored snap is reused only with an engine of its fingerprint.
        """
        h = hashlib.sha256()  # hardware-accelerated on most CPUs: ~0.1 s at 10^6 nodes
        head = (
            f"gridgeo-snap/{_SNAP_RULES};{self.mode!r};{self.crs.to_wkt()};"
            f"{self.max_snap_m!r};{self.min_component_nodes!r};{self.walk_speed_kph!r};"
            f"{self.n_nodes};{len(self._seg_a)}"
        )
        h.update(head.encode())
        for arr, dtype in (
            (self._csr.indptr, "<i8"),
            (self._csr.indices, "<i8"),
            (self._csr.data, "<f8"),
            (self._seg_a, "<i8"),
            (self._seg_b, "<i8"),
            (self._seg_tt_f, "<f8"),
            (self._seg_tt_b, "<f8"),
            (self._seg_xy, "<f8"),
            (self._seg_which, "<i8"),
        ):
            h.update(np.ascontiguousarray(arr, dtype=dtype).data)
        return h.hexdigest()[:16]

    def to_lonlat(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries in the engine's metric CRS (:attr:`crs`) to EPSG:4326 lon/lat."""
        return _transform_geoms(np.asarray(geoms, dtype=object), self._to_ll)

    def __repr__(self) -> str:
        return (
            f"ReachEngine(n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"segments={len(self._seg_a)}, crs={self.crs.to_string()!r}, mode={self.mode!r})"
        )

    # ----------------------------------------------------------------- snapping

    def _points_m(self, points: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        xy, ok, _ = self._points_m_ordered(points, name, sort=False)
        return xy, ok

    def _points_m_ordered(
        self, points: Any, name: str, *, sort: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The points in the metric CRS, where they are usable (finite), and the Z-order of
        the usable ones for :meth:`_nearest` (None: one chunk, or let it sort). The order is
        sorted from the input coordinates on a thread while they are transformed: the sort
        lets go of the GIL, pyproj's transform does not."""
        series, geoms, has = check_points(points, name)
        every = bool(has.all())
        xy = np.full((len(geoms), 2), np.nan)
        order = None
        if has.any():
            crs = pyproj.CRS.from_user_input(series.crs)
            tr = self._to_m if crs.equals(_WGS84) else _transformer(crs.to_wkt(), self.crs.to_wkt())
            c = shapely.get_coordinates(geoms if every else geoms[has])
            x, y = np.ascontiguousarray(c[:, 0]), np.ascontiguousarray(c[:, 1])
            if sort and len(c) > _KD_CHUNK and np.isfinite(c).all():
                with ThreadPoolExecutor(max_workers=1) as pool:
                    sorting = pool.submit(np.argsort, _zorder_code(c))
                    tr.transform(x, y, inplace=True)
                    order = sorting.result()
            else:
                tr.transform(x, y, inplace=True)
            if every:
                xy = np.column_stack([x, y])
            else:
                xy[has] = np.column_stack([x, y])
        ok = np.isfinite(xy).all(axis=1)
        if order is not None and not ok[has].all():
            order = None  # some fell outside the CRS: _nearest sorts the others
        return xy, ok, order

    def _nearest_pieces(
        self, p: np.ndarray, k: int, main_only: bool, max_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest piece next to the ``k`` nearest vertices within ``sqrt(max_m**2 + h**2)``:
        segment, distance, along, sure.

        The pieces from and to each neighbour vertex ``v`` are the rows ``v`` and ``v - 1`` of
        the piece arrays; where ``v`` ends its segment (or ``v - 1`` ends the previous one)
        the row is a piece of no length, the vertex itself: a point of that segment, so it
        never needs masking. ``main_only`` keeps the pieces of the main network: the
        candidates are still complete when every vertex (of any piece) within the distance
        plus half a piece is among the ``k``, so no second KD-tree is needed. The search
        stops at the radius in which a piece within ``max_m`` has an end: where fewer than
        ``k`` vertices lie in it, they are all of them, and a point whose candidates are all
        farther than ``max_m`` has no piece within ``max_m`` (its distance is then only known
        to be larger).
        """
        nv = len(self._v_xy)
        h = self._half_piece_m
        radius = math.sqrt(max_m * max_m + h * h) + _SURE_MARGIN_M
        dv, iv = self._kdtree.query(p, k=k, distance_upper_bound=radius)
        dv, iv = dv.reshape(len(p), k), iv.reshape(len(p), k)
        found = iv < nv  # (missing neighbours are nv, at inf)
        every = bool(found.all())
        if not every:
            iv = np.where(found, iv, 0)
        a = np.concatenate([iv, iv - 1], axis=1)  # -1: the very last vertex, a segment's end
        apx = p[:, :1] - self._v_xy[a, 0]
        apy = p[:, 1:] - self._v_xy[a, 1]
        abx, aby = self._v_abx[a], self._v_aby[a]
        f = np.clip((apx * abx + apy * aby) * self._v_inv_ab2[a], 0.0, 1.0)
        # the nearest piece by squared distance (no square roots over all candidates)
        dx, dy = apx - f * abx, apy - f * aby
        d2 = dx * dx + dy * dy
        if not every:
            d2[~np.concatenate([found, found], axis=1)] = np.inf
        if main_only:
            d2[~self._seg_main[self._v_seg[a]]] = np.inf
        best = np.argmin(d2, axis=1)
        rows = np.arange(len(p))
        a_best, f_best = a[rows, best], f[rows, best]
        d2_best = d2[rows, best]
        d_best = np.sqrt(d2_best)
        length = np.hypot(abx[rows, best], aby[rows, best])
        along = self._v_cum[a_best] + f_best * length
        # every vertex within `reach` is among the neighbours: all k of them found, or fewer
        # than k in the search radius (then all there are)
        complete = ~found[:, -1]
        reach = np.where(complete, radius, dv[:, -1])
        sure = (reach > np.sqrt(d2_best + h * h) + _SURE_MARGIN_M) | (k >= nv)
        sure |= complete & (d_best > max_m)  # nothing within max_m
        seg = np.where(np.isfinite(d_best), self._v_seg[a_best], -1)
        return seg, d_best, along, sure

    def _nearest_chunk(
        self, p: np.ndarray, main_only: bool, max_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_nearest_pieces` in rounds of more neighbours for the points not yet sure:
        segment, distance, along and sure (False where no round was sure)."""
        n = len(p)
        seg = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        along = np.zeros(n)
        sure = np.zeros(n, dtype=bool)
        todo = np.arange(n)
        nv = len(self._v_xy)
        for k in _KD_NEIGHBOURS:
            k = min(k, nv)
            pts = p if len(todo) == n else p[todo]
            s_, d_, a_, ok = self._nearest_pieces(pts, k, main_only, max_m)
            done = todo[ok]
            seg[done], dist[done], along[done], sure[done] = s_[ok], d_[ok], a_[ok], True
            todo = todo[~ok]
            if len(todo) == 0 or k == nv:
                break
        return seg, dist, along, sure

    def _nearest(
        self,
        xy: np.ndarray,
        *,
        max_m: float,
        main_only: bool = False,
        order: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest segment, distance and distance along it for each point (exact) within
        ``max_m``; -1, a distance over ``max_m`` (or inf) and 0 where there is none.

        The KD-tree of the densified roads gives the nearest vertices; the nearest point of the
        pieces next to them is exact when every vertex within ``sqrt(d**2 + h**2)`` is among
        them, ``d`` being that distance and ``h`` half the longest piece (a piece at distance
        ``d' <= d`` has an end within ``sqrt(d'**2 + h**2)``: its nearest point is the foot of
        a perpendicular or an end, and one end is at most ``h`` from it). Points where that does
        not hold are tried with more neighbours, then with the STRtree of the segments.
        ``main_only`` restricts the search to the main network.

        The points are searched in chunks of :data:`_KD_CHUNK` in Z-order (``order``, the
        positions of the points in it, if known), on all CPUs (threads: the KD-tree and numpy
        let go of the GIL); each point's answer depends only on the point, not on its chunk.
        """
        n = len(xy)
        if n <= _KD_CHUNK:
            chunks = [np.arange(n)]
        else:
            if order is None:
                order = np.argsort(_zorder_code(xy))
            chunks = [order[lo : lo + _KD_CHUNK] for lo in range(0, n, _KD_CHUNK)]
        workers = max(1, min(os.cpu_count() or 1, _KD_WORKERS, len(chunks)))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                found = list(
                    pool.map(lambda idx: self._nearest_chunk(xy[idx], main_only, max_m), chunks)
                )
        else:
            found = [self._nearest_chunk(xy[idx], main_only, max_m) for idx in chunks]
        seg = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.inf)
        along = np.zeros(n)
        left = []
        for idx, (s_, d_, a_, sure) in zip(chunks, found, strict=True):
            seg[idx], dist[idx], along[idx] = s_, d_, a_
            left.append(idx[~sure])
        todo = np.concatenate(left)
        if len(todo):
            seg[todo], dist[todo], along[todo] = -1, np.inf, 0.0
            pts = shapely.points(xy[todo])
            tree = self._tree_main if main_only else self._tree
            (qi, ti), d = tree.query_nearest(
                pts, max_distance=max_m, return_distance=True, all_matches=False
            )
            if main_only:
                ti = self._main_segs[ti]
            seg[todo[qi]] = ti
            dist[todo[qi]] = d
            along[todo[qi]] = shapely.line_locate_point(self._seg_geom_m[ti], pts[qi])
        return seg, dist, along

    def snap_points(self, points: Any, name: str = "points") -> Snap:
        """Snap points to the nearest edge (see Snapping in the module docstring).

        Parameters
        ----------
        points
            Points in any CRS (GeoSeries or GeoDataFrame); missing or empty geometries are
            ``not_geocoded``.
        name
            The argument's name in error messages.

        Returns
        -------
        Snap
            Positional arrays; ``t`` is exactly 0 or 1 for a point at a node (within
            :data:`AT_NODE_M` of the end of its edge).
        """
        xy, has, order = self._points_m_ordered(points, name)
        n = len(xy)
        seg = np.full(n, -1, dtype=np.int64)
        dist = np.full(n, np.nan)
        along = np.full(n, np.nan)
        reason = np.full(n, _NOT_GEOCODED, dtype=np.int8)
        reason[has] = _TOO_FAR
        idx = np.flatnonzero(has)
        s_idx, s_dist, s_along = self._nearest(xy[idx], max_m=self.max_snap_m, order=order)
        near = s_dist <= self.max_snap_m
        idx, s_idx, s_dist, s_along = idx[near], s_idx[near], s_dist[near], s_along[near]
        seg[idx], dist[idx], along[idx] = s_idx, s_dist, s_along
        reason[idx] = _OK
        small = idx[~self._seg_main[s_idx]]
        if len(small):
            m_idx, m_dist, m_along = self._nearest(xy[small], max_m=self.max_snap_m, main_only=True)
            join = m_dist <= self.max_snap_m
            j = small[join]
            seg[j], dist[j], along[j] = m_idx[join], m_dist[join], m_along[join]
            reason[small[~join]] = _ISOLATED
        snapped = seg >= 0
        t = np.full(n, np.nan)
        length, on = self._seg_len[seg[snapped]], along[snapped]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip(np.where(length > 0, on / length, 0.0), 0.0, 1.0)
        # the at-node rule is a distance (see the module docstring): a fraction's tolerance
        # would depend on the edge's length, and a junction that went through another CRS
        # would lie on a one-way edge instead of at its node
        t[snapped] = np.where(on <= AT_NODE_M, 0.0, np.where(on >= length - AT_NODE_M, 1.0, frac))
        leg_s = dist / (self.walk_speed_kph / 3.6)
        return Snap(
            seg=seg,
            t=t,
            snap_m=dist,
            leg_s=leg_s,
            reason=reason,
            xy=xy,
            fingerprint=self.fingerprint,
        )

    def check_snap(self, snap: Any, n_points: int, *, name: str = "snap") -> Snap:
        """
        Check that a stored or earlier snap can be used with this engine and these points.

        Parameters
        ----------
        snap
            A :class:`Snap` of :meth:`snap_points` (or read back from storage).
        n_points
            How many points it is used for (it is positional: one row per point, in order).
        name
            The argument's name in error messages.

        Returns
        -------
        Snap
            ``snap``, unchanged.

        Raises
        ------
        InputError
            If ``snap`` is not a :class:`Snap`, has another number of rows, or was made by an
            engine with another :attr:`fingerprint` (other roads, mode or snapping settings).
        """
        if not isinstance(snap, Snap):
            msg = (
                f"`{name}` must be a Snap (from `engine.snap_points(points)`), got "
                f"{type(snap).__name__}"
            )
            raise InputError(msg)
        if len(snap) != n_points:
            msg = (
                f"`{name}` has {len(snap)} rows for {n_points} points; it belongs to other "
                "points: re-snap them with `engine.snap_points(points)`"
            )
            raise InputError(msg)
        if snap.fingerprint != self.fingerprint:
            msg = (
                f"`{name}` was made by another engine (fingerprint {snap.fingerprint!r}, this "
                f"engine {self.fingerprint!r}: other roads, mode or snapping settings); re-snap "
                "the points with `engine.snap_points(points)`"
            )
            raise InputError(msg)
        return snap

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
        s = self.snap_points(points, "points")
        index = as_geoseries(points, "points").index
        ok = s.seg >= 0
        seg = np.maximum(s.seg, 0)
        nodes = np.fromiter([*self._nodes, None], dtype=object, count=self.n_nodes + 1)
        u = np.where(ok, self._seg_a[seg], self.n_nodes)
        v = np.where(ok, self._seg_b[seg], self.n_nodes)
        on_road = np.full(len(ok), None, dtype=object)
        if ok.any():
            p = shapely.line_interpolate_point(self._seg_geom_m[seg[ok]], s.t[ok], normalized=True)
            on_road[ok] = self.to_lonlat(p)
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

    # ----------------------------------------------------------------- graph

    def matrix(self, *, reverse: bool = False) -> sparse.csr_matrix:
        """The directed graph as a CSR matrix of travel times (the transpose if ``reverse``).

        Node ``i`` is :attr:`nodes` ``[i]``; parallel edges keep their least time.
        """
        if not reverse:
            return self._csr
        if self._csr_t is None:
            self._csr_t = self._csr.transpose().tocsr()
        return self._csr_t

    def segment_costs(self, *, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Cost a -> b and b -> a along each segment (inf where not allowed)."""
        if reverse:
            return self._seg_tt_b, self._seg_tt_f
        return self._seg_tt_f, self._seg_tt_b
