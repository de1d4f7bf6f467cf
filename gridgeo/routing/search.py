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
  of one of them (dispatch);
- :func:`node_times`, :func:`reached_lines`: times of every node and the road parts reached
  within a band (isochrones).
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
    "reached_lines",
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
    origin = np.where(origin >= n, origin - n, -1)
    origin = np.where(origin >= 0, j[np.maximum(origin, 0)], -1)
    tt_ab, tt_ba = engine.segment_costs(reverse=reverse)
    on = np.flatnonzero(dst.seg >= 0)
    seg, t = dst.seg[on], dst.t[on]
    a, b = engine._seg_a[seg], engine._seg_b[seg]
    part_a, part_b = end_parts_s(t, tt_ab[seg], tt_ba[seg])
    cand = np.stack([dist[a] + part_a, dist[b] + part_b])
    cand_src = np.stack([origin[a], origin[b]])
    pick = np.argmin(cand, axis=0)
    e = cand[pick, np.arange(len(on))]
    s_best = cand_src[pick, np.arange(len(on))]
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
    geom = engine._seg_geom_m
    if choice[k] == 2:
        parts = [_coords(substring(geom[s_seg], s_t, f_t, normalized=True))]
    else:
        s_end = 0.0 if choice[k] == 0 else 1.0
        parts = [_coords(substring(geom[s_seg], s_t, s_end, normalized=True))]
        n = engine.n_nodes
        path = np.asarray(nodes, dtype=np.int64)
        if len(path) > 1:
            u, v = path[:-1], path[1:]
            a, b = engine._seg_a, engine._seg_b
            # each directed step as a segment forwards (a -> b) or backwards (b -> a)
            keys = np.concatenate([a * n + b, b * n + a])
            cost = np.concatenate([engine._seg_tt_f, engine._seg_tt_b])
            seg = np.concatenate([np.arange(len(a)), np.arange(len(a))])
            back = np.r_[np.zeros(len(a), dtype=bool), np.ones(len(a), dtype=bool)]
            want = u * n + v
            m = np.isin(keys, want) & np.isfinite(cost)
            table = pd.DataFrame({"key": keys[m], "cost": cost[m], "seg": seg[m], "back": back[m]})
            table = table.sort_values(["key", "cost"], kind="stable").drop_duplicates("key")
            table = table.set_index("key").loc[want]
            for sg, bk in zip(table["seg"].to_numpy(), table["back"].to_numpy(), strict=True):
                c = _coords(geom[sg])
                parts.append(c[::-1] if bk else c)
        f_start = 0.0 if enter_a else 1.0
        parts.append(_coords(substring(geom[f_seg], f_start, f_t, normalized=True)))
    xy = np.concatenate(parts)
    keep = np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]
    xy = xy[keep]
    if len(xy) == 1:
        xy = np.vstack([xy, xy])
    return shapely.LineString(xy)


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
