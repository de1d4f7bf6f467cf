"""Terrain and road network of the generated sample county (private to ``gridgeo.sample``).

Roads are generated graph-first: node coordinates are fixed first and every edge runs between
two exact node coordinates, so :func:`gridgeo.network.graph_from_roads` joins them at their shared
end points. Long roads (国道, 省道, 县道, 乡道) follow least-cost paths over a 250 m raster of a
synthetic terrain (cost grows with slope and height, existing roads are cheaper), are smoothed
and, in the hills, made winding; the G35 motorway has two one-way carriageways with
interchanges; the county seat has a street grid with a few one-way runs; village lanes are
random spanning trees of small grids with a few loops (``road_detail`` scales them); tracks run
from the villages into the hills; a few tiny road pieces are deliberately joined to nothing.
All work is in the county's metric CRS; :func:`roads_gdf` turns the result into EPSG:4326.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gridgeo.errors import InputError

COUNTY_NAME = "南丰县"
COUNTY_SEAT = "琴城镇"
PARK = "南丰工业园区"
FARM = "南丰县长红垦殖场"
COORD_DECIMALS = 7  # about 1 cm

# Geography (WGS84). The real seats come from the gazetteer; these are generated anchors.
GUANGCHANG_LONLAT = (116.325, 26.838)  # 广昌县 seat, where G206 / G35 leave to the south
NANCHENG_LONLAT = (116.637, 27.553)  # 南城县 seat, where they leave to the north
JUNFENG_LONLAT = (116.32, 27.16)  # 军峰山, ~1,760 m
JUNFENG_M = 1760.0
EAST_HILLS = (  # lon, lat, height m, sigma m
    (116.70, 27.12, 520.0, 7000.0),
    (116.66, 26.98, 380.0, 6000.0),
    (116.72, 27.26, 330.0, 6000.0),
    (116.57, 26.92, 300.0, 5000.0),
    (116.24, 26.99, 350.0, 7000.0),
)

CELL_M = 250.0
INSET_M = 200.0
ROAD_DISCOUNT = 0.35
MAX_CHAIN_CELLS = 16
CITY_SPACING_M = 190.0
CITY_RADII_M = (1700.0, 2000.0)
PARK_SPACING_M = 240.0
LANE_SPACING_M = 70.0
LANE_BASE_NODES = 36.0
LANE_LOOP_SHARE = 0.12
MOTORWAY_OFFSET_M = 12.0

# Road classes: rank -> (Chinese class, OSM highway). Lower rank wins where roads share cells.
_RANKS: tuple[tuple[str, str], ...] = (
    ("国道", "trunk"),
    ("省道", "primary"),
    ("县道", "secondary"),
    ("乡道", "tertiary"),
    ("村道", "unclassified"),
)
# Hill roads are slower than the class speeds of gridgeo.network (one class down).
_HILL_MAXSPEED_KPH = {1: 40.0, 2: 30.0, 3: 25.0, 4: 20.0}
_HILL_ELEV_M = 380.0
_S_ROAD_NUMBERS = (213, 217, 305, 309, 316, 320, 324, 328, 332, 336, 340, 344, 348, 352)
_CITY_AVENUES = (
    "人民路",
    "建设路",
    "解放路",
    "新建路",
    "国安路",
    "仓山路",
    "琴台路",
    "琴湖路",
    "沿江路",
    "桔都东路",
    "桔都西路",
    "子固路",
    "胜利路",
    "曾巩大道",
)


@dataclass(frozen=True)
class RoadPlan:
    """What the road generator needs to know of a county beyond its places.

    The defaults are 南丰县: G206 along the 盱江 through 白舍镇, 琴城镇 and 洽湾镇 towards 广昌县
    and 南城县, the G35 motorway with its interchanges, the industrial park. Other counties
    get a plan from :func:`generic_plan`: one national road along the main valley through the
    county seat, no motorway and no park.
    """

    county_seat: str = COUNTY_SEAT
    park: str | None = PARK
    minor_towns: tuple[str, ...] = (FARM, PARK)  # reached by a 县道, not a 省道
    trunk_name: str = "G206国道"
    trunk_towns: tuple[str, ...] = ("白舍镇", COUNTY_SEAT, "洽湾镇")
    trunk_out_lonlat: tuple[tuple[float, float], tuple[float, float]] | None = (
        GUANGCHANG_LONLAT,
        NANCHENG_LONLAT,
    )
    trunk_out_xy: tuple[tuple[float, float], tuple[float, float]] | None = None
    motorway: bool = True
    interchange_towns: tuple[str, ...] = ("白舍镇", COUNTY_SEAT, "洽湾镇", "太和镇")
    island_note: str = "盱江江心洲: a lane loop on a river island, ferry only"
    require_island: bool = True


NANFENG_PLAN = RoadPlan()


def generic_plan(county_seat: str, minor_towns: tuple[str, ...], terrain: Terrain) -> RoadPlan:
    """The road plan of a county other than Nanfeng: a 国道 along the terrain's valley."""
    xy = shapely.get_coordinates(terrain.river)
    a, b = xy[0], xy[-1]
    ta = (a - xy[min(3, len(xy) - 1)]) / max(np.hypot(*(a - xy[min(3, len(xy) - 1)])), 1.0)
    tb = (b - xy[max(len(xy) - 4, 0)]) / max(np.hypot(*(b - xy[max(len(xy) - 4, 0)])), 1.0)
    out_a = a + 5000.0 * ta
    out_b = b + 5000.0 * tb
    return RoadPlan(
        county_seat=county_seat,
        park=None,
        minor_towns=minor_towns,
        trunk_name="国道干线",
        trunk_towns=(county_seat,),
        trunk_out_lonlat=None,
        trunk_out_xy=((float(out_a[0]), float(out_a[1])), (float(out_b[0]), float(out_b[1]))),
        motorway=False,
        interchange_towns=(),
        island_note="江心洲: a lane loop on a river island, ferry only",
        require_island=False,
    )


def short_town_name(town: str) -> str:
    name = town.removeprefix(COUNTY_NAME).removeprefix("南丰")
    return name[:-1] if name[-1] in "镇乡" else name


# ----------------------------------------------------------------------------- geometry helpers


class Frame:
    """Forward and inverse transforms between EPSG:4326 and the county's metric CRS."""

    def __init__(self, crs: pyproj.CRS) -> None:
        self.crs = crs
        self._fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        self._inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def to_m(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_ll(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return (
            np.round(np.asarray(lon, dtype=float), COORD_DECIMALS),
            np.round(np.asarray(lat, dtype=float), COORD_DECIMALS),
        )

    def geom_to_m(self, geom: Any) -> Any:
        return shapely.transform(geom, lambda c: np.column_stack(self.to_m(c[:, 0], c[:, 1])))

    def geom_to_ll(self, geom: Any) -> Any:
        return shapely.transform(geom, lambda c: np.column_stack(self.to_ll(c[:, 0], c[:, 1])))


def _chaikin(xy: np.ndarray, iterations: int) -> np.ndarray:
    """Corner-cutting smoothing of an open polyline that keeps both end points."""
    for _ in range(iterations):
        if len(xy) < 3:
            return xy
        a, b = xy[:-1], xy[1:]
        q = 0.75 * a + 0.25 * b
        r = 0.25 * a + 0.75 * b
        inner = np.empty((2 * len(a), 2))
        inner[0::2] = q
        inner[1::2] = r
        xy = np.vstack([xy[:1], inner[1:-1], xy[-1:]])
    return xy


def _wiggle(xy: np.ndarray, amp_m: float, wavelength_m: float, phase: float) -> np.ndarray:
    """Offset a polyline sideways by a sine wave that vanishes at both ends."""
    if amp_m <= 0.5 or len(xy) < 2:
        return xy
    line = shapely.segmentize(shapely.LineString(xy), wavelength_m / 8.0)
    c = shapely.get_coordinates(line)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c, axis=0).T))])
    total = s[-1]
    if total < 1.0:
        return xy
    t = np.gradient(c, axis=0)
    norm = np.hypot(t[:, 0], t[:, 1])
    norm[norm == 0] = 1.0
    n = np.column_stack([-t[:, 1] / norm, t[:, 0] / norm])
    off = amp_m * np.sin(2 * np.pi * s / wavelength_m + phase) * np.sin(np.pi * s / total)
    out = c + n * off[:, None]
    out[0], out[-1] = c[0], c[-1]
    return out


