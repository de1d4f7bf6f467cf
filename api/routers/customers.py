"""``/customers``: one customer, its service levels and whom to call."""

from __future__ import annotations

import contextvars
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

import gridgeo
from api.cache import MISSING, WorkspaceCache
from api.deps import GRID_TIER_COLUMNS, CacheDep, CurrentUser, PageDep, allowed_rows, kept_json
from api.errors import error_responses
from api.serialise import json_response, records, show_personal_data

router = APIRouter(prefix="/customers", tags=["customers"])

CONTACT_COLUMNS = ("grid_id", "name", "manager", "phone", "members", "liaison", "liaison_phone")


def _one(frame: pd.DataFrame, customer_id: str) -> dict[str, Any] | None:
    rows = frame.loc[frame["customer_id"].astype(str) == customer_id]
    return records(rows.drop(columns="version", errors="ignore"))[0] if len(rows) else None


Flag = Literal["repair", "payment", "gps", "care"]
# the columns of a row of ``GET /customers`` (those the workspace has)
LIST_COLUMNS = (
    "customer_id",
    "name",
    "address",
    "phone",
    "category",
    "voltage_class",
    "vulnerable",
    "town",
    "village",
    "grid_t2",
    "grid_t3",
    "coords_conflict_address",
    "swapped_lonlat",
    "coords_outside_county",
)
ACCESS_COLUMNS = (
    "repair_eta_s",
    "repair_station_id",
    "repair_ok",
    "repair_reason",
    "payment_eta_s",
    "payment_point_id",
    "payment_ok",
    "payment_reason",
)
SEARCH_COLUMNS = ("customer_id", "name", "address", "phone")
GPS_COLUMNS = ("coords_conflict_address", "swapped_lonlat", "coords_outside_county")


