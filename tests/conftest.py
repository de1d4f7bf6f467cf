"""Shared fixtures: where the real public data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data set beside the repository (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data folder not found at {SHARED_DATA}; clone next to shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def roads_dir(shared_data: Path) -> Path:
    return shared_data / "roads"
