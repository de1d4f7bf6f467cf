"""The ``gridgeo`` command line.

Every subcommand is a thin shell over the library. A user error (any
:class:`~gridgeo.errors.GridGeoError`) is printed as one line on stderr and the
command exits with status 2; an unexpected error is written with its traceback
to a log file and the user gets one line that says where it is, with status 70.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gridgeo.errors import GridGeoError

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 70
DEFAULT_DEMO_OUT = Path("out") / "demo"


def _print(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


# --- gridgeo demo ---------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    """Run everything the project can do so far on the bundled sample county."""
    import geopandas as gpd

    from gridgeo import archive, io, network, reach, roster, sample, workspace
    from gridgeo.isochrones import isochrones

    started = time.perf_counter()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample_dir = Path(args.sample) if args.sample else sample.SAMPLE_DIR
    county = sample.load_sample(sample_dir)
    customers_file = sample_dir / "customers.csv"  # the archive as a company exports it
    records = io.read_records(customers_file, id_column="customer_id").drop(columns="file_line")
    n_customers = len(records)
    _print(
        f"南丰县 sample county (seed {county.seed}) / Nanfeng sample county",
        f"  county area        {float(county.county['area_km2'].iloc[0]):,.1f} km²",
        f"  townships          {len(county.towns)}",
        f"  villages           {len(county.villages)}",
        f"  customers          {_fmt_int(n_customers)} in {customers_file.name}",
        f"  substations        {len(county.substations)}",
        f"  repair stations    {len(county.repair_stations)}",
        f"  payment points     {len(county.payment_points)}",
    )

    graphs = {}
    for mode in ("drive", "two_wheeler", "walk"):
        t0 = time.perf_counter()
        graphs[mode] = network.graph_from_roads(county.roads, mode=mode)
        s = network.graph_summary(graphs[mode])
        _print(
            f"  road graph {mode:<11s} {_fmt_int(s['nodes'])} nodes, {_fmt_int(s['edges'])} edges, "
            f"{s['road_km']:,.1f} km, {s['components']} components "
            f"(largest holds {100 * s['largest_component_share']:.1f}% of nodes), "
            f"built in {time.perf_counter() - t0:.1f} s"
        )

    # the workspace: versioned layers of the data model plus the roads
    workspace_path = out_dir / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(
        workspace_path,
        layers,
        roads=county.roads,  # stored with every mode's roads (a layer by mode)
        author="gridgeo demo",
        reason="南丰县样例工作区 / sample county workspace",
        overwrite=True,
    )

    # customers: geocoded offline, counted per village -> grid workload
    gazetteer = workspace.read_gazetteer(store)
    located = archive.locate_customers(records, gazetteer, county_area=county.county)
    workload = workspace.village_workload(located)

    t0 = time.perf_counter()
    build = workspace.build_grids(store, workload, seed=county.seed)
    grids = roster.apply_roster(
        build.service.grids, roster.generate_roster(build.service.grids, seed=county.seed)
    )
    version = workspace.save_grids(
        store, grids, author="gridgeo demo", reason="三级网格初建 / first build of the grids"
    )
    tiers = grids["tier"].value_counts().sort_index()
    grids_line = (
        f"service grids (version {version}, built in {time.perf_counter() - t0:.1f} s): "
        + ", ".join(f"tier {t}: {n}" for t, n in tiers.items())
        + "; topology problems: 0"
    )

    report = archive.import_customers(
        store,
        customers_file,
        gazetteer,
        author="gridgeo demo",
        reason="客户档案导入 / customer archive import",
        grids=grids,
        county_area=county.county,
    )
    _print(grids_line)
    _print_supply_grids(grids, workspace.count_grid_customers(store))
    _print("customer archive (客户资料档案):", *(f"  {line}" for line in report.lines()))
    rates = report.match_rates
    assert rates is not None
    for what in ("match_level", "location_source", "grid_reason", "flag"):
        rows = rates[rates["what"] == what]
        detail = ", ".join(
            f"{r.value} {r.customers:,} ({r.share_pct:.2f}%)" for r in rows.itertuples()
        )
        _print(f"  {what:<16s} {detail}")
    customers = store.read(archive.CUSTOMER_LAYER)

    # service levels: 30-minute repair reach (station -> customer, drive) and 10-minute
    # payment access (customer -> point, two-wheeler)
    t0 = time.perf_counter()
    repair_engine = reach.ReachEngine.from_roads(county.roads, mode="drive")
    payment_engine = reach.ReachEngine.from_roads(county.roads, mode=reach.DEFAULT_PAYMENT_MODE)
    access = reach.customer_access(
        repair_engine, payment_engine, customers, county.repair_stations, county.payment_points
    )
    kpis = reach.reach_kpis(access, customers)
    c = kpis["county"].iloc[0]
    _print(
        f"service levels (computed in {time.perf_counter() - t0:.1f} s, "
        f"payment by {reach.DEFAULT_PAYMENT_MODE}):",
        f"  30-min repair reach   {100 * c['repair_share_ok']:.1f}% of customers "
        f"(HV {100 * c['repair_share_ok_hv']:.1f}%, vulnerable "
        f"{100 * c['repair_share_ok_vulnerable']:.1f}%), median "
        f"{c['repair_median_eta_s'] / 60:.1f} min, p95 {c['repair_p95_eta_s'] / 60:.1f} min",
        f"  10-min payment access {100 * c['payment_share_ok']:.1f}% of customers "
        f"(HV {100 * c['payment_share_ok_hv']:.1f}%, vulnerable "
        f"{100 * c['payment_share_ok_vulnerable']:.1f}%), median "
        f"{c['payment_median_eta_s'] / 60:.1f} min, p95 {c['payment_p95_eta_s'] / 60:.1f} min",
    )
    reasons = access["reason"].value_counts()
    _print("  reasons               " + ", ".join(f"{r} {n:,}" for r, n in reasons.items()))
    worst = kpis["tier3"].drop(index=archive.NOT_LOCATED, errors="ignore")
    worst = worst.assign(
        both=worst[["repair_share_ok", "payment_share_ok"]].min(axis=1)
    ).sort_values(["both", "customers"], ascending=[True, False])
    names = dict(zip(grids["grid_id"], grids["name"], strict=True))
    _print("  five worst village grids (lowest share within both promises):")
    for grid_id, row in worst.head(5).iterrows():
        _print(
            f"    {grid_id:<12s} {names.get(grid_id, ''):<16s} {int(row['customers']):>6,d} "
            f"customers, repair {100 * row['repair_share_ok']:5.1f}%, "
            f"payment {100 * row['payment_share_ok']:5.1f}%"
        )
    access_layer = gpd.GeoDataFrame(access, geometry=customers.geometry, crs=customers.crs)
    store.add_layer(
        "customer_access",
        access_layer,
        key="customer_id",
        author="gridgeo demo",
        reason="服务可达性计算 / service-level reach",
    )
    bands = isochrones(repair_engine, county.repair_stations, per_station=False)
    io.write_layer(bands, workspace_path, "repair_isochrones")
    summary_md = out_dir / "reach_summary_zh.md"
    summary_md.write_text(
        reach.summary_zh(
            kpis,
            title="南丰县供电服务可达性摘要 / Nanfeng service-level summary",
            village_names=dict(
                zip(county.villages["village_code"], county.villages["village"], strict=True)
            ),
        ),
        encoding="utf-8",
    )

    t0 = time.perf_counter()
    archive_dir = out_dir / "archive"
    files = archive.export_archive(customers, grids, archive_dir)
    _print(f"  exported {len(files)} archive files in {time.perf_counter() - t0:.1f} s")

    summary = {
        "county": "南丰县",
        "adcode": "361023",
        "seed": county.seed,
        "customers": n_customers,
        "villages": len(county.villages),
        "substations": len(county.substations),
        "repair_stations": len(county.repair_stations),
        "payment_points": len(county.payment_points),
        "road_graphs": {mode: network.graph_summary(g) for mode, g in graphs.items()},
        "grids": {f"tier{t}": int(n) for t, n in tiers.items()},
        "grids_version": version,
        "match_rates": rates.to_dict(orient="records"),
        "reach": {
            key: c[key]
            for key in kpis["county"].columns
            if key.startswith(("repair_", "payment_")) or key == "customers"
        },
    }
    summary_path = out_dir / "summary.json"
    summary_path.write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
        + "\n",
        encoding="utf-8",
    )
    _print(
        f"outputs ({time.perf_counter() - started:.1f} s):",
        f"  workspace GeoPackage  {workspace_path}",
        f"                        (layers: {', '.join(store.layers())}, roads, repair_isochrones)",
        f"  customer archive      {archive_dir}/  (CSV + XLSX per village grid, "
        "a workbook per supply grid)",
        f"  reach summary (中文)  {summary_md}",
        f"  summary               {summary_path}",
    )
    return 0


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    msg = f"cannot serialise {type(value).__name__} to JSON"
    raise TypeError(msg)


# --- gridgeo roads import -------------------------------------------------------------------


_OSM_SUFFIXES = (".pbf", ".osm", ".gz", ".bz2")


def _roads_from_file(path: str, *, layer: str | None, boundary: Any) -> Any:
    """The roads layer by mode of an OSM extract (clipped to ``boundary``) or a roads layer."""
    from gridgeo import io, network

    if path.lower().endswith(_OSM_SUFFIXES):
        return network.roads_from_osm(path, boundary=boundary)
    return network.roads_for_modes(io.read_layer(path, layer=layer))


def _print_roads(label: str, roads: Any, elapsed_s: float) -> None:
    """One line per mode: the graph that mode's engines are built from."""
    from gridgeo import network
    from gridgeo.errors import GraphError

    for mode in network.MODES:
        try:
            s = network.graph_summary(network.graph_from_roads(roads, mode=mode))
        except GraphError:
            _print(f"{label}: no {mode} roads")
            continue
        _print(
            f"{label}: {_fmt_int(s['nodes'])} nodes, {_fmt_int(s['edges'])} edges, "
            f"{s['road_km']:,.1f} km of {mode} roads, {s['components']} components"
        )
    _print(f"  {_fmt_int(len(roads))} road pieces for all modes, read in {elapsed_s:.1f} s")


