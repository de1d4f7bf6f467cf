"""China's administrative names: province, city and county of any county, from its adcode.

Addresses in a county company's archive often start with the province and the city
(``江西省抚州市黎川县日峰镇…``, ``抚州市黎川县…``, ``江西黎川…``). The geocoder strips the
county's own names and their short forms, and treats any other province, city or county as
another county; for that it needs the names above the county, for any county of China.

Source
------
``gridgeo/data/admin_divisions.csv``: the 34 province-level units, 350 prefecture-level
units and 3,043 county-level units of China, each with its 6-digit adcode (行政区划代码), its
full name, its short form (``江西省`` → ``江西``, ``广西壮族自治区`` → ``广西``,
``南丰县`` → ``南丰``), the adcodes of its province and city, and a county's former names
(83 counties renamed since 2002, from jionlp's list of changes). Cut from ``jionlp`` 1.5.31
(PyPI, Apache-2.0, ``jionlp/dictionary/china_location.zip``), the maintained Chinese NLP
toolkit whose location dictionary follows the national statistics division codes and gives
the short forms people write; the package itself (16 MB, many dependencies) is not a
dependency: the table is 160 KB.
How it was cut is in ``gridgeo/data/README.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gridgeo.errors import InputError, NotFoundError

__all__ = ["ADMIN_TABLE", "AdminNames", "admin_names", "find_county"]

ADMIN_TABLE = Path(__file__).parent / "data" / "admin_divisions.csv"


@dataclass(frozen=True)
class AdminNames:
    """The names of a county and of the units above it.

    Attributes
    ----------
    adcode
        The county's 6-digit code.
    county, county_short
        ``南丰县``, ``南丰``.
    city, city_short
        ``抚州市``, ``抚州`` (for a county directly under a province-level unit, e.g. 仙桃市 in
        Hubei, the unit above it as listed in the table).
    province, province_short
        ``江西省``, ``江西``.
    former
        Former names of the county (``龙南县`` for 龙南市, a county-level city since 2020), which
        old archives still use.
    """

    adcode: str
    county: str
    county_short: str
    city: str
    city_short: str
    province: str
    province_short: str
    former: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, str]]:
    with ADMIN_TABLE.open(encoding="utf-8", newline="") as fh:
        return {row["adcode"]: row for row in csv.DictReader(fh)}


def _adcode(value: Any) -> str:
    text = str(value).strip()
    if text.endswith(".0"):  # an adcode read as a float from a spreadsheet
        text = text[:-2]
    if len(text) != 6 or not text.isdigit():
        msg = f"`adcode` must be a 6-digit county code such as '361023', got {value!r}"
        raise InputError(msg)
    return text


def admin_names(adcode: Any) -> AdminNames:
    """
    The names of the county with ``adcode`` and of its city and province.

    Parameters
    ----------
    adcode
        The county's 6-digit administrative division code (str or int).

    Returns
    -------
    AdminNames

    Raises
    ------
    InputError
        If ``adcode`` is not 6 digits.
    NotFoundError
        If no county has that code (the message says where to look it up).
    """
    code = _adcode(adcode)
    table = _table()
    row = table.get(code)
    if row is None or row["level"] != "county":
        msg = (
            f"no county with adcode {code!r} (区划代码) in gridgeo's table of China's counties; "
            "check the code (the county layer's `adcode`, e.g. 361023 for 南丰县)"
        )
        raise NotFoundError(msg)
    province = table[row["province_adcode"]]
    city = table.get(row["city_adcode"], province)
    return AdminNames(
        adcode=code,
        county=row["name"],
        county_short=row["short_name"],
        city=city["name"],
        city_short=city["short_name"],
        province=province["name"],
        province_short=province["short_name"],
        former=tuple(n for n in row["former"].split("|") if n),
    )


def find_county(name: str, *, province: str | None = None) -> AdminNames:
    """
    The county called ``name`` (``黎川县`` or ``黎川``), optionally within ``province``.

    Raises
    ------
    NotFoundError
        If no county has that name.
    InputError
        If several do (the message lists them with their adcodes: pass the adcode instead).
    """
    text = str(name).strip()
    rows = [
        r
        for r in _table().values()
        if r["level"] == "county"
        and (text in (r["name"], r["short_name"]) or text in r["former"].split("|"))
    ]
    if province is not None:
        rows = [
            r
            for r in rows
            if province.strip() in (_table()[r["province_adcode"]]["name"],)
            or province.strip() == _table()[r["province_adcode"]]["short_name"]
        ]
    if not rows:
        msg = f"no county called {text!r} in gridgeo's table of China's counties"
        raise NotFoundError(msg)
    if len(rows) > 1:
        listed = ", ".join(
            f"{r['adcode']} {n.province}{n.city}{n.county}"
            for r in rows
            for n in [admin_names(r["adcode"])]
        )
        msg = f"several counties are called {text!r} ({listed}); give the adcode instead"
        raise InputError(msg)
    return admin_names(rows[0]["adcode"])
