"""Road graphs for repair reach and payment access.

A road graph is a NetworkX ``MultiDiGraph`` in the OSMnx convention: ``G.graph["crs"]`` is
``"EPSG:4326"``, nodes carry ``x`` (lon) and ``y`` (lat), and every edge carries ``length`` (m,
geodesic on WGS84), ``speed_kph``, ``travel_time`` (s), ``highway``, ``oneway``, ``reversed``,
``name`` and a shapely ``geometry`` oriented from ``u`` to ``v`` (straight edges included). Nodes
also carry ``component``: the weakly connected component, 0 for the largest.

Graphs are built from an OSM extract (:func:`graph_from_osm`: ``.osm.pbf``, ``.osm``,
``.osm.gz``/``.bz2``, read with pyosmium), from a roads layer (:func:`graph_from_roads`), or from
a GraphML file saved by OSMnx (:func:`read_graphml`). :func:`roads_from_graph` and
:func:`nodes_from_graph` turn a graph back into the ``roads`` layer of the data model and a node
table.

Modes
-----
``drive``
    Roads a repair truck may use: motorway to residential, ``living_street``, ``road``,
    ``service`` (substations and pumping stations are usually reached by service roads; parking
    aisles, driveways, drive-throughs and emergency-access roads are left out) and ``track``
    (rural crews do drive tracks, slowly). Footways, paths, cycleways, steps and pedestrian
    streets are excluded, as are ways tagged ``area=yes`` and ways whose most specific access tag
    (``motorcar`` > ``motor_vehicle`` > ``vehicle`` > ``access``) is ``no``, ``private``,
    ``agricultural`` or ``forestry``. One-way streets are respected, including ``oneway=-1``;
    roundabouts (``junction=roundabout``/``circular``) and motorways are implied one-way;
    ``reversible``/``alternating`` ways are treated as two-way.
``two_wheeler``
    Electric two-wheelers (电动自行车), the common rural vehicle: every road except motorways and
    ``motorroad=yes``, plus tracks, cycleways and paths, and footways/pedestrian streets only where
    ``bicycle`` is explicitly ``yes``/``designated``/``permissive`` (access hierarchy
    ``bicycle`` > ``vehicle`` > ``access``). One-way streets are respected. Speeds are capped at
    25 km/h, the legal maximum of an electric bicycle in China (GB 17761-2018).
``walk``
    Everything walkable, footways, paths and steps included, motorways excluded (access hierarchy
    ``foot`` > ``access``); one-way tags are ignored (both directions) and the speed is a constant
    :data:`WALK_SPEED_KPH` (4.5 km/h, an unhurried adult pace, also used for off-road legs).

Speeds
------
``SPEEDS_KPH[mode][highway]`` is the default travel speed of a road class. For ``drive`` these are
typical speeds of a light repair truck on the roads of a hilly Chinese county such as 南丰县
(Nanfeng, Jiangxi), not speed limits. They follow the design speeds of the Chinese highway
standard JTG B01-2014 for hilly/mountain terrain, lowered for mixed traffic (tractors,
two-wheelers, pedestrians) through villages:

================  ==========  ==========================================================
OSM ``highway``   drive km/h  why
================  ==========  ==========================================================
motorway          90          高速公路; limit 100-120, mountain sections designed for 80-100
trunk             60          国道 (G206 through Nanfeng): class-2 highway, design 60-80,
                              slowed by towns along the valley
primary           50          省道: class 2-3, design 40-60
secondary         40          县道: class 3, design 30-40
tertiary          30          乡道: class 4 paved, design 20-30
unclassified      25          村道: 3.5-4.5 m single-lane concrete village road
residential       20          streets inside the county seat and township seats
service           15          access roads to substations, yards, pumping stations
track             12          机耕道: unpaved farm and forest tracks into the hills
living_street     10          shared space
================  ==========  ==========================================================

``*_link`` roads are slower than their class (ramps), ``road`` (an unknown class) gets 25 km/h.
Where a way has a ``maxspeed`` tag it replaces the default in ``drive`` mode (as OSMnx does;
pass ``use_maxspeed=False`` to keep the table), and caps the speed in ``two_wheeler`` mode.
:func:`parse_maxspeed` reads numbers with units (``"60 mph"``), implicit national limits
(``"CN:rural"`` = 70 km/h by article 45 of the regulations on road traffic safety, ``"DE:urban"``
= 50) and lists (``"30;50"``: the lowest value is used, because several values usually mean a
conditional limit and a service promise must hold under the stricter one).

Chinese road classes in a roads layer are mapped by :data:`CHINESE_ROAD_CLASSES` (国道 → trunk,
省道 → primary, 县道 → secondary, 乡道 → tertiary, 村道 → unclassified, 机耕道 → track, ...), and
the graph's ``highway`` attribute always holds the OSM value.

Roads layers
------------
A roads layer is one of two kinds, and :func:`road_lines` (so :func:`graph_from_roads` and
``ReachEngine.from_roads``) reads both:

*plain*
    A user's own roads, the sample county's generated roads, :func:`roads_from_graph` of one
    graph: ``highway`` with optional ``oneway``, ``speed_kph``/``maxspeed``. Each mode takes the
    rows whose class it uses, with the speed rules above; ``oneway`` binds ``drive`` and
    ``two_wheeler``, not ``walk``.
*by mode*
    What a workspace stores (:func:`roads_from_osm`, :func:`roads_from_graphs`,
    :func:`roads_for_modes`): every road piece that any mode uses, once, with ``u``, ``v``,
    ``highway``, ``name``, ``length_m`` and, per mode (:data:`MODE_COLUMNS`), ``<mode>`` (bool:
    the mode uses the piece), ``<mode>_speed_kph`` (empty where it does not) and
    ``<mode>_oneway`` (0 both ways, 1 only along the line, -1 only against it). These columns
    are read as they are, so the OSM rules that a ``highway`` class cannot carry (access tags,
    ``area``, ``motorroad``, service kinds, bicycles on footways, ``maxspeed``, one-way rules
    per mode, the merging of interstitial nodes that differs per mode) are kept: the graph of a
    mode made from :func:`roads_from_osm` has exactly the edges of :func:`graph_from_osm` in
    that mode (same node pairs and travel times; tested on real extracts). A piece is one edge
    of a mode's graph; where the modes' graphs split a road at different nodes, each mode's
    pieces are kept, so one stretch of road can be stored as a long drive piece and as the
    shorter walk pieces it is cut into where footways join it.

Roads from other sources
------------------------
A county's own roads layer (GeoPackage, Shapefile, GeoJSON; any CRS, Gauss-Krüger included;
GCJ-02/BD-09 coordinates converted on reading) rarely has OSM tags. :func:`standard_roads` (called
by :func:`road_lines`, so by :func:`graph_from_roads` and :func:`roads_for_modes`) reads it into
the plain layer above:

* the class: an OSM column (:data:`OSM_CLASS_COLUMNS`: ``highway``, or ``fclass`` of Geofabrik's
  Shapefiles) wins; otherwise, or where it is empty, a Chinese class column
  (:data:`ROAD_CLASS_COLUMNS`: ``road_class``, ``roadclass``, 道路等级, 公路等级, 行政等级,
  道路类别, 道路类型, 技术等级, ``class``, ``kind``) holding a name of
  :data:`CHINESE_ROAD_CLASSES`, a route number, or an OSM value, mapped by
  :func:`road_class_to_highway`. A layer with neither column is refused with its columns listed;
  values that are not classes are refused with their row counts (a road left out silently would
  change the service levels);
* ``speed_kph`` (km/h) from :data:`SPEED_COLUMNS` (``speed_kph``, ``speed``, 速度, 车速, 设计速度,
  限速, ...; numbers, ``"60 km/h"`` or ``"60公里/小时"``) when the layer has no ``speed_kph`` or
  ``maxspeed``; it replaces the class speed in ``drive`` and caps it in ``two_wheeler``;
* ``oneway`` from :data:`ONEWAY_COLUMNS` (``oneway``, ``one_way``, 单行, 单向, 是否单行, ...): yes/
  true/1/Y/是/单行/正向 = one-way along the drawing direction, no/false/0/N/否/双向 = two-way,
  -1/reverse/反向/逆向 = one-way against it, empty = two-way; with ``fclass`` (Geofabrik) F/T/B
  = along/against/both ways;
* ``lanes`` from :data:`LANES_COLUMNS` (``lanes``, 车道数, ...): kept in the stored layer, not used
  for speeds; ``name`` from :data:`NAME_COLUMNS` (``name``, 名称, 道路名称, 路名, ...).

Column names are matched in any case and by their first 10 characters, the length a Shapefile's
``.dbf`` keeps (a layer by mode saved as a Shapefile, ``drive_spee``, ``two_whee_1``, ..., is
read with its full names again).

The mapping (the speeds are :data:`SPEEDS_KPH`; motorways are for ``drive`` only, footways for
``walk`` and, at 8 km/h, ``two_wheeler``; ``walk`` is 4.5 km/h on every road it uses):

============  =====  ===========  ====  =================================================
OSM highway   drive  two_wheeler  walk  Chinese class: names; route numbers
============  =====  ===========  ====  =================================================
motorway      90     no           no    高速公路, 高速, 国家高速(公路), 省级高速(公路); G1-G99,
                                        G1501 (1-2 or 4 digits), G4W2 (a branch letter);
                                        S1-S99, S1xxx (provincial expressways)
trunk         60     25           yes   国道, 普通国道, 快速路, 城市快速路, 一级公路; G1xx,
                                        G2xx, G3xx, G5xx (3 digits), a bare G
primary       50     25           yes   省道, 普通省道, 主干路, 主干道, 二级公路; S + 3 digits,
                                        a bare S
secondary     40     25           yes   县道, 次干路, 次干道, 三级公路; X + number
tertiary      30     25           yes   乡道, 四级公路; Y + number
unclassified  25     22           yes   村道; C + number
service       15     15           yes   专用公路; Z + number
residential   20     18           yes   城市道路, 城区道路, 支路, 街巷
track         12     12           yes   机耕道, 机耕路, 林道, 等外公路
footway       no     8            yes   人行道, 步行道
path          no     10           yes   小路
============  =====  ===========  ====  =================================================

Route numbers follow the national rule for highway route numbering (GB/T 917-2017): national
expressways have one or two digits (G35 济广高速 by Nanfeng) or four (regional rings and links
such as G1501), ordinary national roads three (G206); provincial roads likewise (S + 1-2 or 4
digits an expressway, S + 3 digits an ordinary provincial road). A number with a letter after
its digits (G4W2, a parallel line) is an expressway; a three-digit number starting with 0 is the
former expressway numbering (G020). X, Y, C, Z are county, township, village and special-purpose
roads whatever their number.

Zero-length edges
-----------------
A way that repeats a node (a zero-length self-loop) loses that segment. Two distinct nodes at the
same position (common where ways were joined carelessly) keep their edge with a length of
:data:`MIN_EDGE_LENGTH_M` (1 cm), so that every ``travel_time`` is positive and finite and the
graph stays connected.
"""

from __future__ import annotations

import ast
import gc
import logging
import math
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, cast

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gridgeo.errors import (
    CorruptFileError,
    CRSError,
    EmptyDataError,
    GraphError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)
from gridgeo.settings import CRS, DEFAULT_SETTINGS, MODES

__all__ = [
    "CHINESE_ROAD_CLASSES",
    "LANES_COLUMNS",
    "MIN_EDGE_LENGTH_M",
    "MODES",
    "MODE_COLUMNS",
    "NAME_COLUMNS",
    "ONEWAY_COLUMNS",
    "OSM_CLASS_COLUMNS",
    "ROAD_CLASS_COLUMNS",
    "SPEEDS_KPH",
    "SPEED_COLUMNS",
    "TWO_WHEELER_MAX_KPH",
    "WALK_SPEED_KPH",
    "RoadLines",
    "coords_lengths_m",
    "graph_from_osm",
    "graph_from_roads",
    "graph_summary",
    "has_mode_columns",
    "label_components",
    "nodes_from_graph",
    "parse_maxspeed",
    "read_graphml",
    "road_class_to_highway",
    "road_lines",
    "roads_for_modes",
    "roads_from_graph",
    "roads_from_graphs",
    "roads_from_osm",
    "standard_roads",
]

logger = logging.getLogger(__name__)

WALK_SPEED_KPH = DEFAULT_SETTINGS.walk_speed_kph
TWO_WHEELER_MAX_KPH = 25.0
MAXSPEED_WALK_KPH = 7.0
MIN_EDGE_LENGTH_M = 0.01
COORD_DECIMALS = 7
# the columns of a roads layer by mode, per mode: usable (bool), speed (km/h), direction
MODE_COLUMNS: dict[str, tuple[str, str, str]] = {
    mode: (mode, f"{mode}_speed_kph", f"{mode}_oneway") for mode in MODES
}

