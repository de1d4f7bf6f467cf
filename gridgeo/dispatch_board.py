"""What a dispatcher sees beside a dispatch: the stations' availability board and doubts.

Station availability (在岗 / 忙碌 / 外出)
-----------------------------------------
Whether each repair station's crews can be sent now is set by the dispatchers and kept in a
small plain table of the workspace, :data:`AVAILABILITY_TABLE` (``station_id``, ``status``,
``note``, ``updated_by``, ``updated_at``), not in any program's memory: every dispatcher, every
worker process of the web service, the CLI and a restarted service see the same board. A
station with no row is on duty. Busy and out stations are the ``unavailable`` of
:func:`gridgeo.dispatch` (:func:`unavailable_stations`).

Doubts about a fault's location
-------------------------------
A dispatch is only as good as the fault's position. :func:`location_doubts` lists what a
dispatcher should check before trusting it, in the words of the archive's 定位说明
(:data:`gridgeo.LOCATION_FLAGS_ZH`) with English alongside: the customer's GPS contradicts the
address, swapped or out-of-county coordinates, an ambiguous or unknown address, a position
that is only the village's or the township's, a place near the county line or outside every
grid. :func:`fault_place` finds the fault's grids on each tier (the customer's stored ones,
else as customers are put into grids).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridgeo.archive import GRID_ID_COLUMNS, LOCATION_FLAGS_ZH
from gridgeo.dispatch import Fault
from gridgeo.errors import InputError, NotFoundError
from gridgeo.grids import assign_to_grids
from gridgeo.store import GeoPackageStore

__all__ = [
    "AVAILABILITY_TABLE",
    "LOCATION_DOUBTS_ZH",
    "MAX_STATUS_NOTE_CHARS",
    "STATION_STATUSES",
    "STATION_STATUS_ALIASES",
    "fault_place",
    "location_doubts",
    "read_station_availability",
    "set_station_availability",
    "unavailable_stations",
]

AVAILABILITY_TABLE = "station_availability"
STATION_STATUSES: dict[str, str] = {"on_duty": "在岗", "busy": "忙碌", "out": "外出"}
"""The statuses of a station and their Chinese names; ``busy`` and ``out`` are not dispatched."""
STATION_STATUS_ALIASES: dict[str, str] = {zh: code for code, zh in STATION_STATUSES.items()}
"""The Chinese names accepted for a status (``忙碌`` for ``busy``)."""
MAX_STATUS_NOTE_CHARS = 200
STATIONS_LAYER = "repair_stations"

_AVAILABILITY_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{AVAILABILITY_TABLE}" (station_id TEXT PRIMARY KEY, '
    "status TEXT NOT NULL, note TEXT, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)"
)

# doubts about where a fault is: code -> Chinese / English text
_CUSTOMER_FLAGS_EN = {
    "coords_conflict_address": "GPS contradicts the address",
    "swapped_lonlat": "swapped lon/lat in the customer's GPS",
    "coords_outside_county": "the customer's GPS is outside the county",
}
LOCATION_DOUBTS_ZH: dict[str, str] = {
    **{flag: f"{LOCATION_FLAGS_ZH[flag]} / {en}" for flag, en in _CUSTOMER_FLAGS_EN.items()},
    "located_by_village": "按村定位：位置是村的中心点，不是门牌 / placed at the village point, "
    "not the house",
    "located_by_town": "只定位到乡镇：结果仅供参考 / located only to the township: ETA is "
    "approximate",
    "not_geocoded": "客户没有位置 / the customer has no position",
    "near_boundary": "近县界，归入最近网格 / near the county line, put into the nearest grid",
    "outside_grids": "位置在各网格之外 / outside every grid",
    "address": "地址问题 / address problem",
}
"""The text of each doubt code of :func:`location_doubts` (``address`` prefixes the geocoder's
reason for an address problem)."""
_TIER_COLUMNS = tuple(GRID_ID_COLUMNS.values())  # grid_t1, grid_t2, grid_t3


# --------------------------------------------------------------------------- availability


def _kept(store: GeoPackageStore) -> dict[str, tuple[str, str | None, str, str]]:
    """``{station_id: (status, note, updated_by, updated_at)}`` of the stations ever set."""
    with store.transaction(write=False) as con:
        found = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (AVAILABILITY_TABLE,)
        ).fetchone()
        if found is None:
            return {}
        rows = con.execute(
            f'SELECT station_id, status, note, updated_by, updated_at FROM "{AVAILABILITY_TABLE}"'
        ).fetchall()
    return {str(r[0]): (r[1], r[2], r[3], r[4]) for r in rows}


def read_station_availability(store: GeoPackageStore) -> gpd.GeoDataFrame:
    """Every repair station of the workspace with whether its crews can be sent now.

    Parameters
    ----------
    store
        The workspace (its ``repair_stations`` layer and availability table).

    Returns
    -------
    geopandas.GeoDataFrame
        The ``repair_stations`` layer in its stored order (``station_id`` as text) with
        ``status`` (one of :data:`STATION_STATUSES`; ``on_duty`` for a station nobody has
        set), ``status_zh``, ``note``, ``updated_by`` and ``updated_at`` (ISO-8601 UTC; None
        where never set).
    """
    stations = store.read(STATIONS_LAYER)
    stations["station_id"] = stations["station_id"].astype(str)
    kept = _kept(store)
    rows = [kept.get(sid, ("on_duty", None, None, None)) for sid in stations["station_id"]]
    status = [r[0] for r in rows]
    out = stations.copy()
    out["status"] = status
    out["status_zh"] = [STATION_STATUSES.get(s, s) for s in status]
    for i, col in enumerate(("note", "updated_by", "updated_at"), start=1):
        out[col] = pd.Series([r[i] for r in rows], index=out.index, dtype=object)
    return out


def unavailable_stations(store: GeoPackageStore) -> list[str]:
    """The ids of the busy and out stations, in the stations' order: pass them to
    :func:`gridgeo.dispatch` as ``unavailable``.

    Parameters
    ----------
    store
        The workspace.

    Returns
    -------
    list of str
    """
    board = read_station_availability(store)
    return board.loc[board["status"] != "on_duty", "station_id"].tolist()


def _check_status(status: Any) -> str:
    text = status.strip() if isinstance(status, str) else status
    code = STATION_STATUS_ALIASES.get(text, text) if isinstance(text, str) else text
    if code not in STATION_STATUSES:
        choices = ", ".join(f"{c} ({zh})" for c, zh in STATION_STATUSES.items())
        msg = f"站点状态无效 / `status` {status!r} is not a station status: use one of {choices}."
        raise InputError(msg)
    return str(code)


def set_station_availability(
    store: GeoPackageStore,
    station_id: Any,
    status: str,
    *,
    by: str,
    note: str | None = None,
) -> gpd.GeoDataFrame:
    """Set one repair station's availability, in one transaction (who and when recorded).

    The table is made on first use (and listed in ``gpkg_contents`` as attributes, so GDAL
    and QGIS see it). Setting a station back to ``on_duty`` keeps its row, with who did it.

    Parameters
    ----------
    store
        The workspace.
    station_id
        A ``station_id`` of the ``repair_stations`` layer.
    status
        ``"on_duty"``, ``"busy"`` or ``"out"`` (:data:`STATION_STATUSES`), or its Chinese
        name (``在岗``, ``忙碌``, ``外出``).
    by
        Who sets it (a user name).
    note
        A short remark (at most :data:`MAX_STATUS_NOTE_CHARS` characters), e.g. ``抢修中``.

    Returns
    -------
    geopandas.GeoDataFrame
        The whole board after the change, as :func:`read_station_availability`.

    Raises
    ------
    InputError
        If ``status`` is not a status, ``by`` is empty or ``note`` is too long.
    NotFoundError
        If ``station_id`` is not a repair station of the workspace.
    """
    code = _check_status(status)
    if not isinstance(by, str) or not by.strip():
        msg = f"需写明设置人 / `by` must name who sets the status (a user name), got {by!r}."
        raise InputError(msg)
    if note is not None and not isinstance(note, str):
        msg = f"备注须为文字 / `note` must be text, got {note!r}."
        raise InputError(msg)
    note = (note.strip() or None) if note is not None else None
    if note is not None and len(note) > MAX_STATUS_NOTE_CHARS:
        msg = (
            f"备注过长 / `note` is {len(note)} characters long; keep it to {MAX_STATUS_NOTE_CHARS} "
            "(e.g. 抢修中)."
        )
        raise InputError(msg)
    ids = store.read(STATIONS_LAYER)["station_id"].astype(str)
    sid = str(station_id).strip()
    if sid not in set(ids):
        msg = (
            f"无此抢修站 / no repair station `station_id` {station_id!r}: use one of "
            f"{', '.join(sorted(ids))}."
        )
        raise NotFoundError(msg)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction(write=True) as con:
        con.execute(_AVAILABILITY_DDL)
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "last_change) VALUES (?, 'attributes', ?, ?)",
            (AVAILABILITY_TABLE, AVAILABILITY_TABLE, now),
        )
        con.execute(
            f'INSERT INTO "{AVAILABILITY_TABLE}" (station_id, status, note, updated_by, '
            "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (station_id) DO UPDATE SET "
            "status = excluded.status, note = excluded.note, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (sid, code, note, by.strip(), now),
        )
    return read_station_availability(store)


# --------------------------------------------------------------------------- doubts


def _text(value: Any) -> str | None:
    """A cell as stripped text; None for None, NaN, NA and blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def location_doubts(
    customer: Mapping[str, Any] | pd.Series | None = None,
    *,
    fault: Fault | None = None,
    grid_reason: str | None = None,
) -> list[dict[str, str]]:
    """What to check about a fault's position before trusting the dispatch, in order.

    Parameters
    ----------
    customer
        When the fault is a customer's (found by number): that customer's row of the archive
        (a :class:`pandas.Series` or mapping): its flags ``coords_conflict_address``,
        ``swapped_lonlat``, ``coords_outside_county``, ``address_reason`` and ``candidates``,
        ``location_source`` and ``grid_reason``.
    fault
        When the fault is a point or an address: the located fault
        (:attr:`gridgeo.DispatchResult.fault`); an address matched only to its township is
        a doubt.
    grid_reason
        How the fault's place was put into the grids (:func:`fault_place`); defaults to the
        customer's ``grid_reason``.

    Returns
    -------
    list of dict
        ``{"code", "text"}`` per doubt (codes and texts in :data:`LOCATION_DOUBTS_ZH`; an
        address problem's code is the geocoder's reason, e.g. ``ambiguous``, its text
        names the candidates); empty when there is none.
    """
    doubts: list[dict[str, str]] = []

    def doubt(code: str, text: str) -> None:
        doubts.append({"code": code, "text": text})

    if customer is not None:
        for flag in _CUSTOMER_FLAGS_EN:
            if _text(customer.get(flag)) in ("True", "1"):
                doubt(flag, LOCATION_DOUBTS_ZH[flag])
        reason = _text(customer.get("address_reason"))
        if reason not in (None, "ok"):
            listed = _text(customer.get("candidates"))
            extra = f"（候选 candidates：{listed.replace('|', '、')}）" if listed else ""
            doubt(str(reason), f"{LOCATION_DOUBTS_ZH['address']}: {reason}{extra}")
        source = _text(customer.get("location_source"))
        if source in ("village", "town"):
            doubt(f"located_by_{source}", LOCATION_DOUBTS_ZH[f"located_by_{source}"])
        if grid_reason is None:
            grid_reason = _text(customer.get("grid_reason"))
    elif fault is not None and fault.match_level not in (None, "village"):
        doubt("located_by_town", LOCATION_DOUBTS_ZH["located_by_town"])
    if grid_reason in ("near_boundary", "outside_grids"):
        doubt(str(grid_reason), LOCATION_DOUBTS_ZH[str(grid_reason)])
    return doubts


