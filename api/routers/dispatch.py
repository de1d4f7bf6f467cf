"""``/dispatch``: the nearest repair station for a fault (抢修调度)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

import gridgeo
from api.deps import StoreDep, reach_engine, station_labels
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
    result = gridgeo.dispatch(
        engine,
        stations,
        limit_s=gridgeo.DEFAULT_SETTINGS.repair_limit_s if limit_min is None else limit_min * 60.0,
        labels=station_labels(request, engine, stations),
        unavailable=[s.strip() for s in unavailable.split(",")] if unavailable else (),
        county=store.read("county"),
        **kw,
    )
    route = None
    if result.route is not None:
        route = {
            "type": "Feature",
            "properties": {"station_id": result.station_id, "route_km": result.route_km},
            "geometry": result.route.geometry.iloc[0].__geo_interface__,
        }
    return json_response(
        to_jsonable(
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
    )