_DRIVE_KPH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 40.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "road": 25.0,
    "residential": 20.0,
    "service": 15.0,
    "track": 12.0,
    "living_street": 10.0,
}
_TWO_WHEELER_KPH: dict[str, float] = {
    "trunk": 25.0,
    "trunk_link": 25.0,
    "primary": 25.0,
    "primary_link": 25.0,
    "secondary": 25.0,
    "secondary_link": 25.0,
    "tertiary": 25.0,
    "tertiary_link": 25.0,
    "unclassified": 22.0,
    "road": 20.0,
    "cycleway": 20.0,
    "residential": 18.0,
    "service": 15.0,
    "track": 12.0,
    "path": 10.0,
    "living_street": 10.0,
    "footway": 8.0,
    "pedestrian": 8.0,
}
_WALK_CLASSES = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "road",
    "residential",
    "living_street",
    "service",
    "track",
    "path",
    "footway",
    "pedestrian",
    "steps",
    "cycleway",
    "bridleway",
)
SPEEDS_KPH: dict[str, dict[str, float]] = {
    "drive": _DRIVE_KPH,
    "two_wheeler": _TWO_WHEELER_KPH,
    "walk": dict.fromkeys(_WALK_CLASSES, WALK_SPEED_KPH),
}

CHINESE_ROAD_CLASSES: dict[str, str] = {
    # administrative classes of highways (公路行政等级, JTG B01-2014 / GB/T 917-2017)
    "高速公路": "motorway",
    "高速": "motorway",
    "国家高速公路": "motorway",
    "国家高速": "motorway",
    "省级高速公路": "motorway",
    "省级高速": "motorway",
    "国道": "trunk",
    "普通国道": "trunk",
    "省道": "primary",
    "普通省道": "primary",
    "县道": "secondary",
    "乡道": "tertiary",
    "村道": "unclassified",
    "专用公路": "service",
    # urban roads (城市道路, CJJ 37-2012)
    "城市道路": "residential",
    "城区道路": "residential",
    "城市快速路": "trunk",
    "快速路": "trunk",
    "主干路": "primary",
    "主干道": "primary",
    "次干路": "secondary",
    "次干道": "secondary",
    "支路": "residential",
    "街巷": "residential",
    # technical grades (技术等级), for layers that have no administrative class
    "一级公路": "trunk",
    "二级公路": "primary",
    "三级公路": "secondary",
    "四级公路": "tertiary",
    "等外公路": "track",
    # below the classified roads
    "机耕道": "track",
    "机耕路": "track",
    "林道": "track",
    "人行道": "footway",
    "步行道": "footway",
    "小路": "path",
}
# every OSM class a mode uses: a class column may hold OSM values too
_OSM_ROAD_CLASSES = frozenset().union(*SPEEDS_KPH.values())
# the names shown in messages
_MAIN_CLASS_NAMES = "高速公路/国道/省道/县道/乡道/村道/专用公路/快速路/主干路/次干路/支路/机耕道"

_ACCESS_KEYS = {
    "drive": ("motorcar", "motor_vehicle", "vehicle", "access"),
    "two_wheeler": ("bicycle", "vehicle", "access"),
    "walk": ("foot", "access"),
}
_ACCESS_DENIED = frozenset({"no", "private", "agricultural", "forestry", "use_sidepath"})
_BICYCLE_ALLOWED = frozenset({"yes", "designated", "permissive"})
_DRIVE_SERVICE_EXCLUDED = frozenset(
    {"parking_aisle", "driveway", "drive-through", "parking", "emergency_access"}
)
# OSM values, and those of other sources (Y/N, 是/否, 单行/双向, 反向: one-way against the drawing
# direction); T/F are left out, Geofabrik uses them for the direction
_ONEWAY_FORWARD = frozenset({"yes", "true", "1", "y", "是", "单行", "单向", "正向", "顺向"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse", "反向", "逆向"})
_ONEWAY_NONE = frozenset(
    {"no", "false", "0", "reversible", "alternating", "n", "否", "双向", "双行"}
)
# Geofabrik's Shapefiles: F along the line, T against it, B both ways
_GEOFABRIK_ONEWAY = {"F": 1, "T": -1, "B": 0}
_IMPLIED_ONEWAY_HIGHWAY = frozenset({"motorway"})
_IMPLIED_ONEWAY_JUNCTION = frozenset({"roundabout", "circular"})

_KPH_PER_MPH = 1.609344
_KPH_PER_KNOT = 1.852
_MAXSPEED_UNITS = {
    None: 1.0,
    "km/h": 1.0,
    "kmh": 1.0,
    "kph": 1.0,
    "km/hr": 1.0,
    "mph": _KPH_PER_MPH,
    "knot": _KPH_PER_KNOT,
    "knots": _KPH_PER_KNOT,
    "kn": _KPH_PER_KNOT,
}
# implicit limits of the countries in the test data and of China; other countries fall back to
# _MAXSPEED_GENERIC_KPH by the part after the colon
_MAXSPEED_IMPLICIT_KPH = {
    "cn:urban": 50.0,
    "cn:rural": 70.0,
    "cn:motorway": 120.0,
    "cn:expressway": 100.0,
    "de:urban": 50.0,
    "de:rural": 100.0,
    "de:motorway": 130.0,
    "de:living_street": 7.0,
    "de:bicycle_road": 30.0,
    "at:urban": 50.0,
    "at:rural": 100.0,
    "at:motorway": 130.0,
    "ch:urban": 50.0,
    "ch:rural": 80.0,
    "ch:motorway": 120.0,
    "fr:urban": 50.0,
    "fr:rural": 80.0,
    "fr:motorway": 130.0,
    "it:urban": 50.0,
    "it:rural": 90.0,
    "it:motorway": 130.0,
    "gb:nsl_single": 60 * _KPH_PER_MPH,
    "gb:nsl_dual": 70 * _KPH_PER_MPH,
    "gb:motorway": 70 * _KPH_PER_MPH,
}
_MAXSPEED_GENERIC_KPH = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 10.0,
    "walk": MAXSPEED_WALK_KPH,
}
_MAXSPEED_NONE = frozenset({"none", "signals", "variable", "unknown", "no", "implicit"})
_MAXSPEED_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|km/hr|mph|knots?|kn)?")
_MAXSPEED_COUNTRY = re.compile(r"([a-z]{2}(?:-[a-z0-9]+)?)\s*:\s*(.+)")
_MAXSPEED_ZONE = re.compile(r"zone\s*:?\s*(\d+)")
_MAXSPEED_MAX_KPH = 300.0

_GEOD = pyproj.Geod(ellps="WGS84")
_UNDEFINED_COORD = 2147483647


# --------------------------------------------------------------------------- speeds and tags


def parse_maxspeed(value: Any) -> float | None:
    """
    Parse an OSM ``maxspeed`` value to km/h.

    Numbers are km/h unless a unit follows (``"60 mph"``, ``"10 knots"``); implicit limits such
    as ``"CN:rural"`` (70), ``"DE:urban"`` (50) or ``"DE:zone30"`` come from a table of national
    defaults; ``"walk"`` is walking pace (7 km/h). Several values (``"30;50"``) give the lowest,
    the limit that always holds.

    Parameters
    ----------
    value
        A tag value (string), a number, or a missing value.

    Returns
    -------
    speed_kph
        The limit in km/h, or None for ``"none"``, ``"signals"``, non-positive or implausible
        numbers (over 300 km/h), missing values and anything unreadable.
    """
    if value is None or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        speed = float(value)
        return speed if math.isfinite(speed) and 0 < speed <= _MAXSPEED_MAX_KPH else None
    if not isinstance(value, str):
        return None
    return _parse_maxspeed_str(value)


@lru_cache(maxsize=4096)
def _parse_maxspeed_str(value: str) -> float | None:
    speeds = [s for s in map(_parse_maxspeed_part, re.split(r"[;|]", value)) if s is not None]
    return min(speeds) if speeds else None


def _parse_maxspeed_part(part: str) -> float | None:
    text = part.strip().lower()
    if not text or text in _MAXSPEED_NONE:
        return None
    if text == "walk":
        return MAXSPEED_WALK_KPH
    match = _MAXSPEED_NUMBER.fullmatch(text)
    if match:
        unit = match.group(2)
        speed = float(match.group(1).replace(",", ".")) * _MAXSPEED_UNITS[unit]
        return speed if 0 < speed <= _MAXSPEED_MAX_KPH else None
    match = _MAXSPEED_COUNTRY.fullmatch(text)
    if match is None:
        return None
    country, kind = match.group(1), match.group(2).strip()
    if f"{country}:{kind}" in _MAXSPEED_IMPLICIT_KPH:
        return _MAXSPEED_IMPLICIT_KPH[f"{country}:{kind}"]
    zone = _MAXSPEED_ZONE.fullmatch(kind)
    if zone:
        speed = float(zone.group(1))
        return speed if 0 < speed <= _MAXSPEED_MAX_KPH else None
    return _MAXSPEED_GENERIC_KPH.get(kind)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        msg = f"`mode` must be one of {MODES!r}, got {mode!r}"
        raise InputError(msg)


