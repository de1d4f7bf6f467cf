"""``/admin``: users and roles (管理员), and the audit log of every write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import gridgeo
from api.deps import PageDep, StoreDep
from api.errors import error_responses
from api.serialise import json_response, records

router = APIRouter(prefix="/admin", tags=["admin"])

RoleCode = Annotated[
    str,
    Field(
        description="leader 领导, dispatcher 调度员, planner 规划员, grid_manager 网格长, "
        "grid_member 网格员, admin 管理员"
    ),
]


class UserCreate(BaseModel):
    """A new user; the password is generated (shown once) unless given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=2, max_length=32)
    role: RoleCode
    grids: list[str] = Field(default_factory=list, description="grid ids, for grid roles")
    display_name: str | None = None
    password: str | None = Field(default=None, min_length=gridgeo.MIN_PASSWORD_LENGTH)


class UserUpdate(BaseModel):
    """Fields to change (absent: kept)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: RoleCode | None = None
    grids: list[str] | None = None
    display_name: str | None = None
    disabled: bool | None = None


class PasswordReset(BaseModel):
    """A new password (generated, shown once, unless given); ends the user's sessions."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=gridgeo.MIN_PASSWORD_LENGTH)


def _user(user: gridgeo.User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_zh": user.role_zh,
        "grids": list(user.grids),
        "disabled": user.disabled,
    }


@router.get("/users")
def list_users(store: StoreDep) -> Response:
    """Every user: role, grids, disabled, failed logins and lock (never a password hash)."""
    table = gridgeo.list_users(store)
    rows = records(table.assign(grids=table["grids"].str.split(",")))
    for row in rows:
        row["grids"] = [g for g in row["grids"] or [] if g]
    return json_response({"users": rows})


@router.post("/users", status_code=201, responses=error_responses(400, 422))
def create_user(body: UserCreate, store: StoreDep) -> Response:
    """Add a user; the answer holds the password once (only its hash is stored)."""
    user, password = gridgeo.add_user(
        store,
        body.username,
        role=body.role,
        grids=body.grids,
        display_name=body.display_name,
        password=body.password,
    )
    response = json_response({"user": _user(user), "password": password})
    response.status_code = 201
    return response


@router.patch("/users/{username}", responses=error_responses(400, 404, 422))
def update_user(username: str, body: UserUpdate, store: StoreDep) -> dict[str, Any]:
    """Change a user's role, grids, shown name, or disable / enable them (disabling ends their
    sessions and tokens at once)."""
    user = gridgeo.update_user(
        store,
        username,
        role=body.role,
        grids=body.grids,
        display_name=body.display_name,
        disabled=body.disabled,
    )
    return {"user": _user(user)}


@router.post("/users/{username}/password", responses=error_responses(400, 404, 422))
def reset_password(username: str, body: PasswordReset, store: StoreDep) -> dict[str, Any]:
    """A new password for a user (shown once), their lock cleared and sessions ended."""
    password = gridgeo.reset_password(store, username, body.password)
    return {"username": username, "password": password}


@router.get("/audit", responses=error_responses(400, 422))
def audit(
    store: StoreDep,
    page: PageDep,
    username: Annotated[str | None, Query(min_length=1, description="only this user")] = None,
    route: Annotated[
        str | None, Query(min_length=1, description="only this route template: /grids/save")
    ] = None,
    start: Annotated[str | None, Query(description="at or after (UTC): 2026-12-01")] = None,
    end: Annotated[str | None, Query(description="before (UTC): 2026-12-02")] = None,
) -> Response:
    """The audit log, newest first: who, role, when (UTC), method, route, target, what, the
    versions of every layer before and after, and the status of each write."""
    table, total = gridgeo.read_audit(
        store,
        username=username,
        route=route,
        start=start,
        end=end,
        limit=page.limit,
        offset=page.offset,
    )
    return json_response(
        {"total": total, "limit": page.limit, "offset": page.offset, "rows": records(table)}
    )
