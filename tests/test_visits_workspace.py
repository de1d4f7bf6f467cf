"""Planning a part of a workspace (gridgeo.plan_workspace_visits with ``grid`` / ``member``):
one tier-3 grid's customers with that grid's members only, or one member's customers.

The workspace (tests/test_cli_visits.py) has grids T3-W (members 甲、乙) and T3-E (丙、甲):
甲 looks after both."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from test_cli_visits import make_workspace

from gridgeo.errors import InputError
from gridgeo.store import GeoPackageStore
from gridgeo.visits import plan_workspace_visits

ROUND_1 = ("2027-01-01", "2027-06-30")  # every customer once


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("visits_part") / "ws.gpkg"
    return make_workspace(path, members=("甲、乙", "丙、甲"))


def _layer(ws: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(ws, layer=name)


def test_one_grid_plans_its_customers_with_its_members_only(ws):
    store = GeoPackageStore.open(ws)
    grids = _layer(ws, "grids").set_index("grid_id")
    customers = _layer(ws, "customers")
    east = set(customers.loc[customers["grid_t3"] == "T3-E", "customer_id"])
    assert len(east) >= 10 and len(customers) > len(east)

    plan = plan_workspace_visits(store, start=ROUND_1[0], end=ROUND_1[1], grid="T3-E")
    assert sorted(plan.members["member"]) == ["丙", "甲"]
    assert plan.members["grid_ids"].tolist() == [["T3-E"], ["T3-E"]]
    assert len(plan.stops) > 0
    assert set(plan.stops["grid_id"]) == {"T3-E"}
    assert plan.stops.geometry.within(grids.geometry["T3-E"]).all()
    # every customer of the grid once in the round: planned or listed with a reason
    seen = [*plan.stops["customer_id"], *plan.unplanned["customer_id"]]
    assert sorted(seen) == sorted(east)

    # 丙 looks after T3-E alone: their days are those of the whole workspace's plan
    whole = plan_workspace_visits(store, start=ROUND_1[0], end=ROUND_1[1])
    cols = ["date", "seq", "customer_id", "arrive_s"]
    own = plan.stops[plan.stops["member"] == "丙"][cols].reset_index(drop=True)
    all_bing = whole.stops[whole.stops["member"] == "丙"][cols].reset_index(drop=True)
    assert own.equals(all_bing)
    # 甲's customers in T3-E are the same as in the whole plan (shared the same way)
    jia = set(plan.stops.loc[plan.stops["member"] == "甲", "customer_id"])
    jia_whole = whole.stops[(whole.stops["member"] == "甲") & (whole.stops["grid_id"] == "T3-E")]
    assert jia == set(jia_whole["customer_id"])
    assert (whole.stops.loc[whole.stops["member"] == "甲", "grid_id"] == "T3-W").any()


def test_one_member_and_one_members_grid(ws):
    store = GeoPackageStore.open(ws)
    grids = _layer(ws, "grids").set_index("grid_id")
    plan = plan_workspace_visits(store, start=ROUND_1[0], end=ROUND_1[1], member="甲")
    assert plan.members["member"].tolist() == ["甲"]
    assert set(plan.stops["member"]) == {"甲"}
    assert set(plan.stops["grid_id"]) == {"T3-W", "T3-E"}
    both = grids.geometry["T3-W"].union(grids.geometry["T3-E"])
    assert plan.stops.geometry.within(both).all()
    part = plan_workspace_visits(store, start=ROUND_1[0], end=ROUND_1[1], member="甲", grid="T3-E")
    assert set(part.stops["grid_id"]) == {"T3-E"}
    assert set(part.stops["customer_id"]) == set(
        plan.stops.loc[plan.stops["grid_id"] == "T3-E", "customer_id"]
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": "T2-X"}, "no member looks after grid 'T2-X'"),
        ({"member": "丁"}, "no grid member '丁'"),
        ({"member": "乙", "grid": "T3-E"}, "no grid member '乙' of grid 'T3-E'"),
    ],
)
def test_a_part_that_is_not_there_is_refused(ws, kwargs, match):
    with pytest.raises(InputError, match=match):
        plan_workspace_visits(GeoPackageStore.open(ws), start=ROUND_1[0], end=ROUND_1[1], **kwargs)


@pytest.mark.parametrize(
    ("today", "label", "first", "last"),
    [
        ("2026-12-09", "2027-Q1", "2027-01-01", "2027-03-31"),
        ("2026-05-01", "2026-Q3", "2026-07-01", "2026-09-30"),
    ],
)
def test_the_demo_quarter_plan_is_the_next_quarter_of_the_whole_county(
    ws, tmp_path, today, label, first, last
):
    import datetime as dt

    import pandas as pd

    from gridgeo.visit_sheets import quarter_plan

    store = GeoPackageStore.open(ws)
    lines: list[str] = []
    plan, got, files = quarter_plan(
        store, tmp_path, today=dt.date.fromisoformat(today), progress=lambda *a: lines.extend(a)
    )
    assert got == label and label in lines[0]
    planned = pd.read_csv(files[0], dtype=str)
    assert len(planned) == len(plan.stops) > 0
    assert planned["planned_on"].min() >= first and planned["planned_on"].max() <= last
    # the whole county: both grids and all three members
    assert set(plan.stops["grid_id"]) == {"T3-E", "T3-W"}
    assert set(plan.stops["member"]) == {"甲", "乙", "丙"}
    unplanned = pd.read_csv(files[1], dtype=str)
    assert len(unplanned) == len(plan.unplanned)