def _cmd_roads_import(args: argparse.Namespace) -> int:
    from gridgeo import io, workspace

    osm = args.file.lower().endswith(_OSM_SUFFIXES)
    if args.boundary and not osm:
        msg = (
            f"--boundary clips an OSM extract; {args.file!r} is a roads layer, stored as it is: "
            "clip it first or leave out --boundary"
        )
        raise _user_error(msg)
    if args.layer and osm:
        msg = f"--layer names a layer of a roads file; {args.file!r} is an OSM extract"
        raise _user_error(msg)
    store = _open_store(args.workspace) if args.workspace else None
    boundary = None
    if args.boundary:
        boundary = io.read_layer(
            args.boundary, layer=args.boundary_layer, datum=args.boundary_datum
        )
    elif store is not None and osm:
        boundary = store.read("county")  # a workspace's roads are its county's
    t0 = time.perf_counter()
    roads = _roads_from_file(args.file, layer=args.layer, boundary=boundary)
    _print_roads(args.file, roads, time.perf_counter() - t0)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
        tmp.unlink(missing_ok=True)
        io.write_layer(roads, tmp, "roads")
        tmp.replace(out)
        _print(f"roads layer written to {out}")
    if store is not None:
        workspace.replace_roads(store, roads)
        _print(f"roads of workspace {store.path} replaced: every mode's roads are in it")
    return 0


