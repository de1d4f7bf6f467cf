"""``/dispatch``: the nearest repair station for a fault (抢修调度)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import Point

import gridgeo
from api.cache import WorkspaceCache
from api.deps import CurrentUser, StoreDep, get_cache, reach_engine, station_labels
from api.errors import error_responses
from api.routers.customers import customer_index
from api.routers.orders import order_rows, refuse_taken_number
from api.schemas import DispatchOrder
from api.serialise import json_response, records, to_jsonable

router = APIRouter(prefix="/dispatch", tags=["dispatch"])
DISPATCH_ANSWERS_KEPT = 1024  # GET /dispatch answers kept per workspace version


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
    # the same question on the same workspace version has the same answer: kept (api.cache)
    key = (customer_id, lon, lat, datum, address, limit_min, tuple(sorted(stations)))
    result, answer = get_cache(request).remember(
        "dispatch",
        key,
        lambda: _result_and_answer(
            request, store, customer_id, lon, lat, datum, address, limit_min, stations
        ),
        max_entries=DISPATCH_ANSWERS_KEPT,
    )
    answer = dict(answer)  # the kept answer is shared: add to a copy
    if contacts:
        answer.update(_whom_to_call(get_cache(request), result, customer_id))
    return json_response(answer)


# doubts about where a fault is, in the words of the archive's 定位说明
_CUSTOMER_FLAGS_EN = {
    "coords_conflict_address": "GPS contradicts the address",
    "swapped_lonlat": "swapped lon/lat in the customer's GPS",
    "coords_outside_county": "the customer's GPS is outside the county",
}
_CUSTOMER_FLAGS_ZH = {
    flag: f"{gridgeo.LOCATION_FLAGS_ZH[flag]} / {english}"
    for flag, english in _CUSTOMER_FLAGS_EN.items()
}
_PLACE_DOUBTS_ZH = {
    "village": "按村定位：位置是村的中心点，不是门牌 / placed at the village point, not the house",
    "town": "只定位到乡镇：结果仅供参考 / located only to the township: ETA is approximate",
    "not_geocoded": "客户没有位置 / the customer has no position",
    "near_boundary": "近县界，归入最近网格 / near the county line, put into the nearest grid",
    "outside_grids": "位置在各网格之外 / outside every grid",
    "address": "地址问题 / address problem",
}
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
    doubts: list[dict[str, str]] = []

    def doubt(code: str, text: str) -> None:
        doubts.append({"code": code, "text": text})

    if customer_id is not None:
        customers = layers.read("customers")
        row = customers.loc[customers["customer_id"].astype(str) == str(customer_id)].iloc[0]
        place = {c: _text_or_none(row.get(c)) for c in (*_TIER_COLUMNS, "grid_reason")}
        for flag, text in _CUSTOMER_FLAGS_ZH.items():
            if _text_or_none(row.get(flag)) in ("True", "1"):
                doubt(flag, text)
        reason = _text_or_none(row.get("address_reason"))
        if reason not in (None, "ok"):
            listed = _text_or_none(row.get("candidates"))
            extra = f"（候选 candidates：{listed.replace('|', '、')}）" if listed else ""
            doubt(reason, f"{_PLACE_DOUBTS_ZH['address']}: {reason}{extra}")
        source = _text_or_none(row.get("location_source"))
        if source in ("village", "town"):
            doubt(f"located_by_{source}", _PLACE_DOUBTS_ZH[source])
    else:
        point = gpd.GeoSeries([Point(result.fault.lon, result.fault.lat)], crs=4326)
        found = gridgeo.assign_to_grids(point, grids).iloc[0]
        place = {c: _text_or_none(found.get(c)) for c in (*_TIER_COLUMNS, "grid_reason")}
        if result.fault.match_level not in (None, "village"):
            doubt("located_by_town", _PLACE_DOUBTS_ZH["town"])
    if place.get("grid_reason") in ("near_boundary", "outside_grids"):
        doubt(str(place["grid_reason"]), _PLACE_DOUBTS_ZH[str(place["grid_reason"])])
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


def _result_and_answer(
    request: Request, store: gridgeo.GeoPackageStore, *args: Any
) -> tuple[gridgeo.DispatchResult, dict[str, Any]]:
    result = _dispatch(request, store, *args)
    return result, _answer(result)


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
        county=cache.read("county"),
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


# --------------------------------------------------------------------------- availability
# Whether each repair station's crews can be sent now (在岗 / 忙碌 / 外出), set by the
# dispatchers on the console. It is kept in a small plain table of the workspace (not in the
# app's memory), so every dispatcher, every worker process and a restarted service see the
# same board; each change is a write through this router, so the audit log records who set
# what and when. A station with no row is on duty. Busy and out stations are passed as
# ``unavailable`` to ``/dispatch`` by the console.

AVAILABILITY_TABLE = "station_availability"
STATION_STATUSES: dict[str, str] = {"on_duty": "在岗", "busy": "忙碌", "out": "外出"}
_AVAILABILITY_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{AVAILABILITY_TABLE}" (station_id TEXT PRIMARY KEY, '
    "status TEXT NOT NULL, note TEXT, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)"
)


class StationStatus(BaseModel):
    """``PUT /dispatch/stations/{station_id}``: a station's availability."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["on_duty", "busy", "out"] = Field(
        description="on_duty 在岗 / busy 忙碌 / out 外出 (busy and out: not dispatched)"
    )
    note: str | None = Field(default=None, max_length=200, description="备注, e.g. 抢修中")


