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

The terrain and the road network are built by the private module
``gridgeo._sample_roads`` (graph-first: every road line ends exactly on its nodes).

Any other county of a boundary file (by default the 100 Jiangxi counties of
``sample_data/jiangxi``) is generated the same way from its real boundary (all pieces), its
real township and village names and the OSM substations inside it, with generated township
seats, codes, terrain, roads and the rest (``generate_county(adcode=...)``, CLI
``gridgeo sample generate --county ADCODE``); :func:`write_company_files` writes it as a
county company has its files (Amap GCJ-02 boundary and points, OSM WGS84 substations), and
:func:`write_marketing_export` writes its customers the way the marketing system (营销系统)
exports them (Chinese headers under a title row, GBK CSV and a two-sheet XLSX, traditional
characters, phones inside addresses, 县城 addresses, house numbers such as 5栋2单元301室) with a
truth file, from a random stream of its own: the sample's files do not change.

Regenerate the shipped sample with ``python -m gridgeo.sample`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from scipy.spatial import cKDTree

from gridgeo._names import GIVEN_CHARS, SURNAMES
from gridgeo._sample_addresses import (
    AREA_CODES,
    NANFENG_NAMES,
    CountyNames,
    make_addresses,
    make_phones,
    marketing_addresses,
)
from gridgeo._sample_roads import (
    COORD_DECIMALS,
    COUNTY_NAME,
    COUNTY_SEAT,
    FARM,
    LANE_BASE_NODES,
    LANE_SPACING_M,
    PARK,
    Frame,
    Network,
    Raster,
    Terrain,
    build_network,
    city_grid,
    generic_plan,
    make_generic_terrain,
    make_terrain,
    road_stats,
    roads_gdf,
    short_town_name,
)
from gridgeo.admin import admin_names
from gridgeo.crs import DATUMS, metric_crs, to_wgs84_geometry, wgs84_to_gcj02
from gridgeo.errors import CorruptFileError, InputError, MissingColumnError, NotFoundError

__all__ = [
    "COMPANY_FILES",
    "DEFAULT_N_CUSTOMERS",
    "DEFAULT_ROAD_DETAIL",
    "DEFAULT_SEED",
    "MARKETING_COLUMNS",
    "MARKETING_DIR",
    "MARKETING_FILES",
    "SAMPLE_DIR",
    "SOURCE_FILES",
    "CountyChoice",
    "SampleCounty",
    "find_sample_county",
    "generate_county",
    "load_sample",
    "refresh_sources",
    "write_company_files",
    "write_marketing_export",
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
GPS_DECIMALS = 6  # what phone apps export

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

_SURNAMES = SURNAMES
_GIVEN = GIVEN_CHARS
_SHOPS = ("超市", "便利店", "饭店", "五金店", "农资店", "药店", "理发店", "副食店")
_FIRMS = ("桔都", "丰源", "琴城", "盱江", "金桔", "旭日", "恒达", "鑫源", "华丰", "赣丰")
# Firm names of other counties: the same number of words, none tied to Nanfeng.
_FIRMS_GENERIC = ("恒丰", "丰源", "兴旺", "长青", "金源", "旭日", "恒达", "鑫源", "华丰", "宏发")
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


# ----------------------------------------------------------------------------- towns & villages


def _town_kind(town: str) -> str:
    if town.endswith("镇"):
        return "镇"
    if town.endswith("乡"):
        return "乡"
    if town.endswith("场"):
        return "场"
    return "园区"


def _make_towns(
    gaz: pd.DataFrame, frame: Frame, raster: Raster, terrain: Terrain, seats: dict
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
    if n == 0:
        return np.empty((0, 2))
    if len(cand) < n:
        msg = f"internal: {len(cand)} candidate places for {n} villages; use another seed"
        raise InputError(msg)
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
    terrain: Terrain,
    rng: Any,
    county_seat: str = COUNTY_SEAT,
) -> pd.DataFrame:
    """Place the villages in their township's territory, preferring low ground."""
    inset = county_m.buffer(-600.0)
    rows = []
    for t, terr in zip(towns.itertuples(), territories, strict=True):
        names = sorted(gaz.loc[(gaz["town"] == t.town) & (gaz["village"] != ""), "village"])
        codes = _village_code(t.town_code, names)
        seat = np.array([t.x, t.y])
        short = short_town_name(t.town)
        match = [v for v in names if v in (short + "村", short + "社区")]
        if t.town == county_seat:
            seat_names: list[str] = []
        elif match:
            seat_names = match
        else:
            seat_names = [names[0]]
        pos: dict[str, np.ndarray] = {}
        if t.town == county_seat:
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
            else:
                if not county_m.contains(shapely.Point(*p)):
                    p = seat.copy()
            pos[v] = p
        rest = [v for v in names if v not in pos]
        if rest:
            area = terr.intersection(inset)
            if area.area < 1e6:  # a sliver of a territory: use all of it
                area = terr
            cand = _sample_in(area, 60 * len(rest) + 200, rng)
            far = 2200.0 if t.town == county_seat else 1000.0
            away = np.hypot(*(cand - seat).T) > far
            if away.sum() >= 2 * len(rest):
                cand = cand[away]
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
    frame: Frame,
    county_m: shapely.Geometry,
    terrain: Terrain,
    rng: Any,
    skip: tuple[str | None, ...] = (COUNTY_SEAT, PARK),
) -> pd.DataFrame:
    rows = []
    seats = towns[["x", "y"]].to_numpy()
    inset = county_m.buffer(-300.0)
    for k, (_, r) in enumerate(subs.iterrows()):
        poly = frame.geom_to_m(r.geometry)
        c = poly.centroid
        area = r.get("area_m2")
        area = float(area) if isinstance(area, (int, float)) and np.isfinite(area) else poly.area
        kv, vsrc = _osm_voltage_kv(r.get("voltage"), area)
        town = towns["town"].iat[int(np.argmin(np.hypot(*(seats - [c.x, c.y]).T)))]
        name = r.get("name")
        if not isinstance(name, str) or not name:
            name = f"{short_town_name(town)}{kv:.0f}kV变电站"
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
    have = np.array([[r["x"], r["y"]] for r in rows]).reshape(-1, 2)
    for t in towns.itertuples():
        if t.town in skip:
            continue
        seat = np.array([t.x, t.y])
        if len(have) and np.min(np.hypot(*(have - seat).T)) < 4000.0:
            continue
        ang = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, 12, endpoint=False)
        cand = seat + rng.uniform(500, 900) * np.column_stack([np.cos(ang), np.sin(ang)])
        cand = cand[shapely.contains_xy(inset, cand[:, 0], cand[:, 1])]
        if len(cand) == 0:
            continue
        p = cand[np.argmin(terrain.elevation(cand[:, 0], cand[:, 1]))]
        rows.append(
            {
                "name": f"{short_town_name(t.town)}35kV变电站",
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
            no = "二三四五六七八九十"[i] if i < 9 else str(i + 2)
            names[j] = nm.replace("变电站", f"{no}号变电站")
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


def _make_repair_stations(
    towns: pd.DataFrame, nodes_xy: np.ndarray, rng: Any, plan: tuple = _REPAIR
) -> pd.DataFrame:
    seat = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    rows = []
    for k, (town, name, crews) in enumerate(plan):
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


@dataclass(frozen=True)
class _Local:
    """The names a generated county's stations, points and customers are written with."""

    adcode: str = COUNTY_ADCODE
    county: str = COUNTY_NAME
    county_short: str = "南丰"
    province_short: str = "江西"
    county_seat: str = COUNTY_SEAT
    park: str | None = PARK
    farms: tuple[str, ...] = (FARM,)
    hall_street: str = "桔都路"
    repair: tuple = _REPAIR
    hall_skip: int = 2  # the first repair stations that get no service hall of their own


_NANFENG = _Local()


def _make_payment_points(
    towns: pd.DataFrame, villages: pd.DataFrame, net: Network, rng: Any, loc: _Local = _NANFENG
) -> pd.DataFrame:
    nodes_xy = net.roads.node_xy
    seat = {t.town: np.array([t.x, t.y]) for t in towns.itertuples()}
    rows: list[tuple[str, str, str, np.ndarray]] = []
    qc = seat[loc.county_seat]
    cty, csh, seat_short = loc.county, loc.county_short, short_town_name(loc.county_seat)
    city = nodes_xy[net.city_node_ids]
    d_city = np.hypot(*(city - qc).T)
    central = city[np.argsort(d_city, kind="stable")[: max(10, len(city) // 3)]]

    def city_spot() -> np.ndarray:
        return _near(central[int(rng.integers(len(central)))], nodes_xy, rng, off=(8.0, 25.0))

    rows.append(("service_hall", "营业厅", f"国网{cty}供电公司营业厅", _near(qc, nodes_xy, rng)))
    rows.append(
        ("service_hall", "营业厅", f"{seat_short}供电营业厅（{loc.hall_street}）", city_spot())
    )
    for town, name, _ in loc.repair[loc.hall_skip :]:
        rows.append(("service_hall", "营业厅", f"{name}营业厅", _near(seat[town], nodes_xy, rng)))
    rural_bank = f"{loc.province_short}{csh}农村商业银行"
    for bank in (
        f"中国农业银行{csh}支行",
        f"中国工商银行{csh}支行",
        f"中国建设银行{csh}支行",
        f"中国银行{csh}支行",
        f"中国邮政储蓄银行{cty}支行",
        f"{rural_bank}营业部",
    ):
        rows.append(("bank", "银行", bank, city_spot()))
    for k in range(4):
        rows.append(
            ("self_service", "自助缴费终端", f"{seat_short}自助缴费终端{k + 1}号", city_spot())
        )
    for t in towns.itertuples():
        if t.town in (loc.county_seat, loc.park):
            continue
        short = short_town_name(t.town)
        rows.append(
            ("bank", "银行", f"{rural_bank}{short}支行", _near(seat[t.town], nodes_xy, rng))
        )
        if t.kind == "镇":
            rows.append(
                (
                    "bank",
                    "银行",
                    f"中国邮政储蓄银行{csh}{short}营业所",
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
    agent &= villages["town"].to_numpy() != loc.park
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
    net: Network,
    county_m: shapely.Geometry,
    frame: Frame,
    road_detail: float,
    rng: Any,
    addr_rng: Any,
    gps_rng: Any,
    loc: _Local = _NANFENG,
    names: CountyNames | None = None,
) -> pd.DataFrame:
    nv = len(villages)
    town = villages["town"].to_numpy()
    kind = villages["kind"].to_numpy()
    seat = villages["is_seat"].to_numpy()
    elev = villages["elevation_m"].to_numpy()
    vxy = villages[["x", "y"]].to_numpy()
    ptype = np.full(nv, 2)
    ptype[seat] = 1
    if loc is _NANFENG:
        ptype[(kind == "社区") & (town == COUNTY_SEAT)] = 0
    else:  # every 街道 is urban
        urban = np.array([t.endswith("街道") or t == loc.county_seat for t in town], dtype=bool)
        ptype[(kind == "社区") & urban] = 0
    ptype[np.isin(town, loc.farms)] = 3
    ptype[town == loc.park] = 4
    base = np.array([7.0, 3.0, 1.0, 1.5, 0.0])[ptype]
    weight = base * rng.lognormal(0.0, 0.35, nv) * np.exp(-(elev - 120.0) / 500.0)
    k = _lane_k(villages, road_detail)
    spacing = LANE_SPACING_M / road_detail**0.25
    sigma = np.where(ptype == 0, 320.0, np.maximum(k * spacing / 2.5, 60.0))

    # Hamlets by the isolated road pieces, assigned to the nearest village for their address.
    iso_xy = np.array([frame.to_m(p["lon"], p["lat"]) for p in net.isolated]).reshape(-1, 2)
    n_iso = np.array([6 if p["kind"] == "hill_hamlet" else 4 for p in net.isolated], dtype=int)
    real_v = np.flatnonzero(villages["kind"].to_numpy() != "虚拟")
    iso_v = real_v[cKDTree(vxy[real_v]).query(iso_xy)[1]] if len(iso_xy) else n_iso
    n_park = round(PARK_SHARE * n) if loc.park is not None else 0
    n_rest = n - int(n_iso.sum()) - n_park
    counts = rng.multinomial(n_rest, weight / weight.sum())
    park_v = int(np.flatnonzero(town == loc.park)[0]) if n_park else 0
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
    if loc.park is not None:
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

    names_ = _customer_names(villages["village"].to_numpy()[vid], cat, usage, rng, loc.county)
    rows = pd.DataFrame(
        {
            "town": town[vid],
            "town_code": villages["town_code"].to_numpy()[vid],
            "village": villages["village"].to_numpy()[vid],
            "group_no": group_no,
            "house_no": house_no,
        }
    )
    addr = make_addresses(rows, addr_rng, names=names)

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
    ids = np.char.add(loc.adcode, np.char.zfill(serial, 7))
    cats = np.array(CATEGORIES, dtype=object)
    cats_zh = np.array(CATEGORIES_ZH, dtype=object)
    df = pd.DataFrame(
        {
            "customer_id": ids.astype(object),
            "name": names_,
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
    village: np.ndarray, cat: np.ndarray, usage: np.ndarray, rng: Any, county: str = COUNTY_NAME
) -> np.ndarray:
    n = len(cat)
    obj = lambda seq: np.array(seq, dtype=object)  # noqa: E731
    sur = obj(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
    g1 = obj(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.7, obj(_GIVEN)[rng.integers(0, len(_GIVEN), n)], "")
    person = sur + g1 + g2
    stem = np.array([v.removesuffix("社区").removesuffix("村") for v in village], dtype=object)
    shop = stem + sur + "记" + obj(_SHOPS)[rng.integers(0, len(_SHOPS), n)]
    firms = _FIRMS if county == COUNTY_NAME else _FIRMS_GENERIC
    firm = (
        county
        + obj(firms)[rng.integers(0, len(firms), n)]
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


def _points_gdf(df: pd.DataFrame, frame: Frame, columns: list[str]) -> gpd.GeoDataFrame:
    lon, lat = frame.to_ll(df["x"].to_numpy(), df["y"].to_numpy())
    return gpd.GeoDataFrame(
        df[columns].reset_index(drop=True), geometry=shapely.points(lon, lat), crs="EPSG:4326"
    )


def _counts(
    towns: pd.DataFrame,
    villages: pd.DataFrame,
    subs: pd.DataFrame,
    repair: pd.DataFrame,
    pay: pd.DataFrame,
    customers: pd.DataFrame,
) -> dict[str, Any]:
    """The ``counts`` of a sample's meta (the same keys, in the same order, for every county)."""
    return {
        "towns": len(towns),
        "villages": len(villages),
        "substations": len(subs),
        "substations_osm": int((subs["source"] == "OSM").sum()),
        "repair_stations": len(repair),
        "payment_points": len(pay),
        "customers": len(customers),
        "customers_with_gps": int((customers["gps_datum"] == "gcj02").sum()),
        "customers_vulnerable": int(customers["vulnerable"].sum()),
        "customers_hv": int((customers["voltage_class"] == "HV").sum()),
        "customers_by_category": {c: int((customers["category"] == c).sum()) for c in CATEGORIES},
        "gps_errors": {
            e: int((customers["gps_error"] == e).sum()) for e in ("swapped_lonlat", "far_off")
        },
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
    adcode: str | int | None = None,
    boundary: str | Path | None = None,
    boundary_datum: str = "gcj02",
) -> SampleCounty:
    """Generate a sample county from its real parts and a seed: Nanfeng by default, or any
    county of a boundary file.

    Nanfeng (no ``adcode``, or 361023 with the default boundary file) is built from
    ``sample_data/nanfeng/source`` with its real township seats and codes, the 盱江 valley,
    G206/G35 and the industrial park. Any other county is built from its real boundary (every
    piece of at least ``MIN_PIECE_KM2`` km² gets a township seat, villages and roads), its real
    township and village names from ``sample_data/jiangxi/jiangxi_towns_villages.csv``
    (generated names, labelled, for a county not in it), the real OSM substations inside it
    (``sample_data/jiangxi/osm_substations_jiangxi_points.gpkg``) plus generated 35 kV ones
    near township seats that have none, and generated seats, village positions, codes,
    terrain (one main valley through the county seat), roads, stations, payment points and
    customers whose addresses carry the county's real province, city and county names
    (:func:`gridgeo.admin.admin_names`). The county seat is the 街道 with the most 社区 in the
    names table, else the 镇 with the most 社区 (the first in table order on a tie).
    Township codes follow the statistics rules (adcode + 001-099 街道, 100-199 镇 with the
    seat first, 200-399 乡, 400+ other units); village codes append 001.. for 社区 and
    201.. for 村 (as in Nanfeng). Everything generated is labelled (``meta``
    ``generated``, ``generated`` / ``source`` / ``*_source`` columns).

    Parameters
    ----------
    seed
        Seed of every random choice; the same seed and options give the same county (and
        byte-identical files from :func:`write_sample`).
    n_customers
        Number of customers (at least 100). The shipped sample has 30,000; benchmarks use
        10^5-10^6.
    road_detail
        Scales the village lanes: 1.0 gives ~10^4 road nodes, 150 gives ~10^6. Roads other
        than the lanes do not change with it.
    source_dir
        Folder with the real inputs of Nanfeng (default ``sample_data/nanfeng/source``).
    adcode
        The county: 6-digit adcode or name in ``boundary`` (default: Nanfeng).
    boundary
        The county boundary file with columns ``name`` and ``adcode`` (default: the Jiangxi
        counties, ``sample_data/jiangxi/amap_jiangxi_counties_gcj02.gpkg``).
    boundary_datum
        Datum of ``boundary``: ``gcj02`` (Amap, default), ``wgs84`` or ``bd09``.

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
    if adcode is not None or boundary is not None:
        choice = find_sample_county(
            COUNTY_ADCODE if adcode is None else adcode,
            boundary=boundary,
            boundary_datum=boundary_datum,
        )
        if not (choice.adcode == COUNTY_ADCODE and boundary is None):
            return _generate_other(
                choice,
                seed=seed,
                n_customers=n_customers,
                road_detail=road_detail,
                towns_villages=DEFAULT_TOWNS_VILLAGES,
                substations=DEFAULT_SUBSTATIONS,
            )
    t0 = time.perf_counter()
    src = _read_sources(Path(source_dir) if source_dir is not None else SAMPLE_DIR / "source")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(9)]
    r_terrain, r_vill, r_roads, r_lanes, r_st, r_cust, r_addr, r_gps, r_city = streams
    crs = metric_crs(gpd.GeoSeries([src.county_wgs], crs="EPSG:4326"))
    frame = Frame(crs)
    county_m = frame.geom_to_m(src.county_wgs)
    gaz = src.gazetteer
    heads = gaz[(gaz["village"] == "") & (gaz["town_seat_lon_wgs84"] != "")]
    sx, sy = frame.to_m(
        heads["town_seat_lon_wgs84"].astype(float), heads["town_seat_lat_wgs84"].astype(float)
    )
    seats = {t: (float(x), float(y)) for t, x, y in zip(heads["town"], sx, sy, strict=True)}
    terrain = make_terrain(frame, county_m, seats, r_terrain)
    raster = Raster(county_m, terrain)
    towns = _make_towns(gaz, frame, raster, terrain, seats)
    territories = _territories(towns, county_m)
    seat_xy = np.array(seats[COUNTY_SEAT])
    city = city_grid(seat_xy, county_m, r_city)
    villages = _make_villages(gaz, towns, territories, city["xy"], county_m, terrain, r_vill)
    villages["lanes"] = ~(
        ((villages["kind"] == "社区") & (villages["town"] == COUNTY_SEAT))
        | (villages["town"] == PARK)
    )
    t_places = time.perf_counter()
    net = build_network(
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
    roads = roads_gdf(net.roads, frame)
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
        villages.assign(generated=True, road_node=net.village_node.astype(np.int64)),
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
            "road_node",
        ],
    )
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
    stats = road_stats(roads)
    meta = {
        "generator": "gridgeo.sample",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_customers": int(n_customers),
        "road_detail": float(road_detail),
        "metric_crs": crs.to_string(),
        "county_area_km2": float(county["area_km2"].iat[0]),
        "counts": _counts(towns_g, vil_g, subs_g, rep_g, pay_g, customers),
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


# ----------------------------------------------------------------------------- any county

JIANGXI_DIR = SAMPLE_DIR.parent / "jiangxi"
DEFAULT_BOUNDARY = JIANGXI_DIR / "amap_jiangxi_counties_gcj02.gpkg"
DEFAULT_TOWNS_VILLAGES = JIANGXI_DIR / "jiangxi_towns_villages.csv"
DEFAULT_SUBSTATIONS = JIANGXI_DIR / "osm_substations_jiangxi_points.gpkg"
MIN_PIECE_KM2 = 20.0  # boundary pieces at least this large get a township, villages and roads
_CN_DIGITS = "一二三四五六七八九十"


@dataclass(frozen=True)
class CountyChoice:
    """A county picked from a boundary file: its adcode, name and geometry as in the file."""

    adcode: str
    name: str
    geometry: shapely.Geometry
    boundary_file: Path
    datum: str


def _read_boundary_file(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        msg = (
            f"边界文件不存在 / boundary file {str(path)!r} not found: pass an existing file "
            "with `--boundary FILE`"
        )
        raise NotFoundError(msg)
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        msg = f"边界文件无法读取 / cannot read the boundary file {str(path)!r}: {exc}"
        raise CorruptFileError(msg) from exc
    for col in ("adcode", "name"):
        if col not in gdf.columns:
            msg = (
                f"边界文件缺少列 / boundary file {str(path)!r} has no column {col!r}: give a "
                "file with columns `name` and `adcode` (like Amap's county boundaries)"
            )
            raise MissingColumnError(msg)
    return gdf


def find_sample_county(
    county: str | int,
    *,
    boundary: str | Path | None = None,
    boundary_datum: str = "gcj02",
) -> CountyChoice:
    """The county ``county`` (6-digit adcode or name, e.g. ``361022`` or ``黎川县``/``黎川``).

    Parameters
    ----------
    county
        Adcode or name as in the boundary file's ``adcode`` / ``name`` columns.
    boundary
        The boundary file (default: the 100 Jiangxi counties of
        ``sample_data/jiangxi/amap_jiangxi_counties_gcj02.gpkg``, GCJ-02).
    boundary_datum
        Datum of the boundary file's coordinates: ``gcj02`` (Amap, the default), ``wgs84`` or
        ``bd09``.

    Raises
    ------
    NotFoundError
        If the file or the county is not found (the message suggests close names).
    InputError
        If the datum is unknown or a name matches several counties.
    """
    datum = str(boundary_datum).strip().lower()
    if datum not in DATUMS:
        msg = (
            f"未知坐标系 / unknown `--boundary-datum` {boundary_datum!r}: use one of "
            f"{', '.join(DATUMS)}"
        )
        raise InputError(msg)
    path = Path(boundary) if boundary is not None else DEFAULT_BOUNDARY
    gdf = _read_boundary_file(path)
    codes = gdf["adcode"].astype(str).str.strip()
    names = gdf["name"].astype(str).str.strip()
    text = str(county).strip()
    if text.isdigit():
        hit = np.flatnonzero((codes == text).to_numpy())
    else:
        short = names.str.replace(r"(县|区|市|自治县)$", "", regex=True)
        hit = np.flatnonzero(((names == text) | (short == text)).to_numpy())
    if len(hit) == 0:
        pool = list(codes) if text.isdigit() else list(names)
        close = difflib.get_close_matches(text, pool, n=3, cutoff=0.3)
        if text.isdigit():
            close = [f"{c} {names.iat[int(np.flatnonzero(codes == c)[0])]}" for c in close]
        else:
            close = [f"{c} {codes.iat[int(np.flatnonzero(names == c)[0])]}" for c in close]
        hint = f"; 相近 / close: {', '.join(close)}" if close else ""
        msg = (
            f"边界文件中没有该县 / no county {text!r} in {str(path)!r}{hint}: give a name or "
            "6-digit adcode from the file's `name`/`adcode` columns (e.g. 黎川县 or 361022), "
            "or another file with `--boundary`"
        )
        raise NotFoundError(msg)
    if len(np.unique(codes.iloc[hit])) > 1:
        listed = ", ".join(f"{codes.iat[i]} {names.iat[i]}" for i in hit)
        msg = f"多个县同名 / several counties are called {text!r} ({listed}): pass the adcode"
        raise InputError(msg)
    geom = shapely.union_all(gdf.geometry.iloc[hit].to_numpy())
    if geom is None or geom.is_empty:
        msg = f"县界为空 / the boundary of {text!r} in {str(path)!r} is empty"
        raise CorruptFileError(msg)
    adcode = codes.iat[hit[0]]
    if not re.fullmatch(r"\d{6}", adcode):
        msg = (
            f"县代码无效 / the `adcode` of {text!r} in {str(path)!r} is {adcode!r}: give the "
            "county's 6-digit adcode in the boundary file's `adcode` column"
        )
        raise InputError(msg)
    return CountyChoice(adcode, names.iat[hit[0]], geom, path, datum)


def _generic_kind(town: str) -> str:
    if town.endswith("街道"):
        return "街道"
    return _town_kind(town)


def _cn_number(k: int) -> str:
    if k <= 10:
        return _CN_DIGITS[k - 1]
    if k < 20:
        return "十" + _CN_DIGITS[k - 11]
    return _CN_DIGITS[k // 10 - 1] + "十" + (_CN_DIGITS[k % 10 - 1] if k % 10 else "")


def _county_names_table(adcode: str, area_km2: float, path: Path) -> tuple[pd.DataFrame, str]:
    """The county's rows of the towns/villages table, or generated names (clearly labelled)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = table[table["county_adcode"] == adcode]
    if not rows.empty:
        # the table repeats a few names within one township (黎川县 厚村乡 厚村): keep one
        rows = rows[["town", "village"]].drop_duplicates(ignore_index=True)
        return rows, "real"
    n_towns = int(np.clip(round(area_km2 / 120.0), 4, 20))
    out = []
    for k in range(1, n_towns + 1):
        town = f"生成{_cn_number(k)}{'镇' if k <= n_towns // 2 else '乡'}"
        out.append((town, ""))
        for j in range(1, 11):
            out.append((town, f"{town[:-1]}{_cn_number(j)}村"))
    return pd.DataFrame(out, columns=["town", "village"]), "generated"


def _county_seat(gaz: pd.DataFrame, towns: list[str], kinds: dict[str, str]) -> str:
    """The county seat: the 街道 (else the 镇) with the most 社区, the first in table order on
    a tie (日峰镇 in 黎川县, 12 社区); the first township if there is neither."""
    n_comm = gaz[gaz["village"].str.endswith("社区")].groupby("town").size()
    for kind in ("街道", "镇"):
        pool = [t for t in towns if kinds[t] == kind]
        if pool:
            return max(pool, key=lambda t: (int(n_comm.get(t, 0)), -pool.index(t)))
    return towns[0]


def _generic_town_codes(adcode: str, towns: list[str], seat: str) -> dict[str, str]:
    """9-digit codes by the statistics rules: 街道 001-099, 镇 100-199, 乡 200-399, others 400+.

    The county seat comes first in its class (琴城镇 is 361023100 in Nanfeng).
    """
    start = {"街道": 1, "镇": 100, "乡": 200}
    counters: dict[str, int] = {}
    out = {}
    for town in sorted(towns, key=lambda t: (t != seat, towns.index(t))):
        kind = _generic_kind(town)
        key = kind if kind in start else "other"
        n = counters.get(key, 0)
        counters[key] = n + 1
        out[town] = f"{adcode}{start.get(key, 400) + n:03d}"
    return out


def _piece_point(piece: shapely.Geometry, rng: Any, *, n: int = 400) -> np.ndarray:
    """A point well inside ``piece``: the deepest of ``n`` random points."""
    pts = _sample_in(piece, n, rng)
    depth = shapely.distance(piece.boundary, shapely.points(pts))
    return pts[int(np.argmax(np.minimum(depth, 8000.0) + rng.uniform(0, 500.0, len(pts))))]


def _place_generic_towns(
    towns: list[str], seat: str, county_m: shapely.Geometry, rng: Any
) -> tuple[dict[str, tuple[float, float]], list[shapely.Geometry]]:
    """Generated township seats: the county seat deep in the largest piece, one seat in every
    other piece of at least ``MIN_PIECE_KM2``, the rest spread out (deterministic from rng)."""
    pieces = sorted(shapely.get_parts(county_m), key=lambda g: -g.area)
    big = [p for p in pieces if p.area >= MIN_PIECE_KM2 * 1e6] or pieces[:1]
    xy: dict[str, np.ndarray] = {seat: _piece_point(big[0], rng)}
    others = [t for t in towns if t != seat]
    streets = [t for t in others if t.endswith("街道")]
    rural = [t for t in others if not t.endswith("街道")]
    inset_main = big[0].buffer(-1500.0)
    if inset_main.area < 0.2 * big[0].area:
        inset_main = big[0]
    for t in streets:  # other 街道: around the county seat
        for _ in range(200):
            ang = rng.uniform(0, 2 * np.pi)
            p = xy[seat] + rng.uniform(2500.0, 5000.0) * np.array([np.cos(ang), np.sin(ang)])
            if inset_main.contains(shapely.Point(*p)):
                break
        else:
            p = _piece_point(big[0], rng)
        xy[t] = p
    for piece in big[1:]:  # one township in every other sizeable piece
        if not rural:
            break
        xy[rural.pop()] = _piece_point(piece, rng)
    if rural:
        area = shapely.union_all([p.buffer(-1500.0) for p in big])
        if area.is_empty or area.area < 0.2 * sum(p.area for p in big):
            area = shapely.union_all(big)
        cand = _sample_in(area, 80 * len(rural) + 400, rng)
        spacing = 0.9 * np.sqrt(sum(p.area for p in big) / len(towns))
        taken = np.array(list(xy.values()))
        picked = _pick_spaced(cand, rng.random(len(cand)), len(rural), spacing, taken)
        for t, p in zip(rural, picked, strict=True):
            xy[t] = p
    seats = {t: (float(xy[t][0]), float(xy[t][1])) for t in towns}
    return seats, big


def _generic_territories(
    towns: pd.DataFrame, pieces: list[shapely.Geometry]
) -> list[shapely.Geometry]:
    """Voronoi cells of the seats within each piece, clipped to that piece."""
    pts = shapely.points(towns["x"].to_numpy(), towns["y"].to_numpy())
    parts: list[list[shapely.Geometry]] = [[] for _ in range(len(towns))]
    for piece in pieces:
        inside = np.flatnonzero(shapely.contains(piece, pts))
        if len(inside) == 1:
            parts[inside[0]].append(piece)
        elif len(inside) > 1:
            cells = shapely.voronoi_polygons(
                shapely.MultiPoint(list(pts[inside])), extend_to=piece.buffer(20000), ordered=True
            )
            for i, c in zip(inside, shapely.get_parts(cells), strict=True):
                parts[i].append(shapely.intersection(c, piece))
    return [shapely.union_all(p) if p else shapely.Point(0, 0).buffer(0) for p in parts]


def _generic_repair(towns: pd.DataFrame, county: str, seat: str) -> tuple:
    """The county's command centre at the seat and a 供电所 at every 镇 (乡 if there is no 镇)."""
    rows: list[tuple[str, str, int]] = [(seat, f"{county}供电公司抢修指挥中心", 4)]
    kinds = dict(zip(towns["town"], towns["kind"], strict=True))
    pick = [t for t in towns["town"] if t != seat and kinds[t] == "镇"]
    if not pick:
        pick = [t for t in towns["town"] if t != seat and kinds[t] in ("乡", "街道")]
    for k, t in enumerate(pick):
        rows.append((t, f"{short_town_name(t)}供电所", 2 if k < 3 else 1))
    return tuple(rows)


def _generate_other(
    choice: CountyChoice,
    *,
    seed: int,
    n_customers: int,
    road_detail: float,
    towns_villages: Path,
    substations: Path,
) -> SampleCounty:
    """Generate a sample of any county from its boundary, names and OSM substations."""
    t0 = time.perf_counter()
    adcode = choice.adcode
    try:
        admin = admin_names(adcode)
        province, city_name, county_name = admin.province, admin.city, admin.county
        province_short = admin.province_short
        county_short = admin.county_short
    except (InputError, NotFoundError):
        province, city_name, county_name = "", "", choice.name
        province_short, county_short = "", choice.name[:-1]
    county_wgs = to_wgs84_geometry(
        gpd.GeoSeries([choice.geometry], crs="EPSG:4326"), choice.datum
    ).union_all()
    county_wgs = shapely.make_valid(shapely.set_precision(county_wgs, 10.0**-COORD_DECIMALS))
    streams = [
        np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), int(adcode)]).spawn(10)
    ]
    r_terrain, r_vill, r_roads, r_lanes, r_st, r_cust, r_addr, r_gps, r_city, r_seat = streams
    crs = metric_crs(gpd.GeoSeries([county_wgs], crs="EPSG:4326"))
    frame = Frame(crs)
    county_m = shapely.make_valid(frame.geom_to_m(county_wgs))
    area_km2 = abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(county_wgs)[0]) / 1e6

    gaz, names_source = _county_names_table(adcode, area_km2, towns_villages)
    town_list = list(dict.fromkeys(gaz["town"]))
    kinds = {t: _generic_kind(t) for t in town_list}
    seat = _county_seat(gaz, town_list, kinds)
    codes = _generic_town_codes(adcode, town_list, seat)
    seats, pieces = _place_generic_towns(town_list, seat, county_m, r_seat)
    towns = pd.DataFrame(
        {
            "town_code": [codes[t] for t in town_list],
            "town": town_list,
            "kind": [kinds[t] for t in town_list],
            "code_source": "generated",
            "coords_source": "generated",
            "name_source": names_source,
            "x": [seats[t][0] for t in town_list],
            "y": [seats[t][1] for t in town_list],
        }
    ).sort_values("town_code", ignore_index=True)
    terrain = make_generic_terrain(county_m, seats, seat, r_terrain)
    raster = Raster(county_m, terrain)
    territories = _generic_territories(towns, pieces)
    city = city_grid(np.array(seats[seat]), county_m, r_city)
    villages = _make_villages(
        gaz, towns, territories, city["xy"], county_m, terrain, r_vill, county_seat=seat
    )
    villages["lanes"] = ~((villages["kind"] == "社区") & (villages["town"] == seat))
    t_places = time.perf_counter()
    minor = tuple(t for t in town_list if kinds[t] not in ("街道", "镇", "乡"))
    plan = generic_plan(seat, minor, terrain)
    net = build_network(
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
        plan=plan,
    )
    roads = roads_gdf(net.roads, frame)
    t_roads = time.perf_counter()

    try:
        osm = gpd.read_file(substations, engine="pyogrio")
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        msg = f"变电站文件无法读取 / cannot read the substations file {str(substations)!r}: {exc}"
        raise CorruptFileError(msg) from exc
    pts = shapely.get_coordinates(osm.geometry.representative_point())
    osm = osm[shapely.contains_xy(county_wgs, pts[:, 0], pts[:, 1])].reset_index(drop=True)
    osm = osm.assign(geometry=osm.geometry.representative_point())
    loc = _Local(
        adcode=adcode,
        county=county_name,
        county_short=county_short,
        province_short=province_short,
        county_seat=seat,
        park=None,
        farms=tuple(t for t in minor if t.endswith("场")),
        hall_street="城区",
        repair=_generic_repair(towns, county_name, seat),
        hall_skip=1,
    )
    nodes_xy = net.roads.node_xy
    main_xy = nodes_xy[np.concatenate([net.major_node_ids, net.city_node_ids])]
    subs = _make_substations(osm, towns, frame, county_m, terrain, r_st, skip=(seat,))
    repair = _make_repair_stations(towns, main_xy, r_st, plan=loc.repair)
    pay = _make_payment_points(towns, villages, net, r_st, loc)
    customers = _make_customers(
        n_customers,
        villages,
        net,
        county_m,
        frame,
        road_detail,
        r_cust,
        r_addr,
        r_gps,
        loc=loc,
        names=CountyNames(province, city_name, county_name, seat),
    )
    t_cust = time.perf_counter()
    gpkg = f"{adcode}.gpkg"
    county = gpd.GeoDataFrame(
        {"adcode": [adcode], "name": [choice.name], "area_km2": [round(area_km2, 2)]},
        geometry=[county_wgs],
        crs="EPSG:4326",
    )
    towns_g = _points_gdf(
        towns, frame, ["town_code", "town", "kind", "coords_source", "code_source", "name_source"]
    )
    vil_g = _points_gdf(
        villages.assign(
            generated=True,
            name_source=names_source,
            road_node=net.village_node.astype(np.int64),
        ),
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
            "name_source",
            "road_node",
        ],
    )
    subs_g = _points_gdf(
        subs, frame, ["substation_id", "name", "voltage_kv", "source", "voltage_source"]
    )
    repair = repair.assign(generated=True)
    pay = pay.assign(generated=True)
    rep_g = _points_gdf(repair, frame, ["station_id", "name", "crews", "town", "generated"])
    pay_g = _points_gdf(pay, frame, ["point_id", "name", "kind", "kind_zh", "generated"])
    cust_g = gpd.GeoDataFrame(
        customers,
        geometry=shapely.points(customers["true_lon"].to_numpy(), customers["true_lat"].to_numpy()),
        crs="EPSG:4326",
    )
    stats = road_stats(roads)
    piece_km2 = sorted((round(g.area / 1e6, 1) for g in shapely.get_parts(county_m)), reverse=True)
    meta = {
        "generator": "gridgeo.sample",
        "generator_version": GENERATOR_VERSION,
        "adcode": adcode,
        "name": choice.name,
        "province": province,
        "city": city_name,
        "gpkg": gpkg,
        "seed": int(seed),
        "n_customers": int(n_customers),
        "road_detail": float(road_detail),
        "metric_crs": crs.to_string(),
        "county_area_km2": float(county["area_km2"].iat[0]),
        "county_seat": seat,
        "county_seat_rule": "the 街道 (else 镇) with the most 社区 in the names table",
        "boundary": {
            "file": choice.boundary_file.name,
            "datum": choice.datum,
            "pieces_km2": piece_km2,
            "pieces_with_villages_min_km2": MIN_PIECE_KM2,
        },
        "sources": {
            "boundary": f"{choice.boundary_file.name} ({choice.datum}, converted to WGS84)",
            "names": (
                f"{Path(towns_villages).name} (real township and village names)"
                if names_source == "real"
                else "generated names (生成…镇/乡, …村): the county is not in the names table"
            ),
            "substations": f"{Path(substations).name} (OSM, WGS84; © OpenStreetMap contributors)",
        },
        "generated": [
            "township seats and village positions (deterministic from the seed)",
            "township codes (9 digits from the adcode) and village codes (12 digits)",
            "terrain, roads, repair stations, payment points and customers",
            "substations with source 'generated' (where OSM has none near a township seat)",
        ],
        "counts": _counts(towns_g, vil_g, subs_g, rep_g, pay_g, customers),
        "roads": stats,
        "isolated_road_pieces": net.isolated,
        "motorway_end_nodes": net.motorway_ends,
        "oneway_city_edges": net.n_oneway_city_edges,
    }
    logger.info(
        "generated %s: places %.2f s, roads %.2f s, customers %.2f s (%d nodes, %d customers)",
        adcode,
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

    Writes ``nanfeng.gpkg`` (``<adcode>.gpkg`` for other counties, named in ``meta.json``;
    layers ``county``, ``towns``, ``villages``, ``substations``,
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
        "gpkg": out / str(sample.meta.get("gpkg", OUTPUT_GPKG)),
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


COMPANY_FILES = {
    "boundary": "boundary_gcj02.geojson",
    "substations": "substations_wgs84.gpkg",
    "villages": "villages.csv",
    "towns": "towns.csv",
    "repair_stations": "repair_stations_gcj02.csv",
    "payment_points": "payment_points_gcj02.csv",
    "roads": "roads.gpkg",
    "customers": "customers.csv",
    "readme": "README.txt",
}

_COMPANY_README = """\
{name}（{adcode}）样例：县供电公司手头的文件 / sample: the files as a county company has them
=====================================================================================

生成器 / generator: gridgeo.sample (seed {seed}); try them with `gridgeo workspace init`.

文件与坐标系 / files and their datum:

  boundary_gcj02.geojson     县界 county boundary          GCJ-02 (火星坐标, like Amap/高德)
  substations_wgs84.gpkg     变电站 substations             WGS84 (EPSG:4326, like OSM)
  villages.csv               行政村/社区 villages           lon/lat in GCJ-02 (column coord_datum)
  towns.csv                  乡镇驻地 township seats        lon/lat in GCJ-02 (column coord_datum)
  repair_stations_gcj02.csv  抢修站 repair stations         lon/lat in GCJ-02 (column coord_datum)
  payment_points_gcj02.csv   缴费点 payment points          lon/lat in GCJ-02 (column coord_datum)
  roads.gpkg                 道路 roads (layer roads)       WGS84 (EPSG:4326)
  customers.csv              客户档案 customer archive      addresses; phone GPS gps_lon/gps_lat
                                                            in GCJ-02 where gps_datum = gcj02

Points picked on Amap are GCJ-02: pass `--datum gcj02` (or the file's coord_datum column)
when loading the CSV files; the GeoPackages are WGS84.

真实与生成 / real and generated: only the county boundary (Amap), the township and village
names ({names_source})
and the substations with source = OSM (© OpenStreetMap contributors, ODbL 1.0) are real.
Everything else is GENERATED: township seat and village positions, township and village
codes, roads, repair stations, payment points, substations with source = generated, and all
customers (names, addresses, GPS). 除县界、名称和 OSM 变电站外，
其余均为生成数据。
"""


def _gcj_columns(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    lon, lat = wgs84_to_gcj02(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
    out = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    out["lon"] = np.round(np.asarray(lon, dtype=float), COORD_DECIMALS)
    out["lat"] = np.round(np.asarray(lat, dtype=float), COORD_DECIMALS)
    out["coord_datum"] = "gcj02"
    return out


def write_company_files(sample: SampleCounty, out_dir: str | Path) -> dict[str, Path]:
    """Write a sample county as a county company has its files, to try ``workspace init``.

    The county boundary as GeoJSON in GCJ-02 (like Amap), the substations as a WGS84
    GeoPackage (like OSM), villages, township seats, repair stations and payment points as
    CSV files with ``lon``/``lat`` in GCJ-02 (as picked on Amap; a ``coord_datum`` column
    says so), the roads as a WGS84 GeoPackage, the customer archive, and a ``README.txt``
    giving each file's datum and what is real or generated. The same sample gives
    byte-identical files.

    Parameters
    ----------
    sample
        A county from :func:`generate_county`.
    out_dir
        The folder; created if missing. Existing files of these names are replaced.

    Returns
    -------
    dict
        Paths by key of ``COMPANY_FILES``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in COMPANY_FILES.items()}
    county = sample.county
    gcj = shapely.transform(
        county.geometry.iat[0],
        lambda c: np.round(np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])), COORD_DECIMALS),
    )
    boundary = gpd.GeoDataFrame(
        county.drop(columns=county.geometry.name), geometry=[gcj], crs="EPSG:4326"
    )
    _write_geojson(
        boundary,
        paths["boundary"],
        name="boundary_gcj02",
        note=f"{county['name'].iat[0]} boundary, GCJ-02 (Amap), not WGS84",
    )
    csv = {"index": False, "lineterminator": "\n", "encoding": "utf-8"}
    _gcj_columns(sample.villages.drop(columns=["road_node"], errors="ignore")).to_csv(
        paths["villages"], **csv
    )
    _gcj_columns(sample.towns).to_csv(paths["towns"], **csv)
    _gcj_columns(sample.repair_stations).to_csv(paths["repair_stations"], **csv)
    _gcj_columns(sample.payment_points).to_csv(paths["payment_points"], **csv)
    sample.customers[_ARCHIVE_COLUMNS].to_csv(
        paths["customers"], float_format=f"%.{GPS_DECIMALS}f", **csv
    )
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        for key, layer in (("substations", "substations"), ("roads", "roads")):
            paths[key].unlink(missing_ok=True)
            pyogrio.write_dataframe(getattr(sample, layer), paths[key], layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    meta = sample.meta
    generated_names = str(meta.get("sources", {}).get("names", "")).startswith("generated")
    names_source = (
        "GENERATED: the county is not in the names table"
        if generated_names
        else "jiangxi_towns_villages.csv, from jionlp, Apache-2.0"
    )
    text = _COMPANY_README.format(
        name=county["name"].iat[0],
        adcode=county["adcode"].iat[0],
        seed=sample.seed,
        names_source=names_source,
    )
    paths["readme"].write_text(text, encoding="utf-8")
    return paths


MARKETING_DIR = "marketing_export"
MARKETING_FILES = {
    "csv": "customers_marketing_gbk.csv",
    "xlsx": "customers_marketing.xlsx",
    "truth": "customers_marketing_truth.csv",
}
MARKETING_STREAM = 11  # the export's own random stream: the archive's draws stay as they are
MARKETING_EXPORT_DATE = "2025-01-01"
MARKETING_DATA_SHEET = "客户资料"
MARKETING_COVER_SHEET = "说明"
MARKETING_COLUMNS = (
    "户号",
    "户名",
    "用电地址",
    "联系电话",
    "用电类别",
    "电压等级",
    "经度",
    "纬度",
    "坐标系",
)
_MARKETING_TRUTH_COLUMNS = [
    "customer_id",
    "village_code",
    "town_code",
    "address_variant",
    "export_variant",
    "expected_status",
    "phone_kind",
    "note",
]
_ZIP_DATE = (2025, 1, 1, 0, 0, 0)


def _marketing_table(sample: SampleCounty, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The export's rows (Chinese columns), its truth and the county's name."""
    county_name = str(sample.county["name"].iat[0])
    adcode = str(sample.county["adcode"].iat[0])
    if adcode == COUNTY_ADCODE:
        names = NANFENG_NAMES
    else:
        names = CountyNames(
            str(sample.meta.get("province", "")),
            str(sample.meta.get("city", "")),
            county_name,
            str(sample.meta.get("county_seat", "")),
        )
    code = int(adcode) if adcode.isdigit() else zlib.crc32(adcode.encode("utf-8"))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), code, MARKETING_STREAM]))
    cust = pd.DataFrame(sample.customers.drop(columns=sample.customers.geometry.name))
    n = len(cust)
    area = AREA_CODES.get(adcode[:4], "0791")
    phone, phone_kind = make_phones(n, rng, area_code=area)
    person = (
        np.asarray(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), n)]
        + np.asarray(_GIVEN, dtype=object)[rng.integers(0, len(_GIVEN), n)]
    )
    residential = (cust["category"] == "residential").to_numpy()
    contact = np.where(residential, cust["name"].to_numpy(dtype=object), person)
    villages = pd.DataFrame(sample.villages[["village_code", "village", "town", "town_code"]])
    written = marketing_addresses(
        cust.assign(phone=phone, contact=contact),
        villages,
        rng,
        names=names,
        adcode=adcode if len(adcode) == 6 and adcode.isdigit() else "360000",
    )
    hv = (cust["voltage_class"] == "HV").to_numpy()
    category = cust["category"].to_numpy(dtype=object)
    use = np.select(
        [category == "residential", category == "agricultural", (category == "industrial") & hv],
        ["居民生活用电", "农业生产用电", "大工业用电"],
        "一般工商业用电",
    )
    voltage = np.where(hv, "交流10kV", np.where(residential, "交流220V", "交流380V"))
    has_gps = (cust["gps_datum"] == "gcj02").to_numpy()
    table = pd.DataFrame(
        {
            "户号": cust["customer_id"].astype(str).to_numpy(),
            "户名": cust["name"].to_numpy(dtype=object),
            "用电地址": written["address"].to_numpy(dtype=object),
            "联系电话": phone,
            "用电类别": use.astype(object),
            "电压等级": voltage.astype(object),
            "经度": cust["gps_lon"].to_numpy(dtype=float),
            "纬度": cust["gps_lat"].to_numpy(dtype=float),
            "坐标系": np.where(has_gps, "GCJ-02", "").astype(object),
        }
    )
    town_code = villages.set_index("village_code")["town_code"]
    truth = pd.DataFrame(
        {
            "customer_id": table["户号"],
            "village_code": cust["village_code"].astype(str).to_numpy(),
            "town_code": town_code.reindex(cust["village_code"]).astype(str).to_numpy(),
            "address_variant": cust["address_variant"].to_numpy(dtype=object),
            "export_variant": written["export_variant"].to_numpy(dtype=object),
            "expected_status": written["expected_status"].to_numpy(dtype=object),
            "phone_kind": phone_kind,
            "note": written["note"].to_numpy(dtype=object),
        }
    )
    return table, truth, county_name


def _text_cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if not np.isfinite(value) else f"{value:.{GPS_DECIMALS}f}"
    return str(value)


def _fixed_zip(raw: bytes, path: Path) -> None:
    """Rewrite an XLSX with fixed entry dates and document times (byte-identical output)."""
    import io as _io
    import zipfile

    stamp = f"{MARKETING_EXPORT_DATE}T00:00:00Z"
    with zipfile.ZipFile(_io.BytesIO(raw)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rf"\g<1>{stamp}\g<3>",
                    data.decode("utf-8"),
                )
                data = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def write_marketing_export(
    sample: SampleCounty, out_dir: str | Path, *, seed: int | None = None
) -> dict[str, Path]:
    """Write the customer file the way the marketing system (营销系统) exports it.

    The customers of ``sample`` with Chinese headers (``MARKETING_COLUMNS``: 户号, 户名,
    用电地址, 联系电话, 用电类别, 电压等级, 经度, 纬度, 坐标系) under a title row
    (``南丰县供电公司客户资料`` with the county's name) and an export-date line:

    - ``customers_marketing_gbk.csv``: GBK, CRLF line ends, the two title lines padded with
      commas as Excel saves a merged title;
    - ``customers_marketing.xlsx``: two sheets, a cover sheet ``说明`` first (title, export
      date, row count, which sheet holds the data, the datum) and the data on the second sheet
      ``客户资料`` (title row merged over the columns, export-date row, header, rows; ids and
      phones as text, coordinates as numbers);
    - ``customers_marketing_truth.csv`` (UTF-8, for tests): per customer its village and
      township codes, the archive's address variant, the export variant
      (``MARKETING_VARIANTS``), what the address lets a reader tell (``expected_status``:
      ``village``, ``town`` or ``ambiguous``), the kind of its phone and a note.

    The addresses are the archive's, rewritten for some rows by the export's own random
    stream (``MARKETING_SHARES`` among the rows each fits): about 3 % in traditional
    characters, about 5 % with a phone number (a tenth of them an ID number) in front, between
    township and village or at the end, often with a label (电话, 联系人) and a name;
    county-seat customers written with 县城 / 城关镇 / 城区 instead of the township (a
    community's namesake street, the village, or a generated street that tells only the
    township); house numbers as 12-3号, 18弄3号, 5栋2单元301室; and a few rows for the
    silent-guess rules (a stem shared by a 村 and a 社区 of one township, a look-alike village
    of another township, a misspelt name two townships hold). The phone column holds mobiles,
    landlines with the city's area code, empty cells and a few malformed numbers.

    Everything is drawn from its own stream seeded by ``seed`` and the county's adcode, after
    the sample is generated: the sample's files do not change. The same sample and seed give
    byte-identical files.

    Parameters
    ----------
    sample
        A county from :func:`generate_county` or :func:`load_sample`.
    out_dir
        The folder; created if missing. Existing files of these names are replaced.
    seed
        Seed of the export's stream (default: the sample's seed).

    Returns
    -------
    dict
        Paths by key of ``MARKETING_FILES``.

    Raises
    ------
    InputError
        If ``seed`` is not a non-negative integer, or a name cannot be written in GBK.
    """
    import csv as _csv
    import io as _io

    import openpyxl
    from openpyxl.styles import Alignment, Font

    seed = sample.seed if seed is None else seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        msg = f"`seed` must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    table, truth, county_name = _marketing_table(sample, int(seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in MARKETING_FILES.items()}
    title = f"{county_name}供电公司客户资料"
    date_line = f"导出日期：{MARKETING_EXPORT_DATE}"
    width = len(MARKETING_COLUMNS)

    buf = _io.StringIO()
    writer = _csv.writer(buf, lineterminator="\r\n")
    writer.writerow([title] + [""] * (width - 1))
    writer.writerow([date_line] + [""] * (width - 1))
    writer.writerow(MARKETING_COLUMNS)
    for row in table.itertuples(index=False, name=None):
        writer.writerow([_text_cell(v) for v in row])
    try:
        data = buf.getvalue().encode("gbk")
    except UnicodeEncodeError as exc:
        bad = buf.getvalue()[exc.start : exc.end]
        msg = f"{bad!r} cannot be written in GBK, the marketing export's encoding"
        raise InputError(msg) from exc
    paths["csv"].write_bytes(data)

    book = openpyxl.Workbook()
    cover = book.active
    cover.title = MARKETING_COVER_SHEET
    for line in (
        [title],
        ["导出日期", MARKETING_EXPORT_DATE],
        ["记录数", len(table)],
        ["数据所在工作表", MARKETING_DATA_SHEET],
        ["经度/纬度", "GCJ-02（高德），见“坐标系”列"],
        ["说明", f"样例数据，由 gridgeo.sample 生成（seed {int(seed)}）/ generated sample data"],
    ):
        cover.append(line)
    cover["A1"].font = Font(bold=True, size=14)
    sheet = book.create_sheet(MARKETING_DATA_SHEET)
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([date_line])
    sheet.append(list(MARKETING_COLUMNS))
    for row in table.itertuples(index=False, name=None):
        sheet.append(
            [
                None if isinstance(v, float) and not np.isfinite(v) else (v if v != "" else None)
                for v in row
            ]
        )
    for cells in sheet.iter_rows(min_row=4, min_col=1, max_col=1):
        for cell in cells:
            cell.number_format = "@"
    raw = _io.BytesIO()
    book.save(raw)
    _fixed_zip(raw.getvalue(), paths["xlsx"])

    truth.to_csv(paths["truth"], index=False, lineterminator="\n", encoding="utf-8")
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
    gpkg_name = OUTPUT_GPKG
    if (folder / OUTPUT_META).is_file():
        try:
            gpkg_name = str(
                json.loads((folder / OUTPUT_META).read_text(encoding="utf-8")).get(
                    "gpkg", OUTPUT_GPKG
                )
            )
        except (OSError, ValueError, AttributeError) as exc:
            msg = f"cannot read the sample in {str(folder)!r}: {exc}"
            raise CorruptFileError(msg) from exc
    files = [
        folder / gpkg_name,
        folder / OUTPUT_CUSTOMERS,
        folder / OUTPUT_TRUTH,
        folder / OUTPUT_META,
    ]
    for f in files:
        if not f.is_file():
            msg = (
                f"sample file {str(f)!r} not found: pass the folder written by write_sample, or "
                "regenerate it with `gridgeo sample generate --out DIR`"
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
