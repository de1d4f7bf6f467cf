"""``/visits``: home-visit and callback records (走访/回访), coverage and callback lists.

Grid managers and members see and record the visits of their own grids only; customers'
names, phones and addresses are masked by :mod:`api.serialise` for roles that may not see
personal data.
"""

from __future__ import annotations

from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import gridgeo
from api.deps import CurrentUser, PageDep, StoreDep, allowed_rows
from api.errors import error_responses
from api.routers.orders import local_times, order_rows
from api.serialise import json_response, records

router = APIRouter(prefix="/visits", tags=["visits"])

LABELS: dict[str, dict[str, str]] = {
    "kind": gridgeo.VISIT_KINDS,
    "outcome": gridgeo.VISIT_OUTCOMES,
    "satisfaction": gridgeo.SATISFACTION,
}
_TIME = "China time, e.g. 2027-01-06 09:30 (or ISO 8601 with +08:00)"


class VisitCreate(BaseModel):
    """``POST /visits``: one home visit or callback, recorded by the logged-in user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    visit_id: str = Field(min_length=1, max_length=64, description="记录编号")
    kind: str = Field(min_length=1, description="类型: home / 家访, callback / 电话回访")
    customer_id: str = Field(min_length=1, description="户号")
    done_at: str = Field(min_length=1, description=f"走访/回访时间, {_TIME}")
    outcome: str = Field(
        min_length=1, description="结果: 完成 done, 不在家 not_home, 拒访 refused, 无法接通 ..."
    )
    member: str | None = Field(
        default=None, description="网格员 who visited (default: a grid member's own name)"
    )
    planned_on: str | None = Field(default=None, description="计划日期 2027-01-06")
    satisfaction: str | None = Field(default=None, description="满意度: 满意, 基本满意, 不满意")
    hazard: str | None = Field(default=None, max_length=500, description="发现隐患")
    order_id: str | None = Field(default=None, description="an existing work order it refers to")
    notes: str | None = Field(default=None, max_length=1000, description="备注/意见建议")
    raise_order: str | None = Field(
        default=None, description="raise a work order: 故障报修 (fault) or 投诉 (complaint)"
    )
    new_order_id: str | None = Field(
        default=None, min_length=1, description="the raised order's number (default ZF + id)"
    )
    reason: str | None = Field(default=None, description="why (default: 记录走访)")


def visit_table(visits: gpd.GeoDataFrame) -> pd.DataFrame:
    """Records as served: Chinese labels beside the codes, times in China time, no point
    (a customer's point is where they live)."""
    table = local_times(pd.DataFrame(visits.drop(columns=visits.geometry.name)))
    for column, labels in LABELS.items():
        at = table.columns.get_loc(column) + 1
        table.insert(at, f"{column}_zh", table[column].map(labels).fillna(""))
    return table


def visible_grids(store: gridgeo.GeoPackageStore, user: gridgeo.User) -> set[str] | None:
    """The tier-3 grids a grid role may see (theirs, or under theirs); None: every grid."""
    if user.role not in gridgeo.GRID_ROLES:
        return None
    grids = store.read("grids")
    parent = dict(zip(grids["grid_id"].astype(str), grids["parent_id"].astype(str), strict=True))
    mine = set(user.grids)
    out = set()
    for grid_id in grids.loc[grids["tier"] == 3, "grid_id"].astype(str):
        up = parent.get(grid_id, "")
        if {grid_id, up, parent.get(up, "")} & mine:
            out.add(grid_id)
    return out


def _quarter(quarter: str) -> int:
    try:
        start, _ = gridgeo.period_bounds(quarter, "quarter")
    except gridgeo.InputError as exc:
        msg = f"季度无法识别 / `quarter` {quarter!r} is not a quarter: write it like 2027-Q1"
        raise gridgeo.InputError(msg) from exc
    return int(start.year)


@router.get("", responses=error_responses(400, 422))
def list_visits(
    store: StoreDep,
    page: PageDep,
    user: CurrentUser,
    member: Annotated[str | None, Query(min_length=1, description="网格员")] = None,
    grid: Annotated[str | None, Query(min_length=1, description="a grid id of any tier")] = None,
    kind: Annotated[
        str | None, Query(min_length=1, description="home / 家访 or callback / 电话回访")
    ] = None,
    start: Annotated[str | None, Query(description="made at or after: 2027-01-01")] = None,
    end: Annotated[str | None, Query(description="made before: 2027-02-01")] = None,
) -> Response:
    """The visit and callback records (and planned visits), sorted by id, filtered and paged;
    ``total`` counts all that match. A grid manager / member sees their grids' only."""
    visits = gridgeo.read_visits(store, member=member, grid=grid, kind=kind, start=start, end=end)
    visits = visits.loc[allowed_rows(user, visits)]
    shown = visits.iloc[page.offset : page.offset + page.limit]
    paging = {"total": len(visits), "limit": page.limit, "offset": page.offset}
    return json_response({**paging, "visits": records(visit_table(shown))})


@router.post("", status_code=201, responses=error_responses(400, 404, 409, 422))
def create_visit(body: VisitCreate, store: StoreDep, user: CurrentUser) -> Response:
    """Record a visit or callback as a new version, with the logged-in user as its author.

    Checked as an imported row (400 with ``errors``: ``field``, ``value``, ``problem``); a
    grid manager / member records for the customers of their grids only (404 otherwise).
    ``raise_order`` raises a 故障报修 or 投诉 work order for the customer, linked by the
    record's ``order_id``.
    """
    found = store.read_rows("customers", [body.customer_id])
    if not len(found) or not allowed_rows(user, found).any():
        msg = (
            f"没有此客户 / no customer `customer_id` {body.customer_id!r}"
            + (" in your grids" if user.role in gridgeo.GRID_ROLES else "")
            + ": find the customer with GET /customers."
        )
        raise gridgeo.NotFoundError(msg)
    fields = body.model_dump(exclude={"raise_order", "new_order_id", "reason"}, exclude_none=True)
    if not fields.get("member") and user.role == "grid_member":
        fields["member"] = user.display_name or user.username
    made = gridgeo.record_visit(
        store,
        fields,
        author=user.username,
        reason=body.reason,
        raise_order=body.raise_order,
        order_id=body.new_order_id,
    )
    order: Any = None
    if body.raise_order is not None:
        orders = gridgeo.read_orders(store)
        hit = orders.loc[(orders["order_id"] == made["order_id"].iloc[0]).to_numpy()]
        order = order_rows(hit)[0] if len(hit) else None
    response = json_response({"visit": records(visit_table(made))[0], "order": order})
    response.status_code = 201
    return response


@router.get("/coverage", responses=error_responses(400, 404, 422))
def coverage(
    store: StoreDep,
    user: CurrentUser,
    quarter: Annotated[str, Query(min_length=1, description="the quarter: 2027-Q1")],
    as_of: Annotated[
        str | None, Query(description="count at this moment (default now): 2027-03-31 18:00")
    ] = None,
) -> Response:
    """Per tier-3 grid and member: customers with two home visits this year and with a
    callback this quarter (counts and shares), and the overdue customers."""
    result = gridgeo.visit_coverage(store, _quarter(quarter), quarter, as_of=as_of)
    by_grid, by_member, overdue = result.by_grid, result.by_member, result.overdue
    seen = visible_grids(store, user)
    if seen is not None:
        by_grid = by_grid[by_grid["grid_id"].isin(seen)]
        by_member = by_member[by_member["grid_ids"].map(lambda g: bool(set(g) & seen))]
        overdue = overdue[overdue["grid_t3"].isin(seen)]
    return json_response(
        {
            "year": result.year,
            "quarter": result.quarter,
            "as_of": result.as_of.isoformat(),
            "by_grid": records(by_grid),
            "by_member": records(by_member),
            "overdue": records(overdue),
        }
    )


@router.get("/callbacks", responses=error_responses(400, 404, 422))
def callbacks(
    store: StoreDep,
    user: CurrentUser,
    quarter: Annotated[str, Query(min_length=1, description="the quarter: 2027-Q1")],
    member: Annotated[str | None, Query(min_length=1, description="one member's list")] = None,
    as_of: Annotated[str | None, Query(description="recent orders up to (default now)")] = None,
) -> Response:
    """The quarter's callback list per member: customers not yet called back, those with an
    open or recent (30 days) work order first, with the questions to ask."""
    _quarter(quarter)
    due = gridgeo.callbacks_due(store, quarter, member=member, as_of=as_of)
    seen = visible_grids(store, user)
    if seen is not None:
        due = due[due["grid_t3"].isin(seen)]
    return json_response(
        {
            "quarter": quarter.strip(),
            "questions": list(gridgeo.CALLBACK_QUESTIONS),
            "total": len(due),
            "callbacks": records(due.drop(columns=["questions"])),
        }
    )
