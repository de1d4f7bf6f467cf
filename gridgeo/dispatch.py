"""Repair dispatch (抢修调度): the nearest repair station by travel time for one fault.

A fault is located by a map point, a customer number or an address. Every repair station gets
its driving time to the fault (station → fault on the directed drive graph: one-way roads count),
the quickest is chosen, and its route is drawn along the roads.

Method
------
The fault is snapped to the road graph the way :class:`~gridgeo.routing.ReachEngine` snaps
customers (nearest point of the nearest edge, off-road leg walked). Every station's time to it
comes from one of two searches with the same answers (tested against each other and against
NetworkX):

- **from labels** (``labels=``, :class:`~gridgeo.routing.StationLabels`): each station's
  travel time to every node, computed once per engine and set of stations (one search per
  station); a fault is then a snap and array look-ups, about half a millisecond on a
  10^6-node county (``benchmarks/bench_dispatch.py``). The service and the CLI use labels;
- **per query** (no ``labels``): one Dijkstra search on the transposed graph from the fault
  (:func:`~gridgeo.routing.times_to_point`), cheaper than building labels for a single fault
  (one search instead of one per station), hundreds of milliseconds on a 10^6-node county.

Either way a station's time is the least over the two ends of the fault's and the station's
snapped segments (plus the direct way when they share a segment), off-road legs at both ends
included: the partial-edge arithmetic of :func:`~gridgeo.routing.end_parts_s`. The route is
traced for the chosen station only, along the road segments, the partial segments at both ends
cut at the snapped fractions.

Availability
------------
Stations named in ``unavailable`` (out of service, crews busy) and stations with ``crews`` = 0
are not chosen; the quickest *available* station is. Every station is still listed with its
time and an ``available`` flag.

Reasons
-------
The result and every station option carry one of :data:`DISPATCH_REASONS`: ``ok`` (reached
within the limit), ``over_limit`` (reached later), ``too_far_from_road`` (the fault, or for an
option the station, is farther than ``max_snap_m`` from every road), ``isolated_road_piece`` (the
fault is on a small road piece no station reaches), ``unreachable`` (on the main network, but
no way along the directed roads), ``outside_county`` (with ``county``: the fault lies farther
than ``county_tolerance_m`` outside the county, which the company does not serve; no station is
dispatched) and, for the result only, ``no_station_available`` (stations reach the fault, but
none of them is available).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo._validate import as_geoseries, check_ids, check_positive
from gridgeo.crs import area_geometry, check_coordinates, metric_crs, to_wgs84
from gridgeo.errors import CoordinateError, DuplicateIdError, InputError, NotFoundError
from gridgeo.geocode import Gazetteer, geocode_addresses
from gridgeo.reach import DEFAULT_REPAIR_LIMIT_S
from gridgeo.routing import (
    ReachEngine,
    StationLabels,
    reason_code,
    route_line,
    times_to_point,
)
from gridgeo.settings import CRS

__all__ = [
    "DEFAULT_CUSTOMER_ID_COLUMN",
    "DEFAULT_DISPATCH_LIMIT_S",
    "DISPATCH_REASONS",
    "FAULT_SOURCES",
    "DispatchResult",
    "Fault",
    "dispatch",
]

logger = logging.getLogger(__name__)

DISPATCH_REASONS = (
    "ok",
    "over_limit",
    "too_far_from_road",
    "isolated_road_piece",
    "unreachable",
    "outside_county",
    "no_station_available",
)
FAULT_SOURCES = ("point", "customer", "address")
DEFAULT_DISPATCH_LIMIT_S = DEFAULT_REPAIR_LIMIT_S
DEFAULT_CUSTOMER_ID_COLUMN = "customer_id"
# A fault up to this far outside the county polygon is still the county's (boundary
# generalisation, a pick on the county line).
DEFAULT_COUNTY_TOLERANCE_M = 500.0


_GEOCODE_REASON_ZH = {
    "no_village_name": "地址中没有村名",
    "unknown_village": "地址中的村名不在本县地名库中",
    "village_in_other_town": "村名属于另一个乡镇",
    "ambiguous": "村名有重名，无法确定是哪一个",
    "county_only": "地址只到县级",
    "other_county": "地址属于其他县",
    "no_admin_name": "地址中没有可识别的行政区名",
    "empty_address": "地址为空",
    "low_confidence": "匹配置信度过低",
}


@dataclass(frozen=True)
class Fault:
    """Where the fault is.

    Attributes
    ----------
    lon, lat
        WGS84 position of the fault.
    located_by
        One of :data:`FAULT_SOURCES`: ``"point"``, ``"customer"`` or ``"address"``.
    match_level
        For an address: the geocoder's match level (``"village"`` or ``"town"``); else None.
    """

    lon: float
    lat: float
    located_by: str
    match_level: str | None = None


@dataclass(frozen=True)
class DispatchResult:
    """The answer of :func:`dispatch`.

    Attributes
    ----------
    fault
        The located fault.
    options
        One row per station, quickest first (stations without a time last, in input order):
        station id column, ``name``, ``crews``, ``eta_s`` (NaN where none), ``within_limit``,
        ``reason`` (one of :data:`DISPATCH_REASONS`) and ``available`` (may be chosen: not in
        ``unavailable`` and ``crews`` not 0).
    station_id
        Id of the quickest available station; None when no available station reaches the
        fault.
    eta_s
        Its driving time to the fault, off-road legs included (NaN when none).
    within_limit
        Whether the promise (``limit_s``, 30 minutes by default) holds.
    reason
        One of :data:`DISPATCH_REASONS`.
    route
        EPSG:4326 GeoDataFrame of one LineString from the station's point on the road to the
        fault's point on the road (columns ``station_id``, ``eta_s``, ``route_km``); None when
        no station reaches the fault.
    route_km
        Length of the route along the roads (off-road legs excluded); NaN when none.
    """

    fault: Fault
    options: pd.DataFrame
    station_id: Any
    eta_s: float
    within_limit: bool
    reason: str
    route: gpd.GeoDataFrame | None
    route_km: float


# --------------------------------------------------------------------------- locating


def _fault_from_point(point: Any, datum: str) -> Fault:
    try:
        lon, lat = (float(v) for v in point)
    except (TypeError, ValueError) as exc:
        msg = f"`point` must be a (lon, lat) pair of numbers, got {point!r}"
        raise InputError(msg) from exc
    check = check_coordinates(lon, lat).iloc[0]
    if check["reason"] == "swapped_lonlat":
        msg = (
            f"`point`={point!r} looks like (lat, lon): the numbers make sense only exchanged; "
            f"pass (lon, lat) = ({float(check['suggested_lon']):g}, "
            f"{float(check['suggested_lat']):g}) "
            "（经纬度顺序颠倒，请按经度、纬度的顺序输入）"
        )
        raise CoordinateError(msg)
    if check["reason"] != "ok":
        msg = (
            f"`point`={point!r} is not a usable position in China ({check['reason']}); "
            "pass (lon, lat) in degrees（坐标无效或不在中国境内）"
        )
        raise CoordinateError(msg)
    wlon, wlat = to_wgs84(lon, lat, datum)
    return Fault(lon=float(wlon), lat=float(wlat), located_by="point")


def _fault_from_customer(customer_id: Any, customers: Any, column: str) -> Fault:
    if not isinstance(customers, gpd.GeoDataFrame):
        msg = (
            "`customers` (a GeoDataFrame with a "
            f"{column!r} column) is needed with `customer_id`, got {type(customers).__name__}"
        )
        raise InputError(msg)
    series = as_geoseries(customers, "customers")
    if column not in customers.columns:
        msg = (
            f"`customers` has no column {column!r} (columns: {list(customers.columns)!r}); "
            "pass the id column as `customer_id_column`"
        )
        raise InputError(msg)
    hit = np.flatnonzero((customers[column].astype(str) == str(customer_id)).to_numpy())
    if len(hit) == 0:
        msg = (
            f"customer {customer_id!r} is not in `customers` column {column!r}（未找到该客户编号）"
        )
        raise NotFoundError(msg)
    if len(hit) > 1:
        msg = (
            f"customer {customer_id!r} appears {len(hit)} times in `customers`; ids must be unique"
        )
        raise DuplicateIdError(msg)
    geom = series.iloc[[int(hit[0])]].to_crs(CRS).iloc[0]
    if geom is None or geom.is_empty:
        msg = (
            f"customer {customer_id!r} has no position (not geocoded); "
            "locate the fault with `point` or `address` instead（该客户没有坐标）"
        )
        raise InputError(msg)
    return Fault(lon=float(geom.x), lat=float(geom.y), located_by="customer")


def _fault_from_address(address: Any, gazetteer: Any) -> Fault:
    if not isinstance(gazetteer, Gazetteer):
        msg = f"`gazetteer` (a Gazetteer) is needed with `address`, got {type(gazetteer).__name__}"
        raise InputError(msg)
    row = geocode_addresses(pd.Series([address], dtype=object), gazetteer).iloc[0]
    reason = str(row["reason"])
    lon, lat = float(row["lon"]), float(row["lat"])
    if reason == "ambiguous" or not (math.isfinite(lon) and math.isfinite(lat)):
        zh = _GEOCODE_REASON_ZH.get(reason, reason)
        msg = f"`address`={address!r} cannot be located: {reason} ({zh})"
        candidates = row.get("candidates")
        if isinstance(candidates, str) and candidates:
            msg += f"; candidates: {candidates.replace('|', ', ')}"
        msg += "; add the township and village (乡镇+村), or pass `point` or `customer_id`"
        raise InputError(msg)
    level = str(row["match_level"])
    if level != "village":
        warnings.warn(
            f"`address`={address!r} was located only at {level} level ({reason}); the ETA is "
            "to that point, not to the fault（地址只定位到乡镇，结果仅供参考）",
            stacklevel=3,
        )
    return Fault(lon=lon, lat=lat, located_by="address", match_level=level)


# --------------------------------------------------------------------------- route


# --------------------------------------------------------------------------- dispatch


def dispatch(
    engine: ReachEngine,
    stations: gpd.GeoDataFrame,
    *,
    point: Sequence[float] | None = None,
    datum: str = "wgs84",
    customer_id: Any = None,
    customers: gpd.GeoDataFrame | None = None,
    address: str | None = None,
    gazetteer: Gazetteer | None = None,
    limit_s: float = DEFAULT_DISPATCH_LIMIT_S,
    station_id_column: str = "station_id",
    customer_id_column: str = DEFAULT_CUSTOMER_ID_COLUMN,
    labels: StationLabels | None = None,
    unavailable: Iterable[Any] = (),
    county: Any = None,
    county_tolerance_m: float = DEFAULT_COUNTY_TOLERANCE_M,
) -> DispatchResult:
    """
    The nearest available repair station by driving time to a fault, its ETA and its route.

    Parameters
    ----------
    engine
        The engine of the drive graph.
    stations
        Repair stations with an id column; ``name`` and ``crews`` are reported when present.
    point
        The fault as ``(lon, lat)`` in ``datum``.
    datum
        Datum of ``point``: ``"wgs84"``, ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu).
    customer_id
        The fault at this customer's position (needs ``customers``).
    customers
        Customers with ``customer_id_column`` and point geometries.
    address
        The fault at this address, located with ``gazetteer``.
    gazetteer
        The county's gazetteer.
    limit_s
        The promise, seconds (default 30 minutes).
    station_id_column
        Station id column.
    customer_id_column
        Customer id column of ``customers``.
    labels
        ``StationLabels(engine, stations)``, built once and reused for every fault: the
        station times are then look-ups. Without, one search from the fault (the same
        answers; see the module docstring).
    unavailable
        Ids of stations that may not be chosen (out of service, crews busy); stations with
        ``crews`` = 0 are not available either.
    county
        The county polygon (GeoDataFrame, GeoSeries or EPSG:4326 geometry). A fault farther
        than ``county_tolerance_m`` outside it gets reason ``outside_county`` (result and
        every option) and no station; without ``county`` it is not checked.
    county_tolerance_m
        Metres outside the county polygon that still count as inside.

    Returns
    -------
    DispatchResult
        The fault, every station's option, the best available station, its ETA, whether the
        promise holds, the reason and the route.

    Raises
    ------
    InputError
        If not exactly one of ``point``, ``customer_id``, ``address`` is given, a needed table
        is missing, the address cannot be located (the geocoder's reason, candidates of an
        ambiguous village name), ``unavailable`` names an unknown station, ``labels`` were
        built on another engine or for other stations, or ``county_tolerance_m`` is negative.
    CoordinateError
        If ``point`` is not a position in China (e.g. lat and lon exchanged).
    NotFoundError
        If ``customer_id`` is not in ``customers``.
    """
    if not isinstance(engine, ReachEngine):
        msg = f"`engine` must be a ReachEngine, got {type(engine).__name__}; build one from G"
        raise InputError(msg)
    given = [
        name
        for name, value in (("point", point), ("customer_id", customer_id), ("address", address))
        if value is not None
    ]
    if len(given) != 1:
        msg = (
            "pass exactly one of `point`, `customer_id`, `address` to locate the fault, "
            f"got {given or 'none'!r}"
        )
        raise InputError(msg)
    limit_s = check_positive(limit_s, "limit_s")
    if not isinstance(stations, gpd.GeoDataFrame) or len(stations) == 0:
        msg = "`stations` must be a non-empty GeoDataFrame of repair stations"
        raise InputError(msg)
    ids = check_ids(stations, station_id_column, "stations")
    available = _availability(stations, ids, unavailable, station_id_column)
    if labels is not None:
        _check_labels(labels, engine, stations)

    if point is not None:
        fault = _fault_from_point(point, datum)
    elif customer_id is not None:
        fault = _fault_from_customer(customer_id, customers, customer_id_column)
    else:
        fault = _fault_from_address(address, gazetteer)

    n_st = len(ids)
    if county is not None and _outside_county(fault, county, county_tolerance_m):
        logger.info("fault at (%.6f, %.6f): outside the county", *_ll(fault))
        options = pd.DataFrame(
            {
                station_id_column: ids,
                "name": _column(stations, "name"),
                "crews": _column(stations, "crews"),
                "eta_s": np.full(n_st, np.nan),
                "within_limit": np.zeros(n_st, dtype=bool),
                "reason": np.full(n_st, "outside_county", dtype=object),
                "available": available,
            },
            index=stations.index,
        )
        return DispatchResult(
            fault=fault,
            options=options,
            station_id=None,
            eta_s=math.nan,
            within_limit=False,
            reason="outside_county",
            route=None,
            route_km=math.nan,
        )
    flt = engine.snap_points(gpd.GeoSeries([shapely.Point(fault.lon, fault.lat)], crs=CRS), "fault")
    if labels is None:
        src = engine.snap_points(stations, "stations")
        eta, choice, pred = times_to_point(engine, src, flt)
    else:
        src = labels.snap
        times = labels.times_to_point(flt, available=available)
        eta = times.eta_s

    reached = np.isfinite(eta)
    if flt.seg[0] < 0:
        unreached = "too_far_from_road"
    elif flt.reason[0] == reason_code("isolated_road_piece"):
        unreached = "isolated_road_piece"
    else:
        unreached = "unreachable"
    reason = np.where(reached, np.where(eta <= limit_s, "ok", "over_limit"), unreached).astype(
        object
    )
    reason[(src.seg < 0) & (flt.seg[0] >= 0)] = "too_far_from_road"

    options = pd.DataFrame(
        {
            station_id_column: ids,
            "name": _column(stations, "name"),
            "crews": _column(stations, "crews"),
            "eta_s": np.where(reached, eta, np.nan),
            "within_limit": reached & (eta <= limit_s),
            "reason": reason,
            "available": available,
        },
        index=stations.index,
    )
    order = np.lexsort((np.arange(n_st), np.where(reached, eta, np.inf)))
    options = options.iloc[order]

    # the quickest available station (ties: the first in input order)
    chosen = order[(reached & available)[order]]
    if len(chosen) == 0:
        why = "no_station_available" if reached.any() else unreached
        logger.info("fault at (%.6f, %.6f): no station dispatched (%s)", *_ll(fault), why)
        return DispatchResult(
            fault=fault,
            options=options,
            station_id=None,
            eta_s=math.nan,
            within_limit=False,
            reason=why,
            route=None,
            route_km=math.nan,
        )

    k = int(chosen[0])
    if labels is None:
        assert pred is not None
        line_m = route_line(engine, src, k, flt, choice, pred)
    else:
        line_m = labels.route_line(times, k)
    route_km = float(line_m.length) / 1000.0
    line = engine.to_lonlat(np.array([line_m], dtype=object))
    best_eta = float(eta[k])
    route = gpd.GeoDataFrame(
        {station_id_column: [ids[k]], "eta_s": [best_eta], "route_km": [route_km]},
        geometry=line,
        crs=CRS,
    )
    logger.info("fault dispatched to %r: %.0f s, %.2f km", ids[k], best_eta, route_km)
    return DispatchResult(
        fault=fault,
        options=options,
        station_id=ids[k],
        eta_s=best_eta,
        within_limit=bool(best_eta <= limit_s),
        reason=str(reason[k]),
        route=route,
        route_km=route_km,
    )


def _column(stations: gpd.GeoDataFrame, name: str) -> np.ndarray:
    if name in stations.columns:
        return stations[name].to_numpy()
    return np.full(len(stations), None, dtype=object)


def _outside_county(fault: Fault, county: Any, tolerance_m: float) -> bool:
    """Whether the fault lies farther than ``tolerance_m`` outside the county polygon."""
    tol = float(tolerance_m) if isinstance(tolerance_m, int | float) else math.nan
    if not (math.isfinite(tol) and tol >= 0):
        msg = f"`county_tolerance_m` must be a distance in metres >= 0, got {tolerance_m!r}"
        raise InputError(msg)
    area = area_geometry(county)
    point = shapely.Point(fault.lon, fault.lat)
    if area.covers(point):
        return False
    local = gpd.GeoSeries([area, point], crs=CRS).to_crs(metric_crs(area))
    return bool(local.iloc[0].distance(local.iloc[1]) > tol)


def _availability(
    stations: gpd.GeoDataFrame, ids: np.ndarray, unavailable: Any, column: str
) -> np.ndarray:
    """Which stations may be chosen: not named in ``unavailable``, ``crews`` not 0."""
    if isinstance(unavailable, str | bytes) or not isinstance(unavailable, Iterable):
        msg = (
            "`unavailable` must be a collection of station ids such as ['RS01', 'RS02'], "
            f"got {unavailable!r}"
        )
        raise InputError(msg)
    names = [str(u) for u in unavailable]
    keys = np.array([str(i) for i in ids], dtype=object)
    unknown = sorted(set(names) - set(keys))
    if unknown:
        shown = ", ".join(map(str, ids[:20])) + (", ..." if len(ids) > 20 else "")
        msg = (
            f"`unavailable` names station(s) {unknown!r} that are not in `stations` column "
            f"{column!r}; use the ids of the stations ({shown})（未找到该抢修站编号）"
        )
        raise InputError(msg)
    available = ~np.isin(keys, names)
    if "crews" in stations.columns:
        crews = pd.to_numeric(stations["crews"], errors="coerce").to_numpy(dtype=float)
        available &= ~(crews <= 0)  # no crew on duty; an unknown count (NaN) is not held against
    return available


def _check_labels(labels: Any, engine: ReachEngine, stations: gpd.GeoDataFrame) -> None:
    if not isinstance(labels, StationLabels):
        msg = (
            f"`labels` must be StationLabels, got {type(labels).__name__}; build them with "
            "`StationLabels(engine, stations)`"
        )
        raise InputError(msg)
    if labels.engine is not engine:
        msg = (
            "`labels` were built on another engine; build them with "
            "`StationLabels(engine, stations)` on this one"
        )
        raise InputError(msg)
    if not labels.built_for(stations):
        msg = (
            "`labels` were built for other stations (number or positions differ); rebuild "
            "them with `StationLabels(engine, stations)` when the stations change"
        )
        raise InputError(msg)


def _ll(fault: Fault) -> tuple[float, float]:
    return fault.lon, fault.lat