def _normalise_highway(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in CHINESE_ROAD_CLASSES:
        return CHINESE_ROAD_CLASSES[text]
    return text.lower() or None


def _speed_table(mode: str, speeds_kph: Mapping[str, float] | None) -> dict[str, float]:
    """Default speeds of `mode` updated with the user's speeds (a new class becomes usable)."""
    table = dict(SPEEDS_KPH[mode])
    if speeds_kph is None:
        return table
    if not isinstance(speeds_kph, Mapping):
        msg = f"`speeds_kph` must map road classes to km/h, got {type(speeds_kph).__name__}"
        raise InputError(msg)
    for key, speed in speeds_kph.items():
        highway = _normalise_highway(key)
        ok = isinstance(speed, int | float) and not isinstance(speed, bool)
        if highway is None or not ok or not (math.isfinite(speed) and speed > 0):
            msg = (
                f"`speeds_kph` must map road class names to positive km/h, got {key!r}: "
                f"{speed!r}; fix the entry or leave it out to use the default"
            )
            raise InputError(msg)
        table[highway] = float(speed)
    return table


def _parse_oneway(value: Any) -> int | None:
    """1 = forward only, -1 = backward only, 0 = both ways, None = not stated."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return 1 if value else 0
    if isinstance(value, int | float | np.integer | np.floating):
        if not math.isfinite(value):
            return None
        return {1: 1, 0: 0, -1: -1}.get(int(value)) if value in (1, 0, -1) else None
    text = str(value).strip().lower()
    if text in _ONEWAY_FORWARD:
        return 1
    if text in _ONEWAY_BACKWARD:
        return -1
    if text in _ONEWAY_NONE:
        return 0
    return None


def _access_allowed(tags: Any, mode: str) -> bool:
    for key in _ACCESS_KEYS[mode]:
        value = tags.get(key)
        if value is not None:
            parts = {p.strip() for p in value.lower().split(";")}
            return not parts <= _ACCESS_DENIED
    return True


def _way_allowed(tags: Any, highway: str, mode: str) -> bool:
    """Tag rules of a mode beyond the road class (see the module docstring)."""
    if tags.get("area") == "yes":
        return False
    if mode == "drive":
        if highway == "service" and tags.get("service") in _DRIVE_SERVICE_EXCLUDED:
            return False
    elif tags.get("motorroad") == "yes":
        return False
    elif mode == "two_wheeler" and highway in ("footway", "pedestrian"):
        return tags.get("bicycle") in _BICYCLE_ALLOWED
    return _access_allowed(tags, mode)


def _way_direction(tags: Any, highway: str, mode: str) -> int:
    if mode == "walk":
        return 0
    direction = _parse_oneway(tags.get("oneway"))
    if direction is not None:
        return direction
    if highway in _IMPLIED_ONEWAY_HIGHWAY or tags.get("junction") in _IMPLIED_ONEWAY_JUNCTION:
        return 1
    return 0


def _mode_speed(default_kph: float, maxspeed_kph: float | None, mode: str) -> float:
    if mode == "walk":
        return WALK_SPEED_KPH
    if mode == "two_wheeler":
        speed = default_kph if maxspeed_kph is None else min(default_kph, maxspeed_kph)
        return min(speed, TWO_WHEELER_MAX_KPH)
    return default_kph if maxspeed_kph is None else maxspeed_kph


# --------------------------------------------------------------------------- geometry helpers


def _segment_lengths_m(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray):
    if len(x0) == 0:
        return np.zeros(0)
    _, _, dist = _GEOD.inv(x0, y0, x1, y1)
    return np.asarray(dist, dtype=float)


def _line_lengths_m(lines: np.ndarray) -> np.ndarray:
    """Geodesic length (m) of each lon/lat LineString, vectorised over all segments."""
    coords, index = shapely.get_coordinates(lines, return_index=True)
    return coords_lengths_m(coords, index, len(lines))


def coords_lengths_m(coords: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Geodesic length (m) of lines given as lon/lat ``coords`` with the line ``index`` of each."""
    same = index[1:] == index[:-1]
    seg = _segment_lengths_m(coords[:-1, 0][same], coords[:-1, 1][same], *coords[1:].T[:, same])
    return np.bincount(index[:-1][same], weights=seg, minlength=n)


def _boundary_polygon(boundary: Any) -> Any:
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if boundary.crs is None:
            msg = (
                "`boundary` has no CRS; set it first, e.g. "
                "`boundary.set_crs('EPSG:4326')` (or convert GCJ-02 data with gridgeo.crs)"
            )
            raise CRSError(msg)
        geom = boundary.to_crs(CRS).union_all()
    elif isinstance(boundary, shapely.Geometry):
        geom = boundary
    else:
        msg = (
            "`boundary` must be a shapely (Multi)Polygon in EPSG:4326 or a GeoDataFrame/"
            f"GeoSeries with a CRS, got {type(boundary).__name__}"
        )
        raise InputError(msg)
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        kind = "empty" if geom is None or geom.is_empty else geom.geom_type
        msg = f"`boundary` must be a non-empty Polygon or MultiPolygon, got {kind}"
        raise InvalidGeometryError(msg)
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        msg = (
            f"`boundary` bounds {geom.bounds!r} are not lon/lat degrees; a shapely boundary "
            "must be in EPSG:4326 (pass a GeoDataFrame with its CRS to reproject)"
        )
        raise CRSError(msg)
    shapely.prepare(geom)
    return geom


# --------------------------------------------------------------------------- OSM reading


def _read_osm_ways(path: Path, mode: str, table: dict[str, float], use_maxspeed: bool):
    """Read the usable highway ways of `path`: per-way attributes and flat node arrays."""
    import osmium
    from osmium.filter import EntityFilter, KeyFilter

    way_ids: list[int] = []
    highways: list[str] = []
    names: list[str] = []
    speeds: list[float] = []
    directions: list[int] = []
    counts: list[int] = []
    nodes: list[tuple[int, int, int]] = []
    n_highway_ways = 0
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(EntityFilter(osmium.osm.WAY))
        .with_filter(KeyFilter("highway"))
    )
    try:
        for obj in processor:
            way = cast("osmium.osm.Way", obj)  # the entity filter passes ways only
            n_highway_ways += 1
            tags = way.tags
            highway = tags.get("highway")
            if highway is None or highway not in table or not _way_allowed(tags, highway, mode):
                continue
            # NodeRefList.__iter__ goes through Python per item; the raw list is faster
            node_list = way.nodes
            raw, buf = node_list._list, node_list._pyosmium_data
            get = raw.get
            refs = []
            for i in range(raw.size(buf)):
                ref = get(buf, i)
                loc = ref.location
                refs.append((ref.ref, loc.x, loc.y))
            if len(refs) < 2:
                continue
            maxspeed = _parse_maxspeed_str(tags.get("maxspeed", "")) if use_maxspeed else None
            way_ids.append(way.id)
            highways.append(highway)
            names.append(tags.get("name") or "")
            speeds.append(_mode_speed(table[highway], maxspeed, mode))
            directions.append(_way_direction(tags, highway, mode))
            counts.append(len(refs))
            nodes.extend(refs)
    except RuntimeError as exc:
        msg = (
            f"cannot read OSM file {str(path)!r}: {exc}; pass an OSM PBF (.osm.pbf) or XML "
            "(.osm, .osm.gz, .osm.bz2) file"
        )
        raise CorruptFileError(msg) from exc
    logger.debug("read %d highway ways, %d usable for %s", n_highway_ways, len(way_ids), mode)
    if not way_ids:
        msg = (
            f"no roads usable in {mode!r} mode in {str(path)!r} ({n_highway_ways} highway ways "
            "in the file); check the file covers the area or choose another `mode`"
        )
        raise GraphError(msg)
    node_arr = np.array(nodes, dtype=np.int64).reshape(-1, 3)
    ways = {
        "osmid": np.array(way_ids, dtype=np.int64),
        "highway": np.array(highways, dtype=object),
        "name": np.array(names, dtype=object),
        "speed_kph": np.array(speeds, dtype=float),
        "direction": np.array(directions, dtype=np.int8),
    }
    way_of_node = np.repeat(np.arange(len(way_ids)), counts)
    return ways, way_of_node, node_arr


def graph_from_osm(
    path: str | Path,
    *,
    boundary: Any = None,
    mode: str = "drive",
    speeds_kph: Mapping[str, float] | None = None,
    simplify: bool = True,
    use_maxspeed: bool = True,
) -> nx.MultiDiGraph:
    """
    Build the road graph of an OSM extract.

    Parameters
    ----------
    path
        OSM file: ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2``.
    boundary
        Keep only roads inside this area: a shapely (Multi)Polygon in EPSG:4326 or a
        GeoDataFrame/GeoSeries with a CRS. Road segments with a node outside are cut off.
    mode
        One of :data:`MODES`: ``"drive"``, ``"two_wheeler"``, ``"walk"``.
    speeds_kph
        Speeds by road class that replace the defaults of :data:`SPEEDS_KPH`; a class not in
        the defaults becomes usable in this mode.
    simplify
        Contract interstitial nodes into edges that keep the full shape (as OSMnx does). A node
        stays where roads meet, end, or where ``highway``, ``name`` or the speed changes.
    use_maxspeed
        Use ``maxspeed`` tags (see :func:`parse_maxspeed`) instead of the default speeds.

    Returns
    -------
    G
        The road graph with node ``component`` labels (see :func:`label_components`).
    """
    _check_mode(mode)
    table = _speed_table(mode, speeds_kph)
    path = Path(path)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} does not exist; check the `path`"
        raise NotFoundError(msg)
    polygon = _boundary_polygon(boundary)
    ways, way_of_node, node_arr = _read_osm_ways(path, mode, table, use_maxspeed)

    # ways cut at the edge of an extract reference nodes that are not in the file: segments
    # touching such a node are left out (the way is cut there, never bridged)
    valid = (node_arr[:, 1] != _UNDEFINED_COORD) & (node_arr[:, 2] != _UNDEFINED_COORD)
    if not valid.all():
        logger.debug("%d way nodes without a location", int((~valid).sum()))
    refs = node_arr[:, 0]
    # division (not * 1e-7) gives the double nearest to the decimal degrees of the file
    lon = node_arr[:, 1] / 1e7
    lat = node_arr[:, 2] / 1e7
    seg = np.flatnonzero(
        (way_of_node[1:] == way_of_node[:-1]) & (refs[1:] != refs[:-1]) & valid[1:] & valid[:-1]
    )
    if polygon is not None:
        inside = shapely.intersects_xy(polygon, lon, lat)
        seg = seg[inside[seg] & inside[seg + 1]]
        if len(seg) == 0:
            msg = (
                f"`boundary` (bounds {polygon.bounds!r}) contains no {mode!r} road of "
                f"{str(path)!r}; check that boundary and file cover the same area and that "
                "the boundary is in EPSG:4326 (WGS84, not GCJ-02)"
            )
            raise GraphError(msg)
    if len(seg) == 0:
        msg = f"no road segment with two located nodes in {str(path)!r}"
        raise GraphError(msg)
    a, b = seg, seg + 1
    seg_len = _segment_lengths_m(lon[a], lat[a], lon[b], lat[b])
    seg_way = way_of_node[a]

    # expand to directed segments by each way's direction
    direction = ways["direction"][seg_way]
    fwd = direction >= 0
    bwd = direction <= 0
    src = np.concatenate([a[fwd], b[bwd]])
    dst = np.concatenate([b[fwd], a[bwd]])
    d_way = np.concatenate([seg_way[fwd], seg_way[bwd]])
    d_len = np.concatenate([seg_len[fwd], seg_len[bwd]])
    d_rev = np.concatenate([np.zeros(int(fwd.sum()), bool), np.ones(int(bwd.sum()), bool)])
    # reversed: travel against the way's drawing direction (OSMnx convention)

    # compact node index over the nodes used
    used = np.concatenate([src, dst])
    node_ids, first, inverse = np.unique(refs[used], return_index=True, return_inverse=True)
    node_pos = used[first]
    u_idx, v_idx = inverse[: len(src)], inverse[len(src) :]
    order = np.lexsort((d_rev, np.concatenate([a[fwd], a[bwd]]), d_way))
    u_idx, v_idx, d_way, d_len, d_rev = (arr[order] for arr in (u_idx, v_idx, d_way, d_len, d_rev))

    attr_key = pd.MultiIndex.from_arrays(
        [ways["highway"], ways["name"], ways["speed_kph"]]
    ).factorize()[0]
    edges = _merge_segments(
        u_idx, v_idx, attr_key[d_way], len(node_ids), simplify=simplify, lengths_m=d_len
    )
    chain_first, e_u, e_v, e_len, seg_order, seg_chain = edges
    node_x, node_y = lon[node_pos], lat[node_pos]
    geometry = _chain_geometry(
        u_idx[seg_order], v_idx[seg_order], seg_chain, len(e_u), node_x, node_y
    )
    way = d_way[chain_first]
    G = _assemble_graph(
        node_ids=node_ids,
        node_x=node_x,
        node_y=node_y,
        u=e_u,
        v=e_v,
        length_m=e_len,
        speed_kph=ways["speed_kph"][way],
        geometry=geometry,
        attrs={
            "osmid": ways["osmid"][way],
            "highway": ways["highway"][way],
            "name": ways["name"][way],
            "oneway": ways["direction"][way] != 0,
            "reversed": d_rev[chain_first],
        },
        graph_attrs={"mode": mode, "source": path.name, "simplified": simplify},
    )
    logger.info("road graph of %s (%s): %d nodes, %d edges", path.name, mode, len(G), len(G.edges))
    return G


# --------------------------------------------------------------------------- simplification


def _merge_segments(
    u: np.ndarray,
    v: np.ndarray,
    attr: np.ndarray,
    n_nodes: int,
    *,
    simplify: bool,
    lengths_m: np.ndarray,
):
    """
    Chain directed segments through interstitial nodes (vectorised, O(E log E)).

    A node is interstitial when it is passed through by exactly one one-way road (one segment
    in, one out, different neighbours) or one two-way road (two in, two out, from and to the
    same two neighbours), without self-loops and with the same attribute key on all incident
    segments. Each segment points to the next one of its road ("next"), chains are found by
    pointer jumping on the inverse pointer, and closed rings without any true endpoint get
    their lowest node promoted to an endpoint.

    Returns the first segment of each chain, chain u, v and length, the segment order sorted
    by (chain, position), and the chain of each sorted segment.
    """
    n_seg = len(u)
    thru = np.zeros(n_nodes, bool)
    if simplify and n_seg:
        indeg = np.bincount(v, minlength=n_nodes)
        outdeg = np.bincount(u, minlength=n_nodes)
        big = np.iinfo(np.int64).max
        pred_min = np.full(n_nodes, big)
        pred_max = np.full(n_nodes, -1)
        succ_min = np.full(n_nodes, big)
        succ_max = np.full(n_nodes, -1)
        np.minimum.at(pred_min, v, u)
        np.maximum.at(pred_max, v, u)
        np.minimum.at(succ_min, u, v)
        np.maximum.at(succ_max, u, v)
        attr_min = np.full(n_nodes, big)
        attr_max = np.full(n_nodes, -1)
        inc_node = np.concatenate([u, v])
        inc_attr = np.concatenate([attr, attr])
        np.minimum.at(attr_min, inc_node, inc_attr)
        np.maximum.at(attr_max, inc_node, inc_attr)
        node = np.arange(n_nodes)
        one_way = (indeg == 1) & (outdeg == 1) & (pred_min != succ_min)
        two_way = (
            (indeg == 2)
            & (outdeg == 2)
            & (pred_min != pred_max)
            & (pred_min == succ_min)
            & (pred_max == succ_max)
        )
        no_loop = (pred_min != node) & (pred_max != node) & (succ_min != node) & (succ_max != node)
        thru = (one_way | two_way) & no_loop & (attr_min == attr_max)

    out_order = np.argsort(u, kind="stable")
    out_start = np.searchsorted(u[out_order], np.arange(n_nodes))
    while True:
        root, rank, ring = _chain_roots(u, v, thru, out_order, out_start)
        if not ring.any():
            break
        # a closed ring of interstitial nodes: make its lowest node an endpoint, then redo
        ring_edges = np.flatnonzero(ring)
        n_ring = len(ring_edges)
        pos = np.full(n_seg, -1)
        pos[ring_edges] = np.arange(n_ring)
        nxt = _next_segment(u, v, thru, out_order, out_start)[ring_edges]
        adj = sparse.coo_matrix((np.ones(n_ring), (np.arange(n_ring), pos[nxt])), (n_ring,) * 2)
        _, label = csgraph.connected_components(adj, directed=True, connection="weak")
        lowest = pd.Series(u[ring_edges]).groupby(label).min().to_numpy()
        thru[lowest] = False

    seg_order = np.lexsort((rank, root))
    roots_sorted = root[seg_order]
    chain_first, seg_chain = np.unique(roots_sorted, return_inverse=True)
    last = np.r_[np.flatnonzero(np.diff(seg_chain)), len(seg_chain) - 1]
    e_len = np.bincount(seg_chain, weights=lengths_m[seg_order], minlength=len(chain_first))
    return chain_first, u[chain_first], v[seg_order[last]], e_len, seg_order, seg_chain


