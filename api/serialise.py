"""Turn gridgeo results (GeoDataFrames, DataFrames, numpy values) into JSON.

pandas writes the JSON itself (NaN → null, numpy scalars, timestamps as ISO
8601), with Chinese text kept as UTF-8 rather than ``\\u`` escapes.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import pandas as pd
from fastapi.responses import Response

GEOJSON_MEDIA_TYPE = "application/geo+json"
JSON_MEDIA_TYPE = "application/json"


def feature_collection(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (EPSG:4326) as plain Python objects."""
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    return json.loads(gdf.to_json(na="null", drop_id=True, to_wgs84=False))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a list of plain dicts (NaN → None), geometry dropped."""
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


def to_jsonable(obj: Any) -> Any:
    """Nested dicts/lists with numpy scalars and tuples → plain JSON values (NaN → None)."""
    text = json.dumps(obj, default=_default, ensure_ascii=False)
    return json.loads(text, parse_constant=lambda _: None)


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def json_response(content: Any, *, media_type: str = JSON_MEDIA_TYPE) -> Response:
    """A UTF-8 JSON response (Chinese text not escaped)."""
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, default=_default)
    return Response(content=body.encode("utf-8"), media_type=media_type)
