"""Who looks after each grid: the roster (网格人员名册).

Every service grid has a grid manager (网格长), grid members (网格员), a
party-member liaison (党员联络员) and the phone numbers customers call. A
roster is a table with one row per grid::

    grid_id, manager, manager_phone, members, liaison, liaison_phone

``members`` holds the names separated by ``、``, ``,``, ``，``, ``;`` or ``/``.
An optional ``member_bases`` column names each member's base for home visits (the station id
of their supply office or repair station, :func:`gridgeo.visits.member_bases`): one id per
member in the order of ``members``, or one id for all of them, or empty (the nearest station).
Phones are Chinese mobile numbers (11 digits starting with 1) or landlines
with the area code (Fuzhou is 0794: ``0794-7xxxxxx``).

Rules checked on import (each broken rule is an error that lists the rows):
every ``grid_id`` exists in the grids; no grid appears twice; every grid has a
manager; one person manages one grid only (a manager named on two grids is a
duplicate); phones have a valid form. Grids without a roster row are allowed
(a warning counts them), so a county can fill its roster in step by step.

The sample county's roster is generated (:func:`generate_roster`): invented
names and phone numbers in the 1380000xxxx block, documented as such.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgeo._names import GIVEN_CHARS, SURNAMES
from gridgeo.errors import DuplicateIdError, InputError, MissingColumnError
from gridgeo.io import read_records

__all__ = [
    "ROSTER_COLUMNS",
    "ROSTER_OPTIONAL_COLUMNS",
    "apply_roster",
    "generate_roster",
    "read_roster",
    "validate_roster",
]

logger = logging.getLogger(__name__)

ROSTER_COLUMNS = ("grid_id", "manager", "manager_phone", "members", "liaison", "liaison_phone")
ROSTER_OPTIONAL_COLUMNS = ("member_bases",)
MEMBER_SEPARATOR = "、"
MAX_LISTED = 5

_MEMBER_SPLIT = re.compile(r"\s*[、,，;；/]\s*")
# mobile: 1 + 10 digits; landline: 3-4 digit area code starting with 0, then 7-8 digits
_PHONE = re.compile(r"^(?:1\d{10}|0\d{2,3}-?\d{7,8})$")
_PHONE_NOISE = re.compile(r"[\s()（）]")


def _listed(values: list[object]) -> str:
    head = ", ".join(repr(v) for v in values[:MAX_LISTED])
    more = f", ... {len(values)} in all" if len(values) > MAX_LISTED else ""
    return f"[{head}{more}]"


def _normalise_phone(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.replace(_PHONE_NOISE, "", regex=True)


def _normalise_members(values: pd.Series) -> pd.Series:
    def one(text: object) -> str:
        if not isinstance(text, str) or not text.strip():
            return ""
        names = [n for n in _MEMBER_SPLIT.split(text.strip()) if n]
        return MEMBER_SEPARATOR.join(names)

    return values.map(one)


def validate_roster(
    roster: pd.DataFrame,
    grid_ids: pd.Series | list[str],
    *,
    station_ids: pd.Series | list[str] | None = None,
) -> pd.DataFrame:
    """Check a roster against the grids and return it normalised.

    Parameters
    ----------
    roster
        One row per grid with :data:`ROSTER_COLUMNS` (``liaison`` and the phones
        may be empty). A ``file_line`` column, if present, is used in messages.
    grid_ids
        The ids of the grids the roster belongs to.
    station_ids
        The ids of the workspace's repair stations / supply offices, if known: the
        ``member_bases`` must name them.

    Returns
    -------
    pandas.DataFrame
        A copy with stripped text, members joined by ``、`` and phones without
        spaces or brackets; same index.

    Raises
    ------
    MissingColumnError
        A roster column is missing.
    InputError
        Unknown grid ids, empty managers, malformed phone numbers, or ``member_bases`` that
        do not match the members (count) or name unknown stations.
    DuplicateIdError
        A grid listed twice, or one person managing two grids.
    """
    missing = [c for c in ROSTER_COLUMNS if c not in roster.columns]
    if missing:
        msg = (
            f"roster lacks column(s) {missing!r}; columns present: "
            f"{[str(c) for c in roster.columns]!r}. The roster needs {list(ROSTER_COLUMNS)!r}."
        )
        raise MissingColumnError(msg)
    out = roster.copy()
    lines = out["file_line"] if "file_line" in out else pd.Series(out.index + 2, index=out.index)

    def where(mask: pd.Series) -> str:
        return f"file line(s) {_listed([int(n) for n in lines[mask]])}"

    for column in ("grid_id", "manager", "liaison"):
        out[column] = out[column].fillna("").astype(str).str.strip()
    out["members"] = _normalise_members(out["members"])
    for column in ("manager_phone", "liaison_phone"):
        out[column] = _normalise_phone(out[column])

    known = set(pd.Series(grid_ids, dtype=str))
    unknown = ~out["grid_id"].isin(known)
    if unknown.any():
        values = list(dict.fromkeys(out.loc[unknown, "grid_id"]))
        msg = (
            f"roster names unknown `grid_id` value(s) {_listed(values)} in {where(unknown)}: "
            "use the ids of the current grids (see `gridgeo grids build` output or the "
            "`grids` layer)."
        )
        raise InputError(msg)
    dup_grid = out["grid_id"].duplicated(keep=False)
    if dup_grid.any():
        values = list(dict.fromkeys(out.loc[dup_grid, "grid_id"]))
        msg = f"roster lists grid(s) {_listed(values)} more than once in {where(dup_grid)}."
        raise DuplicateIdError(msg)
    no_manager = out["manager"] == ""
    if no_manager.any():
        values = list(out.loc[no_manager, "grid_id"])
        msg = (
            f"roster has no `manager` (网格长) for grid(s) {_listed(values)} in "
            f"{where(no_manager)}: every grid needs a manager."
        )
        raise InputError(msg)
    dup_manager = out["manager"].duplicated(keep=False)
    if dup_manager.any():
        values = list(dict.fromkeys(out.loc[dup_manager, "manager"]))
        msg = (
            f"roster names the same `manager` (网格长) {_listed(values)} for more than one grid "
            f"in {where(dup_manager)}: one person manages one grid; if two people share a "
            "name, add a distinguishing mark such as 王建国(洽湾)."
        )
        raise DuplicateIdError(msg)
    for column in ("manager_phone", "liaison_phone"):
        bad = (out[column] != "") & ~out[column].str.match(_PHONE)
        if bad.any():
            values = list(out.loc[bad, column])
            msg = (
                f"roster column `{column}` has malformed phone number(s) {_listed(values)} in "
                f"{where(bad)}: use an 11-digit mobile number (13800001234) or a landline with "
                "area code (0794-7123456)."
            )
            raise InputError(msg)
    no_phone = out["manager_phone"] == ""
    if no_phone.any():
        values = list(out.loc[no_phone, "grid_id"])
        msg = (
            f"roster has no `manager_phone` for grid(s) {_listed(values)} in {where(no_phone)}: "
            "customers must be able to call their grid manager."
        )
        raise InputError(msg)
    if "member_bases" in out:
        _check_member_bases(out, station_ids, where)
    return out


def _check_member_bases(
    out: pd.DataFrame, station_ids: pd.Series | list[str] | None, where: Any
) -> None:
    """Normalise ``member_bases`` in place: one station id per member, or one for all."""
    out["member_bases"] = _normalise_members(out["member_bases"])
    n_bases = out["member_bases"].map(lambda t: len(t.split(MEMBER_SEPARATOR)) if t else 0)
    n_members = out["members"].map(lambda t: len(t.split(MEMBER_SEPARATOR)) if t else 0)
    bad = (n_bases > 1) & (n_bases != n_members)
    if bad.any():
        values = list(out.loc[bad, "grid_id"])
        msg = (
            f"roster column `member_bases` of grid(s) {_listed(values)} in {where(bad)} does not "
            "match `members`: give one station id per member in the same order (separated by "
            "、), one id for all of them, or leave it empty for the nearest station."
        )
        raise InputError(msg)
    if station_ids is None:
        return
    known = set(pd.Series(station_ids, dtype=str))
    ids = out["member_bases"].str.split(MEMBER_SEPARATOR)
    unknown = ids.map(lambda row: any(i and i not in known for i in row))
    if unknown.any():
        values = sorted({i for row in ids[unknown] for i in row if i and i not in known})
        msg = (
            f"roster column `member_bases` names unknown station(s) {_listed(values)} in "
            f"{where(unknown)}: use the `station_id` of the workspace's repair stations / "
            f"supply offices, e.g. {_listed(sorted(known))}."
        )
        raise InputError(msg)


def read_roster(
    path: str | Path,
    grid_ids: pd.Series | list[str],
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    station_ids: pd.Series | list[str] | None = None,
) -> pd.DataFrame:
    """Read a roster from CSV or XLSX and validate it against the grids (and the stations
    its ``member_bases`` name, if ``station_ids`` is given).

    See :func:`validate_roster` for the rules; the file's line numbers are
    named in every message.
    """
    records = read_records(
        path,
        id_column="grid_id",
        required_columns=ROSTER_COLUMNS,
        encoding=encoding,
        sheet=sheet,
    )
    text_columns = {c: str for c in (*ROSTER_COLUMNS, *ROSTER_OPTIONAL_COLUMNS) if c in records}
    records = records.astype({c: "object" for c in text_columns})
    for column in ("manager_phone", "liaison_phone"):
        # Excel turns phone numbers into floats: 13800001234.0
        records[column] = records[column].map(_phone_text)
    return validate_roster(records, grid_ids, station_ids=station_ids)


def _phone_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def apply_roster(grids: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``grids`` with the roster's people and phones filled in.

    ``roster`` must be validated (:func:`validate_roster` or
    :func:`read_roster`). The grid columns ``manager``, ``members``,
    ``liaison`` and ``phone`` (the manager's phone, as in the data model) plus
    ``liaison_phone`` are replaced, and ``member_bases`` where the roster or the grids
    have it; grids without a roster row get empty values and a warning counts them.
    """
    if "grid_id" not in grids.columns:
        msg = "`grids` lacks column 'grid_id': pass the grids layer."
        raise MissingColumnError(msg)
    by_grid = roster.set_index("grid_id")
    out = grids.copy()
    ids = out["grid_id"].astype(str)
    for src, dst in (
        ("manager", "manager"),
        ("members", "members"),
        ("liaison", "liaison"),
        ("manager_phone", "phone"),
        ("liaison_phone", "liaison_phone"),
    ):
        out[dst] = ids.map(by_grid[src]).fillna("").to_numpy()
    if "member_bases" in by_grid or "member_bases" in out:
        # new people, new bases: bases the roster does not give are cleared (nearest station)
        bases = by_grid.get("member_bases")
        out["member_bases"] = "" if bases is None else ids.map(bases).fillna("").to_numpy()
    uncovered = ~ids.isin(by_grid.index)
    if uncovered.any():
        warnings.warn(
            f"{int(uncovered.sum())} grid(s) have no roster row, e.g. "
            f"{_listed(list(ids[uncovered]))}",
            UserWarning,
            stacklevel=2,
        )
    return out


