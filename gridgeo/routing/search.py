"""Searches on a :class:`~gridgeo.routing.engine.ReachEngine`.

Every search joins its sources to the graph the same way: one virtual node per source, linked
to both ends of its snapped segment with the partial-edge times of :func:`end_parts_s` plus the
off-road leg (:func:`extended_matrix`); a target's time is the least over the two ends of its
own segment, plus the direct way along it when a source lies on the same segment
(:func:`along_s`). Times are NaN where there is none (too far, isolated, unreachable), never
infinity, in the public results.

- :func:`best_times`, :func:`travel_times`: the nearest source of every target (one
  multi-source ``scipy.sparse.csgraph.dijkstra``);
- :func:`pair_times`, :func:`travel_matrix`: every (source, target) pair within a limit;
- :func:`times_to_point`, :func:`route_line`: every source's time to one point and the route
  of one of them (dispatch); :func:`path_line` draws a route from its node path (also for the
  station labels of :mod:`gridgeo.routing.labels`);
- :func:`node_times`, :func:`reached_lines`, :func:`reached_points`: times of every node, the
  road parts reached within a band, and points along them with their times (isochrones).
- :func:`segment_lines`: the road segments themselves (lengths, road per area).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely.ops import substring

from gridgeo._validate import as_geoseries, check_positive
from gridgeo.routing.engine import (
    _OK,
    _UNREACHABLE,
    REACH_REASONS,
    ReachEngine,
    Snap,
    along_s,
    end_parts_s,
    ranges,
)

__all__ = [
    "best_times",
    "extended_matrix",
    "node_times",
    "pair_times",
    "path_line",
    "reached_lines",
    "reached_points",
    "route_line",
    "segment_lines",
    "times_to_point",
    "travel_matrix",
    "travel_times",
]

_CHUNK_BYTES = 200 * 2**20  # memory of one chunk's node and customer time tables, about


def extended_matrix(
    engine: ReachEngine, src: Snap, usable: np.ndarray, *, reverse: bool
) -> sparse.csr_matrix:
    """The graph with one virtual node per usable source, joined to its edge's ends."""
    base = engine.matrix(reverse=reverse)
    n = engine.n_nodes
    tt_ab, tt_ba = engine.segment_costs(reverse=reverse)
    j = np.flatnonzero(usable)
    seg, t, leg = src.seg[j], src.t[j], src.leg_s[j]
    a, b = engine._seg_a[seg], engine._seg_b[seg]
    # to a: backwards along the segment (or 0 at a); to b: forwards (or 0 at b)
    part_a, part_b = end_parts_s(t, tt_ba[seg], tt_ab[seg])
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


