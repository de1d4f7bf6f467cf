"""/dispatch: the nearest repair station for a fault."""

from __future__ import annotations

import geopandas as gpd
import pytest


@pytest.fixture(scope="module")
def access(workspace) -> gpd.GeoDataFrame:
    return gpd.read_file(workspace, layer="customer_access", ignore_geometry=True)


def test_dispatch_to_a_customer_agrees_with_the_county_reach(client, access):
    row = access[access["repair_reason"] == "ok"].iloc[10]
    response = client.get("/dispatch", params={"customer_id": row["customer_id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    # the county-wide reach (one Dijkstra from all stations) found the same best station/ETA
    assert body["station_id"] == row["repair_station_id"]
    assert body["eta_s"] == pytest.approx(row["repair_eta_s"], abs=1e-6)
    assert body["within_limit"] is True and body["reason"] == "ok"
    assert body["fault"]["located_by"] == "customer"
    etas = [o["eta_s"] for o in body["options"] if o["eta_s"] is not None]
    assert etas == sorted(etas) and etas[0] == pytest.approx(body["eta_s"])
    assert body["route"]["geometry"]["type"] == "LineString"


def test_dispatch_to_an_address_and_a_point(client):
    by_address = client.get("/dispatch", params={"address": "南丰县三溪乡三溪村5组"})
    assert by_address.status_code == 200, by_address.text
    fault = by_address.json()["fault"]
    assert fault["located_by"] == "address" and fault["match_level"] == "village"
    by_point = client.get(
        "/dispatch", params={"lon": fault["lon"], "lat": fault["lat"], "datum": "wgs84"}
    )
    assert by_point.status_code == 200
    assert by_point.json()["station_id"] == by_address.json()["station_id"]
    assert by_point.json()["eta_s"] == pytest.approx(by_address.json()["eta_s"], abs=1e-6)


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({}, 400, "exactly one"),
        ({"lon": 116.5}, 400, "`lat`"),
        ({"lon": 27.2, "lat": 116.5}, 422, "lat"),
        ({"customer_id": "NOPE"}, 404, "NOPE"),
        ({"address": "不详"}, 400, "cannot be located"),
        ({"lon": 116.5, "lat": 27.2, "datum": "mars"}, 422, "datum"),
    ],
)
def test_dispatch_errors_are_json_and_name_the_field(client, params, status, fragment):
    response = client.get("/dispatch", params=params)
    assert response.status_code == status, response.text
    text = response.text
    assert fragment in text
    assert "Traceback" not in text


def test_dispatch_with_a_busy_station_and_the_labels_kept(client):
    params = {"lon": 116.53, "lat": 27.21}
    first = client.get("/dispatch", params=params).json()
    best = first["station_id"]
    assert best is not None and all(o["available"] for o in first["options"])
    # the stations' labels are built once and kept with the engine
    kept = client.app.state.station_labels
    labels = next(iter(kept.values()))
    busy = client.get("/dispatch", params={**params, "unavailable": best})
    assert busy.status_code == 200, busy.text
    body = busy.json()
    assert next(iter(client.app.state.station_labels.values())) is labels
    # the next station by ETA goes; the busy one is still listed, with its time
    ranked = [o["station_id"] for o in first["options"] if o["eta_s"] is not None]
    assert body["station_id"] == ranked[1]
    options = {o["station_id"]: o for o in body["options"]}
    assert options[best]["available"] is False
    assert options[best]["eta_s"] == pytest.approx(first["eta_s"], abs=1e-6)
    everyone = ",".join(o["station_id"] for o in first["options"])
    none = client.get("/dispatch", params={**params, "unavailable": everyone}).json()
    assert none["station_id"] is None and none["reason"] == "no_station_available"
    assert none["route"] is None


@pytest.mark.parametrize(
    ("unavailable", "status", "fragment"),
    [("NOPE", 400, "NOPE"), ("RS01,,RS02", 422, "unavailable"), (",", 422, "unavailable")],
)
def test_dispatch_unavailable_errors_are_json(client, unavailable, status, fragment):
    response = client.get(
        "/dispatch", params={"lon": 116.53, "lat": 27.21, "unavailable": unavailable}
    )
    assert response.status_code == status, response.text
    assert fragment in response.text and "Traceback" not in response.text
