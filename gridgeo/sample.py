"""The sample county: a deterministic generator of 南丰县 (Nanfeng) and its shipped files.

``sample_data/nanfeng/`` holds a county a new user can run at once. Its real parts are copied,
small, into ``sample_data/nanfeng/source/`` (see :func:`refresh_sources`): the county boundary
(Amap, GCJ-02 as published, converted to WGS84 here), the 14 township-level units and 187
villages of the gazetteer with 11 real township seats, and the 5 OSM substations in the county.
What is not available offline is **generated** from a seed: a smooth synthetic terrain (the
盱江 valley running south to north through the county seat 琴城镇, the 军峰山 massif in the west,
hills in the east), township territories (Voronoi cells of the seats), village positions, a
hilly-county road network, extra 35 kV substations, repair stations, payment points and
customers with messy Chinese archive addresses and, for some, phone GPS in GCJ-02.

The same seed and options give byte-identical files (:func:`write_sample`). Random streams are
split by concern (terrain, villages, roads, village lanes, stations, customers), so changing the
number of customers leaves the roads unchanged and ``road_detail`` changes only the village lanes.

Roads are generated graph-first: node coordinates are fixed first and every edge runs between
two exact node coordinates, so :func:`gridgeo.network.graph_from_roads` joins them at their shared
end points. Long roads follow least-cost paths over a 250 m raster of the terrain (slope and
height cost, existing roads are cheaper), which keeps them in the valleys and makes hill roads
winding; village lanes are random spanning trees of small grids with a few loops.

Regenerate the shipped sample with ``python -m gridgeo.sample`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gridgeo._sample_addresses import make_addresses
from gridgeo.crs import metric_crs, to_wgs84_geometry, wgs84_to_gcj02
from gridgeo.errors import CorruptFileError, InputError, NotFoundError

__all__ = [
    "DEFAULT_N_CUSTOMERS",
    "DEFAULT_ROAD_DETAIL",
    "DEFAULT_SEED",
    "SAMPLE_DIR",
    "SOURCE_FILES",
    "SampleCounty",
    "generate_county",
    "load_sample",
    "refresh_sources",
    "write_sample",
]

logger = logging.getLogger(__name__)

DEFAULT_SEED = 361023
DEFAULT_N_CUSTOMERS = 30_000
DEFAULT_ROAD_DETAIL = 1.0
MIN_CUSTOMERS = 100
MAX_ROAD_DETAIL = 500.0
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "nanfeng"
GENERATOR_VERSION = 1

COUNTY_ADCODE = "361023"
COUNTY_NAME = "南丰县"
COUNTY_SEAT = "琴城镇"
PARK = "南丰工业园区"
FARM = "南丰县长红垦殖场"
TAIYUAN = "太源乡"
# Statistics codes of the two units the gazetteer gives none (generated, 4xx = 类似乡级单位).
GENERATED_TOWN_CODES = {FARM: "361023400", PARK: "361023401"}

SOURCE_FILES = {
    "gazetteer": "nanfeng_gazetteer_towns_villages.csv",
    "boundary": "nanfeng_boundary_gcj02.geojson",
    "substations": "nanfeng_osm_substations.geojson",
}
_SHARED_GAZETTEER = Path("admin") / "nanfeng_gazetteer_towns_villages.csv"
_SHARED_COUNTIES = Path("admin") / "amap_jiangxi_counties_gcj02.gpkg"
_SHARED_POWER = Path("power") / "osm_power_polygons_jiangxi.gpkg"
_BOUNDARY_COLUMNS = ("adcode", "name", "level", "ctname", "ctadcode", "prname", "pradcode")

OUTPUT_GPKG = "nanfeng.gpkg"
OUTPUT_CUSTOMERS = "customers.csv"
OUTPUT_TRUTH = "customers_truth.csv"
OUTPUT_META = "meta.json"
LAYERS = (
    "county",
    "towns",
    "villages",
    "substations",
    "repair_stations",
    "payment_points",
    "roads",
)
# Fixed GeoPackage timestamp, so that files written at different times are byte-identical.
GPKG_DATE = "2025-01-01T00:00:00.000Z"
COORD_DECIMALS = 7  # about 1 cm
GPS_DECIMALS = 6  # what phone apps export

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

CATEGORIES = ("residential", "commercial", "industrial", "agricultural")
CATEGORIES_ZH = ("居民", "商业", "工业", "农业")
USAGES_ZH = ("居民生活", "商业经营", "工业生产", "果园灌溉", "蜜桔冷库", "畜禽养殖")
# Category shares by place type: 社区 (county seat), seat village, village, farm, park.
_CATEGORY_P = np.array(
    [
        [0.80, 0.18, 0.01, 0.01],
        [0.83, 0.12, 0.015, 0.035],
        [0.875, 0.035, 0.005, 0.085],
        [0.60, 0.05, 0.0, 0.35],
        [0.0, 0.2, 0.8, 0.0],
    ]
)
_AGRI_USAGE_P = np.array([0.55, 0.30, 0.15])  # irrigation, cold storage, livestock
_HV_P = {0: 0.0, 1: 0.04, 2: 0.65, 3: 0.02, 4: 0.15, 5: 0.05}  # by usage index
VULNERABLE_P = 0.035  # of residential customers; higher in the hills
GPS_SHARE = 0.35
GPS_SWAPPED_SHARE = 0.02
GPS_FAR_OFF_SHARE = 0.025
GPS_NOISE_M = 5.0
PARK_SHARE = 0.012

_SURNAMES = tuple("曾刘王李黄陈张吴赵周徐胡朱罗谢付饶邱揭危袁邓傅熊杨谭聂彭游包艾")
_GIVEN = tuple("建国华明军平芳英红兰秀梅春生福荣根水金林桂珍玉德文伟强勇丽娟辉")
_SHOPS = ("超市", "便利店", "饭店", "五金店", "农资店", "药店", "理发店", "副食店")
_FIRMS = ("桔都", "丰源", "琴城", "盱江", "金桔", "旭日", "恒达", "鑫源", "华丰", "赣丰")
_FIRM_TRADES = ("食品", "果业", "建材", "电子", "新材料", "机械", "纺织", "包装")


@dataclass(frozen=True)
class SampleCounty:
    """The sample county: every layer in EPSG:4326, plus its seed and metadata.

    ``customers`` holds the archive columns of ``customers.csv`` and the truth of
    ``customers_truth.csv`` (``true_lon``, ``true_lat``, ``village_code``,
    ``address_variant``, ``gps_error``); its geometry is the true WGS84 position. A geocoder
    under test must use the archive columns only.
    """

    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    substations: gpd.GeoDataFrame
    repair_stations: gpd.GeoDataFrame
    payment_points: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    customers: gpd.GeoDataFrame
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- sources


def refresh_sources(shared_data_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Copy the real inputs of the generator from the shared data folder.

    Writes the gazetteer CSV as it is, the Nanfeng boundary (GCJ-02 as published by Amap) and
    the OSM substations inside Nanfeng as GeoJSON, with coordinates exactly as in the sources.

    Parameters
    ----------
    shared_data_dir
        The real data folder (``../shared/data`` beside the repository).
    out_dir
        Where to write (``sample_data/nanfeng/source``); created if missing.

    Returns
    -------
    dict
        ``{"gazetteer": path, "boundary": path, "substations": path}``.

    Raises
    ------
    NotFoundError
        If a source file is missing.
    """
    shared = Path(shared_data_dir)
    for rel in (_SHARED_GAZETTEER, _SHARED_COUNTIES, _SHARED_POWER):
        if not (shared / rel).is_file():
            msg = (
                f"source file {str(shared / rel)!r} not found: pass the real data folder "
                "as `shared_data_dir`"
            )
            raise NotFoundError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in SOURCE_FILES.items()}
    shutil.copyfile(shared / _SHARED_GAZETTEER, paths["gazetteer"])

    counties = gpd.read_file(shared / _SHARED_COUNTIES, engine="pyogrio")
    county = counties[counties["adcode"].astype(str) == COUNTY_ADCODE]
    columns = [c for c in _BOUNDARY_COLUMNS if c in county.columns]
    _write_geojson(
        county[[*columns, county.geometry.name]],
        paths["boundary"],
        name="nanfeng_boundary_gcj02",
        note="南丰县 boundary, GCJ-02 as published (Amap via GaryBikini/ChinaAdminDivisonSHP, MIT)",
    )
    power = gpd.read_file(shared / _SHARED_POWER, engine="pyogrio")
    subs = power[
        (power["county_adcode"].astype(str) == COUNTY_ADCODE) & (power["power"] == "substation")
    ]
    _write_geojson(
        subs,
        paths["substations"],
        name="nanfeng_osm_substations",
        note="OSM substations in 南丰县, WGS84. © OpenStreetMap contributors, ODbL 1.0",
    )
    return paths


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path, *, name: str, note: str) -> None:
    """Write a GeoJSON FeatureCollection with exact coordinates and sorted, stable output."""
    props = gdf.drop(columns=gdf.geometry.name)
    features = []
    for (_, row), geom in zip(props.iterrows(), gdf.geometry, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {k: _json_value(v) for k, v in row.items()},
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    doc = {"type": "FeatureCollection", "name": name, "note": note, "features": features}
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class _Sources:
    gazetteer: pd.DataFrame
    county_wgs: shapely.Geometry
    substations: gpd.GeoDataFrame


def _read_sources(source_dir: Path) -> _Sources:
    paths = {key: source_dir / name for key, name in SOURCE_FILES.items()}
    for key, path in paths.items():
        if not path.is_file():
            msg = (
                f"sample source {key} file {str(path)!r} not found: pass `source_dir` or rebuild "
                "the copies with gridgeo.sample.refresh_sources('../shared/data', "
                "'sample_data/nanfeng/source')"
            )
            raise NotFoundError(msg)
    try:
        gaz = pd.read_csv(paths["gazetteer"], dtype=str, keep_default_na=False)
        boundary = gpd.read_file(paths["boundary"], engine="pyogrio")
        subs = gpd.read_file(paths["substations"], engine="pyogrio")
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        msg = f"cannot read the sample sources in {str(source_dir)!r}: {exc}"
        raise CorruptFileError(msg) from exc
    need = {"town", "town_code", "village", "town_seat_lat_wgs84", "town_seat_lon_wgs84"}
    if not need <= set(gaz.columns):
        missing = sorted(need - set(gaz.columns))
        msg = f"gazetteer {str(paths['gazetteer'])!r} lacks columns {missing!r}"
        raise CorruptFileError(msg)
    boundary = boundary[boundary["adcode"].astype(str) == COUNTY_ADCODE]
    if boundary.empty:
        msg = f"boundary {str(paths['boundary'])!r} has no feature with adcode {COUNTY_ADCODE!r}"
        raise CorruptFileError(msg)
    wgs = to_wgs84_geometry(boundary.geometry, "gcj02").union_all()
    wgs = shapely.make_valid(shapely.set_precision(wgs, 10.0**-COORD_DECIMALS))
    return _Sources(gaz, wgs, subs)


# ----------------------------------------------------------------------------- geometry helpers


class _Frame:
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
class _Terrain:
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


def _make_terrain(
    frame: _Frame, county_m: shapely.Geometry, seats: dict[str, tuple[float, float]], rng: Any
) -> _Terrain:
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
    xy = _chaikin(xy, 3)
    xy = _wiggle(xy, 350.0, 3500.0, float(rng.uniform(0, 2 * np.pi)))
    river = shapely.LineString(xy)
    _, miny, _, maxy = county_m.bounds
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
    bumps = []
    for lon, lat, h, sig in EAST_HILLS:
        bx, by = frame.to_m(lon, lat)
        bumps.append((float(bx), float(by), h, sig))
    base = _Terrain(river, maxy, miny, np.array(bumps), waves)
    # Basins at the real seats, so that the townships sit in their own valleys.
    basins = []
    for name, (sx, sy) in seats.items():
        if name == COUNTY_SEAT:
            continue
        e = float(base.elevation([sx], [sy])[0])
        basins.append((sx, sy, -0.55 * max(e - 140.0, 0.0), 2500.0))
    base = _Terrain(river, maxy, miny, np.array(bumps + basins), waves)
    jx, jy = frame.to_m(*JUNFENG_LONLAT)
    peak = float(base.elevation([float(jx)], [float(jy)])[0])
    massif = (float(jx), float(jy), JUNFENG_M - peak, 4500.0)
    return _Terrain(river, maxy, miny, np.array([*bumps, *basins, massif]), waves)


# ----------------------------------------------------------------------------- raster routing


class _Raster:
    """A 250 m cost raster of the county for least-cost road paths (8-connected cells)."""

    def __init__(self, county_m: shapely.Geometry, terrain: _Terrain) -> None:
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


# ----------------------------------------------------------------------------- towns & villages


def _town_kind(town: str) -> str:
    if town.endswith("镇"):
        return "镇"
    if town.endswith("乡"):
        return "乡"
    if town.endswith("场"):
        return "场"
    return "园区"


def _short(town: str) -> str:
    name = town.removeprefix(COUNTY_NAME).removeprefix("南丰")
    return name[:-1] if name[-1] in "镇乡" else name


def _make_towns(
    gaz: pd.DataFrame, frame: _Frame, raster: _Raster, terrain: _Terrain, seats: dict
) -> pd.DataFrame:
    """The 14 township-level units with seats (real where known, generated otherwise)."""
    heads = gaz[gaz["village"] == ""].drop_duplicates("town")
    rows = []
    for _, r in heads.iterrows():
        town = r["town"]
        code = r["town_code"] or GENERATED_TOWN_CODES[town]
        rows.append(
            {
                "town_code": code,
                "town": town,
                "kind": _town_kind(town),
                "code_source": "real" if r["town_code"] else "generated",
                "coords_source": "real" if town in seats else "generated",
            }
        )
    towns = pd.DataFrame(rows).sort_values("town_code", ignore_index=True)
    xy = {k: np.array(v) for k, v in seats.items()}
    real = np.array(list(seats.values()))
    cx, cy = xy[COUNTY_SEAT]
    cells = raster.xy
    elev = raster.elev
    d_real = cKDTree(real).query(cells)[0]
    # 太源乡: the eastern valley farthest from the real seats.
    east = cells[:, 0] > cx + 12000.0
    low = elev <= np.quantile(elev[east], 0.4)
    pick = np.flatnonzero(east & low)
    xy[TAIYUAN] = cells[pick[np.argmax(d_real[pick])]]
    # 长红垦殖场: low ground 6-14 km from the county seat, away from the other seats.
    d_seat = np.hypot(cells[:, 0] - cx, cells[:, 1] - cy)
    d_all = cKDTree(np.vstack([real, xy[TAIYUAN]])).query(cells)[0]
    ring = (d_seat > 6000) & (d_seat < 14000) & (elev <= np.quantile(elev, 0.3))
    pick = np.flatnonzero(ring)
    xy[FARM] = cells[pick[np.argmax(d_all[pick])]]
    # 工业园区: by the county seat, 3 km down the 盱江 and 700 m east of it.
    s0 = terrain.river.project(shapely.Point(cx, cy))
    p = terrain.river.interpolate(s0 + 3000.0)
    q = terrain.river.interpolate(s0 + 3100.0)
    t = np.array([q.x - p.x, q.y - p.y])
    t /= np.hypot(*t)
    xy[PARK] = np.array([p.x, p.y]) + 700.0 * np.array([t[1], -t[0]])
    towns["x"] = [float(xy[t][0]) for t in towns["town"]]
    towns["y"] = [float(xy[t][1]) for t in towns["town"]]
    return towns


def _territories(towns: pd.DataFrame, county_m: shapely.Geometry) -> list[shapely.Geometry]:
    pts = shapely.points(towns["x"].to_numpy(), towns["y"].to_numpy())
    cells = shapely.voronoi_polygons(
        shapely.MultiPoint(list(pts)), extend_to=county_m.buffer(20000), ordered=True
    )
    return [shapely.intersection(c, county_m) for c in shapely.get_parts(cells)]


def _village_code(town_code: str, names: list[str]) -> list[str]:
    """Generated 12-digit codes: 社区/居委会 001.., 村 201.., virtual units 498.."""
    codes = []
    n_comm = n_vill = n_virt = 0
    for name in names:
        if "虚拟" in name:
            n_virt += 1
            codes.append(f"{town_code}{497 + n_virt:03d}")
        elif name.endswith("社区"):
            n_comm += 1
            codes.append(f"{town_code}{n_comm:03d}")
        else:
            n_vill += 1
            codes.append(f"{town_code}{200 + n_vill:03d}")
    return codes


def _pick_spaced(
    cand: np.ndarray, score: np.ndarray, n: int, spacing: float, taken: np.ndarray
) -> np.ndarray:
    """Greedily pick n candidates by ascending score, at least ``spacing`` apart."""
    order = np.argsort(score, kind="stable")
    chosen: list[np.ndarray] = []
    while True:
        chosen = []
        pts = [t for t in taken]
        for i in order:
            p = cand[i]
            if pts and np.min(np.hypot(*(np.array(pts) - p).T)) < spacing:
                continue
            chosen.append(p)
            pts.append(p)
            if len(chosen) == n:
                return np.array(chosen)
        spacing *= 0.8


def _sample_in(poly: shapely.Geometry, n: int, rng: Any) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    out = []
    got = 0
    while got < n:
        x = rng.uniform(minx, maxx, 4 * n)
        y = rng.uniform(miny, maxy, 4 * n)
        ok = shapely.contains_xy(poly, x, y)
        out.append(np.column_stack([x[ok], y[ok]]))
        got += int(ok.sum())
    return np.vstack(out)[:n]


def _make_villages(
    gaz: pd.DataFrame,
    towns: pd.DataFrame,
    territories: list[shapely.Geometry],
    city_nodes: np.ndarray,
    county_m: shapely.Geometry,
    terrain: _Terrain,
    rng: Any,
) -> pd.DataFrame:
    """Place the 187 villages in their township's territory, preferring low ground."""
    inset = county_m.buffer(-600.0)
    rows = []
    for t, terr in zip(towns.itertuples(), territories, strict=True):
        names = sorted(gaz.loc[(gaz["town"] == t.town) & (gaz["village"] != ""), "village"])
        codes = _village_code(t.town_code, names)
        seat = np.array([t.x, t.y])
        short = _short(t.town)
        match = [v for v in names if v in (short + "村", short + "社区")]
        if t.town == COUNTY_SEAT:
            seat_names: list[str] = []
        elif match:
            seat_names = match
        else:
            seat_names = [names[0]]
        pos: dict[str, np.ndarray] = {}
        if t.town == COUNTY_SEAT:
            comm = [v for v in names if v.endswith("社区")]
            d = np.hypot(*(city_nodes - seat).T)
            cand = city_nodes[d < 1400.0]
            sc = np.hypot(*(cand - seat).T) + rng.uniform(0, 300, len(cand))
            for v, p in zip(
                comm, _pick_spaced(cand, sc, len(comm), 450.0, np.empty((0, 2))), strict=True
            ):
                pos[v] = p
        for k, v in enumerate(seat_names):
            if "虚拟" in v:
                pos[v] = seat.copy()
                continue
            for _ in range(100):
                ang = rng.uniform(0, 2 * np.pi)
                p = seat + rng.uniform(300, 600) * np.array([np.cos(ang), np.sin(ang)]) * (1 + k)
                if inset.contains(shapely.Point(*p)):
                    break
            pos[v] = p
        rest = [v for v in names if v not in pos]
        if rest:
            area = terr.intersection(inset)
            cand = _sample_in(area, 60 * len(rest) + 200, rng)
            far = 2200.0 if t.town == COUNTY_SEAT else 1000.0
            cand = cand[np.hypot(*(cand - seat).T) > far]
            # Prefer the floors of side valleys over ridges, and mildly the lower country.
            elev = terrain.elevation(cand[:, 0], cand[:, 1])
            score = elev - 0.7 * terrain.trend(cand[:, 0], cand[:, 1])
            score = score + rng.gumbel(0, 40, len(cand))
            spacing = 0.6 * np.sqrt(area.area / (len(rest) + len(pos)))
            taken = np.array(list(pos.values())) if pos else np.empty((0, 2))
            for v, p in zip(
                rest, _pick_spaced(cand, score, len(rest), spacing, taken), strict=True
            ):
                pos[v] = p
        for v, code in zip(names, codes, strict=True):
            if "虚拟" in v:
                kind = "虚拟"
            elif v.endswith("社区"):
                kind = "社区"
            else:
                kind = "村"
            rows.append(
                {
                    "village_code": code,
                    "village": v,
                    "town_code": t.town_code,
                    "town": t.town,
                    "kind": kind,
                    "is_seat": v in seat_names,
                    "x": float(pos[v][0]),
                    "y": float(pos[v][1]),
                }
            )
    vil = pd.DataFrame(rows).sort_values("village_code", ignore_index=True)
    vil["elevation_m"] = np.round(terrain.elevation(vil["x"], vil["y"]), 0)
    return vil


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
class _Network:
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


def _build_network(
    *,
    towns: pd.DataFrame,
    villages: pd.DataFrame,
    city: dict[str, Any],
    frame: _Frame,
    county_m: shapely.Geometry,
    raster: _Raster,
    terrain: _Terrain,
    rng: Any,
    lane_rng: Any,
    road_detail: float,
) -> _Network:
    roads = _Roads()
    cr = _CellRoads()
    seat_xy = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    seat_cell = {k: raster.cell(*v) for k, v in seat_xy.items()}
    cr.forced.update(seat_cell.values())
    vil_cell = np.array(
        [raster.cell(x, y) for x, y in zip(villages["x"], villages["y"], strict=True)]
    )
    cr.forced.update(int(c) for c in vil_cell)

    # G206: south boundary - 白舍 - 琴城 - 洽湾 - north boundary, drawn to the river.
    gx, gy = frame.to_m(*GUANGCHANG_LONLAT)
    nx_, ny_ = frame.to_m(*NANCHENG_LONLAT)
    s_end = _boundary_end(county_m, seat_xy["白舍镇"], np.array([gx, gy]))
    n_end = _boundary_end(county_m, seat_xy["洽湾镇"], np.array([nx_, ny_]))
    s_cell, n_cell = raster.cell(*s_end), raster.cell(*n_end)
    d_river = shapely.distance(terrain.river, shapely.points(raster.xy))
    near_river = 0.55 + 0.45 * (1.0 - np.exp(-d_river / 1500.0))
    w_river = raster.weights(extra=(near_river[raster.src] + near_river[raster.dst]) / 2.0)
    legs = [s_cell, seat_cell["白舍镇"], seat_cell[COUNTY_SEAT], seat_cell["洽湾镇"], n_cell]
    g206: list[int] = []
    for a, b in itertools.pairwise(legs):
        piece = raster.paths([a], [[b]], w_river)[0]
        g206 += piece if not g206 else piece[1:]
    cr.add(g206, 0, "G206国道")
    raster.mark(g206)
    cr.forced.update((s_cell, n_cell))

    # G35 motorway: its own corridor, kept off G206 and around the county seat.
    g206_xy = raster.xy[np.array(g206)]
    d206 = cKDTree(g206_xy).query(raster.xy)[0]
    d_seat = np.hypot(*(raster.xy - seat_xy[COUNTY_SEAT]).T)
    pen = 1.0 + 3.0 * (d206 < 1500.0) + 4.0 * (d_seat < 2500.0)
    w_mw = raster.length * (1.0 + 6.0 * raster.slope + raster.mean_elev / 2000.0)
    w_mw = w_mw * (pen[raster.src] + pen[raster.dst]) / 2.0
    s_far = s_end + np.array([-2500.0, 1500.0])
    n_far = n_end + np.array([2500.0, 0.0])
    s2 = _boundary_end(county_m, seat_xy["白舍镇"], s_far + 3.0 * (s_far - seat_xy["白舍镇"]))
    n2 = _boundary_end(county_m, seat_xy["洽湾镇"], n_far + 3.0 * (n_far - seat_xy["洽湾镇"]))
    mw_cells = raster.paths([raster.cell(*s2)], [[raster.cell(*n2)]], w_mw)[0]

    # 省道 from the county seat to the township seats; 县道 to the farm and the park.
    order = sorted(
        (t for t in seat_xy if t != COUNTY_SEAT),
        key=lambda t: -np.hypot(*(seat_xy[t] - seat_xy[COUNTY_SEAT])),
    )
    paths = raster.paths(
        [seat_cell[COUNTY_SEAT]], [[seat_cell[t] for t in order]], raster.weights()
    )
    s_no = iter(_S_ROAD_NUMBERS)
    for t, path in zip(order, paths, strict=True):
        if t in (FARM, PARK):
            cr.add(path, 2, f"{_short(t)}公路")
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
        if PARK not in (names[a], names[b]) and np.hypot(*(pts[a] - pts[b])) < 22000.0
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
    mw_xy = _chaikin(raster.xy[np.array(mw_cells)], 4)
    mw_xy = np.vstack([s2, mw_xy[1:-1], n2])
    mw_line = shapely.simplify(shapely.LineString(mw_xy), 15.0)
    major_cells = cr.cells()
    major_tree = cKDTree(raster.xy[major_cells])
    interchanges: list[tuple[float, str]] = []
    for town in ("白舍镇", COUNTY_SEAT, "洽湾镇", "太和镇"):
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
        rx = (cx - seat_xy[COUNTY_SEAT][0]) / CITY_RADII_M[0]
        ry = (cy - seat_xy[COUNTY_SEAT][1]) / CITY_RADII_M[1]
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
        roads.add_edges([node_of(cell)], e, highway="trunk", road_class="国道", name="G206国道")

    # G35 carriageways: northbound on the right, southbound on the left, shared end nodes.
    mw_ends = _add_motorway(roads, mw_line, links, node_of, rng)

    # County-seat streets.
    city_ids, n_oneway = _add_city(roads, city, seat_xy[COUNTY_SEAT])
    seat_node = node_of(seat_cell[COUNTY_SEAT])
    city_tree = cKDTree(city_xy)
    entries = [seat_node] + [
        cell_node[c] for c in sorted(cr.forced) if c in cell_node and c != seat_cell[COUNTY_SEAT]
    ]
    node_xy = roads.node_xy
    for nid in entries:
        d, j = city_tree.query(node_xy[nid])
        if (nid == seat_node or d < 250.0) and d > 0.0:
            roads.add_edges([nid], [city_ids[j]], highway="tertiary", road_class="城区道路")

    # Industrial park streets.
    park_ids = _add_park(roads, seat_xy[PARK], rng)
    park_node = node_of(seat_cell[PARK])
    pxy = roads.node_xy[park_ids]
    jp = int(np.argmin(np.hypot(*(pxy - roads.node_xy[park_node]).T)))
    roads.add_edges(
        [park_node], [park_ids[jp]], highway="tertiary", road_class="城区道路", name="工业园大道"
    )

    # Village nodes: 社区 sit on city nodes, the park community on the park centre.
    vnode = np.full(len(villages), -1, dtype=np.int64)
    kind = villages["kind"].to_numpy()
    vxy = villages[["x", "y"]].to_numpy()
    for iv in range(len(villages)):  # 187 villages
        if kind[iv] == "社区" and villages["town"].iat[iv] == COUNTY_SEAT:
            vnode[iv] = city_ids[int(city_tree.query(vxy[iv])[1])]
        elif villages["town"].iat[iv] == PARK:
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
    isolated = _add_isolated(roads, county_m, terrain, raster, frame, rng)
    return _Network(
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
        name = f"G35济广高速{_short(town)}互通匝道"
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
            name=f"{_short(town)}互通连接线",
        )
    return [int(ends[0]), int(ends[1])]


def _city_grid(seat: np.ndarray, county_m: shapely.Geometry, rng: Any) -> dict[str, Any]:
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
    terrain: _Terrain,
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
    terrain: _Terrain,
    raster: _Raster,
    frame: _Frame,
    rng: Any,
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
            "note": "盱江江心洲: a lane loop on a river island, ferry only",
        }
    )
    return pieces


