"""Service-level reach: 30-minute repair and 10-minute payment for every customer.

Two promises of grid-based supply service are geographic: a repair crew reaches any fault within
30 minutes, and every customer reaches a payment point within 10 minutes. This module checks
them for every customer and summarises them per grid (the isochrones: :mod:`gridgeo.isochrones`).

Direction
---------
Repair reach runs **station → customer** on the directed road graph (one-way roads count, crews
drive at the graph's speeds). Payment access runs **customer → payment point**: the search starts
from the points on the transposed graph, which gives the same travel times as one search per
customer.

Payment mode
------------
The payment trip is made with the mode of the graph its engine is built on.
:data:`DEFAULT_PAYMENT_MODE` is ``"two_wheeler"``: in rural Jiangxi most households ride electric
two-wheelers (电动自行车) to the township, so "10 minutes to a payment point" is read as 10
minutes by e-bike (up to about 4 km at 25 km/h). The strict reading, on foot (10 minutes at
4.5 km/h = 750 m), is a walk-mode graph; a car-owning reading is a drive-mode graph.
:func:`engines_from_roads` builds the two engines from a roads layer.

Snapping and engine
-------------------
Customers, stations and payment points join the road graph at the nearest point of the nearest
edge, with the off-road leg walked; the compiled graph, the snapping rules and the searches are
those of :mod:`gridgeo.routing` (one engine for reach, dispatch, siting, grids and isochrones).
Snapping the customers is most of a reach's time and changes only with the roads or the
customers: the reach functions take the customers' snap made before (``customer_snap``,
``repair_snap``, ``payment_snap``; a workspace stores them,
:func:`gridgeo.workspace.read_customer_snaps`), checked against the engine they are used with.

Reasons
-------
Every customer gets one of :data:`REACH_REASONS` (``ok``, ``over_limit``, ``too_far_from_road``,
``isolated_road_piece``, ``unreachable``, ``not_geocoded``), defined with the snapping rules in
:mod:`gridgeo.routing.engine`.

Travel times are NaN where there is none (too far, isolated, unreachable), never infinity.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgeo._validate import as_geoseries, check_ids, check_positive
from gridgeo.archive import NOT_LOCATED, grid_of_customers
from gridgeo.errors import EmptyDataError, InputError, MissingColumnError
from gridgeo.routing import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_MIN_COMPONENT_NODES,
    REACH_REASONS,
    ReachEngine,
    Snap,
    best_times,
    reason_code,
)
from gridgeo.settings import DEFAULT_SETTINGS

__all__ = [
    "DEFAULT_BANDS_S",
    "DEFAULT_GRID_COLUMNS",
    "DEFAULT_ISOCHRONE_BUFFER_M",
    "DEFAULT_KPI_WEIGHTS",
    "DEFAULT_MAX_SNAP_M",
    "DEFAULT_MIN_COMPONENT_NODES",
    "DEFAULT_N_WORST_VILLAGES",
    "DEFAULT_PAYMENT_LIMIT_S",
    "DEFAULT_PAYMENT_MODE",
    "DEFAULT_REPAIR_LIMIT_S",
    "REACH_REASONS",
    "ReachEngine",
    "customer_access",
    "engines_from_roads",
    "payment_access",
    "rank_grids",
    "rank_villages",
    "reach_kpis",
    "repair_reach",
    "shortfall_reasons",
    "summary_zh",
]

logger = logging.getLogger(__name__)

_OK = reason_code("ok")
_REASON_VALUES = pd.Series(np.asarray(REACH_REASONS, dtype=object)).array
_OVER = reason_code("over_limit")
_ISOLATED = reason_code("isolated_road_piece")

DEFAULT_REPAIR_LIMIT_S = DEFAULT_SETTINGS.repair_limit_s
DEFAULT_PAYMENT_LIMIT_S = DEFAULT_SETTINGS.payment_limit_s
DEFAULT_PAYMENT_MODE = DEFAULT_SETTINGS.payment_mode
DEFAULT_BANDS_S = DEFAULT_SETTINGS.bands_s
DEFAULT_ISOCHRONE_BUFFER_M = 150.0
DEFAULT_KPI_WEIGHTS: Mapping[str, float] = {"hv": 5.0, "vulnerable": 3.0}
DEFAULT_N_WORST_VILLAGES = 5
DEFAULT_GRID_COLUMNS: Mapping[str, str] = {"tier2": "grid_t2", "tier3": "grid_t3"}
UNASSIGNED = "unassigned"
ALL_STATIONS = "all"


# --------------------------------------------------------------------------- per customer


def _service(
    engine: ReachEngine,
    customers: Any,
    sources: Any,
    *,
    limit_s: float,
    id_column: str,
    reverse: bool,
    prefix: str,
    source_name: str,
    id_name: str,
    customer_snap: Snap | None,
    snap_name: str,
) -> pd.DataFrame:
    if not isinstance(engine, ReachEngine):
        msg = f"`engine` must be a ReachEngine, got {type(engine).__name__}; build one from G"
        raise InputError(msg)
    limit_s = check_positive(limit_s, "limit_s")
    if customer_snap is not None:
        # snapped before (stored): only the rows are needed, checked against the snap
        if not isinstance(customers, gpd.GeoDataFrame | gpd.GeoSeries):
            msg = (
                "`customers` must be a GeoDataFrame or GeoSeries of points, got "
                f"{type(customers).__name__}"
            )
            raise InputError(msg)
        engine.check_snap(customer_snap, len(customers), name=snap_name)
    if len(as_geoseries(sources, source_name)) == 0:
        msg = f"`{source_name}` has no rows; a reach needs at least one"
        raise EmptyDataError(msg)
    ids = check_ids(sources, id_column, source_name)
    src = engine.snap_points(sources, source_name)
    bad = src.seg < 0
    if bad.all():
        msg = (
            f"no row of `{source_name}` lies within `max_snap_m`={engine.max_snap_m!r} m of a "
            "road (or has a position); check their CRS and positions"
        )
        raise InputError(msg)
    if bad.any():
        names = ids[bad][:5].tolist()
        warnings.warn(
            f"{int(bad.sum())} row(s) of `{source_name}` are not usable "
            f"({names!r}: no position or farther than {engine.max_snap_m} m from a road)",
            stacklevel=3,
        )
    if (src.reason == _ISOLATED).any():
        warnings.warn(
            f"row(s) {ids[src.reason == _ISOLATED][:5].tolist()!r} of `{source_name}` lie on a "
            "small isolated road piece and serve only that piece",
            stacklevel=3,
        )
    dst = engine.snap_points(customers, "customers") if customer_snap is None else customer_snap
    eta, best, reason = best_times(engine, src, dst, reverse=reverse)
    ok = np.isfinite(eta) & (eta <= limit_s)
    reason = np.where(np.isfinite(eta), np.where(ok, _OK, _OVER), reason)
    id_arr = np.empty(len(ids) + 1, dtype=object)
    id_arr[:-1] = ids
    id_arr[-1] = None
    index = customers.index  # checked by the snapping or check_snap above
    # the text columns are taken from their few distinct values, typed once (pandas infers
    # the dtype of a column of Python objects row by row: most of the table's cost)
    return pd.DataFrame(
        {
            f"{prefix}_eta_s": eta,
            id_name: pd.Series(id_arr).array.take(np.where(best >= 0, best, len(ids))),
            f"{prefix}_ok": ok,
            f"{prefix}_reason": _REASON_VALUES.take(reason),
            f"{prefix}_snap_m": dst.snap_m,
        },
        index=index,
    )


def repair_reach(
    engine: ReachEngine,
    customers: gpd.GeoDataFrame | gpd.GeoSeries,
    stations: gpd.GeoDataFrame,
    *,
    limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    id_column: str = "station_id",
    customer_snap: Snap | None = None,
) -> pd.DataFrame:
    """
    Repair reach: least driving time from any repair station to every customer.

    Station → customer on the directed graph of ``engine`` (a drive-mode graph), off-road legs
    at walking speed at both ends.

    Parameters
    ----------
    engine
        A :class:`ReachEngine` of the drive graph.
    customers
        Customer points in any CRS; missing positions are ``not_geocoded``.
    stations
        Repair stations with an id column.
    limit_s
        The promise (default 1,800 s = 30 minutes).
    id_column
        Station id column.
    customer_snap
        The customers' snap on ``engine``, made once and reused while the roads and the
        customers stay the same (``engine.snap_points(customers)``, or the one stored in a
        workspace: :func:`gridgeo.workspace.read_customer_snaps`); the customers are then not
        snapped again. None (default): snap them now.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``repair_eta_s`` (NaN where none), ``repair_station_id``,
        ``repair_ok``, ``repair_reason`` (one of :data:`REACH_REASONS`), ``repair_snap_m``.

    Raises
    ------
    InputError
        If ``limit_s`` is not positive or no station is near a road; if ``customer_snap`` has
        another number of rows than ``customers`` or was made by another engine (re-snap).
    EmptyDataError
        If ``stations`` is empty.
    MissingColumnError
        If ``id_column`` is missing.
    DuplicateIdError
        If a station id repeats.
    CRSError
        If an input has no CRS.
    """
    return _service(
        engine,
        customers,
        stations,
        limit_s=limit_s,
        id_column=id_column,
        reverse=False,
        prefix="repair",
        source_name="stations",
        id_name="repair_station_id",
        customer_snap=customer_snap,
        snap_name="customer_snap",
    )


def payment_access(
    engine: ReachEngine,
    customers: gpd.GeoDataFrame | gpd.GeoSeries,
    points: gpd.GeoDataFrame,
    *,
    limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    id_column: str = "point_id",
    customer_snap: Snap | None = None,
) -> pd.DataFrame:
    """
    Payment access: least travel time from every customer to its nearest payment point.

    Customer → point on the directed graph of ``engine``, whose mode is the travel mode (see
    :data:`DEFAULT_PAYMENT_MODE` in the module docstring; :func:`engines_from_roads`).

    Parameters
    ----------
    engine
        A :class:`ReachEngine` of the graph of the payment travel mode.
    customers
        Customer points in any CRS; missing positions are ``not_geocoded``.
    points
        Payment points with an id column.
    limit_s
        The promise (default 600 s = 10 minutes).
    id_column
        Payment point id column.
    customer_snap
        The customers' snap on ``engine`` (as in :func:`repair_reach`); None: snap them now.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``payment_eta_s``, ``payment_point_id``, ``payment_ok``,
        ``payment_reason``, ``payment_snap_m``.

    Raises
    ------
    InputError, EmptyDataError, MissingColumnError, DuplicateIdError, CRSError
        As :func:`repair_reach`.
    """
    return _service(
        engine,
        customers,
        points,
        limit_s=limit_s,
        id_column=id_column,
        reverse=True,
        prefix="payment",
        source_name="points",
        id_name="payment_point_id",
        customer_snap=customer_snap,
        snap_name="customer_snap",
    )


def engines_from_roads(
    roads: gpd.GeoDataFrame,
    *,
    payment_mode: str = DEFAULT_PAYMENT_MODE,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    min_component_nodes: int = DEFAULT_MIN_COMPONENT_NODES,
) -> dict[str, ReachEngine]:
    """
    Build the repair (drive) and payment engines from a roads layer.

    Each engine is built from its own mode's roads: on a layer by mode (a workspace's
    ``roads``, :func:`gridgeo.network.roads_from_osm`) the payment engine has every road
    that mode may use (paths, tracks, footways, cycleways a truck cannot), with that mode's
    speeds and one-way rules; a plain layer is read by its ``highway`` classes (see
    "Roads layers" in :mod:`gridgeo.network`).

    Parameters
    ----------
    roads
        The roads layer: by mode, or plain (see :func:`gridgeo.network.graph_from_roads`).
    payment_mode
        Travel mode of the payment trip: ``"two_wheeler"`` (default), ``"walk"`` or ``"drive"``.
    max_snap_m, min_component_nodes
        Passed to :class:`ReachEngine`.

    Returns
    -------
    dict
        ``{"repair": ReachEngine, "payment": ReachEngine}`` (the same engine if
        ``payment_mode="drive"``).
    """
    engines: dict[str, ReachEngine] = {}
    for service, mode in (("repair", "drive"), ("payment", payment_mode)):
        if service == "payment" and mode == "drive":
            engines[service] = engines["repair"]
            continue
        engines[service] = ReachEngine.from_roads(
            roads, mode=mode, max_snap_m=max_snap_m, min_component_nodes=min_component_nodes
        )
    return engines


def customer_access(
    repair_engine: ReachEngine,
    payment_engine: ReachEngine,
    customers: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    customer_id_column: str = "customer_id",
    station_id_column: str = "station_id",
    point_id_column: str = "point_id",
    repair_snap: Snap | None = None,
    payment_snap: Snap | None = None,
) -> pd.DataFrame:
    """
    The ``customer_access`` table of the data model: repair reach and payment access together.

    Parameters
    ----------
    repair_engine
        Engine of the drive graph.
    payment_engine
        Engine of the payment mode's graph (:data:`DEFAULT_PAYMENT_MODE`).
    customers
        Customers (any CRS) with ``customer_id_column``.
    stations, points
        Repair stations and payment points.
    repair_limit_s, payment_limit_s
        The two promises.
    customer_id_column, station_id_column, point_id_column
        Id columns.
    repair_snap, payment_snap
        The customers' snaps on ``repair_engine`` and ``payment_engine``, made before and
        reused (``customer_snap`` of :func:`repair_reach` and :func:`payment_access`; a
        workspace stores them: :func:`gridgeo.workspace.read_customer_snaps`). None: snap now.

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``customer_id``, ``repair_eta_s``,
        ``repair_station_id``, ``repair_ok``, ``repair_reason``, ``payment_eta_s``,
        ``payment_point_id``, ``payment_ok``, ``payment_reason``, ``reason`` (``ok`` when both
        promises hold, else the repair reason if repair fails, else the payment reason).

    Raises
    ------
    InputError
        As :func:`repair_reach`; if a snap has another number of rows than ``customers`` or
        was made by another engine than the one it is used with (re-snap).
    """
    cust_ids = check_ids(customers, customer_id_column, "customers")
    for engine, snap, name in (
        (repair_engine, repair_snap, "repair_snap"),
        (payment_engine, payment_snap, "payment_snap"),
    ):
        if snap is not None and isinstance(engine, ReachEngine):
            engine.check_snap(snap, len(customers), name=name)
    rep = repair_reach(
        repair_engine,
        customers,
        stations,
        limit_s=repair_limit_s,
        id_column=station_id_column,
        customer_snap=repair_snap,
    )
    pay = payment_access(
        payment_engine,
        customers,
        points,
        limit_s=payment_limit_s,
        id_column=point_id_column,
        customer_snap=payment_snap,
    )
    reason = np.where(
        ~rep["repair_ok"].to_numpy(),
        rep["repair_reason"].to_numpy(),
        pay["payment_reason"].to_numpy(),
    )
    out = pd.DataFrame({"customer_id": cust_ids}, index=customers.index)
    cols = ["repair_eta_s", "repair_station_id", "repair_ok", "repair_reason"]
    out[cols] = rep[cols]
    cols = ["payment_eta_s", "payment_point_id", "payment_ok", "payment_reason"]
    out[cols] = pay[cols]
    out["reason"] = reason
    return out


# --------------------------------------------------------------------------- KPIs


def _flag(values: pd.Series, true_values: Sequence[str]) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        return values.fillna(0).to_numpy() != 0
    text = values.astype("string").str.strip().str.lower()
    return text.isin([v.lower() for v in true_values]).fillna(False).to_numpy(dtype=bool)


def _group_stats(data: pd.DataFrame, key: str, services: list[str]) -> pd.DataFrame:
    g = data.groupby(key, sort=True)
    out = pd.DataFrame({"customers": g.size()})
    out["hv_customers"] = g["_hv"].sum()
    out["vulnerable_customers"] = g["_vuln"].sum()
    for s in services:
        ok = data[f"{s}_ok"].astype(bool)
        w = data["_w"]
        out[f"{s}_ok_n"] = ok.groupby(data[key]).sum()
        out[f"{s}_share_ok"] = out[f"{s}_ok_n"] / out["customers"]
        for flag, name in (("_hv", "hv"), ("_vuln", "vulnerable")):
            sub = data[flag]
            num = (ok & sub).groupby(data[key]).sum()
            den = sub.groupby(data[key]).sum()
            out[f"{s}_share_ok_{name}"] = (num / den.where(den > 0)).astype(float)
        out[f"{s}_share_ok_weighted"] = (w * ok).groupby(data[key]).sum() / w.groupby(
            data[key]
        ).sum()
        eta = data[f"{s}_eta_s"]
        ge = eta.groupby(data[key])
        out[f"{s}_median_eta_s"] = ge.median()
        out[f"{s}_p95_eta_s"] = ge.quantile(0.95)
    return out


def _grid_key(customers: pd.DataFrame, column: str) -> pd.Series:
    """The grid of each customer by ``column``: :func:`gridgeo.archive.grid_of_customers`
    (the one definition of a grid's customers), for any column name."""
    return grid_of_customers(customers, column=column)


def reach_kpis(
    access: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    grid_columns: Mapping[str, str] = DEFAULT_GRID_COLUMNS,
    village_column: str = "village_code",
    hv_column: str | None = "voltage_class",
    vulnerable_column: str | None = "vulnerable",
    weights: Mapping[str, float] = DEFAULT_KPI_WEIGHTS,
    n_worst_villages: int = DEFAULT_N_WORST_VILLAGES,
) -> dict[str, pd.DataFrame]:
    """
    Service-level KPIs per grid of each tier, per village and for the county.

    Parameters
    ----------
    access
        The result of :func:`customer_access`, :func:`repair_reach` or
        :func:`payment_access` (the services present are summarised).
    customers
        Customer attributes on the same index: the grid id per tier, the village, HV and
        vulnerable flags.
    grid_columns
        Tier name → column of grid ids (default ``{"tier2": "grid_t2", "tier3": "grid_t3"}``).
        A customer belongs to the grid its column names, the grid that contains its located
        position (:func:`gridgeo.archive.grid_of_customers`, the one definition every
        output counts with); customers without a grid are the row
        :data:`gridgeo.archive.NOT_LOCATED` (未定位) of each tier table.
    village_column
        Village column (``village_code``).
    hv_column
        High-voltage flag: bool, or a voltage class (``"HV"`` counts); None for no HV KPIs.
    vulnerable_column
        Vulnerable-customer flag (bool); None for none.
    weights
        ``{"hv": w, "vulnerable": w}``: weight of an HV and of a vulnerable customer in the
        weighted share (multiplied when both; others weigh 1).
    n_worst_villages
        How many villages ``worst_villages`` lists per grid.

    Returns
    -------
    dict of pandas.DataFrame
        ``"county"`` (one row), one table per key of ``grid_columns`` (indexed by grid id) and
        ``"villages"`` (indexed by village), each with ``customers``, ``hv_customers``,
        ``vulnerable_customers`` and per service (``repair``, ``payment``): ``{s}_ok_n``,
        ``{s}_share_ok``, ``{s}_share_ok_hv``, ``{s}_share_ok_vulnerable``,
        ``{s}_share_ok_weighted``, ``{s}_median_eta_s`` and ``{s}_p95_eta_s`` (over the
        customers with a travel time; linear interpolation as ``numpy.percentile``); the
        county and grid tables add ``worst_villages`` (codes of the villages with the lowest
        share of customers for whom every promise holds, only villages below 100 %, separated
        by ``"; "``). ``"non_compliant"`` lists each customer for whom a promise fails, with
        the grid ids, village, times and reasons.

    Raises
    ------
    InputError
        If no service is in ``access`` or the indexes differ.
    MissingColumnError
        If a named column is missing.
    """
    services = [s for s in ("repair", "payment") if f"{s}_ok" in access.columns]
    if not services:
        msg = (
            "`access` has neither `repair_ok` nor `payment_ok`; pass the result of "
            "`customer_access`, `repair_reach` or `payment_access`"
        )
        raise InputError(msg)
    for s in services:
        for col in (f"{s}_eta_s", f"{s}_reason"):
            if col not in access.columns:
                msg = f"`access` has no column {col!r}; pass an unmodified reach result"
                raise MissingColumnError(msg)
    if not access.index.equals(customers.index):
        msg = (
            "`access` and `customers` must share their index (the reach functions keep the "
            "customers' index); align them with `customers.loc[access.index]`"
        )
        raise InputError(msg)
    needed = [*grid_columns.values(), village_column]
    needed += [c for c in (hv_column, vulnerable_column) if c is not None]
    for col in needed:
        if col not in customers.columns:
            msg = (
                f"`customers` has no column {col!r} (columns: {list(customers.columns)!r}); "
                "pass the right name or None"
            )
            raise MissingColumnError(msg)
    if isinstance(n_worst_villages, bool) or not isinstance(n_worst_villages, int | np.integer):
        msg = f"`n_worst_villages` must be an int, got {n_worst_villages!r}"
        raise InputError(msg)
    w_hv = check_positive(weights.get("hv", 1.0), "weights['hv']")
    w_vuln = check_positive(weights.get("vulnerable", 1.0), "weights['vulnerable']")

    data = pd.DataFrame(index=access.index)
    for s in services:
        data[f"{s}_ok"] = access[f"{s}_ok"].fillna(False).astype(bool)
        data[f"{s}_eta_s"] = access[f"{s}_eta_s"].astype(float)
        data[f"{s}_reason"] = access[f"{s}_reason"]
    data["_all_ok"] = np.logical_and.reduce([data[f"{s}_ok"] for s in services])
    n = len(data)
    data["_hv"] = (
        _flag(customers[hv_column], ("hv", "true", "yes", "1", "高压"))
        if hv_column
        else np.zeros(n, dtype=bool)
    )
    data["_vuln"] = (
        _flag(customers[vulnerable_column], ("true", "yes", "1", "是"))
        if vulnerable_column
        else np.zeros(n, dtype=bool)
    )
    data["_w"] = np.where(data["_hv"], w_hv, 1.0) * np.where(data["_vuln"], w_vuln, 1.0)
    for tier, col in grid_columns.items():
        data[f"_grid_{tier}"] = _grid_key(customers, col)
    data["_village"] = customers[village_column].astype("string").fillna(UNASSIGNED)
    data["_county"] = "county"

    out: dict[str, pd.DataFrame] = {}
    villages = _group_stats(data, "_village", services)
    for tier, key in [("county", "_county")] + [(t, f"_grid_{t}") for t in grid_columns]:
        table = _group_stats(data, key, services)
        pairs = (
            data.groupby([key, "_village"], sort=True)
            .agg(_share=("_all_ok", "mean"), _n=("_all_ok", "size"))
            .reset_index()
        )
        pairs = pairs[pairs["_share"] < 1.0].sort_values(
            [key, "_share", "_n", "_village"], ascending=[True, True, False, True], kind="stable"
        )
        worst = pairs.groupby(key, sort=True)["_village"].agg(
            lambda v: "; ".join(v.iloc[: int(n_worst_villages)])
        )
        table["worst_villages"] = worst.reindex(table.index).fillna("")
        table.index.name = "grid_id" if tier != "county" else None
        out[tier] = table
    villages.index.name = village_column
    out["villages"] = villages

    bad = ~data["_all_ok"]
    nc = pd.DataFrame(index=access.index[bad.to_numpy()])
    if "customer_id" in access.columns:
        nc["customer_id"] = access.loc[bad, "customer_id"]
    for col in grid_columns.values():
        nc[col] = customers.loc[bad, col]
    nc[village_column] = customers.loc[bad, village_column]
    for s in services:
        for c in (f"{s}_eta_s", f"{s}_ok", f"{s}_reason"):
            nc[c] = data.loc[bad, c]
    out["non_compliant"] = nc
    return out


def _pct(value: Any) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100.0 * value:.1f}%"


