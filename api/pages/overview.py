"""``GET /overview``: the county's key figures for the leadership (领导), phone first.

Aggregates only: ``GET /kpis``, the last month's evaluation (``GET /reports/month/{month}``)
and the last full week's 服务之星 (``GET /stars``); no customer's personal data.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.pages import render
from api.routers.orders import china_tz

router = APIRouter(include_in_schema=False)


def last_month(today: dt.date) -> str:
    """The month before ``today``'s, as ``YYYY-MM`` (``2026-01-15`` -> ``2025-12``)."""
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@router.get("/overview")
def overview_page(request: Request) -> Response:
    """The county's figures: service levels, last month's evaluation, the week's star."""
    today = dt.datetime.now(china_tz()).date()
    return render(request, "overview.html", month=last_month(today))
