"""Settings of the gridgeo service, read from ``GRIDGEO_*`` environment variables.

Built by :func:`api.main.create_app` (never at import), so tests and several
apps in one process each get their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PAGE = 100
DEFAULT_MAX_PAGE = 1000
DEFAULT_SESSION_HOURS = 12.0
DEFAULT_TOKEN_DAYS = 30.0
DEFAULT_AUTH_CACHE_S = 5.0


class Settings(BaseSettings):
    """Where the workspace is and how much one response may hold.

    Attributes
    ----------
    workspace
        The workspace GeoPackage (``GRIDGEO_WORKSPACE``), e.g. the
        ``workspace.gpkg`` written by ``gridgeo demo --out DIR``.
    max_page
        Largest ``limit`` a paged endpoint accepts (``GRIDGEO_MAX_PAGE``).
    default_page
        ``limit`` when the request gives none (``GRIDGEO_DEFAULT_PAGE``).
    session_hours
        How long a page login lasts (``GRIDGEO_SESSION_HOURS``).
    token_days
        How long a token from ``POST /auth/token`` lasts (``GRIDGEO_TOKEN_DAYS``).
    cookie_secure
        Mark the session cookie ``Secure`` (``GRIDGEO_COOKIE_SECURE``); unset: when
        the request came by https (behind a proxy, run uvicorn with
        ``--proxy-headers`` so that it knows).
    auth_cache_s
        How long a checked token is kept in memory (``GRIDGEO_AUTH_CACHE_S``; 0: read
        the workspace on every request). A user disabled or a session ended through
        another worker or the CLI is refused after at most this long.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGEO_", extra="ignore")

    workspace: Path
    max_page: int = Field(default=DEFAULT_MAX_PAGE, ge=1)
    default_page: int = Field(default=DEFAULT_PAGE, ge=1)
    session_hours: float = Field(default=DEFAULT_SESSION_HOURS, gt=0, le=24 * 30)
    token_days: float = Field(default=DEFAULT_TOKEN_DAYS, gt=0, le=366)
    cookie_secure: bool | None = None
    auth_cache_s: float = Field(default=DEFAULT_AUTH_CACHE_S, ge=0, le=300)
