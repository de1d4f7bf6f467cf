"""Benchmark: visit plans and day routes (gridgeo.visits) on the sample county.

Run ``python benchmarks/bench_visits.py`` (``--workspace PATH`` to use a workspace made by
``gridgeo demo``; without it the demo is run into a temporary folder first, a few minutes).
In the same run, on the sample county's roads (two-wheeler engine):

1. **year plan**: ``plan_workspace_visits`` for a calendar year (every customer twice, one
   visit day a week for each member, 8 h days): wall time (reading the workspace and building
   the engine included, and apart from them), visits planned, visit days, what could not be
   planned and the extra days needed. Goal: <= 60 s for ~30,000 customers / 60,000 visits.
2. **30-stop days**: ``N_DAYS`` days of 30 customers with their own points (GPS-located),
   drawn (seeded) among one member's customers each; every day is routed with
   ``route_day`` at the default solver budget and at 10x it. Goals: each day <= 1 s
   (matrix included); the route's travel time >= 15 % shorter than a nearest-neighbour tour
   from the base on the same matrix (computed here); within 5 % of the 10x solution.
3. **the plan's own days**: on the year plan's days with at least 9 places, the route against a
   nearest-neighbour tour over the same places (computed here from ``travel_matrix``).

How far can any solver go? For every day of 2. and 3. the exact optimum of the round trip over
the same matrix is computed here, independently of the solver (:func:`_optimal_tour`: a MILP
with subtour cuts on scipy's HiGHS, proven optimal or, past a time limit, a lower bound). The
optimum's own distance from nearest neighbour (``total_optimum_shorter_than_nn_pct``) is the
most any route can be shorter than nearest neighbour: if it is below the 15 % goal, the goal
cannot be met on these stops by any solver (``shorter_than_nn_goal_reachable``), and the
route's distance from the optimum (``total_over_optimum_pct``) says how good it is.

Wall times by ``time.perf_counter`` (and the year's CPU time by ``time.process_time``: on a
shared machine the wall time is mostly other processes holding the cores); the load average
before and after is stored because the machine is shared. Results go to stdout and
``benchmarks/results/bench_visits.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from gridgeo import GeoPackageStore
from gridgeo.routing import travel_matrix
from gridgeo.visits import VisitSettings, member_bases, plan_workspace_visits, route_day
from gridgeo.workspace import read_reach_engine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_visits.json"
N_DAYS = 20
STOPS = 30
SEED = 14
YEAR = 2027
GOALS = {"year_s": 60.0, "day_s": 1.0, "shorter_than_nn_pct": 15.0, "gap_to_10x_pct": 5.0}


def _env() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
    }


def _nearest_neighbour(M: np.ndarray) -> float:
    """Travel time of the nearest-neighbour tour from 0 over all other rows of M, and back."""
    here, left, total = 0, set(range(1, M.shape[0])), 0.0
    while left:
        nxt = min(sorted(left), key=lambda c: M[here, c])
        total += M[here, nxt]
        here = nxt
        left.discard(nxt)
    return total + M[here, 0]


def _optimal_tour(M: np.ndarray, *, time_limit_s: float = 120.0) -> tuple[float, float, bool]:
    """The shortest round trip from 0 over all rows of M (asymmetric TSP), by an exact MILP
    (scipy's HiGHS): one arc out of and into every place, subtours cut off as they appear
    (the Dantzig-Fulkerson-Johnson constraints added lazily) until the solution is one tour.

    Returns the tour's travel time, a lower bound (each round's optimum is one: it solves a
    relaxation of the tour problem) and whether the optimum is proven (False if the time
    limit came first; then the bound is what is known).
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = M.shape[0]
    ii, jj = np.nonzero(~np.eye(n, dtype=bool))
    cost = M[ii, jj]
    keep = np.isfinite(cost)
    ii, jj, cost = ii[keep], jj[keep], cost[keep]
    m = len(cost)
    arcs = np.arange(m)
    degree = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(m), (ii, arcs)), shape=(n, m)),  # one arc out
            sparse.csr_matrix((np.ones(m), (jj, arcs)), shape=(n, m)),  # one arc in
        ]
    ).tocsr()
    cuts: list[np.ndarray] = []
    rhs: list[float] = []
    bound, t0 = 0.0, time.perf_counter()
    while True:
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            return math.inf, bound, False
        constraints = [LinearConstraint(degree, 1.0, 1.0)]
        if cuts:
            constraints.append(LinearConstraint(sparse.csr_matrix(np.vstack(cuts)), -np.inf, rhs))
        res = milp(
            cost,
            constraints=constraints,
            integrality=np.ones(m),
            bounds=Bounds(0, 1),
            options={"mip_rel_gap": 0.0, "time_limit": left},
        )
        if res.x is None:
            return math.inf, bound, False
        bound = max(bound, float(res.fun) if res.status == 0 else float(res.mip_dual_bound))
        nxt = dict(zip(ii[res.x > 0.5].tolist(), jj[res.x > 0.5].tolist(), strict=True))
        seen: set[int] = set()
        tours = []
        for start in range(n):
            if start in seen:
                continue
            tour, here = [start], nxt[start]
            seen.add(start)
            while here != start:
                tour.append(here)
                seen.add(here)
                here = nxt[here]
            tours.append(tour)
        if len(tours) == 1:
            return float(res.fun), bound, bool(res.status == 0)
        for tour in tours:  # at most |S| - 1 arcs inside each subtour's places
            inside = np.zeros(n, dtype=bool)
            inside[tour] = True
            cuts.append((inside[ii] & inside[jj]).astype(float))
            rhs.append(len(tour) - 1.0)


