"""A hand-made square county (0.2° × 0.2° near 南丰) and geodesic helpers for points at known
distances from it, shared by the tests of points outside the county (test_outside.py,
test_near_boundary.py). The distances are computed with pyproj's geodesics, independently of
gridgeo."""

from __future__ import annotations

import numpy as np
from pyproj import Geod
from shapely.geometry import box

GEOD = Geod(ellps="WGS84")
SQUARE = box(116.0, 27.0, 116.2, 27.2)


def fwd(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) along ``azimuth`` (degrees from north)."""
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(x), float(y)


def geodesic_to_square(lon: float, lat: float) -> float:
    """Least geodesic distance (m) from a point to the square's edges, by brute force."""
    t = np.linspace(0.0, 1.0, 40_001)
    xs = np.concatenate(
        [116.0 + 0.2 * t, np.full_like(t, 116.2), 116.2 - 0.2 * t, np.full_like(t, 116.0)]
    )
    ys = np.concatenate(
        [np.full_like(t, 27.0), 27.0 + 0.2 * t, np.full_like(t, 27.2), 27.2 - 0.2 * t]
    )
    _, _, dist = GEOD.inv(np.full_like(xs, lon), np.full_like(ys, lat), xs, ys)
    return float(np.min(dist))
