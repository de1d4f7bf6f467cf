"""``/dispatch``: the nearest repair station for a fault (抢修调度)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import gridgeo
from api.cache import WorkspaceCache
from api.deps import CurrentUser, StoreDep, get_cache, kept_json, reach_engine, station_labels
from api.errors import error_responses
from api.routers.customers import customer_index
from api.routers.orders import order_rows, refuse_taken_number
from api.schemas import DispatchOrder
from api.serialise import json_response, records, to_jsonable

router = APIRouter(prefix="/dispatch", tags=["dispatch"])
DISPATCH_ANSWERS_KEPT = 1024  # GET /dispatch answers kept per workspace version


@router.get(
    "",
    description=(
        "Every station's ETA to the fault, the nearest available one by travel time and its "
        "route.\n\nLocate the fault with **exactly one** of `customer_id`, `lon` + `lat` "
        "(both, in `datum`) or `address`: none, two of them, or `lon` without `lat` is "
        "answered 400 naming the parameters (the rule spans several parameters, so the "
        "schema of each one cannot say it)."
    ),
    responses=error_responses(
        400,
        404,
        meanings={
            400: "bad input: not exactly one of `customer_id`, `lon`+`lat`, `address`, or "
            "`lon` without `lat`; or no station can reach the fault. `detail` says which",
            404: "no customer with that `customer_id`",
        },
    ),
)
async def dispatch_fault(
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
    contacts: Annotated[
        bool,
        Query(
            description="also the fault's grid on each tier, whom to call (网格长, 网格员, "
            "党员联络员 and their phones) and any doubt about the location (`grid`, "
            "`contact`, `doubts`)"
        ),
    ] = False,
) -> Response:
    """Every station's ETA to the fault, the nearest available one by travel time and its route.

    Give exactly one of ``customer_id``, ``lon``+``lat`` (in ``datum``) or ``address``. The
    stations' travel-time labels are kept with the engine, so a dispatch is a look-up.
    """
    stations = [s.strip() for s in unavailable.split(",")] if unavailable else []
    # the same question on the same workspace version has the same answer: kept as bytes
    key = (customer_id, lon, lat, datum, address, limit_min, tuple(sorted(stations)), contacts)
    return await kept_json(
        request,
        "dispatch",
        key,
        lambda: _answer_body(
            request, store, customer_id, lon, lat, datum, address, limit_min, stations, contacts
        ),
        max_entries=DISPATCH_ANSWERS_KEPT,
    )


def _answer_body(
    request: Request,
    store: gridgeo.GeoPackageStore,
    customer_id: str | None,
    lon: float | None,
    lat: float | None,
    datum: str,
    address: str | None,
    limit_min: float | None,
    stations: list[str],
    contacts: bool,
) -> bytes:
    """The JSON bytes of ``GET /dispatch``'s answer."""
    result = _dispatch(request, store, customer_id, lon, lat, datum, address, limit_min, stations)
    answer = _answer(result)
    if contacts:
        answer.update(_whom_to_call(get_cache(request), result, customer_id))
    return bytes(json_response(answer).body)


CONTACT_COLUMNS = ("grid_id", "name", "manager", "phone", "members", "liaison", "liaison_phone")
_TIER_COLUMNS = tuple(gridgeo.GRID_ID_COLUMNS.values())  # grid_t1, grid_t2, grid_t3


