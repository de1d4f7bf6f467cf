"""Request bodies with text UTF-8 cannot hold (lone surrogates, which JSON allows as
``"\\ud800"``) are still audited (the row was lost to an encoding error, with a traceback in
the server's log), and the audit log answers them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import gridgeo


def test_a_body_with_lone_surrogates_is_audited_and_the_log_answers(
    writer: TestClient, writable: Path
) -> None:
    body = b'{"order_id": "\\ud800", "reason": "a\\udfffb", "\\ud801": 1}'
    answer = writer.post("/orders", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    rows, total = gridgeo.read_audit(gridgeo.GeoPackageStore.open(writable), route="/orders")
    assert total == 1  # the refused write is recorded, not lost to an encoding error
    assert rows.iloc[0]["what"] == {"order_id": "?", "reason": "a?b", "?": 1}
    log = writer.get("/admin/audit")
    assert log.status_code == 200
    assert log.json()["rows"][0]["what"]["reason"] == "a?b"


def test_a_body_with_numbers_json_cannot_answer_is_audited_and_the_log_answers(
    writer: TestClient, writable: Path
) -> None:
    """The fuzz's 500 on a plain ``GET /admin/audit``: a refused write whose body held
    ``1e999`` (parsed as infinity) was stored as ``Infinity``; the log's answer then held a
    float that JSON cannot carry."""
    body = b'{"order_id": 1e999, "reason": -1e999, "n": [1e999]}'
    answer = writer.post("/orders", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    store = gridgeo.GeoPackageStore.open(writable)
    rows, _ = gridgeo.read_audit(store, route="/orders")
    assert rows.iloc[0]["what"] == {"order_id": "inf", "reason": "-inf", "n": ["inf"]}
    # a row an older version stored with Infinity / NaN reads back as text
    gridgeo.record_audit(
        store,
        {"username": "a", "role": "admin", "method": "POST", "route": "/orders",
         "path": "/orders", "target": "", "what": '{"x": Infinity, "y": NaN}', "status": 422},
    )  # fmt: skip
    log = writer.get("/admin/audit")
    assert log.status_code == 200, log.text
    assert log.json()["rows"][0]["what"] == {"x": "Infinity", "y": "NaN"}
    assert log.json()["rows"][1]["what"]["order_id"] == "inf"


def test_the_library_records_such_text_too(writable: Path) -> None:
    store = gridgeo.GeoPackageStore.open(writable)
    gridgeo.ensure_user_tables(store)
    gridgeo.record_audit(
        store,
        {
            "username": "some\udc80one",
            "role": "admin",
            "method": "POST",
            "route": "/orders",
            "path": "/orders",
            "target": "\ud800",
            "what": {"note": "x\ud800y"},
            "versions_before": {},
            "versions_after": {},
            "status": 422,
        },
    )
    rows, total = gridgeo.read_audit(store, route="/orders")
    assert total == 1
    row = rows.iloc[0]
    assert (row["username"], row["target"], row["what"]) == ("some?one", "?", {"note": "x?y"})


def test_an_offset_past_sqlite_integers_is_a_422_not_a_500(client: TestClient) -> None:
    """The contract fuzz's one 500: ``GET /admin/audit?offset=`` past 2**63 reached SQLite's
    OFFSET (an OverflowError). Every paged route caps ``offset`` at 10**9."""
    for path in ("/admin/audit", "/orders", "/customers"):
        answer = client.get(path, params={"offset": str(2**64)})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"] == "query.offset"
    assert client.get("/admin/audit", params={"offset": "1000000000"}).status_code == 200


def test_audit_times_pandas_reads_as_no_time_are_a_400(client: TestClient) -> None:
    """The contract fuzz's last 500: ``start=nan`` (pandas reads NaT) and ``start=-1`` (year -1)
    passed pandas' parser and failed after it with a bare ValueError."""
    for name in ("start", "end"):
        for value in ("nan", "NaT", "-1", "1899-12-31"):
            answer = client.get("/admin/audit", params={name: value})
            assert answer.status_code == 400, (name, value, answer.text)
            assert f"`{name}`" in answer.json()["detail"]
    assert client.get("/admin/audit", params={"start": "2026-12-01"}).status_code == 200