# --- gridgeo convert ------------------------------------------------------------------------


def _cmd_convert(args: argparse.Namespace) -> int:
    from gridgeo import io

    gdf = io.read_layer(args.src, layer=args.layer, datum=args.datum)
    out = Path(args.dst)
    tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
    tmp.unlink(missing_ok=True)
    io.write_layer(gdf, tmp, args.out_layer or args.layer or Path(args.src).stem)
    tmp.replace(out)
    _print(f"{len(gdf)} features converted from {args.datum} to WGS84 (EPSG:4326): {out}")
    return 0


# --- gridgeo grids --------------------------------------------------------------------------


def _open_store(path: str) -> Any:
    from gridgeo.store import GeoPackageStore

    return GeoPackageStore.open(path)


def _read_workload(args: argparse.Namespace) -> Any:
    from gridgeo import io

    return io.read_records(
        args.workload, id_column="village_code", required_columns=("customers",)
    ).drop(columns="file_line")


def _print_supply_grids(grids: Any, counts: Any = None) -> None:
    """The supply grids (tier 2) as a table.

    ``counts`` is :func:`gridgeo.workspace.count_grid_customers` of the workspace: the
    customers of each grid (those whose position it contains) and the not located ones on a
    row of their own. Without it (no customer archive yet) the counts are the workload's.
    """
    from gridgeo.archive import NOT_LOCATED, with_customer_counts

    if counts is not None:
        grids = with_customer_counts(grids, counts)
    tier2 = grids[grids["tier"] == 2].sort_values("grid_id")
    n3 = grids[grids["tier"] == 3].groupby("parent_id").size()
    _print(
        f"  {'grid':<12s} {'name':<16s} {'kV':>5s} {'villages':>8s} {'customers':>9s} "
        f"{'HV':>4s} {'tier-3':>6s} {'imbalance':>9s} {'km²':>7s}"
    )
    for row in tier2.itertuples(index=False):
        _print(
            f"  {row.grid_id:<12s} {row.name:<16s} {float(row.voltage_kv):>5.0f} "
            f"{int(row.n_villages):>8d} {int(row.customers):>9,d} {int(row.hv_customers):>4d} "
            f"{int(n3.get(row.grid_id, 0)):>6d} {float(row.imbalance_pct):>8.1f}% "
            f"{float(row.area_km2):>7.1f}"
        )
    if counts is None:
        _print("  (customers of the workload file: the workspace has no customer archive yet)")
        return
    lost = counts[2].loc[NOT_LOCATED]
    total = int(counts[2]["customers"].sum())
    _print(
        f"  {NOT_LOCATED + ' not located':<29s} {'':>5s} {'':>8s} {int(lost['customers']):>9,d} "
        f"{int(lost['hv_customers']):>4d}   (no position, or outside every grid)",
        f"  {'全县 county total':<29s} {'':>5s} {'':>8s} {total:>9,d}",
    )


def _cmd_grids_build(args: argparse.Namespace) -> int:
    from gridgeo import roster as roster_mod
    from gridgeo import workspace

    store = _open_store(args.workspace)
    workload = _read_workload(args)
    build = workspace.build_grids(
        store,
        workload,
        method=args.method,
        n_grids=args.grids_per_substation,
        target_workload=args.target_workload,
        seed=args.seed,
    )
    grids = build.service.grids
    if args.roster:  # grid ids are known only after the build: check the roster against them
        roster = roster_mod.read_roster(args.roster, grids["grid_id"])
        grids = roster_mod.apply_roster(grids, roster)
    version = workspace.save_grids(store, grids, author=args.author, reason=args.reason)
    _print(f"grids saved as version {version} of {args.workspace}:")
    has_customers = "customers" in store.layers()
    _print_supply_grids(grids, workspace.count_grid_customers(store) if has_customers else None)
    return 0


def _cmd_grids_validate(args: argparse.Namespace) -> int:
    from gridgeo import grids as grids_mod

    store = _open_store(args.workspace)
    grids = store.read("grids", version=args.version)
    problems = grids_mod.validate_grids(grids, county=store.read("county"))
    version = args.version or store.current_version("grids")
    if not problems:
        _print(f"grids version {version}: {len(grids)} grids, no topology problems")
        return 0
    _print(f"grids version {version}: {len(problems)} topology problem(s)")
    for p in problems:
        where = p.get("location")
        at = f" at {where[0]:.5f},{where[1]:.5f}" if where else ""
        other = f" / {p['other_id']}" if p.get("other_id") is not None else ""
        area = f" ({p['area_m2']:,.1f} m²)" if p.get("area_m2") else ""
        _print(f"  {p['problem']}: {p.get('grid_id')}{other}{area}{at}")
    return 1


def _split_ids(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]


