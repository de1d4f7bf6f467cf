"""Build the county map of a workspace: ``python -m maps WORKSPACE.gpkg [--out MAP.html]``.

The map is one self-contained HTML file that opens with no internet (for mail or the
intranet). ``make demo`` runs this on the demo workspace. Errors are one line on stderr and
exit status 2, as in the ``gridgeo`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gridgeo
from maps.overview import county_overview_map, save_offline


def build_map(workspace: Path, out: Path, *, summary: Path | None = None) -> Path:
    """Read a workspace's layers and write its offline county map to ``out``."""
    store = gridgeo.GeoPackageStore.open(workspace)
    layers = store.layers()
    access = kpis = None
    if {"customers", "customer_access"} <= set(layers):
        customers = store.read("customers").set_index("customer_id", drop=False)
        access = store.read("customer_access").set_index("customer_id", drop=False)
        access = access.reindex(customers.index)
        kpis = gridgeo.reach_kpis(access, customers)
    isochrones = None
    if "repair_isochrones" in gridgeo.list_layers(workspace):
        isochrones = gridgeo.read_layer(workspace, layer="repair_isochrones")
    figures = json.loads(summary.read_text(encoding="utf-8")) if summary else None
    m = county_overview_map(
        county=store.read("county"),
        grids=store.read("grids"),
        substations=store.read("substations"),
        repair_stations=store.read("repair_stations"),
        payment_points=store.read("payment_points"),
        access=access,
        isochrones=isochrones,
        figures=figures,
        kpis=kpis,
    )
    return save_offline(m, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maps", description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path, help="workspace GeoPackage")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: beside it)")
    parser.add_argument("--summary", type=Path, default=None, help="summary.json of the demo")
    args = parser.parse_args(argv)
    out = args.out or args.workspace.with_name("county_map.html")
    try:
        path = build_map(args.workspace, out, summary=args.summary)
    except gridgeo.GridGeoError as exc:
        print(f"maps: error: {exc}", file=sys.stderr)
        return 2
    print(f"county map (offline HTML, {path.stat().st_size / 1e6:.1f} MB): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
