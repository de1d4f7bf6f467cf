"""Shared fixtures: where the real public data lives (inside the repository only)."""

from __future__ import annotations

from pathlib import Path

import pytest

# headless Chromium fixtures (chromium, offline_page, screenshot, ...) for every test folder
pytest_plugins = ("browserharness",)

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "tests" / "data"  # test beds (tests/data/README.md)
JIANGXI_DIR = REPO_ROOT / "sample_data" / "jiangxi"  # product data (its README.md)
NANFENG_SOURCE_DIR = REPO_ROOT / "sample_data" / "nanfeng" / "source"


def _existing(path: Path) -> Path:
    if not path.is_dir():
        pytest.fail(f"data folder {path} is missing from the repository")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real public test beds copied into the repository (``tests/data``)."""
    return _existing(DATA_DIR)


@pytest.fixture(scope="session")
def roads_dir(data_dir: Path) -> Path:
    """The four real OSM road extracts (``tests/data/roads``)."""
    return _existing(data_dir / "roads")


@pytest.fixture(scope="session")
def jiangxi_dir() -> Path:
    """The Jiangxi counties and OSM power data the product ships (``sample_data/jiangxi``)."""
    return _existing(JIANGXI_DIR)


@pytest.fixture(scope="session")
def nanfeng_gazetteer() -> Path:
    """The real Nanfeng gazetteer, as copied for the sample generator."""
    path = NANFENG_SOURCE_DIR / "nanfeng_gazetteer_towns_villages.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the repository")
    return path


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace GeoPackage of ``gridgeo demo``, built once per session; never write to it
    (the API and browser tests copy it or serve it read-only)."""
    from liveserver import build_demo_workspace

    return build_demo_workspace(tmp_path_factory.mktemp("demo"))
