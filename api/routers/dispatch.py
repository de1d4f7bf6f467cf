"""``/dispatch``: the nearest repair station for a fault (抢修调度)."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

import gridgeo
from api.deps import StoreDep, reach_engine, station_labels
from api.errors import error_responses
from api.routers.orders import order_rows, refuse_taken_number
from api.schemas import DispatchOrder
from api.serialise import json_response, records, to_jsonable

router = APIRouter(prefix="/dispatch", tags=["dispatch"])


@router.get("")
def dispatch_fault(
    request: Request,
    store: StoreDep,
    customer_id: Annotated[str | None, Query(description="customer number (户号)")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    datum: Annotated[str, Query(pattern="^(wgs84|gcj02|bd09)$")] = "wgs84",
    address: Annotated[str | None, Query(min_length=1, description="fault address")] = None,
    limit_min: Annotated[
        float | None, Query(gt=0, le=600, description="the promise in minutes (default 30)")
    ] = None,
    unavailable: Annotated[
        str | None,
        Query(
            pattern=r"^[^,]+(,[^,]+)*$",
            description="station ids out of service or busy, comma-separated: RS01,RS03",
        ),
    ] = None,
) -> Response:
    """Every station's ETA to the fault, the nearest available one by travel time and its route.

    Give exactly one of ``customer_id``, ``lon``+``lat`` (in ``datum``) or ``address``. The
    stations' travel-time labels are kept with the engine, so a dispatch is a look-up.
    """
    stations = [s.strip() for s in unavailable.split(",")] if unavailable else []
    result = _dispatch(request, store, customer_id, lon, lat, datum, address, limit_min, stations)
    return json_response(_answer(result))


def _dispatch(
    request: Request,
    store: gridgeo.GeoPackageStore,
    customer_id: str | None,
    lon: float | None,
    lat: float | None,
    datum: str,
    address: str | None,
    limit_min: float | None,
    unavailable: list[str],
) -> gridgeo.DispatchResult:
    kw: dict[str, Any]
    if (lon is None) != (lat is None):
        msg = "give both `lon` and `lat` (经度和纬度都要给出)"
        raise gridgeo.InputError(msg)
    kw = {"point": (lon, lat), "datum": datum} if lon is not None and lat is not None else {}
    if customer_id is not None:
        kw.update(customer_id=customer_id, customers=store.read("customers"))
    if address is not None:
        kw.update(address=address, gazetteer=gridgeo.read_gazetteer(store))
    engine = reach_engine(request, store)
    stations = store.read("repair_stations")
    return gridgeo.dispatch(
        engine,
        stations,
        limit_s=gridgeo.DEFAULT_SETTINGS.repair_limit_s if limit_min is None else limit_min * 60.0,
        labels=station_labels(request, engine, stations),
        unavailable=unavailable,
        county=store.read("county"),
        **kw,
    )


def _answer(result: gridgeo.DispatchResult) -> dict[str, Any]:
    route = None
    if result.route is not None:
        route = {
            "type": "Feature",
            "properties": {"station_id": result.station_id, "route_km": result.route_km},
            "geometry": result.route.geometry.iloc[0].__geo_interface__,
        }
    return to_jsonable(
        {
            "fault": {
                "lon": result.fault.lon,
                "lat": result.fault.lat,
                "located_by": result.fault.located_by,
                "match_level": result.fault.match_level,
            },
            "station_id": result.station_id,
            "eta_s": result.eta_s,
            "within_limit": result.within_limit,
            "reason": result.reason,
            "route_km": result.route_km,
            "options": records(result.options),
            "route": route,
        }
    )


@router.post("", status_code=201, responses=error_responses(400, 404, 409, 422))
def dispatch_and_create_order(body: DispatchOrder, request: Request, store: StoreDep) -> Response:
    """Dispatch a fault and create its work order with the recommended station and its ETA.

    The answer of ``GET /dispatch`` plus ``order``: the stored order, dispatched now (unless
    ``dispatched_at``), with ``station_id`` and ``predicted_eta_s`` (the routing engine's ETA
    at dispatch time). 400 and nothing stored when no station can be dispatched; 409 when the
    order number is taken.
    """
    refuse_taken_number(store, body.order_id)
    result = _dispatch(
        request,
        store,
        body.customer_id,
        body.lon,
        body.lat,
        body.datum,
        body.address,
        body.limit_min,
        body.unavailable,
    )
    fields = gridgeo.order_from_dispatch(
        result,
        order_id=body.order_id,
        reported_at=body.reported_at or pd.Timestamp.now(tz="UTC").floor("s"),
        dispatched_at=body.dispatched_at,
        kind=body.kind,
        source=body.source,
        customer_id=body.customer_id or "",
        address=body.address or "",
        crew=body.crew or "",
    )
    made = gridgeo.create_order(
        store, fields, author=body.author, reason=f"派单 dispatch to {result.station_id}"
    )
    response = json_response({**_answer(result), "order": order_rows(made)[0]})
    response.status_code = 201
    return response
