"""Build the county map of a workspace: ``python -m maps WORKSPACE.gpkg [--out MAP.html]``.

The map is one self-contained HTML file that opens with no internet (for mail or the
intranet). ``gridgeo run`` (and ``gridgeo demo``) writes it with :func:`build_map`; this
command draws it again from a workspace alone. ``--suggest-stations K`` adds the
planner's siting suggestion: the K villages where new repair stations bring the most customers
within 30-minute repair (:func:`gridgeo.site_facilities`, the villages as candidates, the
existing repair stations counted first). Errors are one line on stderr and exit status 2, as
in the ``gridgeo`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

import gridgeo
from maps.overview import county_overview_map, save_offline
from maps.places import read_map_places

EXIT_USER_ERROR = 2
DEFAULT_SUGGEST_STATIONS = 0
# the workspace's villages are the candidate sites: their id and name columns
VILLAGE_ID_COLUMN = "village_code"
VILLAGE_NAME_COLUMN = "village"


def _check_suggest_stations(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        msg = (
            f"`--suggest-stations` must be a whole number >= 0 (new repair stations to "
            f"suggest; 0 for none), got {k!r}"
        )
        raise gridgeo.InputError(msg)
    return k


def suggest_repair_stations(
    store: gridgeo.GeoPackageStore,
    customers: gpd.GeoDataFrame | None,
    repair_stations: gpd.GeoDataFrame,
    k: int,
) -> tuple[gpd.GeoDataFrame, gridgeo.SitingResult]:
    """The ``k`` best villages for new repair stations, as the map's ``suggested_sites``.

    Returns the sites (``rank``, ``name``, ``village_code``, ``gain_customers``,
    ``covered_share``, the village's point) and the :class:`gridgeo.SitingResult`.
    """
    if customers is None:
        msg = (
            f"workspace {str(store.path)!r} has no `customers` layer; `--suggest-stations` "
            "needs the customers to cover: import the customer archive first, or leave the "
            "option out"
        )
        raise gridgeo.NotFoundError(msg)
    villages = store.read("villages")
    if k > len(villages):
        msg = (
            f"`--suggest-stations` {k} is more than the {len(villages)} villages of the "
            f"workspace (the candidate sites); pass at most {len(villages)}"
        )
        raise gridgeo.InputError(msg)
    engine = gridgeo.read_reach_engine(store, mode="drive")
    result = gridgeo.site_facilities(
        engine,
        customers,
        villages,
        service="repair",
        existing=repair_stations,
        k=k,
        id_column=VILLAGE_ID_COLUMN,
    )
    picks = result.picks
    chosen = villages.loc[picks["candidate"]]
    name_column = VILLAGE_NAME_COLUMN if VILLAGE_NAME_COLUMN in chosen else VILLAGE_ID_COLUMN
    sites = gpd.GeoDataFrame(
        {
            "rank": picks.index.to_numpy(),
            "name": chosen[name_column].to_numpy(),
            VILLAGE_ID_COLUMN: picks["site_id"].to_numpy(),
            "gain_customers": picks["gain_customers"].to_numpy(),
            "covered_share": picks["covered_share"].to_numpy(),
        },
        geometry=chosen.geometry.to_numpy(),
        crs=villages.crs,
    )
    return sites, result


def _read_summary(summary: Path | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if summary is None or isinstance(summary, Mapping):
        return summary
    path = Path(summary)
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = (
            f"`--summary` {str(path)!r} cannot be read as JSON ({exc.__class__.__name__}); "
            "pass the summary.json that `gridgeo run` wrote, or leave the option out"
        )
        raise gridgeo.InputError(msg) from exc
    return figures


def build_map(
    workspace: Path,
    out: Path,
    *,
    summary: Path | Mapping[str, Any] | None = None,
    suggest_stations: int = DEFAULT_SUGGEST_STATIONS,
) -> Path:
    """Read a workspace's layers and write its offline county map to ``out``.

    Parameters
    ----------
    workspace
        The workspace GeoPackage.
    out
        The HTML file to write.
    summary
        The key figures: ``summary.json`` of a run, or its content
        (:attr:`gridgeo.run.RunResult.summary`; ``gridgeo run`` passes it).
    suggest_stations
        > 0 draws that many suggested new repair stations (see the module).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    k = _check_suggest_stations(suggest_stations)
    store = gridgeo.GeoPackageStore.open(workspace)
    layers = store.layers()
    customers = access = kpis = counts = None
    if "customers" in layers:
        counts = gridgeo.count_grid_customers(store)
        if gridgeo.ACCESS_LAYER in layers:
            customers, access = gridgeo.read_access(store)
            kpis = gridgeo.reach_kpis(access, customers)
        elif k:
            customers = store.read("customers")
    repair_stations = store.read("repair_stations")
    suggested = siting = None
    if k:
        suggested, siting = suggest_repair_stations(store, customers, repair_stations, k)
    isochrones = None
    if "repair_isochrones" in gridgeo.list_layers(workspace):
        isochrones = gridgeo.read_layer(workspace, layer="repair_isochrones")
    figures = _read_summary(summary)
    if access is not None and customers is not None and VILLAGE_ID_COLUMN in customers:
        # the gaps are counted by the village each customer was placed in
        access = access.assign(**{VILLAGE_ID_COLUMN: customers[VILLAGE_ID_COLUMN].to_numpy()})
    m = county_overview_map(
        county=store.read("county"),
        grids=store.read("grids"),
        substations=store.read("substations"),
        repair_stations=repair_stations,
        payment_points=store.read("payment_points"),
        access=access,
        isochrones=isochrones,
        figures=figures,
        kpis=kpis,
        customer_counts=counts,
        suggested_sites=suggested,
        siting=siting,
        places=read_map_places(store),
    )
    return save_offline(m, out)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"expected a whole number >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, like the other errors."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USER_ERROR, f"maps: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m maps", description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path, help="workspace GeoPackage")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: beside it)")
    parser.add_argument("--summary", type=Path, default=None, help="summary.json of `gridgeo run`")
    parser.add_argument(
        "--suggest-stations",
        type=_count,
        default=DEFAULT_SUGGEST_STATIONS,
        metavar="K",
        help="draw the K villages best suited for new repair stations (default 0: none)",
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=None,
        help="也画成图片 / also draw the map as a PNG for phones (1600×1131 px), e.g. map.png",
    )
    parser.add_argument(
        "--pdf",
        type=Path,
        default=None,
        help="也画成A4横向PDF / also draw the map as an A4 landscape PDF, e.g. map.pdf",
    )
    args = parser.parse_args(argv)
    out = args.out or args.workspace.with_name("county_map.html")
    try:
        path = build_map(
            args.workspace, out, summary=args.summary, suggest_stations=args.suggest_stations
        )
        pictures: tuple[Path | None, ...] = ()
        if args.png is not None or args.pdf is not None:
            # matplotlib only when a picture is asked for
            from maps.picture import county_picture

            pictures = county_picture(
                args.workspace,
                args.png,
                args.pdf,
                summary=_read_summary(args.summary),
                suggest_stations=args.suggest_stations,
            )
    except gridgeo.GridGeoError as exc:
        print(f"maps: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(f"county map (offline HTML, {path.stat().st_size / 1e6:.1f} MB): {path}")
    for picture in pictures:
        if picture is not None:
            print(f"county map picture / 地图图片: {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