# ----------------------------------------------------------------------------- terrain


@dataclass(frozen=True)
class Terrain:
    river: shapely.LineString
    y_north: float
    y_south: float
    bumps: np.ndarray  # (k, 4): x, y, height m, sigma m
    waves: np.ndarray  # (k, 4): kx, ky, phase, amplitude m

    def trend(self, x: Any, y: Any) -> np.ndarray:
        """The large-scale relief: valley floor, rise away from the river, hills, basins."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        d = shapely.distance(self.river, shapely.points(x, y))
        t = np.clip((self.y_north - y) / (self.y_north - self.y_south), 0.0, 1.0)
        e = 95.0 + 70.0 * t + 480.0 * (1.0 - np.exp(-((d / 8000.0) ** 2)))
        for bx, by, h, sig in self.bumps:
            e += h * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2.0 * sig * sig))
        return e

    def elevation(self, x: Any, y: Any) -> np.ndarray:
        """Height in metres: the trend plus ridges and side valleys, stronger in the hills."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        e = self.trend(x, y)
        noise = np.zeros_like(e)
        for kx, ky, ph, amp in self.waves:
            noise += amp * np.sin(kx * x + ky * y + ph)
        hills = np.clip((e - 130.0) / 350.0, 0.0, 1.0)
        return np.maximum(e + noise * (0.15 + 0.85 * hills), 80.0)


def _river_and_waves(xy: np.ndarray, rng: Any) -> tuple[shapely.LineString, np.ndarray]:
    """The river along the smoothed, wiggled course ``xy`` and the terrain's random waves."""
    xy = _chaikin(xy, 3)
    xy = _wiggle(xy, 350.0, 3500.0, float(rng.uniform(0, 2 * np.pi)))
    river = shapely.LineString(xy)
    n_waves = 12
    wavelength = rng.uniform(2000.0, 9000.0, n_waves)
    angle = rng.uniform(0, np.pi, n_waves)
    waves = np.column_stack(
        [
            2 * np.pi / wavelength * np.cos(angle),
            2 * np.pi / wavelength * np.sin(angle),
            rng.uniform(0, 2 * np.pi, n_waves),
            rng.uniform(25.0, 60.0, n_waves),
        ]
    )
    return river, waves


def _basins(
    base: Terrain, seats: dict[str, tuple[float, float]], county_seat: str
) -> list[tuple[float, float, float, float]]:
    """Basins at the township seats (not the county seat's), so each sits in its own valley."""
    basins = []
    for name, (sx, sy) in seats.items():
        if name == county_seat:
            continue
        e = float(base.elevation([sx], [sy])[0])
        basins.append((sx, sy, -0.55 * max(e - 140.0, 0.0), 2500.0))
    return basins


def make_terrain(
    frame: Frame, county_m: shapely.Geometry, seats: dict[str, tuple[float, float]], rng: Any
) -> Terrain:
    """A smooth synthetic terrain: the 盱江 valley, 军峰山, eastern hills, basins at the seats."""
    boundary = county_m.boundary

    def exit_point(inside: tuple[float, float], outside_ll: tuple[float, float]) -> np.ndarray:
        ox, oy = frame.to_m(*outside_ll)
        hit = shapely.LineString([inside, (float(ox), float(oy))]).intersection(boundary)
        pts = shapely.get_coordinates(hit)
        if len(pts) == 0:
            near = shapely.ops.nearest_points(boundary, shapely.Point(ox, oy))[0]
            return np.array([near.x, near.y])
        return pts[np.argmin(np.hypot(pts[:, 0] - inside[0], pts[:, 1] - inside[1]))]

    baishe, qincheng, qiawan = seats["白舍镇"], seats[COUNTY_SEAT], seats["洽湾镇"]
    south = exit_point(baishe, GUANGCHANG_LONLAT)
    north = exit_point(qiawan, NANCHENG_LONLAT)
    mid = (np.array(baishe) + np.array(qincheng)) / 2.0
    xy = np.array([south, baishe, mid, qincheng, qiawan, north], dtype=float)
    river, waves = _river_and_waves(xy, rng)
    _, miny, _, maxy = county_m.bounds
    bumps = []
    for lon, lat, h, sig in EAST_HILLS:
        bx, by = frame.to_m(lon, lat)
        bumps.append((float(bx), float(by), h, sig))
    base = Terrain(river, maxy, miny, np.array(bumps), waves)
    # Basins at the real seats, so that the townships sit in their own valleys.
    basins = _basins(base, seats, COUNTY_SEAT)
    base = Terrain(river, maxy, miny, np.array(bumps + basins), waves)
    jx, jy = frame.to_m(*JUNFENG_LONLAT)
    peak = float(base.elevation([float(jx)], [float(jy)])[0])
    massif = (float(jx), float(jy), JUNFENG_M - peak, 4500.0)
    return Terrain(river, maxy, miny, np.array([*bumps, *basins, massif]), waves)


def make_generic_terrain(
    county_m: shapely.Geometry,
    seats: dict[str, tuple[float, float]],
    county_seat: str,
    rng: Any,
) -> Terrain:
    """A synthetic terrain for any county: a valley along the county's long axis.

    The main river runs through the county seat along the long axis of the county's largest
    piece (its minimum rotated rectangle), from boundary to boundary; hills rise at random
    places away from the seat (more of them in larger counties), and every township seat sits
    in a basin. Everything here is generated; no real relief is used.
    """
    pieces = sorted(shapely.get_parts(county_m), key=lambda g: -g.area)
    main = pieces[0]
    rect = shapely.get_coordinates(shapely.minimum_rotated_rectangle(main))[:4]
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    axis = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    length = float(np.hypot(*axis))
    axis = axis / max(length, 1.0)
    if axis[1] < 0:  # run the river from south to north
        axis = -axis
    seat = np.array(seats[county_seat])
    a = seat - axis * (length + 10000.0)
    b = seat + axis * (length + 10000.0)
    hit = shapely.get_coordinates(shapely.LineString([a, b]).intersection(main.boundary))
    if len(hit) >= 2:
        s = (hit - seat) @ axis
        south = hit[s < 0][np.argmax(s[s < 0])] if (s < 0).any() else seat - axis * 1000.0
        north = hit[s > 0][np.argmin(s[s > 0])] if (s > 0).any() else seat + axis * 1000.0
    else:
        south, north = seat - axis * 1000.0, seat + axis * 1000.0
    nrm = np.array([-axis[1], axis[0]])
    xy = np.array(
        [
            south,
            (2 * south + seat) / 3 + nrm * rng.uniform(-2000.0, 2000.0),
            seat,
            (2 * north + seat) / 3 + nrm * rng.uniform(-2000.0, 2000.0),
            north,
        ]
    )
    river, waves = _river_and_waves(xy, rng)
    _, miny, _, maxy = county_m.bounds
    n_hills = int(np.clip(county_m.area / 250e6, 3, 10))
    minx, miny_, maxx, maxy_ = county_m.bounds
    cand = np.column_stack(
        [rng.uniform(minx, maxx, 400 * n_hills), rng.uniform(miny_, maxy_, 400 * n_hills)]
    )
    cand = cand[shapely.contains_xy(county_m, cand[:, 0], cand[:, 1])]
    d_river = shapely.distance(river, shapely.points(cand))
    # hills stand away from the valley: the 40 % of places farthest from the river
    cand = cand[d_river >= np.quantile(d_river, 0.6)]
    bumps = []
    for p in cand[: 4 * n_hills : 4]:
        bumps.append(
            (float(p[0]), float(p[1]), float(rng.uniform(300, 700)), float(rng.uniform(4e3, 8e3)))
        )
    base = Terrain(river, maxy, miny, np.array(bumps).reshape(-1, 4), waves)
    basins = _basins(base, seats, county_seat)
    return Terrain(river, maxy, miny, np.array(bumps + basins).reshape(-1, 4), waves)


