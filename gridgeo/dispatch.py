"""Repair dispatch (抢修调度): the nearest repair station by travel time for one fault.

A fault is located by a map point, a customer number or an address. Every repair station gets
its driving time to the fault (station → fault on the directed drive graph: one-way roads count),
the quickest is chosen, and its route is drawn along the roads.

Method
------
The fault is snapped to the road graph the way :class:`~gridgeo.reach.ReachEngine` snaps
customers (nearest point of the nearest edge, off-road leg walked). **One** Dijkstra search on
the transposed graph from the fault gives every node's time *to* the fault; each station's time
is then the least over the two ends of its own snapped edge (plus the direct way when station and
fault share an edge), the off-road legs at both ends included: the same arithmetic as
:func:`~gridgeo.reach.repair_reach`. The search's predecessors give the route of the best
station; its geometry is the road edges' geometries, the partial edges at both ends cut at the
snapped fractions.

Reasons
-------
The result and every station option carry one of :data:`DISPATCH_REASONS`: ``ok`` (reached
within the limit), ``over_limit`` (reached later), ``too_far_from_road`` (the fault, or for an
option the station, is farther than ``max_snap_m`` from every road), ``isolated_road_piece`` (the
fault is on a small road piece no station reaches) and ``unreachable`` (on the main network, but
no way along the directed roads).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgeo._validate import as_geoseries, check_ids, check_positive
from gridgeo.crs import check_coordinates, to_wgs84
from gridgeo.errors import CoordinateError, DuplicateIdError, InputError, NotFoundError
from gridgeo.geocode import Gazetteer, geocode_addresses
from gridgeo.reach import DEFAULT_REPAIR_LIMIT_S
from gridgeo.routing import ReachEngine, reason_code, route_line, times_to_point
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

DISPATCH_REASONS = ("ok", "over_limit", "too_far_from_road", "isolated_road_piece", "unreachable")
FAULT_SOURCES = ("point", "customer", "address")
DEFAULT_DISPATCH_LIMIT_S = DEFAULT_REPAIR_LIMIT_S
DEFAULT_CUSTOMER_ID_COLUMN = "customer_id"


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
        station id column, ``name``, ``crews``, ``eta_s`` (NaN where none), ``within_limit``
        and ``reason`` (one of :data:`DISPATCH_REASONS`).
    station_id
        Id of the quickest station; None when no station reaches the fault.
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
) -> DispatchResult:
    """
    The nearest repair station by driving time to a fault, its ETA and its route.

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

    Returns
    -------
    DispatchResult
        The fault, every station's option, the best station, its ETA, whether the promise holds,
        the reason and the route.

    Raises
    ------
    InputError
        If not exactly one of ``point``, ``customer_id``, ``address`` is given, a needed table
        is missing, or the address cannot be located (the geocoder's reason, candidates of an
        ambiguous village name).
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

    if point is not None:
        fault = _fault_from_point(point, datum)
    elif customer_id is not None:
        fault = _fault_from_customer(customer_id, customers, customer_id_column)
    else:
        fault = _fault_from_address(address, gazetteer)

    src = engine.snap_points(stations, "stations")
    flt = engine.snap_points(gpd.GeoSeries([shapely.Point(fault.lon, fault.lat)], crs=CRS), "fault")
    n_st = len(ids)
    eta, choice, pred = times_to_point(engine, src, flt)

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

    def column(name: str) -> np.ndarray:
        if name in stations.columns:
            return stations[name].to_numpy()
        return np.full(n_st, None, dtype=object)

    options = pd.DataFrame(
        {
            station_id_column: ids,
            "name": column("name"),
            "crews": column("crews"),
            "eta_s": np.where(reached, eta, np.nan),
            "within_limit": reached & (eta <= limit_s),
            "reason": reason,
        },
        index=stations.index,
    )
    order = np.lexsort((np.arange(n_st), np.where(reached, eta, np.inf)))
    options = options.iloc[order]

    if not reached.any():
        logger.info("fault at (%.6f, %.6f): no station reaches it (%s)", *_ll(fault), unreached)
        return DispatchResult(
            fault=fault,
            options=options,
            station_id=None,
            eta_s=math.nan,
            within_limit=False,
            reason=unreached,
            route=None,
            route_km=math.nan,
        )

    k = int(order[0])
    assert pred is not None
    line_m = route_line(engine, src, k, flt, choice, pred)
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


def _ll(fault: Fault) -> tuple[float, float]:
    return fault.lon, fault.lat