# ----------------------------------------------------------------------------- stations


def _near(
    anchor: np.ndarray, nodes_xy: np.ndarray, rng: Any, *, off: tuple = (15.0, 40.0)
) -> np.ndarray:
    """A point a few tens of metres beside the road node nearest to ``anchor``."""
    j = int(np.argmin(np.hypot(*(nodes_xy - anchor).T)))
    ang = rng.uniform(0, 2 * np.pi)
    return nodes_xy[j] + rng.uniform(*off) * np.array([np.cos(ang), np.sin(ang)])


def _osm_voltage_kv(value: Any, area_m2: float) -> tuple[float, str]:
    """OSM ``voltage`` (V, ';'-separated) as kV, else a guess from the footprint area."""
    if isinstance(value, str) and value.strip():
        try:
            return max(float(x) for x in value.split(";")) / 1000.0, "OSM"
        except ValueError:
            pass
    if area_m2 > 15000.0:
        return 220.0, "generated"
    if area_m2 > 4000.0:
        return 110.0, "generated"
    return 35.0, "generated"


def _make_substations(
    subs: gpd.GeoDataFrame,
    towns: pd.DataFrame,
    frame: _Frame,
    county_m: shapely.Geometry,
    terrain: _Terrain,
    rng: Any,
) -> pd.DataFrame:
    rows = []
    seats = towns[["x", "y"]].to_numpy()
    inset = county_m.buffer(-300.0)
    for k, (_, r) in enumerate(subs.iterrows()):
        poly = frame.geom_to_m(r.geometry)
        c = poly.centroid
        kv, vsrc = _osm_voltage_kv(r.get("voltage"), poly.area)
        town = towns["town"].iat[int(np.argmin(np.hypot(*(seats - [c.x, c.y]).T)))]
        name = r.get("name")
        if not isinstance(name, str) or not name:
            name = f"{_short(town)}{kv:.0f}kV变电站"
        rows.append(
            {
                "name": name,
                "voltage_kv": kv,
                "source": "OSM",
                "voltage_source": vsrc,
                "x": c.x,
                "y": c.y,
                "osm_index": k,
            }
        )
    have = np.array([[r["x"], r["y"]] for r in rows])
    for t in towns.itertuples():
        if t.town in (COUNTY_SEAT, PARK):
            continue
        seat = np.array([t.x, t.y])
        if len(have) and np.min(np.hypot(*(have - seat).T)) < 4000.0:
            continue
        ang = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, 12, endpoint=False)
        cand = seat + rng.uniform(500, 900) * np.column_stack([np.cos(ang), np.sin(ang)])
        cand = cand[shapely.contains_xy(inset, cand[:, 0], cand[:, 1])]
        p = cand[np.argmin(terrain.elevation(cand[:, 0], cand[:, 1]))]
        rows.append(
            {
                "name": f"{_short(t.town)}35kV变电站",
                "voltage_kv": 35.0,
                "source": "generated",
                "voltage_source": "generated",
                "x": p[0],
                "y": p[1],
                "osm_index": -1,
            }
        )
        have = np.vstack([have, p])
    df = pd.DataFrame(rows)
    names = df["name"].to_numpy(dtype=object)
    for nm in sorted(set(names)):
        dup = np.flatnonzero(names == nm)
        for i, j in enumerate(dup[1:]):
            names[j] = nm.replace("变电站", f"{'二三四五'[i]}号变电站")
    df["name"] = names
    df.insert(0, "substation_id", [f"SUB{i + 1:02d}" for i in range(len(df))])
    return df.drop(columns="osm_index")


