"""Benchmark: 10^6 customers geocoded and assigned to all three grid tiers.

Run ``python benchmarks/bench_assign.py`` (``--n`` to change the size). The county is the
shipped Nanfeng sample; its grids are built once with :func:`gridgeo.grids.build_service_grids`
(workload: the sample's customers per village; not timed). The customers are the workload of
``bench_geocode.py`` (messy addresses over the 187 villages, 30 % with GCJ-02 phone GPS,
some of it swapped or far off).

Timed, in the same run:

- ``geocode_customers``: addresses + coordinates to points (:func:`gridgeo.geocode_customers`);
- ``assign_to_grids``: every located point to its tier-3 grid, tiers 2 and 1 from the parents
  (:func:`gridgeo.assign_to_grids`, one STRtree query);
- ``sjoin_baseline``: the plain GeoPandas way, ``geopandas.sjoin(points, tier-3 grids,
  predicate="intersects")``, duplicates on shared edges dropped, then the points outside every
  grid but within 500 m of one by ``geopandas.sjoin_nearest`` in a UTM CRS (the near-boundary
  rule), tiers 2 and 1 by merging the parent ids; its assignment is checked to equal ours.

Results go to stdout and ``benchmarks/results/bench_assign.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgeo import build_service_grids, load_sample
from gridgeo.geocode import Gazetteer, geocode_customers
from gridgeo.grids import NEAR_BOUNDARY_M, assign_to_grids
from gridgeo.workspace import village_workload

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_geocode import SEED, customer_workload  # noqa: E402

RESULTS = HERE / "results" / "bench_assign.json"


def _sjoin_baseline(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    t3 = grids.loc[grids["tier"] == 3, ["grid_id", "parent_id", "geometry"]]
    left = gpd.GeoDataFrame(geometry=points[points.notna()], crs=points.crs)
    joined = gpd.sjoin(left, t3, how="left", predicate="intersects")
    joined = joined.sort_values("grid_id").loc[lambda d: ~d.index.duplicated(keep="first")]
    # the near-boundary rule: a point outside every grid but within 500 m of one goes to the
    # nearest (geopandas' sjoin_nearest in a metric CRS; the smallest grid id on a tie)
    rest = joined.index[joined["grid_id"].isna()]
    if len(rest):
        metric = left.estimate_utm_crs()
        near = gpd.sjoin_nearest(
            left.loc[rest].to_crs(metric),
            t3[["grid_id", "geometry"]].to_crs(metric),
            how="inner",
            max_distance=NEAR_BOUNDARY_M,
        )
        near = near.sort_values("grid_id").loc[lambda d: ~d.index.duplicated(keep="first")]
        joined.loc[near.index, "grid_id"] = near["grid_id"]
    parents = grids.set_index("grid_id")["parent_id"]
    out = pd.DataFrame(index=points.index)
    out["grid_t3"] = joined["grid_id"].reindex(points.index)
    out["grid_t2"] = out["grid_t3"].map(parents)
    out["grid_t1"] = out["grid_t2"].map(parents)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**6, help="customers (default 10^6)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    sample = load_sample()
    grids = build_service_grids(
        sample.county,
        sample.villages,
        sample.substations,
        village_workload(sample.customers),
        method="voronoi",
        seed=sample.seed,
    ).grids
    gazetteer = Gazetteer.from_sample(sample)
    rng = np.random.default_rng(SEED)
    customers = customer_workload(sample, args.n, rng)

    t0 = time.perf_counter()
    located = geocode_customers(customers, gazetteer, county_area=sample.county)
    t_geocode = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = assign_to_grids(located.geometry, grids)
    t_assign = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = _sjoin_baseline(located.geometry, grids)
    t_sjoin = time.perf_counter() - t0

    same = {
        tier: bool((ours[tier].fillna("-").to_numpy() == base[tier].fillna("-").to_numpy()).all())
        for tier in ("grid_t1", "grid_t2", "grid_t3")
    }
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "n_customers": args.n,
        "tier3_grids": int((grids["tier"] == 3).sum()),
        "located": int(located.geometry.notna().sum()),
        "assigned": int((ours["grid_reason"] == "ok").sum()),
        "near_boundary": int((ours["grid_reason"] == "near_boundary").sum()),
        "outside_grids": int((ours["grid_reason"] == "outside_grids").sum()),
        "not_geocoded": int((ours["grid_reason"] == "not_geocoded").sum()),
        "geocode_customers_s": round(t_geocode, 2),
        "assign_to_grids_s": round(t_assign, 2),
        "sjoin_baseline_s": round(t_sjoin, 2),
        "assign_speedup_vs_sjoin": round(t_sjoin / t_assign, 2),
        "geocode_and_assign_s": round(t_geocode + t_assign, 2),
        "same_assignment_as_sjoin": same,
    }
    print(f"{args.n:,} customers, {result['tier3_grids']} tier-3 grids")
    for key in (
        "geocode_customers_s",
        "assign_to_grids_s",
        "sjoin_baseline_s",
        "assign_speedup_vs_sjoin",
        "geocode_and_assign_s",
        "same_assignment_as_sjoin",
        "assigned",
        "outside_grids",
        "not_geocoded",
    ):
        print(f"  {key:<26s} {result[key]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
