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
    ``grid_id`` and ``k``; ``merge`` takes ``grid_ids``.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    op: Literal["move", "split", "merge"]
    village_codes: list[str] | None = None
    to_grid_id: str | None = None
    grid_id: str | None = None
    grid_ids: list[str] | None = None
    k: int = Field(default=DEFAULT_SPLIT_K, ge=2)

    @model_validator(mode="after")
    def _fields_of_op(self) -> GridEdit:
        needed = {
            "move": ("village_codes", "to_grid_id"),
            "split": ("grid_id",),
            "merge": ("grid_ids",),
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


class EditPreview(BaseModel):
    """``POST /grids/preview``: what the edit changes, nothing saved."""

    base_version: int
    kpi_diff: list[dict[str, Any]]
    problems: list[dict[str, Any]]


class SaveResult(BaseModel):
    """``POST /grids/save``."""

    version: int
    previous_version: int
    kpi_diff: list[dict[str, Any]]