def _minutes(value: Any) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value / 60.0:.1f} 分钟"


_REASON_ZH = {
    "ok": "达标",
    "over_limit": "超出时限",
    "too_far_from_road": "离道路过远",
    "isolated_road_piece": "位于孤立路段",
    "unreachable": "道路不可达",
    "not_geocoded": "未定位",
    "not_computed": "未计算",
}


def _services_of(table: pd.DataFrame) -> list[str]:
    return [s for s in ("repair", "payment") if f"{s}_share_ok" in table.columns]


def rank_grids(table: pd.DataFrame) -> pd.DataFrame:
    """The grids of one tier of :func:`reach_kpis`, worst first.

    The one ranking of "the worst grids" that the ``gridgeo run`` output, the Chinese summary
    (:func:`summary_zh`) and the monthly report share: the lower of the grid's shares of
    customers within each promise (``min(repair_share_ok, payment_share_ok)``) first, then
    more customers first, then the grid id. The :data:`gridgeo.archive.NOT_LOCATED` row
    (customers in no grid) is not a grid and is left out.

    Parameters
    ----------
    table
        A tier table of :func:`reach_kpis` (``kpis["tier2"]``, ``kpis["tier3"]``).

    Returns
    -------
    pandas.DataFrame
        The rows of ``table`` in rank order, with ``lowest_share_ok`` added.
    """
    services = _services_of(table)
    if not services:
        msg = "`table` must be a tier table of `reach_kpis` (with `repair_share_ok` ...)"
        raise InputError(msg)
    grids = table.drop(index=NOT_LOCATED, errors="ignore").copy()
    grids["lowest_share_ok"] = grids[[f"{s}_share_ok" for s in services]].min(axis=1)
    grids["_id"] = grids.index.astype(str)
    grids = grids.sort_values(
        ["lowest_share_ok", "customers", "_id"], ascending=[True, False, True], kind="stable"
    )
    return grids.drop(columns="_id")


