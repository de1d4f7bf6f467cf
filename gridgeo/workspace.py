"""A county workspace: the data model's layers in one versioned store.

A workspace is what a county company works in: one GeoPackage (the embedded
default store, :class:`~gridgeo.store.GeoPackageStore`) holding the layers of
the data model. The layers people edit are versioned, each with its key:

=================  ==================
layer              key
=================  ==================
``county``         ``adcode``
``towns``          ``town_code``
``villages``       ``village_code``
``substations``    ``substation_id``
``repair_stations`` ``station_id``
``payment_points`` ``point_id``
``grids``          ``grid_id``
=================  ==================

The road network is reference data imported from OSM or a roads file, not
edited in gridgeo: it is kept as a plain GeoPackage layer ``roads`` beside the
versioned ones and turned into a graph with :func:`read_road_graph`.

This module joins the pieces (store, network, grids, roster) into the jobs
the CLI and the API run; the analysis itself lives in those modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd

from gridgeo import geocode as _geocode
from gridgeo import grids as _grids
from gridgeo import io as _io
from gridgeo import network as _network
from gridgeo import reach as _reach
from gridgeo.errors import InputError, MissingColumnError, NotFoundError
from gridgeo.roster import apply_roster
from gridgeo.store import GeoPackageStore

__all__ = [
    "ROADS_LAYER",
    "WORKSPACE_KEYS",
    "GridBuild",
    "build_grids",
    "compute_access",
    "create_workspace",
    "load_service_grids",
    "reach_kpi_function",
    "read_gazetteer",
    "read_reach_engine",
    "read_road_graph",
    "restore_grids",
    "save_grids",
    "village_workload",
]

logger = logging.getLogger(__name__)

WORKSPACE_KEYS: dict[str, str] = {
    "county": "adcode",
    "towns": "town_code",
    "villages": "village_code",
    "substations": "substation_id",
    "repair_stations": "station_id",
    "payment_points": "point_id",
    "grids": "grid_id",
}
CUSTOMERS_LAYER = "customers"
ROADS_LAYER = "roads"
REQUIRED_LAYERS = ("county", "villages", "substations")
ROSTER_COLUMNS_IN_GRIDS = ("manager", "members", "liaison", "phone", "liaison_phone")


def create_workspace(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    roads: gpd.GeoDataFrame | None = None,
    author: str,
    reason: str,
    overwrite: bool = False,
) -> GeoPackageStore:
    """Create a workspace GeoPackage from the data model's layers.

    Parameters
    ----------
    path
        The ``.gpkg`` file to create.
    layers
        ``{name: GeoDataFrame}`` for the versioned layers of
        :data:`WORKSPACE_KEYS` (``county``, ``villages`` and ``substations``
        at least). Each starts at version 1.
    roads
        The roads layer (:func:`gridgeo.network.roads_from_graph`), stored
        unversioned.
    author, reason
        Recorded with version 1.
    overwrite
        Replace an existing file.

    Returns
    -------
    GeoPackageStore
    """
    unknown = sorted(set(layers) - set(WORKSPACE_KEYS))
    if unknown:
        msg = (
            f"`layers` has unknown layer(s) {unknown!r}; a workspace holds "
            f"{sorted(WORKSPACE_KEYS)!r}."
        )
        raise InputError(msg)
    missing = [name for name in REQUIRED_LAYERS if name not in layers]
    if missing:
        msg = f"`layers` lacks {missing!r}: a workspace needs at least {list(REQUIRED_LAYERS)!r}."
        raise MissingColumnError(msg)
    store = GeoPackageStore.create(
        path,
        dict(layers),
        author=author,
        reason=reason,
        keys={name: WORKSPACE_KEYS[name] for name in layers},
        overwrite=overwrite,
    )
    if roads is not None:
        _io.write_layer(roads, store.path, ROADS_LAYER)
    return store


def _read_roads(store: GeoPackageStore) -> gpd.GeoDataFrame:
    if ROADS_LAYER not in _io.list_layers(store.path):
        msg = (
            f"workspace {str(store.path)!r} has no `roads` layer: import roads first "
            "(`gridgeo roads import FILE --out ...`) or rebuild the workspace."
        )
        raise NotFoundError(msg)
    return _io.read_layer(store.path, layer=ROADS_LAYER)


def read_road_graph(store: GeoPackageStore, *, mode: str = "drive") -> nx.MultiDiGraph:
    """The road graph of a workspace for one travel mode (see :data:`gridgeo.MODES`)."""
    return _network.graph_from_roads(_read_roads(store), mode=mode)


def read_reach_engine(store: GeoPackageStore, *, mode: str = "drive") -> _reach.ReachEngine:
    """The reach engine of a workspace's roads for one travel mode, built straight from the
    roads layer (:meth:`gridgeo.reach.ReachEngine.from_roads`: the same answers as an engine
    built from :func:`read_road_graph`, about twice as fast to build)."""
    return _reach.ReachEngine.from_roads(_read_roads(store), mode=mode)


def read_gazetteer(store: GeoPackageStore) -> _geocode.Gazetteer:
    """The address gazetteer of a workspace: its county, townships and villages."""
    layers = SimpleNamespace(
        county=store.read("county"), towns=store.read("towns"), villages=store.read("villages")
    )
    return _geocode.Gazetteer.from_sample(layers)


def village_workload(customers: pd.DataFrame) -> pd.DataFrame:
    """Count customers per village: the workload table the grid builder takes.

    Parameters
    ----------
    customers
        One row per customer with ``village_code`` (empty where the customer
        has no village), ``voltage_class`` (``HV``/``LV``) and ``vulnerable``.

    Returns
    -------
    pandas.DataFrame
        One row per village code: ``village_code``, ``customers``,
        ``hv_customers``, ``lv_customers``, ``vulnerable``.
    """
    missing = [c for c in ("village_code", "voltage_class", "vulnerable") if c not in customers]
    if missing:
        msg = f"`customers` lacks column(s) {missing!r} needed to count the workload per village."
        raise MissingColumnError(msg)
    frame = customers.loc[customers["village_code"].notna(), :]
    frame = frame.assign(
        _hv=(frame["voltage_class"].astype(str).str.upper() == "HV").astype(int),
        _vul=frame["vulnerable"].astype(bool).astype(int),
    )
    grouped = frame.groupby(frame["village_code"].astype(str), sort=True)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "hv_customers": grouped["_hv"].sum(),
            "vulnerable": grouped["_vul"].sum(),
        }
    )
    out["lv_customers"] = out["customers"] - out["hv_customers"]
    out.index.name = "village_code"
    return out.reset_index()[
        ["village_code", "customers", "hv_customers", "lv_customers", "vulnerable"]
    ]


@dataclass(frozen=True)
class GridBuild:
    """Grids built for a workspace, not yet saved."""

    service: _grids.ServiceGrids
    graph: nx.MultiDiGraph | None


def build_grids(
    store: GeoPackageStore,
    workload: pd.DataFrame,
    *,
    method: str = _grids.DEFAULT_METHOD,
    n_grids: int | Mapping[Any, int] | None = None,
    target_workload: float | None = None,
    roster: pd.DataFrame | None = None,
    seed: int = 0,
) -> GridBuild:
    """Build the three tiers from a workspace's county, villages and substations.

    The road graph (drive mode) is read from the workspace for
    ``method="network"``. With ``roster``, the people are filled in.
    """
    county = store.read("county")
    villages = store.read("villages")
    substations = store.read("substations")
    graph = read_road_graph(store) if method == "network" else None
    service = _grids.build_service_grids(
        county,
        villages,
        substations,
        workload,
        graph=graph,
        method=method,
        n_grids=n_grids,
        target_workload=target_workload,
        seed=seed,
    )
    if roster is not None:
        service = _with_grids(service, apply_roster(service.grids, roster))
    return GridBuild(service=service, graph=graph)


def _with_grids(service: _grids.ServiceGrids, grids: gpd.GeoDataFrame) -> _grids.ServiceGrids:
    return _grids.ServiceGrids(
        grids=grids, village_grid=service.village_grid, cells=service.cells, county=service.county
    )


def _grids_layer(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids as stored: the data model's columns, villages as text."""
    out = grids.copy()
    for column in ROSTER_COLUMNS_IN_GRIDS:
        if column not in out:
            out[column] = ""
    if "version" in out:
        out = out.drop(columns="version")  # the store writes it
    return out


