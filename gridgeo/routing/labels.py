"""Station labels: every station's travel time to every node, so that a dispatch is a look-up.

A dispatch asks, for one fault, every repair station's travel time to it. The per-query way
(:func:`~gridgeo.routing.search.times_to_point`) runs one unbounded Dijkstra search from the
fault for every fault. The stations do not move between faults, so :class:`StationLabels` runs
one search per station, once, and keeps its travel time to every node (its *label*) and the
predecessor of every node on the way. A dispatch is then one snap of the fault and array
look-ups.

Method
------
Each station's search runs on the forward graph from the station: a virtual node joined to both
ends of the station's snapped segment with the partial-edge times and the station's off-road
leg (:func:`~gridgeo.routing.search.extended_matrix`, the way every search of
:mod:`gridgeo.routing.search` joins its sources). For a fault snapped at fraction ``t`` of
segment ``a -> b``, station ``i``'s time is

``min(label_i[a] + part a -> fault, label_i[b] + part b -> fault, direct) + fault's leg``

where the parts are :func:`~gridgeo.routing.engine.end_parts_s` of the fault's segment and
``direct`` is the way along the segment (:func:`~gridgeo.routing.engine.along_s`) when the
station is snapped on the fault's own segment. These are the terms of the per-query search,
added in another order: the times agree with it to rounding (well under 1e-6 s; tested against
it and against NetworkX). The route is traced for one station only, from its stored
predecessors, and drawn by :func:`~gridgeo.routing.search.path_line` as the per-query route is.

Memory and time
---------------
12 bytes per station and node: float64 times (answers equal the per-query search's; float32
would round a 30-minute ETA by up to 0.1 ms and can flip near-ties) and int32 predecessors:
83 MB for 7 stations on the 10^6-node sample county. Building costs one search per station
(about 1 s for the 7 stations there); a query costs a snap and a few array look-ups per station,
whatever the size of the graph (about 0.1 ms for the look-ups, 0.5 ms with the snap: see
``benchmarks/bench_dispatch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csgraph

from gridgeo.errors import InputError
from gridgeo.routing.engine import ReachEngine, Snap, along_s, end_parts_s
from gridgeo.routing.search import extended_matrix, path_line

__all__ = ["VIA_A", "VIA_B", "VIA_DIRECT", "StationLabels", "StationTimes"]

VIA_A, VIA_B, VIA_DIRECT = 0, 1, 2
_SAME_POINT_M = 1e-6  # stations this close (metres) to the labels' own are the same stations


@dataclass(frozen=True)
class StationTimes:
    """Every station's travel time to one point, from :meth:`StationLabels.times_to_point`.

    Attributes
    ----------
    eta_s
        Time of each station (in the labels' order), off-road legs at both ends included; inf
        where the station does not reach the point.
    via
        How each station's way reaches the point: :data:`VIA_A` (into the point's segment at
        its end ``a``), :data:`VIA_B` (at its end ``b``), :data:`VIA_DIRECT` (along the
        segment the station itself is on); -1 where there is no way.
    best
        Position of the quickest available station (ties: the first); -1 when no available
        station reaches the point.
    target
        The point's snap.
    """

    eta_s: np.ndarray
    via: np.ndarray
    best: int
    target: Snap


class StationLabels:
    """
    Each station's travel time and predecessor at every node of one engine (see the module).

    Built once per engine and set of stations (a search per station) and then reused for any
    number of faults; read-only afterwards, so one object can serve concurrent requests.

    Parameters
    ----------
    engine
        The engine of the travel mode (the drive graph for repair crews).
    stations
        The stations as points in any CRS, or their :class:`~gridgeo.routing.engine.Snap` on
        ``engine``. A station that cannot be snapped reaches nothing.

    Attributes
    ----------
    engine
        The engine.
    snap
        The stations' snap (their order is the order of every per-station result).

    Raises
    ------
    InputError
        If ``engine`` is not a :class:`~gridgeo.routing.engine.ReachEngine` or ``stations``
        is a snap made by another engine (:meth:`ReachEngine.check_snap`).
    """

    def __init__(
        self, engine: ReachEngine, stations: gpd.GeoSeries | gpd.GeoDataFrame | Snap
    ) -> None:
        if not isinstance(engine, ReachEngine):
            msg = f"`engine` must be a ReachEngine, got {type(engine).__name__}"
            raise InputError(msg)
        if isinstance(stations, Snap):
            snap = engine.check_snap(stations, len(stations), name="stations")
        else:
            snap = engine.snap_points(stations, "stations")
        n, k = engine.n_nodes, len(snap)
        self.engine = engine
        self.snap = snap
        self._times = np.full((k, n), np.inf)
        # a node's predecessor on the way from the station; n: the station itself, -1: none
        self._pred = np.full((k, n), -1, dtype=np.int32)
        usable = snap.seg >= 0
        if usable.any():
            M = extended_matrix(engine, snap, usable, reverse=False)
            for i, j in enumerate(np.flatnonzero(usable)):
                dist, pred = csgraph.dijkstra(
                    M, directed=True, indices=n + i, return_predecessors=True
                )
                self._times[j] = dist[:n]
                p = pred[:n]
                self._pred[j] = np.where(p >= n, n, np.maximum(p, -1))
        # the segments at each node, for tracing routes: built now, not on the first dispatch
        engine._node_segs  # noqa: B018

    def __len__(self) -> int:
        return len(self.snap)

    @property
    def nbytes(self) -> int:
        """Memory of the labels (times and predecessors), bytes."""
        return int(self._times.nbytes + self._pred.nbytes)

    def __repr__(self) -> str:
        return (
            f"StationLabels(stations={len(self)}, nodes={self.engine.n_nodes}, "
            f"nbytes={self.nbytes})"
        )

    def built_for(self, stations: gpd.GeoSeries | gpd.GeoDataFrame) -> bool:
        """
        Whether ``stations`` are the points these labels were built from.

        Parameters
        ----------
        stations
            Points in any CRS.

        Returns
        -------
        bool
            True when they are as many, in the same order, each within 1 µm of the labels'
            station (missing where it was missing).
        """
        xy, _ = self.engine._points_m(stations, "stations")
        if xy.shape != self.snap.xy.shape:
            return False
        same = np.abs(xy - self.snap.xy) <= _SAME_POINT_M
        both_missing = np.isnan(xy) & np.isnan(self.snap.xy)
        return bool(np.all(same | both_missing))

    def times_to(self, targets: Snap) -> tuple[np.ndarray, np.ndarray]:
        """
        Every station's time to each target (vectorised over targets).

        Parameters
        ----------
        targets
            The targets' snap on the labels' engine.

        Returns
        -------
        eta_s
            ``(n_targets, n_stations)`` times, off-road legs at both ends included; inf where
            none (the target or the station is not snapped, or no way).
        via
            ``(n_targets, n_stations)`` int8: :data:`VIA_A`, :data:`VIA_B`,
            :data:`VIA_DIRECT` (see :class:`StationTimes`); -1 where none.
        """
        m, k = len(targets), len(self)
        eta = np.full((m, k), np.inf)
        via = np.full((m, k), -1, dtype=np.int8)
        on = np.flatnonzero(targets.seg >= 0)
        if len(on) == 0 or k == 0:
            return eta, via
        e, s = self.engine, self.snap
        seg, t = targets.seg[on], targets.t[on]
        tt_f, tt_b = e._seg_tt_f[seg], e._seg_tt_b[seg]
        part_a, part_b = end_parts_s(t, tt_f, tt_b)
        cand = np.empty((3, len(on), k))
        cand[VIA_A] = self._times[:, e._seg_a[seg]].T + part_a[:, None]
        cand[VIA_B] = self._times[:, e._seg_b[seg]].T + part_b[:, None]
        cand[VIA_DIRECT] = np.inf
        r, c = np.nonzero(seg[:, None] == s.seg[None, :])
        if len(r):
            cand[VIA_DIRECT, r, c] = along_s(s.t[c], t[r], tt_f[r], tt_b[r]) + s.leg_s[c]
        pick = np.argmin(cand, axis=0)
        best = np.take_along_axis(cand, pick[None], axis=0)[0]
        # the direct way where it is as quick (the per-query search's rule)
        pick = np.where(cand[VIA_DIRECT] <= best, VIA_DIRECT, pick)
        eta[on] = best + targets.leg_s[on][:, None]
        via[on] = np.where(np.isfinite(best), pick, -1)
        return eta, via

    def times_to_point(self, target: Snap, *, available: Any = None) -> StationTimes:
        """
        Every station's time to one point and the quickest available station.

        Parameters
        ----------
        target
            The snap of one point (a fault) on the labels' engine.
        available
            Boolean per station (the labels' order): which stations may be chosen; all when
            None. The others still get their times.

        Returns
        -------
        StationTimes

        Raises
        ------
        InputError
            If ``target`` is not the snap of one point, or ``available`` does not have one
            boolean per station.
        """
        if not isinstance(target, Snap) or len(target) != 1:
            msg = "`target` must be the Snap of one point (`engine.snap_points(point)`)"
            raise InputError(msg)
        k = len(self)
        if available is None:
            ok = np.ones(k, dtype=bool)
        else:
            ok = np.asarray(available)
            if ok.dtype != bool or ok.shape != (k,):
                msg = (
                    f"`available` must hold one boolean per station ({k}), got "
                    f"{ok.dtype} of shape {ok.shape}"
                )
                raise InputError(msg)
        eta, via = self.times_to(target)
        eta, via = eta[0], via[0]
        usable = np.where(ok, eta, np.inf)
        best = int(np.argmin(usable)) if k and np.isfinite(usable).any() else -1
        return StationTimes(eta_s=eta, via=via, best=best, target=target)

    def route_line(self, times: StationTimes, k: int | None = None) -> shapely.LineString:
        """
        The route of station ``k`` to the point of ``times``, in the engine's metric CRS.

        From the station's point on the road along its segment, the roads of its search's
        node path, to the point on the road (off-road legs excluded); traced back from the
        point through the station's stored predecessors.

        Parameters
        ----------
        times
            The result of :meth:`times_to_point` on these labels.
        k
            Position of the station; the best available one (``times.best``) when None.

        Returns
        -------
        shapely.LineString
            Metric coordinates (:attr:`ReachEngine.crs`); ``engine.to_lonlat`` gives lon/lat.

        Raises
        ------
        InputError
            If the station does not reach the point.
        """
        k = times.best if k is None else int(k)
        if not 0 <= k < len(self) or times.via[k] < 0:
            msg = f"station {k!r} does not reach the point: there is no route to draw"
            raise InputError(msg)
        e = self.engine
        s_seg, s_t = int(self.snap.seg[k]), float(self.snap.t[k])
        f_seg, f_t = int(times.target.seg[0]), float(times.target.t[0])
        via = int(times.via[k])
        if via == VIA_DIRECT:
            return path_line(e, (s_seg, s_t), (f_seg, f_t), None, leave_a=False, enter_a=False)
        x = int(e._seg_a[f_seg] if via == VIA_A else e._seg_b[f_seg])
        pred, n = self._pred[k], e.n_nodes
        nodes = [x]
        while pred[x] != n:
            x = int(pred[x])
            if x < 0 or len(nodes) > n:  # not reached (via says it is): labels out of step
                msg = "the labels' predecessors do not lead back to the station; rebuild them"
                raise RuntimeError(msg)
            nodes.append(x)
        nodes.reverse()
        # the station left its segment by the end its search joined to the path's first node
        # (both ends of a loop: the quicker join, as the search took it)
        sa, sb = int(e._seg_a[s_seg]), int(e._seg_b[s_seg])
        part_a, part_b = end_parts_s(
            np.array([s_t]), e._seg_tt_b[s_seg : s_seg + 1], e._seg_tt_f[s_seg : s_seg + 1]
        )
        leave_a = nodes[0] == sa and (nodes[0] != sb or bool(part_a[0] <= part_b[0]))
        return path_line(
            e, (s_seg, s_t), (f_seg, f_t), nodes, leave_a=leave_a, enter_a=via == VIA_A
        )
