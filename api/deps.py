"""Dependencies shared by the routers: the settings, the workspace store, paging, the user."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

import gridgeo
from api.cache import MISSING, WorkspaceCache
from api.security import USER_KEY
from api.serialise import JSON_MEDIA_TYPE, personal_data_shown
from api.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def get_store(request: Request) -> gridgeo.GeoPackageStore:
    """The workspace store opened when the app was built."""
    return request.app.state.store


def get_cache(request: Request) -> WorkspaceCache:
    """The workspace's layers kept in memory, read once per version (:mod:`api.cache`)."""
    return request.app.state.cache


# FastAPI runs a plain ``def`` dependency in a worker thread (a thread hop of ~0.1 ms per
# dependency per request, most of a cached answer's cost); these look-ups never block, so the
# dependencies are coroutines that run on the event loop
async def _settings_dep(request: Request) -> Settings:
    return get_settings(request)


async def _store_dep(request: Request) -> gridgeo.GeoPackageStore:
    return get_store(request)


async def _cache_dep(request: Request) -> WorkspaceCache:
    return get_cache(request)


SettingsDep = Annotated[Settings, Depends(_settings_dep)]
StoreDep = Annotated[gridgeo.GeoPackageStore, Depends(_store_dep)]
CacheDep = Annotated[WorkspaceCache, Depends(_cache_dep)]


async def get_current_user(request: Request) -> gridgeo.User:
    """The logged-in user, put in the request by :class:`api.security.SecurityMiddleware`.

    Routers limit grid roles to their grids with ``user.allows_grid(t1, t2, t3)``
    and answer 404 (not 403) for rows outside them.
    """
    user = request.scope.get(USER_KEY)
    if user is None:  # a public route asked for a user: it has none
        msg = "需要登录 / log in first: POST /auth/login or send `Authorization: Bearer <token>`"
        raise gridgeo.LoginError(msg)
    return user


CurrentUser = Annotated[gridgeo.User, Depends(get_current_user)]

GRID_TIER_COLUMNS = ("grid_t1", "grid_t2", "grid_t3")


def allowed_rows(user: gridgeo.User, frame: Any) -> Any:
    """A boolean array: the rows of ``frame`` (with ``grid_t1..3``) that ``user`` may see
    (all for roles not limited to grids)."""
    if user.role not in gridgeo.GRID_ROLES:
        return np.ones(len(frame), dtype=bool)
    columns = [c for c in GRID_TIER_COLUMNS if c in frame.columns]
    return frame[columns].astype(str).isin(list(user.grids)).any(axis=1).to_numpy()


MAX_OFFSET = 1_000_000_000  # rows to skip at most (SQLite's OFFSET takes 64-bit integers)


@dataclass(frozen=True)
class Page:
    """``limit`` rows from row ``offset`` on."""

    limit: int
    offset: int


async def get_page(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="rows per page")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")] = 0,
) -> Page:
    """Paging parameters; ``limit`` is capped by ``GRIDGEO_MAX_PAGE``."""
    if limit is None:
        limit = min(settings.default_page, settings.max_page)
    if limit > settings.max_page:
        msg = (
            f"`limit` is {limit!r}, above the largest page of {settings.max_page!r} rows: "
            "ask for fewer rows and page with `offset`"
        )
        raise RequestValidationError(
            [{"loc": ("query", "limit"), "msg": msg, "type": "value_error"}]
        )
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(get_page)]


def reach_engine(
    request: Request, store: gridgeo.GeoPackageStore, mode: str = "drive"
) -> gridgeo.ReachEngine:
    """The workspace's reach engine of one travel mode, built on first use and kept by the app
    (the roads do not change while the service runs; two first requests at once may both build
    it, which is harmless)."""
    engines: dict[str, gridgeo.ReachEngine] = request.app.state.__dict__.setdefault("engines", {})
    engine = engines.get(mode)
    if engine is None:
        engine = engines[mode] = gridgeo.read_reach_engine(store, mode=mode)
    return engine


def station_labels(
    request: Request, engine: gridgeo.ReachEngine, stations: Any
) -> gridgeo.StationLabels:
    """The repair stations' travel-time labels on an engine (one search per station), built
    on first use and kept by the app with the engine; rebuilt only when the stations are
    moved, added or removed (checked on every call, well under a millisecond). Two first requests
    at once may both build them, which is harmless."""
    kept: dict[Any, gridgeo.StationLabels] = request.app.state.__dict__.setdefault(
        "station_labels", {}
    )
    labels = kept.get(engine.mode)
    if labels is None or labels.engine is not engine or not labels.built_for(stations):
        labels = kept[engine.mode] = gridgeo.StationLabels(engine, stations)
    return labels


async def kept_json(
    request: Request,
    group: str,
    key: Hashable,
    build: Callable[[], bytes],
    *,
    max_entries: int = 1,
    media_type: str = JSON_MEDIA_TYPE,
) -> Response:
    """An answer whose JSON bytes are kept per workspace version (:mod:`api.cache`).

    The bytes are kept per ``key`` and per whether the request's role may see personal data
    (:func:`api.serialise.json_response` masks while ``build`` runs, so a leader's masked
    bytes are never sent to a dispatcher or the other way round). A kept answer is sent
    from the event loop, a ``max(fid)`` check and a dict look-up, with no thread hop and no
    serialising; ``build`` runs in a worker thread, once per key and version (errors it
    raises are not kept).
    """
    cache = get_cache(request)
    full_key = (key, personal_data_shown())
    body = cache.peek(group, full_key)
    if body is MISSING:
        body = await run_in_threadpool(
            cache.remember, group, full_key, build, max_entries=max_entries
        )
    return Response(content=body, media_type=media_type)
