"""``/customers``: one customer, its service levels and whom to call."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response

import gridgeo
from api.deps import CurrentUser, StoreDep, allowed_rows
from api.serialise import json_response, records

router = APIRouter(prefix="/customers", tags=["customers"])

CONTACT_COLUMNS = ("grid_id", "name", "manager", "phone", "members", "liaison", "liaison_phone")


def _one(frame: pd.DataFrame, customer_id: str) -> dict[str, Any] | None:
    rows = frame.loc[frame["customer_id"].astype(str) == customer_id]
    return records(rows.drop(columns="version", errors="ignore"))[0] if len(rows) else None


@router.get("/{customer_id}")
def get_customer(customer_id: str, store: StoreDep, user: CurrentUser) -> Response:
    """A customer, its repair/payment access and the tier-3 grid's manager and liaison.

    A customer without an access row is within neither promise (reason ``not_computed``).
    A grid manager / member gets 404 for a customer outside their grids.
    """
    customers = store.read("customers")
    hit = customers.loc[customers["customer_id"].astype(str) == customer_id]
    hit = hit.loc[allowed_rows(user, hit)]  # another grid's customer: as if not there
    if len(hit) == 0:
        msg = (
            f"no customer with `customer_id` {customer_id!r}: check the number on the bill "
            "(GET /grids/{grid_id}/customers lists a grid's customers)."
        )
        raise gridgeo.NotFoundError(msg)
    customer = _one(hit, customer_id) or {}
    point = hit.geometry.iloc[0]
    if point is not None and not point.is_empty:
        customer.update(lon=round(point.x, 7), lat=round(point.y, 7))
    access = None
    if gridgeo.ACCESS_LAYER in store.layers():  # no row: within neither promise, not_computed
        joined = gridgeo.access_for_customers(hit, store.read(gridgeo.ACCESS_LAYER))
        access = _one(pd.DataFrame(joined.drop(columns=joined.geometry.name)), customer_id)
    grids = store.read("grids")
    t3 = grids.loc[grids["grid_id"].astype(str) == str(customer.get("grid_t3"))]
    columns = [c for c in CONTACT_COLUMNS if c in t3.columns]
    contact = records(pd.DataFrame(t3[columns]))[0] if len(t3) else None
    return json_response({"customer": customer, "access": access, "contact": contact})
