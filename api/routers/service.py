"""The service figures from the records: ``/figures``, ``/reports/month/{month}`` (月度考核),
``/stars`` (服务之星) and ``/watch`` (重点巡查)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

import gridgeo
from api.deps import StoreDep
from api.errors import error_responses, media_responses
from api.routers.orders import checked_period, local_times
from api.serialise import json_response, records, to_jsonable

router = APIRouter(tags=["service"])

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GRID_TIERS = {"grid_t1": 1, "grid_t2": 2, "grid_t3": 3}
FOUR_XX = error_responses(400, 404, 422)


def _require_orders(store: gridgeo.GeoPackageStore) -> None:
    if gridgeo.ORDER_LAYER not in store.layers():
        msg = (
            "工作区没有工单 / the workspace has no work orders: import them with "
            "`gridgeo orders import FILE` or create them with POST /orders."
        )
        raise gridgeo.NotFoundError(msg)


@router.get("/figures", responses=FOUR_XX)
def figures(
    store: StoreDep,
    by: Annotated[
        Literal["grid_t1", "grid_t2", "grid_t3", "station_id", "member"],
        Query(description="the group: a grid tier, the repair station or the grid member"),
    ] = "grid_t3",
    period: Annotated[
        Literal["week", "month", "quarter", "year"], Query(description="the kind of period")
    ] = "month",
    label: Annotated[
        str | None, Query(description="one period of kind `period`: 2026-11, 2026-W48 ...")
    ] = None,
    month: Annotated[
        str | None, Query(description="one month (2026-11): period=month&label=2026-11")
    ] = None,
    group: Annotated[str | None, Query(min_length=1, description="only this group id")] = None,
) -> Response:
    """The service figures of the work orders per group and period (到达现场及时率, 投诉一次办结率,
    满意率, RS-1, SAIDI, SAIFI, ...), with the Chinese label of every column in ``labels``.

    Without ``label``/``month``: every period with records. Every grid of a tier has a row,
    with or without orders; rates without a denominator are null, never 0 or 100 %.
    """
    _require_orders(store)
    if month is not None and label is not None:
        msg = "give `month` or `label`, not both (month=2026-11 is period=month&label=2026-11)"
        raise gridgeo.InputError(msg)
    if month is not None and period != "month":
        msg = (
            f"`month` asks for monthly figures but `period` is {period!r}: give "
            f"period={period}&label=... instead, or leave `period` out"
        )
        raise gridgeo.InputError(msg)
    if month is not None:
        _, label = checked_period("month", month, "month")
    elif label is not None:
        _, label = checked_period("label", label, period)
    layers = store.layers()
    groups = None  # every grid of the tier gets a row, with or without orders
    if by in GRID_TIERS and "grids" in layers:
        grids = store.read("grids")
        groups = grids.loc[grids["tier"] == GRID_TIERS[by], "grid_id"].astype(str).tolist()
    table = gridgeo.service_figures(
        gridgeo.read_orders(store),
        customers=store.read("customers") if "customers" in layers else None,
        by=by,
        period=period,
        periods=None if label is None else [label],
        groups=groups,
    )
    if group is not None:
        table = table.loc[table[by].astype(str) == group]
        if not len(table):
            msg = (
                f"no group `group` {group!r} among the {by} groups: leave `group` out to list them."
            )
            raise gridgeo.NotFoundError(msg)
    labels = {c: gridgeo.FIGURE_LABELS[c] for c in table.columns if c in gridgeo.FIGURE_LABELS}
    body = {"by": by, "period": period, "labels": labels, "rows": records(local_times(table))}
    return json_response(body)


@router.get(
    "/reports/month/{month}",
    responses={
        **FOUR_XX,
        **media_responses(
            "the evaluation as JSON; with `format=xlsx` a workbook, `format=html` one page",
            **{
                XLSX_MEDIA_TYPE: {"type": "string", "format": "binary"},
                "text/html": {"type": "string"},
            },
        ),
    },
)
def monthly_report(
    month: str,
    store: StoreDep,
    format: Annotated[
        Literal["json", "xlsx", "html"],
        Query(description="json tables; xlsx workbook (one sheet per tier); html one page"),
    ] = "json",
) -> Response:
    """The monthly evaluation (月度考核) of ``month`` (2026-11) per tier (county, supply grid,
    village grid, member): each figure against its target and last month."""
    _, month = checked_period("month", month, "month")
    evaluation = gridgeo.evaluate_workspace(store, month)
    if format == "html":
        return HTMLResponse(gridgeo.evaluation_summary_html(evaluation))
    if format == "xlsx":
        with tempfile.TemporaryDirectory(prefix="gridgeo-report-") as folder:
            path = gridgeo.write_evaluation_xlsx(evaluation, Path(folder) / "report.xlsx")
            content = path.read_bytes()
        name = f"月度考核_{month}.xlsx"
        disposition = (
            f'attachment; filename="monthly_evaluation_{month}.xlsx"; '
            f"filename*=UTF-8''{quote(name)}"
        )
        return Response(
            content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": disposition}
        )
    body = {
        "month": evaluation.month,
        "previous": evaluation.previous,
        "orders": evaluation.orders,
        "previous_orders": evaluation.previous_orders,
        "orders_without_grid": evaluation.orders_without_grid,
        "tiers": {tier: records(table) for tier, table in evaluation.tables.items()},
    }
    return json_response(body)


@router.get("/stars", responses=FOUR_XX)
def stars(
    store: StoreDep,
    week: Annotated[
        str | None, Query(description="ISO week 2026-W48 (default: the last full week)")
    ] = None,
) -> Response:
    """服务之星: the grid members of a week ranked by their score, each score explained line by
    line (``explanation``), and the week's repair, complaint and consultation orders per
    village grid."""
    if week is not None:
        _, week = checked_period("week", week, "week")
    result = gridgeo.workspace_stars(store, week=week)
    ranking = result.ranking.assign(explanation=result.ranking["explanation"].str.split("\n"))
    body = {
        "week": result.week,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "star": next(iter(records(ranking.loc[ranking["star"]].head(1))), None),
        "ranking": records(ranking),
        "figures": records(result.figures),
        "weights": dict(result.weights),
        "notes": list(result.notes),
    }
    return json_response(to_jsonable(body))


@router.get("/watch", responses=FOUR_XX)
def watch(
    store: StoreDep,
    month: Annotated[
        str | None, Query(description="the month of the watch list (default: every order)")
    ] = None,
) -> Response:
    """重点巡查: grids and villages where weak predicted reach meets many faults or slow
    arrivals, each with its reason, and the monthly fault peaks against each grid's baseline."""
    if month is not None:
        _, month = checked_period("month", month, "month")
    result = gridgeo.workspace_watch(store, month=month)
    body: dict[str, Any] = {
        "month": result.month,
        "watch": records(result.watch),
        "peaks": records(local_times(result.peaks)),
    }
    return json_response(body)
