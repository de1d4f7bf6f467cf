"""``/orders``: the work orders (工单), filtered and paged, one order's history, create, update."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response

import gridgeo
from api.deps import CurrentUser, PageDep, StoreDep, allowed_rows
from api.errors import error_responses, media_responses
from api.schemas import OrderCreate, OrderUpdate
from api.serialise import GEOJSON_MEDIA_TYPE, feature_collection, json_response, records

router = APIRouter(prefix="/orders", tags=["orders"])

# code column -> its Chinese labels; the label goes beside the code as ``<column>_zh``
LABELS: dict[str, dict[str, str]] = {
    "kind": gridgeo.ORDER_KINDS,
    "source": gridgeo.ORDER_SOURCES,
    "status": gridgeo.ORDER_STATUSES,
}
PERIOD_EXAMPLES = {
    "week": "2026-W48",
    "month": "2026-11",
    "quarter": "2026-Q4",
    "year": "2026",
    None: "2026-11, 2026-W48, 2026-Q4 or 2026",
}

OrderFormat = Annotated[
    Literal["json", "geojson"],
    Query(description="json: rows; geojson: a FeatureCollection (application/geo+json)"),
]


def china_tz() -> dt.tzinfo:
    """The time zone in which gridgeo reads periods (China time): that of a period's start.

    Taken from :func:`gridgeo.parse_period`, so the service shows times in the zone the
    figures count them in, with no second copy of the zone's name.
    """
    tz = gridgeo.parse_period("2026")[1].tzinfo
    assert tz is not None
    return tz


def local_times(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every timezone-aware column as ISO 8601 text in China time (None if
    missing): ``2026-11-03T14:20:00+08:00``."""
    table = frame.copy()
    tz = china_tz()
    for column in table.columns:
        values = table[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            table[column] = [
                None if pd.isna(t) else t.isoformat() for t in values.dt.tz_convert(tz)
            ]
    return table


def order_table(orders: gpd.GeoDataFrame) -> pd.DataFrame:
    """Orders as served: Chinese labels beside the codes (``kind_zh`` ...), times in China
    time (:func:`local_times`), the point as ``lon``/``lat`` (null if not located)."""
    points = orders.geometry.to_numpy()
    table = local_times(pd.DataFrame(orders.drop(columns=orders.geometry.name)))
    table["lon"] = np.round(shapely.get_x(points), 7)
    table["lat"] = np.round(shapely.get_y(points), 7)
    for column, labels in LABELS.items():
        if column in table.columns:
            at = table.columns.get_loc(column) + 1
            table.insert(at, f"{column}_zh", table[column].map(labels).fillna(""))
    return table


def order_rows(orders: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The orders as JSON rows (see :func:`order_table`)."""
    return records(order_table(orders))


def checked_period(field: str, label: str, kind: str | None = None) -> tuple[str, str]:
    """The period kind and the label (stripped), or a 400 naming the request ``field``.

    ``kind`` (week, month, quarter, year) is the kind the label must be, None for any.
    """
    try:
        found, _ = gridgeo.parse_period(label, kind)  # type: ignore[arg-type]
    except gridgeo.InputError as exc:
        msg = (
            f"统计期无法识别 / `{field}` {label!r} is not understood: write it like "
            f"{PERIOD_EXAMPLES.get(kind, PERIOD_EXAMPLES[None])}"
        )
        raise gridgeo.InputError(msg) from exc
    return found, label.strip()


def _in_period(orders: gpd.GeoDataFrame, field: str, label: str) -> gpd.GeoDataFrame:
    """The orders reported in the period ``label`` (a month when ``field`` is ``month``)."""
    kind, label = checked_period(field, label, "month" if field == "month" else None)
    if not len(orders):
        return orders
    labels = gridgeo.period_labels(orders["reported_at"], kind)  # type: ignore[arg-type]
    return orders.loc[(labels == label).to_numpy()]


def _check_grid(store: gridgeo.GeoPackageStore, grid: str) -> None:
    grids = store.read("grids")
    if not (grids["grid_id"].astype(str) == grid).any():
        msg = f"没有此网格 / no grid with `grid` {grid!r}: list the grids with GET /grids."
        raise gridgeo.NotFoundError(msg)


def _one_order(store: gridgeo.GeoPackageStore, order_id: str) -> gpd.GeoDataFrame:
    orders = gridgeo.read_orders(store)
    return orders.loc[(orders["order_id"] == order_id).to_numpy()]


def _refuse_other_grids(orders: gpd.GeoDataFrame, user: gridgeo.User, order_id: str) -> None:
    """404 (as for a missing order, so the number is not confirmed) when a grid role asks for
    an order outside their grids; an order no longer stored is only shown to other roles."""
    if user.role in gridgeo.GRID_ROLES and not allowed_rows(user, orders).any():
        msg = (
            f"没有此工单 / no work order `order_id` {order_id!r}: list the orders with GET /orders."
        )
        raise gridgeo.NotFoundError(msg)


def refuse_taken_number(store: gridgeo.GeoPackageStore, order_id: str) -> None:
    """A 409 when ``order_id`` is stored already (gridgeo would report it as a row error)."""
    if len(_one_order(store, order_id)):
        msg = (
            f"工单编号已存在 / order number `order_id` {order_id!r} is already stored: "
            f"change that order with PATCH /orders/{order_id}, or give a new number."
        )
        raise gridgeo.ConflictError(msg)


@router.get(
    "",
    responses={
        **error_responses(400, 404, 422),
        **media_responses(
            "rows as JSON, or with `format=geojson` a FeatureCollection",
            **{GEOJSON_MEDIA_TYPE: {"type": "object"}},
        ),
    },
)
def list_orders(
    store: StoreDep,
    page: PageDep,
    user: CurrentUser,
    grid: Annotated[str | None, Query(min_length=1, description="a grid id of any tier")] = None,
    kind: Annotated[
        str | None,
        Query(min_length=1, description="工单类型: fault / 故障报修, complaint / 投诉 ..."),
    ] = None,
    status: Annotated[
        str | None, Query(min_length=1, description="状态: reported / 已受理 ... called_back")
    ] = None,
    month: Annotated[str | None, Query(description="reported in this month: 2026-11")] = None,
    period: Annotated[
        str | None, Query(description="reported in this period: 2026-11, 2026-W48, 2026-Q4")
    ] = None,
    start: Annotated[
        str | None, Query(description="reported at or after (China time): 2026-11-01 00:00")
    ] = None,
    end: Annotated[
        str | None, Query(description="reported before (China time): 2026-12-01 00:00")
    ] = None,
    format: OrderFormat = "json",
) -> Response:
    """The work orders, sorted by number, filtered and paged; ``total`` counts all that match.

    Periods are China time (Asia/Shanghai) by ``reported_at`` (受理时间); give one of
    ``month``, ``period`` or ``start``/``end``. Rows carry the codes and their Chinese labels
    (``kind_zh``, ``source_zh``, ``status_zh``), times in China time (ISO 8601, +08:00).
    """
    ways = [name for name, value in (("month", month), ("period", period)) if value]
    if start or end:
        ways.append("start/end")
    if len(ways) > 1:
        msg = (
            f"统计期重复 / give one of `month`, `period` or `start`/`end`, not {' and '.join(ways)}"
        )
        raise gridgeo.InputError(msg)
    if grid is not None:
        _check_grid(store, grid)
    orders = gridgeo.read_orders(store, grid=grid, kind=kind, status=status, start=start, end=end)
    if month or period:
        orders = _in_period(orders, "month" if month else "period", month or period or "")
    orders = orders.loc[allowed_rows(user, orders)]  # a grid role: their grids' orders only
    shown = orders.iloc[page.offset : page.offset + page.limit]
    paging = {"total": len(orders), "limit": page.limit, "offset": page.offset}
    if format == "geojson":
        table = order_table(shown)
        points = shown.geometry.to_numpy()
        located = ~(shapely.is_missing(points) | shapely.is_empty(points))
        geometry = gpd.GeoSeries(np.where(located, points, None), index=shown.index, crs=4326)
        body = feature_collection(gpd.GeoDataFrame(table, geometry=geometry))
        return json_response({**body, **paging}, media_type=GEOJSON_MEDIA_TYPE)
    return json_response({**paging, "orders": records(order_table(shown))})


@router.get("/{order_id}", responses=error_responses(404))
def get_order(order_id: str, store: StoreDep, user: CurrentUser) -> Response:
    """One order as stored now and its history: who changed which field when, oldest first.

    The version that created the order is one history row with ``field`` ``created``; an
    order no longer stored has ``order`` null and its history. A grid manager / member gets
    404 for an order outside their grids.
    """
    hit = _one_order(store, order_id)
    _refuse_other_grids(hit, user, order_id)
    history = gridgeo.order_history(store, order_id)  # 404 if never stored
    order = order_rows(hit)[0] if len(hit) else None
    return json_response({"order": order, "history": records(local_times(history))})


@router.post("", status_code=201, responses=error_responses(400, 409, 422))
def create_order(body: OrderCreate, store: StoreDep) -> Response:
    """Create a work order: checked and located as an imported one, stored as a new version.

    Its grids of the three tiers come from its location (the customer's point, ``lon``/``lat``
    in ``datum``, or the address); 409 if the number is taken; a wrong field is a 400 whose
    ``errors`` list the row errors (``field``, ``value``, ``problem``).
    """
    refuse_taken_number(store, body.order_id)
    fields = body.model_dump(exclude={"author", "reason"}, exclude_none=True)
    made = gridgeo.create_order(store, fields, author=body.author, reason=body.reason)
    response = json_response({"order": order_rows(made)[0]})
    response.status_code = 201
    return response


@router.patch("/{order_id}", responses=error_responses(400, 404, 409, 422))
def update_order(order_id: str, body: OrderUpdate, store: StoreDep, user: CurrentUser) -> Response:
    """Change fields of an order (arrival, repair, callback, satisfaction, ...): a new version
    with ``author`` and ``reason``. Its status follows its times; null empties a field; a
    change that changes nothing writes nothing."""
    changes = body.changes()
    if not changes:
        msg = (
            "没有要修改的字段 / nothing to change: give at least one field, e.g. "
            '"arrived_at": "2026-11-03 14:20" or "satisfaction": "满意".'
        )
        raise gridgeo.InputError(msg)
    _refuse_other_grids(_one_order(store, order_id), user, order_id)
    row = gridgeo.update_order(store, order_id, changes, author=body.author, reason=body.reason)
    return json_response({"order": order_rows(row)[0]})
