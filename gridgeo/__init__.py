"""gridgeo: grid-based power supply service (供电服务网格化管理) for Chinese counties.

Tiered service grids, offline Chinese address geocoding, road-network service-level
checks (30-minute repair reach, 10-minute payment access), dispatch and offline maps.
All analysis lives in this package; ``api/`` and ``maps/`` use only the names exported
here.
"""

from __future__ import annotations

from gridgeo.crs import (
    DATUMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_coordinates,
    ensure_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    metric_crs,
    to_wgs84,
    to_wgs84_geometry,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridgeo.errors import (
    ConflictError,
    CoordinateError,
    CorruptFileError,
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    GraphError,
    GridGeoError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.io import list_layers, read_layer, read_table, write_layer
from gridgeo.network import (
    CHINESE_ROAD_CLASSES,
    MODES,
    SPEEDS_KPH,
    WALK_SPEED_KPH,
    graph_from_osm,
    graph_from_roads,
    graph_summary,
    label_components,
    nodes_from_graph,
    parse_maxspeed,
    read_graphml,
    roads_from_graph,
)
from gridgeo.sample import (
    DEFAULT_SEED,
    SAMPLE_DIR,
    SampleCounty,
    generate_county,
    load_sample,
    write_sample,
)

__version__ = "0.1.0"

__all__ = [
    "CHINESE_ROAD_CLASSES",
    "DATUMS",
    "DEFAULT_SEED",
    "MODES",
    "SAMPLE_DIR",
    "SPEEDS_KPH",
    "WALK_SPEED_KPH",
    "CRSError",
    "ConflictError",
    "CoordinateError",
    "CorruptFileError",
    "DuplicateIdError",
    "EmptyDataError",
    "GraphError",
    "GridGeoError",
    "InputError",
    "InvalidGeometryError",
    "MissingColumnError",
    "NotFoundError",
    "SampleCounty",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_coordinates",
    "ensure_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "generate_county",
    "graph_from_osm",
    "graph_from_roads",
    "graph_summary",
    "in_china",
    "label_components",
    "list_layers",
    "load_sample",
    "metric_crs",
    "nodes_from_graph",
    "parse_maxspeed",
    "read_graphml",
    "read_layer",
    "read_table",
    "roads_from_graph",
    "to_wgs84",
    "to_wgs84_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
    "write_layer",
    "write_sample",
]
