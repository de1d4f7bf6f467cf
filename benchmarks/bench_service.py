"""Benchmark: the service on a real uvicorn under a bounded load, against its baseline and floor.

Run ``python benchmarks/bench_service.py`` (``--workspace PATH``: the demo's
``out/demo/workspace.gpkg`` by default, made by ``gridgeo demo --out out/demo`` if missing;
``--seconds S`` per phase, default 10; ``--concurrency C``, default 32; ``--workers 1 2``;
``--customers N``, default 1000).

For each number of uvicorn workers, a copy of the workspace with one admin user and API token
is served on 127.0.0.1 three ways, one after the other:

- **service**: ``python -m api.limits`` as ``gridgeo serve`` runs it (httptools with the
  header timeout, uvloop, layers and answers kept per workspace version);
- **baseline**: the per-request cost when issue 13 was written -- the same app with
  ``GRIDGEO_CACHE_LAYERS=false`` (every request reads its layers and computes its answer)
  on uvicorn's h11 protocol;
- **floor**: ``benchmarks/floor_app.py``, a bare ASGI app that answers every request with
  fixed bytes of the size of a dispatch answer, on the same uvicorn, protocol and loop:
  what this machine's server stack and load client reach at all.

Each server is warmed (engine, station labels, layers) by requests from customers not used
below. Then, per endpoint (``GET /dispatch?customer_id=``, ``GET /customers/{id}``,
``GET /kpis``):

- ``c1``: one connection for min(S, 5) s -- the latency of one request at a time;
- ``cold`` (service): every one of N customers asked once at concurrency C -- each answer is
  computed (what the first fault call of a customer costs);
- ``warm`` (service) / ``load`` (baseline, floor): C connections for S s over the same N
  customers -- the steady state, against which issue 13's goals are read.

The load comes from ``benchmarks/loadclient.py``: raw HTTP/1.1 on asyncio streams with
kept-alive connections, tens of microseconds of client CPU per request (an HTTP client library
costs about a millisecond, most of what the server has, as the client shares the 2 cores).
Requests answered within 10 s count with their latency (p50 / p99 / max); timeouts and
connection errors count apart; every status is counted. ``server_cpu_ms`` is the CPU time
the server's processes used per answered request (from /proc: less noisy than wall time on a
shared machine). Results go to stdout and to ``benchmarks/results/bench_service.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from loadclient import LoadResult, run_load

import gridgeo

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "bench_service.json"
DEFAULT_WORKSPACE = REPO / "out" / "demo" / "workspace.gpkg"
SEED = 20261206
N_CUSTOMERS = 1000
N_WARM = 24  # customers asked while warming (not among the measured ones)
CLIENT_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
STAMP_CHECKS = 20_000
ENDPOINTS = ("dispatch", "customer", "kpis")
GOALS = {  # req/s at concurrency 32 and p99 (ms), from issue 13, read against the warm phase
    "dispatch": (1000.0, 50.0),
    "customer": (500.0, None),
    "kpis": (100.0, None),
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(
    workspace: Path, folder: Path, n_customers: int = N_CUSTOMERS
) -> tuple[Path, str, list[str], list[str]]:
    """A copy of ``workspace`` with a bench admin and its token; the customers to measure
    and, apart from them, the customers to warm the servers with."""
    path = folder / "workspace.gpkg"
    shutil.copyfile(workspace, path)
    store = gridgeo.GeoPackageStore.open(path)
    gridgeo.ensure_user_tables(store)
    gridgeo.add_user(store, "bench_admin", role="admin", password="bench-admin-pass-2026")
    token = gridgeo.start_session(store, "bench_admin", kind="token").token
    customers = store.read("customers")
    located = customers.loc[customers.geometry.notna() & ~customers.geometry.is_empty]
    ids = located["customer_id"].astype(str).tolist()
    picked = random.Random(SEED).sample(ids, min(n_customers + N_WARM, len(ids)))
    return path, token, picked[N_WARM:], picked[:N_WARM]


def stamp_cost_us(path: Path) -> dict[str, float]:
    """What the cache's check per request costs: ``max(fid)`` against ``PRAGMA data_version``
    on one kept connection (µs per call)."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    out = {}
    for name, sql in (
        ("max_fid_us", "SELECT coalesce(max(fid), 0) FROM gridgeo_versions"),
        ("data_version_us", "PRAGMA data_version"),
    ):
        t0 = time.perf_counter()
        for _ in range(STAMP_CHECKS):
            con.execute(sql).fetchone()
        out[name] = (time.perf_counter() - t0) / STAMP_CHECKS * 1e6
    con.close()
    return out


