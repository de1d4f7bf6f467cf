"""``GET /console``: the dispatcher console (调度台)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/console")
def console_page(request: Request) -> Response:
    """The dispatcher console: find a fault, the nearest available station, whom to call."""
    return render(request, "console.html")
