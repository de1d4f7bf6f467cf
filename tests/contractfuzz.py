"""The contract fuzz of the service: schemathesis against a real uvicorn, with a login per role.

Used by ``tests/api/test_api_contract_fuzz.py`` (a short seeded run in CI) and by
``benchmarks/fuzz_api.py`` (``make fuzz``: the full run of >= 10,000 requests, summary in
``benchmarks/results/fuzz_api.json``).

How a run goes (:func:`run_fuzz`):

1. a private copy of a workspace gets one user per role with a bearer token
   (:func:`prepare_workspace`); ``python -m api.limits`` (uvicorn with the service's limits,
   :func:`liveserver.start_server`) serves it on 127.0.0.1;
2. ``schemathesis run`` (its CLI, in a subprocess) reads the served ``/openapi.json`` and
   sends seeded requests to every operation, once per planned role (:data:`ROLE_RUNS`: the
   admin over every operation, the other roles over every operation too, so that the
   routes they may not use answer their 403), plus a run without any login (401), with the
   checks :data:`CHECKS` and those of :mod:`contractfuzz_hooks` (no leak in an error body; a
   rejected write changes no table); one schemathesis worker, so the hooks' before/after
   hashes of the workspace belong to one request each;
3. the hooks log every request; :func:`summarise` counts requests, statuses per role and
   route, failures, and checks what no schema says: a role gets 403 on every route it may
   not use (:data:`PERSONAL_ROUTES` for the leadership, written out by hand here), an
   anonymous client gets 401 on every route but the public ones; no 5xx at all.

``POST /auth/logout`` is left out of every run: it would end the run's own session.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import gridgeo

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SEED = 20261206
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "no_internal_leak",
    "rejected_write_changes_nothing",
)
EXCLUDED_PATHS = ("/auth/logout",)  # would end the run's own session
PHASES = "examples,coverage,fuzzing"
REQUEST_TIMEOUT_S = 60  # a hang fails the run (schemathesis counts it as an error)
FUZZ_USER_PREFIX = "fuzz_"

# Who runs, with how many examples per operation relative to the run's ``max_examples``.
# None: no login at all.
ROLE_RUNS: tuple[tuple[str | None, float], ...] = (
    ("admin", 1.0),
    ("leader", 0.25),
    ("dispatcher", 0.25),
    ("planner", 0.25),
    ("grid_manager", 0.25),
    ("grid_member", 0.25),
    (None, 0.1),
)
# Routes with personal data (names, phones, addresses of customers, users) or writes: the
# leadership role may use none of them (DESIGN.md, "Who may do what"). Written out by hand,
# not read from api.security.POLICY, so that the policy is checked, not restated.
PERSONAL_ROUTES = frozenset(
    {
        ("GET", "/customers"),
        ("GET", "/customers/{customer_id}"),
        ("GET", "/grids/{grid_id}/customers"),
        ("GET", "/dispatch"),
        ("POST", "/dispatch"),
        ("GET", "/dispatch/stations"),
        ("PUT", "/dispatch/stations/{station_id}"),
        ("GET", "/orders"),
        ("POST", "/orders"),
        ("GET", "/orders/{order_id}"),
        ("PATCH", "/orders/{order_id}"),
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("PATCH", "/admin/users/{username}"),
        ("POST", "/admin/users/{username}/password"),
        ("GET", "/admin/audit"),
        ("POST", "/grids/save"),
        ("POST", "/grids/restore"),
        ("POST", "/grids/preview"),
    }
)
# Routes anyone may call without a login.
PUBLIC_ROUTES = frozenset({("GET", "/health"), ("POST", "/auth/login"), ("POST", "/auth/token")})
# Answers given before the login is looked at (api.limits): too long a query or body.
LIMIT_STATUSES = frozenset({413, 414})

# Text that no error body may carry; a pattern also found in the request is an echo of the
# fuzzer's own input, not a leak.
LEAK_PATTERNS = (
    "Traceback",
    'File "',
    "site-packages",
    '.py"',
    ".py:",
    "/tmp/",
    "/work/",
    "/home/",
    "/root/",
    "\\Users\\",
    ".gpkg",
    "sqlite",
    "SELECT ",
    "INSERT INTO",
    'UPDATE "',
    "gpkg_",
    "pydantic",
    "starlette",
)

# Tables written by rejected requests by design: the audit log records every write, and a
# refused login counts its failures (gridgeo.users). gridgeo_users is compared by content
# without its failed-login columns instead of by page.
_WRITTEN_BY_DESIGN = frozenset({"gridgeo_audit", "gridgeo_login_failures", "gridgeo_users"})
_USERS_WITHOUT_COUNTERS = (
    "SELECT username, display_name, role, grids, password_hash, disabled, created_at "
    'FROM "gridgeo_users" ORDER BY username'
)
_HEADER_BYTES = 100  # sqlite's file header: its change counter moves on every commit


@dataclass(frozen=True)
class Snapshot:
    """What a sqlite file holds: its bytes, and content digests of the tables rejected
    requests write by design."""

    data: bytes
    page_size: int
    contents: dict[str, str]

    def pages(self) -> np.ndarray:
        """The file as one row of 8-byte words per page (a view, not a copy)."""
        words = self.page_size // 8
        whole = np.frombuffer(self.data, dtype=np.uint64, count=len(self.data) // 8)
        return whole[: len(whole) // words * words].reshape(-1, words)


def snapshot(path: Path) -> Snapshot:
    """A :class:`Snapshot` of a sqlite file, read under a read lock (never mid-commit).

    ``gridgeo_users`` is digested by content without ``failed_logins``, ``locked_until`` and
    ``updated_at`` (a refused login counts its failures there by design), and
    ``sqlite_sequence`` without the rows of :data:`_WRITTEN_BY_DESIGN`.
    """
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        con.execute("BEGIN")
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        users = con.execute(_USERS_WITHOUT_COUNTERS).fetchall() if "gridgeo_users" in names else []
        sequence = []
        if "sqlite_sequence" in names:
            sequence = con.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name").fetchall()
        data = path.read_bytes()  # still under the read lock
        con.execute("COMMIT")
    finally:
        con.close()
    size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if size == 1 else size
    kept = [row for row in sequence if row[0] not in _WRITTEN_BY_DESIGN]
    contents = {
        "gridgeo_users (without failed-login counters)": _digest(users),
        "sqlite_sequence (without audit rows)": _digest(kept),
    }
    return Snapshot(data, page_size, contents)


def _digest(rows: Iterable[Any]) -> str:
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def changed_tables(path: Path, before: Snapshot, after: Snapshot) -> list[str]:
    """The tables of ``path`` whose pages or contents differ between two snapshots.

    Pages that changed are given to their tables by sqlite's ``dbstat`` (read now, after
    the change): those of :data:`_WRITTEN_BY_DESIGN` and ``sqlite_sequence`` (compared by
    content instead) do not count, nor do pages that belong to no table (the free list);
    page 1 is the schema table (``sqlite_master``).
    """
    changed = {name for name in before.contents if before.contents[name] != after.contents[name]}
    old, new = before.pages(), after.pages()
    common = min(len(old), len(new))
    differ = np.flatnonzero((old[:common] != new[:common]).any(axis=1))
    moved = {int(i) + 1 for i in differ} | set(range(common + 1, max(len(old), len(new)) + 1))
    end = before.page_size
    if before.data[_HEADER_BYTES:end] == after.data[_HEADER_BYTES:end]:
        moved.discard(1)  # only the file header changed on page 1
    if moved:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            owner = dict(con.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
            owner["sqlite_schema"] = owner["sqlite_master"] = "sqlite_master"
            skip = _WRITTEN_BY_DESIGN | {"sqlite_sequence"}
            own = [n for n, t in owner.items() if t in skip]
            marks = ",".join("?" * len(own))
            by_design = {
                r[0] for r in con.execute(f"SELECT pageno FROM dbstat WHERE name IN ({marks})", own)
            }
            rest = moved - by_design
            if rest:  # name the tables (a full scan, only when something else moved)
                for name, pageno in con.execute("SELECT name, pageno FROM dbstat"):
                    table = owner.get(name, name)
                    if pageno in rest and table not in skip:
                        changed.add(table)
    return sorted(changed)


def leaks_in(text: str, request_text: str = "") -> list[str]:
    """The :data:`LEAK_PATTERNS` in an answer's body that the request did not carry."""
    return [p for p in LEAK_PATTERNS if p in text and p not in request_text]


