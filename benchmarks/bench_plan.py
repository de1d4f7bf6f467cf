"""Benchmark: siting with gridgeo.plan, its travel-time matrix against plain NetworkX, exact
against greedy.

Run ``python benchmarks/bench_plan.py`` (``--sizes sample`` for the small case only). Two
counties, each loaded or generated once; candidates are all the county's villages, customers
are at their true positions, the promise is 30-minute repair (limit 1,800 s, station →
customer on the directed drive graph):

- ``sample``: the shipped sample (``gridgeo.sample.load_sample()``: 8,618 road nodes, 30,000
  customers, 187 villages, 7 repair stations);
- ``large``: ``generate_county(seed=361023, n_customers=100_000, road_detail=15.0)``: ~10^5
  road nodes, 10^5 customers, 187 villages, 7 repair stations.

Part 1, the candidate x customer travel-time matrix (the bulk of a siting run), in the same
process on the same roads:

- ``gridgeo``: ``ReachEngine.from_roads(roads)`` (the build, timed on its own), then the
  ``gridgeo.routing.travel_matrix(engine, villages, customers, limit_s=1800)``
  (nearest-edge snapping of both sides with off-road legs, bounded
  ``scipy.sparse.csgraph.dijkstra`` in chunks of candidates, numpy partial-edge arithmetic; a
  sparse matrix of the pairs within the limit).
- ``networkx``: what a plain NetworkX/OSMnx user writes with the same semantics:
  ``graph_from_roads(roads)`` (the build, timed on its own); edge geometries projected
  and a shapely STRtree for the **nearest edge** of every candidate and customer (as
  ``osmnx.distance.nearest_edges`` does; "snap"); then for each candidate a virtual source node
  joined to both ends of its edge with the partial-edge times and its off-road leg, and
  ``nx.single_source_dijkstra_path_length(G, source, cutoff=1800, weight="travel_time")``
  ("dijkstra"); then a Python loop over the customers for the partial-edge arithmetic and the
  off-road leg, keeping the pairs within the limit ("lookup"). Simplified against gridgeo: no
  snapping radius (gridgeo leaves points farther than 500 m from a road out), no small-piece
  rule, and a customer on a candidate's own edge is reached through the edge's end nodes, not
  directly along it. The coverage flags (time <= limit) of every candidate x customer pair are
  compared with gridgeo's: the share of agreeing pairs over all pairs, and over the pairs
  that either side covers; the disagreeing pairs are sorted by cause (gridgeo leaves the
  point out, snaps it to another road than the nearest edge, or goes straight along a shared
  road).

  If the candidates of a size would take more than ``--baseline-budget-s`` (default 180 s)
  on the networkx side (estimated from the first 8 candidates of a seeded shuffle), the
  dijkstra and lookup run on a seeded subset of candidates only (the first ones of that
  shuffle) and their times are extrapolated linearly to all candidates; the table and the
  JSON (``extrapolated``, ``baseline_candidates``) say so. The agreement is then over the
  subset.

Part 2, solution quality and time of ``site_facilities(..., method="exact")`` against
``method="greedy"`` for k = 1, 2, 3, 5, 10, with no existing stations and with the county's 7
repair stations as ``existing_stations``, on a prebuilt engine: customers covered after the
picks, the gap (exact − greedy, customers and percentage points of all customers), the solve
time (the solver alone, read from the ``gridgeo.plan`` log record of the call: for
``"exact"`` both HiGHS programmes, the optimum and its tie-break, and the pick ordering) and the
whole call (snapping and travel times included).

Wall times by ``time.perf_counter``. The two builds and gridgeo's matrix are the median of 3
calls after a warm-up call; the networkx matrix (seconds to minutes) runs once. Other work on the
machine moves the figures (the 1-minute load average at the end is in the JSON): read them as
ratios on the same machine, not as absolute figures. Results go to stdout as a table and to
``benchmarks/results/bench_plan.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import shapely
from scipy import sparse

from gridgeo.crs import metric_crs
from gridgeo.network import WALK_SPEED_KPH, graph_from_roads
from gridgeo.plan import site_facilities
from gridgeo.reach import DEFAULT_REPAIR_LIMIT_S, ReachEngine
from gridgeo.routing import travel_matrix
from gridgeo.sample import DEFAULT_SEED, generate_county, load_sample

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_plan.json"
SIZES = ("sample", "large")
LARGE = {"seed": DEFAULT_SEED, "n_customers": 100_000, "road_detail": 15.0}
LIMIT_S = DEFAULT_REPAIR_LIMIT_S
KS = (1, 2, 3, 5, 10)
METHODS = ("exact", "greedy")
CANDIDATE_ID = "village_code"
SUBSET_SEED = 20250101
PILOT_CANDIDATES = 8
REPEATS = 3  # the builds and gridgeo's matrix are timed this many times (median)
DEFAULT_BASELINE_BUDGET_S = 180.0


def _county(
    size: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Roads, customers, candidate villages and repair stations of one size."""
    start = time.perf_counter()
    county = load_sample() if size == "sample" else generate_county(**LARGE)
    print(f"{size}: county ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return (
        county.roads,
        county.customers[["customer_id", "geometry"]],
        county.villages[[CANDIDATE_ID, "geometry"]],
        county.repair_stations[["station_id", "geometry"]],
    )


