"""``/plan``: where new repair stations or payment points serve the most customers (选址)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

import gridgeo
from api.deps import StoreDep, reach_engine
from api.serialise import json_response, to_jsonable

router = APIRouter(prefix="/plan", tags=["plan"])

MAX_NEW_SITES = 20

# the layer of each service's existing sites
_EXISTING = {"repair": "repair_stations", "payment": "payment_points"}


@router.get("/sites")
def plan_sites(
    request: Request,
    store: StoreDep,
    service: Literal["repair", "payment"] = "repair",
    k: Annotated[int, Query(ge=1, le=MAX_NEW_SITES, description="how many new sites")] = 1,
    method: Literal["exact", "greedy"] = "exact",
    limit_min: Annotated[
        float | None, Query(gt=0, le=600, description="the promise in minutes (default 30 / 10)")
    ] = None,
) -> Response:
    """The ``k`` villages where new repair stations (or payment points) bring the most customers
    within the promise, with the coverage before and after and the gain of each pick.

    Candidates are the workspace's villages; repair runs station → customer by car, payment
    customer → point by the default payment mode.
    """
    settings = gridgeo.DEFAULT_SETTINGS
    mode, existing_layer = settings.mode(service), _EXISTING[service]
    limit_s = settings.limit_s(service) if limit_min is None else limit_min * 60.0
    layers = store.layers()
    if "customers" not in layers:
        msg = "the workspace has no customer archive yet (客户档案为空): import customers first"
        raise gridgeo.NotFoundError(msg)
    villages = store.read("villages")
    existing = store.read(existing_layer) if existing_layer in layers else None
    engine = reach_engine(request, store, mode)
    result = gridgeo.site_facilities(
        engine,
        store.read("customers"),
        villages,
        service=service,
        customer_snap=gridgeo.read_customer_snaps(store, engine, mode=mode),
        existing=existing,
        k=k,
        limit_s=limit_s,
        id_column="village_code",
        method=method,
    )
    where = villages.geometry.to_crs("EPSG:4326")
    picks = []
    for rank, row in result.picks.iterrows():
        point = where.loc[row["candidate"]]
        picks.append(
            {
                "rank": rank,
                "village_code": row["site_id"],
                "village": villages.loc[row["candidate"], "village"],
                "town": villages.loc[row["candidate"], "town"] if "town" in villages else None,
                "lon": round(point.x, 6),
                "lat": round(point.y, 6),
                "gain_customers": row["gain_customers"],
                "covered_share": row["covered_share"],
            }
        )
    return json_response(
        to_jsonable(
            {
                "service": service,
                "mode": mode,
                "limit_min": limit_s / 60.0,
                "k": k,
                "method": method,
                "optimal": result.optimal,
                "customers": result.n_customers,
                "covered_before": result.covered_before,
                "covered_after": result.covered_after,
                "share_before": result.share_before,
                "share_after": result.share_after,
                "picks": picks,
            }
        )
    )