def _village_places(
    codes: pd.Index,
    villages: pd.DataFrame | None,
    village_names: Mapping[str, str] | None,
) -> tuple[pd.Series, pd.Series]:
    """Township and village name per village code (empty where unknown)."""
    town = pd.Series("", index=codes, dtype=object)
    name = pd.Series("", index=codes, dtype=object)
    if villages is not None and "village_code" in villages.columns:
        keys = villages["village_code"].astype(str).to_numpy()
        for column, target in (("town", town), ("village", name)):
            if column in villages.columns:
                values = pd.Series(villages[column].fillna("").astype(str).to_numpy(), index=keys)
                values = values[~values.index.duplicated()]
                target.loc[:] = values.reindex(codes.astype(str)).fillna("").to_numpy()
    if village_names:
        given = pd.Series([village_names.get(str(c), "") for c in codes], index=codes)
        name = name.where(name != "", given)
    return town, name


_OTHER_REASONS = ("too_far_from_road", "isolated_road_piece", "unreachable", "not_geocoded")


def _shortfalls(
    nc: pd.DataFrame,
    groups: pd.Series,
    index: pd.Index,
    services: list[str],
    limits: Mapping[str, float],
) -> pd.DataFrame:
    """Per group of ``index``: customers over each limit, their median time, and the reason
    text; ``groups`` is the group of each row of ``nc`` (the non-compliant customers)."""
    out = pd.DataFrame(index=index)
    for s in services:
        over = (nc[f"{s}_reason"].astype(str) == "over_limit").to_numpy()
        grouped = nc.loc[over, f"{s}_eta_s"].astype(float).groupby(groups[over])
        out[f"{s}_over_n"] = grouped.size().reindex(index).fillna(0).astype(int)
        out[f"{s}_over_median_eta_s"] = grouped.median().reindex(index)
    others = {}
    for reason in _OTHER_REASONS:
        hit = np.logical_or.reduce(
            [nc[f"{s}_reason"].astype(str).to_numpy() == reason for s in services]
        )
        others[reason] = groups[hit].value_counts().reindex(index).fillna(0).astype(int)
    reasons = []
    for code, row in out.iterrows():
        parts = []
        for s in services:
            n = int(row[f"{s}_over_n"])
            if n:
                limit = f"{limits[s] / 60:g}"
                eta = float(row[f"{s}_over_median_eta_s"]) / 60
                if s == "repair":
                    parts.append(f"{n} 户超 {limit} 分钟，最近抢修站中位 {eta:.0f} 分钟")
                else:
                    parts.append(
                        f"{n} 户 {limit} 分钟内到不了缴费点，最近缴费点中位 {eta:.0f} 分钟"
                    )
        for reason, counts in others.items():
            n = int(counts.get(code, 0))
            if n:
                parts.append(f"{n} 户{_REASON_ZH[reason]}")
        reasons.append("；".join(parts))
    out["reason"] = reasons
    return out