def customer_flags(customers: pd.DataFrame, access: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per flag of ``GET /customers`` on the customers' index: ``repair``
    (the 30-minute repair promise does not hold), ``payment`` (no payment point within 10
    minutes), ``gps`` (the customer's GPS contradicts the address, is swapped, or lies outside
    the county) and ``care`` (重点关怀, a vulnerable customer)."""

    def true(frame: pd.DataFrame, column: str) -> np.ndarray:
        if column not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        return frame[column].fillna(False).astype(bool).to_numpy()

    gps = np.zeros(len(customers), dtype=bool)
    for column in GPS_COLUMNS:
        gps |= true(customers, column)
    return pd.DataFrame(
        {
            "repair": ~true(access, "repair_ok"),
            "payment": ~true(access, "payment_ok"),
            "gps": gps,
            "care": true(customers, "vulnerable"),
        },
        index=customers.index,
    )


@router.get("", responses=error_responses(400, 404, 422))
def list_customers(
    cache: CacheDep,
    page: PageDep,
    user: CurrentUser,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="户号、姓名、地址或电话中的文字"),
    ] = None,
    flag: Annotated[
        list[Flag] | None,
        Query(
            description="only customers with every flag given: repair (30 分钟抢修未达), "
            "payment (10 分钟缴费未达), gps (GPS 与地址不符), care (重点关怀)"
        ),
    ] = None,
    grid: Annotated[str | None, Query(min_length=1, description="a grid id of any tier")] = None,
) -> Response:
    """The customers the user may see (a grid manager / member: their grids' only), searched
    by number, name, address or phone, filtered by flags, paged; with their repair and payment
    access and the flags. ``counts`` counts each flag over the same customers before ``q`` and
    ``flag`` (the grid's figures); ``total`` counts the customers that match."""
    customers, _, access = customer_index(cache)  # read once per workspace version
    if access is None:
        msg = (
            f"工作区没有服务水平 / the workspace has no `{gridgeo.ACCESS_LAYER}` layer: compute "
            "it with `gridgeo run --workspace W --out DIR`."
        )
        raise gridgeo.NotFoundError(msg)
    mine = np.array(allowed_rows(user, customers), dtype=bool)  # a copy: narrowed below
    if grid is not None:
        tiers = [c for c in ("grid_t1", "grid_t2", "grid_t3") if c in customers.columns]
        in_grid = customers[tiers].astype(str).eq(grid).any(axis=1).to_numpy()
        if not (in_grid & mine).any():  # no such grid, or none of its customers are theirs
            msg = f"没有此网格的客户 / no customers of `grid` {grid!r}: give one of your grids."
            raise gridgeo.NotFoundError(msg)
        mine = mine & in_grid
    flags = customer_flags(customers, access)
    counts = {"customers": int(mine.sum())}
    counts.update({name: int((flags[name].to_numpy() & mine).sum()) for name in flags.columns})
    keep = mine.copy()
    for name in flag or []:
        keep &= flags[name].to_numpy()
    if q is not None:
        text = q.strip().lower()
        found = np.zeros(len(customers), dtype=bool)
        for column in SEARCH_COLUMNS:
            if column in customers.columns:
                values = customers[column].fillna("").astype(str).str.lower()
                found |= values.str.contains(text, regex=False).to_numpy()
        keep &= found
    rows = customers.loc[keep].iloc[page.offset : page.offset + page.limit]
    table = pd.DataFrame(rows[[c for c in LIST_COLUMNS if c in rows.columns]])
    served = [c for c in ACCESS_COLUMNS if c in access.columns]
    table = table.join(pd.DataFrame(access.loc[rows.index, served]))
    table = table.join(flags.loc[rows.index].add_prefix("flag_"))
    body = {
        "total": int(keep.sum()),
        "limit": page.limit,
        "offset": page.offset,
        "counts": counts,
        "customers": records(table),
    }
    return json_response(body)


def customer_index(
    cache: WorkspaceCache,
) -> tuple[gpd.GeoDataFrame, dict[str, int], gpd.GeoDataFrame | None]:
    """The customers, their row by ``customer_id`` and their access join (``None`` without a
    ``customer_access`` layer), built once per workspace version."""

    def build() -> tuple[gpd.GeoDataFrame, dict[str, int], gpd.GeoDataFrame | None]:
        customers = cache.read("customers")
        ids = customers["customer_id"].astype(str).tolist()
        index = {cid: row for row, cid in reversed(list(enumerate(ids)))}  # first row wins
        joined = None
        if gridgeo.ACCESS_LAYER in cache.layers():
            joined = gridgeo.access_for_customers(customers, cache.read(gridgeo.ACCESS_LAYER))
        return customers, index, joined

    return cache.get("customer_index", build)


CUSTOMER_ANSWERS_KEPT = 4096  # GET /customers/{id} answers kept per workspace version


@router.get("/{customer_id}")
async def get_customer(
    customer_id: str, request: Request, cache: CacheDep, user: CurrentUser
) -> Response:
    """A customer, its repair/payment access and the tier-3 grid's manager and liaison.

    A customer without an access row is within neither promise (reason ``not_computed``).
    A grid manager / member gets 404 for a customer outside their grids.
    """
    # the answer is kept per workspace version, unmasked, and its JSON bytes per role's view
    # of personal data (api.deps.kept_json); a kept answer costs no thread hop
    kept = cache.peek("customer", customer_id)
    if kept is MISSING:
        kept = await run_in_threadpool(
            cache.remember,
            "customer",
            customer_id,
            lambda: contextvars.copy_context().run(_customer_answer, cache, customer_id),
            max_entries=CUSTOMER_ANSWERS_KEPT,
        )
    hit, body = kept
    if len(hit) == 0 or not allowed_rows(user, hit).any():  # another grid's: as if not there
        msg = (
            f"no customer with `customer_id` {customer_id!r}: check the number on the bill "
            "(GET /grids/{grid_id}/customers lists a grid's customers)."
        )
        raise gridgeo.NotFoundError(msg)
    return await kept_json(
        request,
        "customer_json",
        customer_id,
        lambda: bytes(json_response(body).body),
        max_entries=CUSTOMER_ANSWERS_KEPT,
    )


def _customer_answer(cache: WorkspaceCache, customer_id: str) -> tuple[pd.DataFrame, Any]:
    """The customer's grid ids (a one-row frame; empty when unknown) and its answer, built
    with personal data shown (run in a copy of the request's context)."""
    show_personal_data(True)
    customers, index, joined = customer_index(cache)
    row = index.get(customer_id)
    hit = customers.iloc[[] if row is None else [row]]
    tiers = pd.DataFrame(hit[[c for c in GRID_TIER_COLUMNS if c in hit.columns]])
    if len(hit) == 0:
        return tiers, None
    customer = _one(hit, customer_id) or {}
    point = hit.geometry.iloc[0]
    if point is not None and not point.is_empty:
        customer.update(lon=round(point.x, 7), lat=round(point.y, 7))
    access = None
    if joined is not None:  # no row: within neither promise, not_computed
        row_access = joined.loc[hit.index]
        access = _one(pd.DataFrame(row_access.drop(columns=joined.geometry.name)), customer_id)
    grids = cache.read("grids")
    t3 = grids.loc[grids["grid_id"].astype(str) == str(customer.get("grid_t3"))]
    columns = [c for c in CONTACT_COLUMNS if c in t3.columns]
    contact = records(pd.DataFrame(t3[columns]))[0] if len(t3) else None
    return tiers, {"customer": customer, "access": access, "contact": contact}
