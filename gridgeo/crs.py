"""Datums, coordinate reference systems and coordinate checks.

Chinese map services publish coordinates in two obfuscated datums: GCJ-02
("Mars coordinates", Amap, Tencent, DataV boundaries) and BD-09 (Baidu). Both
are plain lon/lat numbers that look like EPSG:4326 but sit a few hundred metres
off true WGS84 (300-600 m around Nanfeng). This module converts them to WGS84
with vectorised numpy code, picks a metric CRS for distance and area work, and
checks coordinates for swapped lon/lat and points outside China or an area.

The forward GCJ-02 transform is the published algorithm (the same constants as
the ``coordtransform`` / ``eviltransform`` libraries). The inverse has no closed
form, so it is solved by fixed-point iteration until the residual is below a
tolerance in metres (default 1 cm).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgeo.errors import CRSError

__all__ = [
    "DATUMS",
    "DATUM_ALIASES",
    "REASONS",
    "area_geometry",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_coordinates",
    "ensure_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "metric_crs",
    "normalise_datum",
    "to_wgs84",
    "to_wgs84_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

logger = logging.getLogger(__name__)

DATUMS = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Baidu's BD-09 rotation constant.
_BD_X_PI = np.pi * 3000.0 / 180.0
# The rectangle outside which GCJ-02 leaves coordinates unchanged (the
# standard "out of China" test of the published implementations).
_GCJ_LON_MIN, _GCJ_LON_MAX = 72.004, 137.8347
_GCJ_LAT_MIN, _GCJ_LAT_MAX = 0.8293, 55.8271

# Metres per degree of latitude, for turning iteration residuals into metres.
_M_PER_DEG = 111_320.0

DEFAULT_TOL_M = 0.01
DEFAULT_MAX_ITER = 30

DATUM_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "bd09ll": "bd09",
}


# --------------------------------------------------------------------------- #
# array helpers


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Float arrays of ``lon`` and ``lat`` and whether both inputs were scalars."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _out(x: np.ndarray, y: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(x), float(y)
    return x, y


# --------------------------------------------------------------------------- #
# GCJ-02


def _gcj_outside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x < _GCJ_LON_MIN) | (x > _GCJ_LON_MAX) | (y < _GCJ_LAT_MIN) | (y > _GCJ_LAT_MAX)


def _gcj_delta(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (degrees) to add to WGS84 ``x``, ``y``; zero outside China."""
    dx = x - 105.0
    dy = y - 35.0
    sqrt_abs_dx = np.sqrt(np.abs(dx))
    pi = np.pi
    common = (20.0 * np.sin(6.0 * dx * pi) + 20.0 * np.sin(2.0 * dx * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * sqrt_abs_dx
    dlat += common
    dlat += (20.0 * np.sin(dy * pi) + 40.0 * np.sin(dy / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(dy / 12.0 * pi) + 320.0 * np.sin(dy * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * sqrt_abs_dx
    dlon += common
    dlon += (20.0 * np.sin(dx * pi) + 40.0 * np.sin(dx / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(dx / 12.0 * pi) + 300.0 * np.sin(dx / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = y / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * pi)
    outside = _gcj_outside(x, y)
    dlon = np.where(outside, 0.0, dlon)
    dlat = np.where(outside, 0.0, dlat)
    return dlon, dlat


def _wgs84_to_gcj02(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_delta(x, y)
    return x + dlon, y + dlat


def _invert(
    forward: Any,
    tx: np.ndarray,
    ty: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    *,
    tol_m: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (tx, ty)`` by fixed-point iteration from ``x0, y0``.

    Both datum shifts are small, slowly varying offsets (their Jacobian is
    close to the identity), so ``p <- p - (forward(p) - target)`` converges
    geometrically; the loop runs over iterations, never over points.
    """
    x = x0.copy()
    y = y0.copy()
    cos_lat = np.cos(np.radians(np.clip(ty, -89.0, 89.0)))
    finite = np.isfinite(tx) & np.isfinite(ty)
    err_m = np.zeros_like(tx)
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        ex = fx - tx
        ey = fy - ty
        err_m = np.hypot(ex * cos_lat, ey) * _M_PER_DEG
        todo = finite & (err_m >= tol_m)
        if not todo.any():
            return x, y
        x = np.where(todo, x - ex, x)
        y = np.where(todo, y - ey, y)
    worst = float(np.nanmax(np.where(finite, err_m, np.nan))) if finite.any() else 0.0
    if worst >= tol_m:
        logger.warning(
            "datum inverse did not reach %.3g m after %d iterations (worst %.3g m)",
            tol_m,
            max_iter,
            worst,
        )
    return x, y


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 lon/lat to GCJ-02.

    Points outside the GCJ-02 rectangle (roughly 72.0-137.8 E, 0.8-55.8 N) are
    returned unchanged, as every published implementation does.

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees, scalars or array-likes of one
        shape. NaN passes through as NaN.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    return _out(*_wgs84_to_gcj02(x, y), scalar)


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tol_m: float = DEFAULT_TOL_M, max_iter: int = DEFAULT_MAX_ITER
) -> tuple[Any, Any]:
    """Convert GCJ-02 lon/lat to WGS84 by iterating the forward transform.

    Starts from the usual one-step approximation ``gcj - delta(gcj)`` (a few
    metres off) and refines it until ``wgs84_to_gcj02(result)`` lies within
    ``tol_m`` of the input; three or four iterations reach 1 mm.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees, scalars or array-likes.
    tol_m
        Stop when the forward image of every point is within this many metres
        of the input.
    max_iter
        Upper bound on iterations (a warning is logged if it is reached).

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    dlon, dlat = _gcj_delta(x, y)
    wx, wy = _invert(_wgs84_to_gcj02, x, y, x - dlon, y - dlat, tol_m=tol_m, max_iter=max_iter)
    return _out(wx, wy, scalar)


# --------------------------------------------------------------------------- #
# BD-09


def _gcj02_to_bd09(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_approx(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = x - 0.0065
    y = y - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 lon/lat to Baidu BD-09.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees, scalars or array-likes.

    Returns
    -------
    tuple
        BD-09 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    return _out(*_gcj02_to_bd09(x, y), scalar)


def bd09_to_gcj02(
    lon: Any, lat: Any, *, tol_m: float = DEFAULT_TOL_M, max_iter: int = DEFAULT_MAX_ITER
) -> tuple[Any, Any]:
    """Convert Baidu BD-09 lon/lat to GCJ-02.

    The published closed-form inverse is only approximate (errors of a few
    centimetres to decimetres), so it is used as the start of the same
    fixed-point iteration as :func:`gcj02_to_wgs84`.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees, scalars or array-likes.
    tol_m
        Target residual in metres.
    max_iter
        Upper bound on iterations.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = _bd09_to_gcj02_approx(x, y)
    gx, gy = _invert(_gcj02_to_bd09, x, y, gx, gy, tol_m=tol_m, max_iter=max_iter)
    return _out(gx, gy, scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 lon/lat to Baidu BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees, scalars or array-likes.

    Returns
    -------
    tuple
        BD-09 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    return _out(*_gcj02_to_bd09(*_wgs84_to_gcj02(x, y)), scalar)


def bd09_to_wgs84(
    lon: Any, lat: Any, *, tol_m: float = DEFAULT_TOL_M, max_iter: int = DEFAULT_MAX_ITER
) -> tuple[Any, Any]:
    """Convert Baidu BD-09 lon/lat to WGS84 (via GCJ-02, both steps iterated).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees, scalars or array-likes.
    tol_m
        Target residual in metres of each of the two steps.
    max_iter
        Upper bound on iterations of each step.

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``: floats for scalar input, else float arrays.
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = bd09_to_gcj02(x, y, tol_m=tol_m / 2, max_iter=max_iter)
    wx, wy = gcj02_to_wgs84(gx, gy, tol_m=tol_m / 2, max_iter=max_iter)
    return _out(np.asarray(wx, dtype=float), np.asarray(wy, dtype=float), scalar)


# --------------------------------------------------------------------------- #
# dispatch on a datum name


def normalise_datum(datum: Any) -> str:
    """The datum name of :data:`DATUMS` for ``datum`` or one of its :data:`DATUM_ALIASES`.

    Raises :class:`~gridgeo.errors.CRSError` naming the valid choices for an unknown datum.
    """
    key = str(datum).strip().lower() if datum is not None else ""
    if key in DATUM_ALIASES:
        return DATUM_ALIASES[key]
    msg = (
        f"Unknown `datum` {datum!r}: use one of {DATUMS!r} "
        "('wgs84' for GPS/OSM data, 'gcj02' for Amap/Tencent, 'bd09' for Baidu)."
    )
    raise CRSError(msg)


def to_wgs84(lon: Any, lat: Any, datum: str) -> tuple[Any, Any]:
    """Convert lon/lat numbers given in ``datum`` to WGS84.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, scalars or array-likes.
    datum
        What the numbers really are: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``
        (case-insensitive; ``"GCJ-02"``, ``"BD-09"``, ``"WGS-84"`` also work).

    Returns
    -------
    tuple
        WGS84 ``(lon, lat)``: floats for scalar input, else float arrays.

    Raises
    ------
    CRSError
        If ``datum`` is not one of the known datums.
    """
    name = normalise_datum(datum)
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    x, y, scalar = _as_arrays(lon, lat)
    return _out(x.copy(), y.copy(), scalar)


def to_wgs84_geometry(geoms: Any, datum: str) -> Any:
    """Convert the coordinates of geometries given in ``datum`` to WGS84.

    Parameters
    ----------
    geoms
        A GeoDataFrame, GeoSeries, shapely geometry or array of geometries
        whose lon/lat numbers (EPSG:4326 axis order) are in ``datum``.
    datum
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (see :func:`to_wgs84`).

    Returns
    -------
    Same type as ``geoms``
        A new object with converted coordinates; the input is not modified
        and the index, columns and CRS are kept.
    """
    name = normalise_datum(datum)

    def convert(coords: np.ndarray) -> np.ndarray:
        if name == "wgs84" or len(coords) == 0:
            return coords
        x, y = to_wgs84(coords[:, 0], coords[:, 1], name)
        return np.column_stack([x, y])

    if (
        name != "wgs84"
        and isinstance(geoms, (gpd.GeoDataFrame, gpd.GeoSeries))
        and geoms.crs is not None
        and not geoms.crs.is_geographic
    ):
        msg = (
            f"`geoms` are in projected CRS {geoms.crs.name!r}, but datum {name!r} applies to "
            "lon/lat degrees: reproject them to EPSG:4326 first (geoms.to_crs(4326))."
        )
        raise CRSError(msg)
    if isinstance(geoms, gpd.GeoDataFrame):
        out = geoms.copy()
        geom_col = out.geometry.name
        out[geom_col] = to_wgs84_geometry(out.geometry, name)
        return out
    if isinstance(geoms, gpd.GeoSeries):
        values = shapely.transform(np.asarray(geoms.values, dtype=object), convert)
        return gpd.GeoSeries(values, index=geoms.index, crs=geoms.crs, name=geoms.name)
    if isinstance(geoms, shapely.Geometry):
        return shapely.transform(geoms, convert)
    return shapely.transform(np.asarray(geoms, dtype=object), convert)


# --------------------------------------------------------------------------- #
# metric CRS

# CGCS2000 3-degree Gauss-Krüger zones with the central meridian in the name
# and no zone prefix in the easting: EPSG:4534 (CM 75E) .. EPSG:4554 (CM 135E).
_GK_EPSG_FIRST = 4534
_GK_CM_FIRST = 75
_GK_CM_LAST = 135
# GK is chosen when the centre lies within the zones' combined extent and in
# the latitudes of China; anywhere else (the OSM test beds in Europe) UTM.
_GK_LON_MIN = _GK_CM_FIRST - 1.5
_GK_LON_MAX = _GK_CM_LAST + 1.5
_GK_LAT_MIN, _GK_LAT_MAX = 0.0, 56.0
METRIC_KINDS = ("gk", "utm")


def _centre_lonlat(data: Any) -> tuple[float, float]:
    """Centre (lon, lat) of the bounding box of ``data`` in EPSG:4326."""
    if isinstance(data, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if data.crs is None:
            msg = (
                "`data` has no CRS, so no metric CRS can be chosen: set the CRS "
                "(e.g. gdf.set_crs('EPSG:4326'))."
            )
            raise CRSError(msg)
        bounds = np.asarray(data.total_bounds, dtype=float)
        if np.all(np.isfinite(bounds)) and not data.crs.equals(pyproj.CRS.from_epsg(4326)):
            to_4326 = pyproj.Transformer.from_crs(data.crs, 4326, always_xy=True)
            bounds = np.asarray(to_4326.transform_bounds(*bounds), dtype=float)
    elif isinstance(data, shapely.Geometry):
        bounds = np.asarray(data.bounds, dtype=float)
    else:
        bounds = np.asarray(data, dtype=float).ravel()
        if bounds.size == 2:
            bounds = np.concatenate([bounds, bounds])
        if bounds.size != 4:
            msg = (
                f"`data` {data!r} is not a GeoDataFrame, GeoSeries, geometry, (lon, lat) "
                "or (minx, miny, maxx, maxy) bounds tuple."
            )
            raise CRSError(msg)
    if not np.all(np.isfinite(bounds)):
        msg = "`data` is empty or has no finite coordinates: cannot choose a metric CRS."
        raise CRSError(msg)
    lon = (bounds[0] + bounds[2]) / 2.0
    lat = (bounds[1] + bounds[3]) / 2.0
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        msg = (
            f"Centre of `data` ({lon!r}, {lat!r}) is not a lon/lat in degrees: "
            "reproject the data to EPSG:4326 first."
        )
        raise CRSError(msg)
    return float(lon), float(lat)


def metric_crs(data: Any, *, kind: str = "gk") -> pyproj.CRS:
    """Choose a metric CRS for data in EPSG:4326.

    ``kind="gk"`` gives the CGCS2000 3-degree Gauss-Krüger zone whose central
    meridian (a multiple of 3°) is nearest to the centre longitude, e.g.
    EPSG:4548 "CGCS2000 / 3-degree Gauss-Kruger CM 117E" for Nanfeng (116.5 E).
    Those zones exist for 75-135 E only: when the centre lies outside
    73.5-136.5 E or 0-56 N (not China), the UTM zone is returned instead
    and a log line says so. ``kind="utm"`` gives the WGS84 UTM zone north
    (EPSG:326xx) or south (EPSG:327xx) of the centre, without the
    Norway/Svalbard exceptions.

    The centre is the centre of the bounding box of ``data``.

    Parameters
    ----------
    data
        GeoDataFrame or GeoSeries (any CRS, reprojected to EPSG:4326 for the
        choice), a shapely geometry in EPSG:4326, a ``(lon, lat)`` pair or a
        ``(minx, miny, maxx, maxy)`` bounds tuple in EPSG:4326.
    kind
        ``"gk"`` or ``"utm"``.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        If a GeoDataFrame/GeoSeries has no CRS, ``data`` is empty, or ``kind``
        is unknown.
    """
    if kind not in METRIC_KINDS:
        msg = f"Unknown `kind` {kind!r}: use one of {METRIC_KINDS!r}."
        raise CRSError(msg)
    lon, lat = _centre_lonlat(data)
    if kind == "gk":
        if _GK_LON_MIN <= lon < _GK_LON_MAX and _GK_LAT_MIN <= lat <= _GK_LAT_MAX:
            cm = int(np.floor(lon / 3.0 + 0.5)) * 3
            cm = min(max(cm, _GK_CM_FIRST), _GK_CM_LAST)
            return pyproj.CRS.from_epsg(_GK_EPSG_FIRST + (cm - _GK_CM_FIRST) // 3)
        logger.info(
            "centre (%.4f, %.4f) is outside the CGCS2000 Gauss-Krüger zones; using UTM",
            lon,
            lat,
        )
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


# --------------------------------------------------------------------------- #
# CRS of a GeoDataFrame


def ensure_crs(gdf: gpd.GeoDataFrame, *, source: str = "input") -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in EPSG:4326, refusing data without a CRS.

    Parameters
    ----------
    gdf
        The GeoDataFrame to check.
    source
        What the data is (a file name, a layer), used in the error message.

    Returns
    -------
    geopandas.GeoDataFrame
        A reprojected copy (a plain copy if it already is EPSG:4326).

    Raises
    ------
    CRSError
        If ``gdf.crs`` is None.
    """
    if gdf.crs is None:
        msg = (
            f"{source} has no CRS: gridgeo never guesses one. Set the CRS "
            "(e.g. gdf.set_crs('EPSG:4326')) or pass the datum "
            f"(one of {DATUMS!r}) the lon/lat numbers are in."
        )
        raise CRSError(msg)
    if gdf.crs.equals(pyproj.CRS.from_epsg(4326)):
        return gdf.copy()
    return gdf.to_crs(4326)


# --------------------------------------------------------------------------- #
# coordinate checks

# A coarse outline of China (79 vertices, mainland + Hainan + Taiwan), derived
# for gridgeo as the concave hull (shapely ratio 0.08) of 16,048 GeoNames
# populated places in China (CC BY 4.0, geonames.org) and 31,060 OSM
# substations in China (© OpenStreetMap contributors, ODbL), buffered by 0.3°
# (~30 km) and simplified at 0.2°, rounded to 0.01°. It is honest at country
# scale (Paris, Seoul, Hanoi, Ulaanbaatar, Delhi, Kathmandu are out; Kashgar,
# Mohe, Sanya, Hong Kong, Taipei are in) but not at the border: towns within
# ~30-60 km of it (Blagoveshchensk, Lao Cai, Zamyn-Üüd, Thimphu) count as in,
# and coastal seas are in. The South China Sea islands are left out.
# fmt: off
_CHINA_OUTLINE_LONLAT = (
    (74.81, 37.89), (75.31, 36.50), (77.79, 37.00), (78.96, 35.82), (78.50, 33.57),
    (78.78, 31.38), (81.08, 29.99), (83.37, 29.76), (85.87, 27.68), (88.97, 27.19),
    (91.25, 27.87), (91.90, 27.57), (95.31, 29.00), (97.28, 28.40), (98.52, 26.88),
    (97.17, 24.36), (98.99, 21.96), (100.32, 21.14), (101.79, 20.88), (104.34, 22.41),
    (106.64, 21.81), (107.72, 21.32), (108.42, 18.30), (109.65, 17.92), (110.63, 18.52),
    (112.95, 21.38), (116.60, 22.67), (117.49, 23.30), (119.42, 23.27), (120.77, 21.43),
    (121.64, 22.98), (122.25, 25.16), (121.83, 25.48), (120.97, 27.36), (121.89, 28.22),
    (123.14, 30.80), (120.77, 33.86), (120.96, 35.95), (122.80, 36.83), (123.43, 38.88),
    (124.33, 39.59), (126.08, 40.61), (128.20, 41.08), (130.65, 42.39), (133.88, 45.67),
    (135.13, 48.60), (134.26, 48.67), (132.93, 48.25), (130.65, 49.08), (127.55, 50.77),
    (126.24, 53.04), (123.95, 53.79), (121.28, 53.61), (119.46, 51.26), (117.09, 49.95),
    (115.54, 48.26), (115.96, 45.88), (114.71, 45.23), (112.10, 45.00), (110.39, 43.11),
    (108.34, 42.52), (107.51, 42.82), (106.20, 41.88), (102.18, 42.18), (101.31, 42.87),
    (100.39, 42.36), (96.50, 42.69), (95.05, 44.16), (92.45, 45.09), (89.96, 47.49),
    (87.49, 48.88), (85.97, 48.62), (82.79, 46.99), (80.18, 44.55), (80.23, 43.68),
    (79.38, 41.78), (77.50, 41.03), (75.32, 40.89), (73.45, 39.70),
)
# fmt: on
_china_polygon: shapely.Polygon | None = None

REASONS = (
    "ok",
    "missing",
    "not_a_number",
    "swapped_lonlat",
    "outside_china",
    "outside_area",
)
DEFAULT_MAX_DISTANCE_M = 0.0


def _china() -> shapely.Polygon:
    global _china_polygon  # built once on first use, then read-only
    if _china_polygon is None:
        poly = shapely.Polygon(_CHINA_OUTLINE_LONLAT)
        shapely.prepare(poly)
        _china_polygon = poly
    return _china_polygon


def in_china(lon: Any, lat: Any) -> Any:
    """Whether lon/lat points (WGS84 or GCJ-02 degrees) lie in China.

    A coarse test against an embedded 79-vertex outline of China (mainland,
    Hainan and Taiwan, buffered by about 30 km; see ``_CHINA_OUTLINE_LONLAT``
    for its source). Better than a bounding box -- Mongolia, Korea, Japan,
    Vietnam, India and Central Asia are outside -- but places within ~30-60 km
    of the border may count as inside, and coastal waters are inside.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, scalars or array-likes.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the input (a bool for scalar input); NaN gives False.
    """
    x, y, scalar = _as_arrays(lon, lat)
    inside = shapely.contains_xy(_china(), x, y)
    return bool(inside) if scalar else np.asarray(inside, dtype=bool)


def _parse_numbers(values: Any, index: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats, missing mask and not-a-number mask of lon or lat values."""
    s = pd.Series(values, index=index) if not isinstance(values, pd.Series) else values
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        stripped = s.astype("string").str.strip()
        missing = (s.isna() | (stripped == "")).to_numpy(dtype=bool, na_value=True)
        num = pd.to_numeric(stripped.where(~missing), errors="coerce")
    else:
        missing = s.isna().to_numpy(dtype=bool)
        num = pd.to_numeric(s, errors="coerce")
    arr = num.to_numpy(dtype=float, na_value=np.nan)
    bad = ~missing & ~np.isfinite(arr)
    return np.where(bad, np.nan, arr), missing, bad


def check_coordinates(
    lon: Any,
    lat: Any,
    *,
    area: shapely.Geometry | None = None,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
) -> pd.DataFrame:
    """Check lon/lat values row by row and say what is wrong with each.

    Nothing is fixed silently: a row whose numbers make sense only with lon
    and lat exchanged is reported as ``"swapped_lonlat"`` with the exchanged
    pair in ``suggested_lon``/``suggested_lat``, and its ``lon``/``lat`` stay
    as given.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees: pandas Series (their index is
        kept), arrays, lists or scalars. Strings are parsed as numbers.
    area
        Optional polygon in EPSG:4326 (e.g. the county), or a GeoDataFrame /
        GeoSeries with a CRS whose geometries are merged. Points farther than
        ``max_distance_m`` from it are ``"outside_area"``; without it, points
        are checked against China only.
    max_distance_m
        Tolerance around ``area`` in metres (measured in the metric CRS of
        :func:`metric_crs`).

    Returns
    -------
    pandas.DataFrame
        One row per input row with columns ``lon``, ``lat`` (parsed floats,
        NaN when unusable), ``reason`` (one of ``REASONS``: ``"ok"``,
        ``"missing"``, ``"not_a_number"``, ``"swapped_lonlat"``,
        ``"outside_china"``, ``"outside_area"``), ``suggested_lon``,
        ``suggested_lat`` (set for swapped rows only) and ``distance_m`` (to
        ``area``; NaN without an area or for unusable rows).
    """
    if isinstance(lon, pd.Series):
        index = lon.index
    elif isinstance(lat, pd.Series):
        index = lat.index
    else:
        index = pd.RangeIndex(int(np.size(lon)))
    lon_v = lon if isinstance(lon, pd.Series) else np.atleast_1d(np.asarray(lon, dtype=object))
    lat_v = lat if isinstance(lat, pd.Series) else np.atleast_1d(np.asarray(lat, dtype=object))
    if len(lon_v) != len(lat_v):
        msg = f"`lon` has {len(lon_v)} values but `lat` has {len(lat_v)}: pass one of each per row."
        raise CRSError(msg)
    x, x_missing, x_bad = _parse_numbers(lon_v, index)
    y, y_missing, y_bad = _parse_numbers(lat_v, index)
    missing = x_missing | y_missing
    bad = ~missing & (x_bad | y_bad)
    usable = ~missing & ~bad
    in_range = usable & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
    swap_range = usable & (np.abs(y) <= 180.0) & (np.abs(x) <= 90.0)

    china = in_range & shapely.contains_xy(_china(), x, y)
    china_swapped = swap_range & shapely.contains_xy(_china(), y, x)
    distance_m = np.full(len(x), np.nan)
    if area is None:
        inside = china
        inside_swapped = china_swapped
        area_in_china = True
    else:
        area = area_geometry(area)
        inside, distance_m = _within_area(area, x, y, in_range, max_distance_m)
        inside_swapped, _ = _within_area(area, y, x, swap_range & ~inside, max_distance_m)
        c = shapely.centroid(area)
        area_in_china = bool(in_china(c.x, c.y))

    reason = np.full(len(x), "outside_china", dtype=object)
    if not area_in_china:
        reason[:] = "outside_area"
    reason[china & ~inside] = "outside_area"
    swapped = usable & ~inside & inside_swapped
    reason[swapped] = "swapped_lonlat"
    reason[inside] = "ok"
    reason[bad] = "not_a_number"
    reason[missing] = "missing"
    return pd.DataFrame(
        {
            "lon": x,
            "lat": y,
            "reason": reason,
            "suggested_lon": np.where(swapped, y, np.nan),
            "suggested_lat": np.where(swapped, x, np.nan),
            "distance_m": distance_m,
        },
        index=index,
    )


def area_geometry(area: Any) -> shapely.Geometry:
    """One shapely geometry in EPSG:4326 from ``area``."""
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        geo = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        geo = ensure_crs(gpd.GeoDataFrame(geometry=geo), source="`area`").geometry
        area = geo.union_all()
    if not isinstance(area, shapely.Geometry) or area.is_empty:
        msg = f"`area` must be a non-empty shapely geometry in EPSG:4326, got {area!r}."
        raise CRSError(msg)
    return area


def _within_area(
    area: shapely.Geometry,
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    max_distance_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which masked points lie within ``max_distance_m`` of ``area``, and how far."""
    distance_m = np.full(len(x), np.nan)
    covered = np.zeros(len(x), dtype=bool)
    covered[mask] = shapely.intersects_xy(area, x[mask], y[mask])
    distance_m[covered] = 0.0
    far = mask & ~covered
    if far.any():
        crs = metric_crs(area)
        to_metric = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        area_m = shapely.transform(area, lambda c: np.column_stack(to_metric.transform(*c.T)))
        px, py = to_metric.transform(x[far], y[far])
        distance_m[far] = shapely.distance(area_m, shapely.points(px, py))
    inside = mask & (distance_m <= max_distance_m)
    return inside, distance_m