# --------------------------------------------------------------------------- the workspace


def prepare_workspace(source: Path, dest: Path) -> dict[str, str]:
    """Copy ``source`` to ``dest`` and give the copy one user per role with an API token.

    Returns
    -------
    dict
        Role -> bearer token.
    """
    shutil.copyfile(source, dest)
    store = gridgeo.GeoPackageStore.open(dest)
    gridgeo.ensure_user_tables(store)
    grids = store.read("grids")
    tier2 = sorted(grids.loc[grids["tier"] == 2, "grid_id"].astype(str))
    inside = grids.loc[(grids["tier"] == 3) & (grids["parent_id"].astype(str) == tier2[0])]
    grids_of = {
        "grid_manager": (tier2[0],),
        "grid_member": (sorted(inside["grid_id"].astype(str))[0],),
    }
    tokens = {}
    for role in gridgeo.ROLES:
        name = f"{FUZZ_USER_PREFIX}{role}"
        password = f"{role}-fuzz-{SEED}"
        gridgeo.add_user(store, name, role=role, grids=grids_of.get(role), password=password)
        tokens[role] = gridgeo.start_session(store, name, kind="token").token
    return tokens


# --------------------------------------------------------------------------- the run


@dataclass
class RoleRun:
    """One schemathesis run as one role (None: no login)."""

    role: str | None
    max_examples: int
    exit_code: int
    seconds: float
    report: dict[str, Any]
    requests: list[dict[str, Any]] = field(default_factory=list)
    output_tail: str = ""