def _cmd_grids_edit(args: argparse.Namespace) -> int:
    """Preview a redraw (and save it with --save): move, redraw, split, merge, reassign."""
    from gridgeo import grids as grids_mod
    from gridgeo import io, workspace
    from gridgeo.archive import NOT_LOCATED

    store = _open_store(args.workspace)
    service, version = workspace.load_service_grids(store)
    kpis = None
    if {"customers", workspace.ACCESS_LAYER} <= set(store.layers()):
        kpis = workspace.reach_kpi_function(*workspace.read_access(store))
    if args.edit == "move":
        villages = _split_ids(args.villages)
        preview = grids_mod.preview_move_villages(service, villages, args.to, kpis=kpis)
    elif args.edit == "redraw":
        drawn = io.read_layer(args.polygon, layer=args.layer, datum=args.datum)
        preview = grids_mod.preview_redraw_boundary(service, drawn.union_all(), args.to, kpis=kpis)
    elif args.edit == "split":
        preview = grids_mod.preview_split_grid(
            service, args.grid, k=args.parts, seed=args.seed, kpis=kpis
        )
    elif args.edit == "merge":
        preview = grids_mod.preview_merge_grids(service, _split_ids(args.grids), kpis=kpis)
    else:
        preview = grids_mod.preview_reassign_substation(
            service, args.grid, args.substation, store.read("substations"), kpis=kpis
        )
    diff = preview.kpi_diff[preview.kpi_diff["changed"]]
    reach_cols = kpis is not None and "repair_ok_pct_after" in diff.columns
    _print(f"preview of `{args.edit}` on grids version {version} (nothing saved yet):")
    head = f"  {'grid':<14s} {'tier':>4s} {'customers before':>16s} {'after':>7s} {'change':>7s}"
    if reach_cols:
        head += f" {'30-min repair %':>16s} {'10-min payment %':>17s}"
    _print(head)
    for grid_id, row in diff.iterrows():
        line = (
            f"  {grid_id!s:<14s} {int(row['tier']):>4d} {row['customers_before']:>16,.0f} "
            f"{row['customers_after']:>7,.0f} {row['customers_change']:>+7,.0f}"
        )
        if reach_cols:
            line += (
                f" {row['repair_ok_pct_before']:>7.1f}→{row['repair_ok_pct_after']:<7.1f}"
                f"  {row['payment_ok_pct_before']:>7.1f}→{row['payment_ok_pct_after']:<7.1f}"
            )
        _print(line)
    if "customers" in store.layers():
        county = workspace.count_grid_customers(store)[1]
        total = int(county["customers"].sum())
        lost = int(county.at[NOT_LOCATED, "customers"])
        _print(
            f"  county total 全县 {total:,} customers: {total - lost:,} in the grids, "
            f"{lost:,} {NOT_LOCATED} not located (no position, or outside every grid)"
        )
    if preview.problems:
        _print(f"  {len(preview.problems)} topology problem(s): this edit cannot be saved")
        for p in preview.problems:
            lon, lat = p.get("location") or (float("nan"), float("nan"))
            _print(
                f"    {p['problem']}: {p['grid_id']} at {lon:.5f},{lat:.5f} {p.get('detail', '')}"
            )
        return 1
    if not args.save:
        _print("  no topology problems; add --save --author NAME --reason TEXT to save it")
        return 0
    if not (args.author and args.reason):
        msg = "--save needs --author and --reason (who saves the edit and why)"
        raise _user_error(msg)
    grids = preview.grids
    new = workspace.save_grids(
        store, grids, author=args.author, reason=args.reason, expected_version=version
    )
    _print(f"  saved as grids version {new}")
    return 0


def _user_error(msg: str) -> Exception:
    from gridgeo.errors import InputError

    return InputError(msg)


def _cmd_grids_roster(args: argparse.Namespace) -> int:
    from gridgeo import roster, workspace

    store = _open_store(args.workspace)
    version = store.current_version("grids")
    grids = store.read("grids", version=version)
    table = roster.read_roster(args.file, grids["grid_id"], encoding=args.encoding)
    filled = roster.apply_roster(grids, table)
    new = workspace.save_grids(
        store, filled, author=args.author, reason=args.reason, expected_version=version
    )
    _print(f"roster of {len(table)} grids applied: grids version {new}")
    return 0


def _cmd_grids_history(args: argparse.Namespace) -> int:
    store = _open_store(args.workspace)
    versions = store.list_versions("grids")
    _print(f"{'version':>7s}  {'when (UTC)':<20s} {'author':<12s} reason")
    for row in versions.itertuples(index=False):
        _print(f"{row.version:>7d}  {str(row.created_at)[:19]:<20s} {row.author:<12s} {row.reason}")
    return 0


def _cmd_grids_restore(args: argparse.Namespace) -> int:
    from gridgeo import workspace

    store = _open_store(args.workspace)
    current = store.current_version("grids")
    version = workspace.restore_grids(
        store, args.version, author=args.author, reason=args.reason, expected_version=current
    )
    _print(f"grids version {args.version} restored as version {version}")
    return 0


# --- gridgeo customers ----------------------------------------------------------------------


def _cmd_customers_import(args: argparse.Namespace) -> int:
    from gridgeo import archive, workspace

    store = _open_store(args.workspace)
    gazetteer = workspace.read_gazetteer(store)
    county = store.read("county")
    grids = store.read("grids") if "grids" in store.layers() else None
    t0 = time.perf_counter()
    report = archive.import_customers(
        store,
        args.file,
        gazetteer,
        author=args.author,
        reason=args.reason,
        grids=grids,
        county_area=county,
        replace=args.replace,
        encoding=args.encoding,
    )
    _print(f"{args.file} imported in {time.perf_counter() - t0:.1f} s", *report.lines())
    rates = report.match_rates
    if rates is not None:
        _print(f"  {'what':<16s} {'value':<24s} {'customers':>9s} {'share':>7s}")
        for r in rates.itertuples(index=False):
            _print(f"  {r.what:<16s} {r.value:<24s} {r.customers:>9,d} {r.share_pct:>6.2f}%")
    if grids is None:
        _print("  (no grids in the workspace yet: run `gridgeo grids build`, then import again)")
    return 0