def _carry_roster(grids: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the people of each grid id when an edit's grids do not carry them."""
    missing = [c for c in ROSTER_COLUMNS_IN_GRIDS if c not in grids.columns and c in current]
    if not missing:
        return grids
    people = pd.DataFrame(current[["grid_id", *missing]])
    merged = grids.merge(people, on="grid_id", how="left")
    return gpd.GeoDataFrame(merged, geometry=grids.geometry.name, crs=grids.crs)


def save_grids(
    store: GeoPackageStore,
    grids: gpd.GeoDataFrame,
    *,
    author: str,
    reason: str,
    expected_version: int | None = None,
) -> int:
    """Save grids as a new version of the workspace's ``grids`` layer.

    Roster columns (manager, members, liaison, phones) that ``grids`` lacks
    are carried over from the stored grids by ``grid_id``, so an edit never
    loses the people. The grids are validated (:func:`gridgeo.grids.validate_grids`) inside
    the save: a grid set with topology problems is refused and the store is
    left as it was. The customers' grid ids (``grid_t1``/``grid_t2``/``grid_t3``,
    ``grid_reason``) are recomputed for the new grids and, where any changed, saved in the
    same transaction as a new version of ``customers``: the archive of every grid and "whom
    to call" always follow the grids. The first save creates the layer.
    ``expected_version`` is the version the edit was based on; None means "the current one"
    (a fresh build, not an edit).

    Returns
    -------
    int
        The new version number.
    """
    if "grids" in store.layers():
        grids = _carry_roster(grids, store.read("grids"))
    layer = _grids_layer(grids)
    county = store.read("county")

    def validate(gdf: gpd.GeoDataFrame) -> list[str]:
        problems = _grids.validate_grids(gdf, county=county)
        return [
            f"{p['problem']} at grid {p.get('grid_id')!r}"
            + (f" / {p['other_id']!r}" if p.get("other_id") is not None else "")
            for p in problems
        ]

    problems = validate(layer)
    if "grids" not in store.layers():
        if problems:
            msg = f"grids break {len(problems)} topology rule(s): {problems[:5]!r}"
            raise InputError(msg)
        store.add_layer("grids", layer, key="grid_id", author=author, reason=reason)
        moved = _customers_in(store, layer)
        if moved is not None:  # customers imported before there were grids
            store.save("customers", moved[0], expected_version=moved[1], author=author,
                       reason=reason)  # fmt: skip
        return store.current_version("grids")
    current = store.current_version("grids")
    expected = current if expected_version is None else expected_version
    if problems:  # refused with the store's own message, nothing written
        return store.save(
            "grids", layer, expected_version=expected, author=author, reason=reason,
            validate=validate,
        )  # fmt: skip
    changes = {"grids": (layer, expected)}
    moved = _customers_in(store, layer)
    if moved is not None:
        changes[CUSTOMERS_LAYER] = moved
    return store.save_many(changes, author=author, reason=reason)["grids"]


def restore_grids(
    store: GeoPackageStore, version: int, *, expected_version: int, author: str, reason: str
) -> int:
    """Make grids ``version`` current again as a new version, with the customers' grid ids
    recomputed for them in the same transaction (see :func:`save_grids`).

    Returns
    -------
    int
        The new version number of ``grids``.
    """
    old = store.read("grids", version=version)
    changes = {"grids": (old, expected_version)}
    moved = _customers_in(store, old)
    if moved is not None:
        changes[CUSTOMERS_LAYER] = moved
    saved = store.save_many(changes, author=author, reason=reason, restored_from={"grids": version})
    return saved["grids"]


def _customers_in(
    store: GeoPackageStore, grids: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, int] | None:
    """The customers layer with its grid ids for ``grids`` and the version it was read at, or
    None when there is no customers layer or no id changes."""
    if CUSTOMERS_LAYER not in store.layers():
        return None
    version = store.current_version(CUSTOMERS_LAYER)  # first: a save in between is a conflict
    customers = store.read(CUSTOMERS_LAYER)
    assigned = _grids.assign_to_grids(customers.geometry, grids)
    same = all(
        customers[c].astype(object).where(customers[c].notna(), None).tolist()
        == assigned[c].astype(object).where(assigned[c].notna(), None).tolist()
        for c in assigned.columns
    )
    if same:
        return None
    updated = customers.copy()
    for c in assigned.columns:
        updated[c] = assigned[c].to_numpy()
    return updated, version


def load_service_grids(store: GeoPackageStore) -> tuple[_grids.ServiceGrids, int]:
    """The workspace's current grids as an editable :class:`~gridgeo.grids.ServiceGrids`.

    Village cells are recomputed from the county and the villages (the same
    cells the build used, as both are deterministic) and their counts come
    from the ``customers`` layer (zero where there is none yet). The workload
    of a village is its customer count: previews of grids built with other
    ``weights`` show customer-count KPIs.

    Returns
    -------
    tuple
        The grids and the version they were read at (pass it as
        ``expected_version`` when saving an edit).
    """
    if "grids" not in store.layers():
        msg = f"workspace {str(store.path)!r} has no grids yet: run `gridgeo grids build` first."
        raise NotFoundError(msg)
    version = store.current_version("grids")
    grids = store.read("grids", version=version)
    county = store.read("county")
    villages = store.read("villages")
    cells = _grids.village_cells(county, villages)
    if "customers" in store.layers():
        counts = village_workload(store.read("customers")).set_index("village_code")
    else:
        counts = pd.DataFrame(columns=list(_grids.COUNT_COLUMNS), dtype=float)
    table = counts.reindex(cells["village_code"].astype(str)).fillna(0)
    for column in _grids.COUNT_COLUMNS:
        cells[column] = table[column].to_numpy().astype(int)
    cells["workload"] = cells["customers"].astype(float)
    service = _grids.service_grids_from_layers(grids, cells, county)
    return _grids.refresh_counts(service), version


def reach_kpi_function(
    customers: pd.DataFrame, access: pd.DataFrame
) -> Callable[[_grids.ServiceGrids], pd.DataFrame]:
    """KPIs of a grid edit's preview: repair and payment compliance per grid.

    The reach of each customer does not depend on the grid lines (stations
    and roads stay); what an edit changes is which customers each grid
    answers for. The returned function recomputes, for the grids of a
    :class:`~gridgeo.grids.ServiceGrids`, the share of customers within the
    30-minute repair and the 10-minute payment promise, following each
    customer's village into its (new) grid.

    Parameters
    ----------
    customers
        The customers layer (``village_code`` per customer).
    access
        :func:`gridgeo.reach.customer_access` on the same index.
    """
    if not access.index.equals(customers.index):
        msg = "`access` and `customers` must share their index."
        raise InputError(msg)
    village = customers["village_code"].astype("string")
    repair_ok = access["repair_ok"].astype(bool).to_numpy()
    payment_ok = access["payment_ok"].astype(bool).to_numpy()

    def kpis(service: _grids.ServiceGrids) -> pd.DataFrame:
        codes = service.cells["village_code"].astype(str).to_numpy()
        t3_of = pd.Series(service.village_grid.to_numpy(), index=codes)
        parent = service.grids.set_index("grid_id")["parent_id"]
        t3 = village.map(t3_of)
        t2 = t3.map(parent)
        t1 = t2.map(parent)
        frames = []
        for column in (t3, t2, t1):
            frame = pd.DataFrame({"grid_id": column, "repair": repair_ok, "payment": payment_ok})
            frames.append(frame.dropna(subset=["grid_id"]))
        both = pd.concat(frames)
        out = both.groupby("grid_id").mean() * 100.0
        return out.rename(columns={"repair": "repair_ok_pct", "payment": "payment_ok_pct"})

    return kpis


def compute_access(
    store: GeoPackageStore,
    *,
    payment_mode: str = _reach.DEFAULT_PAYMENT_MODE,
    repair_limit_s: float = _reach.DEFAULT_REPAIR_LIMIT_S,
    payment_limit_s: float = _reach.DEFAULT_PAYMENT_LIMIT_S,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair reach and payment access of every customer of a workspace.

    Returns the customers layer and the ``customer_access`` table on its index.
    """
    customers = store.read("customers")
    engines = _reach.engines_from_roads(
        _io.read_layer(store.path, layer=ROADS_LAYER), payment_mode=payment_mode
    )
    access = _reach.customer_access(
        engines["repair"],
        engines["payment"],
        customers,
        store.read("repair_stations"),
        store.read("payment_points"),
        repair_limit_s=repair_limit_s,
        payment_limit_s=payment_limit_s,
    )
    return customers, access