# --------------------------------------------------------------------------- networkx baseline


def _edge_snap(G: nx.MultiDiGraph, *layers: gpd.GeoDataFrame) -> tuple[list, list]:
    """Nearest edge of every point (STRtree over the projected edge lines, as OSMnx does).

    Returns the edge list and, per layer, one tuple per point: ``(u, v, tt_uv, tt_vu, t,
    leg_s)`` with ``t`` the point's fraction along the edge from ``u`` and ``tt_vu`` the time
    of the same road driven back (inf on a one-way road).
    """
    edges = list(G.edges(keys=True, data=True))
    nodes = list(G.nodes)
    lon = np.array([G.nodes[n]["x"] for n in nodes])
    lat = np.array([G.nodes[n]["y"] for n in nodes])
    crs = metric_crs((lon.min(), lat.min(), lon.max(), lat.max()))
    lines = gpd.GeoSeries([d["geometry"] for *_, d in edges], crs="EPSG:4326").to_crs(crs)
    lines_m = lines.to_numpy()
    tree = shapely.STRtree(lines_m)
    walk_mps = WALK_SPEED_KPH / 3.6

    def back_time(u, v, line):  # the twin v -> u of a two-way road: same line reversed
        data = G.get_edge_data(v, u) or {}
        back = line.reverse()
        times = [d["travel_time"] for d in data.values() if d["geometry"].equals_exact(back, 1e-9)]
        return min(times, default=math.inf)

    out = []
    for layer in layers:
        pts = layer.to_crs(crs).geometry.to_numpy()
        (pi, ei), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        frac = shapely.line_locate_point(lines_m[ei], pts[pi], normalized=True)
        snapped = [None] * len(pts)
        for p, e, t, d in zip(pi.tolist(), ei.tolist(), frac.tolist(), dist.tolist(), strict=True):
            u, v, _, data = edges[e]
            tt = data["travel_time"]
            snapped[p] = (u, v, tt, back_time(u, v, data["geometry"]), t, d / walk_mps)
        out.append(snapped)
    return edges, out