def _whom_to_call(
    layers: WorkspaceCache, result: gridgeo.DispatchResult, customer_id: str | None
) -> dict[str, Any]:
    """The fault's grid ids, the tier-3 grid's people and phones, and doubts about the place.

    A customer's grids are those stored with the customer (the archive's); a point or an
    address is put into the grids as customers are (:func:`gridgeo.assign_to_grids`).
    """
    grids = layers.read("grids")
    row = None
    if customer_id is not None:
        customers, index, _ = customer_index(layers)  # the dispatch found it: it is there
        row = customers.iloc[index[str(customer_id)]]
    # the place and the doubts about it are the library's (the CLI prints the same)
    place: dict[str, Any] = gridgeo.fault_place(result.fault, grids, customer=row)
    doubts = gridgeo.location_doubts(row, fault=result.fault, grid_reason=place["grid_reason"])
    ids = grids["grid_id"].astype(str)
    names = dict(zip(ids, grids["name"].astype(str), strict=False))
    place.update({f"{c}_name": names.get(str(place.get(c))) for c in _TIER_COLUMNS})
    t3 = grids.loc[ids == str(place.get("grid_t3"))]
    columns = [c for c in CONTACT_COLUMNS if c in t3.columns]
    contact = records(pd.DataFrame(t3[columns]))[0] if len(t3) else None
    return {"grid": place, "contact": contact, "doubts": doubts}


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    text = str(value).strip()
    return text or None


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
    cache = get_cache(request)  # layers read once per workspace version
    if customer_id is not None:
        customers, index, _ = customer_index(cache)
        row = index.get(str(customer_id))  # one row: no scan of every customer per request
        kw.update(
            customer_id=customer_id, customers=customers if row is None else customers.iloc[[row]]
        )
    if address is not None:
        kw.update(
            address=address, gazetteer=cache.get("gazetteer", lambda: gridgeo.read_gazetteer(store))
        )
    engine = reach_engine(request, store)
    stations = cache.read("repair_stations")
    return gridgeo.dispatch(
        engine,
        stations,
        limit_s=gridgeo.DEFAULT_SETTINGS.repair_limit_s if limit_min is None else limit_min * 60.0,
        labels=station_labels(request, engine, stations),
        unavailable=unavailable,
        county=cache.get("county_area", lambda: _prepared_area(cache.read("county"))),
        **kw,
    )


def _prepared_area(county: gpd.GeoDataFrame) -> Any:
    """The county as one prepared shapely geometry (kept per version: a fault's "inside the
    county?" is then a prepared look-up, not a union of the county's parts per request)."""
    area = gridgeo.area_geometry(county)
    shapely.prepare(area)
    return area


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


# --------------------------------------------------------------------------- availability
# Whether each repair station's crews can be sent now (在岗 / 忙碌 / 外出), set by the
# dispatchers on the console and kept in the workspace by gridgeo (gridgeo.dispatch_board:
# every dispatcher, worker process, the CLI and a restarted service see the same board);
# each change is a write through this router, so the audit log records who set what and
# when. Busy and out stations are passed as ``unavailable`` to ``/dispatch`` by the console.


class StationStatus(BaseModel):
    """``PUT /dispatch/stations/{station_id}``: a station's availability."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["on_duty", "busy", "out"] = Field(
        description="on_duty 在岗 / busy 忙碌 / out 外出 (busy and out: not dispatched)"
    )
    note: str | None = Field(default=None, max_length=200, description="备注, e.g. 抢修中")


def _station_board(board: gpd.GeoDataFrame) -> dict[str, Any]:
    """The JSON of :func:`gridgeo.read_station_availability`'s board."""
    rows = []
    for _, station in board.iterrows():  # tens of stations
        point = station.geometry
        rows.append(
            {
                "station_id": station["station_id"],
                "name": _text_or_none(station.get("name")),
                "crews": station.get("crews"),
                "status": station["status"],
                "status_zh": station["status_zh"],
                "note": station["note"],
                "updated_by": station["updated_by"],
                "updated_at": station["updated_at"],
                "lon": None if point is None or point.is_empty else round(point.x, 7),
                "lat": None if point is None or point.is_empty else round(point.y, 7),
            }
        )
    unavailable = [r["station_id"] for r in rows if r["status"] != "on_duty"]
    return to_jsonable({"stations": rows, "unavailable": unavailable})


@router.get("/stations", responses=error_responses(401, 403))
def list_stations(store: StoreDep) -> Response:
    """The repair stations and whether their crews can be sent now (在岗 / 忙碌 / 外出).

    ``unavailable`` lists the busy and out stations: pass them to ``GET /dispatch`` as
    ``unavailable=``. A station nobody has set is on duty.
    """
    return json_response(_station_board(gridgeo.read_station_availability(store)))


@router.put("/stations/{station_id}", responses=error_responses(400, 401, 403, 404, 422))
def set_station_status(
    station_id: str, body: StationStatus, store: StoreDep, user: CurrentUser
) -> Response:
    """Set a station's availability (audited: who, when, the status); answers the whole board."""
    board = gridgeo.set_station_availability(
        store, station_id, body.status, by=user.username, note=body.note
    )
    return json_response(_station_board(board))
