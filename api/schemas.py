"""Request and response bodies of the service."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EDIT_OPS = ("move", "split", "merge")
DEFAULT_SPLIT_K = 2


class Health(BaseModel):
    """``GET /health``."""

    status: Literal["ok"]
    workspace: str
    layers: list[str]


class GridEdit(BaseModel):
    """An edit of the tier-3 grids, previewed or saved.

    ``move`` takes ``village_codes`` and ``to_grid_id``; ``split`` takes
    ``grid_id`` and ``k``; ``merge`` takes ``grid_ids``; ``reassign`` takes a supply
    (tier-2) ``grid_id`` and the ``substation_id`` that is to head it.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    op: Literal["move", "split", "merge", "reassign"]
    village_codes: list[str] | None = None
    to_grid_id: str | None = None
    grid_id: str | None = None
    grid_ids: list[str] | None = None
    k: int = Field(default=DEFAULT_SPLIT_K, ge=2)
    substation_id: str | None = None

    @model_validator(mode="after")
    def _fields_of_op(self) -> GridEdit:
        needed = {
            "move": ("village_codes", "to_grid_id"),
            "split": ("grid_id",),
            "merge": ("grid_ids",),
            "reassign": ("grid_id", "substation_id"),
        }[self.op]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            msg = f"op {self.op!r} needs {', '.join(f'`{m}`' for m in missing)}"
            raise ValueError(msg)
        return self


class GridSave(GridEdit):
    """An edit to save: who, why, and the version it was based on.

    ``expected_version`` must be a JSON integer: lax parsing would read ``true``
    (or ``"1"``, ``1.0``) as version 1 and save an edit that was based on no version.
    """

    author: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expected_version: int = Field(ge=1, strict=True)


class GridRestore(BaseModel):
    """Make an earlier grids ``version`` current again, as a new version (the logged-in
    user is its author). ``expected_version`` is the current version the restore was
    decided on: a save in between is a 409."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1, strict=True)
    expected_version: int = Field(ge=1, strict=True)
    reason: str = Field(min_length=1)


class EditPreview(BaseModel):
    """``POST /grids/preview``: what the edit changes, nothing saved."""

    base_version: int
    kpi_diff: list[dict[str, Any]]
    problems: list[dict[str, Any]]


class OutputState(BaseModel):
    """One output of ``gridgeo run`` in the workspace's folder and whether it is current."""

    output: Literal["archive", "map", "picture", "summary", "records"]
    label: str
    files: list[str] = Field(description="file names relative to the output folder")
    state: Literal["current", "stale", "missing"]
    changes: list[str] = Field(description="what changed since it was made (网格 grids v3 → v5)")


class SaveResult(BaseModel):
    """``POST /grids/save`` and ``POST /grids/restore``."""

    version: int
    previous_version: int
    kpi_diff: list[dict[str, Any]]
    outputs: list[OutputState] = Field(
        default_factory=list,
        description=(
            "the outputs of `gridgeo run` in the workspace's folder (archive, map, summary): "
            "stale after this save until `gridgeo run` refreshes them"
        ),
    )


class ErrorBody(BaseModel):
    """A 4xx answer: what was wrong and how to fix it.

    ``errors`` lists the request fields (``field``, ``message``) of a 422, or the row errors
    of a work order (``file_line``, ``order_id``, ``field``, ``value``, ``problem``).
    """

    error: str
    detail: str
    errors: list[dict[str, Any]] | None = None


_TIME = "China time (2026-11-03 14:20) or ISO 8601 with an offset"
_KIND = "工单类型: 故障报修, 投诉, 咨询 ... or a code (fault, complaint ...)"
_SOURCE = "工单来源: 95598, 网格员, 网上国网/微信, 现场, 其他"