def shortfall_reasons(
    kpis: Mapping[str, pd.DataFrame],
    *,
    by: str = "grid_t3",
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
) -> pd.DataFrame:
    """Why the customers of each group miss a promise, in Chinese.

    Parameters
    ----------
    kpis
        The result of :func:`reach_kpis`.
    by
        A column of ``kpis["non_compliant"]``: a grid id column (``grid_t3``, ``grid_t2``)
        or the village column; customers with none are the group
        :data:`gridgeo.archive.NOT_LOCATED`.
    repair_limit_s, payment_limit_s
        The promises, for the wording.

    Returns
    -------
    pandas.DataFrame
        One row per group with a customer missing a promise: ``{s}_over_n`` (customers over
        the limit), ``{s}_over_median_eta_s`` (their median time to the nearest repair
        station / payment point), and ``reason``, e.g. ``"42 户超 30 分钟，最近抢修站中位
        38 分钟；3 户离道路过远"``.
    """
    if "non_compliant" not in kpis or by not in kpis["non_compliant"].columns:
        msg = f"`kpis` must be the result of `reach_kpis` with a column {by!r} in 'non_compliant'"
        raise InputError(msg)
    nc = kpis["non_compliant"]
    groups = grid_of_customers(nc, column=by)
    services = [s for s in ("repair", "payment") if f"{s}_reason" in nc.columns]
    limits = {"repair": repair_limit_s, "payment": payment_limit_s}
    index = pd.Index(sorted(groups.unique()), name=by)
    return _shortfalls(nc, groups, index, services, limits)