def fault_place(
    fault: Fault,
    grids: gpd.GeoDataFrame | None,
    *,
    customer: Mapping[str, Any] | pd.Series | None = None,
) -> dict[str, str | None]:
    """The fault's grid on each tier and how it was found.

    Parameters
    ----------
    fault
        The located fault (:attr:`gridgeo.DispatchResult.fault`).
    grids
        The workspace's grids, all tiers (may be None when ``customer`` is given).
    customer
        The customer's archive row when the fault is a customer's: its stored grids are
        used (the archive's), not a new look-up.

    Returns
    -------
    dict
        ``grid_t1``, ``grid_t2``, ``grid_t3`` (None where not in a grid) and
        ``grid_reason`` (:data:`gridgeo.ASSIGN_REASONS`), as text.
    """
    if customer is not None:
        return {c: _text(customer.get(c)) for c in (*_TIER_COLUMNS, "grid_reason")}
    if grids is None:
        msg = "`grids` are needed to place a fault that is not a customer's (read the grids layer)."
        raise InputError(msg)
    point = gpd.GeoSeries([shapely.Point(fault.lon, fault.lat)], crs=4326)
    found = assign_to_grids(point, grids).iloc[0]
    return {c: _text(found.get(c)) for c in (*_TIER_COLUMNS, "grid_reason")}