class OrderFields(BaseModel):
    """The fields of a work order, as :func:`gridgeo.create_order` reads them.

    Codes or the Chinese words in use (``kind`` 故障报修 / ``fault``, ``source`` 95598,
    ``satisfaction`` 满意, ``fault_kind`` 低压, ...); times in China time unless they carry an
    offset; the location is ``customer_id``, ``lon``/``lat`` in ``datum``, or ``address``.
    gridgeo checks the values (codes, timeline order, customer, point in the county).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str | None = Field(default=None, description=_KIND)
    source: str | None = Field(default=None, description=_SOURCE)
    customer_id: str | None = Field(default=None, description="户号")
    address: str | None = Field(default=None, description="故障地址 (geocoded as customers are)")
    reported_at: str | None = Field(default=None, description=f"受理时间, {_TIME}")
    dispatched_at: str | None = Field(default=None, description=f"派单时间, {_TIME}")
    departed_at: str | None = Field(default=None, description=f"出发时间, {_TIME}")
    arrived_at: str | None = Field(default=None, description=f"到达现场时间, {_TIME}")
    repaired_at: str | None = Field(default=None, description=f"修复时间, {_TIME}")
    closed_at: str | None = Field(default=None, description=f"办结时间, {_TIME}")
    called_back_at: str | None = Field(default=None, description=f"回访时间, {_TIME}")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    datum: str | None = Field(default=None, description="坐标系 of lon/lat: wgs84, gcj02, bd09")
    station_id: str | None = Field(default=None, description="抢修站 (id or name)")
    crew: str | None = Field(default=None, description="抢修人员")
    member: str | None = Field(default=None, description="网格员 (default: the grid's first)")
    predicted_eta_s: float | None = Field(default=None, ge=0)
    fault_kind: str | None = Field(default=None, description="故障类型: 高压, 低压, 客户内部")
    outage_start: str | None = Field(default=None, description=f"停电开始时间, {_TIME}")
    outage_end: str | None = Field(default=None, description=f"停电结束时间, {_TIME}")
    customers_affected: int | None = Field(default=None, ge=0, description="停电户数")
    planned: bool | None = Field(default=None, description="是否计划停电")
    result: str | None = Field(default=None, description="处理结果")
    satisfaction: str | None = Field(default=None, description="回访满意度: 满意, 基本满意, 不满意")
    first_time: bool | None = Field(default=None, description="是否一次办结")


class OrderCreate(OrderFields):
    """``POST /orders``: a new work order (``order_id``, ``kind``, ``reported_at`` required)."""

    order_id: str = Field(min_length=1, description="工单编号")
    kind: str = Field(min_length=1, description=_KIND)
    reported_at: str = Field(min_length=1, description=f"受理时间, {_TIME}")
    author: str = Field(min_length=1, description="who creates it")
    reason: str | None = Field(default=None, description="why (default: 新建工单)")


class OrderUpdate(OrderFields):
    """``PATCH /orders/{order_id}``: the fields to change (null empties one), who and why."""

    author: str = Field(min_length=1, description="who changes it")
    reason: str = Field(min_length=1, description="why")

    def changes(self) -> dict[str, Any]:
        """The order fields given in the request (author and reason aside)."""
        return self.model_dump(exclude_unset=True, exclude={"author", "reason"})


class DispatchOrder(BaseModel):
    """``POST /dispatch``: dispatch a fault and create its work order.

    The fault as for ``GET /dispatch`` (one of ``customer_id``, ``lon``+``lat`` in ``datum``,
    or ``address``); the order's number, who dispatches, and when it was reported (default
    now).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: str = Field(min_length=1, description="工单编号")
    author: str = Field(min_length=1, description="who dispatches (调度员)")
    customer_id: str | None = Field(default=None, min_length=1, description="户号")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    datum: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: str | None = Field(default=None, min_length=1, description="故障地址")
    limit_min: float | None = Field(default=None, gt=0, le=600, description="default 30")
    unavailable: list[str] = Field(default_factory=list, description="stations out of service")
    reported_at: str | None = Field(default=None, description=f"受理时间 (default now), {_TIME}")
    dispatched_at: str | None = Field(default=None, description=f"派单时间 (default now), {_TIME}")
    kind: str = Field(default="fault", min_length=1, description=_KIND)
    source: str = Field(default="95598", min_length=1, description=_SOURCE)
    crew: str | None = Field(default=None, description="抢修人员")