def rank_villages(
    kpis: Mapping[str, pd.DataFrame],
    *,
    villages: pd.DataFrame | None = None,
    village_names: Mapping[str, str] | None = None,
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
) -> pd.DataFrame:
    """The villages where a promise fails, worst first, with township and reason in Chinese.

    The ranking is that of the ``worst_villages`` of :func:`reach_kpis`: the lowest share of
    customers for whom every promise holds first, then more customers, then the village code;
    villages where every customer is served are left out, and so is the group of customers
    without a village (``unassigned``), which is no village.

    Parameters
    ----------
    kpis
        The result of :func:`reach_kpis`.
    villages
        The villages layer (``village_code``, ``village``, ``town``), for the names.
    village_names
        Village code → name, where there is no villages layer.
    repair_limit_s, payment_limit_s
        The promises, for the wording of the reasons.

    Returns
    -------
    pandas.DataFrame
        Indexed by village code: ``town``, ``village`` (names, empty when unknown), ``place``
        (``"琴城镇 曾家丰村"``, the code when no name is known), ``customers``,
        ``share_ok`` (every promise held), ``{s}_share_ok``, and the columns of
        :func:`shortfall_reasons` (``reason``: ``"42 户超 30 分钟，最近抢修站中位 38 分钟"``).
    """
    if "villages" not in kpis or "non_compliant" not in kpis:
        msg = "`kpis` must be the result of `reach_kpis` (keys 'villages', 'non_compliant')"
        raise InputError(msg)
    vt = kpis["villages"]
    services = _services_of(vt)
    key = vt.index.name or "village_code"
    nc = kpis["non_compliant"]
    if key in nc.columns:
        nc_village = nc[key].astype("string").fillna(UNASSIGNED)
    else:
        nc_village = pd.Series(UNASSIGNED, index=nc.index, dtype="string")
    failing = nc_village.value_counts().reindex(vt.index).fillna(0).astype(int)
    table = pd.DataFrame(index=vt.index)
    table["customers"] = vt["customers"].astype(int)
    table["share_ok"] = 1.0 - failing / table["customers"]
    for s in services:
        table[f"{s}_share_ok"] = vt[f"{s}_share_ok"]
    table = table[(table["share_ok"] < 1.0) & (table.index.astype(str) != UNASSIGNED)]
    table["_code"] = table.index.astype(str)
    table = table.sort_values(
        ["share_ok", "customers", "_code"], ascending=[True, False, True], kind="stable"
    ).drop(columns="_code")
    limits = {"repair": repair_limit_s, "payment": payment_limit_s}
    table = table.join(_shortfalls(nc, nc_village, table.index, services, limits))
    town, name = _village_places(table.index, villages, village_names)
    table.insert(0, "town", town.to_numpy())
    table.insert(1, "village", name.to_numpy())
    place = (table["town"] + " " + table["village"]).str.strip()
    table.insert(2, "place", place.where(table["village"] != "", table.index.astype(str)))
    return table


