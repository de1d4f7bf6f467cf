"""``GET /my``: the grid manager's / member's view of their grids (我的网格), phone first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CacheDep, CurrentUser
from api.pages import render

router = APIRouter(include_in_schema=False)

# the statuses of an order still being worked, and the one whose callback is due
OPEN_STATUSES = ("reported", "dispatched", "departed", "arrived", "repaired")
CALLBACK_STATUS = "closed"
# an arrival may be recorded until the crew is on site
ARRIVAL_STATUSES = ("reported", "dispatched", "departed")


@router.get("/my")
def my_page(request: Request, user: CurrentUser, cache: CacheDep) -> Response:
    """My grids: their customers (search, flags, service levels) and their work orders.

    The page reads ``GET /customers`` and ``GET /orders`` (both limited to the user's grids
    by the API) and records arrivals and callbacks with ``PATCH /orders/{order_id}``.
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
    )
