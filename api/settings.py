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
DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,::1,testserver"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_QUERY_BYTES = 8 * 1024
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_MAX_HEAVY = 4
DEFAULT_RETRY_AFTER_S = 5


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
    cache_layers
        Keep the workspace's layers in memory, read once per version
        (``GRIDGEO_CACHE_LAYERS``; false: read them on every request, for benchmarks).
    allowed_hosts
        Comma-separated host names the service answers to (``GRIDGEO_ALLOWED_HOSTS``;
        ``*.example.cn`` matches sub-domains, ``*`` any host); others get 400.
    max_body_bytes
        Largest request body (``GRIDGEO_MAX_BODY_BYTES``); larger ones get 413 unread.
    max_query_bytes
        Longest query string (``GRIDGEO_MAX_QUERY_BYTES``); longer ones get 414.
    header_timeout_s
        Time a client has to send a request's headers (``GRIDGEO_HEADER_TIMEOUT_S``), then
        408 and the connection closed (when served with :func:`api.limits.uvicorn_options`).
    body_timeout_s
        Time a client has to send a request's whole body (``GRIDGEO_BODY_TIMEOUT_S``), then 408.
    max_heavy
        Heavy requests (writes, previews, siting, reports) run at once per worker
        (``GRIDGEO_MAX_HEAVY``); more get 503 with ``Retry-After``.
    retry_after_s
        ``Retry-After`` of a 503 (``GRIDGEO_RETRY_AFTER_S``).
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGEO_", extra="ignore")

    workspace: Path
    max_page: int = Field(default=DEFAULT_MAX_PAGE, ge=1)
    default_page: int = Field(default=DEFAULT_PAGE, ge=1)
    session_hours: float = Field(default=DEFAULT_SESSION_HOURS, gt=0, le=24 * 30)
    token_days: float = Field(default=DEFAULT_TOKEN_DAYS, gt=0, le=366)
    cookie_secure: bool | None = None
    auth_cache_s: float = Field(default=DEFAULT_AUTH_CACHE_S, ge=0, le=300)
    cache_layers: bool = True
    allowed_hosts: str = DEFAULT_ALLOWED_HOSTS
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_query_bytes: int = Field(default=DEFAULT_MAX_QUERY_BYTES, ge=256, le=1024 * 1024)
    header_timeout_s: float = Field(default=DEFAULT_HEADER_TIMEOUT_S, gt=0, le=600)
    body_timeout_s: float = Field(default=DEFAULT_BODY_TIMEOUT_S, gt=0, le=3600)
    max_heavy: int = Field(default=DEFAULT_MAX_HEAVY, ge=1, le=1000)
    retry_after_s: int = Field(default=DEFAULT_RETRY_AFTER_S, ge=1, le=3600)

    def host_patterns(self) -> tuple[str, ...]:
        """``allowed_hosts`` as a tuple of lower-case names."""
        return tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