# ----------------------------------------------------------------------------- raster routing


class Raster:
    """A 250 m cost raster of the county for least-cost road paths (8-connected cells)."""

    def __init__(self, county_m: shapely.Geometry, terrain: Terrain) -> None:
        minx, miny, maxx, maxy = county_m.bounds
        nx_ = int(np.ceil((maxx - minx) / CELL_M)) + 1
        ny_ = int(np.ceil((maxy - miny) / CELL_M)) + 1
        gx, gy = np.meshgrid(minx + CELL_M * np.arange(nx_), miny + CELL_M * np.arange(ny_))
        inset = county_m.buffer(-INSET_M)
        valid = shapely.contains_xy(inset, gx, gy)
        self.shape = (ny_, nx_)
        self.index = np.full(gx.shape, -1, dtype=np.int64)
        self.index[valid] = np.arange(int(valid.sum()))
        self.row, self.col = np.nonzero(valid)
        self.xy = np.column_stack([gx[valid], gy[valid]])
        self.n = len(self.xy)
        self.elev = terrain.elevation(self.xy[:, 0], self.xy[:, 1])
        self.tree = cKDTree(self.xy)
        src, dst = [], []
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            r2, c2 = self.row + dr, self.col + dc
            ok = (r2 >= 0) & (r2 < ny_) & (c2 >= 0) & (c2 < nx_)
            j = np.full(self.n, -1, dtype=np.int64)
            j[ok] = self.index[r2[ok], c2[ok]]
            keep = j >= 0
            src.append(np.flatnonzero(keep))
            dst.append(j[keep])
        a = np.concatenate(src)
        b = np.concatenate(dst)
        self.src = np.concatenate([a, b])
        self.dst = np.concatenate([b, a])
        length = np.hypot(*(self.xy[self.src] - self.xy[self.dst]).T)
        dz = np.abs(self.elev[self.src] - self.elev[self.dst])
        mean_e = (self.elev[self.src] + self.elev[self.dst]) / 2.0
        self.length = length
        self.slope = dz / length
        self.mean_elev = mean_e
        self.base_w = length * (1.0 + 25.0 * self.slope + mean_e / 600.0)
        self.on_road = np.zeros(len(self.src), dtype=bool)
        key = self.src * self.n + self.dst
        self._order = np.argsort(key)
        self._keys = key[self._order]

    def cell(self, x: float, y: float) -> int:
        return int(self.tree.query([x, y])[1])

    def edge_ids(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        key = np.asarray(a) * self.n + np.asarray(b)
        return self._order[np.searchsorted(self._keys, key)]

    def mark(self, path: list[int]) -> None:
        if len(path) < 2:
            return
        p = np.asarray(path)
        self.on_road[self.edge_ids(p[:-1], p[1:])] = True
        self.on_road[self.edge_ids(p[1:], p[:-1])] = True

    def weights(self, *, discount: float = ROAD_DISCOUNT, extra: Any = None) -> np.ndarray:
        w = self.base_w * np.where(self.on_road, discount, 1.0)
        if extra is not None:
            w = w * extra
        return w

    def paths(self, sources: list[int], targets: list[list[int]], w: np.ndarray) -> list[list[int]]:
        """Least-cost cell paths from each source to each of its targets."""
        graph = sparse.csr_matrix((w, (self.src, self.dst)), shape=(self.n, self.n))
        uniq = sorted(set(sources))
        _, pred = csgraph.dijkstra(graph, indices=uniq, return_predecessors=True)
        row_of = {s: i for i, s in enumerate(uniq)}
        out: list[list[int]] = []
        for s, ts in zip(sources, targets, strict=True):
            pr = pred[row_of[s]]
            for t in ts:
                path = [t]
                while path[-1] != s:
                    p = int(pr[path[-1]])
                    if p < 0:
                        path = []
                        break
                    path.append(p)
                out.append(path[::-1])
        return out


# ----------------------------------------------------------------------------- road builder


class _Roads:
    """Nodes with fixed coordinates and edges between them (graph-first road generation)."""

    _ATTRS = ("highway", "road_class", "name", "oneway", "maxspeed")

    def __init__(self) -> None:
        self._xy: list[np.ndarray] = []
        self.n_nodes = 0
        self._edges: list[dict[str, Any]] = []

    def add_nodes(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        ids = np.arange(self.n_nodes, self.n_nodes + len(xy))
        self._xy.append(xy)
        self.n_nodes += len(xy)
        return ids

    @property
    def node_xy(self) -> np.ndarray:
        if not self._xy:
            return np.empty((0, 2))
        self._xy = [np.vstack(self._xy)]
        return self._xy[0]

    def add_edges(
        self,
        u: Any,
        v: Any,
        inner: list[np.ndarray] | None = None,
        *,
        counts: Any = None,
        inner_xy: Any = None,
        **attrs: Any,
    ) -> None:
        """Add edges u -> v; interior vertices as a list of arrays or as (counts, inner_xy)."""
        u = np.atleast_1d(np.asarray(u, dtype=np.int64))
        v = np.atleast_1d(np.asarray(v, dtype=np.int64))
        if inner is not None:
            counts = np.array([len(a) for a in inner], dtype=np.int64)
            inner_xy = np.vstack([a.reshape(-1, 2) for a in inner]) if counts.sum() else None
        if counts is None:
            counts = np.zeros(len(u), dtype=np.int64)
        if inner_xy is None:
            inner_xy = np.empty((0, 2))
        chunk: dict[str, Any] = {"u": u, "v": v, "counts": np.asarray(counts), "inner": inner_xy}
        defaults = {"highway": "", "road_class": "", "name": "", "oneway": False}
        defaults["maxspeed"] = np.nan
        for key in self._ATTRS:
            value = attrs.get(key, defaults[key])
            chunk[key] = np.broadcast_to(np.asarray(value), u.shape).copy()
        self._edges.append(chunk)

    def lines_m(self) -> np.ndarray:
        """All edges so far as metric LineStrings (for distance checks while building)."""
        e = self.edges()
        nxy = self.node_xy
        per = e["counts"].astype(np.int64) + 2
        offsets = np.concatenate([[0], np.cumsum(per)])
        xy = np.empty((int(offsets[-1]), 2))
        inner = np.ones(len(xy), dtype=bool)
        inner[offsets[:-1]] = False
        inner[offsets[1:] - 1] = False
        xy[offsets[:-1]] = nxy[e["u"]]
        xy[offsets[1:] - 1] = nxy[e["v"]]
        xy[inner] = e["inner"]
        return shapely.linestrings(xy, indices=np.repeat(np.arange(len(per)), per))

    def edges(self) -> dict[str, np.ndarray]:
        out = {}
        for key in ("u", "v", "counts", "inner", *self._ATTRS):
            parts = [c[key] for c in self._edges]
            if key == "inner":
                out[key] = np.vstack(parts)
            elif key in ("highway", "road_class", "name"):
                out[key] = np.concatenate([p.astype(object) for p in parts])
            else:
                out[key] = np.concatenate(parts)
        return out


def _curve(a: np.ndarray, b: np.ndarray, bend: float, rng: Any) -> np.ndarray:
    """One interior vertex: the midpoint of a-b pushed sideways by bend x length."""
    d = b - a
    n = np.column_stack([-d[:, 1], d[:, 0]])
    return (a + b) / 2.0 + n * (bend * rng.standard_normal(len(a)))[:, None]


# ----------------------------------------------------------------------------- major roads


class _CellRoads:
    """The union of least-cost cell paths: one road per raster cell edge, best class wins."""

    def __init__(self) -> None:
        self.used: dict[tuple[int, int], tuple[int, str]] = {}
        self.forced: set[int] = set()

    def add(self, path: list[int], rank: int, name: str) -> None:
        for a, b in itertools.pairwise(path):
            key = (a, b) if a < b else (b, a)
            old = self.used.get(key)
            if old is None or old[0] > rank:
                self.used[key] = (rank, name)

    def cells(self) -> np.ndarray:
        return np.array(sorted({c for k in self.used for c in k}), dtype=np.int64)

    def chains(self) -> list[tuple[list[int], int, str]]:
        """Split the cell graph into chains between junction/forced/class-change cells."""
        adj: dict[int, list[int]] = defaultdict(list)
        for a, b in sorted(self.used):
            adj[a].append(b)
            adj[b].append(a)

        def attr(a: int, b: int) -> tuple[int, str]:
            return self.used[(a, b) if a < b else (b, a)]

        nodes = set(self.forced) & set(adj)
        for c, nb in adj.items():
            if len(nb) != 2 or attr(c, nb[0]) != attr(c, nb[1]):
                nodes.add(c)
        visited: set[tuple[int, int]] = set()
        chains: list[tuple[list[int], int, str]] = []

        def walk(start: int, first: int) -> list[int]:
            path = [start, first]
            visited.add((start, first) if start < first else (first, start))
            prev, cur = start, first
            while cur not in nodes:
                nb = adj[cur]
                nxt = nb[0] if nb[0] != prev else nb[1]
                visited.add((cur, nxt) if cur < nxt else (nxt, cur))
                path.append(nxt)
                prev, cur = cur, nxt
            return path

        pending = sorted(nodes)
        while True:
            for cell in pending:
                for other in adj[cell]:
                    key = (cell, other) if cell < other else (other, cell)
                    if key not in visited:
                        chains.append((walk(cell, other), *attr(cell, other)))
            left = sorted(k for k in self.used if k not in visited)
            if not left:
                break
            nodes.add(left[0][0])  # a loop without junctions: cut it open
            pending = [left[0][0]]
        out = []
        for path, rank, name in chains:
            if path[0] == path[-1]:  # a loop from a node back to itself: split in two
                mid = len(path) // 2
                pieces = [path[: mid + 1], path[mid:]]
            else:
                pieces = [path]
            for piece in pieces:
                n_split = int(np.ceil((len(piece) - 1) / MAX_CHAIN_CELLS))
                bounds = np.linspace(0, len(piece) - 1, n_split + 1).round().astype(int)
                for i0, i1 in itertools.pairwise(bounds):
                    out.append((piece[i0 : i1 + 1], rank, name))
        return out


@dataclass
class Network:
    roads: _Roads
    cell_node: dict[int, int]
    village_node: np.ndarray
    major_node_ids: np.ndarray
    city_node_ids: np.ndarray
    lane_village: np.ndarray  # village index per lane node (-1 elsewhere)
    orchards: pd.DataFrame
    isolated: list[dict[str, Any]]
    motorway_ends: list[int]
    n_oneway_city_edges: int
    park_node_ids: np.ndarray


def _boundary_end(
    county_m: shapely.Geometry, toward: np.ndarray, outside_xy: np.ndarray
) -> np.ndarray:
    """Where the segment from inside ``toward`` to ``outside_xy`` meets the boundary, 5 m in."""
    hit = shapely.LineString([toward, outside_xy]).intersection(county_m.boundary)
    pts = shapely.get_coordinates(hit)
    if len(pts) == 0:
        near = shapely.ops.nearest_points(county_m.boundary, shapely.Point(*outside_xy))[0]
        pts = np.array([[near.x, near.y]])
    p = pts[np.argmin(np.hypot(*(pts - toward).T))]
    d = toward - p
    return p + 5.0 * d / np.hypot(*d)


def build_network(
    *,
    towns: pd.DataFrame,
    villages: pd.DataFrame,
    city: dict[str, Any],
    frame: Frame,
    county_m: shapely.Geometry,
    raster: Raster,
    terrain: Terrain,
    rng: Any,
    lane_rng: Any,
    road_detail: float,
    plan: RoadPlan = NANFENG_PLAN,
) -> Network:
    roads = _Roads()
    cs = plan.county_seat
    t_first, t_last = plan.trunk_towns[0], plan.trunk_towns[-1]
    cr = _CellRoads()
    seat_xy = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    seat_cell = {k: raster.cell(*v) for k, v in seat_xy.items()}
    cr.forced.update(seat_cell.values())
    vil_cell = np.array(
        [raster.cell(x, y) for x, y in zip(villages["x"], villages["y"], strict=True)]
    )
    cr.forced.update(int(c) for c in vil_cell)

    # G206: south boundary - 白舍 - 琴城 - 洽湾 - north boundary, drawn to the river.
    if plan.trunk_out_lonlat is not None:
        s_out = np.array(frame.to_m(*plan.trunk_out_lonlat[0]), dtype=float)
        n_out = np.array(frame.to_m(*plan.trunk_out_lonlat[1]), dtype=float)
    elif plan.trunk_out_xy is not None:
        s_out = np.array(plan.trunk_out_xy[0], dtype=float)
        n_out = np.array(plan.trunk_out_xy[1], dtype=float)
    else:
        msg = "internal: a road plan needs `trunk_out_lonlat` or `trunk_out_xy`"
        raise InputError(msg)
    s_end = _boundary_end(county_m, seat_xy[t_first], s_out)
    n_end = _boundary_end(county_m, seat_xy[t_last], n_out)
    s_cell, n_cell = raster.cell(*s_end), raster.cell(*n_end)
    d_river = shapely.distance(terrain.river, shapely.points(raster.xy))
    near_river = 0.55 + 0.45 * (1.0 - np.exp(-d_river / 1500.0))
    w_river = raster.weights(extra=(near_river[raster.src] + near_river[raster.dst]) / 2.0)
    legs = [s_cell, *(seat_cell[t] for t in plan.trunk_towns), n_cell]
    g206: list[int] = []
    for a, b in itertools.pairwise(legs):
        piece = raster.paths([a], [[b]], w_river)[0]
        g206 += piece if not g206 else piece[1:]
    cr.add(g206, 0, plan.trunk_name)
    raster.mark(g206)
    cr.forced.update((s_cell, n_cell))

    # G35 motorway: its own corridor, kept off G206 and around the county seat.
    if plan.motorway:
        g206_xy = raster.xy[np.array(g206)]
        d206 = cKDTree(g206_xy).query(raster.xy)[0]
        d_seat = np.hypot(*(raster.xy - seat_xy[cs]).T)
        pen = 1.0 + 3.0 * (d206 < 1500.0) + 4.0 * (d_seat < 2500.0)
        w_mw = raster.length * (1.0 + 6.0 * raster.slope + raster.mean_elev / 2000.0)
        w_mw = w_mw * (pen[raster.src] + pen[raster.dst]) / 2.0
        s_far = s_end + np.array([-2500.0, 1500.0])
        n_far = n_end + np.array([2500.0, 0.0])
        s2 = _boundary_end(county_m, seat_xy[t_first], s_far + 3.0 * (s_far - seat_xy[t_first]))
        n2 = _boundary_end(county_m, seat_xy[t_last], n_far + 3.0 * (n_far - seat_xy[t_last]))
        mw_cells = raster.paths([raster.cell(*s2)], [[raster.cell(*n2)]], w_mw)[0]

    # 省道 from the county seat to the township seats; 县道 to the farm and the park.
    order = sorted(
        (t for t in seat_xy if t != cs),
        key=lambda t: -np.hypot(*(seat_xy[t] - seat_xy[cs])),
    )
    paths = raster.paths([seat_cell[cs]], [[seat_cell[t] for t in order]], raster.weights())
    s_no = itertools.chain(_S_ROAD_NUMBERS, itertools.count(401))
    for t, path in zip(order, paths, strict=True):
        if t in plan.minor_towns:
            cr.add(path, 2, f"{short_town_name(t)}公路")
        else:
            cr.add(path, 1, f"S{next(s_no)}省道")
        raster.mark(path)

    # 县道 between neighbouring township seats.
    names = list(seat_xy)
    pts = np.array([seat_xy[t] for t in names])
    pairs = sorted(
        {
            (min(a, b), max(a, b))
            for tri in shapely.get_parts(
                shapely.delaunay_triangles(shapely.MultiPoint(list(map(tuple, pts))))
            )
            for a, b in _tri_pairs(tri, pts)
        }
    )
    pairs = [
        (a, b)
        for a, b in pairs
        if plan.park not in (names[a], names[b]) and np.hypot(*(pts[a] - pts[b])) < 22000.0
    ]
    by_src: dict[int, list[int]] = defaultdict(list)
    for a, b in pairs:
        by_src[a].append(b)
    srcs = sorted(by_src)
    x_paths = raster.paths(
        [seat_cell[names[a]] for a in srcs],
        [[seat_cell[names[b]] for b in by_src[a]] for a in srcs],
        raster.weights(),
    )
    for k, path in enumerate(x_paths):
        cr.add(path, 2, f"X{801 + k}县道")
        raster.mark(path)

    # 乡道 from each township seat to its villages (longest first, so trunks get names).
    w = raster.weights()
    y_no = 0
    src_list, tgt_list, vid_list = [], [], []
    for t in towns.itertuples():
        idx = np.flatnonzero(villages["town"].to_numpy() == t.town)
        d = np.hypot(villages["x"].to_numpy()[idx] - t.x, villages["y"].to_numpy()[idx] - t.y)
        idx = idx[np.argsort(-d, kind="stable")]
        src_list.append(seat_cell[t.town])
        tgt_list.append([int(vil_cell[i]) for i in idx])
        vid_list.extend(idx.tolist())
    y_paths = raster.paths(src_list, tgt_list, w)
    for path in y_paths:
        if len(path) > 1:
            y_no += 1
            cr.add(path, 3, f"Y{y_no:03d}乡道")
    for path in y_paths:
        raster.mark(path)

    # A few 村道 loops between neighbouring villages.
    vxy = villages[["x", "y"]].to_numpy()
    d_nn, j_nn = cKDTree(vxy).query(vxy, k=3)
    loop_src = np.flatnonzero(rng.random(len(vxy)) < 0.15)
    by_loop: dict[int, list[int]] = defaultdict(list)
    for i in loop_src:
        j = int(j_nn[i, 2])
        if d_nn[i, 2] < 3500.0:
            by_loop[int(vil_cell[i])].append(int(vil_cell[j]))
    ls = sorted(by_loop)
    for path in raster.paths(ls, [by_loop[s] for s in ls], raster.weights(discount=1.0)):
        cr.add(path, 4, "")

    # Motorway interchanges attach to the nearest major road cell; force it to be a node.
    # Drop the raster staircase first, then round the corners into long curves.
    major_cells = cr.cells()
    major_tree = cKDTree(raster.xy[major_cells])
    interchanges: list[tuple[float, str]] = []
    mw_line = shapely.LineString()
    if plan.motorway:
        mw_raw = shapely.simplify(shapely.LineString(raster.xy[np.array(mw_cells)]), 250.0)
        mw_xy = _chaikin(shapely.get_coordinates(mw_raw), 5)
        mw_xy = np.vstack([s2, mw_xy[1:-1], n2])
        mw_line = shapely.simplify(shapely.LineString(mw_xy), 15.0)
    for town in plan.interchange_towns:
        s = mw_line.project(shapely.Point(*seat_xy[town]))
        if s < 1500.0 or s > mw_line.length - 1500.0:
            continue
        if any(abs(s - s0) < 6000.0 for s0, _ in interchanges):
            continue
        interchanges.append((s, town))
    interchanges.sort()
    links = []
    for s, town in interchanges:
        p = np.array(mw_line.interpolate(s).coords[0])
        q = np.array(mw_line.interpolate(min(s + 50.0, mw_line.length)).coords[0])
        t = (q - p) / np.hypot(*(q - p))
        nrm = np.array([-t[1], t[0]])
        side = 1.0 if np.dot(seat_xy[town] - p, nrm) > 0 else -1.0
        link = p + side * 350.0 * nrm
        cell = int(major_cells[major_tree.query(link)[1]])
        cr.forced.add(cell)
        links.append((s, town, p, t, link, cell))

    # County-seat street grid and the industrial park grid force their entry cells.
    city_xy = city["xy"]
    for c in major_cells:
        cx, cy = raster.xy[c]
        rx = (cx - seat_xy[cs][0]) / CITY_RADII_M[0]
        ry = (cy - seat_xy[cs][1]) / CITY_RADII_M[1]
        if rx * rx + ry * ry < 1.0 and (raster.row[c] + raster.col[c]) % 4 == 0:
            cr.forced.add(int(c))

    # Chains -> nodes and edges.
    cell_node: dict[int, int] = {}
    jitter = rng.uniform(-60.0, 60.0, (raster.n, 2))

    def node_of(c: int) -> int:
        if c not in cell_node:
            cell_node[c] = int(roads.add_nodes(raster.xy[c] + jitter[c])[0])
        return cell_node[c]

    chains = cr.chains()
    phases = rng.uniform(0, 2 * np.pi, len(chains))
    waves = rng.uniform(500.0, 1100.0, len(chains))
    amp_f = rng.uniform(0.5, 1.0, len(chains))
    d_edge = shapely.distance(county_m.boundary, shapely.points(raster.xy))
    for k, (cells, rank, name) in enumerate(chains):
        u, v = node_of(cells[0]), node_of(cells[-1])
        xy = raster.xy[np.array(cells)] + jitter[np.array(cells)]
        if rank <= 1:  # national and provincial roads: fewer, wider bends
            xy = shapely.get_coordinates(shapely.simplify(shapely.LineString(xy), 100.0))
            xy = _chaikin(xy, 3)
        else:
            xy = _chaikin(xy, 2)
        mean_e = float(raster.elev[np.array(cells)].mean())
        room = 0.6 * (float(d_edge[np.array(cells)].min()) - 60.0)
        amp = float(np.clip((mean_e - 150.0) / 2.5, 10.0, 140.0)) * float(amp_f[k])
        amp = min(amp, max(room, 0.0))
        xy = _wiggle(xy, amp, float(waves[k]), float(phases[k]))
        line = shapely.simplify(shapely.LineString(xy), 2.0)
        inner = shapely.get_coordinates(line)[1:-1]
        class_zh, highway = _RANKS[rank]
        hill = mean_e > _HILL_ELEV_M and rank in _HILL_MAXSPEED_KPH
        roads.add_edges(
            [u],
            [v],
            [inner],
            highway=highway,
            road_class=class_zh,
            name=name,
            maxspeed=_HILL_MAXSPEED_KPH.get(rank, np.nan) if hill else np.nan,
        )
    major_ids = np.array(sorted(cell_node.values()), dtype=np.int64)

    # Boundary ends of G206 (5 m inside the county).
    for end, cell in ((s_end, s_cell), (n_end, n_cell)):
        e = roads.add_nodes(end)
        roads.add_edges(
            [node_of(cell)], e, highway="trunk", road_class="国道", name=plan.trunk_name
        )

    # G35 carriageways: northbound on the right, southbound on the left, shared end nodes.
    mw_ends = _add_motorway(roads, mw_line, links, node_of, rng) if plan.motorway else []

    # County-seat streets.
    city_ids, n_oneway = _add_city(roads, city, seat_xy[cs])
    seat_node = node_of(seat_cell[cs])
    city_tree = cKDTree(city_xy)
    entries = [seat_node] + [
        cell_node[c] for c in sorted(cr.forced) if c in cell_node and c != seat_cell[cs]
    ]
    node_xy = roads.node_xy
    for nid in entries:
        d, j = city_tree.query(node_xy[nid])
        if (nid == seat_node or d < 250.0) and d > 0.0:
            roads.add_edges([nid], [city_ids[j]], highway="tertiary", road_class="城区道路")

    # Industrial park streets.
    park_ids = np.empty(0, dtype=np.int64)
    if plan.park is not None:
        park_ids = _add_park(roads, seat_xy[plan.park], rng)
        park_node = node_of(seat_cell[plan.park])
        pxy = roads.node_xy[park_ids]
        jp = int(np.argmin(np.hypot(*(pxy - roads.node_xy[park_node]).T)))
        roads.add_edges(
            [park_node],
            [park_ids[jp]],
            highway="tertiary",
            road_class="城区道路",
            name="工业园大道",
        )

    # Village nodes: 社区 sit on city nodes, the park community on the park centre.
    vnode = np.full(len(villages), -1, dtype=np.int64)
    kind = villages["kind"].to_numpy()
    vxy = villages[["x", "y"]].to_numpy()
    for iv in range(len(villages)):  # 187 villages
        if kind[iv] == "社区" and villages["town"].iat[iv] == cs:
            vnode[iv] = city_ids[int(city_tree.query(vxy[iv])[1])]
        elif villages["town"].iat[iv] == plan.park:
            vnode[iv] = park_ids[0]
    free = np.flatnonzero(vnode < 0)
    vnode[free] = roads.add_nodes(vxy[free])
    cells_free = vil_cell[free]
    a_ids = np.array([node_of(int(c)) for c in cells_free], dtype=np.int64)
    nxy = roads.node_xy
    far = np.hypot(*(nxy[a_ids] - vxy[free]).T) > 0.0
    inner = _curve(nxy[a_ids[far]], vxy[free][far], 0.12, rng)
    roads.add_edges(
        a_ids[far],
        vnode[free][far],
        counts=np.ones(int(far.sum()), dtype=np.int64),
        inner_xy=inner,
        highway="unclassified",
        road_class="村道",
    )

    # Village lanes (scaled by road_detail) and tracks into the hills.
    lane_village = _add_lanes(roads, villages, vnode, county_m, lane_rng, road_detail)
    orchards = _add_tracks(roads, villages, lane_village, county_m, terrain, rng)
    isolated = _add_isolated(roads, county_m, terrain, raster, frame, rng, plan)
    return Network(
        roads=roads,
        cell_node=cell_node,
        village_node=vnode,
        major_node_ids=major_ids,
        city_node_ids=city_ids,
        lane_village=lane_village,
        orchards=orchards,
        isolated=isolated,
        motorway_ends=mw_ends,
        n_oneway_city_edges=n_oneway,
        park_node_ids=park_ids,
    )


def _tri_pairs(tri: shapely.Geometry, pts: np.ndarray) -> list[tuple[int, int]]:
    c = shapely.get_coordinates(tri)[:3]
    idx = [int(np.argmin(np.hypot(*(pts - p).T))) for p in c]
    return [(idx[0], idx[1]), (idx[1], idx[2]), (idx[0], idx[2])]


def _offset(xy: np.ndarray, d: float) -> np.ndarray:
    t = np.gradient(xy, axis=0)
    t /= np.hypot(t[:, 0], t[:, 1])[:, None]
    return xy + d * np.column_stack([-t[:, 1], t[:, 0]])


def _add_motorway(
    roads: _Roads, line: shapely.LineString, links: list, node_of: Any, rng: Any
) -> list[int]:
    xy = shapely.get_coordinates(shapely.segmentize(line, 200.0))
    ends = roads.add_nodes(np.vstack([xy[0], xy[-1]]))
    nb = _offset(xy, -MOTORWAY_OFFSET_M)  # right of the south->north direction
    sb = _offset(xy, MOTORWAY_OFFSET_M)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    cuts = [float(x[0]) for x in links]
    k_cut = [int(np.argmin(np.abs(s - c))) for c in cuts]
    nb_nodes = [int(ends[0])] + [int(i) for i in roads.add_nodes(nb[k_cut])] + [int(ends[1])]
    sb_nodes = [int(ends[0])] + [int(i) for i in roads.add_nodes(sb[k_cut])] + [int(ends[1])]
    bounds = [0, *k_cut, len(xy) - 1]
    for i in range(len(bounds) - 1):
        i0, i1 = bounds[i], bounds[i + 1]
        attrs = {"highway": "motorway", "road_class": "高速", "name": "G35济广高速", "oneway": True}
        roads.add_edges([nb_nodes[i]], [nb_nodes[i + 1]], [nb[i0 + 1 : i1]], **attrs)
        roads.add_edges([sb_nodes[i + 1]], [sb_nodes[i]], [sb[i0 + 1 : i1][::-1]], **attrs)
    for k, (_, town, _p, t, link, cell) in enumerate(links):
        lid = int(roads.add_nodes(link)[0])
        nbn, sbn = nb_nodes[k + 1], sb_nodes[k + 1]
        pxy = roads.node_xy
        name = f"G35济广高速{short_town_name(town)}互通匝道"
        ramp = {"highway": "motorway_link", "road_class": "高速", "name": name, "oneway": True}
        for a, b, sign in ((nbn, lid, 1), (lid, nbn, -1), (sbn, lid, -1), (lid, sbn, 1)):
            mid = (pxy[a] + pxy[b]) / 2.0 + sign * 150.0 * t
            curve = _chaikin(np.vstack([pxy[a], mid, pxy[b]]), 2)[1:-1]
            roads.add_edges([a], [b], [curve], **ramp)
        target = node_of(cell)
        inner = _curve(pxy[[lid]], roads.node_xy[[target]], 0.1, rng)
        roads.add_edges(
            [lid],
            [target],
            counts=[1],
            inner_xy=inner,
            highway="secondary",
            road_class="县道",
            name=f"{short_town_name(town)}互通连接线",
        )
    return [int(ends[0]), int(ends[1])]


def city_grid(seat: np.ndarray, county_m: shapely.Geometry, rng: Any) -> dict[str, Any]:
    """Node positions of the county-seat street grid (an ellipse of ~190 m blocks)."""
    ni = int(CITY_RADII_M[0] // CITY_SPACING_M)
    nj = int(CITY_RADII_M[1] // CITY_SPACING_M)
    gi, gj = np.meshgrid(np.arange(-ni, ni + 1), np.arange(-nj, nj + 1))
    ii, jj = gi.ravel(), gj.ravel()
    keep = (ii * CITY_SPACING_M / CITY_RADII_M[0]) ** 2 + (
        jj * CITY_SPACING_M / CITY_RADII_M[1]
    ) ** 2 <= 1
    ii, jj = ii[keep], jj[keep]
    theta = np.radians(rng.uniform(5.0, 15.0))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    local = np.column_stack([ii, jj]) * CITY_SPACING_M + rng.uniform(-20, 20, (len(ii), 2))
    local[(ii == 0) & (jj == 0)] = 0.0
    xy = seat + local @ rot.T
    inside = shapely.contains_xy(county_m.buffer(-300.0), xy[:, 0], xy[:, 1])
    return {"xy": xy[inside], "i": ii[inside], "j": jj[inside], "rng": rng}


def _add_city(roads: _Roads, city: dict[str, Any], seat: np.ndarray) -> tuple[np.ndarray, int]:
    rng = city["rng"]
    xy, ii, jj = city["xy"], city["i"], city["j"]
    ids = roads.add_nodes(xy)
    pos = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ii, jj, strict=True))}
    ea, eb, along = [], [], []
    for (a, b), k in sorted(pos.items()):
        for da, db, ax in ((1, 0, "i"), (0, 1, "j")):
            m = pos.get((a + da, b + db))
            if m is not None:
                ea.append(k)
                eb.append(m)
                along.append(ax)
    ea_, eb_ = np.array(ea), np.array(eb)
    # Random spanning tree plus most other streets: connected, with a few missing blocks.
    w = rng.uniform(1.0, 2.0, len(ea_))
    mst = csgraph.minimum_spanning_tree(sparse.coo_matrix((w, (ea_, eb_)), shape=(len(xy),) * 2))
    tree = set(zip(*(x.tolist() for x in mst.nonzero()), strict=True))
    in_tree = np.array([(a, b) in tree or (b, a) in tree for a, b in zip(ea, eb, strict=True)])
    keep = in_tree | (rng.random(len(ea_)) < 0.85)
    ea_, eb_ = ea_[keep], eb_[keep]
    along_ = np.array(along)[keep]
    line_no = np.where(along_ == "i", jj[ea_], ii[ea_])  # the row/column a street runs on
    avenue = line_no % 3 == 0
    names = np.array(
        [
            _CITY_AVENUES[(int(n) // 3 + (0 if a == "i" else 7)) % len(_CITY_AVENUES)] if av else ""
            for n, a, av in zip(line_no, along_, avenue, strict=True)
        ],
        dtype=object,
    )
    # One-way streets: four short runs of residential streets near the centre.
    oneway = np.zeros(len(ea_), dtype=bool)
    flip = np.zeros(len(ea_), dtype=bool)
    runs = 0
    for row in (1, -1, 2, -2, 4, -4, 5, -5):
        if runs == 4:
            break
        sel = (along_ == "i") & (jj[ea_] == row) & (np.abs(ii[ea_]) <= 3)
        if sel.sum() >= 3:
            oneway |= sel
            flip |= sel & (runs % 2 == 1)
            runs += 1
    u = np.where(flip, eb_, ea_)
    v = np.where(flip, ea_, eb_)
    names = np.where(oneway & (names == ""), "单行街", names)
    inner = xy[u] + (xy[v] - xy[u]) * 0.5 + rng.normal(0, 3.0, (len(u), 2))
    roads.add_edges(
        ids[u],
        ids[v],
        counts=np.ones(len(u), dtype=np.int64),
        inner_xy=inner,
        highway=np.where(avenue, "tertiary", "residential"),
        road_class="城区道路",
        name=names,
        oneway=oneway,
    )
    return ids, int(oneway.sum())


def _add_park(roads: _Roads, centre: np.ndarray, rng: Any) -> np.ndarray:
    """The industrial-park grid: 6 x 4 blocks of 240 m; its first node is the centre."""
    gi, gj = np.meshgrid(np.arange(-3, 4), np.arange(-2, 3))
    ii, jj = gi.ravel(), gj.ravel()
    order = np.argsort((ii != 0) | (jj != 0), kind="stable")
    ii, jj = ii[order], jj[order]
    theta = np.radians(rng.uniform(-20, 20))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    xy = centre + (np.column_stack([ii, jj]) * PARK_SPACING_M) @ rot.T
    ids = roads.add_nodes(xy)
    pos = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ii, jj, strict=True))}
    u, v, nm = [], [], []
    for (a, b), k in sorted(pos.items()):
        for da, db in ((1, 0), (0, 1)):
            m = pos.get((a + da, b + db))
            if m is not None:
                u.append(k)
                v.append(m)
                nm.append(f"工业园{'一二三四五六七'[(b if da else a) + 3]}{'路' if da else '街'}")
    roads.add_edges(
        ids[np.array(u)],
        ids[np.array(v)],
        highway="tertiary",
        road_class="城区道路",
        name=np.array(nm, dtype=object),
    )
    return ids