def networkx_matrix(
    G: nx.MultiDiGraph,
    candidates: gpd.GeoDataFrame,
    customers: gpd.GeoDataFrame,
    *,
    limit_s: float,
    budget_s: float,
) -> tuple[sparse.csr_matrix, np.ndarray, dict, dict]:
    """Candidate x customer times within ``limit_s`` on plain NetworkX (see the docstring).

    Returns the matrix (rows of the candidates not run are empty), the positions of the
    candidates run, the timings (dijkstra and lookup extrapolated to all candidates when a
    subset was run) and the road of each candidate and customer.
    """
    t0 = time.perf_counter()
    _, (cand, cust) = _edge_snap(G, candidates, customers)
    snap_s = time.perf_counter() - t0

    n = len(cand)
    order = np.random.default_rng(SUBSET_SEED).permutation(n).tolist()
    rows, cols, vals = [], [], []
    dijkstra_s = lookup_s = 0.0
    n_run = n
    source = ("virtual", "candidate")
    done: list[int] = []
    for i in order:
        if len(done) == PILOT_CANDIDATES and n_run == n:
            per_candidate = (dijkstra_s + lookup_s) / len(done)
            if per_candidate * n > budget_s:
                n_run = max(PILOT_CANDIDATES, int(budget_s / per_candidate))
        if len(done) >= n_run:
            break
        u, v, tt, back, t, leg = cand[i]
        ta = time.perf_counter()
        G.add_node(source)
        try:
            G.add_edge(source, v, travel_time=leg + (1.0 - t) * tt)
            if back < math.inf:
                G.add_edge(source, u, travel_time=leg + t * back)
            dist = nx.single_source_dijkstra_path_length(
                G, source, cutoff=limit_s, weight="travel_time"
            )
        finally:
            G.remove_node(source)
        tb = time.perf_counter()
        inf = math.inf
        for j, (cu, cv, ctt, cback, ct, cleg) in enumerate(cust):
            eta = min(dist.get(cu, inf) + ct * ctt, dist.get(cv, inf) + (1.0 - ct) * cback) + cleg
            if eta <= limit_s:
                rows.append(i)
                cols.append(j)
                vals.append(eta)
        tc = time.perf_counter()
        dijkstra_s += tb - ta
        lookup_s += tc - tb
        done.append(i)

    M = sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(cust)))
    scale = n / len(done)
    timing = {
        "snap_s": snap_s,
        "dijkstra_s": dijkstra_s * scale,
        "lookup_s": lookup_s * scale,
        "measured_dijkstra_s": dijkstra_s,
        "measured_lookup_s": lookup_s,
        "baseline_candidates": len(done),
        "extrapolated": len(done) < n,
    }
    timing["total_s"] = snap_s + timing["dijkstra_s"] + timing["lookup_s"]
    snaps = {
        "b_edge_cand": _edge_keys([c[0] for c in cand], [c[1] for c in cand]),
        "b_edge_cust": _edge_keys([c[0] for c in cust], [c[1] for c in cust]),
    }
    return M, np.array(sorted(done)), timing, snaps


def _edge_keys(u: list, v: list) -> np.ndarray:
    """One comparable key per point for the road it is on (either direction), None if none."""
    keys = np.empty(len(u), dtype=object)
    for i, (a, b) in enumerate(zip(u, v, strict=True)):
        keys[i] = None if a is None else frozenset((a, b))
    return keys