def _next_segment(u, v, thru, out_order, out_start) -> np.ndarray:
    nxt = np.full(len(u), -1)
    through = np.flatnonzero(thru[v])
    if len(through):
        start = out_start[v[through]]
        cand0 = out_order[start]
        cand1 = out_order[np.minimum(start + 1, len(u) - 1)]
        # at a two-way interstitial node, continue to the neighbour we did not come from
        nxt[through] = np.where(v[cand0] != u[through], cand0, cand1)
    return nxt


def _chain_roots(u, v, thru, out_order, out_start):
    """First segment and position of each segment on its chain (pointer jumping)."""
    n_seg = len(u)
    nxt = _next_segment(u, v, thru, out_order, out_start)
    prev = np.full(n_seg, -1)
    has_next = nxt >= 0
    prev[nxt[has_next]] = np.flatnonzero(has_next)
    ptr = np.where(prev >= 0, prev, np.arange(n_seg))
    rank = (prev >= 0).astype(np.int64)
    for _ in range(max(1, int(np.ceil(np.log2(max(n_seg, 2))))) + 2):
        ptr_next = ptr[ptr]
        if np.array_equal(ptr_next, ptr):
            break
        rank = rank + rank[ptr]
        ptr = ptr_next
    ring = prev[ptr] >= 0
    return ptr, rank, ring


def _chain_geometry(su, sv, seg_chain, n_chain, node_x, node_y) -> np.ndarray:
    """LineStrings through the nodes of each chain (segments sorted by chain and position)."""
    last = np.r_[np.flatnonzero(np.diff(seg_chain)), len(seg_chain) - 1]
    pts = np.concatenate([su, sv[last]])
    chain = np.concatenate([seg_chain, seg_chain[last]])
    position = np.concatenate([np.arange(len(su)), np.full(len(last), len(su))])
    order = np.lexsort((position, chain))
    xy = np.column_stack([node_x[pts[order]], node_y[pts[order]]])
    return shapely.linestrings(xy, indices=chain[order])


# --------------------------------------------------------------------------- graph assembly


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small dicts.

    Building 10^5-10^6 attribute dicts triggers repeated full collections that scan the whole
    heap (more than half the build time); none of these objects form cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _assemble_graph(
    *,
    node_ids: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length_m: np.ndarray,
    speed_kph: np.ndarray,
    geometry: np.ndarray,
    attrs: dict[str, np.ndarray],
    graph_attrs: dict[str, Any],
) -> nx.MultiDiGraph:
    """Build the MultiDiGraph from edge arrays over compact node indices."""
    zero_loop = (u == v) & (length_m <= 0)
    if zero_loop.any():
        keep = ~zero_loop
        u, v, length_m, speed_kph, geometry = (
            arr[keep] for arr in (u, v, length_m, speed_kph, geometry)
        )
        attrs = {k: arr[keep] for k, arr in attrs.items()}
    n_short = int((length_m < MIN_EDGE_LENGTH_M).sum())
    if n_short:
        logger.debug("%d edges between coincident nodes get the minimum length", n_short)
    length_m = np.maximum(length_m, MIN_EDGE_LENGTH_M)
    travel_time = length_m / speed_kph * 3.6
    keys = pd.DataFrame({"u": u, "v": v}).groupby(["u", "v"], sort=False).cumcount().to_numpy()

    used = np.unique(np.concatenate([u, v]))
    compact = np.full(len(node_ids), -1)
    compact[used] = np.arange(len(used))
    ids = node_ids.tolist()
    used_ids = [ids[i] for i in used.tolist()]
    component, sizes = _component_labels(used_ids, compact[u], compact[v])
    G = nx.MultiDiGraph(crs=CRS, created_with="gridgeo", **graph_attrs)
    with _gc_paused():
        G.add_nodes_from(
            (i, {"x": x, "y": y, "component": c})
            for i, x, y, c in zip(
                used_ids,
                node_x[used].tolist(),
                node_y[used].tolist(),
                component.tolist(),
                strict=True,
            )
        )
    G.graph["components"] = sizes
    id_key, *rest = attrs
    if rest != ["highway", "name", "oneway", "reversed"]:
        msg = f"internal: unexpected edge attributes {list(attrs)!r}"
        raise AssertionError(msg)

    def record(ident, highway, name, oneway, rev, length, speed, time_s, geom):
        return {
            id_key: ident,
            "highway": highway,
            "name": name,
            "oneway": oneway,
            "reversed": rev,
            "length": length,
            "speed_kph": speed,
            "travel_time": time_s,
            "geometry": geom,
        }

    columns = [attrs[k].tolist() for k in attrs]
    columns += [length_m.tolist(), speed_kph.tolist(), travel_time.tolist(), list(geometry)]
    data = map(record, *columns)
    # a fresh graph: fill the adjacency of nx.MultiDiGraph directly (succ[u][v] is the same
    # key dict as pred[v][u]); G.add_edges_from does the same several times slower
    succ, pred = G._succ, G._pred
    with _gc_paused():
        for a, b, k, d in zip(u.tolist(), v.tolist(), keys.tolist(), data, strict=True):
            ua, vb = ids[a], ids[b]
            keydict = succ[ua].get(vb)
            if keydict is None:
                keydict = succ[ua][vb] = pred[vb][ua] = {}
            keydict[k] = d
    clear_cache = getattr(nx, "_clear_cache", None)
    if clear_cache is not None:
        clear_cache(G)
    return G


