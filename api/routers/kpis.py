"""``/kpis``: 30-minute repair and 10-minute payment compliance, county and per tier."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

import gridgeo
from api.deps import StoreDep, kept_json
from api.serialise import json_response, records

router = APIRouter(prefix="/kpis", tags=["kpis"])

GRID_COLUMNS = {"tier1": "grid_t1", "tier2": "grid_t2", "tier3": "grid_t3"}


@router.get("")
async def get_kpis(request: Request, store: StoreDep) -> Response:
    """Compliance shares of the customers' access per grid of each tier and for the county.

    A grid's customers are those whose located position it contains; customers in no grid
    are the row ``未定位`` of each tier; a customer without an access row is within neither
    promise (reason ``not_computed``). Computed once per workspace version (aggregates only:
    no personal data is kept).
    """
    return await kept_json(request, "kpis", None, lambda: bytes(json_response(_kpis(store)).body))


def _kpis(store: gridgeo.GeoPackageStore) -> dict[str, Any]:
    customers, access = gridgeo.read_access(store)
    kpis = gridgeo.reach_kpis(access, customers, grid_columns=GRID_COLUMNS)
    body: dict[str, Any] = {
        "versions": {
            "customers": store.current_version("customers"),
            "customer_access": store.current_version("customer_access"),
        },
        "county": records(kpis["county"].reset_index(drop=True))[0],
    }
    for tier in GRID_COLUMNS:
        table = kpis[tier]
        body[tier] = records(table.rename_axis("grid_id").reset_index())
    return body
