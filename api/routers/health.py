"""``GET /health``: is the service up, and on which workspace."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(store: StoreDep) -> Health:
    """The workspace file and its versioned layers."""
    return Health(status="ok", workspace=store.path.name, layers=sorted(store.layers()))