def _cmd_customers_export(args: argparse.Namespace) -> int:
    from gridgeo import archive

    store = _open_store(args.workspace)
    customers = store.read(archive.CUSTOMER_LAYER)
    files = archive.export_archive(customers, store.read("grids"), args.out)
    _print(f"{len(files)} archive files written to {args.out}")
    return 0


# --- gridgeo workspace ----------------------------------------------------------------------

_WORKSPACE_INPUTS = {
    "county": ("adcode",),
    "towns": ("town_code", "town"),
    "villages": ("village_code", "village"),
    "substations": ("substation_id",),
    "repair_stations": ("station_id",),
    "payment_points": ("point_id",),
}


def _read_input_layer(path: str, name: str, datum: str) -> Any:
    from gridgeo import io, workspace

    key = workspace.WORKSPACE_KEYS[name]
    required = _WORKSPACE_INPUTS[name]
    if Path(path).suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm"):
        return io.read_table(path, datum=datum, id_column=key, required_columns=required[1:]).drop(
            columns=["coord_reason"]
        )
    return io.read_layer(path, datum=datum, id_column=key, required_columns=required)


def _cmd_workspace_init(args: argparse.Namespace) -> int:
    from gridgeo import workspace

    layers = {}
    for name in _WORKSPACE_INPUTS:
        path = getattr(args, name)
        if path:
            datum = args.county_datum if name == "county" else args.datum
            layers[name] = _read_input_layer(path, name, datum)
    roads = None
    if args.roads:
        t0 = time.perf_counter()
        roads = _roads_from_file(args.roads, layer=args.roads_layer, boundary=layers["county"])
        _print_roads("roads", roads, time.perf_counter() - t0)
    store = workspace.create_workspace(
        args.out, layers, roads=roads, author=args.author, reason=args.reason
    )
    _print(f"workspace {store.path} created:")
    _print(*(f"  {name:<16s} {len(gdf):>6,d} rows" for name, gdf in layers.items()))
    return 0


# --- gridgeo dispatch -----------------------------------------------------------------------


def _parse_point(text: str) -> tuple[float, float]:
    parts = text.replace("，", ",").split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        msg = f"`--point` must be LON,LAT such as 116.53,27.21, got {text!r}"
        raise _user_error(msg) from None
    return lon, lat


def _cmd_dispatch(args: argparse.Namespace) -> int:
    """The nearest available repair station by travel time for a fault, its ETA and route."""
    from gridgeo import workspace
    from gridgeo.dispatch import dispatch
    from gridgeo.routing import StationLabels
    from gridgeo.settings import DEFAULT_SETTINGS

    store = _open_store(args.workspace)
    engine = workspace.read_reach_engine(store)
    stations = store.read("repair_stations")
    # the stations' labels, as the service keeps them: one search per station, then look-ups
    labels = StationLabels(engine, stations)
    kw: dict[str, Any]
    if args.point:
        kw = {"point": _parse_point(args.point), "datum": args.datum}
    elif args.customer:
        kw = {"customer_id": args.customer, "customers": store.read("customers")}
    else:
        kw = {"address": args.address, "gazetteer": workspace.read_gazetteer(store)}
    limit_s = DEFAULT_SETTINGS.repair_limit_s if args.limit_min is None else args.limit_min * 60
    result = dispatch(
        engine,
        stations,
        limit_s=limit_s,
        labels=labels,
        unavailable=_split_ids(args.unavailable),
        **kw,
    )
    fault = result.fault
    promise = "holds 承诺达成" if result.within_limit else "FAILS 超出承诺"
    if result.station_id is None:
        best = f"no station dispatched 无可派抢修站 ({result.reason})"
    else:
        best = (
            f"best station 最近抢修站 {result.station_id}: ETA {result.eta_s / 60:.1f} min, "
            f"route {result.route_km:.2f} km; the {limit_s / 60:g}-minute promise {promise} "
            f"({result.reason})"
        )
    _print(
        f"fault 故障点 {fault.lon:.6f},{fault.lat:.6f} (located by {fault.located_by}"
        + (f", {fault.match_level}" if fault.match_level else "")
        + ")",
        best,
        f"  {'station':<10s} {'name':<16s} {'crews':>5s} {'ETA min':>8s}  reason",
    )
    for row in result.options.itertuples(index=False):
        eta = f"{row.eta_s / 60:8.1f}" if row.eta_s == row.eta_s else f"{'-':>8s}"
        crews = f"{int(row.crews):>5d}" if row.crews == row.crews and row.crews is not None else ""
        busy = "" if row.available else "  unavailable 不可派"
        _print(f"  {row.station_id!s:<10s} {row.name!s:<16s} {crews:>5s} {eta}  {row.reason}{busy}")
    if args.route_out and result.route is not None:
        out = Path(args.route_out)
        result.route.to_file(out)
        _print(f"route written to {out}")
    return 0


# --- gridgeo plan ---------------------------------------------------------------------------

_PLAN_SERVICES = {
    # service: (existing layer, what is sited, promise label)
    "repair": ("repair_stations", "repair stations 抢修站", "repair 抢修"),
    "payment": ("payment_points", "payment points 缴费网点", "payment 缴费"),
}