_REPAIR = (
    (COUNTY_SEAT, "南丰县供电公司抢修指挥中心", 4),
    (PARK, "工业园区抢修站", 2),
    ("白舍镇", "白舍供电所", 2),
    ("太和镇", "太和供电所", 2),
    ("洽湾镇", "洽湾供电所", 2),
    ("桑田镇", "桑田供电所", 1),
    ("紫霄镇", "紫霄供电所", 1),
)


def _make_repair_stations(towns: pd.DataFrame, nodes_xy: np.ndarray, rng: Any) -> pd.DataFrame:
    seat = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    rows = []
    for k, (town, name, crews) in enumerate(_REPAIR):
        p = _near(seat[town], nodes_xy, rng)
        rows.append(
            {
                "station_id": f"RS{k + 1:02d}",
                "name": name,
                "crews": crews,
                "town": town,
                "x": p[0],
                "y": p[1],
            }
        )
    return pd.DataFrame(rows)


def _make_payment_points(
    towns: pd.DataFrame, villages: pd.DataFrame, net: _Network, rng: Any
) -> pd.DataFrame:
    nodes_xy = net.roads.node_xy
    seat = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    rows: list[tuple[str, str, str, np.ndarray]] = []
    qc = seat[COUNTY_SEAT]
    city = nodes_xy[net.city_node_ids]
    d_city = np.hypot(*(city - qc).T)
    central = city[np.argsort(d_city, kind="stable")[: max(10, len(city) // 3)]]

    def city_spot() -> np.ndarray:
        return _near(central[int(rng.integers(len(central)))], nodes_xy, rng, off=(8.0, 25.0))

    rows.append(("service_hall", "营业厅", "国网南丰县供电公司营业厅", _near(qc, nodes_xy, rng)))
    rows.append(("service_hall", "营业厅", "琴城供电营业厅（桔都路）", city_spot()))
    for town, name, _ in _REPAIR[2:]:
        rows.append(("service_hall", "营业厅", f"{name}营业厅", _near(seat[town], nodes_xy, rng)))
    for bank in (
        "中国农业银行南丰支行",
        "中国工商银行南丰支行",
        "中国建设银行南丰支行",
        "中国银行南丰支行",
        "中国邮政储蓄银行南丰县支行",
        "江西南丰农村商业银行营业部",
    ):
        rows.append(("bank", "银行", bank, city_spot()))
    for k in range(4):
        rows.append(("self_service", "自助缴费终端", f"琴城自助缴费终端{k + 1}号", city_spot()))
    for t in towns.itertuples():
        if t.town in (COUNTY_SEAT, PARK):
            continue
        short = _short(t.town)
        rows.append(
            ("bank", "银行", f"江西南丰农村商业银行{short}支行", _near(seat[t.town], nodes_xy, rng))
        )
        if t.kind == "镇":
            rows.append(
                (
                    "bank",
                    "银行",
                    f"中国邮政储蓄银行南丰{short}营业所",
                    _near(seat[t.town], nodes_xy, rng),
                )
            )
            rows.append(
                (
                    "self_service",
                    "自助缴费终端",
                    f"{short}自助缴费终端",
                    _near(seat[t.town], nodes_xy, rng),
                )
            )
    vxy = villages[["x", "y"]].to_numpy()
    agent = rng.random(len(villages)) < np.where(villages["kind"].to_numpy() == "社区", 0.5, 0.45)
    agent &= villages["town"].to_numpy() != PARK
    sur = rng.choice(np.array(_SURNAMES, dtype=object), len(villages))
    for i in np.flatnonzero(agent):
        v = villages["village"].iat[i]
        rows.append(
            (
                "shop_agent",
                "代收点",
                f"{v}{sur[i]}记便利店代收点",
                _near(vxy[i], nodes_xy, rng, off=(10.0, 30.0)),
            )
        )
    df = pd.DataFrame(
        {
            "point_id": [f"PP{k + 1:03d}" for k in range(len(rows))],
            "name": [r[2] for r in rows],
            "kind": [r[0] for r in rows],
            "kind_zh": [r[1] for r in rows],
            "x": [float(r[3][0]) for r in rows],
            "y": [float(r[3][1]) for r in rows],
        }
    )
    return df


# ----------------------------------------------------------------------------- customers


def _lane_k(villages: pd.DataFrame, road_detail: float) -> np.ndarray:
    """Lane-grid side (nodes) per village; 0 for villages without lanes."""
    weight = np.where(villages["is_seat"].to_numpy(), 3.0, 1.0)
    k = np.clip(np.round(np.sqrt(LANE_BASE_NODES * weight**0.7 * road_detail)), 2, None)
    return np.where(villages["lanes"].to_numpy(), k, 0).astype(int)


def _inside(county_m: shapely.Geometry, anchor: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Pull points outside the county halfway back to their anchor until all are inside."""
    inset = county_m.buffer(-30.0)
    xy = xy.copy()
    for _ in range(12):
        out = ~shapely.contains_xy(inset, xy[:, 0], xy[:, 1])
        if not out.any():
            return xy
        xy[out] = anchor[out] + 0.5 * (xy[out] - anchor[out])
    out = ~shapely.contains_xy(inset, xy[:, 0], xy[:, 1])
    xy[out] = anchor[out]
    return xy


def _make_customers(
    n: int,
    villages: pd.DataFrame,
    net: _Network,
    county_m: shapely.Geometry,
    frame: _Frame,
    road_detail: float,
    rng: Any,
    addr_rng: Any,
    gps_rng: Any,
) -> pd.DataFrame:
    nv = len(villages)
    town = villages["town"].to_numpy()
    kind = villages["kind"].to_numpy()
    seat = villages["is_seat"].to_numpy()
    elev = villages["elevation_m"].to_numpy()
    vxy = villages[["x", "y"]].to_numpy()
    ptype = np.full(nv, 2)
    ptype[seat] = 1
    ptype[(kind == "社区") & (town == COUNTY_SEAT)] = 0
    ptype[town == FARM] = 3
    ptype[town == PARK] = 4
    base = np.array([7.0, 3.0, 1.0, 1.5, 0.0])[ptype]
    weight = base * rng.lognormal(0.0, 0.35, nv) * np.exp(-(elev - 120.0) / 500.0)
    k = _lane_k(villages, road_detail)
    spacing = LANE_SPACING_M / road_detail**0.25
    sigma = np.where(ptype == 0, 320.0, np.maximum(k * spacing / 2.5, 60.0))

    # Hamlets by the isolated road pieces, assigned to the nearest village for their address.
    iso_xy = np.array([frame.to_m(p["lon"], p["lat"]) for p in net.isolated]).reshape(-1, 2)
    n_iso = np.array([6 if p["kind"] == "hill_hamlet" else 4 for p in net.isolated], dtype=int)
    iso_v = cKDTree(vxy[villages["kind"].to_numpy() != "虚拟"]).query(iso_xy)[1]
    iso_v = np.flatnonzero(villages["kind"].to_numpy() != "虚拟")[iso_v]
    n_park = round(PARK_SHARE * n)
    n_rest = n - int(n_iso.sum()) - n_park
    counts = rng.multinomial(n_rest, weight / weight.sum())
    park_v = int(np.flatnonzero(town == PARK)[0])
    vid = np.concatenate(
        [np.repeat(np.arange(nv), counts), np.full(n_park, park_v), np.repeat(iso_v, n_iso)]
    )
    source = np.concatenate(
        [np.zeros(n_rest, int), np.ones(n_park, int), 2 + np.repeat(np.arange(len(n_iso)), n_iso)]
    )
    pt = ptype[vid]
    cum = np.cumsum(_CATEGORY_P, axis=1)[pt]
    cat = (rng.random(n)[:, None] > cum[:, :-1]).sum(axis=1)
    iso = source >= 2
    cat[iso] = np.where(rng.random(int(iso.sum())) < 0.7, 0, 3)
    usage = np.choose(
        np.minimum(cat, 3), [np.zeros(n, int), np.ones(n, int), np.full(n, 2), np.full(n, 3)]
    )
    agri = cat == 3
    usage[agri] = 3 + (rng.random(int(agri.sum()))[:, None] > np.cumsum(_AGRI_USAGE_P)[:-1]).sum(
        axis=1
    )
    usage[iso & agri] = 3

    anchor = vxy[vid].copy()
    sig = sigma[vid] * np.where((cat == 1) | (cat == 2), 0.6, 1.0)
    xy = anchor + rng.standard_normal((n, 2)) * sig[:, None]
    # Orchard irrigation at the end of the village's tracks; other farm uses out of the village.
    orch = net.orchards.sort_values("village", kind="stable")
    ov = orch["village"].to_numpy()
    first = np.searchsorted(ov, vid)
    cnt = np.searchsorted(ov, vid, side="right") - first
    irr = (usage == 3) & ~iso
    has_o = irr & (cnt > 0)
    pick = first[has_o] + (rng.random(int(has_o.sum())) * cnt[has_o]).astype(int)
    anchor[has_o] = orch[["x", "y"]].to_numpy()[pick]
    xy[has_o] = anchor[has_o] + rng.standard_normal((int(has_o.sum()), 2)) * 80.0
    out = (irr & ~has_o) | (usage == 5)
    ang = rng.uniform(0, 2 * np.pi, int(out.sum()))
    dist = rng.uniform(300.0, 1200.0, int(out.sum()))
    xy[out] = anchor[out] + dist[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
    # The industrial park: spread over its grid.
    park = source == 1
    pxy = net.roads.node_xy[net.park_node_ids]
    centre = pxy[0]
    j = rng.integers(0, len(pxy), int(park.sum()))
    anchor[park] = centre
    xy[park] = pxy[j] + rng.uniform(-100, 100, (int(park.sum()), 2))
    anchor[iso] = iso_xy[source[iso] - 2]
    xy[iso] = anchor[iso] + rng.standard_normal((int(iso.sum()), 2)) * 70.0
    xy = _inside(county_m, anchor, xy)

    # Archive order: by village code, then at random; ids follow that order.
    order = np.lexsort((rng.random(n), vid))
    vid, cat, usage, xy, source = vid[order], cat[order], usage[order], xy[order], source[order]
    n_groups = np.where(
        ptype == 0, 8, np.where(seat, rng.integers(8, 17, nv), rng.integers(4, 13, nv))
    )
    group_no = 1 + (rng.random(n) * n_groups[vid]).astype(int)
    house_no = rng.integers(1, 121, n)

    hv = rng.random(n) < np.array([_HV_P[u] for u in range(6)])[usage]
    hill = np.clip((elev[vid] - 120.0) / 400.0, 0.0, 1.0)
    vulnerable = (cat == 0) & (rng.random(n) < VULNERABLE_P * (0.7 + 0.6 * hill))

    names = _customer_names(villages["village"].to_numpy()[vid], cat, usage, rng)
    rows = pd.DataFrame(
        {
            "town": town[vid],
            "town_code": villages["town_code"].to_numpy()[vid],
            "village": villages["village"].to_numpy()[vid],
            "group_no": group_no,
            "house_no": house_no,
        }
    )
    addr = make_addresses(rows, addr_rng)

    lon, lat = frame.to_ll(xy[:, 0], xy[:, 1])
    has = gps_rng.random(n) < GPS_SHARE
    glon, glat = wgs84_to_gcj02(lon, lat)
    noise = gps_rng.standard_normal((n, 2)) * GPS_NOISE_M
    glat = glat + noise[:, 1] / 111_320.0
    glon = glon + noise[:, 0] / (111_320.0 * np.cos(np.radians(lat)))
    err = gps_rng.random(n)
    swapped = has & (err < GPS_SWAPPED_SHARE)
    far = has & (err >= GPS_SWAPPED_SHARE) & (err < GPS_SWAPPED_SHARE + GPS_FAR_OFF_SHARE)
    bearing = gps_rng.uniform(0, 2 * np.pi, n)
    km = gps_rng.uniform(3.0, 40.0, n)
    glat = np.where(far, glat + km * np.cos(bearing) / 111.32, glat)
    glon = np.where(far, glon + km * np.sin(bearing) / (111.32 * np.cos(np.radians(lat))), glon)
    glon, glat = np.where(swapped, glat, glon), np.where(swapped, glon, glat)
    glon = np.where(has, np.round(glon, GPS_DECIMALS), np.nan)
    glat = np.where(has, np.round(glat, GPS_DECIMALS), np.nan)
    gps_error = np.where(swapped, "swapped_lonlat", np.where(far, "far_off", ""))

    serial = np.arange(1, n + 1).astype(str)
    ids = np.char.add(COUNTY_ADCODE, np.char.zfill(serial, 7))
    cats = np.array(CATEGORIES, dtype=object)
    cats_zh = np.array(CATEGORIES_ZH, dtype=object)
    df = pd.DataFrame(
        {
            "customer_id": ids.astype(object),
            "name": names,
            "address": addr["address"].to_numpy(dtype=object),
            "category": cats[cat],
            "category_zh": cats_zh[cat],
            "usage_zh": np.array(USAGES_ZH, dtype=object)[usage],
            "voltage_class": np.where(hv, "HV", "LV").astype(object),
            "vulnerable": vulnerable,
            "gps_lon": glon,
            "gps_lat": glat,
            "gps_datum": np.where(has, "gcj02", "").astype(object),
            "true_lon": lon,
            "true_lat": lat,
            "village_code": villages["village_code"].to_numpy()[vid],
            "address_variant": addr["address_variant"].to_numpy(dtype=object),
            "gps_error": gps_error.astype(object),
        }
    )
    return df


def _customer_names(
    village: np.ndarray, cat: np.ndarray, usage: np.ndarray, rng: Any
) -> np.ndarray:
    n = len(cat)
    obj = lambda seq: np.array(seq, dtype=object)  # noqa: E731
    sur = obj(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
    g1 = obj(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.7, obj(_GIVEN)[rng.integers(0, len(_GIVEN), n)], "")
    person = sur + g1 + g2
    stem = np.array([v.removesuffix("社区").removesuffix("村") for v in village], dtype=object)
    shop = stem + sur + "记" + obj(_SHOPS)[rng.integers(0, len(_SHOPS), n)]
    firm = (
        "南丰县"
        + obj(_FIRMS)[rng.integers(0, len(_FIRMS), n)]
        + obj(_FIRM_TRADES)[rng.integers(0, len(_FIRM_TRADES), n)]
        + "有限公司"
    )
    names = person.copy()
    names = np.where(cat == 1, shop, names)
    names = np.where(cat == 2, firm, names)
    names = np.where(usage == 3, person + "（果园灌溉）", names)
    names = np.where(usage == 4, stem + sur + "记蜜桔冷库", names)
    names = np.where(usage == 5, person + "养殖场", names)
    return names.astype(object)


# ----------------------------------------------------------------------------- assembly


def _points_gdf(df: pd.DataFrame, frame: _Frame, columns: list[str]) -> gpd.GeoDataFrame:
    lon, lat = frame.to_ll(df["x"].to_numpy(), df["y"].to_numpy())
    return gpd.GeoDataFrame(
        df[columns].reset_index(drop=True), geometry=shapely.points(lon, lat), crs="EPSG:4326"
    )


def _roads_gdf(roads: _Roads, frame: _Frame) -> gpd.GeoDataFrame:
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


def _road_stats(roads: gpd.GeoDataFrame) -> dict[str, Any]:
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


def _check_params(seed: Any, n_customers: Any, road_detail: Any) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        msg = f"`seed` must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    if not isinstance(n_customers, (int, np.integer)) or n_customers < MIN_CUSTOMERS:
        msg = f"`n_customers` must be an integer >= {MIN_CUSTOMERS}, got {n_customers!r}"
        raise InputError(msg)
    if not isinstance(road_detail, (int, float)) or not (0 < road_detail <= MAX_ROAD_DETAIL):
        msg = f"`road_detail` must be a number in (0, {MAX_ROAD_DETAIL}], got {road_detail!r}"
        raise InputError(msg)


def generate_county(
    *,
    seed: int = DEFAULT_SEED,
    n_customers: int = DEFAULT_N_CUSTOMERS,
    road_detail: float = DEFAULT_ROAD_DETAIL,
    source_dir: str | Path | None = None,
) -> SampleCounty:
    """Generate the Nanfeng sample county from its real parts and a seed.

    Parameters
    ----------
    seed
        Seed of every random choice; the same seed and options give the same county (and
        byte-identical files from :func:`write_sample`).
    n_customers
        Number of customers (at least 100). The shipped sample has 30,000; benchmarks use
        10^5-10^6.
    road_detail
        Scales the village lanes: 1.0 gives ~10^4 road nodes, ~140 gives ~10^6. Roads other
        than the lanes do not change with it.
    source_dir
        Folder with the real inputs (default ``sample_data/nanfeng/source``).

    Returns
    -------
    SampleCounty
        Every layer in EPSG:4326; ``meta`` holds counts, road figures, the isolated road pieces
        and the generation options.

    Raises
    ------
    InputError
        If an option is out of range.
    NotFoundError
        If a source file is missing.
    CorruptFileError
        If a source file cannot be read.
    """
    _check_params(seed, n_customers, road_detail)
    t0 = time.perf_counter()
    src = _read_sources(Path(source_dir) if source_dir is not None else SAMPLE_DIR / "source")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(9)]
    r_terrain, r_vill, r_roads, r_lanes, r_st, r_cust, r_addr, r_gps, r_city = streams
    crs = metric_crs(gpd.GeoSeries([src.county_wgs], crs="EPSG:4326"))
    frame = _Frame(crs)
    county_m = frame.geom_to_m(src.county_wgs)
    gaz = src.gazetteer
    heads = gaz[(gaz["village"] == "") & (gaz["town_seat_lon_wgs84"] != "")]
    sx, sy = frame.to_m(
        heads["town_seat_lon_wgs84"].astype(float), heads["town_seat_lat_wgs84"].astype(float)
    )
    seats = {t: (float(x), float(y)) for t, x, y in zip(heads["town"], sx, sy, strict=True)}
    terrain = _make_terrain(frame, county_m, seats, r_terrain)
    raster = _Raster(county_m, terrain)
    towns = _make_towns(gaz, frame, raster, terrain, seats)
    territories = _territories(towns, county_m)
    seat_xy = np.array(seats[COUNTY_SEAT])
    city = _city_grid(seat_xy, county_m, r_city)
    villages = _make_villages(gaz, towns, territories, city["xy"], county_m, terrain, r_vill)
    villages["lanes"] = ~(
        ((villages["kind"] == "社区") & (villages["town"] == COUNTY_SEAT))
        | (villages["town"] == PARK)
    )
    t_places = time.perf_counter()
    net = _build_network(
        towns=towns,
        villages=villages,
        city=city,
        frame=frame,
        county_m=county_m,
        raster=raster,
        terrain=terrain,
        rng=r_roads,
        lane_rng=r_lanes,
        road_detail=road_detail,
    )
    roads = _roads_gdf(net.roads, frame)
    t_roads = time.perf_counter()
    nodes_xy = net.roads.node_xy
    main_xy = nodes_xy[np.concatenate([net.major_node_ids, net.city_node_ids])]
    subs = _make_substations(src.substations, towns, frame, county_m, terrain, r_st)
    repair = _make_repair_stations(towns, main_xy, r_st)
    pay = _make_payment_points(towns, villages, net, r_st)
    customers = _make_customers(
        n_customers, villages, net, county_m, frame, road_detail, r_cust, r_addr, r_gps
    )
    t_cust = time.perf_counter()

    county = gpd.GeoDataFrame(
        {
            "adcode": [COUNTY_ADCODE],
            "name": [COUNTY_NAME],
            "area_km2": [
                round(
                    abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(src.county_wgs)[0])
                    / 1e6,
                    2,
                )
            ],
        },
        geometry=[src.county_wgs],
        crs="EPSG:4326",
    )
    towns_g = _points_gdf(
        towns, frame, ["town_code", "town", "kind", "coords_source", "code_source"]
    )
    vil_g = _points_gdf(
        villages.assign(generated=True),
        frame,
        [
            "village_code",
            "village",
            "town_code",
            "town",
            "kind",
            "is_seat",
            "elevation_m",
            "generated",
        ],
    )
    vnode = net.village_node
    vil_g["road_node"] = vnode.astype(np.int64)
    subs_g = _points_gdf(
        subs, frame, ["substation_id", "name", "voltage_kv", "source", "voltage_source"]
    )
    rep_g = _points_gdf(repair, frame, ["station_id", "name", "crews", "town"])
    pay_g = _points_gdf(pay, frame, ["point_id", "name", "kind", "kind_zh"])
    cust_g = gpd.GeoDataFrame(
        customers,
        geometry=shapely.points(customers["true_lon"].to_numpy(), customers["true_lat"].to_numpy()),
        crs="EPSG:4326",
    )
    stats = _road_stats(roads)
    meta = {
        "generator": "gridgeo.sample",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_customers": int(n_customers),
        "road_detail": float(road_detail),
        "metric_crs": crs.to_string(),
        "county_area_km2": float(county["area_km2"].iat[0]),
        "counts": {
            "towns": len(towns_g),
            "villages": len(vil_g),
            "substations": len(subs_g),
            "substations_osm": int((subs_g["source"] == "OSM").sum()),
            "repair_stations": len(rep_g),
            "payment_points": len(pay_g),
            "customers": len(cust_g),
            "customers_with_gps": int((customers["gps_datum"] == "gcj02").sum()),
            "customers_vulnerable": int(customers["vulnerable"].sum()),
            "customers_hv": int((customers["voltage_class"] == "HV").sum()),
            "customers_by_category": {
                c: int((customers["category"] == c).sum()) for c in CATEGORIES
            },
            "gps_errors": {
                e: int((customers["gps_error"] == e).sum()) for e in ("swapped_lonlat", "far_off")
            },
        },
        "roads": stats,
        "isolated_road_pieces": net.isolated,
        "motorway_end_nodes": net.motorway_ends,
        "oneway_city_edges": net.n_oneway_city_edges,
    }
    logger.info(
        "generated sample: places %.2f s, roads %.2f s, customers %.2f s (%d nodes, %d customers)",
        t_places - t0,
        t_roads - t_places,
        t_cust - t_roads,
        stats["nodes"],
        n_customers,
    )
    return SampleCounty(
        county=county,
        towns=towns_g,
        villages=vil_g,
        substations=subs_g,
        repair_stations=rep_g,
        payment_points=pay_g,
        roads=roads,
        customers=cust_g,
        seed=int(seed),
        meta=meta,
    )


# ----------------------------------------------------------------------------- files

_ARCHIVE_COLUMNS = [
    "customer_id",
    "name",
    "address",
    "category",
    "category_zh",
    "usage_zh",
    "voltage_class",
    "vulnerable",
    "gps_lon",
    "gps_lat",
    "gps_datum",
]
_TRUTH_COLUMNS = [
    "customer_id",
    "true_lon",
    "true_lat",
    "village_code",
    "address_variant",
    "gps_error",
]


def write_sample(sample: SampleCounty, out_dir: str | Path) -> dict[str, Path]:
    """Write a sample county to ``out_dir``; the same sample gives byte-identical files.

    Writes ``nanfeng.gpkg`` (layers ``county``, ``towns``, ``villages``, ``substations``,
    ``repair_stations``, ``payment_points``, ``roads``) with a fixed GeoPackage timestamp,
    ``customers.csv`` (the archive as a company exports it), ``customers_truth.csv`` (true
    WGS84 positions, village codes, address variants and GPS errors) and ``meta.json``.
    Existing files of these names are replaced.

    Parameters
    ----------
    sample
        A county from :func:`generate_county`.
    out_dir
        The folder; created if missing.

    Returns
    -------
    dict
        ``{"gpkg": path, "customers": path, "truth": path, "meta": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "gpkg": out / OUTPUT_GPKG,
        "customers": out / OUTPUT_CUSTOMERS,
        "truth": out / OUTPUT_TRUTH,
        "meta": out / OUTPUT_META,
    }
    paths["gpkg"].unlink(missing_ok=True)
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        for layer in LAYERS:
            gdf = getattr(sample, layer)
            pyogrio.write_dataframe(gdf, paths["gpkg"], layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    cust = sample.customers
    cust[_ARCHIVE_COLUMNS].to_csv(
        paths["customers"],
        index=False,
        lineterminator="\n",
        encoding="utf-8",
        float_format=f"%.{GPS_DECIMALS}f",
    )
    cust[_TRUTH_COLUMNS].to_csv(
        paths["truth"],
        index=False,
        lineterminator="\n",
        encoding="utf-8",
        float_format=f"%.{COORD_DECIMALS}f",
    )
    text = json.dumps(sample.meta, ensure_ascii=False, indent=2, sort_keys=True)
    paths["meta"].write_text(text + "\n", encoding="utf-8")
    return paths


def load_sample(path: str | Path = SAMPLE_DIR) -> SampleCounty:
    """Read a written sample county back (the shipped one by default).

    Parameters
    ----------
    path
        Folder written by :func:`write_sample`.

    Returns
    -------
    SampleCounty
        ``customers`` joins the archive and the truth file; its geometry is the true position.

    Raises
    ------
    NotFoundError
        If the folder or one of its files is missing.
    CorruptFileError
        If a file cannot be read.
    """
    folder = Path(path)
    files = [
        folder / OUTPUT_GPKG,
        folder / OUTPUT_CUSTOMERS,
        folder / OUTPUT_TRUTH,
        folder / OUTPUT_META,
    ]
    for f in files:
        if not f.is_file():
            msg = (
                f"sample file {str(f)!r} not found: pass the folder written by write_sample, or "
                "regenerate it with `python -m gridgeo.sample --out DIR`"
            )
            raise NotFoundError(msg)
    try:
        layers = {layer: gpd.read_file(files[0], layer=layer, engine="pyogrio") for layer in LAYERS}
        archive = pd.read_csv(
            files[1],
            dtype={"customer_id": str, "gps_datum": str},
            keep_default_na=False,
            na_values={"gps_lon": [""], "gps_lat": [""]},
        )
        truth = pd.read_csv(
            files[2],
            dtype={"customer_id": str, "village_code": str},
            keep_default_na=False,
            na_values={"true_lon": [""], "true_lat": [""]},
        )
        meta = json.loads(files[3].read_text(encoding="utf-8"))
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        msg = f"cannot read the sample in {str(folder)!r}: {exc}"
        raise CorruptFileError(msg) from exc
    if len(archive) != len(truth) or not (archive["customer_id"] == truth["customer_id"]).all():
        msg = (
            f"{str(files[1])!r} and {str(files[2])!r} do not list the same customers in the "
            "same order: rewrite both with write_sample"
        )
        raise CorruptFileError(msg)
    archive["vulnerable"] = (
        archive["vulnerable"]
        .map({"True": True, "False": False, True: True, False: False})
        .astype(bool)
    )
    cust = pd.concat([archive, truth.drop(columns="customer_id")], axis=1)
    customers = gpd.GeoDataFrame(
        cust,
        geometry=shapely.points(cust["true_lon"].to_numpy(), cust["true_lat"].to_numpy()),
        crs="EPSG:4326",
    )
    return SampleCounty(**layers, customers=customers, seed=int(meta["seed"]), meta=meta)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the sample county (``python -m gridgeo.sample``)."""
    parser = argparse.ArgumentParser(prog="python -m gridgeo.sample", description=main.__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--customers", type=int, default=DEFAULT_N_CUSTOMERS)
    parser.add_argument("--road-detail", type=float, default=DEFAULT_ROAD_DETAIL)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--source-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        t0 = time.perf_counter()
        sample = generate_county(
            seed=args.seed,
            n_customers=args.customers,
            road_detail=args.road_detail,
            source_dir=args.source_dir,
        )
        t1 = time.perf_counter()
        paths = write_sample(sample, args.out)
        t2 = time.perf_counter()
    except (InputError, NotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    r = sample.meta["roads"]
    print(
        f"generated in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s: {len(sample.customers)} "
        f"customers, {r['nodes']} road nodes, {r['edges']} edges, {r['km']} km"
    )
    for p in paths.values():
        print(f"  {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