def read_station_availability(store: gridgeo.GeoPackageStore) -> dict[str, dict[str, Any]]:
    """``{station_id: {"status", "note", "updated_by", "updated_at"}}`` of the stations whose
    availability was ever set (a station not in it is on duty)."""
    with store.transaction(write=False) as con:
        found = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (AVAILABILITY_TABLE,)
        ).fetchone()
        if found is None:
            return {}
        rows = con.execute(
            f'SELECT station_id, status, note, updated_by, updated_at FROM "{AVAILABILITY_TABLE}"'
        ).fetchall()
    return {
        r[0]: {"status": r[1], "note": r[2], "updated_by": r[3], "updated_at": r[4]} for r in rows
    }


def write_station_availability(
    store: gridgeo.GeoPackageStore, station_id: str, status: str, *, by: str, note: str | None
) -> None:
    """Set one station's availability in one transaction (the table made on first use)."""
    now = pd.Timestamp.now(tz="UTC").floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction(write=True) as con:
        con.execute(_AVAILABILITY_DDL)
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "last_change) VALUES (?, 'attributes', ?, ?)",
            (AVAILABILITY_TABLE, AVAILABILITY_TABLE, now),
        )
        con.execute(
            f'INSERT INTO "{AVAILABILITY_TABLE}" (station_id, status, note, updated_by, '
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (station_id) DO UPDATE SET "
            "status = excluded.status, note = excluded.note, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (station_id, status, note, by, now),
        )


def _station_board(store: gridgeo.GeoPackageStore) -> dict[str, Any]:
    stations = store.read("repair_stations")
    board = read_station_availability(store)
    rows = []
    for _, station in stations.iterrows():  # tens of stations
        sid = str(station["station_id"])
        kept = board.get(sid, {})
        status = kept.get("status", "on_duty")
        point = station.geometry
        rows.append(
            {
                "station_id": sid,
                "name": _text_or_none(station.get("name")),
                "crews": station.get("crews"),
                "status": status,
                "status_zh": STATION_STATUSES.get(status, status),
                "note": kept.get("note"),
                "updated_by": kept.get("updated_by"),
                "updated_at": kept.get("updated_at"),
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
    return json_response(_station_board(store))


@router.put("/stations/{station_id}", responses=error_responses(400, 401, 403, 404, 422))
def set_station_status(
    station_id: str, body: StationStatus, store: StoreDep, user: CurrentUser
) -> Response:
    """Set a station's availability (audited: who, when, the status); answers the whole board."""
    stations = store.read("repair_stations")
    ids = stations["station_id"].astype(str)
    if station_id not in set(ids):
        msg = (
            f"no repair station `station_id` {station_id!r}: use one of "
            f"{', '.join(sorted(ids))} (GET /dispatch/stations lists them)"
        )
        raise gridgeo.NotFoundError(msg)
    write_station_availability(store, station_id, body.status, by=user.username, note=body.note)
    return json_response(_station_board(store))
