"""``/kpis``: 30-minute repair and 10-minute payment compliance, county and per tier."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response

import gridgeo
from api.deps import StoreDep
from api.serialise import json_response, records

router = APIRouter(prefix="/kpis", tags=["kpis"])

GRID_COLUMNS = {"tier1": "grid_t1", "tier2": "grid_t2", "tier3": "grid_t3"}


@router.get("")
def get_kpis(store: StoreDep) -> Response:
    """Compliance shares from ``customer_access`` joined with the customers' grid ids."""
    customers = store.read("customers")
    stored = store.read("customer_access")
    access = (
        pd.DataFrame(stored.drop(columns=[stored.geometry.name, "version"]))
        .set_index("customer_id")
        .reindex(customers["customer_id"])
        .set_axis(customers.index)
    )
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
    return json_response(body)
