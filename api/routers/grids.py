"""``/grids``: the three tiers of service grids, their versions and edits."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

import gridgeo
from api.cache import WorkspaceCache
from api.deps import CacheDep, CurrentUser, PageDep, StoreDep
from api.errors import error_responses
from api.schemas import EditPreview, GridEdit, GridRestore, GridSave, OutputState, SaveResult
from api.serialise import (
    GEOJSON_MEDIA_TYPE,
    feature_collection,
    json_response,
    records,
    to_jsonable,
)

router = APIRouter(prefix="/grids", tags=["grids"])
logger = logging.getLogger(__name__)
# the routes that answer GeoJSON say so in the OpenAPI schema
GEOJSON_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "GeoJSON",
        "content": {GEOJSON_MEDIA_TYPE: {"schema": {"type": "object"}}},
    },
    **error_responses(404),  # no such grid, or no such version
}

Tier = Annotated[int | None, Query(ge=1, le=3, description="1 county, 2 supply, 3 village")]
Version = Annotated[int | None, Query(ge=1, description="grids version (default: current)")]


def _grid(store: gridgeo.GeoPackageStore, grid_id: str, version: int | None = None) -> Any:
    grids = store.read("grids", version=version)
    rows = grids.loc[grids["grid_id"].astype(str) == grid_id]
    if len(rows) == 0:
        msg = f"no grid with `grid_id` {grid_id!r}: list the grids with GET /grids."
        raise gridgeo.NotFoundError(msg)
    return rows


def _current_grids_version(cache: WorkspaceCache) -> int:
    return cache.get(("version", "grids"), lambda: cache.store.current_version("grids"))


def _grids_of_version(cache: WorkspaceCache, version: int) -> Any:
    """The grids of one version, read once (a version never changes once saved)."""
    return cache.get(("grids", version), lambda: cache.store.read("grids", version=version))


def _grid_counts(cache: WorkspaceCache, version: int) -> Any:
    """The customers per grid of one grids version, counted once per workspace version."""
    return cache.get(
        ("grid_counts", version),
        lambda: gridgeo.count_grid_customers(cache.store, version=version),
    )


@router.get("", responses=GEOJSON_RESPONSES)
def list_grids(
    store: StoreDep, cache: CacheDep, tier: Tier = None, version: Version = None
) -> Response:
    """All grids (or one tier) as a GeoJSON FeatureCollection.

    A grid's ``customers`` (and ``hv_customers``, ``lv_customers``, ``vulnerable``) are the
    customers whose located position it contains; ``not_located`` counts those in no grid
    (未定位) and ``customers`` of the collection is the county total.
    """
    # one version for both reads: a save may land between them
    pinned = _current_grids_version(cache) if version is None else version
    counts = _grid_counts(cache, pinned)
    grids = gridgeo.with_customer_counts(_grids_of_version(cache, pinned), counts)
    if tier is not None:
        grids = grids.loc[grids["tier"] == tier]
    body = feature_collection(grids)
    county = counts[1]["customers"]
    body["customers"] = int(county.sum())
    body["not_located"] = int(county[gridgeo.NOT_LOCATED])
    return json_response(body, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/versions")
def list_versions(store: StoreDep) -> list[dict[str, Any]]:
    """Every saved version of the grids: who, when, why, what changed."""
    return records(store.list_versions("grids"))


@router.get("/villages")
def list_villages(store: StoreDep) -> dict[str, Any]:
    """Every village with its code, name, town, point and tier-3 grid (current grids), for
    finding a village by name or code (村名或村代码) and moving it."""
    base = gridgeo.load_edit_base(store)
    villages = base.villages
    where = villages.geometry.to_crs(4326)
    cells = base.service.cells
    grid_of = dict(
        zip(cells["village_code"].astype(str), base.service.village_grid.astype(str), strict=True)
    )
    customers = dict(zip(cells["village_code"].astype(str), cells["customers"], strict=True))
    table = pd.DataFrame(
        {
            "village_code": villages["village_code"].astype(str),
            "village": villages["village"],
            "town": villages.get("town"),
            "lon": where.x.round(6),
            "lat": where.y.round(6),
        }
    )
    table["grid_id"] = table["village_code"].map(grid_of)
    table["customers"] = table["village_code"].map(customers).fillna(0).astype(int)
    return {"version": base.version, "villages": records(table)}


@router.get("/moves", responses=error_responses(404))
def village_moves(
    store: StoreDep,
    village: Annotated[str, Query(min_length=1, description="村代码或村名 village code or name")],
) -> dict[str, Any]:
    """Which tier-3 grids a village may join: its grid's contiguous neighbours, each with
    ``ok`` (the move breaks no topology rule, so it saves) or the ``problems`` it would
    have."""
    base = gridgeo.load_edit_base(store)
    code = _village_code(base, village.strip())
    options = gridgeo.village_join_options(base.service, code, adjacency=base.adjacency)
    at = base.service.cells["village_code"].astype(str) == code
    return {
        "version": base.version,
        "village_code": code,
        "grid_id": str(base.service.village_grid[at.to_numpy()].iloc[0]),
        "options": records(options),
    }


@router.get("/validate")
def validate(store: StoreDep) -> dict[str, Any]:
    """Topology problems of the current grids (empty when all rules hold)."""
    version = store.current_version("grids")
    problems = gridgeo.validate_grids(
        store.read("grids", version=version), county=store.read("county")
    )
    return {"version": version, "problems": to_jsonable(problems)}


@router.get("/substations", responses=error_responses(404))
def list_substations(cache: CacheDep) -> dict[str, Any]:
    """Every substation with its point and the supply (tier-2) grid it heads in the current
    grids (None for one that heads none, e.g. newly built), for reassigning a supply grid
    (``POST /grids/preview`` with ``op`` ``reassign``)."""
    if "substations" not in cache.layers():
        msg = (
            "工作区没有变电站 / the workspace has no `substations` layer: import the "
            "substations first (gridgeo workspace create --substations FILE)"
        )
        raise gridgeo.NotFoundError(msg)
    version = _current_grids_version(cache)
    grids = _grids_of_version(cache, version)
    supply = grids.loc[grids["tier"] == 2]
    heads = dict(
        zip(supply["substation_id"].astype(str), supply["grid_id"].astype(str), strict=True)
    )
    subs = cache.read("substations")
    where = subs.geometry.to_crs(4326)
    table = pd.DataFrame(
        {
            "substation_id": subs["substation_id"].astype(str),
            "name": subs.get("name"),
            "voltage_kv": subs.get("voltage_kv"),
            "lon": where.x.round(6),
            "lat": where.y.round(6),
        }
    )
    table["grid_id"] = table["substation_id"].map(heads)
    return {"version": version, "substations": records(table)}


GridsVersionA = Annotated[int, Query(ge=1, description="the version before (一个版本)")]
GridsVersionB = Annotated[int, Query(ge=1, description="the version after (另一个版本)")]


@router.get("/compare", responses=error_responses(400, 404))
def compare_versions(
    cache: CacheDep, version_a: GridsVersionA, version_b: GridsVersionB
) -> dict[str, Any]:
    """What changed between two versions of the grids (版本对比): the villages that changed
    grids (with their points) and the grids that changed (customers before and after, as
    the current customers fall in each version's polygons); no personal data. The grids
    themselves: ``GET /grids?version=``."""
    found = cache.get(
        ("compare", version_a, version_b),
        lambda: gridgeo.compare_grid_versions(cache.store, version_a, version_b),
    )
    grids = found.grids
    changed = grids.loc[grids["status"] != "same"]
    return {
        "version_a": found.version_a,
        "version_b": found.version_b,
        "grids_changed": len(changed),
        "villages_moved": len(found.villages),
        "grids": records(changed),
        "villages": records(found.villages),
    }


@router.get("/{grid_id}", responses=GEOJSON_RESPONSES)
def get_grid(grid_id: str, cache: CacheDep) -> Response:
    """One grid as a GeoJSON Feature (its customers as in ``GET /grids``)."""
    pinned = _current_grids_version(cache)  # one version for both reads
    grids = _grids_of_version(cache, pinned)
    rows = grids.loc[grids["grid_id"].astype(str) == grid_id]
    if len(rows) == 0:
        msg = f"no grid with `grid_id` {grid_id!r}: list the grids with GET /grids."
        raise gridgeo.NotFoundError(msg)
    grid = gridgeo.with_customer_counts(rows, _grid_counts(cache, pinned))
    feature = feature_collection(grid)["features"][0]
    return json_response(feature, media_type=GEOJSON_MEDIA_TYPE)


@router.get("/{grid_id}/customers")
def grid_customers(grid_id: str, store: StoreDep, page: PageDep, user: CurrentUser) -> Response:
    """The customers of a grid (any tier) with their repair and payment access, paged.

    A grid manager / member gets 404 for a grid that is neither theirs nor inside theirs.
    """
    tier = int(_grid(store, grid_id)["tier"].iloc[0])
    if user.role in gridgeo.GRID_ROLES:
        grids = store.read("grids")
        parents = dict(zip(grids["grid_id"].astype(str), grids["parent_id"], strict=True))
        line, at = [], grid_id
        while at in parents and at not in line:  # the grid and its ancestors
            line.append(at)
            at = str(parents[at])
        if not user.allows_grid(*line):  # as for a grid that does not exist
            msg = f"no grid with `grid_id` {grid_id!r}: list the grids with GET /grids."
            raise gridgeo.NotFoundError(msg)
    customers, access = gridgeo.read_access(store)
    mine = gridgeo.grid_of_customers(customers, tier=tier) == grid_id
    rows = customers.loc[mine.to_numpy()].iloc[page.offset : page.offset + page.limit]
    table = pd.DataFrame(rows.drop(columns=rows.geometry.name)).assign(
        lon=rows.geometry.x.round(7), lat=rows.geometry.y.round(7)
    )
    theirs = access.loc[rows.index].drop(columns=[access.geometry.name, "customer_id"])
    table = table.merge(
        pd.DataFrame(theirs), left_index=True, right_index=True, suffixes=("", "_access")
    )
    body = {
        "grid_id": grid_id,
        "tier": tier,
        "total": int(mine.sum()),
        "limit": page.limit,
        "offset": page.offset,
        "customers": records(table),
    }
    return json_response(body)


def _village_code(base: gridgeo.EditBase, value: str) -> str:
    """The code of a village given by its 12-digit code or its name (村名)."""
    villages = base.villages
    codes = villages["village_code"].astype(str)
    if (codes == value).any():
        return value
    named = villages.loc[villages["village"].astype(str) == value]
    if len(named) == 1:
        return str(named["village_code"].iloc[0])
    if len(named) > 1:
        towns = "，".join(
            f"{row['village_code']} ({row.get('town', '')})" for _, row in named.iterrows()
        )
        msg = (
            f"村名 {value!r} 不唯一 / village name {value!r} is in {len(named)} towns: "
            f"give its village code (村代码) instead: {towns}"
        )
        raise gridgeo.InputError(msg)
    msg = (
        f"没有村 {value!r} / no village with code or name {value!r}: list the villages with "
        "GET /grids/villages"
    )
    raise gridgeo.NotFoundError(msg)


def _preview(
    store: gridgeo.GeoPackageStore, edit: GridEdit
) -> tuple[gridgeo.Preview, gridgeo.EditBase]:
    # the grids, cells and customers' cells are kept per grids version (load_edit_base)
    base = gridgeo.load_edit_base(store)
    service, kpis = base.service, base.kpis
    if edit.op == "move":
        codes = [_village_code(base, v) for v in edit.village_codes or []]
        preview = gridgeo.preview_move_villages(service, codes, edit.to_grid_id, kpis=kpis)
    elif edit.op == "split":
        preview = gridgeo.preview_split_grid(service, edit.grid_id, k=edit.k, kpis=kpis)
    elif edit.op == "merge":
        preview = gridgeo.preview_merge_grids(service, edit.grid_ids or [], kpis=kpis)
    else:
        preview = _preview_reassign(store, base, str(edit.grid_id), str(edit.substation_id))
    return preview, base


def _preview_reassign(
    store: gridgeo.GeoPackageStore, base: gridgeo.EditBase, grid_id: str, substation_id: str
) -> gridgeo.Preview:
    """A supply grid headed by another substation; the substation must stand in (or near)
    the grid, as :func:`gridgeo.validate_grids` checks with the substations."""
    grids = base.service.grids
    row = grids.loc[(grids["grid_id"].astype(str) == grid_id) & (grids["tier"] == 2)]
    if len(row) == 0:
        msg = (
            f"供电网格：没有 {grid_id!r} / `grid_id` {grid_id!r} is no supply (tier-2) grid of "
            "the current grids: pick one of GET /grids?tier=2"
        )
        raise gridgeo.NotFoundError(msg)
    substations = store.read("substations") if "substations" in store.layers() else None
    known = set() if substations is None else set(substations["substation_id"].astype(str))
    if substation_id not in known:
        msg = (
            f"变电站：没有 {substation_id!r} / no substation with `substation_id` "
            f"{substation_id!r}: pick one of GET /grids/substations"
        )
        raise gridgeo.NotFoundError(msg)
    if str(row["substation_id"].iloc[0]) == substation_id:
        msg = (
            f"变电站未变 / supply grid {grid_id!r} is already headed by substation "
            f"{substation_id!r}: pick another `substation_id`"
        )
        raise gridgeo.InputError(msg)
    preview = gridgeo.preview_reassign_substation(
        base.service, grid_id, substation_id, substations, kpis=base.kpis
    )
    # previews check the grids alone; a new substation must also stand in its grid
    outside = [
        p
        for p in gridgeo.validate_grids(
            preview.grids, county=base.service.county, substations=substations
        )
        if p["problem"] == "substation_outside" and str(p["grid_id"]) == grid_id
    ]
    return dataclasses.replace(preview, problems=[*preview.problems, *outside])


def _changed(preview: gridgeo.Preview, before: Any = None) -> list[dict[str, Any]]:
    """The preview's changed grids; with the grids ``before`` the edit, also those whose
    substation changes (a reassign changes no KPI), with ``substation_before``/``_after``."""
    diff = preview.kpi_diff
    changed = diff["changed"].to_numpy(dtype=bool)
    table = diff.drop(columns="changed")
    if before is not None:
        ids = diff.index.astype(str)
        old = before.set_index(before["grid_id"].astype(str))["substation_id"].reindex(ids)
        new = preview.grids.set_index(preview.grids["grid_id"].astype(str))["substation_id"]
        new = new.reindex(ids)
        before_ids, after_ids = before["grid_id"].astype(str), preview.grids["grid_id"].astype(str)
        kept = ids.isin(before_ids) & ids.isin(after_ids)  # a split's new grids: changed anyway
        differs = old.astype("string").fillna("") != new.astype("string").fillna("")
        moved = kept & differs.to_numpy(dtype=bool)
        if moved.any():
            table = table.assign(substation_before=old.to_numpy(), substation_after=new.to_numpy())
            changed = changed | moved
    return records(table.loc[changed].reset_index())


@router.post("/preview", responses=error_responses(404))
def preview_edit(edit: GridEdit, store: StoreDep) -> EditPreview:
    """What an edit would change (changed grids only) and its topology problems; saves nothing."""
    preview, base = _preview(store, edit)
    return EditPreview(
        base_version=base.version,
        kpi_diff=_changed(preview, base.service.grids),
        problems=to_jsonable(preview.problems),
    )


@router.post("/save", responses=error_responses(404, 409))
def save_edit(edit: GridSave, store: StoreDep) -> SaveResult:
    """Apply an edit and save it as a new version (409 if ``expected_version`` is stale)."""
    preview, base = _preview(store, edit)
    if preview.problems:
        msg = (
            f"the {edit.op} edit breaks {len(preview.problems)} topology rule(s); nothing was "
            "saved. See `problems`, then change the edit (POST /grids/preview to try)."
        )
        raise gridgeo.GridTopologyError(msg, to_jsonable(preview.problems))
    new_version = gridgeo.save_grids(
        store,
        preview.grids,
        author=edit.author,
        reason=edit.reason,
        expected_version=edit.expected_version,
    )
    return SaveResult(
        version=new_version,
        previous_version=base.version,
        kpi_diff=_changed(preview, base.service.grids),
        outputs=_outputs(store),
    )


def _outputs(store: gridgeo.GeoPackageStore) -> list[OutputState]:
    """The status of the run's outputs in the workspace's folder after a save (names relative
    to that folder only). The save is done: a status that cannot be read is left out."""
    try:
        return [OutputState(**o) for o in gridgeo.outputs_status(store).to_list()]
    except (gridgeo.GridGeoError, OSError, sqlite3.Error):
        logger.warning("could not read the outputs' status of %s", store.path, exc_info=True)
        return []


@router.post("/restore", responses=error_responses(404, 409))
def restore(body: GridRestore, store: StoreDep, user: CurrentUser) -> SaveResult:
    """Make grids ``version`` current again as a new version (409 if ``expected_version``
    is stale); the customers' grid ids follow, as for a save."""
    known = set(store.list_versions("grids")["version"].astype(int))
    if body.version not in known:
        msg = (
            f"no grids version {body.version!r} / 没有该版本: pick one of GET /grids/versions "
            f"({min(known)}–{max(known)})."
        )
        raise gridgeo.NotFoundError(msg)
    new_version = gridgeo.restore_grids(
        store,
        body.version,
        expected_version=body.expected_version,
        author=user.username,
        reason=body.reason,
    )
    return SaveResult(
        version=new_version,
        previous_version=body.expected_version,
        kpi_diff=[],
        outputs=_outputs(store),
    )