def schemathesis_available() -> bool:
    """Whether the ``schemathesis`` package is installed in this interpreter."""
    return importlib.util.find_spec("schemathesis") is not None


def run_schemathesis(
    url: str,
    schema: Path,
    workspace: Path,
    out: Path,
    *,
    role: str | None,
    token: str | None,
    max_examples: int,
    seed: int = SEED,
    phases: str = PHASES,
    max_time_s: float | None = None,
) -> RoleRun:
    """``schemathesis run`` against ``url`` as one role; its requests read back from the log.

    Parameters
    ----------
    url
        The server's base URL (``http://127.0.0.1:PORT``).
    schema
        The server's ``/openapi.json``, saved (read with a login: a run without one could
        not read it).
    workspace
        The served workspace file, hashed by the hooks around every write.
    out
        A folder for the run's reports and request log.
    role, token
        Who the run is (the ``Authorization: Bearer`` header); None and None: no login.
    max_examples
        Schemathesis' ``--max-examples`` per operation and phase.
    seed
        The run's seed (the same seed and server state give the same requests).
    phases
        Schemathesis' ``--phases`` (default :data:`PHASES`).
    max_time_s
        An overall time budget for the run (``--max-time``), or None for none.
    """
    name = role or "anonymous"
    out.mkdir(parents=True, exist_ok=True)
    log = out / f"requests-{name}.ndjson"
    log.unlink(missing_ok=True)
    report = out / f"report-{name}.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "run",
        str(schema),
        "--url",
        url,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--output-truncate",
        "true",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    if max_time_s is not None:
        command += ["--max-time", str(int(max_time_s))]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "contractfuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]),
        "GRIDGEO_FUZZ_WORKSPACE": str(workspace),
        "GRIDGEO_FUZZ_LOG": str(log),
    }
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env=env,
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    text = (done.stdout or "") + (done.stderr or "")
    (out / f"output-{name}.txt").write_text(text, encoding="utf-8")
    try:
        parsed = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # schemathesis stopped before writing its report
        parsed = {"errors": [{"message": f"no report from schemathesis (exit {done.returncode})"}]}
    requests = []
    if log.is_file():
        requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return RoleRun(role, max_examples, done.returncode, seconds, parsed, requests, text[-6000:])