def generate_roster(
    grids: pd.DataFrame, *, seed: int = 0, members_per_grid: int = 2
) -> pd.DataFrame:
    """Invent a roster for every grid (sample data only).

    Names are drawn from common surnames and given-name characters of the
    region; every manager name is unique (a counter mark is added where a
    draw repeats). Phones are in the 1380000xxxx block and the liaison's in
    1390000xxxx: invented, not anybody's number.
    """
    if members_per_grid < 1:
        msg = f"`members_per_grid` must be >= 1, got {members_per_grid!r}."
        raise InputError(msg)
    if "grid_id" not in grids.columns:
        msg = "`grids` lacks column 'grid_id': pass the grids layer."
        raise MissingColumnError(msg)
    rng = np.random.default_rng(seed)
    ids = grids["grid_id"].astype(str).sort_values(kind="stable").to_numpy()
    n = len(ids)

    def names(k: int) -> np.ndarray:
        sur = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), k)]
        g1 = np.array(GIVEN_CHARS, dtype=object)[rng.integers(0, len(GIVEN_CHARS), k)]
        g2 = np.where(
            rng.random(k) < 0.7,
            np.array(GIVEN_CHARS, dtype=object)[rng.integers(0, len(GIVEN_CHARS), k)],
            "",
        )
        return np.asarray(sur + g1 + g2, dtype=object)

    managers = pd.Series(names(n))
    repeat = managers.groupby(managers).cumcount()
    managers = managers.where(repeat == 0, managers + "(" + (repeat + 1).astype(str) + ")")
    members = names(n * members_per_grid).reshape(n, members_per_grid)
    liaisons = names(n)
    serial = np.arange(1, n + 1)
    roster = pd.DataFrame(
        {
            "grid_id": ids,
            "manager": managers.to_numpy(),
            "manager_phone": [f"1380000{i:04d}" for i in serial],
            "members": [MEMBER_SEPARATOR.join(row) for row in members],
            "liaison": liaisons,
            "liaison_phone": [f"1390000{i:04d}" for i in serial],
        }
    )
    logger.info("generated a roster for %d grids", n)
    return roster