def _explain(keys: np.ndarray, rows: np.ndarray, n_cust: int, snaps: dict) -> dict:
    """Why gridgeo and the baseline disagree on the coverage flag of the pairs ``keys``.

    ``too_far_or_isolated_in_gridgeo``: gridgeo leaves the candidate or customer out (farther
    than ``max_snap_m`` from a road) or keeps it on a small road piece it cannot leave;
    ``other_road_than_nearest``: gridgeo snaps the candidate or customer to another road than
    the nearest edge (a point near a small road piece joins the main network);
    ``on_candidate_road``: customer and candidate on the same road (gridgeo goes straight along
    it, the baseline through its end nodes); ``other``: none of these.
    """
    cand = rows[keys // n_cust]
    cust = keys % n_cust
    g_ok_c, g_ok_p = snaps["g_ok_cand"][cand], snaps["g_ok_cust"][cust]
    g_c, g_p = snaps["g_edge_cand"][cand], snaps["g_edge_cust"][cust]
    b_c, b_p = snaps["b_edge_cand"][cand], snaps["b_edge_cust"][cust]
    not_snapped = ~(g_ok_c & g_ok_p)
    other_road = ~not_snapped & ((g_c != b_c) | (g_p != b_p))
    same_road = ~not_snapped & ~other_road & (g_c == g_p)
    return {
        "too_far_or_isolated_in_gridgeo": int(not_snapped.sum()),
        "other_road_than_nearest": int(other_road.sum()),
        "on_candidate_road": int(same_road.sum()),
        "other": int((~not_snapped & ~other_road & ~same_road).sum()),
    }


def _compare(
    ours: sparse.csr_matrix, base: sparse.csr_matrix, rows: np.ndarray, snaps: dict
) -> dict:
    """Coverage flags and times of the two matrices on the candidate rows run by both."""
    a, b = ours[rows].tocoo(), base[rows].tocoo()
    n_cust = ours.shape[1]
    ka = a.row.astype(np.int64) * n_cust + a.col
    kb = b.row.astype(np.int64) * n_cust + b.col
    both, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    n_pairs = len(rows) * n_cust
    disagree = len(ka) + len(kb) - 2 * len(both)
    diff = a.data[ia] - b.data[ib]
    return {
        "why_only_gridgeo": _explain(np.setdiff1d(ka, kb), rows, n_cust, snaps),
        "why_only_networkx": _explain(np.setdiff1d(kb, ka), rows, n_cust, snaps),
        "pairs": n_pairs,
        "pairs_covered_gridgeo": len(ka),
        "pairs_covered_networkx": len(kb),
        "pairs_covered_only_gridgeo": len(ka) - len(both),
        "pairs_covered_only_networkx": len(kb) - len(both),
        "share_flag_agree": 1.0 - disagree / n_pairs,
        "share_flag_agree_of_covered_by_either": len(both) / (len(ka) + len(kb) - len(both)),
        "share_equal_time_of_covered_by_both": float((np.abs(diff) <= 1e-6).mean()),
        "max_gridgeo_earlier_s": float(-diff.min()) if len(diff) else 0.0,
        "max_gridgeo_later_s": float(diff.max()) if len(diff) else 0.0,
    }


# --------------------------------------------------------------------------- runs


class _SolveLog(logging.Handler):
    """Keeps the arguments of gridgeo.plan's per-call log record (matrix and solve times)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.args: tuple = ()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("siting:"):
            self.args = tuple(record.args or ())


def _siting(engine, customers, candidates, stations, size: str) -> list[dict]:
    log = _SolveLog()
    plan_logger = logging.getLogger("gridgeo.plan")
    plan_logger.addHandler(log)
    level = plan_logger.level
    plan_logger.setLevel(logging.INFO)
    out = []
    try:
        for existing_name, existing in (("none", None), ("7 stations", stations)):
            for k in KS:
                row: dict = {"size": size, "existing": existing_name, "k": k}
                for method in METHODS:
                    log.args = ()
                    start = time.perf_counter()
                    res = site_facilities(
                        engine,
                        customers,
                        candidates,
                        service="repair",
                        existing=existing,
                        k=k,
                        id_column=CANDIDATE_ID,
                        method=method,
                    )
                    call_s = time.perf_counter() - start
                    if len(log.args) != 8:
                        msg = "gridgeo.plan's log record changed: update _SolveLog"
                        raise RuntimeError(msg)
                    row[method] = {
                        "covered_before": res.covered_before,
                        "covered_after": res.covered_after,
                        "share_after": res.share_after,
                        "chosen": list(res.chosen),
                        "optimal": res.optimal,
                        "coverage_rows": int(log.args[5]),
                        "matrix_s": float(log.args[4]),
                        "solve_s": float(log.args[7]),
                        "call_s": call_s,
                    }
                ex, gr = row["exact"], row["greedy"]
                row["n_customers"] = res.n_customers
                row["gap_customers"] = ex["covered_after"] - gr["covered_after"]
                row["gap_pp"] = 100.0 * row["gap_customers"] / res.n_customers
                row["same_set"] = set(ex["chosen"]) == set(gr["chosen"])
                out.append(row)
                print(
                    f"{size}: existing {existing_name}, k={k}: gap {row['gap_customers']}",
                    file=sys.stderr,
                )
    finally:
        plan_logger.removeHandler(log)
        plan_logger.setLevel(level)
    return out


def _timed(call) -> tuple:
    """The last result of ``REPEATS`` calls of ``call`` and the wall time of each."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = call()
        runs.append(time.perf_counter() - start)
    return result, runs


def run_size(size: str, *, budget_s: float) -> dict:
    roads, customers, candidates, stations = _county(size)
    row: dict = {"size": size, "customers": len(customers), "candidates": len(candidates)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ReachEngine.from_roads(roads, mode="drive")  # warm-up
        engine, engine_runs = _timed(lambda: ReachEngine.from_roads(roads, mode="drive"))
        travel_matrix(engine, candidates, customers, limit_s=LIMIT_S)  # warm-up
        ours, matrix_runs = _timed(
            lambda: travel_matrix(engine, candidates, customers, limit_s=LIMIT_S)
        )
    engine_s, matrix_s = float(np.median(engine_runs)), float(np.median(matrix_runs))
    row["road_nodes"] = engine.n_nodes
    row["gridgeo"] = {
        "engine_s": engine_s,
        "matrix_s": matrix_s,
        "total_s": engine_s + matrix_s,
        "engine_runs_s": engine_runs,
        "matrix_runs_s": matrix_runs,
        "pairs_within_limit": int(ours.nnz),
    }
    print(f"{size}: gridgeo matrix {matrix_s:.2f} s", file=sys.stderr)

    graph_from_roads(roads, mode="drive")  # warm-up
    G, graph_runs = _timed(lambda: graph_from_roads(roads, mode="drive"))
    graph_s = float(np.median(graph_runs))
    base, run_rows, timing, snaps = networkx_matrix(
        G, candidates, customers, limit_s=LIMIT_S, budget_s=budget_s
    )
    timing["graph_s"] = graph_s
    timing["graph_runs_s"] = graph_runs
    row["networkx"] = timing
    print(
        f"{size}: networkx matrix {timing['total_s']:.1f} s"
        + (" (extrapolated)" if timing["extrapolated"] else ""),
        file=sys.stderr,
    )
    for name, layer in (("cand", candidates), ("cust", customers)):
        snapped = engine.snap(layer)
        snaps[f"g_ok_{name}"] = (snapped["reason"] == "ok").to_numpy()
        snaps[f"g_edge_{name}"] = _edge_keys(snapped["u"].tolist(), snapped["v"].tolist())
    row["agreement"] = _compare(ours, base, run_rows, snaps)
    row["matrix_speedup"] = timing["total_s"] / matrix_s
    row["matrix_speedup_with_build"] = (graph_s + timing["total_s"]) / (engine_s + matrix_s)
    row["paths_speedup"] = (timing["dijkstra_s"] + timing["lookup_s"]) / matrix_s
    del G, base

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["siting"] = _siting(engine, customers, candidates, stations, size)
    return row


# --------------------------------------------------------------------------- output


def format_table(rows: list[dict]) -> str:
    """The result rows as two text tables: the matrix, then exact against greedy."""
    out = [f"1. candidate x customer travel-time matrix (repair, limit {LIMIT_S:,.0f} s)"]
    out.append(
        f"  {'size':7s} {'implementation':30s} {'build s':>8s} {'snap s':>7s} {'paths s':>8s} "
        f"{'lookup s':>8s} {'matrix s':>9s} {'x ours':>7s} {'+build':>7s} {'x ours':>7s}"
    )
    for r in rows:
        g, b = r["gridgeo"], r["networkx"]
        out.append(
            f"  {r['size']:7s} {'gridgeo travel_matrix':30s} {g['engine_s']:8.2f} {'':>7s} "
            f"{'':>8s} {'':>8s} {g['matrix_s']:9.2f} {1.0:7.2f} {g['total_s']:7.2f} {1.0:7.2f}"
        )
        label = "networkx nearest edge" + (" (extrap.)" if b["extrapolated"] else "")
        with_build = b["graph_s"] + b["total_s"]
        out.append(
            f"  {'':7s} {label:30s} {b['graph_s']:8.2f} {b['snap_s']:7.2f} "
            f"{b['dijkstra_s']:8.2f} {b['lookup_s']:8.2f} {b['total_s']:9.2f} "
            f"{r['matrix_speedup']:7.1f} {with_build:7.2f} {r['matrix_speedup_with_build']:7.1f}"
        )
        a = r["agreement"]
        subset = (
            f"networkx ran {b['baseline_candidates']} of {r['candidates']} candidates "
            "(seeded subset, times extrapolated linearly); "
            if b["extrapolated"]
            else ""
        )
        out.append(
            f"  {'':7s} {r['road_nodes']:,} road nodes, {r['customers']:,} customers, "
            f"{r['candidates']} candidates; {subset}coverage flags agree on "
            f"{100 * a['share_flag_agree']:.3f}% of pairs "
            f"({100 * a['share_flag_agree_of_covered_by_either']:.3f}% of pairs covered by "
            f"either; only gridgeo {a['pairs_covered_only_gridgeo']:,}, only networkx "
            f"{a['pairs_covered_only_networkx']:,}); equal times (1e-6 s) on "
            f"{100 * a['share_equal_time_of_covered_by_both']:.2f}% of pairs covered by both"
        )
        for side in ("gridgeo", "networkx"):
            why = ", ".join(f"{k} {v:,}" for k, v in a[f"why_only_{side}"].items())
            out.append(f"  {'':7s} why covered by {side} only: {why}")
    out.append("")
    out.append(
        "2. site_facilities (repair): exact against greedy (covered customers after the picks)"
    )
    out.append(
        f"  {'size':7s} {'existing':10s} {'k':>3s} {'before':>7s} {'exact':>7s} {'greedy':>7s} "
        f"{'gap':>5s} {'gap pp':>7s} {'rows':>6s} {'solve ex s':>10s} {'solve gr s':>10s} "
        f"{'call ex s':>9s} {'call gr s':>9s}"
    )
    for r in rows:
        for s in r["siting"]:
            ex, gr = s["exact"], s["greedy"]
            flag = "" if ex["optimal"] else " (exact not proven optimal)"
            out.append(
                f"  {s['size']:7s} {s['existing']:10s} {s['k']:3d} {ex['covered_before']:7d} "
                f"{ex['covered_after']:7d} {gr['covered_after']:7d} {s['gap_customers']:5d} "
                f"{s['gap_pp']:7.3f} {ex['coverage_rows']:6d} {ex['solve_s']:10.3f} "
                f"{gr['solve_s']:10.3f} {ex['call_s']:9.2f} {gr['call_s']:9.2f}{flag}"
            )
    return "\n".join(out)


def main(sizes: list[str], budget_s: float) -> None:
    rows = [run_size(size, budget_s=budget_s) for size in sizes]
    print(format_table(rows))
    env = {
        "loadavg_1min_at_end": os.getloadavg()[0],
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "networkx": nx.__version__,
        "numpy": np.__version__,
        "pyproj": pyproj.__version__,
        "shapely": shapely.__version__,
    }
    settings = {
        "limit_s": LIMIT_S,
        "ks": list(KS),
        "large_county": LARGE,
        "subset_seed": SUBSET_SEED,
        "baseline_budget_s": budget_s,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"env": env, "settings": settings, "rows": rows}, indent=2) + "\n"
    )
    print(f"written {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES))
    parser.add_argument(
        "--baseline-budget-s",
        type=float,
        default=DEFAULT_BASELINE_BUDGET_S,
        help="networkx time per size beyond which it runs on a seeded subset of candidates",
    )
    args = parser.parse_args()
    main(args.sizes, args.baseline_budget_s)