def _dense(engine: Any, points: gpd.GeoSeries) -> np.ndarray:
    coo = travel_matrix(engine, points, points, limit_s=86_400.0).tocoo()
    M = np.full(coo.shape, np.inf)
    M[coo.row, coo.col] = coo.data
    np.fill_diagonal(M, 0.0)
    return M


def _demo_workspace(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(folder)]
    subprocess.run(cmd, check=True, capture_output=True)
    return folder / "workspace.gpkg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="a workspace made by `gridgeo demo`")
    args = parser.parse_args(argv)
    env = _env()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.workspace) if args.workspace else _demo_workspace(Path(tmp))
        store = GeoPackageStore(path)
        out: dict[str, Any] = {"env": env, "goals": GOALS}

        # 1. the year
        settings = VisitSettings()
        t0, c0 = time.perf_counter(), time.process_time()
        plan = plan_workspace_visits(store, start=f"{YEAR}-01-01", end=f"{YEAR}-12-31")
        year_s, year_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        customers = store.read("customers")
        t1 = time.perf_counter()
        engine = read_reach_engine(store, mode=settings.mode)
        engine_s = time.perf_counter() - t1
        out["year"] = {
            "customers": len(customers),
            "members": len(plan.members),
            "visits_needed": 2 * len(customers),
            "visits_planned": len(plan.stops),
            "visit_days": len(plan.days),
            "unplanned": len(plan.unplanned),
            "unplanned_by_reason": plan.unplanned["reason"].value_counts().to_dict(),
            "extra_days_needed": int(plan.members["extra_days_needed"].sum()),
            "max_day_total_s": float(plan.days["total_s"].max()),
            "day_length_s": settings.day_length_s,
            "solver_days": plan.days["solver"].value_counts().to_dict(),
            "plan_s": year_s,
            "plan_cpu_s": year_cpu_s,
            "engine_build_s_apart": engine_s,
            "goal_met": year_s <= GOALS["year_s"],
        }
        print(json.dumps(out["year"], ensure_ascii=False, indent=1))

        # 2. 30-stop days
        grids = store.read("grids")
        members = member_bases(grids, store.read("repair_stations"))
        gps = customers[customers["location_source"] == "gps"]
        rng = np.random.default_rng(SEED)
        rows: list[dict[str, Any]] = []
        while len(rows) < N_DAYS:
            m = members.iloc[int(rng.integers(len(members)))]
            mine = gps[gps["grid_t3"].isin(m["grid_ids"])]
            if len(mine) < STOPS:
                continue
            pick = mine.iloc[rng.choice(len(mine), STOPS, replace=False)]
            points = gpd.GeoSeries([m.geometry, *pick.geometry], crs="EPSG:4326")
            M = _dense(engine, points)
            if not np.isfinite(M).all():
                continue  # a customer off the roads: draw another day
            stops = gpd.GeoDataFrame(
                {"visit_s": np.full(STOPS, 300.0)},
                geometry=pick.geometry.to_numpy(),
                crs="EPSG:4326",
            )
            long_day = VisitSettings(day_length_s=86_400.0)
            t = time.perf_counter()
            fast = route_day(engine, m.geometry, stops, settings=long_day)
            fast_s = time.perf_counter() - t
            ten = VisitSettings(
                day_length_s=86_400.0, solver_iterations=10 * long_day.solver_iterations
            )
            t = time.perf_counter()
            slow = route_day(engine, m.geometry, stops, settings=ten)
            slow_s = time.perf_counter() - t
            nn = _nearest_neighbour(M)
            best, bound, proven = _optimal_tour(M)
            rows.append(
                {
                    "member": m["member"],
                    "route_s": fast.travel_s,
                    "route_10x_s": slow.travel_s,
                    "nn_s": nn,
                    "optimum_s": best,
                    "lower_bound_s": bound,
                    "optimum_proven": proven,
                    "time_s": fast_s,
                    "time_10x_s": slow_s,
                    "shorter_than_nn_pct": 100 * (1 - fast.travel_s / nn),
                    "gap_to_10x_pct": 100 * (fast.travel_s / slow.travel_s - 1),
                    # the most any solver can shorten the nearest-neighbour tour by
                    "optimum_shorter_than_nn_pct": 100 * (1 - bound / nn),
                    "over_optimum_pct": 100 * (fast.travel_s / bound - 1),
                }
            )
        days = {
            "stops": STOPS,
            "days": rows,
            "max_time_s": max(r["time_s"] for r in rows),
            "median_time_s": float(np.median([r["time_s"] for r in rows])),
            "mean_shorter_than_nn_pct": float(np.mean([r["shorter_than_nn_pct"] for r in rows])),
            "min_shorter_than_nn_pct": float(min(r["shorter_than_nn_pct"] for r in rows)),
            "total_shorter_than_nn_pct": 100
            * (1 - sum(r["route_s"] for r in rows) / sum(r["nn_s"] for r in rows)),
            "max_gap_to_10x_pct": float(max(r["gap_to_10x_pct"] for r in rows)),
            # the exact optimum (or its lower bound) of the same days: how far nearest
            # neighbour is from the best possible, and the route from it
            "optima_proven": int(sum(r["optimum_proven"] for r in rows)),
            "total_optimum_shorter_than_nn_pct": 100
            * (1 - sum(r["lower_bound_s"] for r in rows) / sum(r["nn_s"] for r in rows)),
            "max_optimum_shorter_than_nn_pct": float(
                max(r["optimum_shorter_than_nn_pct"] for r in rows)
            ),
            "total_over_optimum_pct": 100
            * (sum(r["route_s"] for r in rows) / sum(r["lower_bound_s"] for r in rows) - 1),
            "max_over_optimum_pct": float(max(r["over_optimum_pct"] for r in rows)),
        }
        days["shorter_than_nn_goal_reachable"] = bool(
            days["total_optimum_shorter_than_nn_pct"] >= GOALS["shorter_than_nn_pct"]
        )
        out["days_30"] = days
        print(json.dumps({k: v for k, v in days.items() if k != "days"}, indent=1))

        # 3. the plan's own days with many places
        base_of = members.set_index("member").geometry
        own: list[tuple[float, float, float, bool]] = []
        for (member, date), day in plan.stops.groupby(["member", "date"]):
            places = gpd.GeoSeries(day.geometry.to_numpy(), crs="EPSG:4326")
            if places.drop_duplicates().size < 9 or len(own) >= 200:
                continue
            uniq = places.drop_duplicates()
            M = _dense(engine, gpd.GeoSeries([base_of[member], *uniq], crs="EPSG:4326"))
            row = plan.days[(plan.days["member"] == member) & (plan.days["date"] == date)]
            _, bound, proven = _optimal_tour(M)
            own.append((float(row["travel_s"].iloc[0]), _nearest_neighbour(M), bound, proven))
        if own:
            a = np.array(own, dtype=float)
            out["plan_days"] = {
                "days": len(own),
                "total_shorter_than_nn_pct": float(100 * (1 - a[:, 0].sum() / a[:, 1].sum())),
                "mean_shorter_than_nn_pct": float(100 * np.mean(1 - a[:, 0] / a[:, 1])),
                "days_worse_than_nn": int((a[:, 0] > a[:, 1] + 1e-6).sum()),
                "optima_proven": int(a[:, 3].sum()),
                "total_optimum_shorter_than_nn_pct": float(
                    100 * (1 - a[:, 2].sum() / a[:, 1].sum())
                ),
                "total_over_optimum_pct": float(100 * (a[:, 0].sum() / a[:, 2].sum() - 1)),
                "max_over_optimum_pct": float(100 * np.max(a[:, 0] / a[:, 2] - 1)),
            }
            print(json.dumps(out["plan_days"], indent=1))
    env["load_average_end"] = list(os.getloadavg())
    out["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
