"""An independent oracle for travel times on road graphs (a test helper, not gridgeo code).

It answers the questions gridgeo's routing engine answers, from the documented rules only,
with no code of ``gridgeo.routing``:

Snapping (brute force with shapely)
    Edge geometries of the NetworkX graph are projected with pyproj to the engine's metric CRS
    (the public ``engine.crs``). For every point every edge is considered: a vectorised numpy
    bounding-box test first proves which edges cannot be nearest (the distance to an edge's
    box is a lower bound of the distance to the edge, the distance to the box's farthest
    corner an upper bound), then ``shapely.distance`` measures all the others. No spatial
    index is used. The point joins the road at the nearest point of the nearest edge, and
    every edge through that position (distances within :data:`TIE_M`: the two edges of a
    two-way road, all the edges of a junction). Its position on an edge is
    ``shapely.line_locate_point``; within :data:`AT_NODE_M` (1 µm) of an end, along the
    edge, the point is at that node (fraction exactly 0 or 1).
Reasons
    Farther than ``max_snap_m`` from every edge: ``too_far_from_road``. Nearest edge on a
    small weakly connected piece (fewer than ``min_component_nodes`` nodes and not the
    largest): the nearest edge of the main network instead if one is within ``max_snap_m``,
    else the small piece (``isolated_road_piece`` unless a source reaches it). On the main
    network without a time: ``unreachable``.
Partial edges (written here)
    A point at fraction ``t`` of a directed edge ``u -> v`` with travel time ``tt`` is
    ``t * tt`` after ``u`` and ``(1 - t) * tt`` before ``v``; at ``t == 0`` it *is* ``u``,
    at ``t == 1`` it *is* ``v``. A source and a target on the same edge also have the direct
    way ``(t_target - t_source) * tt`` when ``t_target >= t_source``. The reverse direction
    (customers going to payment points) is the same on the reversed graph, where the edge
    ``u -> v`` becomes ``v -> u`` and ``t`` becomes ``1 - t``. Off-road legs are walked at
    the engine's ``walk_speed_kph``.
Graph searches (NetworkX)
    One virtual node per source joined by the partial-edge times, then
    ``nx.single_source_dijkstra`` per source (and ``nx.multi_source_dijkstra`` for all, as a
    check) on a light ``DiGraph`` of the graph's edges: nodes by position, the quickest of
    parallel edges (what Dijkstra on the ``MultiDiGraph`` uses), reversed for the reverse
    direction. Route lengths follow the searches' predecessors; where equally quick ways
    have different lengths the length is left open (NaN) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import shapely

AT_NODE_M = 1e-6  # a snapped position this close to an edge end (along the edge) is the node
TIE_M = 1e-6  # edges whose distances to a point differ by less are all through its position
BEST_UNIQUE_S = 1e-6  # a best source is unique when the runner-up is later by more
_CHUNK = 64  # points per pass over the edges' bounding boxes
_FEW = 64  # edges whose boxes are nearest a chunk give its points' upper bounds


@dataclass(frozen=True)
class Snapped:
    """Where the oracle puts points: per point, and per (point, edge) attachment.

    Attributes
    ----------
    dist_m
        Off-road distance of each point (NaN where not snapped).
    reason
        ``ok`` (snapped), ``too_far_from_road``, ``isolated_road_piece`` (snapped on a small
        piece) or ``not_geocoded``.
    point, edge, t
        One row per edge the point is on: the point, the edge row of :class:`Oracle`, and the
        fraction along it (exactly 0 or 1 at a node).
    """

    dist_m: np.ndarray
    reason: np.ndarray
    point: np.ndarray
    edge: np.ndarray
    t: np.ndarray

    @property
    def snapped(self) -> np.ndarray:
        """Where the point is joined to a road."""
        return np.isfinite(self.dist_m)


@dataclass(frozen=True)
class Times:
    """Travel times between sources and targets.

    Attributes
    ----------
    eta_s
        Least time of each target over all sources, off-road legs included (NaN if none).
    per_source_s
        ``(n_sources, n_targets)`` times of each source (inf if none).
    best
        The best source of each target where it is unique by more than
        :data:`BEST_UNIQUE_S`, else -1.
    reason
        ``ok`` where a time exists, else the reason.
    """

    eta_s: np.ndarray
    per_source_s: np.ndarray
    best: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True)
class Dispatch:
    """Every station's time to each fault and the route length of the best one.

    Attributes
    ----------
    eta_s
        ``(n_faults, n_stations)`` times, off-road legs included (inf if none).
    best
        Best station per fault where unique by more than :data:`BEST_UNIQUE_S`, else -1.
    route_m
        Length along the roads of the best station's route (off-road legs excluded); NaN where
        there is no best station or its route is not unique (equal-time alternatives).
    """

    eta_s: np.ndarray
    best: np.ndarray
    route_m: np.ndarray


class Oracle:
    """
    Travel times on a NetworkX road graph by brute force (see the module docstring).

    Parameters
    ----------
    G
        A road graph of gridgeo.network (EPSG:4326, node ``x``/``y``, edge ``geometry``,
        ``travel_time``).
    crs
        The metric CRS to measure in (the engine's public ``crs``).
    max_snap_m, min_component_nodes, walk_speed_kph
        The snapping rules (the engine's public settings).
    """

    def __init__(
        self,
        G: nx.MultiDiGraph | nx.DiGraph,
        crs: Any,
        *,
        max_snap_m: float,
        min_component_nodes: int,
        walk_speed_kph: float,
        weight: str = "travel_time",
    ) -> None:
        self.crs = pyproj.CRS.from_user_input(crs)
        self.max_snap_m = float(max_snap_m)
        self.walk_mps = float(walk_speed_kph) / 3.6
        self.nodes = list(G.nodes)
        index = {n: i for i, n in enumerate(self.nodes)}
        self.node_lonlat = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in self.nodes])
        rows = list(G.edges(data=True))
        self.eu = np.array([index[u] for u, _, _ in rows], dtype=np.int64)
        self.ev = np.array([index[v] for _, v, _ in rows], dtype=np.int64)
        self.tt = np.array([float(d[weight]) for _, _, d in rows])
        geoms = [
            d.get("geometry")
            or shapely.LineString([self.node_lonlat[index[u]], self.node_lonlat[index[v]]])
            for u, v, d in rows
        ]
        self.lines = gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(self.crs).to_numpy()
        self.length_m = shapely.length(self.lines)
        self.bounds = shapely.bounds(self.lines)
        size = np.zeros(len(self.nodes), dtype=np.int64)
        for comp in nx.weakly_connected_components(G):
            members = [index[n] for n in comp]
            size[members] = len(comp)
        self.main_node = (size >= min_component_nodes) | (size == size.max())
        self.main_edge = self.main_node[self.eu]
        self._bases: dict[bool, nx.DiGraph] = {}

    @classmethod
    def of_engine(cls, G: nx.MultiDiGraph | nx.DiGraph, engine: Any) -> Oracle:
        """The oracle of ``G`` with the public settings of a gridgeo engine built from it."""
        return cls(
            G,
            engine.crs,
            max_snap_m=engine.max_snap_m,
            min_component_nodes=engine.min_component_nodes,
            walk_speed_kph=engine.walk_speed_kph,
        )

    # ------------------------------------------------------------------ points

    def to_metric(self, points: gpd.GeoSeries) -> np.ndarray:
        """Points (any CRS, missing allowed) as metric x, y (NaN where missing)."""
        geoms = points.to_crs(self.crs).to_numpy()
        xy = np.full((len(geoms), 2), np.nan)
        has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        xy[has] = shapely.get_coordinates(geoms[has])
        return xy

    def to_points(self, xy: np.ndarray, crs: Any = "EPSG:4326") -> gpd.GeoSeries:
        """Metric x, y as points in ``crs``."""
        return gpd.GeoSeries(shapely.points(xy), crs=self.crs).to_crs(crs)

    def node_points(self, crs: Any = "EPSG:4326") -> gpd.GeoSeries:
        """Every node (junction) as a point in ``crs``, through lon/lat."""
        return gpd.GeoSeries(shapely.points(self.node_lonlat), crs="EPSG:4326").to_crs(crs)

    def random_points(
        self,
        n: int,
        seed: int,
        *,
        far_share: float = 0.05,
        near_m: float = 300.0,
        edges: np.ndarray | None = None,
    ) -> np.ndarray:
        """Seeded metric points around random points of the edges (some far beyond reach)."""
        rng = np.random.default_rng(seed)
        pool = np.arange(len(self.lines)) if edges is None else np.asarray(edges)
        pick = pool[rng.integers(0, len(pool), n)]
        on = shapely.get_coordinates(
            shapely.line_interpolate_point(self.lines[pick], rng.uniform(0, 1, n), normalized=True)
        )
        far = rng.uniform(0, 1, n) < far_share
        r = np.where(far, rng.uniform(500, 1500, n), rng.uniform(0, near_m, n))
        a = rng.uniform(0, 2 * np.pi, n)
        return on + np.column_stack([r * np.cos(a), r * np.sin(a)])

    # ------------------------------------------------------------------ snapping

    def _nearest(
        self, xy: np.ndarray, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Least distance of each point to an allowed edge, and every (point, edge) tie.

        Only edges within ``max_snap_m`` count (inf where there is none). Every allowed edge
        is either measured with ``shapely.distance`` or proven farther than the nearest: the
        distance to an edge's bounding box is a lower bound of the distance to the edge, the
        distance to the box's farthest corner an upper bound. Points go in chunks of
        neighbours (in Z-order) so that a chunk's few candidates are found with one pass over
        the edges; the order changes the speed, not the answer.
        """
        n = len(xy)
        best = np.full(n, np.inf)
        pts = shapely.points(xy)
        keep = np.flatnonzero(allowed)
        x0, y0, x1, y1 = (self.bounds[keep, i] for i in range(4))
        order = np.argsort(_z_order(xy), kind="stable")
        ties_p, ties_e = [], []
        for lo in range(0, n, _CHUNK):
            rows = order[lo : lo + _CHUNK]
            px, py = xy[rows, :1], xy[rows, 1:]
            # gap between each edge's box and the chunk's box
            gx = np.maximum(np.maximum(x0 - px.max(), px.min() - x1), 0.0)
            gy = np.maximum(np.maximum(y0 - py.max(), py.min() - y1), 0.0)
            gap2 = gx * gx + gy * gy
            # upper bounds from the boxes nearest the chunk (any edges give upper bounds);
            # only edges within max_snap_m matter
            few = np.argpartition(gap2, _FEW)[:_FEW] if len(gap2) > _FEW else slice(None)
            fx = np.maximum(np.abs(px - x0[few]), np.abs(px - x1[few]))
            fy = np.maximum(np.abs(py - y0[few]), np.abs(py - y1[few]))
            upper = np.sqrt((fx * fx + fy * fy).min(axis=1, keepdims=True))
            reach = np.minimum(upper, self.max_snap_m) + TIE_M
            # an edge within `reach` of a point of the chunk is that near the chunk's box
            cand = np.flatnonzero(gap2 <= reach.max() ** 2)
            dx = np.maximum(np.maximum(x0[cand] - px, px - x1[cand]), 0.0)
            dy = np.maximum(np.maximum(y0[cand] - py, py - y1[cand]), 0.0)
            pi, ci = np.nonzero(dx * dx + dy * dy <= reach * reach)
            pi = rows[pi]
            ei = keep[cand[ci]]
            d = shapely.distance(pts[pi], self.lines[ei])
            np.minimum.at(best, pi, d)
            tie = d <= best[pi] + TIE_M
            ties_p.append(pi[tie])
            ties_e.append(ei[tie])
        tp = np.concatenate(ties_p) if ties_p else np.zeros(0, dtype=np.int64)
        te = np.concatenate(ties_e) if ties_e else np.zeros(0, dtype=np.int64)
        return best, tp, te

    def snap(self, xy: np.ndarray) -> Snapped:
        """Snap metric points (NaN rows are not geocoded)."""
        n = len(xy)
        has = np.isfinite(xy).all(axis=1)
        reason = np.full(n, "not_geocoded", dtype=object)
        reason[has] = "too_far_from_road"
        dist = np.full(n, np.nan)
        idx = np.flatnonzero(has)
        d_all, p_all, e_all = self._nearest(xy[idx], np.ones(len(self.lines), dtype=bool))
        near = d_all <= self.max_snap_m
        reason[idx[near]] = "ok"
        on_main = np.zeros(len(idx), dtype=bool)
        on_main[p_all[self.main_edge[e_all]]] = True
        # nearest edge on the main network: its main edges through the position
        keep = near[p_all] & on_main[p_all] & self.main_edge[e_all]
        point, edge = [idx[p_all[keep]]], [e_all[keep]]
        dist[idx[near & on_main]] = d_all[near & on_main]
        # nearest edge on a small piece: the nearest main edge within reach, else the piece
        small = np.flatnonzero(near & ~on_main)
        if len(small):
            d_m, p_m, e_m = self._nearest(xy[idx[small]], self.main_edge)
            join = d_m <= self.max_snap_m
            point.append(idx[small[p_m[join[p_m]]]])
            edge.append(e_m[join[p_m]])
            dist[idx[small[join]]] = d_m[join]
            isolated = small[~join]
            stay = np.isin(p_all, isolated)
            point.append(idx[p_all[stay]])
            edge.append(e_all[stay])
            dist[idx[isolated]] = d_all[isolated]
            reason[idx[isolated]] = "isolated_road_piece"
        point_a, edge_a = np.concatenate(point), np.concatenate(edge)
        along = shapely.line_locate_point(self.lines[edge_a], shapely.points(xy[point_a]))
        length = self.length_m[edge_a]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(
                along <= AT_NODE_M,
                0.0,
                np.where(along >= length - AT_NODE_M, 1.0, along / length),
            )
        return Snapped(dist_m=dist, reason=reason, point=point_a, edge=edge_a, t=t)

    def twins(self) -> np.ndarray:
        """For each edge, the row of its opposite edge with the same line reversed, else -1."""
        by_pair: dict[tuple[int, int], list[int]] = {}
        for i, (u, v) in enumerate(zip(self.eu, self.ev, strict=True)):
            by_pair.setdefault((int(u), int(v)), []).append(i)
        twin = np.full(len(self.lines), -1)
        rev = shapely.reverse(self.lines)
        for i, (u, v) in enumerate(zip(self.eu, self.ev, strict=True)):
            for j in by_pair.get((int(v), int(u)), []):
                if j != i and shapely.equals_exact(self.lines[j], rev[i], tolerance=1e-6):
                    twin[i] = j
                    break
        return twin

    # ------------------------------------------------------------------ searches

    def _directed(self, snapped: Snapped, reverse: bool) -> tuple[np.ndarray, ...]:
        """Attachments in the searched graph: point, tail, head, edge, tt, length, t."""
        e = snapped.edge
        tail, head = (self.ev[e], self.eu[e]) if reverse else (self.eu[e], self.ev[e])
        t = 1.0 - snapped.t if reverse else snapped.t
        return snapped.point, tail, head, e, self.tt[e], self.length_m[e], t

    def _base(self, reverse: bool) -> nx.DiGraph:
        """The graph searched (reversed if ``reverse``), built once: nodes are positions."""
        if reverse not in self._bases:
            H = nx.DiGraph()
            H.add_nodes_from(range(len(self.nodes)))
            tail, head = (self.ev, self.eu) if reverse else (self.eu, self.ev)
            for a, b, w, m in zip(tail, head, self.tt, self.length_m, strict=True):
                _add_quickest(H, int(a), int(b), float(w), float(m))
            self._bases[reverse] = H
        return self._bases[reverse]

    @contextmanager
    def _graph(self, src: Snapped, reverse: bool) -> Iterator[tuple[nx.DiGraph, list[Any]]]:
        """The searched graph with one virtual node per snapped source, joined by the
        partial-edge times, and the virtual nodes' names (None: not snapped); the virtual
        nodes are removed afterwards."""
        H = self._base(reverse)
        names = [("source", i) if ok else None for i, ok in enumerate(src.snapped)]
        p, tail, head, _, tt, length, t = self._directed(src, reverse)
        for k in range(len(p)):
            S = ("source", int(p[k]))
            leg = float(src.dist_m[p[k]]) / self.walk_mps
            # on to the head: the rest of the edge (nothing left at t == 1)
            rest = 1.0 - t[k]
            _add_quickest(H, S, int(head[k]), leg + rest * tt[k], rest * length[k])
            if t[k] == 0.0:  # the source is the tail node
                _add_quickest(H, S, int(tail[k]), leg, 0.0)
        try:
            yield H, names
        finally:
            H.remove_nodes_from([S for S in names if S is not None])

    def _node_times(self, d: dict[Any, float]) -> np.ndarray:
        dist = np.full(len(self.nodes), np.inf)
        for node, value in d.items():
            if isinstance(node, int):
                dist[node] = value
        return dist

    def _candidates(
        self, dist: np.ndarray, tgt: Snapped, reverse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every way into each target from node times: target, time, end node, part length.

        A target at ``t`` of ``tail -> head`` is reached from the tail plus ``t`` of the edge,
        and at ``t == 1`` it is the head itself. Off-road legs are not included.
        """
        p, tail, head, _, tt, length, t = self._directed(tgt, reverse)
        at_head = t == 1.0
        return (
            np.concatenate([p, p[at_head]]),
            np.concatenate([dist[tail] + t * tt, dist[head[at_head]]]),
            np.concatenate([tail, head[at_head]]),
            np.concatenate([t * length, np.zeros(int(at_head.sum()))]),
        )

    def _direct(
        self, src: Snapped, i: int, tgt: Snapped, reverse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Direct ways along an edge shared by source ``i`` and a target: target, time, length."""
        sp, _, _, se, _, _, st = self._directed(src, reverse)
        tp, _, _, te, ttt, tlen, tt_ = self._directed(tgt, reverse)
        leg = float(src.dist_m[i]) / self.walk_mps
        out_p, out_s, out_m = [], [], []
        for k in np.flatnonzero(sp == i):
            m = (te == se[k]) & (tt_ >= st[k])
            out_p.append(tp[m])
            out_s.append(leg + (tt_[m] - st[k]) * ttt[m])
            out_m.append((tt_[m] - st[k]) * tlen[m])
        if not out_p:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        return np.concatenate(out_p), np.concatenate(out_s), np.concatenate(out_m)

    def _least(self, n: int, p: np.ndarray, s: np.ndarray) -> np.ndarray:
        out = np.full(n, np.inf)
        np.minimum.at(out, p, s)
        return out

    def node_times(
        self, sources_xy: np.ndarray, *, reverse: bool = False
    ) -> tuple[np.ndarray, Snapped]:
        """Least time from the sources to every node (``reverse``: from every node to them;
        inf where none), and the sources' snap."""
        src = self.snap(sources_xy)
        with self._graph(src, reverse) as (H, names):
            starts = {S for S in names if S is not None}
            d = nx.multi_source_dijkstra_path_length(H, starts, weight="w") if starts else {}
        return self._node_times(d), src

    def times(self, sources_xy: np.ndarray, targets_xy: np.ndarray, *, reverse: bool) -> Times:
        """Times from the sources to the targets (``reverse``: from the targets to them)."""
        src, tgt = self.snap(sources_xy), self.snap(targets_xy)
        n_t = len(targets_xy)
        with self._graph(src, reverse) as (H, names):
            per = np.full((len(names), n_t), np.inf)
            direct_all = np.full(n_t, np.inf)
            for i, S in enumerate(names):
                if S is None:
                    continue
                dist = self._node_times(nx.single_source_dijkstra_path_length(H, S, weight="w"))
                p, s, _, _ = self._candidates(dist, tgt, reverse)
                dp, ds, _ = self._direct(src, i, tgt, reverse)
                direct = self._least(n_t, dp, ds)
                direct_all = np.minimum(direct_all, direct)
                per[i] = np.minimum(self._least(n_t, p, s), direct)
            starts = {S for S in names if S is not None}
            if starts:
                # the graph part once more from NetworkX's multi-source search: the same times
                d = nx.multi_source_dijkstra_path_length(H, starts, weight="w")
                p, s, _, _ = self._candidates(self._node_times(d), tgt, reverse)
                both = np.minimum(self._least(n_t, p, s), direct_all)
                np.testing.assert_allclose(both, per.min(axis=0), rtol=0, atol=1e-9)
        leg = np.where(tgt.snapped, tgt.dist_m / self.walk_mps, np.inf)
        per = per + leg[None, :]
        eta = per.min(axis=0) if len(per) else np.full(n_t, np.inf)
        reason = tgt.reason.copy()
        reached = np.isfinite(eta)
        reason[reached] = "ok"
        reason[~reached & (reason == "ok")] = "unreachable"
        return Times(
            eta_s=np.where(reached, eta, np.nan),
            per_source_s=per,
            best=_unique_best(per),
            reason=reason,
        )

    def dispatch(self, stations_xy: np.ndarray, faults_xy: np.ndarray) -> Dispatch:
        """Every station's time to each fault (station -> fault) and the best route's length."""
        src, tgt = self.snap(stations_xy), self.snap(faults_xy)
        n_f = len(faults_xy)
        with self._graph(src, False) as (H, names):
            eta = np.full((len(names), n_f), np.inf)
            route = np.full((len(names), n_f), np.nan)
            for i, S in enumerate(names):
                if S is None:
                    continue
                pred, d = nx.dijkstra_predecessor_and_distance(H, S, weight="w")
                length, unsure = self._path_lengths(H, S, pred)
                p, s, node, part = self._candidates(self._node_times(d), tgt, False)
                m = np.where(unsure[node], np.nan, length[node] + part)
                dp, ds, dm = self._direct(src, i, tgt, False)
                p, s, m = np.r_[p, dp], np.r_[s, ds], np.r_[m, dm]
                least = self._least(n_f, p, s)
                eta[i] = least
                # the route's length where every way within BEST_UNIQUE_S of the least has it
                near = np.isfinite(s) & (s <= least[p] + BEST_UNIQUE_S)
                lo = np.full(n_f, np.inf)
                hi = np.full(n_f, -np.inf)
                np.minimum.at(lo, p[near], np.where(np.isnan(m[near]), -np.inf, m[near]))
                np.maximum.at(hi, p[near], np.where(np.isnan(m[near]), np.inf, m[near]))
                route[i] = np.where(hi - lo <= 1e-6, lo, np.nan)
        leg = np.where(tgt.snapped, tgt.dist_m / self.walk_mps, np.inf)
        eta = eta + leg[None, :]
        best = _unique_best(eta)
        route_m = np.where(best >= 0, route[np.maximum(best, 0), np.arange(n_f)], np.nan)
        return Dispatch(eta_s=eta.T, best=best, route_m=route_m)

    def _path_lengths(
        self, H: nx.DiGraph, S: Any, pred: dict[Any, list[Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Road length of the shortest path from ``S`` to every node (NaN where not reached),
        and where it is not unique (equal-time predecessors, or parallel edges of equal time
        and another length)."""
        n = len(self.nodes)
        pos = {x: (n if x == S else x) for x in pred}  # the virtual source is n
        parent = np.full(n + 1, n)  # the root is its own parent
        step = np.zeros(n + 1)
        unsure = np.zeros(n + 1, dtype=bool)
        reached = np.zeros(n + 1, dtype=bool)
        reached[n] = True
        others = []
        for x, qs in pred.items():
            if x == S:
                continue
            parent[x] = pos[qs[0]]
            step[x] = H[qs[0]][x]["len_m"]
            unsure[x] = H[qs[0]][x]["unsure"]
            reached[x] = True
            others += [(x, pos[q], H[q][x]["len_m"]) for q in qs[1:]]
        # the length along the first predecessors, then every equally quick way compared
        length = _up_the_tree(parent, step, np.add)
        for x, q, m in others:
            if abs(length[q] + m - length[x]) > 1e-6:
                unsure[x] = True
        unsure = _up_the_tree(parent, unsure, np.logical_or)
        length = np.where(reached, length, np.nan)
        return length[:n], unsure[:n]


def _up_the_tree(parent: np.ndarray, value: np.ndarray, op: np.ufunc) -> np.ndarray:
    """``op`` of ``value`` over every node's way up a tree to its root (the last node, its
    own parent, with the neutral value), by pointer jumping: log of the depth passes."""
    out, up = value.copy(), parent.copy()
    root = len(parent) - 1
    while (up != root).any():
        out = op(out, out[up])
        up = up[up]
    return out


def _add_quickest(H: nx.DiGraph, a: Any, b: Any, w: float, length_m: float) -> None:
    """Edge ``a -> b`` with time ``w``, keeping the quickest of parallel edges; ``unsure``
    where another as quick has another length (the route's length is then not unique)."""
    old = H.get_edge_data(a, b)
    if old is None or w < old["w"]:
        H.add_edge(a, b, w=w, len_m=length_m, unsure=False)
    elif w == old["w"] and length_m != old["len_m"]:
        old["unsure"] = True
        old["len_m"] = min(old["len_m"], length_m)


def _z_order(xy: np.ndarray) -> np.ndarray:
    """Morton (Z-order) keys of points on a 2**16 grid over their extent (NaN last)."""
    ok = np.isfinite(xy).all(axis=1)
    key = np.full(len(xy), np.iinfo(np.int64).max)
    if not ok.any():
        return key
    lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    cells = ((xy[ok] - lo) / np.maximum(hi - lo, 1e-9) * 65535).astype(np.int64)
    z = np.zeros(int(ok.sum()), dtype=np.int64)
    for bit in range(16):
        z |= ((cells[:, 0] >> bit) & 1) << (2 * bit)
        z |= ((cells[:, 1] >> bit) & 1) << (2 * bit + 1)
    key[ok] = z
    return key


def _unique_best(per: np.ndarray) -> np.ndarray:
    """Row of the least value of each column where unique by more than BEST_UNIQUE_S, else -1."""
    n = per.shape[1]
    if per.shape[0] == 0:
        return np.full(n, -1)
    order = np.argsort(per, axis=0, kind="stable")
    cols = np.arange(n)
    first = per[order[0], cols]
    second = per[order[1], cols] if per.shape[0] > 1 else np.full(n, np.inf)
    with np.errstate(invalid="ignore"):  # inf - inf where no source reaches
        unique = np.isfinite(first) & (second - first > BEST_UNIQUE_S)
    return np.where(unique, order[0], -1)