_TIER_TITLES = {
    "tier1": ("县公司", "县公司"),
    "tier2": ("供电网格（变电站供电区，二级）", "供电网格"),
    "tier3": ("村级网格（三级）", "村级网格"),
}


def summary_zh(
    kpis: Mapping[str, pd.DataFrame],
    *,
    title: str = "供电服务可达性摘要",
    repair_limit_s: float = DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = DEFAULT_PAYMENT_LIMIT_S,
    n_grids: int = 5,
    village_names: Mapping[str, str] | None = None,
    grids: pd.DataFrame | None = None,
    villages: pd.DataFrame | None = None,
) -> str:
    """
    A one-page Chinese summary (Markdown) of :func:`reach_kpis`.

    Parameters
    ----------
    kpis
        The result of :func:`reach_kpis`.
    title
        Heading, e.g. ``"南丰县供电服务可达性摘要"``.
    repair_limit_s, payment_limit_s
        The promises, for the wording ("30 分钟", "10 分钟").
    n_grids
        How many of the lowest grids of each tier (and of the worst villages) to list.
    village_names
        Village code → name, for the worst villages (when ``villages`` is not given).
    grids
        The grids layer (``grid_id``, ``name``, ``parent_id``, ``manager``), for the grids'
        names; without it grids are listed by id.
    villages
        The villages layer (``village_code``, ``village``, ``town``), for the villages'
        township and name.

    Returns
    -------
    str
        Markdown text: county figures (the customers, split into those in the grids and those
        in no grid, 未定位), reasons of non-compliance, the lowest grids per tier by name
        (:func:`rank_grids`, the ranking ``gridgeo run`` prints; tier 2 = the substations'
        supply grids with how many village grids each holds, tier 3 = the village grids with
        their supply grid and manager; the 未定位 row last, when there are such customers) and
        the worst villages with township and reason (:func:`rank_villages`). Grids and their
        customers are those of :func:`reach_kpis` (:func:`gridgeo.archive.grid_of_customers`).
        Shares have one decimal (``97.3%``), times are in minutes.
    """
    if "county" not in kpis or "non_compliant" not in kpis:
        msg = "`kpis` must be the result of `reach_kpis` (keys 'county', 'non_compliant', ...)"
        raise InputError(msg)
    county = kpis["county"].iloc[0]
    services = _services_of(kpis["county"])
    label = {
        "repair": f"{repair_limit_s / 60:g} 分钟抢修到达率",
        "payment": f"{payment_limit_s / 60:g} 分钟缴费可达率",
    }
    tiers = [k for k in kpis if k not in ("county", "villages", "non_compliant")]
    n_customers = int(county["customers"])
    counted = f"- 客户数：{n_customers:,} 户"
    if tiers:  # the county total = customers in the grids + those in no grid (未定位)
        finest = kpis[tiers[-1]]
        lost = int(finest.at[NOT_LOCATED, "customers"]) if NOT_LOCATED in finest.index else 0
        counted += f"（网格内 {n_customers - lost:,} 户，{NOT_LOCATED} {lost:,} 户）"
    lines = [f"# {title}", "", "## 全县", "", counted]
    for s in services:
        lines.append(
            f"- {label[s]}：{_pct(county[f'{s}_share_ok'])}"
            f"（高压客户 {_pct(county[f'{s}_share_ok_hv'])}，"
            f"重点关怀客户 {_pct(county[f'{s}_share_ok_vulnerable'])}，"
            f"加权 {_pct(county[f'{s}_share_ok_weighted'])}）；"
            f"用时中位数 {_minutes(county[f'{s}_median_eta_s'])}，"
            f"95 分位 {_minutes(county[f'{s}_p95_eta_s'])}"
        )
    nc = kpis["non_compliant"]
    lines += ["", f"## 未达标客户：{len(nc):,} 户", ""]
    for s in services:
        counts = nc.loc[~nc[f"{s}_ok"].astype(bool), f"{s}_reason"].value_counts()
        if len(counts) == 0:
            continue
        parts = "，".join(
            f"{_REASON_ZH.get(str(r), str(r))} {int(c):,} 户"
            for r, c in sorted(counts.items(), key=lambda rc: (-rc[1], str(rc[0])))
        )
        lines.append(f"- {'抢修' if s == 'repair' else '缴费'}：{parts}")

    info = pd.DataFrame(columns=["name", "parent_id", "manager", "tier"])
    if grids is not None and "grid_id" in grids.columns:
        info = pd.DataFrame(
            {
                c: (grids[c].fillna("").astype(str) if c in grids.columns else "")
                for c in ("name", "parent_id", "manager", "tier")
            }
        )
        info.index = grids["grid_id"].astype(str).to_numpy()

    def name_of(gid: Any) -> str:
        if str(gid) == NOT_LOCATED:
            return "未定位（不在任何网格）"
        name = info["name"].get(str(gid), "") if len(info) else ""
        return str(name) or str(gid)

    children = info["parent_id"].value_counts() if len(info) else pd.Series(dtype=int)
    cells = " | ".join(label[s] for s in services)
    for tier in tiers:
        table = kpis[tier]
        low = rank_grids(table).head(int(n_grids))
        low = pd.concat([low, table.loc[table.index == NOT_LOCATED]])
        heading, column = _TIER_TITLES.get(tier, (tier, "网格"))
        lines += ["", f"## 达标率最低的{heading}", ""]
        if tier == "tier2":
            head = f"| {column} | 村级网格数 | 客户数 | {cells} |"
            width = 3
        elif tier == "tier3":
            head = f"| {column} | 所属供电网格 | 网格长 | 客户数 | {cells} |"
            width = 4
        else:
            head = f"| {column} | 客户数 | {cells} |"
            width = 2
        lines += [head, "|" + "---|" * (width + len(services))]
        for gid, row in low.iterrows():
            shares = " | ".join(_pct(row[f"{s}_share_ok"]) for s in services)
            located = str(gid) != NOT_LOCATED
            if tier == "tier2":
                n_children = int(children.get(str(gid), 0)) if located else 0
                extra = f"{n_children if located and len(info) else '—'} | "
            elif tier == "tier3":
                parent = info["parent_id"].get(str(gid), "") if len(info) and located else ""
                manager = info["manager"].get(str(gid), "") if len(info) and located else ""
                extra = f"{name_of(parent) if parent else '—'} | {manager or '—'} | "
            else:
                extra = ""
            lines.append(f"| {name_of(gid)} | {extra}{int(row['customers']):,} | {shares} |")
    worst = rank_villages(
        kpis,
        villages=villages,
        village_names=village_names,
        repair_limit_s=repair_limit_s,
        payment_limit_s=payment_limit_s,
    ).head(int(n_grids))
    vt = kpis["villages"]
    if len(worst) or UNASSIGNED in vt.index:
        lines += ["", "## 最需关注的村", ""]
    for _, row in worst.iterrows():
        shares = "，".join(f"{label[s]} {_pct(row[f'{s}_share_ok'])}" for s in services)
        lines.append(f"- {row['place']}：{row['reason']}（{shares}）")
    if UNASSIGNED in vt.index:  # customers whose village is not known: listed last
        row = vt.loc[UNASSIGNED]
        shares = "，".join(f"{label[s]} {_pct(row[f'{s}_share_ok'])}" for s in services)
        lines.append(f"- 村名未知的客户：{int(row['customers']):,} 户（{shares}）")
    return "\n".join(lines) + "\n"