def start(path: Path, *, kind: str, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    """Start the ``kind`` server (service, baseline or floor) and wait for it to answer."""
    port = free_port()
    env = {**os.environ, "GRIDGEO_WORKSPACE": str(path)}
    if kind == "floor":
        command = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE)]
        command += ["--http", "httptools", "--log-level", "warning", "--port", str(port)]
        command += ["--workers", str(workers)]
    else:
        env["GRIDGEO_CACHE_LAYERS"] = "true" if kind == "service" else "false"
        command = [sys.executable, "-m", "api.limits", "--port", str(port)]
        command += [
            "--workers",
            str(workers),
            "--http",
            "httptools" if kind == "service" else "h11",
        ]
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}/health"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"uvicorn did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its child processes."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def drain(pid: int, *, idle_share: float = 0.1, limit_s: float = 180.0) -> None:
    """Wait until the server works off what earlier phases left queued (requests the client
    gave up on are still computed): its CPU use over one second below ``idle_share``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = tree_cpu_s(pid)
        time.sleep(1.0)
        if tree_cpu_s(pid) - before < idle_share:
            return


def targets(name: str, customers: list[str]) -> list[str]:
    if name == "dispatch":
        return [f"/dispatch?customer_id={c}" for c in customers]
    if name == "customer":
        return [f"/customers/{c}" for c in customers]
    return ["/kpis"]


def measure(
    port: int, pid: int, token: str, paths: list[str], *, seconds: float, concurrency: int
) -> dict[str, Any]:
    """One load phase; ``seconds=0`` asks every path exactly once."""
    headers = {"Authorization": f"Bearer {token}"}
    cpu0 = tree_cpu_s(pid)
    if seconds > 0:
        result = asyncio.run(
            run_load(
                "127.0.0.1",
                port,
                paths,
                headers=headers,
                seconds=seconds,
                concurrency=concurrency,
                timeout_s=CLIENT_TIMEOUT_S,
            )
        )
    else:
        result = asyncio.run(once_each(port, paths, headers, concurrency))
    cpu = tree_cpu_s(pid) - cpu0
    return summary(result, cpu)


async def once_each(
    port: int, paths: list[str], headers: dict[str, str], concurrency: int
) -> LoadResult:
    """Every path once, ``concurrency`` at a time (the ``cold`` phase)."""
    out = LoadResult()
    share = [paths[i::concurrency] for i in range(concurrency)]
    t0 = time.perf_counter()
    parts = await asyncio.gather(
        *(
            run_load(
                "127.0.0.1",
                port,
                mine,
                headers=headers,
                seconds=3600,
                concurrency=1,
                timeout_s=CLIENT_TIMEOUT_S,
                max_requests=len(mine),
            )
            for mine in share
            if mine
        )
    )
    out.wall_s = time.perf_counter() - t0
    for part in parts:
        out.latencies_s += part.latencies_s
        out.timeouts += part.timeouts
        out.errors += part.errors
        for status, n in part.statuses.items():
            out.statuses[status] = out.statuses.get(status, 0) + n
    return out


def summary(result: LoadResult, cpu_s: float) -> dict[str, Any]:
    ms = np.array(result.latencies_s) * 1000 if result.latencies_s else np.array([np.nan])
    ok = result.statuses.get(200, 0)
    answered = len(result.latencies_s)
    return {
        "seconds": round(result.wall_s, 2),
        "requests": answered,
        "ok": ok,
        "req_per_s": round(ok / result.wall_s, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 1),
        "server_cpu_ms": round(cpu_s * 1000 / max(answered, 1), 3),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "timeouts": result.timeouts,
        "errors": result.errors,
    }


def warm(port: int, token: str, warm_ids: list[str], workers: int) -> None:
    """Build every worker's engine, labels and layers with customers not measured later."""
    paths = [p for name in ENDPOINTS for p in targets(name, warm_ids)]
    headers = {"Authorization": f"Bearer {token}"}
    asyncio.run(
        run_load(
            "127.0.0.1",
            port,
            paths,
            headers=headers,
            seconds=3600,
            concurrency=2 * workers,
            timeout_s=300,
            max_requests=len(paths),
        )
    )


