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
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGEO_", extra="ignore")

    workspace: Path
    max_page: int = Field(default=DEFAULT_MAX_PAGE, ge=1)
    default_page: int = Field(default=DEFAULT_PAGE, ge=1)