def _add_lanes(
    roads: _Roads,
    villages: pd.DataFrame,
    vnode: np.ndarray,
    county_m: shapely.Geometry,
    rng: Any,
    road_detail: float,
) -> np.ndarray:
    """Village lanes: a random spanning tree of a small grid around each village, plus loops.

    Vectorised over all villages at once; ``road_detail`` scales the node count (the spacing
    shrinks with its fourth root, so the footprint grows only slowly).
    """
    kind = villages["kind"].to_numpy()
    lane = np.flatnonzero(kind == "村")
    weight = np.where(villages["is_seat"].to_numpy()[lane], 3.0, 1.0)
    k = np.clip(np.round(np.sqrt(LANE_BASE_NODES * weight**0.7 * road_detail)), 2, None).astype(int)
    spacing = LANE_SPACING_M / road_detail**0.25
    n = k * k
    total = int(n.sum())
    vid = np.repeat(lane, n)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    local = np.arange(total) - np.repeat(start, n)
    kk = np.repeat(k, n)
    i, j = local % kk, local // kk
    c = (kk - 1) // 2
    off = np.column_stack([i - c, j - c]).astype(float) * spacing
    off += rng.uniform(-0.2, 0.2, (total, 2)) * spacing
    centre = (i == c) & (j == c)
    off[centre] = 0.0
    theta = np.repeat(rng.uniform(0, np.pi / 2, len(lane)), n)
    ct, st = np.cos(theta), np.sin(theta)
    vx = villages["x"].to_numpy()[vid]
    vy = villages["y"].to_numpy()[vid]
    x = vx + off[:, 0] * ct - off[:, 1] * st
    y = vy + off[:, 0] * st + off[:, 1] * ct
    ok = shapely.contains_xy(county_m.buffer(-60.0), x, y) | centre
    right = i < kk - 1
    up = j < kk - 1
    ea = np.concatenate([np.flatnonzero(right), np.flatnonzero(up)])
    eb = np.concatenate([np.flatnonzero(right) + 1, np.flatnonzero(up) + kk[up]])
    good = ok[ea] & ok[eb]
    ea, eb = ea[good], eb[good]
    w = rng.uniform(1.0, 2.0, len(ea))
    g = sparse.coo_matrix((w, (ea, eb)), shape=(total, total)).tocsr()
    mst = csgraph.minimum_spanning_tree(g).tocoo()
    in_tree = np.zeros(len(ea), dtype=bool)
    key = ea.astype(np.int64) * total + eb
    tkey = np.minimum(mst.row, mst.col).astype(np.int64) * total + np.maximum(mst.row, mst.col)
    in_tree[np.isin(key, tkey)] = True
    keep = in_tree | (rng.random(len(ea)) < LANE_LOOP_SHARE)
    ea, eb = ea[keep], eb[keep]
    adj = sparse.coo_matrix((np.ones(len(ea)), (ea, eb)), shape=(total, total))
    _, comp = csgraph.connected_components(adj, directed=False)
    centre_comp = np.full(len(villages), -1, dtype=np.int64)
    centre_comp[vid[centre]] = comp[centre]
    keep_node = ok & (comp == centre_comp[vid])
    # Node ids: the centre is the village node; the others are new.
    new = keep_node & ~centre
    node_id = np.full(total, -1, dtype=np.int64)
    node_id[new] = roads.add_nodes(np.column_stack([x[new], y[new]]))
    node_id[centre] = vnode[vid[centre]]
    live = keep_node[ea] & keep_node[eb]
    ea, eb = ea[live], eb[live]
    pts = np.column_stack([x, y])
    inner = _curve(pts[ea], pts[eb], 0.08, rng)
    roads.add_edges(
        node_id[ea],
        node_id[eb],
        counts=np.ones(len(ea), dtype=np.int64),
        inner_xy=inner,
        highway="residential",
        road_class="村道",
    )
    lane_village = np.full(roads.n_nodes, -1, dtype=np.int64)
    lane_village[node_id[new]] = vid[new]
    return lane_village


