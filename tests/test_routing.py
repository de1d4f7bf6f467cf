"""Tests of gridgeo.routing's public functions not exercised through reach, dispatch or plan.

Hand graphs of tests/handgraphs.py (metres in GK, EPSG:4548).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from handgraphs import GK, hand_graph, pts

from gridgeo.routing import ReachEngine, segment_lines


def test_segment_lines_one_per_road_in_lonlat():
    # a two-way road A-B (1000 m) and a one-way road B -> C (600 m): two segments, the two
    # directed edges of A-B being one
    nodes = {"A": (0.0, 0.0), "B": (1000.0, 0.0), "C": (1000.0, 600.0)}
    G = hand_graph(nodes, [("A", "B", 60.0, True), ("B", "C", 36.0, False)])
    engine = ReachEngine(G)
    lines = segment_lines(engine)
    assert lines.crs.to_epsg() == 4326
    assert list(lines.index) == [0, 1]
    m = lines.to_crs(GK)
    got = sorted(round(float(g.length), 6) for g in m.geometry)
    assert got == [600.0, 1000.0]
    # the index is the snap's segment number: a point 10 m west of B -> C's middle snaps to
    # the 600 m segment, one 10 m south of A-B's middle to the 1000 m one
    snap = engine.snap_points(pts((990.0, 300.0), (500.0, -10.0)))
    assert m.geometry.iloc[snap.seg[0]].length == pytest.approx(600.0, abs=1e-6)
    assert m.geometry.iloc[snap.seg[1]].length == pytest.approx(1000.0, abs=1e-6)
    # a two-way road's segment runs between its two nodes, in lon/lat
    ab = lines.iloc[snap.seg[1]]
    ends = {tuple(np.round(c, 9)) for c in shapely.get_coordinates(ab)[[0, -1]]}
    expected = {tuple(np.round(shapely.get_coordinates(p)[0], 9)) for p in pts((0, 0), (1000, 0))}
    assert ends == expected