def role_problems(run: RoleRun) -> list[str]:
    """What the schema cannot say about a role's answers: 401 without a login, 403 on the
    leadership's forbidden routes, the limits aside; never a 5xx."""
    problems = []
    for r in run.requests:
        key = (r["method"], r["route"])
        status = r["status"]
        if status >= 500:
            problems.append(f"{run.role or 'anonymous'}: {key} answered {status}")
        if status in LIMIT_STATUSES:
            continue
        if run.role is None and key not in PUBLIC_ROUTES and status != 401:
            problems.append(f"anonymous: {key} answered {status}, not 401")
        if run.role == "leader" and key in PERSONAL_ROUTES and status not in (403, 404):
            # 404: a path parameter with a '/' in it matches no route at all
            problems.append(f"leader: {key} answered {status}, not 403")
    return sorted(set(problems))


def summarise(runs: list[RoleRun], *, seed: int) -> dict[str, Any]:
    """The figures of a fuzz: requests, statuses, failures per role and in all."""
    statuses: collections.Counter[int] = collections.Counter()
    per_role = {}
    failures: list[dict[str, Any]] = []
    for run in runs:
        name = run.role or "anonymous"
        counts = collections.Counter(r["status"] for r in run.requests)
        statuses.update(counts)
        report_failures = run.report.get("failures", [])
        failures += [{"role": name, **f} for f in report_failures]
        per_role[name] = {
            "requests": len(run.requests),
            "max_examples": run.max_examples,
            "seconds": round(run.seconds, 1),
            "exit_code": run.exit_code,
            "statuses": {str(k): v for k, v in sorted(counts.items())},
            "writes": sum(r["method"] in UNSAFE_METHODS for r in run.requests),
            "rejected_writes_checked": sum(
                r["method"] in UNSAFE_METHODS and 400 <= r["status"] < 500 for r in run.requests
            ),
            "schemathesis_test_cases": run.report.get("test_cases", {}),
            "schemathesis_errors": len(run.report.get("errors", [])),
            "operations": len(run.report.get("operations", []) or []),
        }
    requests = [r for run in runs for r in run.requests]
    problems = [p for run in runs for p in role_problems(run)]
    return {
        "seed": seed,
        "requests": len(requests),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "contract_failures": sum(int(f.get("count", 0)) for f in failures),
        "failures": failures,
        "leaks": sum(bool(r["leaks"]) for r in requests),
        "rejected_writes_checked": sum(
            r["method"] in UNSAFE_METHODS and 400 <= r["status"] < 500 for r in requests
        ),
        "rejected_writes_that_changed_the_workspace": sum(bool(r["changed"]) for r in requests),
        "role_problems": problems,
        "roles": per_role,
        "p99_seconds": _percentile([r["seconds"] for r in requests], 99),
        "max_seconds": max((r["seconds"] for r in requests), default=0.0),
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def token_still_works(url: str, token: str) -> bool:
    """Whether a run's token still logs in (the fuzz disabled no user of its own)."""
    answer = httpx.get(f"{url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return answer.status_code == 200


def fuzz_ok(summary: Mapping[str, Any]) -> bool:
    """Whether a summary meets issue 13: no 5xx, no contract failure, no leak, no rejected
    write that changed the workspace, no role answered wrongly, no schemathesis error."""
    errors = sum(role["schemathesis_errors"] for role in summary["roles"].values())
    return not (
        summary["server_errors_5xx"]
        or summary["contract_failures"]
        or summary["leaks"]
        or summary["rejected_writes_that_changed_the_workspace"]
        or summary["role_problems"]
        or errors
    )


def _run_lane(
    source: Path,
    out: Path,
    roles: list[tuple[str | None, float]],
    *,
    max_examples: int,
    seed: int,
    phases: str,
    server_env: Mapping[str, str] | None,
    max_time_s: float | None = None,
) -> tuple[list[RoleRun], dict[str, bool], int]:
    """Some roles' runs, one after the other, against one server over one workspace copy."""
    from liveserver import start_server, stop_server

    out.mkdir(parents=True, exist_ok=True)
    workspace = out / "workspace.gpkg"
    tokens = prepare_workspace(source, workspace)
    server = start_server(workspace, out / "uvicorn.log", env=dict(server_env or {}), limits=True)
    runs = []
    try:
        schema = out / "openapi.json"
        answer = httpx.get(
            f"{server.url}/openapi.json",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=REQUEST_TIMEOUT_S,
        )
        answer.raise_for_status()
        schema.write_bytes(answer.content)
        weight = sum(1 + share for _, share in roles)
        for role, share in roles:
            budget = None if max_time_s is None else max(1.0, max_time_s * (1 + share) / weight)
            runs.append(
                run_schemathesis(
                    server.url,
                    schema,
                    workspace,
                    out,
                    role=role,
                    token=tokens[role] if role else None,
                    max_examples=max(1, round(max_examples * share)),
                    seed=seed,
                    phases=phases,
                    max_time_s=budget,
                )
            )
        alive = {role: token_still_works(server.url, tokens[role]) for role, _ in roles if role}
    finally:
        stop_server(server.process)
    server_log = (out / "uvicorn.log").read_text(encoding="utf-8", errors="replace")
    return runs, alive, server_log.count("Traceback")


def run_fuzz(
    source: Path,
    out: Path,
    *,
    max_examples: int,
    seed: int = SEED,
    roles: Iterable[tuple[str | None, float]] = ROLE_RUNS,
    phases: str = PHASES,
    lanes: int = 1,
    max_time_s: float | None = None,
    server_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole fuzz (module docstring) over copies of ``source``.

    With ``lanes`` > 1 the role runs are dealt to that many lanes that run at the same
    time, each with its own copy of the workspace and its own server (so that the
    before/after hashes of a write still see that write alone). With ``max_time_s`` each
    lane's runs share that time (schemathesis' ``--max-time``: the fuzzing phase repeats
    until its share is spent, a phase still running then is cut short).

    Returns
    -------
    dict
        :func:`summarise`'s summary with ``tokens_still_work`` (role -> whether its token
        still logs in after the fuzz) and ``server_log_tracebacks``.
    """
    plan = list(roles)
    lanes = max(1, min(lanes, len(plan)))
    # each run costs about its coverage phase (the same for every role) plus its share of
    # the fuzzing: the most costly first, each to the lane with the least work so far
    dealt: list[list[tuple[str | None, float]]] = [[] for _ in range(lanes)]
    for run in sorted(plan, key=lambda r: -r[1]):
        min(dealt, key=lambda lane: sum(1 + share for _, share in lane)).append(run)
    dealt = [lane for lane in dealt if lane]
    with concurrent.futures.ThreadPoolExecutor(max_workers=lanes) as pool:
        futures = [
            pool.submit(
                _run_lane,
                source,
                out / f"lane{i}",
                part,
                max_examples=max_examples,
                seed=seed,
                phases=phases,
                server_env=server_env,
                max_time_s=max_time_s,
            )
            for i, part in enumerate(dealt)
        ]
        results = [f.result() for f in futures]
    runs = [run for lane_runs, _, _ in results for run in lane_runs]
    order = {role: i for i, (role, _) in enumerate(plan)}
    runs.sort(key=lambda run: order[run.role])
    summary = summarise(runs, seed=seed)
    summary["lanes"] = lanes
    summary["tokens_still_work"] = {k: v for _, alive, _ in results for k, v in alive.items()}
    summary["server_log_tracebacks"] = sum(n for _, _, n in results)
    return summary


# matches schemathesis' failure blocks in its output, for a short failure message
_FAILURE_HEAD = re.compile(r"^_{3,} (.+?) _{3,}$", re.MULTILINE)


def failure_text(out: Path, limit: int = 4000) -> str:
    """The failing operations and the first lines of each run's output, for a test message."""
    parts = []
    for path in sorted(out.glob("**/output-*.txt")):
        text = path.read_text(encoding="utf-8")
        heads = _FAILURE_HEAD.findall(text)
        if heads:
            parts.append(f"{path.stem}: {heads}")
            start = text.find("FAILURES")
            parts.append(text[start : start + 1500])
    return "\n".join(parts)[:limit]
