"""``GET /admin``: users, roles and the audit log (管理员), over the ``/admin/...`` routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

import gridgeo
from api.pages import render

router = APIRouter(include_in_schema=False)

AUDIT_PAGE = 50  # audit rows per page


@router.get("/admin")
def admin_page(request: Request) -> Response:
    """Users (list, add, change role and grids, disable, reset the password) and the audit
    log, paged and filtered by user, route and date."""
    roles = [{"code": code, "zh": zh} for code, zh in gridgeo.ROLES.items()]
    return render(
        request,
        "admin.html",
        roles=roles,
        grid_roles=",".join(sorted(gridgeo.GRID_ROLES)),
        audit_page=AUDIT_PAGE,
        min_password=gridgeo.MIN_PASSWORD_LENGTH,
    )
