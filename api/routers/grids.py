"""``/grids``: the three tiers of service grids, their versions and edits."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

import gridgeo
from api.cache import WorkspaceCache
from api.deps import CacheDep, CurrentUser, PageDep, StoreDep
from api.errors import error_responses
from api.schemas import EditPreview, GridEdit, GridRestore, GridSave, SaveResult
from api.serialise import (
    GEOJSON_MEDIA_TYPE,
    feature_collection,
    json_response,
    records,
    to_jsonable,
)

router = APIRouter(prefix="/grids", tags=["grids"])
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


@router.get("/moves")
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


def _preview(store: gridgeo.GeoPackageStore, edit: GridEdit) -> tuple[gridgeo.Preview, int]:
    # the grids, cells and customers' cells are kept per grids version (load_edit_base)
    base = gridgeo.load_edit_base(store)
    service, kpis = base.service, base.kpis
    if edit.op == "move":
        codes = [_village_code(base, v) for v in edit.village_codes or []]
        preview = gridgeo.preview_move_villages(service, codes, edit.to_grid_id, kpis=kpis)
    elif edit.op == "split":
        preview = gridgeo.preview_split_grid(service, edit.grid_id, k=edit.k, kpis=kpis)
    else:
        preview = gridgeo.preview_merge_grids(service, edit.grid_ids or [], kpis=kpis)
    return preview, base.version


def _changed(preview: gridgeo.Preview) -> list[dict[str, Any]]:
    diff = preview.kpi_diff
    return records(diff.loc[diff["changed"]].drop(columns="changed").reset_index())


@router.post("/preview")
def preview_edit(edit: GridEdit, store: StoreDep) -> EditPreview:
    """What an edit would change (changed grids only) and its topology problems; saves nothing."""
    preview, version = _preview(store, edit)
    return EditPreview(
        base_version=version, kpi_diff=_changed(preview), problems=to_jsonable(preview.problems)
    )


@router.post("/save")
def save_edit(edit: GridSave, store: StoreDep) -> SaveResult:
    """Apply an edit and save it as a new version (409 if ``expected_version`` is stale)."""
    preview, version = _preview(store, edit)
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
    return SaveResult(version=new_version, previous_version=version, kpi_diff=_changed(preview))


@router.post("/restore")
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
    return SaveResult(version=new_version, previous_version=body.expected_version, kpi_diff=[])