def _cmd_plan(args: argparse.Namespace) -> int:
    """Where k new repair stations / payment points bring the most customers within the promise."""
    import unicodedata
    import warnings

    from gridgeo import io, plan, reach, workspace

    store = _open_store(args.workspace)
    layers = store.layers()
    if "customers" not in layers:
        msg = (
            f"workspace {args.workspace!r} has no `customers` layer: import the customer archive "
            "first (`gridgeo customers import FILE --workspace ...`)"
        )
        raise _user_error(msg)
    existing_layer, what, promise = _PLAN_SERVICES[args.service]
    repair = args.service == "repair"
    mode = "drive" if repair else reach.DEFAULT_PAYMENT_MODE
    if args.limit_min is not None:
        if not args.limit_min > 0:
            msg = f"--limit-min must be a number of minutes > 0, got {args.limit_min!r}"
            raise _user_error(msg)
        limit_s = args.limit_min * 60.0
    else:
        limit_s = reach.DEFAULT_REPAIR_LIMIT_S if repair else reach.DEFAULT_PAYMENT_LIMIT_S
    if args.candidates:
        id_column = args.id_column or plan.DEFAULT_SITE_ID_COLUMN
        name_column = args.name_column or "name"
        if Path(args.candidates).suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm"):
            candidates = io.read_table(args.candidates, datum=args.datum, id_column=id_column)
        else:
            candidates = io.read_layer(
                args.candidates,
                layer=args.layer,
                datum=args.datum,
                id_column=id_column,
                geometry_types=("Point",),
            )
        source = f"{Path(args.candidates).name}"
    else:
        if args.id_column or args.name_column or args.layer:
            msg = "--id-column, --name-column and --layer describe --candidates FILE; give the file"
            raise _user_error(msg)
        candidates = store.read("villages")
        id_column, name_column, source = "village_code", "village", "villages 村 (workspace)"
    engine = workspace.read_reach_engine(store, mode=mode)
    existing = store.read(existing_layer) if existing_layer in layers else None
    customers = store.read("customers")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = plan.site_facilities(
            engine,
            customers,
            candidates,
            service="repair" if repair else "payment",
            existing=existing,
            customer_snap=workspace.read_customer_snaps(store, engine, mode=mode),
            k=args.k,
            limit_s=limit_s,
            id_column=id_column,
            method=args.method,
        )
    for w in caught:
        print(f"gridgeo: warning: {w.message}", file=sys.stderr)
    limit_min = limit_s / 60.0
    n = result.n_customers
    usable = int(result.candidates["usable"].sum())
    if result.optimal:
        solved = "optimal 最优"
    else:
        solved = "greedy 贪心" if args.method == "greedy" else "best found, not proven optimal"
    _print(
        f"siting 选址: {args.k} new {what}, {limit_min:g}-min {promise} promise by {mode}, "
        f"method {args.method} ({solved}, {time.perf_counter() - t0:.1f} s)",
        f"  candidates 候选点 {len(candidates):,} from {source} ({usable:,} usable), "
        f"customers 客户 {n:,}, existing 现有 {0 if existing is None else len(existing):,} "
        f"{existing_layer}",
        f"  before 现状   {result.covered_before:>7,d} of {n:,} customers within {limit_min:g} min "
        f"({100 * result.share_before:.1f}%)",
        f"  {'rank':>4s}  {'site id':<14s} {'name':<16s}{'lon':>11s} {'lat':>10s} "
        f"{'gain 新增':>9s} {'after 累计':>10s}",
    )
    geoms = candidates.geometry.to_crs("EPSG:4326")
    for rank, row in result.picks.iterrows():
        point = geoms.loc[row["candidate"]]
        name = candidates[name_column].loc[row["candidate"]] if name_column in candidates else ""
        name = "" if name is None or name != name else str(name)
        # CJK characters take two columns in a terminal
        pad = 16 - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)
        _print(
            f"  {rank:>4d}  {row['site_id']!s:<14s} {name}{' ' * max(pad, 1)}"
            f"{point.x:>11.6f} {point.y:>10.6f} "
            f"{int(row['gain_customers']):>+9,d} {100 * row['covered_share']:>9.1f}%"
        )
    gain = result.covered_after - result.covered_before
    _print(
        f"  after 选址后  {result.covered_after:>7,d} of {n:,} customers within {limit_min:g} min "
        f"({100 * result.share_after:.1f}%), {gain:+,d} customers "
        f"({100 * (result.share_after - result.share_before):+.1f} points 百分点)"
    )
    return 0


# --- gridgeo sample -------------------------------------------------------------------------


def _cmd_sample_generate(args: argparse.Namespace) -> int:
    from gridgeo import sample

    t0 = time.perf_counter()
    county = sample.generate_county(
        seed=args.seed, n_customers=args.customers, road_detail=args.road_detail
    )
    paths = sample.write_sample(county, Path(args.out))
    _print(f"sample county generated in {time.perf_counter() - t0:.1f} s (seed {args.seed}):")
    _print(*(f"  {name:<16s} {path}" for name, path in paths.items()))
    return 0


