"""The county map of a 150,000-customer county stays small (maps/overview.py).

The county is the bundled sample (its roads, villages, stations, grids built from them and its
repair bands) with its 30,000 customers copied five times; every copy after the first lies
~50 m (seeded normal offsets) off the original, so that nearly every copy is a dot of its own:
the worst case for the map's one-dot-per-place aggregation. Each copy keeps the original's
access (times, flags, reasons) and village.
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import gridgeo
from gridgeo import sample, workspace
from maps.overview import county_overview_map, save_offline
from maps.places import MapPlaces

N_CUSTOMERS = 150_000
MAX_BYTES = 5_000_000
SEED = 15
OFFSET_DEG = 5e-4  # ~50 m


def big_county(n_customers: int = N_CUSTOMERS, seed: int = SEED) -> dict[str, Any]:
    """The map's inputs for the sample county with ``n_customers`` customers (see module)."""
    county = sample.load_sample()
    engines = gridgeo.engines_from_roads(county.roads)
    customers = county.customers
    access = gridgeo.customer_access(
        engines["repair"],
        engines["payment"],
        customers,
        county.repair_stations,
        county.payment_points,
    )
    copies = -(-n_customers // len(customers))
    rng = np.random.default_rng(seed)
    located = customers.geometry.notna() & ~customers.geometry.is_empty
    x = np.where(located, customers.geometry.x, np.nan)
    y = np.where(located, customers.geometry.y, np.nan)
    xs, ys = [x], [y]
    for _ in range(1, copies):
        xs.append(x + rng.normal(0, OFFSET_DEG, len(x)))
        ys.append(y + rng.normal(0, OFFSET_DEG, len(y)))
    table = pd.concat([access] * copies, ignore_index=True).iloc[:n_customers]
    table["customer_id"] = [f"C{i:07d}" for i in range(len(table))]
    table["village_code"] = np.tile(customers["village_code"].to_numpy(), copies)[:n_customers]
    px, py = np.concatenate(xs)[:n_customers], np.concatenate(ys)[:n_customers]
    points = gpd.points_from_xy(px, py)
    points[np.isnan(px)] = None
    big = gpd.GeoDataFrame(table, geometry=points, crs="EPSG:4326")
    with warnings.catch_warnings():
        # the sample's substation SUB14 lies far from every road (a warning, counted)
        warnings.simplefilter("ignore", UserWarning)
        grids = gridgeo.build_service_grids(
            county.county,
            county.villages,
            county.substations,
            workspace.village_workload(customers),
            graph=engines["repair"],
            seed=county.seed,
        ).grids
        bands = gridgeo.isochrones(engines["repair"], county.repair_stations, per_station=False)
    return {
        "county": county.county,
        "grids": grids,
        "substations": county.substations,
        "repair_stations": county.repair_stations,
        "payment_points": county.payment_points,
        "access": big,
        "isochrones": bands,
        "places": MapPlaces(
            towns=county.towns,
            villages=county.villages,
            roads=county.roads,
            data_date="2026-12-06",
            version=1,
        ),
    }


@pytest.fixture(scope="module")
def county_150k() -> dict[str, Any]:
    return big_county()


def _gaps(m: Any, css: str) -> dict[str, Any]:
    stack, found = [m], []
    while stack:
        element = stack.pop()
        for child in element._children.values():
            if getattr(child, "function", None) == "gaps" and child.data[0]["css"] == css:
                found.append(child.data[0])
            stack.append(child)
    (data,) = found
    return data


def test_150k_customer_map_is_at_most_5_mb(county_150k, tmp_path):
    inputs = county_150k
    access = inputs["access"]
    assert len(access) == N_CUSTOMERS
    m = county_overview_map(**inputs)
    path = save_offline(m, tmp_path / "county_map.html")
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{size:,d} bytes"
    # nothing is dropped to get there: the dots stand for every located customer beyond the
    # 30-minute promise, the village bubbles for every one with a village (counted here)
    has_point = access.geometry.notna().to_numpy()
    beyond = ~access["repair_ok"].astype(bool).to_numpy()
    repair = _gaps(m, "gg-gap-repair")
    assert sum(d[2] for d in repair["dots"]) == int((beyond & has_point).sum())
    with_village = beyond & access["village_code"].notna().to_numpy()
    assert sum(v[2] for v in repair["villages"]) == int(with_village.sum())
    assert len(repair["villages"]) <= len(inputs["places"].villages)
