"""Tests of gridgeo.routing.labels: each station's travel time to every node, then look-ups.

A hand graph whose times add up by eye (tests/handgraphs.py, metres in GK); the comparisons on
real roads against the per-query search and NetworkX are in tests/test_dispatch_labels.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from handgraphs import GK, TOL_S, WALK_MPS, X0, Y0, hand_graph, pts

from gridgeo.errors import InputError
from gridgeo.routing import (
    VIA_A,
    VIA_B,
    VIA_DIRECT,
    ReachEngine,
    StationLabels,
    StationTimes,
)

# A(0,0) -> B(500,0) one-way 50 s; B - C(1000,0) 50 s; C - D(1000,1000) 100 s;
# D - E(0,1000) 100 s; E - A 100 s (two-way)
NODES = {
    "A": (0.0, 0.0),
    "B": (500.0, 0.0),
    "C": (1000.0, 0.0),
    "D": (1000.0, 1000.0),
    "E": (0.0, 1000.0),
}
EDGES = [
    ("A", "B", 50.0, False),
    ("B", "C", 50.0, True),
    ("C", "D", 100.0, True),
    ("D", "E", 100.0, True),
    ("E", "A", 100.0, True),
]
LEG = 10 / WALK_MPS  # 8 s for a point 10 m off the road
# S1 10 m east of E-A, 800 m up from A; S2 at B; FAR beyond every road
STATIONS = ((10.0, 800.0), (500.0, 0.0), (5000.0, 5000.0))
# T1 on E-A below S1; T2 at B; T3 10 m north of B-C's middle; T4 10 m south of the one-way A->B
TARGETS = ((0.0, 300.0), (500.0, 0.0), (750.0, 10.0), (250.0, -10.0))


@pytest.fixture(scope="module")
def engine() -> ReachEngine:
    return ReachEngine(hand_graph(NODES, EDGES))


@pytest.fixture(scope="module")
def labels(engine: ReachEngine) -> StationLabels:
    return StationLabels(engine, pts(*STATIONS))


def gk_coords(line: shapely.LineString, engine: ReachEngine) -> np.ndarray:
    """The line's coordinates in the hand graph's metres (the engine works in GK here)."""
    assert engine.crs.equals(GK)
    return shapely.get_coordinates(line) - [X0, Y0]


def test_times_add_up_by_hand(engine: ReachEngine, labels: StationLabels) -> None:
    eta, via = labels.times_to(engine.snap_points(pts(*TARGETS)))
    inf = np.inf
    expected = np.array(
        [
            # S1: down E-A directly (500 m of 1000 m), plus its 8 s leg
            # S2: B -> C -> D -> E, then 700 m down E-A
            [50 + LEG, 50 + 100 + 100 + 70, inf],
            # to B: S1 down to A (80 s), A -> B; S2 is there
            [LEG + 80 + 50, 0.0, inf],
            # S1 ... A -> B, half of B-C, T3's leg; S2 half of B-C and the leg
            [LEG + 80 + 50 + 25 + LEG, 25 + LEG, inf],
            # the one-way A -> B: S1 via A; S2 at B must go round B -> C -> D -> E -> A
            [LEG + 80 + 25 + LEG, 50 + 100 + 100 + 100 + 25 + LEG, inf],
        ]
    )
    np.testing.assert_allclose(eta, expected, rtol=0, atol=TOL_S)
    assert via.dtype == np.int8
    assert via[0, 0] == VIA_DIRECT  # S1 and T1 share E-A
    assert via[3, 0] in (VIA_A, VIA_B) and via[3, 1] in (VIA_A, VIA_B)
    assert (via[:, 2] == -1).all()  # FAR is not snapped: no way


def test_nothing_for_unsnapped_targets_and_memory(engine: ReachEngine, labels) -> None:
    eta, via = labels.times_to(engine.snap_points(pts(None, (0.0, 3000.0))))
    assert np.isinf(eta).all() and (via == -1).all()
    assert len(labels) == 3
    # float64 times and int32 predecessors: 12 bytes per station and node
    assert labels.nbytes == 12 * 3 * engine.n_nodes
    assert "stations=3" in repr(labels)


def test_best_available_station(engine: ReachEngine, labels: StationLabels) -> None:
    target = engine.snap_points(pts(TARGETS[2]))
    times = labels.times_to_point(target)
    assert isinstance(times, StationTimes)
    assert times.best == 1  # S2: 33 s against 171 s
    np.testing.assert_allclose(times.eta_s[:2], [171.0, 25 + LEG], atol=TOL_S)
    times = labels.times_to_point(target, available=np.array([True, False, True]))
    assert times.best == 0
    # the unavailable station keeps its time
    assert times.eta_s[1] == pytest.approx(25 + LEG, abs=TOL_S)
    times = labels.times_to_point(target, available=np.array([False, False, True]))
    assert times.best == -1  # FAR is available but reaches nothing


def test_route_traced_from_the_predecessors(engine: ReachEngine, labels) -> None:
    # S2 at B to T4 on the one-way A -> B: round the loop and in from A
    times = labels.times_to_point(engine.snap_points(pts(TARGETS[3])))
    line = labels.route_line(times, 1)
    np.testing.assert_allclose(
        gk_coords(line, engine),
        [[500, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 0], [250, 0]],
        atol=1e-3,
    )
    assert line.length == pytest.approx(500 + 1000 + 1000 + 1000 + 250, abs=1e-6)
    # the best (S1): from its point on E-A down to A, then along A -> B
    line = labels.route_line(times)
    np.testing.assert_allclose(gk_coords(line, engine), [[0, 800], [0, 0], [250, 0]], atol=1e-3)
    # directly along a shared segment
    times = labels.times_to_point(engine.snap_points(pts(TARGETS[0])))
    line = labels.route_line(times, 0)
    np.testing.assert_allclose(gk_coords(line, engine), [[0, 800], [0, 300]], atol=1e-3)


def test_built_for_the_same_points_only(engine: ReachEngine, labels) -> None:
    assert labels.built_for(pts(*STATIONS))
    assert labels.built_for(pts(*STATIONS).to_crs(GK))  # the same points in another CRS
    assert not labels.built_for(pts(*STATIONS[:2]))
    assert not labels.built_for(pts(STATIONS[1], STATIONS[0], STATIONS[2]))
    moved = ((10.0, 801.0), *STATIONS[1:])
    assert not labels.built_for(pts(*moved))
    # built from the stations' snap: the same times
    again = StationLabels(engine, engine.snap_points(pts(*STATIONS)))
    target = engine.snap_points(pts(*TARGETS))
    np.testing.assert_array_equal(again.times_to(target)[0], labels.times_to(target)[0])


def test_errors(engine: ReachEngine, labels: StationLabels) -> None:
    with pytest.raises(InputError, match="`engine` must be a ReachEngine"):
        StationLabels(None, pts(*STATIONS))  # type: ignore[arg-type]
    small = ReachEngine(hand_graph({"A": (0.0, 0.0), "B": (500.0, 0.0)}, [EDGES[0]]))
    with pytest.raises(InputError, match="`stations` was made by another engine"):
        StationLabels(small, engine.snap_points(pts((1000.0, 500.0))))
    with pytest.raises(InputError, match="`target` must be the Snap of one point"):
        labels.times_to_point(engine.snap_points(pts(*TARGETS)))
    one = engine.snap_points(pts(TARGETS[0]))
    with pytest.raises(InputError, match="`available` must hold one boolean per station"):
        labels.times_to_point(one, available=[True, False])
    with pytest.raises(InputError, match="`available`"):
        labels.times_to_point(one, available=np.array([1, 0, 1]))
    times = labels.times_to_point(one)
    with pytest.raises(InputError, match="station 2 does not reach the point"):
        labels.route_line(times, 2)