# --- parser ---------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        msg = f"expected a whole number > 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, like our other errors."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USER_ERROR, f"gridgeo: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from gridgeo import sample

    parser = _Parser(prog="gridgeo", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="run everything on the bundled sample county")
    demo.add_argument("--out", default=str(DEFAULT_DEMO_OUT), help="output folder")
    demo.add_argument("--sample", default=None, help="sample folder (default: bundled Nanfeng)")
    demo.set_defaults(func=_cmd_demo)

    roads = sub.add_parser("roads", help="road networks")
    roads_sub = roads.add_subparsers(dest="roads_command", required=True, parser_class=_Parser)
    imp = roads_sub.add_parser(
        "import",
        help="import the roads of every mode from an OSM extract (.osm.pbf, .osm, .osm.gz) or "
        "a roads layer",
    )
    imp.add_argument("file", help="OSM extract, or a roads layer (GeoPackage, GeoJSON, ...)")
    imp.add_argument("--layer", default=None, help="layer of a roads file")
    imp.add_argument(
        "--boundary",
        help="clip the OSM extract to this polygon file (GeoPackage, GeoJSON, ...); "
        "default with --workspace: the workspace's county",
    )
    imp.add_argument("--boundary-layer", default=None, help="layer of the boundary file")
    imp.add_argument(
        "--boundary-datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the boundary coordinates (Amap/DataV boundaries are gcj02)",
    )
    imp.add_argument("--out", help="write the roads layer to this GeoPackage")
    imp.add_argument(
        "--workspace",
        help="put the roads in this workspace in place of its roads (this upgrades a workspace "
        "of an older gridgeo that holds the drive roads only)",
    )
    imp.set_defaults(func=_cmd_roads_import)

    conv = sub.add_parser("convert", help="convert a vector file from GCJ-02/BD-09 to WGS84")
    conv.add_argument("src")
    conv.add_argument("dst", help="output GeoPackage")
    conv.add_argument("--datum", required=True, choices=("wgs84", "gcj02", "bd09"))
    conv.add_argument("--layer", default=None)
    conv.add_argument("--out-layer", default=None)
    conv.set_defaults(func=_cmd_convert)

    grids = sub.add_parser("grids", help="three-tier service grids in a workspace")
    grids_sub = grids.add_subparsers(dest="grids_command", required=True, parser_class=_Parser)
    build = grids_sub.add_parser("build", help="build the three tiers and save them as a version")
    build.add_argument("--workspace", required=True, help="workspace GeoPackage")
    build.add_argument(
        "--workload",
        required=True,
        help="CSV/XLSX with village_code, customers (and hv_customers, vulnerable)",
    )
    build.add_argument("--method", default="network", choices=("network", "voronoi"))
    size = build.add_mutually_exclusive_group()
    size.add_argument("--target-workload", type=float, help="customers per tier-3 grid")
    size.add_argument("--grids-per-substation", type=_positive_int, help="tier-3 grids each")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--roster", help="roster CSV/XLSX (grid_id, manager, ...)")
    build.add_argument("--author", required=True)
    build.add_argument("--reason", required=True)
    build.set_defaults(func=_cmd_grids_build)
    val = grids_sub.add_parser("validate", help="check the grids' topology")
    val.add_argument("--workspace", required=True)
    val.add_argument("--version", type=_positive_int, default=None)
    val.set_defaults(func=_cmd_grids_validate)
    edit = grids_sub.add_parser("edit", help="preview a redraw; --save saves it as a version")
    edit_sub = edit.add_subparsers(dest="edit", required=True, parser_class=_Parser)

    def edit_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        ep = edit_sub.add_parser(name, help=help_text)
        ep.add_argument("--workspace", required=True)
        ep.add_argument("--save", action="store_true", help="save the edit if it has no problems")
        ep.add_argument("--author")
        ep.add_argument("--reason")
        ep.set_defaults(func=_cmd_grids_edit)
        return ep

    mv = edit_parser("move", "move villages to another tier-3 grid")
    mv.add_argument("--villages", required=True, help="village codes, comma separated")
    mv.add_argument("--to", required=True, help="tier-3 grid id")
    rd = edit_parser("redraw", "move the villages inside a drawn polygon to a grid")
    rd.add_argument("--polygon", required=True, help="polygon file (GeoJSON, GeoPackage, ...)")
    rd.add_argument("--layer", default=None)
    rd.add_argument("--datum", default="wgs84", choices=("wgs84", "gcj02", "bd09"))
    rd.add_argument("--to", required=True, help="tier-3 grid id")
    sp = edit_parser("split", "split a tier-3 grid into balanced parts")
    sp.add_argument("--grid", required=True)
    sp.add_argument("--parts", type=_positive_int, default=2)
    sp.add_argument("--seed", type=int, default=0)
    mg = edit_parser("merge", "merge tier-3 grids")
    mg.add_argument("--grids", required=True, help="grid ids, comma separated")
    ra = edit_parser("reassign", "give a supply grid another substation")
    ra.add_argument("--grid", required=True, help="tier-2 grid id")
    ra.add_argument("--substation", required=True)

    ros = grids_sub.add_parser("roster", help="apply a roster (CSV/XLSX) to the current grids")
    ros.add_argument("file")
    ros.add_argument("--workspace", required=True)
    ros.add_argument("--encoding", default=None)
    ros.add_argument("--author", required=True)
    ros.add_argument("--reason", required=True)
    ros.set_defaults(func=_cmd_grids_roster)

    hist = grids_sub.add_parser("history", help="list the saved versions of the grids")
    hist.add_argument("--workspace", required=True)
    hist.set_defaults(func=_cmd_grids_history)
    rest = grids_sub.add_parser("restore", help="restore an old version (as a new version)")
    rest.add_argument("--workspace", required=True)
    rest.add_argument("--version", type=_positive_int, required=True)
    rest.add_argument("--author", required=True)
    rest.add_argument("--reason", required=True)
    rest.set_defaults(func=_cmd_grids_restore)

    cust = sub.add_parser("customers", help="the customer archive (客户资料档案)")
    cust_sub = cust.add_subparsers(dest="customers_command", required=True, parser_class=_Parser)
    cimp = cust_sub.add_parser("import", help="geocode a customer file and put it in the grids")
    cimp.add_argument("file", help="CSV/XLSX with customer_id, address (gps_lon, gps_lat, ...)")
    cimp.add_argument("--workspace", required=True)
    cimp.add_argument("--replace", action="store_true", help="the file is the complete archive")
    cimp.add_argument("--encoding", default=None, help="text encoding (default: UTF-8 or GBK)")
    cimp.add_argument("--author", required=True)
    cimp.add_argument("--reason", required=True)
    cimp.set_defaults(func=_cmd_customers_import)
    cexp = cust_sub.add_parser("export", help="write the archive per grid (CSV, XLSX)")
    cexp.add_argument("--workspace", required=True)
    cexp.add_argument("--out", required=True)
    cexp.set_defaults(func=_cmd_customers_export)

    ws = sub.add_parser("workspace", help="a county workspace (GeoPackage)")
    ws_sub = ws.add_subparsers(dest="workspace_command", required=True, parser_class=_Parser)
    init = ws_sub.add_parser("init", help="create a workspace from the county's own files")
    init.add_argument("out", help="the workspace .gpkg to create")
    init.add_argument("--county", required=True, help="county polygon (adcode, name)")
    init.add_argument(
        "--county-datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the county polygon (Amap/DataV boundaries: gcj02)",
    )
    init.add_argument("--towns", help="township seats (town_code, town)")
    init.add_argument("--villages", required=True, help="villages (village_code, village)")
    init.add_argument("--substations", required=True, help="substations (substation_id)")
    init.add_argument("--repair-stations", dest="repair_stations", help="(station_id)")
    init.add_argument("--payment-points", dest="payment_points", help="(point_id)")
    init.add_argument(
        "--datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the point files",
    )
    init.add_argument("--roads", help="OSM extract (clipped to the county) or a roads layer")
    init.add_argument("--roads-layer", default=None)
    init.add_argument("--author", required=True)
    init.add_argument("--reason", required=True)
    init.set_defaults(func=_cmd_workspace_init)

    dsp = sub.add_parser("dispatch", help="nearest repair station for a fault (抢修调度)")
    dsp.add_argument("--workspace", required=True)
    where = dsp.add_mutually_exclusive_group(required=True)
    where.add_argument("--point", help="LON,LAT of the fault")
    where.add_argument("--customer", help="customer number (户号)")
    where.add_argument("--address", help="address of the fault (地址)")
    dsp.add_argument(
        "--datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of --point (Amap/WeChat picks: gcj02, Baidu: bd09)",
    )
    dsp.add_argument(
        "--limit-min", type=float, default=None, help="the repair promise, minutes (default 30)"
    )
    dsp.add_argument(
        "--unavailable",
        default="",
        metavar="S1,S2",
        help="station ids out of service or busy, not dispatched (不可派抢修站)",
    )
    dsp.add_argument("--route-out", help="write the route as GeoJSON/GeoPackage")
    dsp.set_defaults(func=_cmd_dispatch)

    pln = sub.add_parser("plan", help="site new repair stations / payment points (选址)")
    pln.add_argument("--workspace", required=True)
    pln.add_argument("--k", type=_positive_int, default=1, help="how many new sites")
    pln.add_argument("--service", default="repair", choices=tuple(_PLAN_SERVICES))
    pln.add_argument(
        "--candidates",
        help="candidate points (GeoPackage, GeoJSON, Shapefile, CSV/XLSX with lon, lat); "
        "default: the workspace's villages",
    )
    pln.add_argument("--layer", default=None, help="layer of the candidates file")
    pln.add_argument("--id-column", default=None, help="id column of the candidates (site_id)")
    pln.add_argument("--name-column", default=None, help="name column of the candidates (name)")
    pln.add_argument(
        "--datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the candidates' coordinates",
    )
    pln.add_argument("--method", default="exact", choices=("exact", "greedy"))
    pln.add_argument(
        "--limit-min", type=float, default=None, help="the promise (default 30 repair, 10 payment)"
    )
    pln.set_defaults(func=_cmd_plan)

    smp = sub.add_parser("sample", help="the generated sample county")
    smp_sub = smp.add_subparsers(dest="sample_command", required=True, parser_class=_Parser)
    gen = smp_sub.add_parser("generate", help="generate a sample county (deterministic)")
    gen.add_argument("--seed", type=int, default=sample.DEFAULT_SEED)
    gen.add_argument("--customers", type=_positive_int, default=30_000)
    gen.add_argument(
        "--road-detail",
        type=float,
        default=sample.DEFAULT_ROAD_DETAIL,
        help="village lane density (150 gives about 10^6 road nodes)",
    )
    gen.add_argument("--out", required=True, help="output folder")
    gen.set_defaults(func=_cmd_sample_generate)
    return parser


def _show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    """A warning as one line on stderr, like the errors (not Python's file:line and source)."""
    print(f"gridgeo: warning: {message}", file=sys.stderr)


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return func(args)
    except GridGeoError as exc:
        print(f"gridgeo: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("gridgeo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`gridgeo ... | head`): stop quietly, like other Unix tools
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        return 0
    except Exception:
        fd, log_path = tempfile.mkstemp(prefix="gridgeo-crash-", suffix=".log")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        print(
            f"gridgeo: internal error, please report it with the log file {log_path}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridgeo`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return _run(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
