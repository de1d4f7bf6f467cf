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

from gridgeo.cliutil import DEFAULT_LANGUAGE, LANGUAGES
from gridgeo.errors import GridGeoError

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 70
DEFAULT_DEMO_OUT = Path("out") / "demo"


def _print(*lines: str) -> None:
    """Print lines on stdout in the language of ``--lang`` (:func:`gridgeo.cliutil.localize`)."""
    from gridgeo.cliutil import localize

    for line in lines:
        print(localize(line), flush=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> None:
    """Print a table whose columns line up by display width (Chinese takes two columns),
    each cell in the language of ``--lang``."""
    from gridgeo.cliutil import format_table, localize

    def cells(row: Sequence[Any]) -> list[Any]:
        return [localize(c) if isinstance(c, str) else c for c in row]

    for line in format_table(cells(header), [cells(r) for r in rows], align=align):
        print(line, flush=True)


def _spinner(label: str) -> Any:
    """A live spinner with the time spent while a long step runs, on a terminal only."""
    return _progress().spinner(label)


def _progress() -> Any:
    """The ``progress`` callback of long jobs: their lines, and a live display on a terminal."""
    from gridgeo.cliutil import StepProgress

    return StepProgress(_print)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


# --- gridgeo demo ---------------------------------------------------------------------------


def _sample_files_missing(sample_dir: Path) -> list[str]:
    from gridgeo import sample

    names = (sample.OUTPUT_GPKG, sample.OUTPUT_CUSTOMERS, sample.OUTPUT_TRUTH, sample.OUTPUT_META)
    return [name for name in names if not (sample_dir / name).is_file()]


def _map_writer() -> Any:
    """The map builder of the ``maps`` package (installed with gridgeo). The library never
    imports it (gridgeo.run takes it as ``write_map``): the command passes it."""
    from maps.__main__ import build_map

    return build_map


def _picture_writer() -> Any:
    """The county picture for phones and paper (PNG, A4 PDF: maps.picture.county_picture)."""
    from maps.picture import county_picture

    return county_picture


def _cmd_demo(args: argparse.Namespace) -> int:
    """Make the sample county's workspace as a county company would (workspace, grids with a
    roster, customer import), run the main job on it (:func:`gridgeo.run.run_workspace`), then
    store a year of generated work orders (:func:`gridgeo._sample_orders.add_sample_orders`)."""
    import pandas as pd

    from gridgeo import _sample_orders, archive, io, roster, sample, visit_sheets, workspace
    from gridgeo.run import report_records, run_workspace

    if args.suggest_stations < 0:  # checked before the long set-up, not after it
        msg = f"--suggest-stations must be 0 or more (0: none), got {args.suggest_stations}"
        raise _user_error(msg)
    out_dir = Path(args.out)
    sample_dir = Path(args.sample) if args.sample else sample.SAMPLE_DIR
    missing = _sample_files_missing(sample_dir)
    if missing:
        msg = (
            f"样例目录不完整 / sample folder {str(sample_dir.resolve())!r} lacks "
            f"{', '.join(missing)}: pass --sample a folder laid out as sample_data/nanfeng "
            "(nanfeng.gpkg, customers.csv, customers_truth.csv, meta.json), e.g. one written by "
            "`gridgeo sample generate --out DIR`, or leave out --sample for the bundled county"
        )
        raise _user_error(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    county = sample.load_sample(sample_dir)
    customers_file = sample_dir / sample.OUTPUT_CUSTOMERS  # the archive as a company exports it
    records = io.read_records(customers_file, id_column="customer_id").drop(columns="file_line")
    name = str(county.county["name"].iloc[0])
    _print(
        f"{name}样例县 / sample county (seed {county.seed}, {sample_dir})",
        f"  county area        {float(county.county['area_km2'].iloc[0]):,.1f} km²",
        f"  townships          {len(county.towns)}",
        f"  villages           {len(county.villages)}",
        f"  customers          {_fmt_int(len(records))} in {customers_file.name}",
        f"  substations        {len(county.substations)}",
        f"  repair stations    {len(county.repair_stations)}",
        f"  payment points     {len(county.payment_points)}",
    )

    # the workspace: versioned layers of the data model plus the roads
    workspace_path = out_dir / "workspace.gpkg"
    layers = {key: getattr(county, key) for key in workspace.WORKSPACE_KEYS if key != "grids"}
    progress = _progress()
    with progress.step(f"工作区 / workspace {workspace_path}"):
        store = workspace.create_workspace(
            workspace_path,
            layers,
            roads=county.roads,  # stored with every mode's roads (a layer by mode)
            author="gridgeo demo",
            reason=f"{name}样例工作区 / sample county workspace",
            overwrite=True,
        )

    # customers: geocoded offline ONCE, as `gridgeo customers import` does; the grids are
    # then built on the imported customers counted per village (the workload), and saving
    # them puts every imported customer in its grids (gridgeo.workspace.save_grids)
    gazetteer = workspace.read_gazetteer(store)
    with progress.step(f"客户档案导入 / customer archive import ({len(records):,} customers)"):
        report = archive.import_customers(
            store,
            customers_file,
            gazetteer,
            author="gridgeo demo",
            reason="客户档案导入 / customer archive import",
            county_area=county.county,
        )

    t0 = time.perf_counter()
    with progress.step("三级网格 / service grids"):
        build = workspace.build_grids(store, None, seed=county.seed)
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
    _print(grids_line)
    _print_supply_grids(grids, workspace.count_grid_customers(store))
    _print("customer archive (客户资料档案):", *(f"  {line}" for line in report.lines()))
    # the rates with the grid reasons the save gave the customers
    rates = archive.match_rate_table(store.read(archive.CUSTOMER_LAYER))
    for what in ("match_level", "location_source", "grid_reason", "flag"):
        rows = rates[rates["what"] == what]
        detail = ", ".join(
            f"{r.value} {r.customers:,} ({r.share_pct:.2f}%)" for r in rows.itertuples()
        )
        _print(f"  {what:<16s} {detail}")

    # the main job, as `gridgeo run` runs it on any workspace
    run_workspace(
        store,
        out_dir,
        suggest_stations=args.suggest_stations,
        write_map=_map_writer(),
        write_picture=_picture_writer(),
        summary_extra={"seed": county.seed, "match_rates": rates.to_dict(orient="records")},
        author="gridgeo demo",
        progress=progress,
    )

    # a year of GENERATED work orders, drawn from the stored service levels (customer_access)
    _sample_orders.add_sample_orders(store, author="gridgeo demo", progress=progress)
    # the service from records, as `gridgeo run` reports it on a workspace with work orders
    report_records(store, out_dir, progress=progress)
    # next week's visit days (走访日) of the first tier-3 grid, with their sheets (走访单)
    week, _ = visit_sheets.week_visits(store, out_dir / "visits", progress=progress)
    # and the whole county's plan for the quarter after that week (the sample's first quarter)
    first = pd.to_datetime(week.days["date"]).min() if len(week.days) else None
    visit_sheets.quarter_plan(
        store,
        out_dir / "visits" / "quarter",
        today=None if first is None or pd.isna(first) else first.date(),
        progress=progress,
    )
    progress.close()
    return 0


# --- gridgeo serve --------------------------------------------------------------------------

SERVE_APP = "api.main:create_app"  # the service's app factory, imported by uvicorn
SERVE_USERNAMES = {  # one user per role made on the first start
    "admin": "admin",
    "leader": "leader",
    "dispatcher": "dispatcher",
    "planner": "planner",
    "grid_manager": "grid_manager",
    "grid_member": "grid_member",
}


def _first_users(store: Any) -> list[tuple[Any, str]]:
    """One user per role with a generated password, made only when the workspace has no
    users; the grid manager and member look after the tier-3 grid with the most customers
    (named as the grid's manager and first member). Returns ``(user, password)`` pairs."""
    from gridgeo import users

    if len(users.list_users(store)):
        return []
    grids = store.read("grids")
    village = grids.loc[grids["tier"] == 3].sort_values("grid_id")
    if not len(village):
        msg = (
            "工作区没有三级网格 / the workspace has no tier-3 grids: build them with "
            "`gridgeo grids build --workspace W`, then start `gridgeo serve` again"
        )
        raise _user_error(msg)
    counts = store.read("customers")["grid_t3"].astype(str).value_counts()
    village = village.assign(n=village["grid_id"].astype(str).map(counts).fillna(0))
    grid = village.sort_values(["n", "grid_id"], ascending=[False, True]).iloc[0]
    grid_id = str(grid["grid_id"])
    members = str(grid.get("members") or "").replace(",", "、").replace("，", "、").split("、")
    names = {
        "grid_manager": str(grid.get("manager") or "") or None,
        "grid_member": members[0].strip() or None,
    }
    made = []
    for role, username in SERVE_USERNAMES.items():
        own = [grid_id] if role in users.GRID_ROLES else None
        made.append(
            users.add_user(store, username, role=role, grids=own, display_name=names.get(role))
        )
    return made


def _check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            msg = (
                f"无法监听 / cannot listen on {host}:{port} ({exc.strerror}): pass another "
                "--port (e.g. --port 8001), or --host 127.0.0.1"
            )
            raise _user_error(msg) from exc


def _cmd_serve(args: argparse.Namespace) -> int:
    """Start the web app (uvicorn) on a workspace, the demo's by default (made if missing);
    on the first start make one user per role and print their passwords once."""
    import importlib.util

    from gridgeo import users

    if not 0 < args.port < 65536:
        msg = f"--port must be 1 to 65535, got {args.port}: e.g. --port 8000"
        raise _user_error(msg)
    if importlib.util.find_spec("uvicorn") is None:
        msg = "未安装 uvicorn / uvicorn is not installed: pip install -c constraints.txt -e ."
        raise _user_error(msg)
    if args.workspace is None:
        path = DEFAULT_DEMO_OUT / "workspace.gpkg"
        if not path.is_file():
            _print(f"首次启动：先生成样例工作区 / making the demo's workspace first ({path})")
            demo = argparse.Namespace(out=str(DEFAULT_DEMO_OUT), sample=None, suggest_stations=0)
            _cmd_demo(demo)
    else:
        path = Path(args.workspace)
    store = _open_store(str(path))  # one line, not a server that dies, if it is not a workspace
    _check_port(args.host, args.port)
    users.ensure_user_tables(store)
    made = _first_users(store)
    _print(f"工作区 / workspace: {store.path}")
    if made:
        _print(
            "首次启动，已为每个角色创建用户；密码只显示这一次，请妥善保存 / first start: one user "
            "per role, passwords shown ONCE (only their hashes are kept; reset with "
            "`gridgeo users reset NAME`):"
        )
        for user, password in made:
            grids = f"  网格 grids {','.join(user.grids)}" if user.grids else ""
            _print(
                f"  {user.role_zh:<4s} {user.role:<13s} 用户 user {user.username:<13s} "
                f"密码 password {password}{grids}"
            )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in shown:
        shown = f"[{shown}]"
    _print(f"请在浏览器打开 / open http://{shown}:{args.port}/ (Ctrl+C 停止 / to stop)")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get(
        "GRIDGEO_ALLOWED_HOSTS"
    ):
        _print(
            "注意 / note: other machines reach it by a host name or address the service must "
            "allow: set GRIDGEO_ALLOWED_HOSTS=that name (comma-separated), else it answers 400"
        )
    import uvicorn

    # the service's limits (header timeout, header buffer, keep-alive, connections per
    # worker) belong to api.limits: imported here only, as `demo` imports maps
    from api.limits import uvicorn_options

    os.environ["GRIDGEO_WORKSPACE"] = str(store.path.resolve())  # read by the app factory
    uvicorn.run(
        SERVE_APP,
        factory=True,
        host=args.host,
        port=args.port,
        log_level="info" if args.verbose else "warning",
        **uvicorn_options(workers=args.workers),
    )
    return 0


# --- gridgeo run ----------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    """The main job on a workspace (:func:`gridgeo.run.run_workspace`)."""
    from gridgeo.run import run_workspace

    progress = _progress()
    try:
        run_workspace(
            _open_store(args.workspace),
            Path(args.out),
            suggest_stations=args.suggest_stations,
            write_map=_map_writer(),
            write_picture=_picture_writer(),
            progress=progress,
            mask_phones=args.mask_phones,
            excel_csv=args.excel_csv,
        )
    finally:
        progress.close()
    return 0


def _cmd_map(args: argparse.Namespace) -> int:
    """The offline county map of a workspace (``maps.__main__.build_map``), as `gridgeo run`
    writes it, without running the rest of the job."""
    store = _open_store(args.workspace)
    if args.suggest_stations < 0:
        msg = f"--suggest-stations must be 0 or more (0: none), got {args.suggest_stations}"
        raise _user_error(msg)
    out = Path(args.out) if args.out else store.path.with_name("county_map.html")
    if out.suffix.lower() not in (".html", ".htm"):
        msg = f"--out {str(out)!r}: 地图是HTML文件 / the map is an HTML file: end it in .html"
        raise _user_error(msg)
    summary = Path(args.summary) if args.summary else None
    if summary is not None and not summary.is_file():
        msg = (
            f"--summary {str(summary)!r} 不存在 / does not exist: pass the summary.json that "
            "`gridgeo run --out DIR` wrote (DIR/summary.json), or leave out --summary"
        )
        raise _user_error(msg)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")  # a failed build leaves no half map
    progress = _progress()
    try:
        with progress.step("县域地图 / county map"):
            _map_writer()(store.path, tmp, summary=summary, suggest_stations=args.suggest_stations)
        tmp.replace(out)
    finally:
        progress.close()
        tmp.unlink(missing_ok=True)
    _print(f"县域地图 / county map (offline HTML, {out.stat().st_size / 1e6:.1f} MB): {out}")
    if args.png or args.pdf:
        figures = json.loads(summary.read_text(encoding="utf-8")) if summary else None
        progress = _progress()
        try:
            with progress.step("地图图片 / map picture"):
                png, pdf = _picture_writer()(
                    store.path,
                    args.png,
                    args.pdf,
                    summary=figures,
                    suggest_stations=args.suggest_stations,
                )
        finally:
            progress.close()
        for kind, path in (("PNG", png), ("PDF", pdf)):
            if path is not None:
                _print(f"地图图片 / map picture ({kind}): {path}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    """Whether the outputs of a run are as current as the workspace
    (:func:`gridgeo.run.outputs_status`)."""
    from gridgeo.run import outputs_status

    status = outputs_status(_open_store(args.workspace), args.out)
    _print(f"输出目录 / output folder: {status.out_dir}", *status.lines())
    return 0


def _print_stale_outputs(store: Any) -> None:
    """After a grid save: one line when the outputs in the workspace's folder (where
    ``gridgeo demo`` writes them) are now older than the workspace. The save is done: a
    status that cannot be read says nothing rather than fail the command."""
    import sqlite3

    from gridgeo.errors import GridGeoError
    from gridgeo.run import outputs_status

    try:
        line = outputs_status(store).stale_line()
    except (GridGeoError, OSError, sqlite3.Error):
        return
    if line:
        _print(line)


# --- gridgeo roads import -------------------------------------------------------------------


_OSM_SUFFIXES = (".pbf", ".osm", ".gz", ".bz2")


def _roads_from_file(
    path: str, *, layer: str | None, boundary: Any, datum: str = "wgs84", flag: str = "--datum"
) -> Any:
    """The roads layer by mode of an OSM extract (clipped to ``boundary``) or a roads layer.

    A roads layer may be in any CRS and, with ``datum``, in GCJ-02/BD-09 coordinates; its road
    classes are OSM ``highway`` values or Chinese classes (see ``network.standard_roads``).
    """
    from gridgeo import io, network

    if path.lower().endswith(_OSM_SUFFIXES):
        if datum != "wgs84":
            msg = (
                f"OSM 数据总是 WGS84 / OSM data is always WGS84: {flag} {datum} applies to a "
                f"roads layer, not to the OSM extract {path!r}; leave out {flag}"
            )
            raise _user_error(msg)
        return network.roads_from_osm(path, boundary=boundary)
    return network.roads_for_modes(io.read_layer(path, layer=layer, datum=datum))


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
    with _spinner("道路 / reading the roads"):
        roads = _roads_from_file(args.file, layer=args.layer, boundary=boundary, datum=args.datum)
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


_CONVERT_OUTPUTS = (".gpkg", ".geojson", ".json", ".csv")


def _cmd_convert(args: argparse.Namespace) -> int:
    """Convert a vector file or a CSV/XLSX with lon/lat to WGS84 (GeoPackage, GeoJSON or CSV)."""
    import numpy as np
    import shapely

    from gridgeo import io

    src, out = Path(args.src), Path(args.dst)
    if out.suffix.lower() not in _CONVERT_OUTPUTS:
        msg = (
            f"输出文件类型不支持 / output {str(out)!r} must end in one of "
            f"{', '.join(_CONVERT_OUTPUTS)} (GeoPackage, GeoJSON, or CSV with lon/lat)"
        )
        raise _user_error(msg)
    table = src.suffix.lower() in io.TABLE_SUFFIXES
    if table:
        if args.layer or args.crs:
            msg = (
                f"--layer/--crs 只用于矢量文件 / describe vector files: {args.src!r} is a table "
                "with lon/lat degrees; say their datum with --datum"
            )
            raise _user_error(msg)
        columns = _parse_columns(args.columns, None).get("", {})
        lon, lat = columns.pop("lon", "lon"), columns.pop("lat", "lat")
        gdf = io.read_table(
            src,
            lon=lon,
            lat=lat,
            datum=args.datum,
            points="valid",
            columns=columns,
            option_names={"columns": "--columns "},
        )
        renamed = gdf.attrs.get(io.SOURCE_COLUMNS_ATTR, {})
        gdf = gdf.drop(columns=["coord_reason"])
        # the lon/lat columns now hold the converted WGS84 numbers, like the points, and
        # every column keeps the name it has in the file (经度 stays 经度)
        gdf[lon] = gdf.geometry.x
        gdf[lat] = gdf.geometry.y
        gdf = gdf.rename(columns=renamed)
        lon, lat = renamed.get(lon, lon), renamed.get(lat, lat)
    else:
        if args.columns:
            msg = "--columns 只用于 CSV/XLSX 表 / names a table's lon/lat columns; leave it out"
            raise _user_error(msg)
        gdf = io.read_layer(
            src,
            layer=args.layer,
            datum=args.datum,
            crs=args.crs,
            option_names={"crs": "--crs", "layer": "--layer"},
        )
        lon, lat = "lon", "lat"
    kind = out.suffix.lower()
    if kind == ".csv":
        geoms = gdf.geometry.to_numpy()
        if not (shapely.get_type_id(geoms) == shapely.GeometryType.POINT).all():
            msg = (
                "CSV 输出只用于点 / CSV output holds points (lon, lat): "
                f"{args.src!r} has lines or polygons; write .gpkg or .geojson"
            )
            raise _user_error(msg)
        frame = gdf.drop(columns=gdf.geometry.name)
        frame[lon] = np.asarray(shapely.get_x(geoms), dtype=float)
        frame[lat] = np.asarray(shapely.get_y(geoms), dtype=float)
    tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
    tmp.unlink(missing_ok=True)
    if kind == ".csv":
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    elif kind == ".gpkg":
        io.write_layer(gdf, tmp, args.out_layer or args.layer or src.stem)
    else:
        gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=out.stem)
    tmp.replace(out)
    _print(
        f"{len(gdf)} 个要素已转换 / features converted from {args.datum} to WGS84 "
        f"(EPSG:4326): {out}"
    )
    return 0


# --- gridgeo grids --------------------------------------------------------------------------


def _open_store(path: str, flag: str = "--workspace") -> Any:
    """The workspace at ``path`` (given with ``flag``); a missing or foreign file is one line
    naming the flag and the commands that make a workspace."""
    from gridgeo.errors import CorruptFileError, NotFoundError
    from gridgeo.store import GeoPackageStore

    make = (
        "make one with `gridgeo workspace init OUT.gpkg --county ... --villages ... "
        "--substations ... --author NAME --reason TEXT`, or try the sample with "
        f"`gridgeo demo --out DIR` and pass {flag} DIR/workspace.gpkg"
    )
    try:
        return GeoPackageStore.open(path)
    except NotFoundError:
        msg = f"工作区 {path!r} 不存在 / workspace {path!r} does not exist: check {flag}, or {make}"
        raise NotFoundError(msg) from None
    except CorruptFileError:
        msg = (
            f"{path!r} 不是 gridgeo 工作区 / is not a gridgeo workspace: pass {flag} a .gpkg "
            f"made by gridgeo, or {make}"
        )
        raise CorruptFileError(msg) from None


def _read_workload(args: argparse.Namespace) -> Any:
    """The --workload file, or None: the build then counts the imported customers per village,
    else weighs every village the same (see `gridgeo.workspace.build_grids`)."""
    from gridgeo import io

    if args.workload is None:
        return None
    return io.read_records(
        args.workload, id_column="village_code", required_columns=("customers",)
    ).drop(columns="file_line")


def _kv_cell(value: Any) -> str:
    """A voltage in kV for a table cell; ``?`` where unknown (missing, not a number)."""
    try:
        kv = float(value)
    except (TypeError, ValueError):
        return "?"
    return f"{kv:.0f}" if kv == kv else "?"


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
    rows: list[tuple[Any, ...]] = [
        (
            row.grid_id,
            row.name,
            _kv_cell(row.voltage_kv),
            int(row.n_villages),
            f"{int(row.customers):,d}",
            int(row.hv_customers),
            int(n3.get(row.grid_id, 0)),
            f"{float(row.imbalance_pct):.1f}%",
            f"{float(row.area_km2):.1f}",
        )
        for row in tier2.itertuples(index=False)
    ]
    if counts is not None:
        lost = counts[2].loc[NOT_LOCATED]
        total = int(counts[2]["customers"].sum())
        rows.append(
            (f"{NOT_LOCATED} not located", "", "", "", f"{int(lost['customers']):,d}",
             int(lost["hv_customers"]), "", "", "")
        )  # fmt: skip
        rows.append(("全县 county total", "", "", "", f"{total:,d}", "", "", "", ""))
    header = ("网格 grid", "名称 name", "kV", "村 villages", "客户 customers", "HV",
              "三级 tier-3", "不均衡 imbalance", "km²")  # fmt: skip
    _table(header, rows, "<<>>>>>>>")
    if tier2["voltage_kv"].map(_kv_cell).eq("?").any():
        _print("  (kV ? = 电压未知 / voltage unknown: no voltage_kv in the substations file)")
    if counts is None:
        _print("  (customers of the workload above: the workspace has no customer archive yet)")
        return
    _print(f"  ({NOT_LOCATED}: 无位置或不在任何网格内 / no position, or outside every grid)")


_WORKLOAD_SOURCE_TEXT = {
    "given": "workload 工作量: customers per village from {file} / 按工作量文件",
    "customers": (
        "workload 工作量: the imported customers counted per village / 按已导入客户逐村计数"
    ),
    "equal": (
        "workload 工作量: no --workload and no customers imported yet, every village weighs the "
        "same / 未给工作量文件且尚未导入客户，各村权重相同 (the customers column counts villages)"
    ),
}


def _cmd_grids_build(args: argparse.Namespace) -> int:
    from gridgeo import roster as roster_mod
    from gridgeo import workspace

    store = _open_store(args.workspace)
    workload = _read_workload(args)
    with _spinner("三级网格 / building the grids"):
        build = workspace.build_grids(
            store,
            workload,
            method=args.method,
            n_grids=args.grids_per_substation,
            target_workload=args.target_workload,
            seed=args.seed,
        )
    _print(_WORKLOAD_SOURCE_TEXT[build.workload_source].format(file=args.workload))
    grids = build.service.grids
    if args.roster:  # grid ids are known only after the build: check the roster against them
        roster = roster_mod.read_roster(args.roster, grids["grid_id"])
        grids = roster_mod.apply_roster(grids, roster)
    version = workspace.save_grids(store, grids, author=args.author, reason=args.reason)
    _print(f"grids saved as version {version} of {args.workspace}:")
    has_customers = "customers" in store.layers()
    _print_supply_grids(grids, workspace.count_grid_customers(store) if has_customers else None)
    _print_county_pieces(build.service.pieces)
    _print_stale_outputs(store)
    return 0


_PIECE_HOW_TEXT = {
    "own": "自有变电站 / its own substations",
    "substation": "片内变电站 / the substation standing in it",
    "road": "道路最近 / first reached by road",
    "nearest": "直线最近 / nearest grid in straight line",
}


def _print_county_pieces(pieces: Any) -> None:
    """The pieces of a county in several pieces and the supply grid(s) of each."""
    if pieces is None or len(pieces) < 2:
        return
    _print(
        f"县域分为 {len(pieces)} 块 / the county is in {len(pieces)} pieces:",
        f"  {'piece':>5s} {'km²':>9s} {'lon,lat':>21s} {'villages':>8s}  supply grid(s), how",
    )
    for row in pieces.itertuples(index=False):
        _print(
            f"  {int(row.piece):>5d} {float(row.area_km2):>9.3f} "
            f"{float(row.lon):>10.5f},{float(row.lat):<10.5f} {int(row.n_villages):>8d}  "
            f"{row.grid_id}, {_PIECE_HOW_TEXT.get(row.how, row.how)}"
        )


def _print_kept_outside(store: Any) -> None:
    """Name the stations and villages of the workspace that lie outside its county (kept at
    `workspace init` with --allow-outside or within the tolerance): not a topology problem, but
    a substation outside the county still heads a supply grid inside it."""
    from gridgeo import workspace

    present = set(store.layers())
    layers = {name: store.read(name) for name in workspace.POINT_LAYERS if name in present}
    outside = workspace.check_inside_county(layers, store.read("county"))
    if len(outside):
        _print(
            f"note 注意: {len(outside)} 个点在县界外 / point(s) outside the county "
            "(kept at workspace init):",
            *workspace.describe_outside(outside, max_rows=10),
        )


def _cmd_grids_validate(args: argparse.Namespace) -> int:
    from gridgeo import grids as grids_mod

    store = _open_store(args.workspace)
    if "grids" not in store.layers():
        msg = (
            f"{args.workspace} has no grids yet 先建网格 / build the grids first: "
            f"gridgeo grids build --workspace {args.workspace} --author NAME --reason TEXT"
        )
        raise _user_error(msg)
    grids = store.read("grids", version=args.version)
    problems = grids_mod.validate_grids(grids, county=store.read("county"))
    version = args.version or store.current_version("grids")
    _print_kept_outside(store)
    if not problems:
        _print(f"grids version {version}: {len(grids)} grids, no topology problems")
        return 0
    _print(f"grids version {version}: {len(problems)} topology problem(s)")
    for p in problems:
        where = p.get("location")
        at = f" at {where[0]:.5f},{where[1]:.5f}" if where else ""
        other = f" / {p['other_id']}" if p.get("other_id") is not None else ""
        area = f" ({p['area_m2']:,.1f} m²)" if p.get("area_m2") else ""
        detail = f": {p['detail']}" if p.get("detail") else ""
        _print(f"  {p['problem']}: {p.get('grid_id')}{other}{area}{at}{detail}")
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
        drawn = io.read_layer(
            args.polygon,
            layer=args.layer,
            datum=args.datum,
            crs=args.crs,
            geometry_types=("Polygon", "MultiPolygon"),
            option_names={"crs": "--crs", "layer": "--layer"},
        )
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
    header = ["网格 grid", "层级 tier", "调整前 customers before", "调整后 after", "变化 change"]
    if reach_cols:
        header += ["30分钟抢修 30-min repair %", "10分钟缴费 10-min payment %"]
    rows = []
    for grid_id, row in diff.iterrows():
        cells = [
            str(grid_id),
            int(row["tier"]),
            f"{row['customers_before']:,.0f}",
            f"{row['customers_after']:,.0f}",
            f"{row['customers_change']:+,.0f}",
        ]
        if reach_cols:  # "-": no customers in the grid on that side of the edit
            for what in ("repair", "payment"):
                before, after = row[f"{what}_ok_pct_before"], row[f"{what}_ok_pct_after"]
                cells.append(f"{_pct_cell(before)} → {_pct_cell(after)}")
        rows.append(cells)
    _table(header, rows, "<>>>>>>" if reach_cols else "<>>>>")
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
    _print_stale_outputs(store)
    return 0


def _pct_cell(value: Any) -> str:
    return f"{float(value):.1f}" if value == value else "-"


def _user_error(msg: str) -> Exception:
    from gridgeo.errors import InputError

    return InputError(msg)


def _cmd_grids_roster(args: argparse.Namespace) -> int:
    from gridgeo import roster, workspace

    store = _open_store(args.workspace)
    version = store.current_version("grids")
    grids = store.read("grids", version=version)
    stations = store.read("repair_stations") if "repair_stations" in store.layers() else None
    table = roster.read_roster(
        args.file,
        grids["grid_id"],
        encoding=args.encoding,
        station_ids=None if stations is None else stations["station_id"],
    )
    filled = roster.apply_roster(grids, table)
    new = workspace.save_grids(
        store, filled, author=args.author, reason=args.reason, expected_version=version
    )
    _print(f"roster of {len(table)} grids applied: grids version {new}")
    _print_stale_outputs(store)
    return 0


def _cmd_grids_history(args: argparse.Namespace) -> int:
    from gridgeo.cliutil import local_time
    from gridgeo.orders import TIMEZONE

    store = _open_store(args.workspace)
    if "grids" not in store.layers():
        msg = (
            f"{args.workspace} 还没有网格 / has no grids yet: build them with "
            f"`gridgeo grids build --workspace {args.workspace} --author NAME --reason TEXT`"
        )
        raise _user_error(msg)
    versions = store.list_versions("grids")
    rows = [
        (r.version, local_time(r.created_at, TIMEZONE), r.author, r.reason)
        for r in versions.itertuples(index=False)
    ]
    _table(
        ("版本 version", f"时间 when ({TIMEZONE})", "操作人 author", "原因 reason"), rows, "><<<"
    )
    return 0


def _cmd_grids_restore(args: argparse.Namespace) -> int:
    from gridgeo import workspace

    store = _open_store(args.workspace)
    current = store.current_version("grids")
    version = workspace.restore_grids(
        store, args.version, author=args.author, reason=args.reason, expected_version=current
    )
    _print(f"grids version {args.version} restored as version {version}")
    _print_stale_outputs(store)
    return 0


# --- gridgeo customers ----------------------------------------------------------------------


def _cmd_customers_import(args: argparse.Namespace) -> int:
    from gridgeo import archive, workspace

    store = _open_store(args.workspace)
    gazetteer = workspace.read_gazetteer(store)
    county = store.read("county")
    grids = store.read("grids") if "grids" in store.layers() else None
    t0 = time.perf_counter()
    columns = _parse_columns(args.columns, None).get("", {})
    with _spinner("客户档案导入 / geocoding and importing the customers"):
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
            sheet=args.sheet,
            all_sheets=args.all_sheets,
            header_row=args.header_row,
            columns=columns,
            option_names={
                "columns": "--columns ",
                "sheet": "--sheet",
                "all_sheets": "--all-sheets",
                "header_row": "--header-row",
            },
        )
    _print(f"{args.file} imported in {time.perf_counter() - t0:.1f} s", *report.lines())
    rates = report.match_rates
    if rates is not None:
        rows = [
            (r.what, r.value, f"{r.customers:,d}", f"{r.share_pct:.2f}%")
            for r in rates.itertuples(index=False)
        ]
        _table(("项 what", "值 value", "客户 customers", "占比 share"), rows, "<<>>")
    if grids is None:
        _print("  (no grids in the workspace yet: run `gridgeo grids build`, then import again)")
    elif rates is not None and "villages" in store.layers():
        outside = workspace.check_inside_county({"villages": store.read("villages")}, county)
        if len(outside):
            reasons = rates[rates["what"] == "grid_reason"].set_index("value")["customers"]
            near = int(reasons.get("near_boundary", 0))
            lost = int(reasons.get("outside_grids", 0))
            _print(
                f"  {len(outside)} 个村在县界外：{near} 个客户按就近规则归入网格，{lost} 个客户仍在"
                f"所有网格外 / {len(outside)} village(s) outside the county: {near} customer(s) "
                f"put in a grid by the near-boundary rule (near_boundary, within "
                f"{workspace.OUTSIDE_TOLERANCE_M:g} m), {lost} still outside every grid "
                "(outside_grids); fix 解决: check the village coordinates and their datum in "
                "the villages file (Amap: `gridgeo workspace init --villages-datum gcj02`)"
            )
    return 0


_PLACE_LAYERS = ("repair_stations", "payment_points")
_MASK_HELP = (
    "档案中的电话脱敏 / mask the phone numbers in the archive (139****1234), for files that "
    "leave the company"
)
_EXCEL_CSV_HELP = (
    "另写一份用Excel打开的CSV / also write each archive CSV as NAME_excel.csv for Excel: "
    '户号 and phones as ="3610230000001" so Excel keeps them as text (the plain .csv stays '
    "for other systems)"
)


def _cmd_customers_export(args: argparse.Namespace) -> int:
    """The archive per grid (:func:`gridgeo.archive.export_archive`) with the stored access."""
    from gridgeo import archive, workspace

    store = _open_store(args.workspace)
    layers = store.layers()
    access = None
    if workspace.ACCESS_LAYER in layers:
        customers, access = workspace.read_access(store)  # says so when customers are missing
    elif archive.CUSTOMER_LAYER in layers:
        customers = store.read(archive.CUSTOMER_LAYER)
        _print(
            "服务水平未计算 / service levels not computed yet: the archive's 30分钟抢修 and "
            f"10分钟缴费 columns say 未计算; run `gridgeo run --workspace {args.workspace} "
            "--out DIR` first to fill them"
        )
    else:
        customers, access = workspace.read_access(store)  # the message naming the import
    places = {name: store.read(name) if name in layers else None for name in _PLACE_LAYERS}
    files = archive.export_archive(
        customers,
        store.read("grids"),
        args.out,
        access=access,
        repair_stations=places["repair_stations"],
        payment_points=places["payment_points"],
        mask_phones=args.mask_phones,
        excel_csv=args.excel_csv,
    )
    masked = "，电话已脱敏 / phones masked" if args.mask_phones else ""
    if args.excel_csv:
        masked += "，含Excel用CSV (*_excel.csv) / with CSV copies for Excel (*_excel.csv)"
    _print(
        f"已写出档案文件 {len(files)} 个 / {len(files)} archive files written to {args.out}{masked}"
    )
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


def _parse_columns(
    specs: Sequence[str] | None, layers: Sequence[str] | None
) -> dict[str, dict[str, str]]:
    """``--columns LAYER:OURS=THEIRS,...`` (or ``OURS=THEIRS,...`` when ``layers`` is None).

    Returns ``{layer: {our name: the file's name}}`` (layer ``""`` without layers).
    """
    out: dict[str, dict[str, str]] = {}
    example = "substations:substation_id=编号,name=名称" if layers else "lon=经度,lat=纬度"
    for spec in specs or ():
        layer, pairs = "", spec
        if layers is not None:
            layer, sep, pairs = spec.partition(":")
            layer = layer.strip().replace("-", "_")
            if not sep or layer not in layers:
                msg = (
                    f"--columns {spec!r}: 应以图层名开头 / must start with a layer name, one of "
                    f"{', '.join(layers)}, e.g. --columns {example}"
                )
                raise _user_error(msg)
        for pair in pairs.replace("，", ",").split(","):
            ours, sep, theirs = (p.strip() for p in pair.partition("="))
            if not (sep and ours and theirs):
                msg = (
                    f"--columns {spec!r}: {pair!r} 不是 列名=文件列名 / is not NAME=COLUMN "
                    f"(gridgeo's name = the file's name), e.g. --columns {example}"
                )
                raise _user_error(msg)
            out.setdefault(layer, {})[ours] = theirs
    return out


def _read_input_layer(
    path: str,
    name: str,
    datum: str,
    *,
    crs: str | None = None,
    default_crs: str | None = None,
    columns: dict[str, str] | None = None,
) -> Any:
    """One input file of `workspace init`: a vector layer or a CSV/XLSX with lon/lat.

    Error messages name this file's own flags (``--substations-crs``, ``--columns
    substations:...``); a table's points must all be usable lon/lat. ``crs`` (the file's
    own flag) is the file's CRS; ``default_crs`` (--crs) only serves a vector file that is
    refused without it (no CRS, or coordinates that are not lon/lat), so a lon/lat GeoJSON
    read beside files in metres stays lon/lat.
    """
    from gridgeo import io, workspace
    from gridgeo.errors import CRSError

    key = workspace.WORKSPACE_KEYS[name]
    required = _WORKSPACE_INPUTS[name]
    flag = name.replace("_", "-")
    option_names = {"crs": f"--{flag}-crs", "columns": f"--columns {name}:"}
    if Path(path).suffix.lower() in io.TABLE_SUFFIXES:
        if crs is not None:
            msg = (
                f"--{flag}-crs / --crs 只用于矢量文件 / apply to vector files: the table {path!r} "
                f"has lon/lat degrees; say their datum with --{flag}-datum"
            )
            raise _user_error(msg)
        return io.read_table(
            path,
            datum=datum,
            id_column=key,
            required_columns=required[1:],
            points="valid",
            columns=columns,
            option_names=option_names,
        ).drop(columns=["coord_reason"])

    def read(crs: str | None) -> Any:
        return io.read_layer(
            path,
            datum=datum,
            id_column=key,
            required_columns=required,
            crs=crs,
            columns=columns,
            option_names=option_names,
        )

    if crs is None and default_crs is not None:
        option_names["crs"] = "--crs"
        try:
            return read(None)
        except CRSError:
            return read(default_crs)
    return read(crs)


def _check_new_workspace(args: argparse.Namespace, layers: dict[str, Any]) -> None:
    """Refuse an existing workspace file (unless --overwrite) and points outside the county
    (unless --allow-outside); report the points kept outside."""
    from gridgeo import workspace
    from gridgeo.grids import NEAR_BOUNDARY_M

    if Path(args.out).exists() and not args.overwrite:
        msg = (
            f"{args.out} already exists 工作区文件已存在: choose another file name, or replace it "
            "with --overwrite (its grids, customers and history are lost)"
        )
        raise _user_error(msg)
    tol = args.outside_tolerance_m
    if not tol >= 0:
        msg = f"--outside-tolerance-m must be a distance in metres >= 0, got {tol!r}"
        raise _user_error(msg)
    outside = workspace.check_inside_county(layers, layers["county"], tolerance_m=tol)
    beyond = outside[outside["beyond_tolerance"]]
    near = outside[~outside["beyond_tolerance"]]
    if len(beyond) and not args.allow_outside:
        flags = ", ".join(
            f"--{name.replace('_', '-')}-datum" if hasattr(args, f"{name}_datum") else "--datum"
            for name in dict.fromkeys(beyond["layer"])
        )
        msg = "\n".join(
            [
                f"{len(beyond)} 个点在县界外超过 {tol:g} 米 / {len(beyond)} point(s) more than "
                f"{tol:g} m outside the county:",
                *workspace.describe_outside(beyond),
                f"fix 解决: check the file's datum with {flags} (Amap/WeChat: gcj02, Baidu: "
                "bd09), cut the file to the county, or keep them with --allow-outside",
            ]
        )
        raise _user_error(msg)
    if len(beyond):
        _print(
            f"县界外的点（已保留）/ points kept outside the county (--allow-outside): "
            f"{len(beyond)} more than {tol:g} m outside",
            *workspace.describe_outside(beyond),
        )
    if len(near):
        ids = "; ".join(
            f"{layer}: {', '.join(map(str, group['id']))}"
            for layer, group in near.groupby("layer", sort=False)
        )
        _print(
            f"县界外 {tol:g} 米以内的点（已保留）/ {len(near)} point(s) within {tol:g} m outside "
            f"the county, kept: {ids}"
        )
    villages = outside[outside["layer"] == "villages"]
    close = villages["distance_m"] <= NEAR_BOUNDARY_M
    if close.any():
        _print(
            f"  {int(close.sum())} 个村在县界外 {NEAR_BOUNDARY_M:g} 米以内，其客户归入就近网格 / "
            f"{int(close.sum())} village(s) within {NEAR_BOUNDARY_M:g} m outside the county: "
            "customers located at their points go to the grid listing the village, or the "
            "nearest (grid reason near_boundary)"
        )
    if (~close).any():
        far = int((~close).sum())
        _print(
            f"  {far} 个村在县界外 {NEAR_BOUNDARY_M:g} 米以上，"
            "按地址定位到这些村的客户不在任何网格内"
            f" / {far} village(s) more than {NEAR_BOUNDARY_M:g} m "
            "outside the county: customers located at their points fall in no grid "
            "(outside_grids); move these villages' points inside the county in the villages "
            "file and run workspace init again"
        )


def _set_county_seat(layers: dict[str, Any], seat: str) -> None:
    """Put ``--county-seat`` on the county layer, once it is known to be a township."""
    towns = set(layers["villages"]["town"].astype(str)) if "town" in layers["villages"] else set()
    if "towns" in layers:
        towns |= set(layers["towns"]["town"].astype(str))
    seat = seat.strip()
    if seat not in towns:
        msg = (
            f"--county-seat {seat!r} 不是本县的乡镇 / is not a township of the towns or villages "
            f"file: give one of {', '.join(sorted(towns)[:20])}"
        )
        raise _user_error(msg)
    layers["county"] = layers["county"].assign(county_seat=seat)


def _cmd_workspace_init(args: argparse.Namespace) -> int:
    from gridgeo import workspace

    layers = {}
    columns = _parse_columns(args.columns, list(_WORKSPACE_INPUTS))
    for name in columns:
        if not getattr(args, name):
            msg = f"--columns {name}:... 但未给该文件 / but no --{name.replace('_', '-')} file"
            raise _user_error(msg)
    for name in _WORKSPACE_INPUTS:
        path = getattr(args, name)
        if path:
            # per-file datum and CRS; the point files default to --datum, vector files to --crs
            datum = getattr(args, f"{name}_datum") or args.datum
            crs = getattr(args, f"{name}_crs")
            layers[name] = _read_input_layer(
                path, name, datum, crs=crs, default_crs=args.crs, columns=columns.get(name)
            )
    if args.county_seat:
        _set_county_seat(layers, args.county_seat)
    _check_new_workspace(args, layers)  # before the roads: they take the longest to read
    roads = None
    if args.roads:
        t0 = time.perf_counter()
        roads = _roads_from_file(
            args.roads,
            layer=args.roads_layer,
            boundary=layers["county"],
            datum=args.roads_datum,
            flag="--roads-datum",
        )
        _print_roads("roads", roads, time.perf_counter() - t0)
    with warnings.catch_warnings():  # reported above, as a table
        warnings.simplefilter("ignore", workspace.OutsideCountyWarning)
        store = workspace.create_workspace(
            args.out,
            layers,
            roads=roads,
            author=args.author,
            reason=args.reason,
            overwrite=args.overwrite,
            outside_tolerance_m=args.outside_tolerance_m,
            allow_outside=True,  # refused above unless --allow-outside
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


# --- gridgeo orders -------------------------------------------------------------------------

# flag dest -> work-order field, for `orders create` and `orders update`
_ORDER_FLAGS = {
    "kind": "kind",
    "source": "source",
    "customer": "customer_id",
    "address": "address",
    "reported_at": "reported_at",
    "dispatched_at": "dispatched_at",
    "departed_at": "departed_at",
    "arrived_at": "arrived_at",
    "repaired_at": "repaired_at",
    "closed_at": "closed_at",
    "called_back_at": "called_back_at",
    "station": "station_id",
    "crew": "crew",
    "member": "member",
    "fault_kind": "fault_kind",
    "outage_start": "outage_start",
    "outage_end": "outage_end",
    "customers_affected": "customers_affected",
    "planned": "planned",
    "result": "result",
    "satisfaction": "satisfaction",
    "first_time": "first_time",
}
_ORDER_OPTION_NAMES = {
    "columns": "--columns ",
    "sheet": "--sheet",
    "all_sheets": "--all-sheets",
    "header_row": "--header-row",
}


def _order_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        field: getattr(args, dest)
        for dest, field in _ORDER_FLAGS.items()
        if getattr(args, dest, None) is not None
    }
    if getattr(args, "point", None):
        lon, lat = _parse_point(args.point)
        fields.update({"lon": lon, "lat": lat, "datum": args.datum})
    return fields


def _cmd_orders_import(args: argparse.Namespace) -> int:
    """Import a 95598 / 供电服务指挥 export; bad rows are listed, nothing stored unless asked."""
    from gridgeo import orders

    store = _open_store(args.workspace)
    t0 = time.perf_counter()
    result = orders.import_orders(
        store,
        args.file,
        author=args.author,
        reason=args.reason,
        skip_bad_rows=args.skip_bad_rows,
        default_datum=args.datum,
        columns=_parse_columns(args.columns, None).get("", {}),
        header_row=args.header_row,
        sheet=args.sheet,
        all_sheets=args.all_sheets,
        encoding=args.encoding,
        option_names=_ORDER_OPTION_NAMES,
    )
    _print(f"{args.file} imported in {time.perf_counter() - t0:.1f} s", *result.lines())
    return 0


_ORDER_HEADER = ("工单编号 order", "类型 kind", "状态 status", "受理时间 reported (+08:00)",
                 "网格 grid", "抢修站 station", "网格员 member", "重复 repeat of")  # fmt: skip


def _order_cells(row: Any) -> tuple[str, ...]:
    """One work order as the cells of :data:`_ORDER_HEADER` (times in China time)."""
    from gridgeo import orders

    when = row["reported_at"].tz_convert(orders.TIMEZONE).strftime("%Y-%m-%d %H:%M")
    kind = orders.ORDER_KINDS.get(row["kind"], row["kind"])
    status = orders.ORDER_STATUSES.get(row["status"], row["status"])
    return (
        str(row["order_id"]), str(kind), str(status), when, str(row["grid_t3"]),
        str(row["station_id"]), str(row["member"]), str(row["repeat_of"]),
    )  # fmt: skip


def _order_line(row: Any) -> str:
    from gridgeo.cliutil import format_table

    return format_table(_ORDER_HEADER, [_order_cells(row)])[1]


def _cmd_orders_create(args: argparse.Namespace) -> int:
    from gridgeo import orders

    store = _open_store(args.workspace)
    fields = {"order_id": args.order_id, **_order_fields(args)}
    made = orders.create_order(store, fields, author=args.author, reason=args.reason)
    _print(f"工单已创建 / order {args.order_id} created:", _order_line(made.iloc[0]))
    return 0


def _cmd_orders_update(args: argparse.Namespace) -> int:
    from gridgeo import orders

    changes = _order_fields(args)
    if not changes:
        msg = (
            "没有要修改的字段 / nothing to change: give at least one field, e.g. "
            '--arrived-at "2026-11-03 14:20" or --satisfaction 满意'
        )
        raise _user_error(msg)
    store = _open_store(args.workspace)
    reason = args.reason or f"更新工单 update {', '.join(changes)}"
    row = orders.update_order(store, args.order_id, changes, author=args.author, reason=reason)
    _print(f"工单已更新 / order {args.order_id} updated:", _order_line(row.iloc[0]))
    return 0


def _month_bounds(text: str) -> tuple[str, str]:
    try:
        start = time.strptime(text, "%Y-%m")
    except ValueError:
        msg = f"--month {text!r} is not a month: write it like 2026-11"
        raise _user_error(msg) from None
    year, month = start.tm_year + start.tm_mon // 12, start.tm_mon % 12 + 1
    return f"{start.tm_year}-{start.tm_mon:02d}-01", f"{year}-{month:02d}-01"


def _cmd_orders_list(args: argparse.Namespace) -> int:
    from gridgeo import orders

    store = _open_store(args.workspace)
    start, end = args.start, args.end
    if args.month:
        start, end = _month_bounds(args.month)
    found = orders.read_orders(
        store, grid=args.grid, kind=args.kind, status=args.status, start=start, end=end
    )
    _print(f"{len(found)} 张工单 / work orders")
    _table(_ORDER_HEADER, [_order_cells(row) for _, row in found.iterrows()])
    return 0


def _cmd_orders_show(args: argparse.Namespace) -> int:
    import pandas as pd

    from gridgeo import orders

    store = _open_store(args.workspace)
    history = orders.order_history(store, args.order_id)  # NotFoundError if never stored
    found = orders.read_orders(store)
    row = found[found["order_id"] == args.order_id]
    _print(f"工单 order {args.order_id}")
    if len(row):
        for column in orders.ORDER_COLUMNS:
            value = row.iloc[0][column]
            if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
                value = ""
            elif hasattr(value, "tz_convert"):
                value = value.tz_convert(orders.TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
            _print(f"  {column:<20s} {value}")
    else:
        _print("  (已删除 / no longer stored)")
    _print("修改记录 history (version, who, when (北京时间 China time), why: field old → new)")
    for r in history.itertuples(index=False):
        when = pd.Timestamp(r.created_at).tz_convert(orders.TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
        change = "新建 created" if r.field == "created" else f"{r.field}: {r.old!r} → {r.new!r}"
        _print(f"  v{r.version:<4d} {r.author:<10s} {when}  {r.reason}: {change}")
    return 0


def _cmd_dispatch(args: argparse.Namespace) -> int:
    """The nearest available repair station by travel time for a fault, its ETA and route."""
    from gridgeo import dispatch_board, workspace
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
    unavailable = _split_ids(args.unavailable)
    on_board = dispatch_board.unavailable_stations(store)  # busy / out on the dispatchers' board
    if args.use_board:
        unavailable += [s for s in on_board if s not in unavailable]
    result = dispatch(
        engine,
        stations,
        limit_s=limit_s,
        labels=labels,
        unavailable=unavailable,
        county=store.read("county"),
        **kw,
    )
    fault = result.fault
    if result.reason == "outside_county":
        msg = (
            f"故障点在县界外 / the fault at {fault.lon:.6f},{fault.lat:.6f} (WGS84) is outside the "
            "county, no station dispatched: check the point and its datum (--datum gcj02 for "
            "Amap/WeChat picks, bd09 for Baidu)"
        )
        raise _user_error(msg)
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
    )
    options = [
        (
            row.station_id,
            row.name,
            int(row.crews) if row.crews is not None and row.crews == row.crews else "",
            f"{row.eta_s / 60:.1f}" if row.eta_s == row.eta_s else "-",
            f"{row.reason}{'' if row.available else '  unavailable 不可派'}",
        )
        for row in result.options.itertuples(index=False)
    ]
    header = ("站 station", "名称 name", "班组 crews", "分钟 ETA min", "原因 reason")
    _table(header, options, "<<>><")
    left_in = [s for s in on_board if s not in unavailable]
    if left_in:
        _print(
            f"看板上忙碌或外出 / busy or out on the board: {', '.join(left_in)} (not left out "
            "here: add --use-board, or --unavailable)"
        )
    _print_location_doubts(store, result, args.customer, kw.get("customers"))
    if args.route_out and result.route is not None:
        out = Path(args.route_out)
        result.route.to_file(out)
        _print(f"route written to {out}")
    if args.create_order:
        _create_dispatched_order(store, result, args)
    return 0


def _create_dispatched_order(store: Any, result: Any, args: argparse.Namespace) -> None:
    """``dispatch --create-order ID``: the order with the recommended station and its ETA."""
    import pandas as pd

    from gridgeo import orders

    if not args.author:
        msg = "--create-order needs --author (who dispatches, 调度员)"
        raise _user_error(msg)
    reported = args.reported_at or pd.Timestamp.now(tz="UTC").floor("s")
    fields = orders.order_from_dispatch(
        result,
        order_id=args.create_order,
        reported_at=reported,
        customer_id=args.customer or "",
        address=args.address or "",
    )
    made = orders.create_order(
        store, fields, author=args.author, reason=f"派单 dispatch to {result.station_id}"
    )
    _print(f"工单已创建 / order {args.create_order} created:", _order_line(made.iloc[0]))


def _print_location_doubts(
    store: Any, result: Any, customer_id: str | None, customers: Any
) -> None:
    """The fault's tier-3 grid and the doubts about its position (as the console shows)."""
    from gridgeo import dispatch_board

    row = None
    if customer_id is not None and customers is not None:
        found = customers.loc[customers["customer_id"].astype(str) == str(customer_id)]
        row = found.iloc[0] if len(found) else None
    grid_reason = None
    if row is not None or "grids" in store.layers():  # a workspace may have no grids yet
        grids = store.read("grids") if row is None else None
        place = dispatch_board.fault_place(result.fault, grids, customer=row)
        grid_reason = place["grid_reason"]
        _print(f"网格 grid: {place['grid_t3'] or '-'} ({grid_reason or '-'})")
    doubts = dispatch_board.location_doubts(row, fault=result.fault, grid_reason=grid_reason)
    if not doubts:
        _print("定位无疑点 / no doubt about the location")
        return
    _print("定位疑点 / doubts about the location:")
    for doubt in doubts:
        _print(f"  ! {doubt['code']}: {doubt['text']}")


# --- gridgeo stations -----------------------------------------------------------------------


def _cmd_stations_status(args: argparse.Namespace) -> int:
    """The repair stations' availability board (在岗 / 忙碌 / 外出); --set changes one."""
    from gridgeo import dispatch_board
    from gridgeo.cliutil import local_time
    from gridgeo.orders import TIMEZONE

    store = _open_store(args.workspace)
    if args.set is None:
        if args.note is not None or args.author is not None:
            msg = "--note and --author go with --set STATION STATUS (设置状态时使用)"
            raise _user_error(msg)
        board = dispatch_board.read_station_availability(store)
    else:
        station, status = args.set
        if not args.author:
            msg = "--set needs --author (who sets it, 设置人), e.g. --author 张三"
            raise _user_error(msg)
        try:
            board = dispatch_board.set_station_availability(
                store, station, status, by=args.author, note=args.note
            )
        except GridGeoError as exc:
            raise type(exc)(f"--set {station} {status}: {exc}") from exc
        row = board.loc[board["station_id"] == station.strip()].iloc[0]
        _print(
            f"已设置 / set: {row['station_id']} {row['name']} -> {row['status_zh']} "
            f"{row['status']}, by {row['updated_by']} at "
            f"{local_time(row['updated_at'], TIMEZONE)}"
        )

    rows = []
    for _, row in board.iterrows():
        crews = row.get("crews")
        rows.append(
            (
                row["station_id"],
                row["name"],
                int(crews) if crews is not None and crews == crews else "-",
                f"{row['status_zh']} {row['status']}",
                row["updated_by"] or "-",
                local_time(row["updated_at"], TIMEZONE) if row["updated_at"] else "-",
                row["note"] or "",
            )
        )
    header = ("站 station", "名称 name", "班组 crews", "状态 status", "设置人 by",
              f"时间 at ({TIMEZONE})", "备注 note")  # fmt: skip
    _table(header, rows, "<<><<<<")
    out = board.loc[board["status"] != "on_duty", "station_id"].tolist()
    if out:
        _print(f"不可派 / not dispatched: {', '.join(out)} (gridgeo dispatch --use-board)")
    else:
        _print("全部在岗 / every station on duty")
    return 0


# --- gridgeo plan ---------------------------------------------------------------------------

_PLAN_SERVICES = {
    # service: (existing layer, what is sited, promise label)
    "repair": ("repair_stations", "repair stations 抢修站", "repair 抢修"),
    "payment": ("payment_points", "payment points 缴费网点", "payment 缴费"),
}


def _cmd_plan(args: argparse.Namespace) -> int:
    """Where k new repair stations / payment points bring the most customers within the promise."""
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
    )
    geoms = candidates.geometry.to_crs("EPSG:4326")
    picks = []
    for rank, row in result.picks.iterrows():
        point = geoms.loc[row["candidate"]]
        name = candidates[name_column].loc[row["candidate"]] if name_column in candidates else ""
        name = "-" if name is None or name != name or not str(name) else str(name)
        picks.append(
            (rank, row["site_id"], name, f"{point.x:.6f}", f"{point.y:.6f}",
             f"{int(row['gain_customers']):+,d}", f"{100 * row['covered_share']:.1f}%")
        )  # fmt: skip
    header = ("名次 rank", "候选点 site id", "名称 name", "lon", "lat", "新增 gain", "累计 after")
    _table(header, picks, "><<>>>>")
    gain = result.covered_after - result.covered_before
    _print(
        f"  after 选址后  {result.covered_after:>7,d} of {n:,} customers within {limit_min:g} min "
        f"({100 * result.share_after:.1f}%), {gain:+,d} customers "
        f"({100 * (result.share_after - result.share_before):+.1f} points 百分点)"
    )
    return 0


# --- gridgeo stars / watch -----------------------------------------------------------------


def _cmd_stars(args: argparse.Namespace) -> int:
    """The week's 服务之星 ranking with every score explained (:func:`gridgeo.stars`)."""
    from gridgeo import stars

    if args.top < 0:
        msg = f"--top must be 0 (everybody) or more, got {args.top}"
        raise _user_error(msg)
    result = stars.workspace_stars(_open_store(args.workspace), week=args.week)
    _print(*result.lines(top=args.top))
    return 0


def _cmd_watch(args: argparse.Namespace) -> int:
    """The watch list (重点巡查) and the monthly fault peaks (:func:`gridgeo.watch`)."""
    from gridgeo import watch

    result = watch.workspace_watch(_open_store(args.workspace), month=args.month)
    _print(*result.lines())
    return 0


# --- gridgeo report -------------------------------------------------------------------------


def _cmd_report_month(args: argparse.Namespace) -> int:
    """The monthly evaluation (月度考核, :func:`gridgeo.evaluation.evaluate_workspace`)."""
    from gridgeo import evaluation

    result = evaluation.evaluate_workspace(_open_store(args.workspace), args.month)
    files = evaluation.write_evaluation(result, args.out)
    _print(evaluation.evaluation_summary_text(result).rstrip("\n"))
    _print("", "已写出 / written:", *(f"  {path}" for path in files.values()))
    return 0


def _cmd_report_leadership(args: argparse.Namespace) -> int:
    """The monthly report for leadership (月度供电服务报告, :mod:`gridgeo.report`)."""
    from gridgeo import report

    if args.suggest_stations is not None and args.suggest_stations < 0:
        msg = f"--suggest-stations must be 0 or more (0: none), got {args.suggest_stations}"
        raise _user_error(msg)
    result = report.leadership_report(
        _open_store(args.workspace),
        args.month,
        run_dir=args.run,
        suggest_stations=args.suggest_stations,
    )
    files = report.write_leadership_report(result, args.out)
    _print(*result.lines())
    _print("", "已写出 / written:", *(f"  {path}" for path in files.values()))
    return 0


# --- gridgeo sample -------------------------------------------------------------------------


def _cmd_sample_generate(args: argparse.Namespace) -> int:
    from gridgeo import sample

    t0 = time.perf_counter()
    with _spinner("样例县 / generating the sample county"):
        county = sample.generate_county(
            seed=args.seed,
            n_customers=args.customers,
            road_detail=args.road_detail,
            adcode=args.county,
            boundary=args.boundary,
            boundary_datum=args.boundary_datum,
        )
        paths = sample.write_sample(county, Path(args.out))
    name = county.meta.get("name", "南丰县")
    adcode = county.meta.get("adcode", "361023")
    _print(
        f"样例县已生成 / sample county generated: {name} {adcode}, "
        f"{time.perf_counter() - t0:.1f} s (seed {args.seed}):"
    )
    _print(*(f"  {key:<16s} {path}" for key, path in paths.items()))
    if args.company_files:
        files = sample.write_company_files(county, Path(args.out) / "company_files")
        _print("县公司文件 / files as a county company has them (see README.txt):")
        _print(*(f"  {key:<16s} {path}" for key, path in files.items()))
    if args.marketing_export:
        files = sample.write_marketing_export(
            county, Path(args.out) / sample.MARKETING_DIR, seed=args.seed
        )
        _print("营销系统导出的客户资料 / the customer file as the marketing system exports it:")
        _print(*(f"  {key:<16s} {path}" for key, path in files.items()))
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


def _add_order_field_flags(parser: argparse.ArgumentParser) -> None:
    """The work-order fields as flags (times in China time, words or codes)."""
    times = {
        "reported_at": "受理时间 reported",
        "dispatched_at": "派单时间 dispatched",
        "departed_at": "出发时间 departed",
        "arrived_at": "到达现场时间 arrived",
        "repaired_at": "修复时间 repaired",
        "closed_at": "办结时间 closed",
        "called_back_at": "回访时间 called back",
        "outage_start": "停电开始 outage start",
        "outage_end": "停电结束 outage end",
    }
    parser.add_argument("--kind", help="工单类型 kind: 故障报修, 投诉, 咨询, ... (or fault, ...)")
    parser.add_argument("--source", help="工单来源 source: 95598, 网格员, 网上国网/微信, 现场")
    parser.add_argument("--customer", help="户号 customer number")
    parser.add_argument("--address", help="地址 address (geocoded as customers are)")
    parser.add_argument("--point", help="LON,LAT of the order's location")
    parser.add_argument(
        "--datum", default="wgs84", choices=("wgs84", "gcj02", "bd09"), help="datum of --point"
    )
    for dest, label in times.items():
        flag = "--" + dest.replace("_", "-")
        parser.add_argument(flag, dest=dest, metavar='"YYYY-MM-DD HH:MM"', help=label)
    parser.add_argument("--station", help="抢修站 station id or name")
    parser.add_argument("--crew", help="抢修人员 crew")
    parser.add_argument("--member", help="网格员 grid member")
    parser.add_argument("--fault-kind", help="故障类型: 高压, 低压, 客户内部")
    parser.add_argument("--customers-affected", help="停电户数 customers without supply")
    parser.add_argument("--planned", help="是否计划停电: 是/否")
    parser.add_argument("--result", help="处理结果 result")
    parser.add_argument("--satisfaction", help="回访满意度: 满意, 基本满意, 不满意")
    parser.add_argument("--first-time", help="是否一次办结: 是/否")


def _cmd_users_add(args: argparse.Namespace) -> int:
    from gridgeo import users

    store = _open_store(args.workspace)
    grids = [g for g in (args.grids or "").split(",") if g.strip()]
    user, password = users.add_user(
        store, args.name, role=args.role, grids=grids, display_name=args.display_name
    )
    _print(
        f"用户已添加 / user {user.username} added: {user.role} ({user.role_zh})"
        + (f", 网格 grids {','.join(user.grids)}" if user.grids else ""),
        f"初始密码 / password (shown once, only its hash is kept): {password}",
    )
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from gridgeo import users

    table = users.list_users(_open_store(args.workspace))
    _print(f"{len(table)} 个用户 / users")
    rows = [
        (
            row["username"],
            row["display_name"],
            f"{row['role']} ({row['role_zh']})",
            "停用 disabled" if row["disabled"] else "启用 active",
            row["grids"] or "-",
        )
        for _, row in table.iterrows()
    ]
    _table(("用户 user", "姓名 name", "角色 role", "状态 state", "网格 grids"), rows)
    return 0


def _cmd_users_disable(args: argparse.Namespace) -> int:
    from gridgeo import users

    user = users.update_user(_open_store(args.workspace), args.name, disabled=True)
    _print(f"用户已停用 / user {user.username} disabled: their sessions and tokens are ended")
    return 0


def _cmd_users_reset(args: argparse.Namespace) -> int:
    from gridgeo import users

    password = users.reset_password(_open_store(args.workspace), args.name)
    _print(f"密码已重置 / new password for {args.name} (shown once; sessions ended): {password}")
    return 0


def _cmd_users_token(args: argparse.Namespace) -> int:
    from gridgeo import users

    if not args.days > 0:
        msg = f"--days {args.days!r} must be a positive number of days, e.g. --days 30"
        raise _user_error(msg)
    session = users.start_session(
        _open_store(args.workspace), args.name, kind="token", lifetime_s=args.days * 86400
    )
    _print(
        f"API 令牌 / token for {args.name}, valid until {session.expires_at} (shown once; "
        "send it as `Authorization: Bearer <token>`):",
        session.token,
    )
    return 0


def _add_users_parser(sub: Any) -> None:
    """``gridgeo users add|list|disable|reset|token``."""
    from gridgeo.users import ROLES

    roles = ", ".join(f"{code} {zh}" for code, zh in ROLES.items())
    usr = sub.add_parser("users", help="用户与角色 users and roles of the web service")
    usr_sub = usr.add_subparsers(dest="users_command", required=True)
    add = usr_sub.add_parser(
        "add",
        help="添加用户 add a user (the password is generated and shown once)",
        epilog="例 example:\n  gridgeo users add zhangsan --role grid_member "
        "--grids T3-SUB02-01 --display-name 张三 --workspace ws.gpkg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("name", help="用户名 user name (letters, digits, . _ -)")
    add.add_argument("--role", required=True, help=f"角色 role: {roles}")
    add.add_argument("--grids", help="网格 grid ids a grid role looks after, comma-separated")
    add.add_argument("--display-name", help="姓名 name shown, e.g. 张三")
    add.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    add.set_defaults(func=_cmd_users_add)
    lst = usr_sub.add_parser("list", help="列出用户 list the users")
    lst.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    lst.set_defaults(func=_cmd_users_list)
    for name, func, text in (
        ("disable", _cmd_users_disable, "停用用户 disable a user (ends their sessions)"),
        ("reset", _cmd_users_reset, "重置密码 give a user a new generated password"),
    ):
        cmd = usr_sub.add_parser(name, help=text)
        cmd.add_argument("name", help="用户名 user name")
        cmd.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
        cmd.set_defaults(func=func)
    tok = usr_sub.add_parser("token", help="API 令牌 an API token for `Authorization: Bearer`")
    tok.add_argument("name", help="用户名 user name")
    tok.add_argument("--days", type=float, default=30.0, help="有效天数 days valid (default 30)")
    tok.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    tok.set_defaults(func=_cmd_users_token)


def _add_orders_parser(sub: Any) -> None:
    """``gridgeo orders import|create|update|list|show``."""
    raw = argparse.RawDescriptionHelpFormatter
    ord_ = sub.add_parser("orders", help="work orders 工单: import, create, update, list, show")
    ord_sub = ord_.add_subparsers(dest="orders_command", required=True)
    imp = ord_sub.add_parser(
        "import",
        help="导入95598/服务指挥工单 import a work-order export (CSV/XLSX)",
        description="导入工单：有错误行时不保存任何工单（--skip-bad-rows 只导入正确的行）。 "
        "Import a 95598 / 供电服务指挥 export: any bad row stores nothing unless "
        "--skip-bad-rows; the bad rows are listed by file line.",
        epilog="例 example:\n  gridgeo orders import 工单.xlsx --workspace ws.gpkg --author 张三\n"
        "  gridgeo orders import 95598.csv --workspace ws.gpkg --author 张三 --skip-bad-rows",
        formatter_class=raw,
    )
    imp.add_argument("file")
    imp.add_argument("--workspace", required=True)
    imp.add_argument("--author", required=True, help="who imports (操作人)")
    imp.add_argument("--reason", default=None, help="why (default: the file's name)")
    imp.add_argument(
        "--skip-bad-rows", action="store_true", help="导入正确的行 store the good rows"
    )
    imp.add_argument(
        "--columns",
        action="append",
        metavar="THEIRS=FIELD,...",
        help="the file's own column names, e.g. 单号=order_id",
    )
    imp.add_argument("--header-row", type=_positive_int, default=None, help="表头行 header row")
    imp.add_argument("--sheet", default=None, help="工作表 sheet name")
    imp.add_argument("--all-sheets", action="store_true", help="read every sheet with orders")
    imp.add_argument("--encoding", default=None, help="CSV encoding (default UTF-8, then GBK)")
    imp.add_argument(
        "--datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of 经度/纬度 on rows without 坐标系",
    )
    imp.set_defaults(func=_cmd_orders_import)

    crt = ord_sub.add_parser(
        "create",
        help="新建工单 create a work order",
        epilog="例 example:\n  gridgeo orders create GD2026110301 --workspace ws.gpkg "
        '--author 张三 --kind 故障报修 --customer 3610230000001 --reported-at "2026-11-03 14:00"',
        formatter_class=raw,
    )
    crt.add_argument("order_id", help="工单编号 order number")
    crt.add_argument("--workspace", required=True)
    crt.add_argument("--author", required=True)
    crt.add_argument("--reason", default=None)
    _add_order_field_flags(crt)
    crt.set_defaults(func=_cmd_orders_create)

    upd = ord_sub.add_parser(
        "update",
        help="更新工单 update a work order (times, result, callback)",
        epilog="例 example:\n  gridgeo orders update GD2026110301 --workspace ws.gpkg "
        '--author 王芳 --arrived-at "2026-11-03 14:20" --satisfaction 满意',
        formatter_class=raw,
    )
    upd.add_argument("order_id", help="工单编号 order number")
    upd.add_argument("--workspace", required=True)
    upd.add_argument("--author", required=True)
    upd.add_argument("--reason", default=None)
    _add_order_field_flags(upd)
    upd.set_defaults(func=_cmd_orders_update)

    lst = ord_sub.add_parser(
        "list",
        help="列出工单 list work orders",
        epilog="例 example:\n  gridgeo orders list --workspace ws.gpkg --grid T3-01-02 "
        "--kind 投诉 --month 2026-11",
        formatter_class=raw,
    )
    lst.add_argument("--workspace", required=True)
    lst.add_argument("--grid", default=None, help="grid id of any tier 网格")
    lst.add_argument("--kind", default=None, help="工单类型 kind")
    lst.add_argument("--status", default=None, help="状态 status (已到达, arrived, ...)")
    lst.add_argument("--month", default=None, help="受理月份 month reported, e.g. 2026-11")
    lst.add_argument("--start", default=None, help="reported from (China time)")
    lst.add_argument("--end", default=None, help="reported before (China time)")
    lst.set_defaults(func=_cmd_orders_list)

    show = ord_sub.add_parser(
        "show",
        help="工单详情及修改记录 one order and its history",
        epilog="例 example:\n  gridgeo orders show GD2026110301 --workspace ws.gpkg",
        formatter_class=raw,
    )
    show.add_argument("order_id")
    show.add_argument("--workspace", required=True)
    show.set_defaults(func=_cmd_orders_show)


# --- gridgeo visits -------------------------------------------------------------------------

DEFAULT_VISITS_OUT = Path("out") / "visits"
_VISIT_FLAGS = {  # setting -> the flag that sets it, for the messages
    "day_hours": "--day-hours",
    "day_length_s": "--day-hours",
    "visit_min": "--visit-min",
    "visit_s": "--visit-min",
    "visit_min_by_category": "--category-min",
    "visit_s_by_category": "--category-min",
    "weekday": "--weekday",
    "day_start": "--start",
    "mode": "--mode",
}


def _visit_settings_from(args: argparse.Namespace) -> Any:
    """The visit settings of the flags (the library's defaults where a flag is not given)."""
    import re

    from gridgeo.errors import InputError
    from gridgeo.settings import visit_settings

    by_category: dict[str, float] | None = None
    if args.category_min:
        by_category = {}
        for item in ",".join(args.category_min).split(","):
            name, _, minutes = item.partition("=")
            try:
                by_category[name.strip()] = float(minutes)
            except ValueError:
                by_category = None
            if by_category is None or not name.strip():
                msg = (
                    f"--category-min {item!r} is not CATEGORY=MINUTES: write e.g. "
                    "--category-min commercial=15,industrial=20"
                )
                raise _user_error(msg) from None
    try:
        return visit_settings(
            day_hours=args.day_hours,
            visit_min=args.visit_min,
            visit_min_by_category=by_category,
            weekday=args.weekday,
            day_start=args.start,
            mode=args.mode,
        )
    except InputError as exc:
        text = re.sub(
            r"`(\w+)(?:\[[^\]]*\])?`",
            lambda m: _VISIT_FLAGS.get(m[1], m[0]),
            str(exc).removeprefix("visit settings: "),
        )
        raise _user_error(f"走访设置 / visit settings: {text}") from exc


def _visit_members(store: Any, args: argparse.Namespace) -> tuple[Any, str | None]:
    """The workspace's grid members and the tier-3 grid to plan (from --grid / --member),
    with --grid and --member checked against them."""
    from gridgeo.visits import member_bases

    layers = store.layers()
    for layer, fix in (
        ("grids", "build them with `gridgeo grids build --workspace W`"),
        ("repair_stations", "add the repair stations / supply offices to the workspace"),
        ("customers", "import the archive with `gridgeo customers import FILE --workspace W`"),
    ):
        if layer not in layers:
            msg = f"工作区缺少 / the workspace has no `{layer}` layer: {fix}"
            raise _user_error(msg)
    members = member_bases(store.read("grids"), store.read("repair_stations"))
    if not len(members):
        msg = (
            "三级网格没有网格员 / no tier-3 grid names members: fill the roster with "
            "`gridgeo grids roster FILE --workspace W`"
        )
        raise _user_error(msg)
    grids = sorted({g for gs in members["grid_ids"] for g in gs})
    grid = args.grid
    if grid is not None and grid not in grids:
        msg = (
            f"--grid {grid}: 不是有网格员的三级网格 / not a tier-3 grid with members; use one of "
            f"{', '.join(grids[:5])}{' ...' if len(grids) > 5 else ''}"
        )
        raise _user_error(msg)
    member = getattr(args, "member", None)
    if member is not None:
        row = members[members["member"] == member]
        if not len(row):
            near = [m for m in members["member"] if m[:1] == member[:1]][:5]
            msg = (
                f"--member {member}: 没有这个网格员 / no such grid member; use a name from the "
                f"tier-3 grids' members, e.g. {', '.join(near or list(members['member'][:5]))}"
            )
            raise _user_error(msg)
        own = list(row["grid_ids"].iloc[0])
        if grid is not None and grid not in own:
            msg = (
                f"--member {member} does not look after --grid {grid} / 该网格员不负责此网格: "
                f"their grids are {', '.join(own)}"
            )
            raise _user_error(msg)
        grid = grid or own[0]
    return members, grid


def _cmd_visits_plan(args: argparse.Namespace) -> int:
    """Plan the home visits of a period (:func:`gridgeo.plan_workspace_visits`), print a
    summary and write each member's day sheets (:mod:`gridgeo.visit_sheets`)."""
    from gridgeo import visit_sheets
    from gridgeo.errors import InputError
    from gridgeo.visits import plan_workspace_visits

    settings = _visit_settings_from(args)
    try:
        start, end = visit_sheets.visit_period(args.period)
    except InputError as exc:
        msg = f"--period: {exc}"
        raise _user_error(msg) from exc
    store = _open_store(args.workspace)
    _, grid = _visit_members(store, args)
    t0 = time.perf_counter()
    plan = plan_workspace_visits(
        store, start=start, end=end, settings=settings, grid=args.grid, member=args.member
    )
    label = args.period or f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    who = args.member or (f"grid {grid}" if grid else "all members 全部网格员")
    _print(
        f"走访计划 / visit plan {label} ({start.isoformat()} - {end.isoformat()}), {who}, "
        f"{time.perf_counter() - t0:.1f} s",
        *plan.lines(),
    )
    _print_visit_members(plan)
    if len(plan.unplanned):
        _print("无法安排的原因 / why visits cannot be planned:")
        counts = plan.unplanned.groupby(["reason", "reason_text"], sort=False).size()
        for (_, text), n in counts.sort_values(ascending=False, kind="stable").items():
            _print(f"  {n:>6,d}  {text}")
    out = Path(args.out) if args.out else DEFAULT_VISITS_OUT / visit_sheets.safe_name(label)
    written = visit_sheets.write_visit_plan(plan, out, names=visit_sheets.customer_names(store))
    _print(f"已写出 / written: {len(written)} files in {out} (每位网格员一个文件夹 / per member)")
    return 0


def _print_visit_members(plan: Any) -> None:
    if not len(plan.members):
        return
    rows = [
        (m.member, f"{m.visit_days:,d}", f"{m.planned:,d}", f"{m.unplanned:,d}",
         f"{m.extra_days_needed:,d}")
        for m in plan.members.itertuples(index=False)
    ]  # fmt: skip
    header = ("网格员 member", "走访日 days", "已排 planned", "未排 unplanned", "需加日 extra days")
    _table(header, rows, "<>>>>")


def _cmd_visits_day(args: argparse.Namespace) -> int:
    """One member's visit day on the roads, printed (and its sheet written with --out)."""
    import datetime as dt

    from gridgeo import visit_sheets
    from gridgeo.errors import InputError
    from gridgeo.visits import plan_workspace_visits

    settings = _visit_settings_from(args)
    try:
        day = dt.date.fromisoformat(args.date.strip())
    except ValueError:
        msg = f"--date {args.date}: 不是日期 / not a date; write YYYY-MM-DD, e.g. 2027-01-06"
        raise _user_error(msg) from None
    if day.weekday() != settings.weekday:
        wd = visit_sheets.WEEKDAYS_EN
        nearest = day + dt.timedelta(days=settings.weekday - day.weekday())  # same week
        msg = (
            f"--date {day.isoformat()} is a {wd[day.weekday()]}, but the visit day is "
            f"{wd[settings.weekday]} / 走访日是{visit_sheets.WEEKDAYS_ZH[settings.weekday]}: "
            f"use --date {nearest.isoformat()}, or --weekday {day.weekday()}"
        )
        raise _user_error(msg)
    if args.period is None:  # the plan of the date's round, from its first day
        months = 12 // settings.visits_per_year
        start = dt.date(day.year, (day.month - 1) // months * months + 1, 1)
    else:
        try:
            start, end = visit_sheets.visit_period(args.period)
        except InputError as exc:
            msg = f"--period: {exc}"
            raise _user_error(msg) from exc
        if not start <= day <= end:
            msg = (
                f"--date {day.isoformat()} is outside --period {args.period} "
                f"({start.isoformat()} - {end.isoformat()}): give a date inside it"
            )
            raise _user_error(msg)
    store = _open_store(args.workspace)
    members, _ = _visit_members(store, args)  # --member (and --grid) checked
    plan = plan_workspace_visits(
        store, start=start, end=day, settings=settings, grid=args.grid, member=args.member
    )
    names = visit_sheets.customer_names(store)
    try:
        sheet = visit_sheets.day_sheet(plan, args.member, day, names=names)
    except GridGeoError as exc:
        unplanned = plan.unplanned[plan.unplanned["member"] == args.member]
        hint = ""
        if len(unplanned):
            hint = f"; {len(unplanned)} of their visits cannot be planned (`gridgeo visits plan`)"
        raise type(exc)(f"--date {day.isoformat()}: {exc}{hint}") from exc
    _print(*sheet.lines())
    written = []
    if args.out:
        written = visit_sheets.write_day_sheet(sheet, args.out)
    if args.out or args.map:
        folder = (
            Path(args.out) if args.out else DEFAULT_VISITS_OUT / visit_sheets.safe_name(args.member)
        )
        base = members.set_index("member").geometry[args.member]
        written.append(_write_visit_day_map(store, plan, sheet, base, settings, folder))
    if written:
        _print("已写出 / written:", *(f"  {path}" for path in written))
    return 0


def _write_visit_day_map(
    store: Any, plan: Any, sheet: Any, base: Any, settings: Any, folder: Path
) -> Path:
    """The day's route map (:func:`maps.visit_day.visit_day_map`) as offline HTML in
    ``folder``, the route drawn along the roads where the engine has a path."""
    from gridgeo import visit_sheets
    from gridgeo.visits import day_route_legs
    from gridgeo.workspace import read_reach_engine
    from maps.overview import save_offline
    from maps.visit_day import visit_day_map

    engine = read_reach_engine(store, mode=settings.mode)
    points = visit_sheets.sheet_points(plan, sheet)
    legs = day_route_legs(engine, base, points)
    straight = int((legs["drawn"] == "straight").sum())
    _print(
        f"路线图 / route map: {len(legs) - straight} legs along the roads"
        + (f", {straight} straight (无道路路径 / no road path)" if straight else "")
    )
    path = folder / visit_sheets.map_name(sheet)
    partial = path.with_name(path.name + ".partial")
    save_offline(visit_day_map(sheet, points, base, legs), partial)
    partial.replace(path)
    return path


def _cmd_visits_import(args: argparse.Namespace) -> int:
    """Import visit and callback records (:func:`gridgeo.visit_records.import_visits`): one
    new version of the ``visits`` layer, or nothing stored and the bad rows listed."""
    from gridgeo import visit_records

    path = Path(args.file)
    if not path.is_file():
        msg = f"{args.file}: 文件不存在 / no such file: give the path of the CSV or XLSX file"
        raise _user_error(msg)
    store = _open_store(args.workspace)
    if "customers" not in store.layers():
        msg = (
            "工作区缺少 / the workspace has no `customers` layer: import the archive with "
            "`gridgeo customers import FILE --workspace W`"
        )
        raise _user_error(msg)
    t0 = time.perf_counter()
    result = visit_records.import_visits(
        store,
        path,
        author=args.author,
        reason=args.reason,
        skip_bad_rows=args.skip_bad_rows,
        header_row=args.header_row,
        sheet=args.sheet,
        encoding=args.encoding,
    )
    _print(f"{args.file} imported in {time.perf_counter() - t0:.1f} s", *result.lines())
    return 0


def _add_visit_setting_flags(parser: argparse.ArgumentParser) -> None:
    """The visit settings as flags (default: :class:`gridgeo.VisitSettings`)."""
    parser.add_argument(
        "--day-hours", type=float, default=None, help="走访日时长 / day length, h (8)"
    )
    parser.add_argument(
        "--visit-min", type=float, default=None, help="每户走访分钟 / minutes per visit (10)"
    )
    parser.add_argument(
        "--category-min",
        action="append",
        metavar="CATEGORY=MIN,...",
        help="按类别走访分钟 / minutes by category, e.g. commercial=15,industrial=20",
    )
    parser.add_argument(
        "--weekday", default=None, help="走访日 / visit weekday: 0-6 (Monday 0), wed, 周三 (周三)"
    )
    parser.add_argument("--start", default=None, help="出发时间 / leave the base at HH:MM (08:30)")
    parser.add_argument(
        "--mode",
        default=None,
        choices=("two_wheeler", "drive"),
        help="出行方式 / travel mode (two_wheeler)",
    )


def _add_visits_parser(sub: Any) -> None:
    """``gridgeo visits plan|day|import``."""
    raw = argparse.RawDescriptionHelpFormatter
    vis = sub.add_parser(
        "visits", help="走访“6+1” / home visits: plans, day routes, sheets, records"
    )
    vis_sub = vis.add_subparsers(dest="visits_command", required=True, parser_class=_Parser)
    pln = vis_sub.add_parser(
        "plan",
        help="走访计划 / plan the home visits of a period and write the day sheets",
        description="走访计划：每位网格员每个走访日的客户和路线，写出走访单（XLSX、HTML）。 "
        "Plan the home visits of a period per grid member and visit day, routed on the roads; "
        "print a summary and write each member's day sheets (XLSX and one-page HTML).",
        epilog="例 example:\n  gridgeo visits plan --workspace ws.gpkg --period 2027-Q1\n"
        "  gridgeo visits plan --workspace ws.gpkg --period 2027-W02 --grid T3-SUB01-01 "
        "--out visits/",
        formatter_class=raw,
    )
    pln.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    pln.add_argument(
        "--period",
        default=None,
        help="周期 / period: 2027, 2027-Q1, 2027-01 or 2027-W02 (default: next week)",
    )
    pln.add_argument("--grid", default=None, help="三级网格 / plan one tier-3 grid's members")
    pln.add_argument("--member", default=None, help="网格员 / plan one grid member")
    pln.add_argument(
        "--out",
        default=None,
        help=f"输出目录 / sheets folder (default {DEFAULT_VISITS_OUT}/PERIOD)",
    )
    _add_visit_setting_flags(pln)
    pln.set_defaults(func=_cmd_visits_plan)

    day = vis_sub.add_parser(
        "day",
        help="一天的走访路线 / one member's visit day on the roads",
        epilog="例 example:\n  gridgeo visits day --workspace ws.gpkg --member 张三 "
        "--date 2027-01-06",
        formatter_class=raw,
    )
    day.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    day.add_argument("--member", required=True, help="网格员 / grid member")
    day.add_argument("--date", required=True, help="走访日 / visit day, YYYY-MM-DD")
    day.add_argument(
        "--period",
        default=None,
        help="按此周期的计划 / the day as planned for this period (default: from the first "
        "day of the date's half-year round)",
    )
    day.add_argument("--grid", default=None, help=argparse.SUPPRESS)
    day.add_argument(
        "--out",
        default=None,
        help="输出目录 / also write the day's sheet and route map (HTML) here",
    )
    day.add_argument(
        "--map",
        action="store_true",
        help=f"路线图 / write the day's route map (offline HTML; in --out, else "
        f"{DEFAULT_VISITS_OUT}/MEMBER)",
    )
    _add_visit_setting_flags(day)
    day.set_defaults(func=_cmd_visits_day)

    imp = vis_sub.add_parser(
        "import",
        help="导入走访/回访记录 / import visit and callback records (CSV/XLSX)",
        description="导入走访、回访记录（CSV 或 XLSX，中文表头：记录编号、类型、户号、网格员、"
        "走访时间、结果…）。有错误行时不保存任何记录，并列出行号和字段。 Import home-visit and "
        "callback records (Chinese headers); a file with bad rows stores nothing and lists the "
        "rows and fields.",
        epilog="例 example:\n"
        "  gridgeo visits import 走访记录.xlsx --workspace ws.gpkg --author 张三\n"
        "  gridgeo visits import 回访.csv --workspace ws.gpkg --author 张三 --skip-bad-rows",
        formatter_class=raw,
    )
    imp.add_argument("file", help="记录文件 / the records file (.csv, .txt or .xlsx)")
    imp.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    imp.add_argument("--author", required=True, help="操作人 / who imports")
    imp.add_argument("--reason", default=None, help="原因 / why (default: the file's name)")
    imp.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="只导入正确的行 / store the good rows of a file with bad rows",
    )
    imp.add_argument("--header-row", type=_positive_int, default=None, help="表头行 / header row")
    imp.add_argument("--sheet", default=None, help="工作表 / sheet name (XLSX)")
    imp.add_argument(
        "--encoding", default=None, help="CSV 编码 / encoding (default UTF-8, then GBK)"
    )
    imp.set_defaults(func=_cmd_visits_import)


# --- help: descriptions, examples, language -----------------------------------------------

_DESCRIPTION_ZH = (
    "gridgeo：县供电公司供电服务网格化管理——三级网格、离线地址定位、30分钟抢修与10分钟缴费、\n"
    "抢修调度、选址、县域地图。"
)
_DESCRIPTION_EN = (
    "gridgeo: grid-based supply service for a county power-supply company: three-tier grids,\n"
    "offline address geocoding, 30-minute repair and 10-minute payment reach, dispatch,\n"
    "siting, the county map."
)
_WS = "ws.gpkg"
# the Chinese of the commands whose help was English only, by command path
_ZH_HELP: dict[tuple[str, ...], str] = {
    ("roads",): "道路网",
    ("roads", "import"): "导入各出行方式的道路（OSM 或道路图层）",
    ("convert",): "坐标转换（GCJ-02/BD-09 → WGS84）",
    ("grids",): "三级服务网格",
    ("grids", "build"): "建三级网格并保存为新版本",
    ("grids", "validate"): "检查网格拓扑",
    ("grids", "edit"): "网格调整预览，--save 保存为新版本",
    ("grids", "edit", "move"): "把村移到另一个三级网格",
    ("grids", "edit", "redraw"): "把所画多边形内的村划入某网格",
    ("grids", "edit", "split"): "把三级网格拆成均衡的几份",
    ("grids", "edit", "merge"): "合并三级网格",
    ("grids", "edit", "reassign"): "供电网格换变电站",
    ("grids", "roster"): "导入网格人员名册",
    ("grids", "history"): "网格的历史版本（北京时间）",
    ("grids", "restore"): "恢复旧版本（另存为新版本）",
    ("customers", "import"): "客户档案导入：地址定位并归入网格",
    ("customers", "export"): "按网格导出客户档案（CSV、XLSX）",
    ("workspace",): "县工作区（GeoPackage）",
    ("workspace", "init"): "用县公司自己的文件建工作区",
    ("sample",): "生成的样例县",
}
# commands whose help put the Chinese after the English: the help, Chinese first
_HELP_TEXT: dict[tuple[str, ...], str] = {
    ("customers",): "客户资料档案 / the customer archive: import, export",
    ("dispatch",): "抢修调度 / the nearest repair station for a fault, by travel time",
    ("orders",): "工单 / work orders: import, create, update, list, show",
    ("plan",): "选址 / site new repair stations or payment points",
}
# one example (or a few) per command path; the command's own epilog may have more
_EXAMPLES: dict[tuple[str, ...], str] = {
    (): "gridgeo demo --out out/demo --suggest-stations 3\n"
    "  gridgeo run --workspace out/demo/workspace.gpkg --out out/run\n"
    "  gridgeo --lang zh grids history --workspace out/demo/workspace.gpkg",
    ("demo",): "gridgeo demo --out out/demo --suggest-stations 3",
    ("run",): f"gridgeo run --workspace {_WS} --out out/run --suggest-stations 3",
    ("status",): f"gridgeo status --workspace {_WS} --out out/run",
    ("map",): f"gridgeo map --workspace {_WS} --out out/county_map.html "
    "--summary out/run/summary.json",
    ("roads",): f"gridgeo roads import jiangxi-latest.osm.pbf --workspace {_WS}",
    ("roads", "import"): f"gridgeo roads import jiangxi-latest.osm.pbf --workspace {_WS}\n"
    "  gridgeo roads import 道路.shp --datum gcj02 --out roads.gpkg",
    ("convert",): "gridgeo convert 变电站_高德.csv 变电站.csv --datum gcj02",
    ("grids",): f"gridgeo grids build --workspace {_WS} --author 张三 --reason 三级网格初建",
    ("grids", "build"): f"gridgeo grids build --workspace {_WS} --roster 名册.xlsx "
    "--author 张三 --reason 三级网格初建",
    ("grids", "validate"): f"gridgeo grids validate --workspace {_WS}",
    ("grids", "edit"): f"gridgeo grids edit move --workspace {_WS} --villages 361023100201 "
    "--to T3-SUB02-03",
    ("grids", "edit", "move"): f"gridgeo grids edit move --workspace {_WS} "
    "--villages 361023100201,361023100202 --to T3-SUB02-03 --save --author 张三 --reason 调整",
    ("grids", "edit", "redraw"): f"gridgeo grids edit redraw --workspace {_WS} "
    "--polygon 新边界.geojson --datum gcj02 --to T3-SUB02-03",
    ("grids", "edit", "split"): f"gridgeo grids edit split --workspace {_WS} "
    "--grid T3-SUB02-01 --parts 2",
    ("grids", "edit", "merge"): f"gridgeo grids edit merge --workspace {_WS} "
    "--grids T3-SUB02-01,T3-SUB02-02",
    ("grids", "edit", "reassign"): f"gridgeo grids edit reassign --workspace {_WS} "
    "--grid T2-SUB03 --substation SUB04",
    ("grids", "roster"): f"gridgeo grids roster 名册.xlsx --workspace {_WS} --author 张三 "
    "--reason 人员调整",
    ("grids", "history"): f"gridgeo grids history --workspace {_WS}",
    ("grids", "restore"): f"gridgeo grids restore --workspace {_WS} --version 2 --author 张三 "
    "--reason 撤销调整",
    ("customers",): f"gridgeo customers import 客户资料.xlsx --workspace {_WS} --author 张三 "
    "--reason 月度更新",
    ("customers", "import"): f"gridgeo customers import 客户资料.xlsx --workspace {_WS} "
    "--author 张三 --reason 月度更新\n"
    f"  gridgeo customers import 营销导出.csv --workspace {_WS} --columns 编号=customer_id "
    "--author 张三 --reason 导入",
    ("customers", "export"): f"gridgeo customers export --workspace {_WS} --out archive/ "
    "--mask-phones",
    ("workspace",): "gridgeo workspace init ws.gpkg --county 县界.geojson --county-datum gcj02 "
    "--villages 村.csv --substations 变电站.csv --author 张三 --reason 建立工作区",
    ("workspace", "init"): "gridgeo workspace init ws.gpkg --county 县界.geojson "
    "--county-datum gcj02 --villages 村.csv --substations 变电站.csv \\\n"
    "      --repair-stations 抢修站.csv --repair-stations-datum gcj02 "
    "--roads jiangxi-latest.osm.pbf --author 张三 --reason 建立工作区",
    ("dispatch",): f"gridgeo dispatch --workspace {_WS} --address 琴城镇东门村\n"
    f"  gridgeo dispatch --workspace {_WS} --point 116.53,27.21 --datum gcj02 "
    "--create-order GD2026110301 --author 李四",
    ("stations",): f"gridgeo stations status --workspace {_WS}",
    ("orders",): f"gridgeo orders list --workspace {_WS} --month 2026-11",
    ("users",): f"gridgeo users list --workspace {_WS}",
    ("users", "list"): f"gridgeo users list --workspace {_WS}",
    ("users", "disable"): f"gridgeo users disable zhangsan --workspace {_WS}",
    ("users", "reset"): f"gridgeo users reset zhangsan --workspace {_WS}",
    ("users", "token"): f"gridgeo users token zhangsan --days 30 --workspace {_WS}",
    ("visits",): f"gridgeo visits plan --workspace {_WS} --period 2027-Q1",
    ("serve",): f"gridgeo serve --workspace {_WS} --port 8000",
    ("plan",): f"gridgeo plan --workspace {_WS} --k 2 --service repair\n"
    f"  gridgeo plan --workspace {_WS} --k 3 --service payment --candidates 候选点.csv "
    "--datum gcj02",
    ("stars",): f"gridgeo stars --workspace {_WS} --week 2026-W48",
    ("watch",): f"gridgeo watch --workspace {_WS} --month 2026-11",
    ("report",): f"gridgeo report month 2026-11 --workspace {_WS} --out out/report",
    ("report", "month"): f"gridgeo report month 2026-11 --workspace {_WS} --out out/report",
    ("sample",): "gridgeo sample generate --out sample/ --customers 5000",
    ("sample", "generate"): "gridgeo sample generate --out sample/ --customers 5000\n"
    "  gridgeo sample generate --county 黎川县 --out lichuan/ --company-files",
}
# help of the options that have none, by their dest
_OPTION_HELP = {
    "workspace": "工作区 / workspace GeoPackage",
    "author": "操作人 / who makes the change (recorded with the version)",
    "reason": "原因 / why (recorded with the version)",
    "out": "输出 / output folder or file",
    "seed": "随机种子 / seed: the same seed gives the same result",
    "layer": "图层 / layer of the file",
    "roads_layer": "图层 / layer of the roads file",
    "encoding": "文本编码 / text encoding of a CSV (default: UTF-8, then GBK)",
    "version": "网格版本 / grids version (see `gridgeo grids history`)",
    "file": "文件 / the file to read",
    "order_id": "工单编号 / order number",
    "grid": "网格 / grid id",
    "parts": "份数 / number of parts (2)",
    "substation": "变电站 / substation id",
    "datum": "坐标系 / datum of the coordinates (Amap/WeChat: gcj02, Baidu: bd09)",
    "service": "选址对象 / what to site: repair (抢修站) or payment (缴费网点)",
    "method": "方法 / method",
}
_EXAMPLE_HEAD = "例 / example:"


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps one-line descriptions; keeps texts of several lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _usage_example(parser: argparse.ArgumentParser) -> str:
    """An example made from a command's required arguments, for a command without one."""
    words = [parser.prog]
    for action in parser._actions:
        if action.option_strings and action.required:
            words += [action.option_strings[-1], str(action.metavar or action.dest.upper())]
        elif not action.option_strings and action.nargs != argparse.PARSER:
            words.append(str(action.metavar or action.dest.upper()))
    return " ".join(words)


def _finish_help(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give every command of the tree a bilingual description, an example (``例 / example:``)
    and help for its common options, and keep one language of them with ``--lang``."""
    from gridgeo.cliutil import has_cjk, language, localize

    lang = language()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                sub_path = (*path, choice.dest)
                zh = _ZH_HELP.get(sub_path)
                choice.help = _HELP_TEXT.get(sub_path, choice.help)
                if zh and not has_cjk(choice.help or ""):
                    choice.help = f"{zh} / {choice.help}" if choice.help else zh
                sub = action.choices[choice.dest]
                if not sub.description:
                    sub.description = choice.help
                _finish_help(sub, sub_path)
                if choice.help and choice.help is not argparse.SUPPRESS:
                    choice.help = localize(choice.help, whole=True)
        elif action.help is None and action.dest in _OPTION_HELP:
            action.help = _OPTION_HELP[action.dest]
        if action.help and action.help is not argparse.SUPPRESS and lang != "both":
            action.help = localize(action.help, whole=True)
    epilog = (parser.epilog or "").replace("例 example:", _EXAMPLE_HEAD)
    if _EXAMPLE_HEAD not in epilog:
        example = _EXAMPLES.get(path) or _usage_example(parser)
        epilog = f"{epilog}\n\n" if epilog else ""
        epilog += f"{_EXAMPLE_HEAD}\n  {example}"
    if lang != "both":
        epilog = "\n".join(localize(line, whole=True) for line in epilog.splitlines())
        if parser.description:
            parser.description = "\n".join(
                localize(line, whole=True) for line in parser.description.splitlines()
            )
    parser.epilog = epilog
    parser.formatter_class = _HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    from gridgeo import sample
    from gridgeo.cliutil import choose
    from gridgeo.workspace import OUTSIDE_TOLERANCE_M

    parser = _Parser(
        prog="gridgeo",
        description=choose(_DESCRIPTION_ZH, _DESCRIPTION_EN, sep="\n"),
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="详细日志 / log progress to stderr"
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help="输出语言 / language of help and messages: both = 中文和English (default), "
        "zh = 中文, en = English",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="建样例工作区并运行主任务 / make the sample county's workspace, then `gridgeo run` it",
    )
    demo.add_argument(
        "--out", default=str(DEFAULT_DEMO_OUT), help="输出目录 / output folder (workspace too)"
    )
    demo.add_argument(
        "--sample",
        default=None,
        help="样例目录 / sample folder laid out as sample_data/nanfeng (default: bundled Nanfeng)",
    )
    demo.add_argument(
        "--suggest-stations",
        type=int,
        default=0,
        metavar="K",
        help="地图上建议新增K处抢修站 / draw K suggested new repair stations on the map (0: none)",
    )
    demo.set_defaults(func=_cmd_demo)

    run_help = (
        "主任务 / the main job on a workspace: customer access, KPIs per tier, repair bands, "
        "Chinese summary, archive export, offline map (reuses what did not change)"
    )
    run = sub.add_parser("run", help=run_help, description=run_help)
    run.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    run.add_argument("--out", required=True, help="输出目录 / output folder")
    run.add_argument(
        "--suggest-stations",
        type=int,
        default=0,
        metavar="K",
        help="地图上建议新增K处抢修站 / draw K suggested new repair stations on the map (0: none)",
    )
    run.add_argument("--mask-phones", dest="mask_phones", action="store_true", help=_MASK_HELP)
    run.add_argument("--excel-csv", dest="excel_csv", action="store_true", help=_EXCEL_CSV_HELP)
    run.set_defaults(func=_cmd_run)

    status_help = (
        "输出是否过期 / whether the outputs of `gridgeo run` (archive, map, summary, service "
        "reports) are as current as the workspace, and what changed"
    )
    sts_ = sub.add_parser("status", help=status_help, description=status_help)
    sts_.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    sts_.add_argument(
        "--out",
        default=None,
        help="输出目录 / output folder of `gridgeo run` (default: the workspace's folder)",
    )
    sts_.set_defaults(func=_cmd_status)

    map_help = (
        "县域地图 / write the offline county map (one HTML file) of a workspace, as `gridgeo "
        "run` writes it"
    )
    mp = sub.add_parser("map", help=map_help, description=map_help)
    mp.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    mp.add_argument(
        "--out",
        default=None,
        help="地图文件 / the HTML file (default: county_map.html beside the workspace)",
    )
    mp.add_argument(
        "--summary",
        default=None,
        help="关键指标 / the summary.json of `gridgeo run` for the key figures (default: none)",
    )
    mp.add_argument(
        "--suggest-stations",
        type=int,
        default=0,
        metavar="K",
        help="地图上建议新增K处抢修站 / draw K suggested new repair stations on the map (0: none)",
    )
    mp.add_argument(
        "--png",
        default=None,
        help="也画手机图片 / also draw the map as a PNG picture for phones (WeChat), this file",
    )
    mp.add_argument(
        "--pdf",
        default=None,
        help="也画A4打印版 / also draw the map as an A4 landscape PDF, this file",
    )
    mp.set_defaults(func=_cmd_map)

    roads = sub.add_parser("roads", help="road networks")
    roads_sub = roads.add_subparsers(dest="roads_command", required=True, parser_class=_Parser)
    imp = roads_sub.add_parser(
        "import",
        help="import the roads of every mode from an OSM extract (.osm.pbf, .osm, .osm.gz) or "
        "a roads layer",
    )
    imp.add_argument(
        "file",
        help="OSM extract, or a roads layer (GeoPackage, Shapefile, GeoJSON; any CRS) with an "
        "OSM `highway` column or a Chinese road class column (road_class/道路等级: 国道, 省道, "
        "县道, 乡道, 村道, ... or G/S/X/Y/C/Z route numbers)",
    )
    imp.add_argument("--layer", default=None, help="layer of a roads file")
    imp.add_argument(
        "--datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of a roads layer's coordinates (Amap/Tencent: gcj02, Baidu: bd09)",
    )
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

    conv = sub.add_parser(
        "convert",
        help="convert a vector file or a CSV/XLSX with lon/lat from GCJ-02/BD-09 to WGS84",
    )
    conv.add_argument(
        "src", help="GeoPackage, GeoJSON, Shapefile, or CSV/XLSX with lon/lat (经度/纬度) columns"
    )
    conv.add_argument(
        "dst",
        help="output: .gpkg, .geojson, or .csv (the table with its lon/lat columns converted)",
    )
    conv.add_argument(
        "--datum",
        required=True,
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the input coordinates (Amap/Tencent: gcj02, Baidu: bd09)",
    )
    conv.add_argument("--layer", default=None, help="layer of a vector file")
    conv.add_argument("--out-layer", default=None, help="layer name in the output GeoPackage")
    conv.add_argument(
        "--crs",
        default=None,
        metavar="EPSG:CODE",
        help="CRS of a vector file that does not state one (a Shapefile without .prj, a "
        "GeoJSON in metres without a `crs` member), e.g. EPSG:4548",
    )
    conv.add_argument(
        "--columns",
        action="append",
        metavar="lon=COLUMN,lat=COLUMN",
        help="a table's lon/lat column names when they are not lon/lat, lng, 经度/纬度, "
        "e.g. --columns lon=东经,lat=北纬",
    )
    conv.set_defaults(func=_cmd_convert)

    grids = sub.add_parser("grids", help="three-tier service grids in a workspace")
    grids_sub = grids.add_subparsers(dest="grids_command", required=True, parser_class=_Parser)
    build = grids_sub.add_parser("build", help="build the three tiers and save them as a version")
    build.add_argument("--workspace", required=True, help="workspace GeoPackage")
    build.add_argument(
        "--workload",
        default=None,
        help="CSV/XLSX with village_code, customers (and hv_customers, vulnerable); without "
        "it the customers already imported are counted per village, and without those every "
        "village weighs the same",
    )
    build.add_argument(
        "--method",
        default="network",
        choices=("network", "voronoi"),
        help="network: each village goes to the substation that reaches it first by road "
        "(needs the workspace's roads); voronoi: to the substation nearest in straight line, "
        "no roads needed. Either way whole villages are assigned (a Voronoi of the substations "
        "evaluated village by village), not a plain Voronoi split of the county",
    )
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
    rd.add_argument(
        "--crs",
        default=None,
        metavar="EPSG:CODE",
        help="CRS of a polygon file that does not state one (a Shapefile without .prj, a "
        "GeoJSON in metres without a `crs` member), e.g. EPSG:4548",
    )
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
    cimp.add_argument(
        "file",
        help="CSV/XLSX from the marketing system: 户号, 户名, 用电地址, 联系电话, 用电类别, "
        "电压等级, 经度, 纬度, 坐标系, ... (or customer_id, address, phone, ...; see README "
        "'Customer files')",
    )
    cimp.add_argument("--workspace", required=True)
    cimp.add_argument("--replace", action="store_true", help="the file is the complete archive")
    cimp.add_argument("--encoding", default=None, help="text encoding (default: UTF-8 or GBK)")
    cimp.add_argument(
        "--columns",
        action="append",
        metavar="列名=FIELD,...",
        help="the file's own column names, e.g. --columns 编号=customer_id,住址=address "
        "(either order; fields: customer_id, name, address, phone, category, voltage_class, "
        "vulnerable, gps_lon, gps_lat, gps_datum)",
    )
    cimp.add_argument(
        "--header-row",
        type=_positive_int,
        default=None,
        metavar="N",
        help="表头所在行 / the header's row number as Excel shows it (default: found)",
    )
    cimp.add_argument(
        "--sheet", default=None, help="工作表 / the sheet to read (default: the one with data)"
    )
    cimp.add_argument(
        "--all-sheets", action="store_true", help="read every sheet with the customer header"
    )
    cimp.add_argument("--author", required=True)
    cimp.add_argument("--reason", required=True)
    cimp.set_defaults(func=_cmd_customers_import)
    cexp = cust_sub.add_parser("export", help="write the archive per grid (CSV, XLSX)")
    cexp.add_argument("--workspace", required=True)
    cexp.add_argument("--out", required=True)
    cexp.add_argument("--mask-phones", dest="mask_phones", action="store_true", help=_MASK_HELP)
    cexp.add_argument("--excel-csv", dest="excel_csv", action="store_true", help=_EXCEL_CSV_HELP)
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
        help="datum of the point files (towns, villages, substations, repair stations, payment "
        "points); --<file>-datum overrides it for one file",
    )
    per_file = init.add_argument_group(
        "per-file datum, CRS and columns 逐个文件的坐标系与列名",
        "OSM substations are WGS84 while Amap picks are GCJ-02: give each file its own datum, "
        "e.g. --substations-datum wgs84 --repair-stations-datum gcj02",
    )
    for name in _WORKSPACE_INPUTS:
        if name == "county":  # --county-datum above
            continue
        flag = name.replace("_", "-")
        per_file.add_argument(
            f"--{flag}-datum",
            dest=f"{name}_datum",
            default=None,
            choices=("wgs84", "gcj02", "bd09"),
            help=f"datum of the --{flag} file (default: --datum)",
        )
    per_file.add_argument(
        "--crs",
        default=None,
        metavar="EPSG:CODE",
        help="CRS of the vector files that need one: a Shapefile without .prj, a GeoJSON in "
        "metres without a `crs` member (files in lon/lat keep it), e.g. EPSG:4548; "
        "--<file>-crs gives one file's CRS (--county-crs, --substations-crs, ...)",
    )
    for name in _WORKSPACE_INPUTS:
        flag = name.replace("_", "-")
        per_file.add_argument(
            f"--{flag}-crs",
            dest=f"{name}_crs",
            default=None,
            metavar="EPSG:CODE",
            help=argparse.SUPPRESS,
        )
    per_file.add_argument(
        "--columns",
        action="append",
        metavar="FILE:NAME=COLUMN,...",
        help="the file's own column names, e.g. --columns substations:substation_id=编号 "
        "--columns villages:village_code=CODE,village=NAME (repeatable; FILE is one of county, "
        "towns, villages, substations, repair_stations, payment_points). Accepted without it: "
        "sub_id/变电站编号 (substation_id), stat_id (station_id), pt_id (point_id), "
        "vill_code/村编码 (village_code), vill_name/村名 (village), town_code/乡镇编码, "
        "town_name/乡镇 (town), 经度/纬度 or lng/lat in tables",
    )
    init.add_argument(
        "--roads",
        help="OSM extract (clipped to the county) or a roads layer (any CRS; OSM `highway` or "
        "Chinese road classes 国道/省道/县道/乡道/村道, G/S/X/Y/C/Z)",
    )
    init.add_argument("--roads-layer", default=None)
    init.add_argument(
        "--roads-datum",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of a roads layer's coordinates (Amap/Tencent: gcj02, Baidu: bd09)",
    )
    init.add_argument(
        "--outside-tolerance-m",
        type=float,
        default=OUTSIDE_TOLERANCE_M,
        metavar="M",
        help="points up to M metres outside the county are kept and listed; farther ones are "
        f"refused (default {OUTSIDE_TOLERANCE_M:g})",
    )
    init.add_argument(
        "--allow-outside",
        action="store_true",
        help="keep points farther outside the county too, listed in a table",
    )
    init.add_argument(
        "--overwrite", action="store_true", help="replace the workspace file if it exists"
    )
    init.add_argument(
        "--county-seat",
        default=None,
        metavar="TOWN",
        help="县城所在乡镇 / the township that 县城, 城关 and 城区 mean in addresses "
        "(default: the one named 城关, else the one with the most 社区)",
    )
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
    dsp.add_argument(
        "--create-order",
        metavar="ORDER_ID",
        default=None,
        help="新建工单 create a work order with the recommended station and its ETA",
    )
    dsp.add_argument("--reported-at", default=None, help="受理时间 of the order (default now)")
    dsp.add_argument("--author", default=None, help="who dispatches (with --create-order)")
    dsp.add_argument(
        "--use-board",
        action="store_true",
        help="也不派看板上忙碌或外出的站 / also leave out the stations the board marks busy or "
        "out (gridgeo stations status)",
    )
    dsp.set_defaults(func=_cmd_dispatch)

    stn = sub.add_parser("stations", help="抢修站 repair stations: the availability board")
    stn_sub = stn.add_subparsers(dest="stations_command", required=True, parser_class=_Parser)
    status_help = (
        "抢修站状态看板 / the stations' availability (在岗 on_duty, 忙碌 busy, 外出 out); "
        "--set changes one station"
    )
    sts = stn_sub.add_parser(
        "status",
        help=status_help,
        description=status_help,
        epilog="例 example:\n  gridgeo stations status --workspace ws.gpkg\n"
        "  gridgeo stations status --set RS02 busy --author 张三 --note 抢修中 "
        "--workspace ws.gpkg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sts.add_argument("--workspace", required=True, help="工作区 / workspace GeoPackage")
    sts.add_argument(
        "--set",
        nargs=2,
        metavar=("STATION", "STATUS"),
        help="设置一个站的状态 / set a station's status: on_duty 在岗, busy 忙碌, out 外出",
    )
    sts.add_argument("--author", default=None, help="设置人 who sets it (with --set)")
    sts.add_argument("--note", default=None, help="备注 a short note, e.g. 抢修中 (with --set)")
    sts.set_defaults(func=_cmd_stations_status)

    _add_orders_parser(sub)
    _add_users_parser(sub)
    _add_visits_parser(sub)

    srv_help = (
        "启动网页服务 / start the web app on a workspace (the demo's by default, made if "
        "missing); the first start makes one user per role and prints their passwords once"
    )
    srv = sub.add_parser("serve", help=srv_help, description=srv_help)
    srv.add_argument(
        "--workspace",
        default=None,
        help=f"工作区 / workspace GeoPackage (default {DEFAULT_DEMO_OUT / 'workspace.gpkg'})",
    )
    srv.add_argument("--host", default="127.0.0.1", help="监听地址 / address (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="端口 / port (default 8000)")
    srv.add_argument(
        "--workers", type=_positive_int, default=1, help="工作进程数 / worker processes (default 1)"
    )
    srv.set_defaults(func=_cmd_serve)

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

    stars_help = (
        "每周服务之星：网格员按工单记录计分排名，逐项说明得分 / the week's service stars: grid "
        "members ranked by a score from the work orders, each score explained line by line"
    )
    stars = sub.add_parser("stars", help=stars_help, description=stars_help)
    stars.add_argument("--workspace", required=True, help="工作区 / workspace (GeoPackage)")
    stars.add_argument(
        "--week",
        default=None,
        help="周次 / ISO week, e.g. 2026-W48 (default: the last full week of the orders)",
    )
    stars.add_argument(
        "--top",
        type=int,
        default=10,
        help="列出并说明前 N 名 / list and explain the first N (default 10, 0: everybody)",
    )
    stars.set_defaults(func=_cmd_stars)

    watch_help = (
        "重点巡查：预测可达性弱且故障多或到达慢的网格和村，及各网格的季节故障高峰 / watch "
        "list: grids and villages with weak predicted reach and many faults or slow arrivals, "
        "and each grid's seasonal fault peaks"
    )
    watch = sub.add_parser("watch", help=watch_help, description=watch_help)
    watch.add_argument("--workspace", required=True, help="工作区 / workspace (GeoPackage)")
    watch.add_argument(
        "--month", default=None, help="月份 / month, e.g. 2026-11 (default: every order)"
    )
    watch.set_defaults(func=_cmd_watch)

    rep = sub.add_parser("report", help="报表 / reports from the work orders")
    rep_sub = rep.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    month_help = (
        "月度考核：各层级指标对照目标和上月（XLSX 与一页摘要）/ the monthly evaluation: each "
        "tier's figures against their targets and last month (XLSX and a one-page summary)"
    )
    rmonth = rep_sub.add_parser("month", help=month_help, description=month_help)
    rmonth.add_argument("month", help="月份 / month, e.g. 2026-11")
    rmonth.add_argument("--workspace", required=True, help="工作区 / workspace (GeoPackage)")
    rmonth.add_argument("--out", required=True, help="输出目录 / output folder")
    rmonth.set_defaults(func=_cmd_report_month)
    lead_help = (
        "月度供电服务报告（PDF 与 XLSX，给县公司领导）：本月指标、预测服务水平、趋势、"
        "最差网格和村、服务之星、重点巡查、选址建议 / the monthly report for leadership "
        "(PDF and XLSX)"
    )
    rlead = rep_sub.add_parser(
        "leadership",
        help=lead_help,
        description=lead_help,
        epilog=(
            "例 / example:\n  gridgeo report leadership 2026-11 --workspace "
            "out/demo/workspace.gpkg --out out/report --run out/demo"
        ),
    )
    rlead.add_argument("month", help="月份 / month, e.g. 2026-11")
    rlead.add_argument("--workspace", required=True, help="工作区 / workspace (GeoPackage)")
    rlead.add_argument("--out", required=True, help="输出目录 / output folder")
    rlead.add_argument(
        "--run",
        default=None,
        help="gridgeo run 的输出目录（沿用其地图上的选址建议）/ the output folder of "
        "`gridgeo run` (its map's suggested stations are suggested again)",
    )
    rlead.add_argument(
        "--suggest-stations",
        type=int,
        default=None,
        metavar="K",
        help="建议新增K处抢修站（默认沿用 --run 的，0 为不建议）/ suggest K new repair "
        "stations (default as the --run; 0: none)",
    )
    rlead.set_defaults(func=_cmd_report_leadership)

    smp = sub.add_parser("sample", help="the generated sample county")
    smp_sub = smp.add_subparsers(dest="sample_command", required=True, parser_class=_Parser)
    gen = smp_sub.add_parser(
        "generate",
        help="生成样例县 / generate a sample county (deterministic)",
        description=(
            "生成样例县（确定性）/ generate a sample county (deterministic): 南丰县 by default, "
            "or any county of the boundary file with --county"
        ),
    )
    gen.add_argument(
        "--county",
        default=None,
        help=(
            "县的行政区划代码或名称 / the county's adcode or name, e.g. 361022 or 黎川县 "
            "(default: 南丰县 361023)"
        ),
    )
    gen.add_argument(
        "--boundary",
        default=None,
        help=(
            "县界文件（含 name、adcode 列）/ county boundary file with columns name, adcode "
            "(default: the Jiangxi counties in sample_data/jiangxi)"
        ),
    )
    gen.add_argument(
        "--boundary-datum",
        default="gcj02",
        choices=("gcj02", "wgs84", "bd09"),
        help="县界坐标系 / datum of the boundary file (default gcj02, like Amap)",
    )
    gen.add_argument(
        "--company-files",
        action="store_true",
        help=(
            "另写县公司格式的文件到 OUT/company_files / also write the files as a county "
            "company has them to OUT/company_files (for trying `workspace init`)"
        ),
    )
    gen.add_argument(
        "--marketing-export",
        action="store_true",
        help=(
            "另写营销系统格式的客户资料到 OUT/marketing_export（GBK CSV、两个工作表的 XLSX、"
            "答案文件）/ also write the customer file as the marketing system exports it "
            "(GBK CSV, two-sheet XLSX, truth file) to OUT/marketing_export"
        ),
    )
    gen.add_argument(
        "--seed",
        type=int,
        default=sample.DEFAULT_SEED,
        help="随机种子 / seed: the same seed gives byte-identical files",
    )
    gen.add_argument(
        "--customers",
        type=_positive_int,
        default=30_000,
        help="客户数 / number of customers (default 30000)",
    )
    gen.add_argument(
        "--road-detail",
        type=float,
        default=sample.DEFAULT_ROAD_DETAIL,
        help="村内道路密度 / village lane density (150 gives about 10^6 road nodes)",
    )
    gen.add_argument("--out", required=True, help="输出文件夹 / output folder")
    gen.set_defaults(func=_cmd_sample_generate)
    _finish_help(parser)
    return parser


# our packages: their warnings are for the user; other libraries' warnings go to the log
_OWN_DIRS = tuple(
    str(Path(__file__).resolve().parent.parent / name) + os.sep
    for name in ("gridgeo", "maps", "api")
)
# loggers that say too much at INFO for `gridgeo -v` (pyogrio: a line per layer written)
_QUIET_LOGGERS = ("pyogrio", "fiona", "matplotlib", "PIL", "fontTools", "urllib3", "asyncio")


def _show_warning(
    message: Warning | str,
    category: type[Warning] = UserWarning,
    filename: str = "",
    *_: Any,
    **__: Any,
) -> None:
    """A warning of gridgeo as one line on stderr, like the errors (not Python's file:line
    and source); another library's warning (pandas, shapely, ...) is logged at INFO (shown
    with ``-v``), never printed raw."""
    from gridgeo.cliutil import localize

    own = str(Path(filename).resolve()).startswith(_OWN_DIRS) if filename else True
    if own and issubclass(category, UserWarning):
        print(f"gridgeo: warning: {localize(str(message))}", file=sys.stderr)
    else:
        logger.info("%s from %s: %s", category.__name__, Path(filename).name, message)


@contextlib.contextmanager
def _warnings_as_lines() -> Any:
    """Every warning inside goes through :func:`_show_warning` (also under ``python -W
    error``: the command line decides how a warning reaches the user)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        yield


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from gridgeo.cliutil import localize

    try:
        with _warnings_as_lines():
            return func(args)
    except GridGeoError as exc:
        print(f"gridgeo: error: {localize(str(exc))}", file=sys.stderr)
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
    from gridgeo.cliutil import set_language

    with _warnings_as_lines():
        set_language(_language_of(argv))  # before the parser: its help is in that language
        parser = build_parser()
        args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    return _run(args.func, args)


def _language_of(argv: Sequence[str] | None) -> str:
    """The ``--lang`` of the command line (checked again by the full parser)."""
    pre = _Parser(prog="gridgeo", add_help=False)
    pre.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    known, _ = pre.parse_known_args(argv)
    return str(known.lang)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
