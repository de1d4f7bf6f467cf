"""Turn gridgeo results (GeoDataFrames, DataFrames, numpy values) into JSON.

pandas writes the JSON itself (NaN → null, numpy scalars, timestamps as ISO
8601), with Chinese text kept as UTF-8 rather than ``\\u`` escapes.

Personal data is masked here, in one place, so that no router can forget it:
when the request's role may not see personal data (领导 leadership; the flag
is set per request by :class:`api.security.SecurityMiddleware` through
:func:`show_personal_data`, and is off unless set), every dict that describes a
customer (has a ``customer_id``) gets its :data:`PERSONAL_KEYS` masked, and
:data:`ID_KEYS` (ID-card numbers, the ``removed`` customer numbers of an
import) are masked wherever they appear. Staff names and phones (grid
managers, members, party-member liaisons) are posted publicly in the villages
on the grid notice boards (网格公示牌), so they are not masked.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

import geopandas as gpd
import pandas as pd
from fastapi.responses import Response

GEOJSON_MEDIA_TYPE = "application/geo+json"
JSON_MEDIA_TYPE = "application/json"
# keys of a customer's record that are personal data
PERSONAL_KEYS = frozenset({"name", "phone", "address", "gps_lon", "gps_lat", "lon", "lat"})
# keys whose values are ID-like numbers, masked in any dict
ID_KEYS = frozenset({"id_number", "id_card", "idcard", "removed"})
_SHOW_PERSONAL: ContextVar[bool] = ContextVar("gridgeo_show_personal", default=False)


def show_personal_data(show: bool) -> None:
    """Whether the current request may see personal data (set once per request)."""
    _SHOW_PERSONAL.set(bool(show))


def personal_data_shown() -> bool:
    """Whether the current request may see personal data."""
    return _SHOW_PERSONAL.get()


def mask_text(value: Any) -> Any:
    """``包生文`` → ``包**``, ``13812345678`` → ``138****5678``; other values → None."""
    if not isinstance(value, str) or not value:
        return None if not isinstance(value, str) else value
    if value.isdigit() and len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return value[0] + "*" * max(len(value) - 1, 2)


def mask_personal(obj: Any, *, customer: bool = False) -> Any:
    """A copy of nested dicts/lists with personal data masked (see the module docstring);
    the object itself when the request may see personal data."""
    if _SHOW_PERSONAL.get():
        return obj
    return _mask(obj, customer)


def _mask(obj: Any, customer: bool) -> Any:
    if isinstance(obj, list | tuple):
        return [_mask(v, customer) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if obj.get("type") == "Feature" and isinstance(obj.get("properties"), dict):
        props = obj["properties"]
        mine = "customer_id" in props
        masked = {**obj, "properties": _mask(props, mine)}
        if mine:
            masked["geometry"] = None  # a customer's point is where they live
        return masked
    mine = customer or "customer_id" in obj
    out = {}
    for key, value in obj.items():
        if key in ID_KEYS:
            out[key] = _mask(value, mine) if isinstance(value, dict) else _mask_ids(value)
        elif mine and key in PERSONAL_KEYS:
            out[key] = mask_text(value) if isinstance(value, str) else None
        else:
            out[key] = _mask(value, False)
    return out


def _mask_ids(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_mask_ids(v) for v in value]
    return mask_text(str(value)) if value is not None else None


def feature_collection(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (EPSG:4326) as plain Python objects."""
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    return mask_personal(json.loads(gdf.to_json(na="null", drop_id=True, to_wgs84=False)))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a list of plain dicts (NaN → None), geometry dropped."""
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return mask_personal(
        json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
    )


def to_jsonable(obj: Any) -> Any:
    """Nested dicts/lists with numpy scalars and tuples → plain JSON values (NaN → None)."""
    text = json.dumps(obj, default=_default, ensure_ascii=False)
    return mask_personal(json.loads(text, parse_constant=lambda _: None))


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def json_response(content: Any, *, media_type: str = JSON_MEDIA_TYPE) -> Response:
    """A UTF-8 JSON response (Chinese text not escaped)."""
    content = mask_personal(content)
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, default=_default)
    return Response(content=body.encode("utf-8"), media_type=media_type)
