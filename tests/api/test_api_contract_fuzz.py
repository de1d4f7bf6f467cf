"""The contract fuzz (issue 13): schemathesis on a real uvicorn with a login per role.

A short seeded run here (``CI_MAX_EXAMPLES`` per operation, fuzzing phase only, well under
90 s); the full run of >= 10,000 requests is ``make fuzz`` (``benchmarks/fuzz_api.py``,
summary in ``benchmarks/results/fuzz_api.json``). Both run :func:`contractfuzz.run_fuzz`.
The checks' own helpers are tested first on hand-made data, so that a fuzz that finds
nothing is not a fuzz that cannot find anything. Under ``CI=true`` a missing schemathesis
or uvicorn fails the test instead of skipping it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import contractfuzz as cf
import pytest
from liveserver import cannot_run

CI_MAX_EXAMPLES = 2
# the admin reaches every route's checks; the leadership role the 403s of personal data;
# no login the 401s (the other roles are in the full run, make fuzz)
CI_ROLES: tuple[tuple[str | None, float], ...] = (("admin", 1.0), ("leader", 0.5), (None, 0.5))


def _make_db(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE grids (fid INTEGER PRIMARY KEY, grid_id TEXT, name TEXT)")
        con.execute("CREATE TABLE gridgeo_audit (fid INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT)")
        con.execute(
            "CREATE TABLE gridgeo_users (fid INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT, "
            "display_name TEXT, role TEXT, grids TEXT, password_hash TEXT, disabled INTEGER, "
            "created_at TEXT, updated_at TEXT, failed_logins INTEGER, locked_until TEXT)"
        )
        con.executemany(
            "INSERT INTO grids (grid_id, name) VALUES (?, ?)",
            [(f"T3-{i:03d}", "网格" * 50) for i in range(300)],  # several pages
        )
        con.execute(
            "INSERT INTO gridgeo_users (username, display_name, role, grids, password_hash, "
            "disabled, created_at, updated_at, failed_logins) "
            "VALUES ('a', 'A', 'admin', '', 'h', 0, 't', 't', 0)"
        )


def test_snapshots_see_a_changed_table_but_not_the_audit_log(tmp_path: Path) -> None:
    db = tmp_path / "w.gpkg"
    _make_db(db)
    before = cf.snapshot(db)
    with sqlite3.connect(db) as con:  # what every write does by design
        con.executemany("INSERT INTO gridgeo_audit (what) VALUES (?)", [("x" * 3000,)] * 20)
        con.execute("UPDATE gridgeo_users SET failed_logins = 3, locked_until = 'later'")
    after = cf.snapshot(db)
    assert after.pages != before.pages  # the file did change
    assert cf.changed_tables(db, before, after) == []
    with sqlite3.connect(db) as con:  # one character of one row
        con.execute("UPDATE grids SET name = name || '!' WHERE grid_id = 'T3-150'")
    assert cf.changed_tables(db, before, cf.snapshot(db)) == ["grids"]
    with sqlite3.connect(db) as con:
        con.execute("UPDATE gridgeo_users SET role = 'leader'")
    changed = cf.changed_tables(db, before, cf.snapshot(db))
    assert changed == ["gridgeo_users (without failed-login counters)", "grids"]
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE extra (x INTEGER)")
    assert "sqlite_master" in cf.changed_tables(db, before, cf.snapshot(db))


def test_leaks_are_found_unless_the_request_carried_them() -> None:
    body = '{"detail": "cannot open /work/main/out/ws.gpkg: Traceback (most recent call last)"}'
    assert cf.leaks_in(body) == ["Traceback", "/work/", ".gpkg"]
    assert cf.leaks_in(body, request_text="customer_id=/work/x.gpkg") == ["Traceback"]
    assert cf.leaks_in('{"detail": "no customer \'42\'"}') == []


def test_role_problems_catch_a_leader_reading_customers() -> None:
    def run(role: str | None, *rows: tuple[str, str, int]) -> cf.RoleRun:
        requests = [
            {"method": m, "route": r, "status": s, "leaks": [], "changed": [], "seconds": 0.0}
            for m, r, s in rows
        ]
        return cf.RoleRun(role, 1, 0, 0.0, {}, requests)

    leader = run("leader", ("GET", "/customers", 200), ("GET", "/kpis", 200))
    assert cf.role_problems(leader) == ["leader: ('GET', '/customers') answered 200, not 403"]
    ok = run("leader", ("GET", "/customers", 403), ("GET", "/orders", 414), ("GET", "/kpis", 200))
    assert cf.role_problems(ok) == []
    anonymous = run(None, ("GET", "/kpis", 200), ("GET", "/health", 200), ("POST", "/x", 401))
    assert cf.role_problems(anonymous) == ["anonymous: ('GET', '/kpis') answered 200, not 401"]
    admin = run("admin", ("GET", "/kpis", 502))
    assert cf.role_problems(admin) == ["admin: ('GET', '/kpis') answered 502"]
    summary = cf.summarise([leader, admin], seed=1)
    assert summary["requests"] == 3 and summary["server_errors_5xx"] == 1
    assert not cf.fuzz_ok(summary)


@pytest.mark.slow
def test_contract_fuzz_with_a_login_per_role(workspace: Path, tmp_path: Path) -> None:
    if not cf.schemathesis_available():
        cannot_run(
            "schemathesis is not installed: no contract fuzz",
            "pip install -c constraints.txt -e '.[test]'",
        )
    out = tmp_path / "fuzz"
    summary = cf.run_fuzz(
        workspace, out, max_examples=CI_MAX_EXAMPLES, roles=CI_ROLES, phases="fuzzing", lanes=3
    )
    message = f"{summary}\n{cf.failure_text(out)}"
    assert summary["requests"] >= 100, message
    for role, _share in CI_ROLES:
        assert summary["roles"][role or "anonymous"]["requests"] > 0, message
    assert summary["server_errors_5xx"] == 0, message
    assert summary["contract_failures"] == 0, message
    assert summary["leaks"] == 0, message
    assert summary["rejected_writes_checked"] > 0, message
    assert summary["rejected_writes_that_changed_the_workspace"] == 0, message
    assert summary["role_problems"] == [], message
    assert all(summary["tokens_still_work"].values()), message
    assert summary["server_log_tracebacks"] == 0, message
    assert cf.fuzz_ok(summary), message


def test_schema_declares_the_login_answers_and_the_locator_rule(client) -> None:
    schema = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "responses" in op
    }
    assert len(operations) > 30
    for route, op in operations.items():
        answers = op["responses"]
        if route in cf.PUBLIC_ROUTES:
            continue
        assert "401" in answers, route
        assert "WWW-Authenticate" in answers["401"]["headers"], route
        if route in cf.PERSONAL_ROUTES or route[0] in cf.UNSAFE_METHODS:
            assert "403" in answers, route
        if "{" in route[1]:
            assert "404" in answers, route
    assert "401" not in operations[("GET", "/health")]["responses"]
    assert "Retry-After" in operations[("GET", "/kpis")]["responses"]["503"]["headers"]
    dispatch = operations[("GET", "/dispatch")]
    assert "exactly one" in dispatch["description"]
    assert "`customer_id`" in dispatch["responses"]["400"]["description"]
    report = operations[("GET", "/reports/month/{month}")]["responses"]["200"]["content"]
    assert {"application/json", "text/html"} <= set(report)
    assert "application/geo+json" in operations[("GET", "/orders")]["responses"]["200"]["content"]


def test_router_errors_have_the_error_body(client, leaks) -> None:
    for response, status in (
        (client.get("/no/such/route"), 404),
        (client.delete("/kpis"), 405),
        (
            client.patch(
                "/admin/users/x",
                content=b"\xff\xfe{",
                headers={"Content-Type": "application/json"},
            ),
            400,
        ),
    ):
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error", "detail"} and body["detail"], body
        assert [leak for leak in leaks if leak in response.text] == []
    assert "GET" in client.delete("/kpis").headers["allow"]


LEAKY_APP = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

app = FastAPI()


class ErrorBody(BaseModel):
    error: str
    detail: str


@app.get("/leak", responses={400: {"model": ErrorBody}})
def leak() -> JSONResponse:
    detail = 'Traceback (most recent call last): File "/work/main/api/x.py"'
    return JSONResponse({"error": "X", "detail": detail}, status_code=400)
"""


