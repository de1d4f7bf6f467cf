"""The app factory: ``create_app(settings)`` builds one service over one workspace.

Run it with ``GRIDGEO_WORKSPACE=out/demo/workspace.gpkg uvicorn --factory
api.main:create_app``. Nothing is built at import.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

import gridgeo
from api.cache import WorkspaceCache
from api.errors import limit_responses, register_error_handlers
from api.limits import LimitsMiddleware
from api.openapi import declare_contract
from api.pages import admin as admin_page
from api.pages import console as console_page
from api.pages import login as login_page
from api.pages import my as my_page
from api.pages import overview as overview_page
from api.pages import planner as planner_page
from api.routers import admin as admin_router
from api.routers import auth as auth_router
from api.routers import customers, dispatch, docs, grids, health, kpis, orders, plan, service
from api.routers import visits as visits_router
from api.security import SecurityMiddleware
from api.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service over the workspace named in ``settings``.

    Parameters
    ----------
    settings
        Defaults to :class:`~api.settings.Settings` read from the
        ``GRIDGEO_*`` environment variables.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    gridgeo.InputError
        If no workspace is configured.
    gridgeo.NotFoundError, gridgeo.CorruptFileError
        If the workspace file is missing or not a gridgeo workspace: the
        service refuses to start rather than answer every request with an error.
    """
    if settings is None:
        try:
            settings = Settings()  # type: ignore[call-arg]  # fields come from the environment
        except ValidationError as exc:
            fields = ", ".join(
                f"GRIDGEO_{'_'.join(map(str, e['loc'])).upper()}" for e in exc.errors()
            )
            msg = (
                f"gridgeo service settings are incomplete or invalid ({fields}): set "
                "`GRIDGEO_WORKSPACE` to a workspace GeoPackage, e.g. the one "
                "`gridgeo demo --out DIR` writes as DIR/workspace.gpkg."
            )
            raise gridgeo.InputError(msg) from exc
    store = gridgeo.GeoPackageStore.open(settings.workspace)
    logger.info("serving workspace %s", store.path)
    app = FastAPI(
        title="gridgeo",
        version=gridgeo.__version__,
        summary="Grid-based power supply service (供电服务网格化管理) for a county.",
        docs_url=None,  # /docs and /redoc come from api.routers.docs, on vendored assets
        redoc_url=None,
        responses=limit_responses(),  # 400/408/413/414/503 of api.limits, on every route
    )
    app.state.settings = settings
    app.state.store = store
    app.state.cache = WorkspaceCache(store, enabled=settings.cache_layers)  # layers per version
    gridgeo.ensure_user_tables(store)  # users, sessions, audit: created on first start
    register_error_handlers(app)
    # every route needs a login and a role (api.security.POLICY); every write is audited
    app.add_middleware(SecurityMiddleware)
    # hosts, sizes, read times, heavy work: checked before anything else (api.limits)
    app.add_middleware(LimitsMiddleware, settings=settings)
    for module in (auth_router, admin_router):
        app.include_router(module.router)
    for module in (health, grids, customers, kpis, dispatch, plan, orders, service, docs):
        app.include_router(module.router)
    app.include_router(visits_router.router)  # 走访/回访 records, coverage, call lists
    app.include_router(login_page.router)  # the web pages (api/pages), one line each
    app.include_router(my_page.router)
    app.include_router(admin_page.router)
    app.include_router(overview_page.router)
    app.include_router(console_page.router)
    app.include_router(planner_page.router)
    app.mount(docs.STATIC_URL, StaticFiles(directory=docs.STATIC_DIR), name="static")
    declare_contract(app, settings.max_page)  # every status the routes answer, in OpenAPI
    return app
