"""Benchmark: the offline county map (maps/overview.py), its size and build time.

Run ``python benchmarks/bench_map.py`` (``--workspace`` for another workspace than
``out/demo/workspace.gpkg``, ``--repeat`` to change N, ``--out`` for the JSON). Two counties:

- ``sample``: the workspace of ``gridgeo demo`` (make it first with
  ``gridgeo demo --out out/demo``; 30,000 customers). Timed: the whole
  :func:`maps.__main__.build_map` (reading the workspace, the figures, drawing, writing).
- ``150k``: the sample county with its customers copied to 150,000 (each copy ~50 m off the
  original, the worst case for the one-dot-per-place aggregation; the builder of
  ``tests/maps/test_map_size.py``). Timed: :func:`maps.overview.county_overview_map` and
  :func:`maps.overview.offline_html` on inputs made beforehand (not timed).

With ``--big-workspace`` (a workspace made by ``gridgeo sample generate --customers 150000
--out S`` then ``gridgeo demo --sample S --out D``: ``D/workspace.gpkg``), the whole
``build_map`` is also timed on it (``150k_workspace``), reading 150,000 customers included.

Each is timed best of ``--repeat`` against the previous way, in the same run: the
``maps/overview.py`` of git ``HEAD`` (loaded from ``git show``; skipped with a note when git or
the file is not there), which drew one GeoJSON point per customer outside a promise and had no
places. Goals (issue 15): the 150,000-customer map <= 5 MB, built in <= 15 s; the sample's in
<= 5 s. Results go to stdout and to ``--out`` (default ``benchmarks/results/bench_map.json``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import gridgeo  # noqa: E402
from maps import overview  # noqa: E402
from maps.__main__ import build_map  # noqa: E402

DEFAULT_WORKSPACE = REPO / "out" / "demo" / "workspace.gpkg"
RESULTS = HERE / "results" / "bench_map.json"
SIZE_TEST = REPO / "tests" / "maps" / "test_map_size.py"
GOALS = {"sample_s": 5.0, "150k_s": 15.0, "150k_bytes": 5_000_000}


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def best_of(n: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``n`` timed runs of ``run`` and the last result."""
    times, result = [], None
    for _ in range(n):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def previous_overview() -> types.ModuleType | None:
    """``maps/overview.py`` as git ``HEAD`` has it, or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", "HEAD:maps/overview.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp(prefix="bench_map_"))
    path = folder / "overview_head.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("overview_head", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__dict__["STATIC_DIR"] = overview.STATIC_DIR  # Leaflet from the repository
    return module


def _build_previous(old: types.ModuleType, workspace: Path, out: Path, summary: Any) -> Path:
    """The previous ``build_map``: the same reads, the previous drawing, no places."""
    store = gridgeo.GeoPackageStore.open(workspace)
    counts = gridgeo.count_grid_customers(store)
    customers, access = gridgeo.read_access(store)
    kpis = gridgeo.reach_kpis(access, customers)
    isochrones = gridgeo.read_layer(workspace, layer="repair_isochrones")
    m = old.county_overview_map(
        county=store.read("county"),
        grids=store.read("grids"),
        substations=store.read("substations"),
        repair_stations=store.read("repair_stations"),
        payment_points=store.read("payment_points"),
        access=access,
        isochrones=isochrones,
        figures=summary,
        kpis=kpis,
        customer_counts=counts,
    )
    result: Path = old.save_offline(m, out)
    return result


def bench_sample(workspace: Path, repeat: int, old: types.ModuleType | None) -> dict[str, Any]:
    summary_path = workspace.with_name("summary.json")
    summary = (
        json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    )
    folder = Path(tempfile.mkdtemp(prefix="bench_map_"))
    rows: dict[str, Any] = {}
    new_s, path = best_of(
        repeat, lambda: build_map(workspace, folder / "new.html", summary=summary)
    )
    rows["new"] = {"seconds": round(new_s, 3), "bytes": path.stat().st_size}
    if old is not None:
        old_s, old_path = best_of(
            repeat, lambda: _build_previous(old, workspace, folder / "old.html", summary)
        )
        rows["previous"] = {"seconds": round(old_s, 3), "bytes": old_path.stat().st_size}
    return rows


def _size_test_module() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("test_map_size", SIZE_TEST)
    if spec is None or spec.loader is None:
        msg = f"cannot load {SIZE_TEST}"
        raise SystemExit(msg)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_150k(repeat: int, old: types.ModuleType | None) -> dict[str, Any]:
    inputs = _size_test_module().big_county()
    rows: dict[str, Any] = {"customers": len(inputs["access"])}

    def new() -> str:
        return overview.offline_html(overview.county_overview_map(**inputs))

    new_s, page = best_of(repeat, new)
    rows["new"] = {"seconds": round(new_s, 3), "bytes": len(page.encode("utf-8"))}
    if old is not None:
        previous = {k: v for k, v in inputs.items() if k != "places"}

        def before() -> str:
            page: str = old.offline_html(old.county_overview_map(**previous))
            return page

        old_s, old_page = best_of(repeat, before)
        rows["previous"] = {"seconds": round(old_s, 3), "bytes": len(old_page.encode("utf-8"))}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    parser.add_argument("--big-workspace", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.workspace.is_file():
        print(
            f"no workspace {args.workspace}: make it with `gridgeo demo --out out/demo` "
            "or pass --workspace",
            file=sys.stderr,
        )
        return 2
    warnings.simplefilter("ignore", UserWarning)  # the sample's far substation, counted
    old = previous_overview()
    results: dict[str, Any] = {
        "machine": _machine(),
        "repeat": args.repeat,
        "goals": GOALS,
        "previous": "git HEAD maps/overview.py" if old is not None else "not available",
        "sample": bench_sample(args.workspace, args.repeat, old),
        "150k": bench_150k(args.repeat, old),
    }
    counties = ["sample", "150k"]
    if args.big_workspace is not None:
        results["150k_workspace"] = bench_sample(args.big_workspace, args.repeat, old)
        counties.append("150k_workspace")
    results["machine"]["load_1min_after"] = _machine()["load_1min"]
    print(f"{'county':<15} {'way':<9} {'seconds':>8} {'MB':>7}  ratio new/previous")
    for county in counties:
        row = results[county]
        for way in ("new", "previous"):
            if way in row:
                r = row[way]
                print(f"{county:<15} {way:<9} {r['seconds']:>8.2f} {r['bytes'] / 1e6:>7.2f}")
        if "previous" in row:
            t = row["new"]["seconds"] / row["previous"]["seconds"]
            b = row["new"]["bytes"] / row["previous"]["bytes"]
            row["ratio_new_to_previous"] = {"seconds": round(t, 3), "bytes": round(b, 3)}
            print(f"{county:<15} {'ratio':<9} {t:>8.2f} {b:>7.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
