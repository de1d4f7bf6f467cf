"""Routing: one road engine per travel mode and the searches on it.

The public face of the road-network computations that reach, dispatch, siting, grids and
isochrones share: :class:`ReachEngine` (the compiled graph and exact nearest-edge snapping,
:mod:`gridgeo.routing.engine`), the searches of :mod:`gridgeo.routing.search` and the
per-station labels of :mod:`gridgeo.routing.labels` (dispatch by look-up). Other modules use
only these names; the engine's arrays are private to this package.
"""

from __future__ import annotations

from gridgeo.routing.engine import (
    AT_NODE_M,
    DEFAULT_MAX_SNAP_M,
    DEFAULT_MIN_COMPONENT_NODES,
    REACH_REASONS,
    ReachEngine,
    Snap,
    along_s,
    end_parts_s,
    reason_code,
)
from gridgeo.routing.labels import VIA_A, VIA_B, VIA_DIRECT, StationLabels, StationTimes
from gridgeo.routing.search import (
    best_times,
    node_times,
    pair_times,
    reached_lines,
    reached_points,
    route_line,
    segment_lines,
    times_to_point,
    travel_matrix,
    travel_times,
)

__all__ = [
    "AT_NODE_M",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_MIN_COMPONENT_NODES",
    "REACH_REASONS",
    "VIA_A",
    "VIA_B",
    "VIA_DIRECT",
    "ReachEngine",
    "Snap",
    "StationLabels",
    "StationTimes",
    "along_s",
    "best_times",
    "end_parts_s",
    "node_times",
    "pair_times",
    "reached_lines",
    "reached_points",
    "reason_code",
    "route_line",
    "segment_lines",
    "times_to_point",
    "travel_matrix",
    "travel_times",
]
