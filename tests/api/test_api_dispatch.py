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


# --------------------------------------------------------------------------- station board


def _stored_availability(path) -> dict[str, tuple[str, str | None, str]]:
    """The availability table read with sqlite3, not through gridgeo or the API."""
    import sqlite3

    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT station_id, status, note, updated_by FROM station_availability"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_station_board_is_read_and_set_through_the_api(writable, make_client, clean_error):
    client = make_client(writable, "dispatcher")
    stations = gpd.read_file(writable, layer="repair_stations")
    board = client.get("/dispatch/stations")
    assert board.status_code == 200, board.text
    body = board.json()
    assert [s["station_id"] for s in body["stations"]] == list(stations["station_id"])
    first = body["stations"][0]
    assert first["name"] == stations["name"].iloc[0]
    assert first["crews"] == int(stations["crews"].iloc[0])
    assert first["lon"] == pytest.approx(stations.geometry.x.iloc[0], abs=1e-7)
    assert (first["status"], first["status_zh"], first["updated_by"]) == ("on_duty", "在岗", None)
    assert body["unavailable"] == []
    sid = body["stations"][1]["station_id"]
    put = client.put(f"/dispatch/stations/{sid}", json={"status": "busy", "note": "抢修中"})
    assert put.status_code == 200, put.text
    row = next(s for s in put.json()["stations"] if s["station_id"] == sid)
    assert (row["status"], row["status_zh"], row["note"]) == ("busy", "忙碌", "抢修中")
    assert row["updated_by"] == "test_dispatcher" and row["updated_at"].endswith("Z")
    assert put.json()["unavailable"] == [sid]
    assert _stored_availability(writable) == {sid: ("busy", "抢修中", "test_dispatcher")}
    assert client.get("/dispatch/stations").json()["unavailable"] == [sid]
    # bad input: one clear error naming the field, nothing stored
    unknown = client.put("/dispatch/stations/RS99", json={"status": "busy"})
    assert "station_id" in clean_error(unknown, 404, "RS99")["detail"]
    clean_error(client.put(f"/dispatch/stations/{sid}", json={"status": "gone"}), 422, "status")
    long_note = {"status": "out", "note": "长" * 201}
    clean_error(client.put(f"/dispatch/stations/{sid}", json=long_note), 422, "note")
    assert _stored_availability(writable) == {sid: ("busy", "抢修中", "test_dispatcher")}


def test_dispatch_doubts_are_the_ones_the_cli_prints(writable, make_client, capsys):
    from gridgeo import cli

    customers = gpd.read_file(writable, layer="customers", ignore_geometry=True)
    flagged = customers.loc[customers["coords_conflict_address"].astype(str).isin(["True", "1"])]
    row = flagged.sort_values("customer_id").iloc[0]
    client = make_client(writable, "dispatcher")
    answer = client.get("/dispatch", params={"customer_id": row["customer_id"], "contacts": True})
    assert answer.status_code == 200, answer.text
    doubts = answer.json()["doubts"]
    # by hand: the archive's 定位说明 with English alongside
    assert doubts[0] == {
        "code": "coords_conflict_address",
        "text": "GPS与地址不符（按GPS定位，请核实） / GPS contradicts the address",
    }
    assert answer.json()["grid"]["grid_t3"] == row["grid_t3"]
    code = cli.main(["dispatch", "--workspace", str(writable), "--customer", row["customer_id"]])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    printed = out[out.index("定位疑点 / doubts about the location:") + 1 :]
    assert printed == [f"  ! {d['code']}: {d['text']}" for d in doubts]
    assert f"网格 grid: {row['grid_t3']} ({row['grid_reason']})" in out