def run(
    workspace: Path, *, seconds: float, concurrency: int, workers: list[int], n_customers: int
) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_service_") as tmp:
        path, token, customers, warm_ids = prepare(workspace, Path(tmp), n_customers)
        stamp = stamp_cost_us(path)
        print(f"cache check per request: {stamp}", flush=True)
        for n_workers in workers:
            for kind in ("floor", "service", "baseline"):
                log = Path(tmp) / f"uvicorn-{kind}-{n_workers}.log"
                proc, port = start(path, kind=kind, workers=n_workers, log=log)
                try:
                    warm(port, token, warm_ids, n_workers)
                    for name in ENDPOINTS if kind != "floor" else ("floor",):
                        paths = targets(name, customers) if kind != "floor" else ["/"]
                        phases = [("c1", 1, min(seconds, 5.0))]
                        if kind == "service":
                            if name != "kpis":
                                phases.append(("cold", concurrency, 0.0))
                            phases.append(("warm", concurrency, seconds))
                        else:
                            phases.append(("load", concurrency, min(seconds, 5.0)))
                        for phase, conc, secs in phases:
                            drain(proc.pid)
                            result = measure(
                                port, proc.pid, token, paths, seconds=secs, concurrency=conc
                            )
                            row = {
                                "server": kind,
                                "endpoint": name,
                                "workers": n_workers,
                                "phase": phase,
                                "concurrency": conc,
                                **result,
                            }
                            rows.append(row)
                            print(json.dumps(row, ensure_ascii=False), flush=True)
                finally:
                    stop(proc)
    return {"stamp_check": stamp, "rows": rows}


def goal_met(row: dict[str, Any]) -> str:
    if row["server"] != "service" or row["phase"] != "warm":
        return ""
    goal_rps, goal_p99 = GOALS[row["endpoint"]]
    met = row["req_per_s"] >= goal_rps and (goal_p99 is None or row["p99_ms"] < goal_p99)
    met = met and row["timeouts"] == 0 and row["errors"] == 0
    return "met" if met else "not met"


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "server   endpoint  workers phase conc   req/s    p50ms   p99ms   max_ms cpu_ms/req "
        "timeouts errors non-200 goal"
    )
    lines = [head]
    for r in rows:
        non_200 = r["requests"] - r["ok"]
        lines.append(
            f"{r['server']:<8} {r['endpoint']:<9} {r['workers']:>7} {r['phase']:<5} "
            f"{r['concurrency']:>4} {r['req_per_s']:>7} {r['p50_ms']:>8} {r['p99_ms']:>7} "
            f"{r['max_ms']:>8} {r['server_cpu_ms']:>10} {r['timeouts']:>8} {r['errors']:>6} "
            f"{non_200:>7} {goal_met(r)}"
        )
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per endpoint and worker count: the service's warm throughput against the baseline's
    and the floor's, and its server CPU per request against theirs."""
    out = []
    for r in rows:
        if r["server"] != "service" or r["phase"] != "warm":
            continue
        base = next(
            (
                b
                for b in rows
                if b["server"] == "baseline"
                and b["endpoint"] == r["endpoint"]
                and b["workers"] == r["workers"]
                and b["phase"] == "load"
            ),
            None,
        )
        floor = next(
            (
                f
                for f in rows
                if f["server"] == "floor" and f["workers"] == r["workers"] and f["phase"] == "load"
            ),
            None,
        )
        out.append(
            {
                "endpoint": r["endpoint"],
                "workers": r["workers"],
                "x_baseline_req_per_s": round(r["req_per_s"] / base["req_per_s"], 1)
                if base and base["req_per_s"]
                else None,
                "of_floor_req_per_s": round(r["req_per_s"] / floor["req_per_s"], 2)
                if floor and floor["req_per_s"]
                else None,
                "cpu_vs_floor": round(r["server_cpu_ms"] / floor["server_cpu_ms"], 2)
                if floor and floor["server_cpu_ms"]
                else None,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--customers", type=int, default=N_CUSTOMERS)
    args = parser.parse_args()
    if not args.workspace.is_file():
        out = args.workspace.parent
        print(f"making the demo workspace in {out} ...", flush=True)
        subprocess.run([sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(out)], check=True)
    result = run(
        args.workspace,
        seconds=args.seconds,
        concurrency=args.concurrency,
        workers=args.workers,
        n_customers=args.customers,
    )
    print(format_table(result["rows"]))
    result["ratios"] = ratios(result["rows"])
    for r in result["ratios"]:
        print(json.dumps(r))
    payload = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "customers": args.customers,
        "load_average_at_end": os.getloadavg(),
        "note": "client and server share the machine's cores",
        **result,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