def _add_tracks(
    roads: _Roads,
    villages: pd.DataFrame,
    lane_village: np.ndarray,
    county_m: shapely.Geometry,
    terrain: Terrain,
    rng: Any,
) -> pd.DataFrame:
    """机耕道: dead-end tracks from village lanes into the hills, ending at orchards."""
    rural = np.flatnonzero(villages["kind"].to_numpy() == "村")
    elev = villages["elevation_m"].to_numpy()[rural]
    lam = 1.2 + 1.8 * np.exp(-(((elev - 260.0) / 150.0) ** 2))  # orchards on low hills
    n_tr = rng.poisson(lam)
    vid = np.repeat(rural, n_tr)
    lane_nodes = np.flatnonzero(lane_village >= 0)
    by_v = lane_village[lane_nodes]
    order = np.argsort(by_v, kind="stable")
    lane_nodes, by_v = lane_nodes[order], by_v[order]
    first = np.searchsorted(by_v, vid)
    count = np.searchsorted(by_v, vid, side="right") - first
    has = count > 0
    vid, first, count = vid[has], first[has], count[has]
    start = lane_nodes[first + (rng.random(len(vid)) * count).astype(int)]
    nxy = roads.node_xy
    p0 = nxy[start]
    vxy = villages[["x", "y"]].to_numpy()[vid]
    away = np.arctan2(p0[:, 1] - vxy[:, 1], p0[:, 0] - vxy[:, 0])
    n_steps = 5
    steps = rng.uniform(150.0, 350.0, (len(vid), n_steps))
    turn = np.cumsum(rng.normal(0, 0.5, (len(vid), n_steps)), axis=1)
    ang = away[:, None] + rng.normal(0, 0.6, len(vid))[:, None] + turn
    pos = p0[:, None, :] + np.cumsum(
        np.stack([steps * np.cos(ang), steps * np.sin(ang)], axis=-1), axis=1
    )
    inside = shapely.contains_xy(county_m.buffer(-80.0), pos[..., 0], pos[..., 1])
    length = rng.integers(2, n_steps + 1, len(vid))
    valid_len = np.where(inside.all(axis=1), n_steps, np.argmin(inside, axis=1))
    length = np.minimum(length, valid_len)
    keep = length > 0
    vid, start, pos, length = vid[keep], start[keep], pos[keep], length[keep]
    mask = np.arange(n_steps)[None, :] < length[:, None]
    ids = np.full(mask.shape, -1, dtype=np.int64)
    ids[mask] = roads.add_nodes(pos[mask])
    prev = np.concatenate([start[:, None], ids[:, :-1]], axis=1)
    u, v = prev[mask], ids[mask]
    inner = _curve(roads.node_xy[u], roads.node_xy[v], 0.15, rng)
    roads.add_edges(
        u,
        v,
        counts=np.ones(len(u), dtype=np.int64),
        inner_xy=inner,
        highway="track",
        road_class="机耕道",
    )
    end = ids[np.arange(len(vid)), length - 1]
    exy = roads.node_xy[end]
    return pd.DataFrame({"village": vid, "x": exy[:, 0], "y": exy[:, 1], "node": end})