def _component_labels(
    nodes: list[Any], rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """Weak component of each node (0 = largest) and the sizes, from edge index arrays."""
    n = len(nodes)
    if n == 0:
        return np.zeros(0, dtype=np.int64), []
    adj = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    n_comp, label = csgraph.connected_components(adj, directed=True, connection="weak")
    sizes = np.bincount(label, minlength=n_comp)
    try:
        rank_in_sort = np.argsort(np.argsort(np.array(nodes), kind="stable"), kind="stable")
    except TypeError:  # mixed id types: order them by their text
        rank_in_sort = np.argsort(np.argsort(np.array(nodes, dtype=str), kind="stable"))
    smallest = np.full(n_comp, n)
    np.minimum.at(smallest, label, rank_in_sort)
    comp_order = np.lexsort((smallest, -sizes))
    new_label = np.empty(n_comp, dtype=np.int64)
    new_label[comp_order] = np.arange(n_comp)
    return new_label[label], sizes[comp_order].tolist()


def label_components(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """
    Label the weakly connected components of a road graph.

    Parameters
    ----------
    G
        A road graph; it is not modified.

    Returns
    -------
    G
        A copy with node attribute ``component`` (0 = largest, then by size descending, ties
        broken by the smallest node id in the component) and ``G.graph["components"]``, the list
        of component sizes in that order.
    """
    H = G.copy()
    _label_components_inplace(H)
    return H


def _label_components_inplace(G: nx.MultiDiGraph) -> None:
    nodes = list(G.nodes)
    index = pd.Index(nodes)
    if len(G.edges):
        eu, ev = zip(*G.edges(keys=False), strict=True)
        rows, cols = index.get_indexer(list(eu)), index.get_indexer(list(ev))
    else:
        rows = cols = np.zeros(0, dtype=np.int64)
    component, sizes = _component_labels(nodes, rows, cols)
    nx.set_node_attributes(G, dict(zip(nodes, component.tolist(), strict=True)), "component")
    G.graph["components"] = sizes


# --------------------------------------------------------------------------- roads layer


def _map_unique(values: pd.Series, func: Any) -> np.ndarray:
    """``[func(x) for x in values]`` as an object array, `func` called once per distinct value
    (NA -> None)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)  # the last one for NA (code -1)
    mapped[:-1] = [func(x) for x in uniques]
    return mapped[codes]


def _oneway_column(values: pd.Series, column: str = "oneway") -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [_parse_oneway(x) for x in uniques]
    # per distinct value, and one more for NA (code -1): missing is two-way, not unreadable
    unread = np.array([p is None for p in parsed] + [False], dtype=bool)[codes]
    direction = np.array([0 if p is None else p for p in parsed] + [0], dtype=np.int8)[codes]
    bad = np.flatnonzero(unread).tolist()
    if bad:
        labels = values.index[bad[:5]].tolist()
        msg = (
            f"column `{column}` has unreadable values in rows {labels!r} (e.g. "
            f"{values.iloc[bad[0]]!r}); use True/False or 'yes'/'no'/'-1'"
        )
        raise InputError(msg)
    return direction


class RoadLines(NamedTuple):
    """The lines of a roads layer as arrays, checked and with their nodes (one row per part)."""

    node_ids: np.ndarray  # node id of each node code
    node_x: np.ndarray  # lon of each node code
    node_y: np.ndarray  # lat of each node code
    su: np.ndarray  # node code of each line's first point
    sv: np.ndarray  # node code of each line's last point
    coords: np.ndarray  # lon/lat of the lines' points, each line ending exactly at its nodes
    which: np.ndarray  # the line of each point
    length_m: np.ndarray | None  # geodesic length
    speed_kph: np.ndarray  # speed of the mode (NaN where the row is not used by it)
    direction: np.ndarray  # int8: 0 both ways, 1 along the line only, -1 against it only
    keep: np.ndarray  # bool: usable in the mode and not a zero-length loop
    row: np.ndarray  # position of the input row
    highway: np.ndarray
    name: pd.Series | None  # the input's `name` column (one row per part), if any


def _names(name: pd.Series | None, n: int) -> np.ndarray:
    """Road names as strings ("" where missing)."""
    if name is None:
        return np.full(n, "", dtype=object)
    return name.astype(object).where(name.notna(), "").astype(str).to_numpy()


def has_mode_columns(roads: pd.DataFrame) -> bool:
    """
    Whether a roads layer is a layer by mode (see "Roads layers" in the module docstring).

    Parameters
    ----------
    roads
        A roads layer.

    Returns
    -------
    bool
        True when it has every column of :data:`MODE_COLUMNS`, False when it has none of them
        (a plain layer, read by its ``highway`` classes).

    Raises
    ------
    MissingColumnError
        If it has some of the columns but not all.
    """
    wanted = [column for columns in MODE_COLUMNS.values() for column in columns]
    present = [column for column in wanted if column in roads.columns]
    if present and len(present) < len(wanted):
        missing = [column for column in wanted if column not in roads.columns]
        msg = (
            f"`roads` has the per-mode column(s) {present!r} but lacks {missing!r}; make the "
            "layer with `roads_from_osm` or `roads_for_modes`, or drop the per-mode columns to "
            "read it by its `highway` classes"
        )
        raise MissingColumnError(msg)
    return bool(present)


# --------------------------------------------------------------------------- roads of any source

# column names, most specific first; matched case-insensitively and by their first 10
# characters (a Shapefile's .dbf cuts longer names)
OSM_CLASS_COLUMNS = ("highway", "fclass")
ROAD_CLASS_COLUMNS = (
    "road_class",
    "roadclass",
    "道路等级",
    "公路等级",
    "行政等级",
    "道路类别",
    "道路类型",
    "技术等级",
    "class",
    "kind",
)
SPEED_COLUMNS = ("speed_kph", "speed_kmh", "speed", "速度", "车速", "设计速度", "设计时速", "限速")
ONEWAY_COLUMNS = ("oneway", "one_way", "单行", "单向", "是否单行", "单行道", "单向通行")
LANES_COLUMNS = ("lanes", "lane", "车道数", "车道")
NAME_COLUMNS = ("name", "road_name", "名称", "道路名称", "路名")
_SHAPEFILE_NAME_CHARS = 10
_ROAD_CODE = re.compile(r"([GSXYCZ])\s*(\d*)([A-Z]\d*)?")
_CODE_CLASSES = {"X": "secondary", "Y": "tertiary", "C": "unclassified", "Z": "service"}
_SPEED_UNITS = re.compile(r"\s*(公里/小时|公里每小时|千米/小时|km/h|kmh|kph)\s*$", re.IGNORECASE)


def _find_column(columns: pd.Index, names: tuple[str, ...]) -> str | None:
    """The first of `names` among `columns` (any case, or cut at 10 characters)."""
    by_key = {str(c).strip().lower(): c for c in columns}
    for name in names:
        for key in (name, name[:_SHAPEFILE_NAME_CHARS]):
            if key in by_key:
                return str(by_key[key])
    return None


def _shapefile_mode_columns(roads: pd.DataFrame) -> dict[str, str]:
    """The renames that restore the per-mode columns of a layer by mode saved as a Shapefile."""
    full = [column for columns in MODE_COLUMNS.values() for column in columns]
    if any(column in roads.columns for column in full if len(column) > 10):
        return {}
    # GDAL cuts names to 10 characters and numbers the repeats (_1, _2) in column order
    short: list[str] = []
    for column in full:
        cut = column[:_SHAPEFILE_NAME_CHARS]
        k = 0
        while cut in short:
            k += 1
            cut = f"{column[: _SHAPEFILE_NAME_CHARS - 1 - len(str(k))]}_{k}"
        short.append(cut)
    renames = {s: f for s, f in zip(short, full, strict=True) if s != f}
    return renames if all(s in roads.columns for s in short) else {}


def road_class_to_highway(value: Any) -> str | None:
    """
    The OSM ``highway`` equivalent of a road class of a Chinese roads layer.

    Parameters
    ----------
    value
        A Chinese class name of :data:`CHINESE_ROAD_CLASSES` (国道, 县道, 主干路, ...), a route
        number or its prefix (``"G206"``, ``"G35"``, ``"S223"``, ``"X512"``, ``"Y"``, ``"C"``,
        ``"Z"``), or an OSM ``highway`` value.

    Returns
    -------
    highway
        The OSM value (see "Roads from other sources" in the module docstring), or None when the
        value is missing or not a road class.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text in CHINESE_ROAD_CLASSES:
        return CHINESE_ROAD_CLASSES[text]
    code = _ROAD_CODE.fullmatch(text.upper())
    if code is not None:
        letter, digits, suffix = code.groups()
        if letter in _CODE_CLASSES:
            return _CODE_CLASSES[letter]
        # G/S: 1-2 or 4 digits, a branch letter (G4W2) or an old 0xx number is an expressway;
        # 3 digits (G206, S223) is an ordinary national / provincial road
        expressway = bool(suffix) or len(digits) in (1, 2, 4) or digits.startswith("0")
        if expressway and digits:
            return "motorway"
        return "trunk" if letter == "G" else "primary"
    lowered = text.lower()
    if lowered in _OSM_ROAD_CLASSES:
        return lowered
    return None


def _value_counts_text(values: pd.Series, limit: int = 10) -> str:
    counts = values.fillna("(空 empty)").astype(str).value_counts(sort=True)
    shown = ", ".join(f"{v!r} ({n} 行 rows)" for v, n in counts.iloc[:limit].items())
    more = f" and {len(counts) - limit} more" if len(counts) > limit else ""
    return shown + more


def _class_column(data: gpd.GeoDataFrame, column: str) -> pd.Series:
    """The OSM class of each row from a Chinese class column; unknown values refused."""
    codes, uniques = pd.factorize(data[column], use_na_sentinel=True)
    mapped = [road_class_to_highway(x if isinstance(x, str) else str(x)) for x in uniques]
    highway = np.array([*mapped, None], dtype=object)[codes]
    unknown = pd.isna(highway)
    if unknown.any():
        msg = (
            f"道路等级无法识别 / column {column!r} has road classes gridgeo does not know: "
            f"{_value_counts_text(data[column][unknown])}; accepted: {_MAIN_CLASS_NAMES} "
            "(all in the README, 'Roads from other sources'), route numbers G/S/X/Y/C/Z (G35, "
            "G206, S223, X512, ...) or OSM highway values; correct those rows or delete them"
        )
        raise InputError(msg)
    return pd.Series(highway, index=data.index, dtype=object)


def _number_column(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A positive number per row (NaN where empty); unreadable values refused."""
    values = data[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        number = values.to_numpy(dtype=float, na_value=np.nan, copy=True)
    else:
        text = values.astype(object).where(values.notna(), None)
        number = np.array(
            _map_unique(
                text.map(lambda x: _SPEED_UNITS.sub("", str(x)) if x is not None else None),
                lambda x: parse_maxspeed(x) if x is not None and x.strip() else np.nan,
            ),
            dtype=float,
        )
    empty = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    bad = ~empty & ~(np.isfinite(number) & (number > 0))
    if bad.any():
        labels = data.index[np.flatnonzero(bad)[:5]].tolist()
        msg = (
            f"{what}无法读取 / column {column!r} must hold positive numbers ({what}), rows "
            f"{labels!r} do not (e.g. {values.iloc[int(np.flatnonzero(bad)[0])]!r}); correct "
            "them or leave them empty"
        )
        raise InputError(msg)
    number[empty] = np.nan
    return number


def _oneway_values(data: pd.DataFrame, column: str) -> np.ndarray:
    """-1/0/1 per row from a one-way column of any source (empty = two-way)."""
    values = data[column]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [_parse_oneway(x) for x in uniques]
    blank = [isinstance(x, str) and not x.strip() for x in uniques]
    unread = np.array(
        [p is None and not b for p, b in zip(parsed, blank, strict=True)] + [False], bool
    )[codes]
    if unread.any():
        labels = data.index[np.flatnonzero(unread)[:5]].tolist()
        msg = (
            f"单行字段无法读取 / column {column!r} has one-way values gridgeo cannot read in rows "
            f"{labels!r} (e.g. {values.iloc[int(np.flatnonzero(unread)[0])]!r}); use yes/no, "
            "1/0, 是/否, or -1/反向 for a road one-way against its drawing direction"
        )
        raise InputError(msg)
    return np.array([0 if p is None else p for p in parsed] + [0], dtype=np.int8)[codes]


def standard_roads(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """
    Read the road class, speed, one-way, lanes and name columns of a roads layer of any source.

    A plain roads layer (see "Roads layers" and "Roads from other sources" in the module
    docstring) gets the standard columns ``highway`` (the OSM class), ``speed_kph``,
    ``oneway`` (-1/0/1), ``lanes`` and ``name`` from the columns it has under any accepted
    name; a layer by mode (per-mode columns cut to 10 characters by a Shapefile included) is
    returned with its column names restored.

    Parameters
    ----------
    roads
        A roads layer with an OSM ``highway`` column (or ``fclass``, as in Geofabrik's
        Shapefiles) or a Chinese class column (:data:`ROAD_CLASS_COLUMNS`), optional speed
        (:data:`SPEED_COLUMNS`, km/h), one-way (:data:`ONEWAY_COLUMNS`), lanes
        (:data:`LANES_COLUMNS`) and name (:data:`NAME_COLUMNS`) columns.

    Returns
    -------
    roads
        A copy with the standard columns (only those it has a source for); the other columns
        and the index are kept. ``highway`` keeps its values where given; its missing values
        are filled from a Chinese class column when there is one.

    Raises
    ------
    MissingColumnError
        If the layer has no class column (the message lists its columns and the accepted names
        and values).
    InputError
        If the class column has values that are not road classes (listed with their row
        counts), or a speed, one-way or lanes column has unreadable values.
    """
    renames = _shapefile_mode_columns(roads)
    if renames:
        return roads.rename(columns=renames)
    if has_mode_columns(roads):
        return roads
    out = roads.copy()
    osm_column = _find_column(roads.columns, OSM_CLASS_COLUMNS)
    class_column = _find_column(roads.columns, ROAD_CLASS_COLUMNS)
    if osm_column is None and class_column is None:
        columns = [str(c) for c in roads.columns if c != roads.active_geometry_name]
        msg = (
            f"道路图层没有道路等级列 / `roads` has no column 'highway' and no road class column "
            f"(its columns: {columns!r}); add a column 'highway' (OSM values such as 'primary') "
            f"or {'/'.join(ROAD_CLASS_COLUMNS[:4])} holding {_MAIN_CLASS_NAMES} or route "
            "numbers G/S/X/Y/C/Z (G206, X512, ...)"
        )
        raise MissingColumnError(msg)
    if osm_column is not None:
        highway = roads[osm_column].astype(object)
        if osm_column.lower() == "fclass":  # Geofabrik's Shapefiles grade their tracks
            highway = highway.replace(
                {f"track_grade{k}": "track" for k in range(1, 6)} | {"unknown": None}
            )
        missing = highway.isna() | (highway.astype(str).str.strip() == "")
        if class_column is not None and class_column != osm_column and missing.any():
            highway = highway.where(~missing, _class_column(roads.loc[missing], class_column))
        out["highway"] = highway.where(highway.notna(), None)
    else:
        assert class_column is not None
        out["highway"] = _class_column(roads, class_column)
    if "speed_kph" not in roads.columns and "maxspeed" not in roads.columns:
        speed_column = _find_column(roads.columns, SPEED_COLUMNS)
        if speed_column is not None:
            out["speed_kph"] = _number_column(roads, speed_column, "速度 speed km/h")
    oneway_column = _find_column(roads.columns, ONEWAY_COLUMNS)
    if oneway_column is not None and osm_column is not None and osm_column.lower() == "fclass":
        geofabrik = roads[[oneway_column]].replace({oneway_column: _GEOFABRIK_ONEWAY})
        out["oneway"] = _oneway_values(geofabrik, oneway_column)
    elif oneway_column is not None and "oneway" not in roads.columns:
        out["oneway"] = _oneway_values(roads, oneway_column)
    lanes_column = _find_column(roads.columns, LANES_COLUMNS)
    if lanes_column is not None:
        out["lanes"] = _number_column(roads, lanes_column, "车道数 lanes")
    if "name" not in roads.columns:
        name_column = _find_column(roads.columns, NAME_COLUMNS)
        if name_column is not None:
            out["name"] = roads[name_column]
    return out


def _flag_column(values: pd.Series, column: str) -> np.ndarray:
    """A yes/no column as booleans (missing = no)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [_parse_oneway(x) for x in uniques]
    # per distinct value, and one more for NA (code -1)
    unread = np.array([p not in (0, 1) for p in parsed] + [False], dtype=bool)[codes]
    if unread.any():
        bad = np.flatnonzero(unread)
        labels = values.index[bad[:5]].tolist()
        msg = (
            f"column `{column}` has values that are not yes/no in rows {labels!r} (e.g. "
            f"{values.iloc[bad[0]]!r}); use True/False"
        )
        raise InputError(msg)
    return np.array([p == 1 for p in parsed] + [False], dtype=bool)[codes]


def _mode_values(data: pd.DataFrame, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable, speed and direction of each row of a layer by mode, from its columns."""
    flag_column, speed_column, oneway_column = MODE_COLUMNS[mode]
    usable = _flag_column(data[flag_column], flag_column)
    if not usable.any():
        msg = f"no row of `roads` is usable in {mode!r} mode (column {flag_column!r} is all False)"
        raise GraphError(msg)
    speed = pd.to_numeric(data[speed_column], errors="coerce").to_numpy(dtype=float, copy=True)
    bad = usable & ~(np.isfinite(speed) & (speed > 0))
    if bad.any():
        labels = data.index[np.flatnonzero(bad)[:5]].tolist()
        msg = (
            f"column `{speed_column}` must be a positive speed in km/h where `{flag_column}` is "
            f"True; rows {labels!r} are not"
        )
        raise InputError(msg)
    speed[~usable] = np.nan
    direction = _oneway_column(data[oneway_column].where(usable), oneway_column)
    return usable, speed, direction


def _class_values(
    data: pd.DataFrame,
    mode: str,
    table: dict[str, float],
    hw_codes: np.ndarray,
    hw_classes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable, speed and direction of each row of a plain layer, by its `highway` class."""
    classes = set(hw_classes[:-1].tolist()) | ({None} if (hw_codes < 0).any() else set())
    known = set(table).union(*(SPEEDS_KPH[m] for m in MODES))
    unknown = sorted(str(h) for h in classes - known - {None})
    if unknown or None in classes:
        msg = (
            f"`roads` column 'highway' has values that are not road classes, left out: "
            f"{unknown[:10]!r}{' and missing values' if None in classes else ''}"
        )
        warnings.warn(msg, stacklevel=4)
    default = np.array([table.get(h) for h in hw_classes.tolist()], dtype=float)[hw_codes]
    usable = ~np.isnan(default)
    if not usable.any():
        msg = (
            f"no row of `roads` has a road class usable in {mode!r} mode (classes: "
            f"{sorted(str(h) for h in classes)!r})"
        )
        raise GraphError(msg)

    given = np.full(len(data), np.nan)
    if "speed_kph" in data.columns:
        given = pd.to_numeric(data["speed_kph"], errors="coerce").to_numpy(dtype=float, copy=True)
        given[~(given > 0) | ~np.isfinite(given)] = np.nan
    if "maxspeed" in data.columns:
        parsed = np.array(_map_unique(data["maxspeed"], parse_maxspeed), dtype=float)
        given = np.where(np.isnan(given), parsed, given)
    if mode == "walk":
        speed = np.full(len(data), WALK_SPEED_KPH)
    elif mode == "two_wheeler":
        speed = np.minimum(np.fmin(default, given), TWO_WHEELER_MAX_KPH)
    else:
        speed = np.where(np.isnan(given), default, given)

    if mode == "walk" or "oneway" not in data.columns:
        direction = np.zeros(len(data), dtype=np.int8)
    else:
        direction = _oneway_column(data["oneway"])
    return usable, speed, direction


def road_lines(
    roads: gpd.GeoDataFrame,
    mode: str,
    speeds_kph: Mapping[str, float] | None,
    *,
    lengths: bool = True,
) -> RoadLines:
    """Check a roads layer and read its lines into arrays (see :func:`graph_from_roads`).

    The rows usable in ``mode``, their speed and direction come from the layer's columns of
    ``mode`` in a layer by mode (:data:`MODE_COLUMNS`), else from the ``highway`` class rules
    (see "Roads layers" in the module docstring). ``lengths=False`` leaves ``length_m`` None
    (the caller computes it when it suits).
    """
    _check_mode(mode)
    table = _speed_table(mode, speeds_kph)
    if not isinstance(roads, gpd.GeoDataFrame):
        msg = f"`roads` must be a GeoDataFrame of LineStrings, got {type(roads).__name__}"
        raise InputError(msg)
    if roads.active_geometry_name not in roads.columns:
        msg = "`roads` has no geometry column; set one with `roads.set_geometry(...)`"
        raise MissingColumnError(msg)
    roads = standard_roads(roads)  # the class, speed, one-way columns of any source
    by_mode = has_mode_columns(roads)
    if by_mode and speeds_kph is not None:
        msg = (
            "`speeds_kph` cannot change a roads layer by mode (its speeds are stored per mode); "
            "pass the speeds when the layer is made (`roads_from_osm(..., speeds_kph=...)`)"
        )
        raise InputError(msg)
    if roads.crs is None:
        msg = "`roads` has no CRS; set it with `roads.set_crs(...)` (it is never guessed)"
        raise CRSError(msg)
    if len(roads) == 0:
        msg = "`roads` has no rows"
        raise EmptyDataError(msg)
    geoms = roads.geometry.to_numpy()
    type_id = shapely.get_type_id(geoms)
    bad = (~np.isin(type_id, (1, 5))) | shapely.is_empty(geoms)
    if bad.any():
        labels = roads.index[bad][:5].tolist()
        kinds = sorted({str(g.geom_type) if g is not None else "None" for g in geoms[bad]})
        msg = (
            f"`roads` has {int(bad.sum())} rows that are not non-empty LineStrings (rows "
            f"{labels!r}, types {kinds!r}); drop or fix them"
        )
        raise InvalidGeometryError(msg)

    data = roads.to_crs(CRS) if not roads.crs.equals(pyproj.CRS(CRS)) else roads
    if (type_id == 5).any():  # MultiLineStrings into their parts (get_parts is costly)
        data = data.assign(_row=np.arange(len(data))).explode(index_parts=False)
        row = data["_row"].to_numpy()
    else:
        row = np.arange(len(data))
    lines = data.geometry.to_numpy()

    # one pass over the distinct classes (the last entry is for missing values)
    hw_codes, hw_uniques = pd.factorize(data["highway"], use_na_sentinel=True)
    hw_classes = np.empty(len(hw_uniques) + 1, dtype=object)
    hw_classes[:-1] = [_normalise_highway(x) for x in hw_uniques]
    highway = hw_classes[hw_codes]
    if by_mode:
        usable, speed, direction = _mode_values(data, mode)
    else:
        usable, speed, direction = _class_values(data, mode, table, hw_codes, hw_classes)
    name = data["name"] if "name" in data.columns else None  # strings made by graph_from_roads

    coords, which = shapely.get_coordinates(lines, return_index=True)
    first_pt = np.searchsorted(which, np.arange(len(lines)))
    last_pt = np.r_[first_pt[1:], len(which)] - 1
    start, end = coords[first_pt], coords[last_pt]
    if "u" in data.columns and "v" in data.columns:
        if data["u"].isna().any() or data["v"].isna().any():
            labels = roads.index[row[(data["u"].isna() | data["v"].isna()).to_numpy()]][:5].tolist()
            msg = f"`roads` columns 'u'/'v' have missing node ids in rows {labels!r}"
            raise InputError(msg)
        ends = np.concatenate([data["u"].to_numpy(), data["v"].to_numpy()])
        codes, node_ids = pd.factorize(ends)
        node_ids = np.asarray(node_ids)
    else:
        xy = np.round(np.concatenate([start, end]), COORD_DECIMALS)
        node_ids, codes = np.unique(xy, axis=0, return_inverse=True)
        node_ids = np.arange(len(node_ids))
        codes = codes.ravel()
    n = len(data)
    su, sv = codes[:n], codes[n:]
    ends_xy = np.concatenate([start, end])
    # the first end point of each node (its coordinates win)
    first = np.full(len(node_ids), 2 * n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(2 * n))
    node_x, node_y = ends_xy[first, 0], ends_xy[first, 1]

    # make every line start and end exactly at its nodes (ends within the rounding differ)
    new_first = np.column_stack([node_x[su], node_y[su]])
    new_last = np.column_stack([node_x[sv], node_y[sv]])
    d_first = np.abs(coords[first_pt] - new_first)
    d_last = np.abs(coords[last_pt] - new_last)
    moved = np.maximum(
        np.maximum(d_first[:, 0], d_first[:, 1]), np.maximum(d_last[:, 0], d_last[:, 1])
    )
    if (moved > 1e-5).any():  # about 1 m: the given u/v do not fit the geometry
        labels = roads.index[row[moved > 1e-5]][:5].tolist()
        msg = (
            f"{int((moved > 1e-5).sum())} lines of `roads` do not end at the position of "
            f"their `u`/`v` node (rows {labels!r}); they were moved to the node"
        )
        warnings.warn(msg, stacklevel=3)
    coords[first_pt] = new_first
    coords[last_pt] = new_last
    loop = su == sv
    length = coords_lengths_m(coords, which, len(lines)) if lengths else None
    if length is not None:
        zero_loop = loop & (length <= 0)
    else:  # the lengths of the closed lines only
        on_loop = loop[which]
        zero_loop = loop & (coords_lengths_m(coords[on_loop], which[on_loop], len(lines)) <= 0)
    if zero_loop.any():
        labels = roads.index[row[zero_loop]][:5].tolist()
        msg = f"{int(zero_loop.sum())} zero-length closed lines in `roads` left out: {labels!r}"
        warnings.warn(msg, stacklevel=3)
    keep = usable & ~zero_loop
    return RoadLines(
        node_ids=node_ids,
        node_x=node_x,
        node_y=node_y,
        su=su,
        sv=sv,
        coords=coords,
        which=which,
        length_m=length,
        speed_kph=speed,
        direction=direction,
        keep=keep,
        row=row,
        highway=highway,
        name=name,
    )


def graph_from_roads(
    roads: gpd.GeoDataFrame,
    *,
    mode: str = "drive",
    speeds_kph: Mapping[str, float] | None = None,
) -> nx.MultiDiGraph:
    """
    Build a road graph from a roads layer.

    Each line becomes one edge per allowed direction; lines meet where their end points
    coincide (after rounding to 1e-7 degree), so the layer must be split at junctions. Lines
    that only cross (bridges, or an unsplit layer) are not joined.

    Parameters
    ----------
    roads
        LineStrings (MultiLineStrings are split into their parts) in any CRS, with column
        ``highway`` (OSM value or a Chinese class of :data:`CHINESE_ROAD_CLASSES`) and optional
        ``oneway`` (bool or ``"yes"``/``"no"``/``"-1"``; missing = two-way), ``speed_kph`` or
        ``maxspeed``, ``name``, and ``u``/``v`` node ids (otherwise ids are numbered from the
        sorted end-point coordinates). A layer by mode (:func:`roads_from_osm`,
        :func:`roads_for_modes`) gives each mode's rows, speeds and directions in its columns
        of :data:`MODE_COLUMNS` instead (see "Roads layers" in the module docstring).
    mode
        One of :data:`MODES`; road classes not used by the mode are left out.
    speeds_kph
        Speeds by road class that replace the defaults of :data:`SPEEDS_KPH` (a plain layer
        only: a layer by mode takes its speeds when it is made).

    Returns
    -------
    G
        The road graph with node ``component`` labels; edges carry ``road_index``, the input
        row's index label.
    """
    r = road_lines(roads, mode, speeds_kph)
    fwd = r.keep & (r.direction >= 0)
    bwd = r.keep & (r.direction <= 0)
    idx = np.concatenate([np.flatnonzero(fwd), np.flatnonzero(bwd)])
    is_rev = np.concatenate([np.zeros(int(fwd.sum()), bool), np.ones(int(bwd.sum()), bool)])
    order = np.lexsort((is_rev, idx))
    idx, is_rev = idx[order], is_rev[order]
    geometry = shapely.linestrings(r.coords, indices=r.which)[idx]
    geometry[is_rev] = shapely.reverse(geometry[is_rev])  # edges against the line's direction
    su, sv = r.su[idx], r.sv[idx]
    assert r.length_m is not None  # computed by road_lines
    G = _assemble_graph(
        node_ids=r.node_ids,
        node_x=r.node_x,
        node_y=r.node_y,
        u=np.where(is_rev, sv, su),
        v=np.where(is_rev, su, sv),
        length_m=r.length_m[idx],
        speed_kph=r.speed_kph[idx],
        geometry=geometry,
        attrs={
            "road_index": np.asarray(roads.index[r.row[idx]], dtype=object),
            "highway": r.highway[idx],
            "name": _names(r.name, len(r.row))[idx],
            "oneway": r.direction[idx] != 0,
            "reversed": is_rev,
        },
        graph_attrs={"mode": mode, "source": "roads", "simplified": False},
    )
    return G


def _edge_frame(G: nx.MultiDiGraph) -> pd.DataFrame:
    cols = ("highway", "name", "length", "speed_kph", "oneway", "travel_time", "geometry")
    with _gc_paused():
        edges = [
            (u, v, k, d)
            for u, nbrs in G.adj.items()
            for v, keydict in nbrs.items()
            for k, d in keydict.items()
        ]
        frame = {
            "u": [e[0] for e in edges],
            "v": [e[1] for e in edges],
            "key": [e[2] for e in edges],
        }
        for c in cols:
            frame[c] = [e[3].get(c) for e in edges]
    return pd.DataFrame(frame, columns=["u", "v", "key", *cols])


def _road_mask(G: nx.MultiDiGraph, edges: pd.DataFrame) -> np.ndarray:
    """True for one edge per road: a two-way road's reverse twin is False."""
    if len(edges) == 0:
        return np.zeros(0, bool)
    pos = pd.Series(np.arange(len(G)), index=pd.Index(list(G.nodes)))
    pu = pos[edges["u"].to_numpy()].to_numpy()
    pv = pos[edges["v"].to_numpy()].to_numpy()
    oneway = edges["oneway"].fillna(False).astype(bool).to_numpy()
    frame = pd.DataFrame(
        {
            "a": np.minimum(pu, pv),
            "b": np.maximum(pu, pv),
            "len": np.round(edges["length"].astype(float).to_numpy(), 1),
            "fwd": pu <= pv,
            "loop": pu == pv,
        }
    )
    two_way = ~oneway
    grp = frame[two_way].groupby(["a", "b", "len"], sort=False)
    n_fwd = grp["fwd"].transform("sum").to_numpy()
    n_all = grp["fwd"].transform("size").to_numpy()
    nth = grp.cumcount().to_numpy()
    fwd = frame["fwd"].to_numpy()[two_way]
    loop = frame["loop"].to_numpy()[two_way]
    keep_fwd = n_fwd >= n_all - n_fwd
    keep = np.where(loop, nth < np.ceil(n_all / 2), fwd == keep_fwd)
    mask = np.ones(len(edges), bool)
    mask[two_way] = keep
    return mask


def roads_from_graph(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """
    Turn a road graph into the ``roads`` layer of the data model.

    A two-way road is one row with ``oneway`` False (its reverse edge is not repeated), so
    :func:`graph_from_roads` rebuilds the same graph from the layer.

    Parameters
    ----------
    G
        A road graph in EPSG:4326.

    Returns
    -------
    roads
        Columns ``u``, ``v``, ``key``, ``highway``, ``name``, ``length_m``, ``speed_kph``,
        ``oneway``, ``travel_time_s``, ``geometry`` (EPSG:4326).
    """
    edges = _edge_frame(G)
    mask = _road_mask(G, edges)
    edges = edges[mask].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "u": edges["u"],
            "v": edges["v"],
            "key": edges["key"].astype("int64"),
            "highway": edges["highway"].astype(object),
            "name": edges["name"].astype(object),
            "length_m": edges["length"].astype(float),
            "speed_kph": edges["speed_kph"].astype(float),
            "oneway": edges["oneway"].fillna(False).astype(bool),
            "travel_time_s": edges["travel_time"].astype(float),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=edges["geometry"].to_numpy(), crs=CRS)


def _mode_speed_tables(
    speeds_kph: Mapping[str, Mapping[str, float] | None] | None,
) -> dict[str, Mapping[str, float] | None]:
    """``{mode: speeds or None}`` from the per-mode speeds a layer by mode is made with."""
    if speeds_kph is None:
        return dict.fromkeys(MODES)
    if not isinstance(speeds_kph, Mapping) or set(speeds_kph) - set(MODES):
        got = sorted(map(str, speeds_kph)) if isinstance(speeds_kph, Mapping) else speeds_kph
        msg = (
            f"`speeds_kph` must map modes {MODES!r} to speeds by road class (e.g. "
            f"{{'drive': {{'track': 8}}}}), got {got!r}"
        )
        raise InputError(msg)
    return {mode: speeds_kph.get(mode) for mode in MODES}


def _layer_by_mode(
    frame: dict[str, Any],
    geometry: np.ndarray,
    per_mode: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> gpd.GeoDataFrame:
    """The layer by mode from its common columns and ``{mode: (usable, speed, direction)}``."""
    n = len(geometry)
    for mode in MODES:
        flag_column, speed_column, oneway_column = MODE_COLUMNS[mode]
        usable, speed, direction = per_mode.get(
            mode, (np.zeros(n, bool), np.full(n, np.nan), np.zeros(n, np.int32))
        )
        frame[flag_column] = usable
        frame[speed_column] = np.where(usable, speed, np.nan)
        frame[oneway_column] = np.where(usable, direction, 0).astype(np.int32)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS)


def roads_from_graphs(graphs: Mapping[str, nx.MultiDiGraph]) -> gpd.GeoDataFrame:
    """
    Make the roads layer by mode of the road graphs of several modes.

    Every edge of every graph is in the layer: the edges of one mode that have the same ends,
    geometry, ``highway`` and ``name`` as edges of another are one row, with the speed and
    direction of each mode (see "Roads layers" in the module docstring). A two-way road of a
    mode (its two edges, one the other's reverse, at the same speed) is one row with
    ``<mode>_oneway`` 0. A row is drawn the way the first mode that has it may use it when
    that mode may use it one way only, else from its lower node id.

    Parameters
    ----------
    graphs
        ``{mode: G}`` for some or all of :data:`MODES`, road graphs in EPSG:4326 such as
        :func:`graph_from_osm` makes; a mode left out uses no row.

    Returns
    -------
    roads
        Columns ``u``, ``v``, ``highway``, ``name``, ``length_m``, the columns of
        :data:`MODE_COLUMNS` and ``geometry`` (EPSG:4326); the rows of the first mode's edges
        first, in its edge order. For every mode, :func:`graph_from_roads` of the layer has the
        node pairs and travel times of that mode's graph.

    Raises
    ------
    InputError
        If ``graphs`` is empty or has a key that is not a mode.
    GraphError
        If a graph is not a directed road graph or has no edges.
    CRSError
        If a graph is not in EPSG:4326.
    """
    if not isinstance(graphs, Mapping) or not graphs or set(graphs) - set(MODES):
        got = sorted(map(str, graphs)) if isinstance(graphs, Mapping) else type(graphs).__name__
        msg = f"`graphs` must map some of the modes {MODES!r} to road graphs, got {got!r}"
        raise InputError(msg)
    frames = []
    for number, mode in enumerate(m for m in MODES if m in graphs):
        G = graphs[mode]
        if not isinstance(G, nx.DiGraph) or next(iter(G.edges), None) is None:
            msg = f"`graphs[{mode!r}]` must be a directed road graph with edges, got {G!r}"
            raise GraphError(msg)
        crs = G.graph.get("crs")
        if crs is None or not pyproj.CRS.from_user_input(crs).equals(pyproj.CRS(CRS)):
            msg = f'`graphs[{mode!r}].graph["crs"]` must be EPSG:4326, got {crs!r}'
            raise CRSError(msg)
        edges = _edge_frame(G)
        frames.append(edges.assign(mode=number, pos=np.arange(len(edges))))
    modes = [m for m in MODES if m in graphs]
    edges = pd.concat(frames, ignore_index=True)
    n = len(edges)

    # each edge drawn one canonical way: from the lower node id (ids that do not sort: the one
    # seen first; a loop: the way its second point sorts lower than its last but one), so that
    # an edge and its reverse meet
    codes, ids = pd.factorize(pd.concat([edges["u"], edges["v"]], ignore_index=True))
    try:
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.argsort(np.asarray(ids), kind="stable")] = np.arange(len(ids))
        codes = rank[codes]
    except TypeError:
        pass
    cu, cv = codes[:n], codes[n:]
    geoms = edges["geometry"].to_numpy()
    flip = cu > cv
    loop = np.flatnonzero(cu == cv)
    if len(loop):
        xy, which = shapely.get_coordinates(geoms[loop], return_index=True)
        start = np.searchsorted(which, np.arange(len(loop)))
        end = np.r_[start[1:], len(which)] - 1
        second, last_but_one = xy[np.minimum(start + 1, end)], xy[np.maximum(end - 1, start)]
        flip[loop] = (second[:, 0] > last_but_one[:, 0]) | (
            (second[:, 0] == last_but_one[:, 0]) & (second[:, 1] > last_but_one[:, 1])
        )
    canon = geoms.copy()
    canon[flip] = shapely.reverse(geoms[flip])
    key = (
        pd.DataFrame(
            {
                "a": np.where(flip, cv, cu),
                "b": np.where(flip, cu, cv),
                "wkb": shapely.to_wkb(canon),
                "highway": edges["highway"].to_numpy(),
                "name": edges["name"].to_numpy(),
            }
        )
        .groupby(["a", "b", "wkb", "highway", "name"], sort=False, dropna=False)
        .ngroup()
        .to_numpy()
    )

    # per mode, key and speed: pair an edge with its reverse (a two-way piece); the rest are
    # one-way pieces along (+1) or against (-1) the canonical drawing
    counts = (
        pd.DataFrame(
            {
                "mode": edges["mode"].to_numpy(),
                "key": key,
                "speed": edges["speed_kph"].to_numpy(dtype=float),
                "pos": edges["pos"].to_numpy(),
                "along": ~flip,
                "against": flip,
            }
        )
        .groupby(["mode", "key", "speed"], sort=False)
        .agg(pos=("pos", "min"), along=("along", "sum"), against=("against", "sum"))
        .reset_index()
    )
    both = np.minimum(counts["along"], counts["against"]).to_numpy()
    pieces = []
    for order, (way, how_many) in enumerate(
        ((0, both), (1, counts["along"].to_numpy() - both), (-1, counts["against"] - both))
    ):
        take = np.repeat(np.arange(len(counts)), np.asarray(how_many))
        pieces.append(
            counts.iloc[take][["mode", "key", "speed", "pos"]].assign(direction=way, order=order)
        )
    piece = pd.concat(pieces, ignore_index=True).sort_values(
        ["mode", "pos", "order", "speed"], kind="stable"
    )
    piece["occ"] = piece.groupby(["mode", "key"], sort=False).cumcount()
    # a row per (key, occ), in order of first appearance; drawn along its first one-way piece
    slot_of = pd.MultiIndex.from_arrays([piece["key"], piece["occ"]])
    first = ~slot_of.duplicated(keep="first")
    rows = piece[first]
    slot = pd.MultiIndex.from_arrays([rows["key"], rows["occ"]]).get_indexer(slot_of)
    drawn_against = rows["direction"].to_numpy() < 0
    key_edge = pd.Series(np.arange(n)).groupby(key, sort=False).first()  # an edge of each key
    edge = key_edge.reindex(rows["key"].to_numpy()).to_numpy()
    geometry = canon[edge]
    geometry[drawn_against] = shapely.reverse(geometry[drawn_against])
    ends = np.where(flip[edge], edges["v"].to_numpy()[edge], edges["u"].to_numpy()[edge])
    other = np.where(flip[edge], edges["u"].to_numpy()[edge], edges["v"].to_numpy()[edge])
    sign = np.where(drawn_against, -1, 1)
    per_mode: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for number, mode in enumerate(modes):
        mine = np.flatnonzero(piece["mode"].to_numpy() == number)
        where = slot[mine]
        usable = np.zeros(len(rows), bool)
        speed = np.full(len(rows), np.nan)
        direction = np.zeros(len(rows), np.int32)
        usable[where] = True
        speed[where] = piece["speed"].to_numpy()[mine]
        direction[where] = piece["direction"].to_numpy()[mine] * sign[where]
        per_mode[mode] = (usable, speed, direction)
    frame: dict[str, Any] = {
        "u": np.where(drawn_against, other, ends),
        "v": np.where(drawn_against, ends, other),
        "highway": edges["highway"].to_numpy()[edge],
        "name": edges["name"].to_numpy()[edge],
        "length_m": edges["length"].to_numpy(dtype=float)[edge],
    }
    return _layer_by_mode(frame, geometry, per_mode)


def roads_from_osm(
    path: str | Path,
    *,
    boundary: Any = None,
    speeds_kph: Mapping[str, Mapping[str, float] | None] | None = None,
    simplify: bool = True,
    use_maxspeed: bool = True,
) -> gpd.GeoDataFrame:
    """
    Make the roads layer by mode of an OSM extract: every road that any mode may use.

    The layer holds the edges of :func:`graph_from_osm` for each of :data:`MODES` (see
    :func:`roads_from_graphs`), so each mode's graph or engine made from it
    (:func:`graph_from_roads`, ``ReachEngine.from_roads``) has exactly the edges of
    :func:`graph_from_osm` in that mode: the payment trip by two-wheeler or on foot keeps the
    paths, tracks, footways and cycleways a repair truck cannot use. This is what
    ``gridgeo roads import`` and ``gridgeo workspace init --roads`` store in a workspace.

    Parameters
    ----------
    path
        OSM file: ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2``.
    boundary
        As in :func:`graph_from_osm`.
    speeds_kph
        ``{mode: {road class: km/h}}``: per mode, the ``speeds_kph`` of :func:`graph_from_osm`.
    simplify, use_maxspeed
        As in :func:`graph_from_osm`.

    Returns
    -------
    roads
        The layer by mode (columns as :func:`roads_from_graphs`). A mode that can use no road
        of the file has no row.

    Raises
    ------
    NotFoundError, CorruptFileError, CRSError, InvalidGeometryError, InputError
        As :func:`graph_from_osm`.
    GraphError
        If no mode can use any road of the file inside ``boundary``.
    """
    speeds = _mode_speed_tables(speeds_kph)
    graphs: dict[str, nx.MultiDiGraph] = {}
    failed: list[GraphError] = []
    for mode in MODES:
        try:
            graphs[mode] = graph_from_osm(
                path,
                boundary=boundary,
                mode=mode,
                speeds_kph=speeds[mode],
                simplify=simplify,
                use_maxspeed=use_maxspeed,
            )
        except GraphError as exc:  # no road of this mode: the others may have some
            logger.info("%s: %s", mode, exc)
            failed.append(exc)
    if not graphs:  # the walk mode's reason: it takes the most roads
        inside = " inside `boundary`" if boundary is not None else ""
        msg = f"no road of any mode in {str(path)!r}{inside}: {failed[-1]}"
        raise GraphError(msg) from failed[-1]
    return roads_from_graphs(graphs)


def roads_for_modes(
    roads: gpd.GeoDataFrame,
    *,
    speeds_kph: Mapping[str, Mapping[str, float] | None] | None = None,
) -> gpd.GeoDataFrame:
    """
    Make the roads layer by mode of a plain roads layer, by its ``highway`` classes.

    Each row (each part of a MultiLineString) is usable, with its speed and direction, in the
    modes whose rules of :func:`graph_from_roads` take it; rows no mode uses are left out. For
    every mode, :func:`graph_from_roads` of the result has the nodes, edges and travel times
    of :func:`graph_from_roads` of ``roads``. A layer by mode is returned as it is (a copy).

    Parameters
    ----------
    roads
        A roads layer (see :func:`graph_from_roads`).
    speeds_kph
        ``{mode: {road class: km/h}}``: per mode, the ``speeds_kph`` of :func:`graph_from_roads`.

    Returns
    -------
    roads
        Columns ``u``, ``v`` (the node ids of :func:`graph_from_roads`), ``highway`` (the OSM
        class), ``name``, ``length_m``, the columns of :data:`MODE_COLUMNS` and ``geometry``
        (EPSG:4326), in the order of ``roads``.

    Raises
    ------
    InputError, MissingColumnError, CRSError, EmptyDataError, InvalidGeometryError
        As :func:`graph_from_roads` for a bad roads layer.
    GraphError
        If no row is usable in any mode.
    """
    speeds = _mode_speed_tables(speeds_kph)
    if not isinstance(roads, gpd.GeoDataFrame):
        msg = f"`roads` must be a GeoDataFrame of LineStrings, got {type(roads).__name__}"
        raise InputError(msg)
    if roads.active_geometry_name not in roads.columns:
        msg = "`roads` has no geometry column; set one with `roads.set_geometry(...)`"
        raise MissingColumnError(msg)
    roads = standard_roads(roads)
    if has_mode_columns(roads):
        if speeds_kph is not None:
            msg = "`speeds_kph` cannot change a roads layer by mode: make it again with them"
            raise InputError(msg)
        return roads.copy()
    lines: dict[str, RoadLines] = {}
    failed: list[GraphError] = []
    for mode in MODES:
        with warnings.catch_warnings():
            if lines or failed:  # the layer's own problems are told once, not per mode
                warnings.simplefilter("ignore")
            try:
                lines[mode] = road_lines(roads, mode, speeds[mode])
            except GraphError as exc:  # no row of this mode's classes
                failed.append(exc)
    if not lines:
        msg = f"no row of `roads` is usable in any mode: {failed[0]}"
        raise GraphError(msg)
    r = next(iter(lines.values()))  # the lines, nodes and lengths are the same in every mode
    keep = np.flatnonzero(np.logical_or.reduce([m.keep for m in lines.values()]))
    assert r.length_m is not None  # computed by road_lines
    frame: dict[str, Any] = {
        "u": r.node_ids[r.su[keep]],
        "v": r.node_ids[r.sv[keep]],
        "highway": r.highway[keep],
        "name": _names(r.name, len(r.row))[keep],
        "length_m": r.length_m[keep],
    }
    if "lanes" in roads.columns:  # kept for the record; speeds come from class or speed
        frame["lanes"] = roads["lanes"].to_numpy(dtype=float)[r.row[keep]]
    per_mode = {
        mode: (m.keep[keep], m.speed_kph[keep], m.direction[keep]) for mode, m in lines.items()
    }
    geometry = shapely.linestrings(r.coords, indices=r.which)[keep]
    return _layer_by_mode(frame, geometry, per_mode)


def nodes_from_graph(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """
    Turn the nodes of a road graph into a point layer.

    Parameters
    ----------
    G
        A road graph in EPSG:4326.

    Returns
    -------
    nodes
        Index ``node`` (the node ids), columns ``x``, ``y``, ``component``, ``geometry``.
    """
    if any("component" not in d for _, d in G.nodes(data=True)):
        G = label_components(G)
    ids = list(G.nodes)
    x = np.array([d["x"] for d in G.nodes.values()], dtype=float)
    y = np.array([d["y"] for d in G.nodes.values()], dtype=float)
    comp = np.array([d["component"] for d in G.nodes.values()], dtype=np.int64)
    return gpd.GeoDataFrame(
        {"x": x, "y": y, "component": comp},
        geometry=shapely.points(x, y),
        index=pd.Index(ids, name="node"),
        crs=CRS,
    )


def graph_summary(G: nx.MultiDiGraph) -> dict[str, Any]:
    """
    Key figures of a road graph.

    Parameters
    ----------
    G
        A road graph.

    Returns
    -------
    summary
        ``nodes``, ``edges``, ``road_km`` (a two-way road counted once), ``components``,
        ``largest_component_share`` (share of nodes in the largest component) and
        ``n_oneway_edges``.
    """
    edges = _edge_frame(G)
    mask = _road_mask(G, edges)
    sizes = G.graph.get("components")
    if sizes is None or sum(sizes) != len(G):
        sizes = label_components(G).graph["components"]
    n = len(G)
    return {
        "nodes": n,
        "edges": len(edges),
        "road_km": float(edges["length"].astype(float)[mask].sum() / 1000) if n else 0.0,
        "components": len(sizes),
        "largest_component_share": sizes[0] / n if n else 0.0,
        "n_oneway_edges": int(edges["oneway"].fillna(False).astype(bool).sum()) if n else 0,
    }


# --------------------------------------------------------------------------- GraphML


def _literal(value: Any) -> Any:
    """A GraphML string as Python value: OSMnx writes lists as their repr."""
    if isinstance(value, str) and value[:1] == "[" and value[-1:] == "]":
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _as_bool(value: Any) -> bool:
    value = _literal(value)
    if isinstance(value, list):
        return any(_as_bool(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _as_osmid(value: Any) -> Any:
    value = _literal(value)
    if isinstance(value, list):
        return [_as_osmid(v) for v in value]
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def read_graphml(
    path: str | Path,
    *,
    mode: str = "drive",
    speeds_kph: Mapping[str, float] | None = None,
) -> nx.MultiDiGraph:
    """
    Load a road graph saved as GraphML by ``osmnx.save_graphml`` (OSMnx is not needed).

    Attribute types are restored (node ids and ``osmid`` to int, ``x``/``y``/``length``/
    ``speed_kph``/``travel_time`` to float, ``oneway``/``reversed`` to bool, WKT ``geometry`` to
    shapely); OSMnx's list values (edges merged by simplification) give the first ``highway``
    and the names joined by ``"; "``. Edges without geometry get a straight line; missing
    ``speed_kph``/``travel_time`` are computed like :func:`graph_from_osm` does (``maxspeed``,
    else :data:`SPEEDS_KPH`). A projected graph is converted back to EPSG:4326. Zero-length
    self-loops are dropped and zero-length edges get :data:`MIN_EDGE_LENGTH_M`, as in
    :func:`graph_from_osm`; nodes without edges are kept.

    Parameters
    ----------
    path
        The ``.graphml`` file.
    mode
        Speed table used where speeds are missing.
    speeds_kph
        Speeds by road class that replace the defaults.

    Returns
    -------
    G
        The road graph with node ``component`` labels.
    """
    _check_mode(mode)
    table = _speed_table(mode, speeds_kph)
    path = Path(path)
    if not path.is_file():
        msg = f"GraphML file {str(path)!r} does not exist; check the `path`"
        raise NotFoundError(msg)
    try:
        H = nx.read_graphml(path, node_type=str, force_multigraph=True)
    except (ET.ParseError, nx.NetworkXError, KeyError, ValueError) as exc:
        msg = f"cannot read GraphML file {str(path)!r}: {exc}; save it with osmnx.save_graphml"
        raise CorruptFileError(msg) from exc
    if len(H) == 0:
        msg = f"GraphML file {str(path)!r} holds no nodes"
        raise GraphError(msg)
    ids_str = list(H.nodes)
    try:
        node_ids: list[Any] = [int(i) for i in ids_str]
    except ValueError:
        node_ids = ids_str
    pos = {s: i for i, s in enumerate(ids_str)}
    node_data = list(H.nodes.values())
    try:
        x = np.array([float(d["x"]) for d in node_data])
        y = np.array([float(d["y"]) for d in node_data])
    except (KeyError, ValueError) as exc:
        msg = f"GraphML file {str(path)!r} has nodes without numeric `x`/`y` attributes"
        raise CorruptFileError(msg) from exc

    edges = list(H.edges(keys=True, data=True))
    eu = np.array([pos[u] for u, _, _, _ in edges], dtype=np.int64)
    ev = np.array([pos[v] for _, v, _, _ in edges], dtype=np.int64)
    wkt = np.array([d.get("geometry") for *_, d in edges], dtype=object)
    try:
        geometry = shapely.from_wkt(wkt, on_invalid="raise")
    except shapely.errors.GEOSException as exc:
        msg = f"GraphML file {str(path)!r} has an unreadable edge `geometry`: {exc}"
        raise CorruptFileError(msg) from exc

    crs = pyproj.CRS.from_user_input(H.graph.get("crs", CRS))
    if not crs.equals(pyproj.CRS(CRS)):
        transformer = pyproj.Transformer.from_crs(crs, CRS, always_xy=True)
        x, y = transformer.transform(x, y)
        has = ~shapely.is_missing(geometry)
        geometry[has] = shapely.transform(
            geometry[has], lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
        )
    missing = shapely.is_missing(geometry)
    if missing.any():
        geometry[missing] = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([x[eu[missing]], y[eu[missing]]]),
                    np.column_stack([x[ev[missing]], y[ev[missing]]]),
                ],
                axis=1,
            )
        )
    # orient each geometry from u to v
    first = shapely.get_coordinates(shapely.get_point(geometry, 0))
    last = shapely.get_coordinates(shapely.get_point(geometry, -1))
    d_first = np.hypot(first[:, 0] - x[eu], first[:, 1] - y[eu])
    d_last = np.hypot(last[:, 0] - x[eu], last[:, 1] - y[eu])
    flip = d_last < d_first
    geometry[flip] = shapely.reverse(geometry[flip])

    length = np.array([_as_float(d.get("length")) for *_, d in edges])
    no_len = ~np.isfinite(length)
    if no_len.any():
        length[no_len] = _line_lengths_m(geometry[no_len])

    highways, names, speeds = [], [], []
    for *_, d in edges:
        hw = _literal(d.get("highway", "road"))
        hw_list = hw if isinstance(hw, list) else [hw]
        highways.append(_normalise_highway(str(hw_list[0])) or "road")
        nm = _literal(d.get("name", ""))
        names.append("; ".join(map(str, nm)) if isinstance(nm, list) else str(nm))
        speed = _as_float(d.get("speed_kph"))
        if not (math.isfinite(speed) and speed > 0):
            ms = _literal(d.get("maxspeed"))
            ms_list = ms if isinstance(ms, list) else [ms]
            parsed = [s for s in map(parse_maxspeed, ms_list) if s is not None]
            defaults = [table.get(_normalise_highway(str(h)) or "", math.nan) for h in hw_list]
            defaults = [s for s in defaults if math.isfinite(s)]
            default = float(np.mean(defaults)) if defaults else table.get("road", WALK_SPEED_KPH)
            speed = _mode_speed(default, min(parsed) if parsed else None, mode)
        speeds.append(speed)
    attrs = {
        "osmid": np.array([*(_as_osmid(d.get("osmid")) for *_, d in edges), None], object)[:-1],
        "highway": np.array(highways, dtype=object),
        "name": np.array(names, dtype=object),
        "oneway": np.array([_as_bool(d.get("oneway", False)) for *_, d in edges], dtype=bool),
        "reversed": np.array([_as_bool(d.get("reversed", False)) for *_, d in edges], bool),
    }
    G = _assemble_graph(
        node_ids=np.array([*node_ids, None], dtype=object)[:-1],
        node_x=np.asarray(x, dtype=float),
        node_y=np.asarray(y, dtype=float),
        u=eu,
        v=ev,
        length_m=length,
        speed_kph=np.array(speeds, dtype=float),
        geometry=geometry,
        attrs=attrs,
        graph_attrs={
            "mode": mode,
            "source": path.name,
            "simplified": _as_bool(H.graph.get("simplified", False)),
        },
    )
    # isolated nodes of the file are kept
    for i in np.setdiff1d(np.arange(len(node_ids)), np.concatenate([eu, ev])).tolist():
        G.add_node(node_ids[i], x=float(x[i]), y=float(y[i]))
    _label_components_inplace(G)
    return G