def best_times(
    engine: ReachEngine, src: Snap, dst: Snap, *, reverse: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least time from any usable source to each target: eta_s, source position, reason."""
    n = engine.n_nodes
    usable = src.seg >= 0
    j = np.flatnonzero(usable)
    nt = len(dst.seg)
    eta = np.full(nt, np.inf)
    best = np.full(nt, -1, dtype=np.int64)
    if len(j) == 0:
        return _finish(eta, best, dst)
    M = extended_matrix(engine, src, usable, reverse=reverse)
    dist, _, origin = csgraph.dijkstra(
        M,
        directed=True,
        indices=np.arange(n, n + len(j)),
        min_only=True,
        return_predecessors=True,
    )
    tt_ab, tt_ba = engine.segment_costs(reverse=reverse)
    on = np.flatnonzero(dst.seg >= 0)
    seg, t = dst.seg[on], dst.t[on]
    a, b = engine._seg_a[seg], engine._seg_b[seg]
    part_a, part_b = end_parts_s(t, tt_ab[seg], tt_ba[seg])
    # through the nearer end (end a on a tie); one pass over the targets, no (2, n) stacks
    via_a, via_b = dist[a] + part_a, dist[b] + part_b
    pick_b = via_b < via_a
    e = np.where(pick_b, via_b, via_a)
    # the virtual source node (n + position among the usable sources) each end was reached
    # from, as the source's position; -1 where unreached (origin < 0)
    s_node = np.where(pick_b, origin[b], origin[a])
    s_best = np.where(s_node >= n, j[np.clip(s_node - n, 0, len(j) - 1)], -1)
    # sources on the target's own segment: the direct way along it
    e, s_best = _same_segment(src, j, seg, t, e, s_best, tt_ab, tt_ba)
    eta[on] = e + dst.leg_s[on]
    best[on] = np.where(np.isfinite(e), s_best, -1)
    return _finish(eta, best, dst)


def _same_segment(
    src: Snap,
    j: np.ndarray,
    seg: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    s_best: np.ndarray,
    tt_ab: np.ndarray,
    tt_ba: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    s_seg = src.seg[j]
    # the few targets on a source's segment first (a look-up, not two binary searches each)
    on_source = np.zeros(len(tt_ab), dtype=bool)
    on_source[s_seg] = True
    hit = np.flatnonzero(on_source[seg])
    if len(hit) == 0:
        return e, s_best
    order = np.argsort(s_seg, kind="stable")
    s_sorted = s_seg[order]
    lo = np.searchsorted(s_sorted, seg[hit], side="left")
    counts = np.searchsorted(s_sorted, seg[hit], side="right") - lo
    tgt = np.repeat(hit, counts)
    start = np.repeat(lo - np.cumsum(counts) + counts, counts)
    pos = order[start + np.arange(len(tgt))]
    sj = j[pos]
    ts, tt_ = src.t[sj], t[tgt]
    sg = seg[tgt]
    direct = along_s(ts, tt_, tt_ab[sg], tt_ba[sg]) + src.leg_s[sj]
    # the best direct way per target (ties: the earlier source), where it beats the graph
    order = np.lexsort((sj, direct, tgt))
    first = order[np.r_[True, tgt[order][1:] != tgt[order][:-1]]]
    better = direct[first] < e[tgt[first]]
    e = e.copy()
    s_best = s_best.copy()
    e[tgt[first][better]] = direct[first][better]
    s_best[tgt[first][better]] = sj[first][better]
    return e, s_best


def _finish(
    eta: np.ndarray, best: np.ndarray, dst: Snap
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reason = dst.reason.copy()
    reached = np.isfinite(eta)
    reason[reached] = _OK
    reason[~reached & (reason == _OK)] = _UNREACHABLE
    eta = np.where(reached, eta, np.nan)
    return eta, best, reason


def travel_times(
    engine: ReachEngine,
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
    src = engine.snap_points(sources, "sources")
    dst = engine.snap_points(targets, "targets")
    eta, best, reason = best_times(engine, src, dst, reverse=reverse)
    src_index = as_geoseries(sources, "sources").index
    labels = np.empty(len(src_index) + 1, dtype=object)
    labels[:-1] = src_index.to_numpy()
    labels[-1] = None
    index = as_geoseries(targets, "targets").index
    return pd.DataFrame(
        {
            "eta_s": eta,
            "source": labels[np.where(best >= 0, best, len(src_index))],
            "snap_m": dst.snap_m,
            "reason": np.asarray(REACH_REASONS, dtype=object)[reason],
        },
        index=index,
    )


def pair_times(
    engine: ReachEngine, src: Snap, dst: Snap, *, limit_s: float, reverse: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, target) pair within ``limit_s``: positions and travel time.

    The same arithmetic as :func:`best_times` for each source on its own; sorted by
    source, then target.
    """
    n = engine.n_nodes
    usable = np.flatnonzero(src.seg >= 0)
    on = np.flatnonzero(dst.seg >= 0)
    if len(usable) == 0 or len(on) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    tt_ab, tt_ba = engine.segment_costs(reverse=reverse)
    seg, t = dst.seg[on], dst.t[on]
    a, b = engine._seg_a[seg], engine._seg_b[seg]
    part_a, part_b = end_parts_s(t, tt_ab[seg], tt_ba[seg])
    leg = dst.leg_s[on]
    by_seg = np.argsort(seg, kind="stable")
    seg_sorted = seg[by_seg]
    # a chunk's node times and its few per-customer tables fit in _CHUNK_BYTES
    per_source = 8 * (n + 4 * len(on))
    size = int(max(1, min(len(usable), _CHUNK_BYTES // per_source)))
    sources, targets, times = [], [], []
    for lo in range(0, len(usable), size):
        j = usable[lo : lo + size]
        sub = src.take(j)
        M = extended_matrix(engine, sub, np.ones(len(j), dtype=bool), reverse=reverse)
        # the virtual nodes have no incoming edges: each search sees its own source only
        dist = csgraph.dijkstra(
            M, directed=True, indices=np.arange(n, n + len(j)), limit=limit_s, min_only=False
        )
        e = np.minimum(dist[:, a] + part_a, dist[:, b] + part_b)
        del dist
        # a source on a customer's own edge: the direct way along it
        first = np.searchsorted(seg_sorted, sub.seg, side="left")
        counts = np.searchsorted(seg_sorted, sub.seg, side="right") - first
        if counts.any():
            row = np.repeat(np.arange(len(j)), counts)
            col = by_seg[ranges(first, counts)]
            sg = seg[col]
            direct = along_s(sub.t[row], t[col], tt_ab[sg], tt_ba[sg]) + sub.leg_s[row]
            e[row, col] = np.minimum(e[row, col], direct)
        eta = e + leg
        r, c = np.nonzero(eta <= limit_s)
        sources.append(j[r])
        targets.append(on[c])
        times.append(eta[r, c])
    return np.concatenate(sources), np.concatenate(targets), np.concatenate(times)


def travel_matrix(
    engine: ReachEngine,
    sources: gpd.GeoDataFrame | gpd.GeoSeries,
    targets: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    limit_s: float,
    reverse: bool = False,
) -> sparse.csr_matrix:
    """
    Travel times from each source to each target where they are within ``limit_s``.

    Parameters
    ----------
    engine
        The reach engine.
    sources, targets
        Points in any CRS (sources that cannot be snapped have no entries).
    limit_s
        Longest travel time kept.
    reverse
        False: source → target; True: target → source (on the transposed graph).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(sources) x len(targets)`` with the travel time in seconds where it is within
        ``limit_s`` and no entry elsewhere (an explicit 0 where source and target coincide).
    """
    limit_s = check_positive(limit_s, "limit_s")
    src = engine.snap_points(sources, "sources")
    dst = engine.snap_points(targets, "targets")
    s, t, v = pair_times(engine, src, dst, limit_s=limit_s, reverse=reverse)
    # (data, indices, indptr) keeps explicit zeros; pairs come sorted by source then target
    indptr = np.zeros(len(src.seg) + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=len(src.seg)), out=indptr[1:])
    return sparse.csr_matrix((v, t, indptr), shape=(len(src.seg), len(dst.seg)))


def times_to_point(
    engine: ReachEngine, src: Snap, target: Snap
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Travel time from each source to one target point, with what the route needs.

    One search from the target on the transposed graph gives every source's time at once.

    Parameters
    ----------
    engine
        The engine.
    src
        The sources' snap (stations).
    target
        The snap of one point (a fault).

    Returns
    -------
    eta_s
        Time from each source, off-road legs included; inf where none.
    choice
        How each source's best way starts: 0 leaving its segment by end ``a``, 1 by end ``b``,
        2 directly along the segment to the target (same segment); -1 where none.
    pred
        The search's predecessors (for :func:`route_line`); None if the target is not snapped.
    """
    n_src = len(src)
    eta = np.full(n_src, np.inf)
    choice = np.full(n_src, -1)
    if target.seg[0] < 0:
        return eta, choice, None
    n = engine.n_nodes
    M = extended_matrix(engine, target, np.array([True]), reverse=True)
    dist, pred = csgraph.dijkstra(M, directed=True, indices=n, return_predecessors=True)
    j = np.flatnonzero(src.seg >= 0)
    seg, t, leg = src.seg[j], src.t[j], src.leg_s[j]
    a, b = engine._seg_a[seg], engine._seg_b[seg]
    tt_f, tt_b = engine._seg_tt_f[seg], engine._seg_tt_b[seg]
    part_a, part_b = end_parts_s(t, tt_b, tt_f)
    via_a, via_b = part_a + dist[a], part_b + dist[b]
    f_seg, f_t = int(target.seg[0]), float(target.t[0])
    along = along_s(t, np.full(len(t), f_t), tt_f, tt_b)
    direct = np.where(seg == f_seg, along + float(target.leg_s[0]), np.inf)
    cand = np.stack([via_a, via_b, direct])
    pick = np.argmin(cand, axis=0)
    pick = np.where(direct <= cand[pick, np.arange(len(j))], 2, pick)
    best_time = cand[pick, np.arange(len(j))] + leg
    eta[j] = best_time
    choice[j] = np.where(np.isfinite(best_time), pick, -1)
    return eta, choice, pred


def _coords(geom: shapely.Geometry) -> np.ndarray:
    return shapely.get_coordinates(geom)


def route_line(
    engine: ReachEngine,
    src: Snap,
    k: int,
    target: Snap,
    choice: np.ndarray,
    pred: np.ndarray,
) -> shapely.LineString:
    """The route of source ``k`` to the target of :func:`times_to_point`, in the metric CRS.

    The source's piece of its segment, the node path's edges, the target's piece.
    """
    nodes: list[int] = []
    s_seg, s_t = int(src.seg[k]), float(src.t[k])
    if choice[k] != 2:
        x = int(engine._seg_a[s_seg] if choice[k] == 0 else engine._seg_b[s_seg])
        nodes.append(x)
        while pred[x] != engine.n_nodes:
            x = int(pred[x])
            nodes.append(x)
    f_seg, f_t = int(target.seg[0]), float(target.t[0])
    last = nodes[-1] if nodes else -1
    fa, fb = engine._seg_a[f_seg], engine._seg_b[f_seg]
    cost_fa, cost_fb = end_parts_s(
        np.array([f_t]), engine._seg_tt_f[f_seg : f_seg + 1], engine._seg_tt_b[f_seg : f_seg + 1]
    )
    enter_a = last == fa and (last != fb or cost_fa[0] <= cost_fb[0])
    return path_line(
        engine,
        (s_seg, s_t),
        (f_seg, f_t),
        None if choice[k] == 2 else nodes,
        leave_a=choice[k] == 0,
        enter_a=bool(enter_a),
    )


def path_line(
    engine: ReachEngine,
    source: tuple[int, float],
    target: tuple[int, float],
    nodes: list[int] | None,
    *,
    leave_a: bool,
    enter_a: bool,
) -> shapely.LineString:
    """A route's line in the metric CRS from its node path (shared by the route tracers).

    ``source`` and ``target`` are ``(segment, fraction)`` of the two snapped points; ``nodes``
    the node path from the end by which the source leaves its segment (``a`` if ``leave_a``)
    to the end by which the target's segment is entered (``a`` if ``enter_a``), or None for
    the direct way along a shared segment. Each step takes the quickest segment between its
    two nodes in its direction (ties: forwards before backwards, then the lower segment).
    """
    (s_seg, s_t), (f_seg, f_t) = source, target
    geom = engine._seg_geom_m
    if nodes is None:
        parts = [_coords(substring(geom[s_seg], s_t, f_t, normalized=True))]
    else:
        s_end = 0.0 if leave_a else 1.0
        parts = [_coords(substring(geom[s_seg], s_t, s_end, normalized=True))]
        if len(nodes) > 1:
            parts.append(_steps_coords(engine, np.asarray(nodes, dtype=np.int64)))
        f_start = 0.0 if enter_a else 1.0
        parts.append(_coords(substring(geom[f_seg], f_start, f_t, normalized=True)))
    xy = np.concatenate(parts)
    keep = np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]
    xy = xy[keep]
    if len(xy) == 1:
        xy = np.vstack([xy, xy])
    return shapely.LineString(xy)


def _steps_coords(engine: ReachEngine, path: np.ndarray) -> np.ndarray:
    """The coordinates of the segments of each step of a node path, drawn in its direction."""
    u, v = path[:-1], path[1:]
    indptr, node_segs = engine._node_segs
    counts = indptr[u + 1] - indptr[u]
    cand = node_segs[ranges(indptr[u], counts)].astype(np.int64)
    step = np.repeat(np.arange(len(u)), counts)
    a, b = engine._seg_a[cand], engine._seg_b[cand]
    tt_f, tt_b = engine._seg_tt_f[cand], engine._seg_tt_b[cand]
    # each step as a segment forwards (a -> b) or backwards (b -> a), where it can be driven
    fwd = (a == u[step]) & (b == v[step]) & np.isfinite(tt_f)
    bwd = (b == u[step]) & (a == v[step]) & np.isfinite(tt_b)
    st = np.concatenate([step[fwd], step[bwd]])
    cost = np.concatenate([tt_f[fwd], tt_b[bwd]])
    back = np.r_[np.zeros(fwd.sum(), dtype=bool), np.ones(bwd.sum(), dtype=bool)]
    seg = np.concatenate([cand[fwd], cand[bwd]])
    order = np.lexsort((seg, back, cost, st))
    first = order[np.r_[True, st[order][1:] != st[order][:-1]]]
    seg, back = seg[first], back[first]
    coords, which = shapely.get_coordinates(engine._seg_geom_m[seg], return_index=True)
    # the backward steps' coordinates in reverse order
    count = np.bincount(which, minlength=len(seg))
    start = np.cumsum(count) - count
    pos = np.arange(len(which)) - start[which]
    idx = np.where(back[which], start[which] + count[which] - 1 - pos, np.arange(len(which)))
    return coords[idx]


def segment_lines(engine: ReachEngine) -> gpd.GeoSeries:
    """
    The road segments of an engine as lines in EPSG:4326, one per road.

    A segment is what points snap to: the two directed edges of a two-way road (the same line
    both ways) are one segment, drawn from its ``a`` end to its ``b`` end; every other directed
    edge (a one-way road) is a segment of its own. Summing the segments counts each road once.

    Parameters
    ----------
    engine
        The engine.

    Returns
    -------
    geopandas.GeoSeries
        The segments' lines, EPSG:4326, indexed by segment number (as in :attr:`Snap.seg`).
    """
    lines = engine.to_lonlat(engine._seg_geom_m)
    return gpd.GeoSeries(lines, index=pd.RangeIndex(len(lines), name="seg"), crs="EPSG:4326")


def node_times(
    engine: ReachEngine,
    src: Snap,
    *,
    reverse: bool = False,
    limit_s: float = np.inf,
    each: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Travel time from the usable sources to every node.

    Parameters
    ----------
    engine
        The engine.
    src
        The sources' snap; the unusable ones are left out.
    reverse
        Times towards the sources instead of from them.
    limit_s
        Nodes farther than this get inf.
    each
        False: one row, the least over all sources; True: one row per usable source.

    Returns
    -------
    dist
        ``(n_nodes,)`` or ``(n_usable, n_nodes)`` times (inf where not reached).
    usable
        Positions of the usable sources (the rows of ``dist`` if ``each``).
    """
    usable = np.flatnonzero(src.seg >= 0)
    n = engine.n_nodes
    if len(usable) == 0:
        shape = (0, n) if each else (n,)
        return np.full(shape, np.inf), usable
    M = extended_matrix(engine, src, src.seg >= 0, reverse=reverse)
    dist = csgraph.dijkstra(
        M,
        directed=True,
        indices=np.arange(n, n + len(usable)),
        min_only=not each,
        limit=limit_s,
    )
    return (dist[:, :n] if each else dist[:n]), usable


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


def reached_lines(
    engine: ReachEngine,
    dist: np.ndarray,
    src: Snap,
    cols: np.ndarray,
    band_s: float,
    *,
    reverse: bool,
) -> np.ndarray:
    """Metric lines of every road part reached within ``band_s`` (``dist`` over all nodes)."""
    a, b = engine._seg_a, engine._seg_b
    geom = engine._seg_geom_m
    # costs of moving a -> b and b -> a in the searched direction
    tt_f, tt_b = engine.segment_costs(reverse=reverse)
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


def reached_points(
    engine: ReachEngine,
    dist: np.ndarray,
    src: Snap,
    cols: np.ndarray,
    *,
    limit_s: float,
    spacing_m: float,
    reverse: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the road parts reached within ``limit_s``, each with its travel time.

    The road parts are those of :func:`reached_lines` (the same partial-edge arithmetic,
    :func:`end_parts_s` and :func:`along_s`): for every band ``band_s <= limit_s``, the points
    whose time is at most ``band_s`` sample ``reached_lines(engine, dist, src, cols, band_s)``
    so that every point of those lines lies within ``spacing_m`` (along the road) of one of
    them. Each segment's vertices and ends are points, with more points on its straight
    pieces every ``spacing_m`` at most; each source in ``cols`` adds its point on the road
    and its off-road leg (points every ``spacing_m`` at most, all at the leg's time, as the
    leg is in :func:`reached_lines` once its far end is reached).

    Parameters
    ----------
    engine
        The engine.
    dist
        Times of every node from the sources (:func:`node_times`, one row).
    src
        The sources' snap.
    cols
        Positions in ``src`` of the sources of ``dist`` (their own segments and legs).
    limit_s
        Longest time kept.
    spacing_m
        Largest gap between neighbouring points along a road part or leg, metres.
    reverse
        As for :func:`node_times` (times towards the sources).

    Returns
    -------
    xy
        ``(n, 2)`` points in the engine's metric CRS.
    time_s
        Travel time of each point (at most ``limit_s``).
    """
    spacing_m = check_positive(spacing_m, "spacing_m")
    a, b = engine._seg_a, engine._seg_b
    tt_f, tt_b = engine.segment_costs(reverse=reverse)
    cols = np.asarray(cols, dtype=np.int64)
    j = cols[src.leg_s[cols] <= limit_s]
    on = (dist[a] <= limit_s) | (dist[b] <= limit_s)
    on[src.seg[j]] = True
    segs = np.flatnonzero(on)
    if len(segs) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    # the segments' vertices (rows of one segment are adjacent, segments in order)
    which = engine._seg_which
    first = np.searchsorted(which, segs, side="left")
    count = np.searchsorted(which, segs, side="right") - first
    rows = ranges(first, count)
    xy = engine._seg_xy[rows]
    seg = np.repeat(segs, count)
    last = np.r_[seg[1:] != seg[:-1], True]
    step = np.zeros_like(xy)
    step[:-1] = xy[1:] - xy[:-1]
    step[last] = 0.0
    piece = np.hypot(step[:, 0], step[:, 1])
    cum = np.cumsum(piece) - piece
    starts = np.flatnonzero(np.r_[True, last[:-1]])
    cum -= np.repeat(cum[starts], np.diff(np.r_[starts, len(cum)]))
    length = np.repeat(cum[last], count)  # the segment's length, per vertex
    # each straight piece cut into `n` equal parts of at most spacing_m (the last vertex: 1)
    n = np.maximum(1, np.ceil(piece / spacing_m)).astype(np.int64)
    rep = np.repeat(np.arange(len(xy)), n)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)
    frac = k / n[rep]
    px = xy[:, 0][rep] + frac * step[:, 0][rep]
    py = xy[:, 1][rep] + frac * step[:, 1][rep]
    seg = seg[rep]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(length[rep] > 0, (cum[rep] + frac * piece[rep]) / length[rep], 0.0)
    f = np.clip(f, 0.0, 1.0)
    f[last[rep]] = 1.0
    part_a, part_b = end_parts_s(f, tt_f[seg], tt_b[seg])
    time = np.minimum(dist[a[seg]] + part_a, dist[b[seg]] + part_b)
    out_xy, out_t = [np.column_stack([px, py])], [time]
    if len(j):
        # the direct way along a source's own segment (points sorted by segment)
        lo = np.searchsorted(seg, src.seg[j], side="left")
        hi = np.searchsorted(seg, src.seg[j], side="right")
        pair_j = np.repeat(j, hi - lo)
        pair_p = ranges(lo, hi - lo)
        sg = seg[pair_p]
        direct = src.leg_s[pair_j] + along_s(src.t[pair_j], f[pair_p], tt_f[sg], tt_b[sg])
        np.minimum.at(time, pair_p, direct)
        # each source's point on the road and its off-road leg, at the leg's time
        geom = engine._seg_geom_m
        on_road = shapely.get_coordinates(
            shapely.line_interpolate_point(geom[src.seg[j]], src.t[j], normalized=True)
        )
        leg = on_road - src.xy[j]
        m = np.maximum(1, np.ceil(np.hypot(leg[:, 0], leg[:, 1]) / spacing_m)).astype(np.int64)
        rep = np.repeat(np.arange(len(j)), m + 1)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(m + 1) - (m + 1), m + 1)
        out_xy.append(src.xy[j][rep] + (k / m[rep])[:, None] * leg[rep])
        out_t.append(src.leg_s[j][rep])
    xy_all = np.concatenate(out_xy)
    t_all = np.concatenate(out_t)
    keep = t_all <= limit_s
    return xy_all[keep], t_all[keep]