def _add_isolated(
    roads: _Roads,
    county_m: shapely.Geometry,
    terrain: Terrain,
    raster: Raster,
    frame: Frame,
    rng: Any,
    plan: RoadPlan = NANFENG_PLAN,
) -> list[dict[str, Any]]:
    """Tiny road pieces joined to nothing: three hill hamlets and a river-island lane."""
    lines = shapely.STRtree(roads.lines_m())
    inset = county_m.buffer(-700.0)
    cand = np.flatnonzero(
        (raster.elev > 350.0) & shapely.contains_xy(inset, raster.xy[:, 0], raster.xy[:, 1])
    )
    _, d_road = lines.query_nearest(
        shapely.points(raster.xy[cand]), return_distance=True, all_matches=False
    )
    keep = d_road > 1500.0
    cand, d_road = cand[keep], d_road[keep]
    pieces: list[dict[str, Any]] = []
    chosen: list[np.ndarray] = []
    order = cand[np.argsort(-d_road, kind="stable")]
    for c in order:
        p = raster.xy[c]
        if any(np.hypot(*(p - q)) < 8000.0 for q in chosen):
            continue
        chosen.append(p)
        if len(chosen) == 3:
            break
    for k, p in enumerate(chosen):
        ang = rng.uniform(0, 2 * np.pi) + np.array([0.0, 2.1, 4.2])
        arms = p + rng.uniform(200, 400, 3)[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
        ids = roads.add_nodes(np.vstack([p, arms]))
        inner = _curve(np.repeat(p[None], 3, 0), arms, 0.15, rng)
        roads.add_edges(
            np.repeat(ids[0], 3),
            ids[1:],
            counts=np.ones(3, dtype=np.int64),
            inner_xy=inner,
            highway="track",
            road_class="机耕道",
        )
        lon, lat = frame.to_ll(p[0], p[1])
        pieces.append(
            {
                "kind": "hill_hamlet",
                "n_nodes": 4,
                "n_edges": 3,
                "lon": float(lon),
                "lat": float(lat),
                "note": f"山间孤立机耕道 {k + 1}: a hamlet's tracks, joined to no other road",
            }
        )
    # River island (江心洲) south of the county seat, reached by ferry only.
    river = terrain.river
    seg_tree = shapely.STRtree(roads.lines_m())
    best, best_d = None, -1.0
    for s in np.linspace(0.2, 0.45, 26) * river.length:
        q = river.interpolate(s)
        d = float(seg_tree.query_nearest(q, return_distance=True)[1][0])
        if d > best_d and county_m.buffer(-500).contains(q):
            best, best_d = q, d
    if best is None:
        if not plan.require_island:
            return pieces
        msg = "internal: no place on the river for the island road piece"
        raise InputError(msg)
    p = np.array([best.x, best.y])
    ang = rng.uniform(0, 2 * np.pi) + np.array([0.0, 2.0, 4.1])
    tri = p + 70.0 * np.column_stack([np.cos(ang), np.sin(ang)])
    ids = roads.add_nodes(tri)
    roads.add_edges(
        ids, np.roll(ids, -1), highway="unclassified", road_class="村道", name="江心洲路"
    )
    lon, lat = frame.to_ll(p[0], p[1])
    pieces.append(
        {
            "kind": "river_island",
            "n_nodes": 3,
            "n_edges": 3,
            "lon": float(lon),
            "lat": float(lat),
            "note": plan.island_note,
        }
    )
    return pieces


def roads_gdf(roads: _Roads, frame: Frame) -> gpd.GeoDataFrame:
    """Edges as LineStrings in EPSG:4326 whose end points are exactly their nodes' coordinates."""
    e = roads.edges()
    nxy = roads.node_xy
    nlon, nlat = frame.to_ll(nxy[:, 0], nxy[:, 1])
    key = np.round(nlon * 1e7).astype(np.int64) * 1_000_000_000 + np.round(nlat * 1e7).astype(
        np.int64
    )
    if len(np.unique(key)) != len(key):
        msg = "internal: two generated road nodes share a coordinate; try another seed"
        raise InputError(msg)
    u, v, counts = e["u"], e["v"], e["counts"].astype(np.int64)
    per = counts + 2
    offsets = np.concatenate([[0], np.cumsum(per)])
    total = int(offsets[-1])
    lon = np.empty(total)
    lat = np.empty(total)
    is_inner = np.ones(total, dtype=bool)
    is_inner[offsets[:-1]] = False
    is_inner[offsets[1:] - 1] = False
    lon[offsets[:-1]], lat[offsets[:-1]] = nlon[u], nlat[u]
    lon[offsets[1:] - 1], lat[offsets[1:] - 1] = nlon[v], nlat[v]
    ilon, ilat = frame.to_ll(e["inner"][:, 0], e["inner"][:, 1])
    lon[is_inner], lat[is_inner] = ilon, ilat
    edge_of = np.repeat(np.arange(len(u)), per)
    geoms = shapely.linestrings(lon, lat, indices=edge_of)
    _, _, seg = pyproj.Geod(ellps="WGS84").inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    seg = np.where(edge_of[:-1] == edge_of[1:], seg, 0.0)
    length = np.add.reduceat(np.append(seg, 0.0), offsets[:-1])
    return gpd.GeoDataFrame(
        {
            "u": u,
            "v": v,
            "highway": e["highway"],
            "road_class": e["road_class"],
            "name": e["name"],
            "oneway": e["oneway"].astype(bool),
            "maxspeed": e["maxspeed"].astype(float),
            "length_m": np.round(length, 2),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def road_stats(roads: gpd.GeoDataFrame) -> dict[str, Any]:
    u, v = roads["u"].to_numpy(), roads["v"].to_numpy()
    nodes = np.unique(np.concatenate([u, v]))
    ui, vi = np.searchsorted(nodes, u), np.searchsorted(nodes, v)
    adj = sparse.coo_matrix((np.ones(len(u)), (ui, vi)), shape=(len(nodes),) * 2)
    n_comp, labels = csgraph.connected_components(adj, directed=False)
    sizes = np.bincount(labels)
    km = roads.groupby("road_class")["length_m"].sum() / 1000.0
    return {
        "nodes": len(nodes),
        "edges": len(roads),
        "km": round(float(roads["length_m"].sum()) / 1000.0, 1),
        "km_by_class": {k: round(float(x), 1) for k, x in sorted(km.items())},
        "components": int(n_comp),
        "largest_component_nodes": int(sizes.max()),
        "oneway_edges": int(roads["oneway"].sum()),
    }
