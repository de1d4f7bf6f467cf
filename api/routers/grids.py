"""``/grids``: the three tiers of service grids, their versions and edits."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

import gridgeo
from api.deps import CurrentUser, PageDep, StoreDep
from api.schemas import EditPreview, GridEdit, GridSave, SaveResult
from api.serialise import (
    GEOJSON_MEDIA_TYPE,
    feature_collection,
    json_response,
    records,
    to_jsonable,
)

router = APIRouter(prefix="/grids", tags=["grids"])

Tier = Annotated[int | None, Query(ge=1, le=3, description="1 county, 2 supply, 3 village")]
Version = Annotated[int | None, Query(ge=1, description="grids version (default: current)")]


def _grid(store: gridgeo.GeoPackageStore, grid_id: str, version: int | None = None) -> Any:
    grids = store.read("grids", version=version)
    rows = grids.loc[grids["grid_id"].astype(str) == grid_id]
    if len(rows) == 0:
        msg = f"no grid with `grid_id` {grid_id!r}: list the grids with GET /grids."
        raise gridgeo.NotFoundError(msg)
    return rows


@router.get("")
def list_grids(store: StoreDep, tier: Tier = None, version: Version = None) -> Response:
    """All grids (or one tier) as a GeoJSON FeatureCollection.

    A grid's ``customers`` (and ``hv_customers``, ``lv_customers``, ``vulnerable``) are the
    customers whose located position it contains; ``not_located`` counts those in no grid
    (未定位) and ``customers`` of the collection is the county total.
    """
    # one version for both reads: a save may land between them
    pinned = store.current_version("grids") if version is None else version
    counts = gridgeo.count_grid_customers(store, version=pinned)
    grids = gridgeo.with_customer_counts(store.read("grids", version=pinned), counts)
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


@router.get("/validate")
def validate(store: StoreDep) -> dict[str, Any]:
    """Topology problems of the current grids (empty when all rules hold)."""
    version = store.current_version("grids")
    problems = gridgeo.validate_grids(
        store.read("grids", version=version), county=store.read("county")
    )
    return {"version": version, "problems": to_jsonable(problems)}


@router.get("/{grid_id}")
def get_grid(grid_id: str, store: StoreDep) -> Response:
    """One grid as a GeoJSON Feature (its customers as in ``GET /grids``)."""
    pinned = store.current_version("grids")  # one version for both reads
    grid = gridgeo.with_customer_counts(
        _grid(store, grid_id, pinned), gridgeo.count_grid_customers(store, version=pinned)
    )
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


def _preview(store: gridgeo.GeoPackageStore, edit: GridEdit) -> tuple[gridgeo.Preview, int]:
    service, version = gridgeo.load_service_grids(store)
    kpis = _reach_kpis(store)
    if edit.op == "move":
        preview = gridgeo.preview_move_villages(
            service, edit.village_codes or [], edit.to_grid_id, kpis=kpis
        )
    elif edit.op == "split":
        preview = gridgeo.preview_split_grid(service, edit.grid_id, k=edit.k, kpis=kpis)
    else:
        preview = gridgeo.preview_merge_grids(service, edit.grid_ids or [], kpis=kpis)
    return preview, version


def _reach_kpis(store: gridgeo.GeoPackageStore) -> Any:
    if not {"customers", gridgeo.ACCESS_LAYER} <= set(store.layers()):
        return None
    return gridgeo.reach_kpi_function(*gridgeo.read_access(store))


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