def test_the_fuzz_fails_on_a_leaking_error_body(tmp_path: Path) -> None:
    # the hooks' own check, end to end through schemathesis: a fuzz that cannot fail is no test
    if not cf.schemathesis_available():
        cannot_run("schemathesis is not installed", "pip install -c constraints.txt -e '.[test]'")
    import httpx
    from liveserver import free_port, stop_server

    (tmp_path / "leaky.py").write_text(LEAKY_APP, encoding="utf-8")
    db = tmp_path / "w.gpkg"
    _make_db(db)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(tmp_path), "leaky:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                schema = httpx.get(f"{url}/openapi.json", timeout=2).content
                break
            except httpx.TransportError:
                time.sleep(0.1)
        (tmp_path / "openapi.json").write_bytes(schema)
        run = cf.run_schemathesis(
            url,
            tmp_path / "openapi.json",
            db,
            tmp_path / "out",
            role=None,
            token=None,
            max_examples=1,
            phases="fuzzing",
        )
    finally:
        stop_server(proc)
    assert run.requests and all(r["leaks"] for r in run.requests), run.output_tail
    assert run.exit_code != 0, run.output_tail
    assert "no_internal_leak" in run.output_tail or "leaks internals" in run.output_tail
    assert not cf.fuzz_ok(cf.summarise([run], seed=1))
