"""Helpers for tests on small hand-made road graphs (imported by the test modules).

Hand graphs live in CGCS2000 / 3-degree GK CM 117E (EPSG:4548), the CRS the engine picks for
them; coordinates are metres from an origin on the central meridian near 27.1 N, so travel
times can be added up by eye.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import pyproj
from shapely.geometry import LineString, Point

from gridgeo.network import WALK_SPEED_KPH

WALK_MPS = WALK_SPEED_KPH / 3.6  # 1.25 m/s
TOL_S = 1e-6

GK = pyproj.CRS.from_epsg(4548)
X0, Y0 = 500_000.0, 3_000_000.0
_TO_LL = pyproj.Transformer.from_crs(GK, "EPSG:4326", always_xy=True)


def ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LL.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def pts(*xy: tuple[float, float] | None) -> gpd.GeoSeries:
    return gpd.GeoSeries(
        [None if p is None else Point(ll(*p)) for p in xy], crs="EPSG:4326", name="geometry"
    )


def frame(ids: list[str], *xy: tuple[float, float] | None, column: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({column: ids}, geometry=pts(*xy), crs="EPSG:4326")


def hand_graph(
    nodes: dict[str, tuple[float, float]], edges: list[tuple[str, str, float, bool]]
) -> nx.MultiDiGraph:
    """Straight edges (metres in GK); (u, v, travel_time_s, two_way)."""
    G = nx.MultiDiGraph(crs="EPSG:4326", mode="drive")
    for n, (x, y) in nodes.items():
        lon, lat = ll(x, y)
        G.add_node(n, x=lon, y=lat)
    for u, v, tt, two_way in edges:
        line = LineString([ll(*nodes[u]), ll(*nodes[v])])
        length = math.dist(nodes[u], nodes[v])
        G.add_edge(u, v, travel_time=tt, length=length, geometry=line, oneway=not two_way)
        if two_way:
            G.add_edge(v, u, travel_time=tt, length=length, geometry=line.reverse(), oneway=False)
    return G


# The ring several tests work by hand: A(0,0) - B(1000,0) - C(2000,0) two-way, 100 s each;
# C -> D(2000,1000) one-way 50 s; D -> E(1000,1000) one-way 60 s; E -> B one-way 70 s.
RING_NODES = {
    "A": (0.0, 0.0),
    "B": (1000.0, 0.0),
    "C": (2000.0, 0.0),
    "D": (2000.0, 1000.0),
    "E": (1000.0, 1000.0),
}
RING_EDGES = [
    ("A", "B", 100.0, True),
    ("B", "C", 100.0, True),
    ("C", "D", 50.0, False),
    ("D", "E", 60.0, False),
    ("E", "B", 70.0, False),
]
