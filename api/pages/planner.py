"""``GET /planner``: the planner's map editor (网格规划).

The page reads and writes through the JSON routes of :mod:`api.routers.grids`
(``GET /grids``, ``/grids/villages``, ``/grids/moves``, ``/grids/versions``,
``/grids/substations``, ``/grids/compare``, ``POST /grids/preview``, ``/grids/save``,
``/grids/restore``), so the role policy, CSRF and the audit hold for it as for any API
client.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/planner")
def planner_page(request: Request) -> Response:
    """The grids by tier on a map; move villages, split, merge, reassign a substation;
    preview; save; history; compare two versions; restore."""
    return render(request, "planner.html")
