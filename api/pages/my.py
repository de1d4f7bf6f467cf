"""``GET /my``: the grid manager's / member's view of their grids (我的网格), phone first."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

import gridgeo
from api.deps import CacheDep, CurrentUser
from api.pages import render

router = APIRouter(include_in_schema=False)

# the statuses of an order still being worked, and the one whose callback is due
OPEN_STATUSES = ("reported", "dispatched", "departed", "arrived", "repaired")
CALLBACK_STATUS = "closed"
# an arrival may be recorded until the crew is on site
ARRIVAL_STATUSES = ("reported", "dispatched", "departed")


def current_quarter(now: pd.Timestamp | None = None) -> str:
    """The quarter label (``2026-Q4``) of ``now`` (default: the clock) in China time."""
    moment = pd.Timestamp.now(tz=gridgeo.TIMEZONE) if now is None else now
    moment = moment.tz_convert(gridgeo.TIMEZONE) if moment.tzinfo else moment
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


@router.get("/my")
def my_page(request: Request, user: CurrentUser, cache: CacheDep) -> Response:
    """My grids: their customers (search, flags, service levels), their work orders, and
    the quarter's callbacks due and visit coverage (grid roles).

    The page reads ``GET /customers`` and ``GET /orders`` (both limited to the user's grids
    by the API) and records arrivals and callbacks with ``PATCH /orders/{order_id}``; for a
    grid manager / member it reads ``GET /visits/callbacks`` and ``GET /visits/coverage``
    of this quarter and records callbacks and home visits with ``POST /visits``.
    """
    grids = cache.read("grids")
    mine = grids.loc[grids["grid_id"].astype(str).isin(user.grids)].sort_values("grid_id")
    shown: list[dict[str, Any]] = [
        {"grid_id": str(row.grid_id), "name": str(row.name), "tier": int(row.tier)}
        for row in mine.itertuples()
    ]
    return render(
        request,
        "my.html",
        my_grids=shown,
        open_statuses=",".join(OPEN_STATUSES),
        arrival_statuses=",".join(ARRIVAL_STATUSES),
        callback_status=CALLBACK_STATUS,
        quarter=current_quarter(),
        visits_shown=user.role in gridgeo.GRID_ROLES,
        visit_outcomes=gridgeo.VISIT_OUTCOMES,
        questions=gridgeo.CALLBACK_QUESTIONS,
    )
