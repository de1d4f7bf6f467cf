"""/plan/sites: where new repair stations or payment points serve the most customers."""

from __future__ import annotations

import geopandas as gpd
import pytest


@pytest.fixture(scope="module")
def access(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="customer_access", ignore_geometry=True)


@pytest.fixture(scope="module")
def villages(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="villages")


@pytest.mark.parametrize(
    ("service", "ok_column"), [("repair", "repair_ok"), ("payment", "payment_ok")]
)
def test_plan_sites(client, access, villages, service, ok_column):
    response = client.get("/plan/sites", params={"service": service, "k": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    # "before" is the coverage the stored county reach found for the existing sites
    assert body["customers"] == len(access)
    assert body["covered_before"] == int(access[ok_column].astype(bool).sum())
    assert body["share_before"] == pytest.approx(body["covered_before"] / len(access))
    picks = body["picks"]
    assert [p["rank"] for p in picks] == [1, 2]
    gains = [p["gain_customers"] for p in picks]
    assert body["covered_after"] == body["covered_before"] + sum(gains)
    assert all(g >= 0 for g in gains) and gains == sorted(gains, reverse=True)
    assert picks[-1]["covered_share"] == pytest.approx(body["share_after"])
    # the picks are villages of the workspace, at their positions
    known = villages.set_index("village_code")
    for p in picks:
        village = known.loc[p["village_code"]]
        assert p["village"] == village["village"]
        assert p["lon"] == pytest.approx(village.geometry.x, abs=1e-6)
        assert p["lat"] == pytest.approx(village.geometry.y, abs=1e-6)
    assert body["optimal"] is True and body["method"] == "exact"
    default_min = 30.0 if service == "repair" else 10.0
    assert body["limit_min"] == default_min


def test_plan_sites_greedy_never_beats_exact(client):
    exact = client.get("/plan/sites", params={"k": 3}).json()
    greedy = client.get("/plan/sites", params={"k": 3, "method": "greedy"}).json()
    assert greedy["covered_after"] <= exact["covered_after"]
    assert greedy["optimal"] is False


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"k": 0}, "k"),
        ({"k": 1000}, "k"),
        ({"k": "two"}, "k"),
        ({"service": "bus"}, "service"),
        ({"method": "magic"}, "method"),
        ({"limit_min": -5}, "limit_min"),
    ],
)
def test_plan_sites_bad_input(client, clean_error, params, name):
    clean_error(client.get("/plan/sites", params=params), 422, name)
