"""Messy customer addresses for the generated sample county (private to ``gridgeo.sample``).

The customer archives of a county power-supply company hold addresses typed by many
clerks over many years: with or without province, city and county, township names
with and without their 乡/镇 suffix or under an old name, 村 / 村委会 / 村民委员会,
group numbers written 5组, 五组, 第5组 or 5村小组, full-width digits, stray
punctuation, homophone typos and hamlet names. This module writes such addresses
for rows of (township, village, group, house number) of 南丰县 (Nanfeng County,
抚州市, 江西省), labels every address with the form it was written in, and builds a
labelled evaluation set for the offline geocoder.

Variants (``VARIANTS``; example for 三溪乡 三溪村, group 5, house 12):

``full_chain``
    province, city, county, township, village (half the time as 村委会 /
    村民委员会), group, house: 江西省抚州市南丰县三溪乡三溪村委会5组12号.
``county_chain``
    no province or city: 南丰县三溪乡三溪村5组12号.
``town_village``
    township and village only: 三溪乡三溪村5组12号.
``town_short``
    township without its 乡/镇 suffix: 三溪三溪村5组 (sometimes after 南丰县).
``committee_suffix``
    the village written as its committee: 三溪村委会 / 三溪村民委员会, or for a
    community 解放路社区居委会 / 解放路居委会 / 解放路社区居民委员会.
``missing_town_county``
    county and village, no township: 南丰县三溪村5组. Ambiguous where the village
    name exists in two townships (黄家村, 罗坊村 in the Nanfeng gazetteer).
``missing_town``
    village only: 三溪村5组12号 (same ambiguity).
``town_only``
    township only, no village: 三溪乡, 南丰县三溪乡圩上, 三溪乡12号.
``cn_numerals``
    group (and house numbers up to 99) in Chinese numerals: 三溪乡三溪村五组十二号.
``group_words``
    the group as 第5组, 第五组, 5村小组, 五村民小组 or 第5村民小组.
``hamlet``
    a natural village (自然村) after the village: 三溪乡三溪村下坪, 三溪村委会黄家坑组,
    三溪村老屋自然村, 三溪村下坪5组. Hamlet names are **generated** from common
    Jiangxi place-name parts (``HAMLET_PREFIXES`` + ``HAMLET_SUFFIXES``); they are
    not real hamlets of the village.
``old_town_name``
    the township under an old name. Only 市山镇 → 市山乡 is attested (GeoNames still
    lists the seat as 市山乡, ``OLD_TOWN_NAMES``); for the other townships the old
    name is the 乡/镇 suffix swapped (many 乡 became 镇; the reverse is a plain
    clerk's slip), which is an assumption, not history.
``fullwidth``
    full-width digits (and sometimes a full-width letter): 三溪乡三溪村５组１２Ａ号.
``noisy_punct``
    stray spaces and punctuation between the parts and a note in brackets:
    三溪乡 ，三溪村-5组（老屋）.
``typo``
    one homophone or look-alike character substituted in the township or village
    name (三溪→三西, 洽湾→恰湾, 傅坊→付坊, from ``TYPO_CONFUSIONS``), or one
    character dropped from a name of three or more characters (黄连山村→黄山村). A
    typo that would give another real name of the gazetteer is never used.
``street_address``
    county-seat street address for the communities of 琴城镇: the street named by the
    community (解放路社区 → 解放路) with a generated number, sometimes a generated
    lane (3巷) and a generated building/unit/room (5栋2单元301室), or, when the
    community is written too, one of a few generated street names
    (``GENERATED_STREETS``, not checked against the real town plan):
    南丰县琴城镇解放路社区解放路123号, 琴城镇桔都东路3巷8号.

Rows of the gazetteer's statistical placeholders (``南丰县长红垦殖场虚拟生活区``,
``南丰工业园区虚拟社区``: names holding ``虚拟``) are written as their township only
(南丰县长红垦殖场5组, 南丰县工业园区12号); they take the variants that keep the
township and, for the industrial park, no group number.

Variant weights are relative: each row draws among the variants that apply to it
(``street_address`` only to county-seat communities, ``town_short`` and
``old_town_name`` only to townships ending in 乡/镇, ``hamlet`` only to 村, ...),
with the weights renormalised over those.

The labelled set (:func:`make_labelled_addresses`) adds hard cases, labelled with
``HARD_CASE_VARIANTS``: duplicated village names without a township
(``ambiguous_village``), short village names that are part of longer ones
(``nested_village_name``, e.g. 前村 in 林前村), places in the neighbouring
counties (``other_county``, ``NEIGHBOUR_TOWNS``) and garbage (``garbage``).

:func:`marketing_addresses` rewrites the archive addresses of some customers the way a
marketing-system export holds them (``MARKETING_VARIANTS``, with their own random stream):
traditional characters (``TRADITIONAL_CHARS``, a fixed table checked against OpenCC in the
tests), a phone or ID number in front, between township and village or at the end (with 电话,
联系人 or 户主 and a name), 县城 / 城关镇 / 城区 for the county-seat township, house numbers as
12-3号, 18弄3号, 5栋2单元301室, and the rows the no-silent-guess rules are about (a stem shared by
a 村 and a 社区 of one township: ambiguous; a look-alike village of another township:
township-level; a misspelt name two townships hold: ambiguous). Each row is labelled with what
its written address lets a reader tell (``village``, ``town`` or ``ambiguous``); an archive
typo that is the same typo of two villages of its township (建路社区 for 建设路社区 and
新建路社区) is labelled ambiguous.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridgeo.errors import EmptyDataError, InputError, MissingColumnError

__all__ = [
    "DEFAULT_VARIANT_WEIGHTS",
    "EXPECTED_STATUSES",
    "HARD_CASE_VARIANTS",
    "MARKETING_VARIANTS",
    "NANFENG_NAMES",
    "TRADITIONAL_CHARS",
    "VARIANTS",
    "CountyNames",
    "make_addresses",
    "make_id_numbers",
    "make_labelled_addresses",
    "make_phones",
    "marketing_addresses",
    "to_traditional",
]

logger = logging.getLogger(__name__)

PROVINCE = "江西省"
CITY = "抚州市"
COUNTY = "南丰县"
COUNTY_SEAT_TOWN = "琴城镇"
VIRTUAL_MARKER = "虚拟"


@dataclass(frozen=True)
class CountyNames:
    """The names an address of one county is written with.

    Attributes
    ----------
    province, city, county
        Full names (``江西省``, ``抚州市``, ``南丰县``), from :func:`gridgeo.admin.admin_names`
        for any county.
    county_seat
        The township of the county seat (``琴城镇``), whose communities get street addresses.
    """

    province: str
    city: str
    county: str
    county_seat: str


NANFENG_NAMES = CountyNames(PROVINCE, CITY, COUNTY, COUNTY_SEAT_TOWN)

VARIANTS: tuple[str, ...] = (
    "full_chain",
    "county_chain",
    "town_village",
    "town_short",
    "committee_suffix",
    "missing_town_county",
    "missing_town",
    "town_only",
    "cn_numerals",
    "group_words",
    "hamlet",
    "old_town_name",
    "fullwidth",
    "noisy_punct",
    "typo",
    "street_address",
)

HARD_CASE_VARIANTS: tuple[str, ...] = (
    "ambiguous_village",
    "nested_village_name",
    "other_county",
    "garbage",
)

EXPECTED_STATUSES: tuple[str, ...] = ("village", "town", "ambiguous", "other_county", "garbage")

# Relative weights, a guess at a county archive: most entries are township + village
# with or without the county; the odd forms are a few percent each. street_address
# competes only among county-seat community rows, where it is common.
DEFAULT_VARIANT_WEIGHTS: dict[str, float] = {
    "full_chain": 0.05,
    "county_chain": 0.16,
    "town_village": 0.24,
    "town_short": 0.06,
    "committee_suffix": 0.07,
    "missing_town_county": 0.04,
    "missing_town": 0.06,
    "town_only": 0.02,
    "cn_numerals": 0.06,
    "group_words": 0.05,
    "hamlet": 0.05,
    "old_town_name": 0.02,
    "fullwidth": 0.03,
    "noisy_punct": 0.05,
    "typo": 0.03,
    "street_address": 0.35,
}

# Attested old names only (GeoNames 1795013 lists the seat of 市山镇 as 市山乡).
OLD_TOWN_NAMES: dict[str, str] = {"市山镇": "市山乡"}

TYPO_VILLAGE_SHARE = 0.6  # share of typos in the village name where both names can take one

# Plausible clerk's confusions: same or near pronunciation (溪/西, 坊/方, 傅/付) or a
# look-alike character (洽/恰, 霄/宵, 太/大, 瞿/翟).
TYPO_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "溪": ("西", "夕"),
    "洽": ("恰",),
    "湾": ("弯",),
    "坊": ("方", "芳"),
    "坪": ("平", "评"),
    "源": ("元", "原"),
    "塘": ("唐", "堂"),
    "陂": ("坡", "波"),
    "磜": ("际", "砌"),
    "坑": ("炕",),
    "堡": ("保", "宝"),
    "霄": ("宵",),
    "舍": ("社",),
    "邮": ("油", "由"),
    "峰": ("锋", "风"),
    "莱": ("来",),
    "太": ("大",),
    "傅": ("付",),
    "洲": ("州",),
    "渡": ("度",),
    "陶": ("淘",),
    "谦": ("廉",),
    "耀": ("跃",),
    "翠": ("萃",),
    "梓": ("子",),
    "瑶": ("遥", "摇"),
    "艾": ("爱",),
    "茅": ("毛", "矛"),
    "樟": ("章",),
    "杭": ("航",),
    "晗": ("含",),
    "潺": ("孱",),
    "瞿": ("翟",),
    "尧": ("姚",),
    "藕": ("偶",),
    "邱": ("丘",),
    "咀": ("嘴",),
    "荷": ("河", "和"),
    "岗": ("冈", "港"),
    "巢": ("朝",),
    "熊": ("雄",),
    "柏": ("伯", "百"),
    "苍": ("仓",),
    "琴": ("芹",),
    "桔": ("橘",),
    "甘": ("干",),
    "董": ("懂",),
}

HAMLET_PREFIXES: tuple[str, ...] = (
    "上",
    "下",
    "中",
    "前",
    "后",
    "新",
    "老",
    "大",
    "小",
    "高",
    "黄家",
    "李家",
    "刘家",
    "王家",
    "张家",
    "陈家",
    "吴家",
    "曾家",
    "邓家",
)
HAMLET_SUFFIXES: tuple[str, ...] = (
    "坪",
    "坑",
    "屋",
    "排",
    "坊",
    "源",
    "塘",
    "岭",
    "湾",
    "垅",
    "背",
    "圳",
    "坳",
)
HAMLET_TAILS: tuple[str, ...] = ("", "组", "自然村")

GROUP_WORD_FORMS: tuple[str, ...] = (
    "第{a}组",
    "第{c}组",
    "{a}村小组",
    "{c}村民小组",
    "第{a}村民小组",
)

TOWN_ONLY_TAILS: tuple[str, ...] = ("", "", "圩上", "街上", "政府附近")

SEPARATORS: tuple[str, ...] = (" ", "  ", "，", ",", "-", "、", "　", "/")
BRACKET_NOTES: tuple[str, ...] = (
    "老屋",
    "新屋",
    "新房",
    "桔园旁",
    "小卖部旁",
    "村部对面",
    "祠堂边",
    "路口",
    "桥头",
    "冷库",
)
BRACKETS: tuple[tuple[str, str], ...] = (("（", "）"), ("(", ")"), ("【", "】"))

# Generated street names for county-seat addresses (not checked against the real plan).
GENERATED_STREETS: tuple[str, ...] = ("桔香路", "文昌巷", "东门街", "盱江大道", "胜利巷", "南门路")
STREET_ENDINGS: tuple[str, ...] = ("大道", "路", "街", "巷")

# Towns of the neighbouring counties: GeoNames (CC BY 4.0, ../shared/data/admin/
# geonames_cn_places500.csv) town seats that fall inside the named county of the Amap
# boundaries (amap_jiangxi_counties_gcj02.gpkg), each more than 2 km from the county
# border so the 300-600 m GCJ-02 offset cannot move them across it.
NEIGHBOUR_TOWNS: tuple[tuple[str, str, str], ...] = (
    ("抚州市", "南城县", "建昌镇"),
    ("抚州市", "南城县", "株良镇"),
    ("抚州市", "南城县", "上唐镇"),
    ("抚州市", "南城县", "里塔镇"),
    ("抚州市", "南城县", "新丰街镇"),
    ("抚州市", "南城县", "洪门镇"),
    ("抚州市", "南城县", "天井源乡"),
    ("抚州市", "南城县", "徐家乡"),
    ("抚州市", "广昌县", "旴江镇"),
    ("抚州市", "广昌县", "千善乡"),
    ("抚州市", "广昌县", "苦竹镇"),
    ("抚州市", "广昌县", "水南圩乡"),
    ("抚州市", "广昌县", "长桥乡"),
    ("抚州市", "广昌县", "尖峰乡"),
    ("抚州市", "广昌县", "头陂镇"),
    ("抚州市", "广昌县", "赤水镇"),
    ("抚州市", "黎川县", "日峰镇"),
    ("抚州市", "黎川县", "龙安镇"),
    ("抚州市", "黎川县", "潭溪乡"),
    ("抚州市", "宜黄县", "新丰乡"),
    ("抚州市", "宜黄县", "圳口乡"),
    ("抚州市", "宜黄县", "东陂镇"),
    ("抚州市", "宜黄县", "南源乡"),
    ("抚州市", "宜黄县", "黄陂镇"),
    ("赣州市", "宁都县", "肖田乡"),
    ("赣州市", "宁都县", "洛口镇"),
    ("赣州市", "宁都县", "东韶乡"),
)

GARBAGE_ADDRESSES: tuple[str, ...] = (
    "不详",
    "同上",
    "？？",
    "??",
    "无",
    "未知",
    "地址不详",
    "见上",
    "/",
    "-",
    "0",
    "。。。",
    "***",
    "",
    " ",
    "　",
)

LABELLED_HARD_CASE_SHARE = 0.12
LABELLED_MAX_GROUP_NO = 15
LABELLED_MAX_HOUSE_NO = 150

_ROW_COLUMNS = ("town", "village", "group_no", "house_no")
_GAZETTEER_COLUMNS = ("town", "town_code", "village")
_N_UNIFORMS = 10
_CN_DIGITS = "零一二三四五六七八九"
_CN_UNITS = ("", "十", "百", "千")
_FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ－",
)


def _int_to_chinese(n: int) -> str:
    """Write 0 <= n <= 9999 in Chinese numerals as a clerk would (十二, 一百零五)."""
    if not 0 <= n <= 9999:
        msg = f"`n` must be between 0 and 9999 to be written in Chinese numerals, got {n!r}"
        raise InputError(msg)
    if n == 0:
        return _CN_DIGITS[0]
    digits = str(n)
    out: list[str] = []
    pending_zero = False
    for i, ch in enumerate(digits):
        d = int(ch)
        if d == 0:
            pending_zero = True
            continue
        if pending_zero and out:
            out.append(_CN_DIGITS[0])
        pending_zero = False
        out.append(_CN_DIGITS[d] + _CN_UNITS[len(digits) - 1 - i])
    text = "".join(out)
    return text[1:] if 10 <= n < 20 else text  # 十二, not 一十二


def _to_fullwidth(text: str) -> str:
    """Turn ASCII digits, capital letters and '-' into their full-width forms."""
    return text.translate(_FULLWIDTH)


# --------------------------------------------------------------------------- places


def _town_bare(town: str, county: str = COUNTY) -> str:
    return town[len(county) :] if town.startswith(county) else town


def _town_with_county(town: str, county: str = COUNTY) -> str:
    if town.startswith(county):
        return town
    stem = county[:-1]  # 南丰工业园区 -> 南丰县工业园区
    return county + (town[len(stem) :] if town.startswith(stem) else town)


def _has_suffix(town: str) -> bool:
    return len(town) > 2 and town[-1] in "乡镇"


def _village_parts(village: str) -> tuple[str, str]:
    """Split a village name into stem and kind ('村', '社区' or '')."""
    if village.endswith("社区"):
        return village[:-2], "社区"
    if village.endswith("村"):
        return village[:-1], "村"
    return village, ""


def _committee_forms(village: str) -> tuple[str, str, str]:
    stem, kind = _village_parts(village)
    if kind == "村":
        return stem + "村委会", stem + "村民委员会", stem + "村委会"
    if kind == "社区":
        return stem + "社区居委会", stem + "居委会", stem + "社区居民委员会"
    return village, village, village


def _name_typos(name: str, stem: str, suffix: str, real: set[str]) -> list[str]:
    """Names one substituted or dropped character away from ``name``, never a real one."""
    out: list[str] = []
    for i, ch in enumerate(stem):
        for sub in TYPO_CONFUSIONS.get(ch, ()):
            out.append(stem[:i] + sub + stem[i + 1 :] + suffix)
    if len(stem) >= 3:
        out.extend(stem[:i] + stem[i + 1 :] + suffix for i in range(len(stem)))
    seen: list[str] = []
    for cand in out:
        if cand != name and cand not in real and cand not in seen:
            seen.append(cand)
    return seen


@dataclass(frozen=True)
class _Places:
    """Every distinct (town, village) pair with all its written forms."""

    town: np.ndarray
    village: np.ndarray
    town_bare: np.ndarray
    town_county: np.ndarray
    town_short: np.ndarray
    town_old: np.ndarray
    village_plain: np.ndarray
    committee: np.ndarray  # (n_places, 3)
    street: np.ndarray  # the community's namesake street, "" if none
    no_group: np.ndarray  # bool: industrial-park placeholder, written without 组
    eligible: np.ndarray  # bool (n_places, len(VARIANTS))
    typo_offset: np.ndarray  # (n_places, 2): first town typo, first village typo
    typo_count: np.ndarray  # (n_places, 2)
    typo_town: np.ndarray
    typo_village: np.ndarray
    typo_note: np.ndarray
    names: CountyNames


def _build_places(
    towns: Sequence[str], villages: Sequence[str], names: CountyNames = NANFENG_NAMES
) -> _Places:
    real = set(towns) | set(villages)
    n = len(towns)
    obj = lambda: np.empty(n, dtype=object)  # noqa: E731
    town_bare, town_county, town_short, town_old = obj(), obj(), obj(), obj()
    plain, street = obj(), obj()
    committee = np.empty((n, 3), dtype=object)
    no_group = np.zeros(n, dtype=bool)
    eligible = np.zeros((n, len(VARIANTS)), dtype=bool)
    col = {v: i for i, v in enumerate(VARIANTS)}
    t_off = np.zeros((n, 2), dtype=np.int64)
    t_cnt = np.zeros((n, 2), dtype=np.int64)
    t_town: list[str] = []
    t_vill: list[str] = []
    t_note: list[str] = []
    for k, (town, village) in enumerate(zip(towns, villages, strict=True)):
        virtual = VIRTUAL_MARKER in village
        suffix = _has_suffix(town)
        stem, kind = _village_parts(village)
        town_bare[k] = _town_bare(town, names.county)
        town_county[k] = _town_with_county(town, names.county)
        town_short[k] = town[:-1] if suffix else town_bare[k]
        if town in OLD_TOWN_NAMES:
            town_old[k] = OLD_TOWN_NAMES[town]
        elif suffix:
            town_old[k] = town[:-1] + ("镇" if town[-1] == "乡" else "乡")
        else:
            town_old[k] = town_bare[k]
        plain[k] = "" if virtual else village
        committee[k] = ("", "", "") if virtual else _committee_forms(village)
        street[k] = stem if kind == "社区" and stem.endswith(STREET_ENDINGS) else ""
        no_group[k] = virtual and "园区" in town
        e = eligible[k]
        for v in ("full_chain", "county_chain", "town_village", "fullwidth", "noisy_punct"):
            e[col[v]] = True
        for v in ("cn_numerals", "group_words"):
            e[col[v]] = not no_group[k]
        for v in ("committee_suffix", "missing_town_county", "missing_town", "town_only"):
            e[col[v]] = not virtual
        e[col["hamlet"]] = kind == "村" and not virtual
        e[col["town_short"]] = suffix
        e[col["old_town_name"]] = suffix
        e[col["street_address"]] = town == names.county_seat and kind == "社区"
        # typo candidates: in the town stem (keeping 乡/镇) or the village stem
        t_off[k, 0] = len(t_town)
        if suffix:
            for cand in _name_typos(town, town[:-1], town[-1], real):
                t_town.append(cand)
                t_vill.append(plain[k])
                t_note.append(f"typo town {town}→{cand}")
        t_off[k, 1] = len(t_town)
        t_cnt[k, 0] = t_off[k, 1] - t_off[k, 0]
        if not virtual:
            for cand in _name_typos(village, stem, kind, real):
                t_town.append(town_bare[k])
                t_vill.append(cand)
                t_note.append(f"typo village {village}→{cand}")
        t_cnt[k, 1] = len(t_town) - t_off[k, 1]
        e[col["typo"]] = t_cnt[k].sum() > 0
    return _Places(
        town=np.asarray(towns, dtype=object),
        village=np.asarray(villages, dtype=object),
        town_bare=town_bare,
        town_county=town_county,
        town_short=town_short,
        town_old=town_old,
        village_plain=plain,
        committee=committee,
        street=street,
        no_group=no_group,
        eligible=eligible,
        typo_offset=t_off,
        typo_count=t_cnt,
        typo_town=np.asarray(t_town, dtype=object),
        typo_village=np.asarray(t_vill, dtype=object),
        typo_note=np.asarray(t_note, dtype=object),
        names=names,
    )


# --------------------------------------------------------------------------- rows


def _pick(options: Sequence[str], u: np.ndarray) -> np.ndarray:
    """Choose one of ``options`` per row from uniforms ``u`` in [0, 1)."""
    arr = np.asarray(options, dtype=object)
    return arr[np.minimum((u * len(arr)).astype(np.int64), len(arr) - 1)]


def _opt(part: np.ndarray | str, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, part, "").astype(object)


def _number_strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ASCII, Chinese-numeral and full-width strings of integers, formatted once per value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    ascii_ = np.array([str(int(v)) for v in uniq], dtype=object)
    cn = np.array(
        [_int_to_chinese(int(v)) if v <= 9999 else str(int(v)) for v in uniq], dtype=object
    )
    fw = np.array([_to_fullwidth(s) for s in ascii_], dtype=object)
    return ascii_[inverse], cn[inverse], fw[inverse]


class _Rows:
    """Per-row written forms of one subset of rows (one variant)."""

    def __init__(
        self,
        places: _Places,
        code: np.ndarray,
        group: np.ndarray,
        house: np.ndarray,
        u: np.ndarray,
    ) -> None:
        self.code = code
        self.u = u
        self.town = places.town_bare[code]
        self.town_full = places.town[code]
        self.town_county = places.town_county[code]
        self.town_short = places.town_short[code]
        self.town_old = places.town_old[code]
        self.village = places.village_plain[code]
        self.committee = places.committee[code, np.minimum((u[:, 9] * 3).astype(np.int64), 2)]
        self.street = places.street[code]
        no_group = places.no_group[code]
        g_a, g_c, g_f = _number_strings(group)
        h_a, h_c, h_f = _number_strings(house)
        self.g_ascii, self.g_cn, self.g_fw = g_a, g_c, g_f
        self.grp = _opt(g_a + "组", ~no_group)
        self.grp_cn = _opt(g_c + "组", ~no_group)
        self.grp_fw = _opt(g_f + "组", ~no_group)
        self.no_group = no_group
        self.house = h_a + "号"
        self.house_cn = np.where(house <= 99, h_c, h_a).astype(object) + "号"
        self.house_fw = h_f
        self.places = places
        self.county = places.names.county
        self.province_city = places.names.province + places.names.city


def _town_maybe_county(r: _Rows, p_county: float) -> np.ndarray:
    return np.where(r.u[:, 0] < p_county, r.town_county, r.town).astype(object)


def _v_full_chain(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    vill = np.where(r.u[:, 2] < 0.5, r.committee, r.village).astype(object)
    addr = r.province_city + r.town_county + vill + r.grp + _opt(r.house, r.u[:, 1] < 0.7)
    return addr, None


def _v_county_chain(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    return r.town_county + r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_town_village(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    return r.town + r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.6), None


def _v_town_short(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    head = _opt(r.county, r.u[:, 0] < 0.3)
    return head + r.town_short + r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_committee_suffix(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    town = _town_maybe_county(r, 0.5)
    return town + r.committee + r.grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_missing_town_county(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    return r.county + r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_missing_town(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    return r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_town_only(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    tail = _pick((*TOWN_ONLY_TAILS, "#"), r.u[:, 2])
    tail = np.where(tail == "#", r.house, tail).astype(object)
    return _town_maybe_county(r, 0.5) + tail, None


def _v_cn_numerals(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    town = _town_maybe_county(r, 0.4)
    return town + r.village + r.grp_cn + _opt(r.house_cn, r.u[:, 1] < 0.6), None


def _v_group_words(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    k = np.minimum((r.u[:, 2] * len(GROUP_WORD_FORMS)).astype(np.int64), len(GROUP_WORD_FORMS) - 1)
    grp = np.empty(len(k), dtype=object)
    for i, form in enumerate(GROUP_WORD_FORMS):
        m = k == i
        head, _, rest = form.partition("{")
        key, _, tail = rest.partition("}")
        nums = r.g_ascii[m] if key == "a" else r.g_cn[m]
        grp[m] = head + nums + tail
    town = _town_maybe_county(r, 0.4)
    return town + r.village + grp + _opt(r.house, r.u[:, 1] < 0.5), None


def _v_hamlet(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    hamlet = _pick(HAMLET_PREFIXES, r.u[:, 4]) + _pick(HAMLET_SUFFIXES, r.u[:, 5])
    tail = _pick((*HAMLET_TAILS, "#"), r.u[:, 6])
    tail = np.where(tail == "#", r.grp, tail).astype(object)
    vill = np.where(r.u[:, 3] < 0.3, r.committee, r.village).astype(object)
    town = _town_maybe_county(r, 0.4)
    addr = town + vill + hamlet + tail + _opt(r.house, r.u[:, 1] < 0.3)
    return addr, "generated hamlet " + hamlet


def _v_old_town_name(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    head = _opt(r.county, r.u[:, 0] < 0.6)
    addr = head + r.town_old + r.village + r.grp + _opt(r.house, r.u[:, 1] < 0.5)
    return addr, "old town name " + r.town_old


def _v_fullwidth(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    letter = _pick(("Ａ", "Ｂ", "Ｃ"), r.u[:, 4])
    house = r.house_fw + _opt(letter, r.u[:, 3] < 0.15) + "号"
    # a park row without group or house would hold no digit at all: keep its house
    keep_house = (r.u[:, 1] < 0.8) | r.no_group
    return _town_maybe_county(r, 0.4) + r.village + r.grp_fw + _opt(house, keep_house), None


def _v_noisy_punct(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    parts = [
        _opt(r.county, r.u[:, 0] < 0.4),
        r.town,
        r.village,
        r.grp,
        _opt(r.house, r.u[:, 1] < 0.5),
    ]
    addr = parts[0]
    for j, part in enumerate(parts[1:]):
        sep = _pick(SEPARATORS, r.u[:, 4 + j])
        join = (part != "") & (addr != "")
        addr = addr + _opt(sep, join) + part
    # a note in brackets for about half of the rows, and always where no separator fell
    n_seps = sum(((p != "") for p in parts[1:]), np.zeros(len(addr), dtype=np.int64))
    has_note = (r.u[:, 8] < 0.5) | (n_seps <= 1)
    pick_b = np.minimum((r.u[:, 3] * len(BRACKETS)).astype(np.int64), len(BRACKETS) - 1)
    left = np.array([b[0] for b in BRACKETS], dtype=object)[pick_b]
    right = np.array([b[1] for b in BRACKETS], dtype=object)[pick_b]
    note = left + _pick(BRACKET_NOTES, r.u[:, 2]) + right
    return addr + _opt(note, has_note), None


def _v_typo(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    p = r.places
    cnt = p.typo_count[r.code]
    # village names are less familiar to clerks than township names: typo them more often
    part = ((r.u[:, 3] < TYPO_VILLAGE_SHARE) & (cnt[:, 1] > 0)) | (cnt[:, 0] == 0)
    part = part.astype(np.int64)
    rows = np.arange(len(part))
    cnt = cnt[rows, part]
    offset = p.typo_offset[r.code][rows, part]
    pick = offset + np.minimum((r.u[:, 2] * cnt).astype(np.int64), cnt - 1)
    head = _opt(r.county, r.u[:, 0] < 0.4)
    addr = head + p.typo_town[pick] + p.typo_village[pick] + r.grp
    return addr + _opt(r.house, r.u[:, 1] < 0.5), p.typo_note[pick]


def _v_street_address(r: _Rows) -> tuple[np.ndarray, np.ndarray | None]:
    named = r.street != ""
    # with no namesake street the community must be written, else nothing ties it down
    with_comm = (r.u[:, 2] < 0.5) | ~named
    comm = np.where(r.u[:, 3] < 0.5, r.committee, r.village).astype(object)
    use_generated = with_comm & ((r.u[:, 4] < 0.3) | ~named)
    street = np.where(use_generated, _pick(GENERATED_STREETS, r.u[:, 5]), r.street).astype(object)
    lane = _opt(
        _pick(tuple("123456789"), (r.u[:, 6] * 4) % 1.0) + "巷", (r.u[:, 6] < 0.25) & ~use_generated
    )
    b = r.u[:, 7]
    building = (
        _pick([str(i) for i in range(1, 13)], b)
        + "栋"
        + _pick(("1", "2", "3"), (b * 12) % 1.0)
        + "单元"
        + _pick([f"{f}0{d}" for f in range(1, 7) for d in (1, 2)], (b * 36) % 1.0)
        + "室"
    )
    addr = (
        _opt(r.county, r.u[:, 0] < 0.5)
        + _opt(r.town_full, r.u[:, 8] < 0.8)
        + _opt(comm, with_comm)
        + street
        + lane
        + r.house
        + _opt(building, b < 0.3)
    )
    note = np.where(use_generated, "generated street " + street, "street of community")
    return addr, note.astype(object)


_BUILDERS: dict[str, Callable[[_Rows], tuple[np.ndarray, np.ndarray | None]]] = {
    "full_chain": _v_full_chain,
    "county_chain": _v_county_chain,
    "town_village": _v_town_village,
    "town_short": _v_town_short,
    "committee_suffix": _v_committee_suffix,
    "missing_town_county": _v_missing_town_county,
    "missing_town": _v_missing_town,
    "town_only": _v_town_only,
    "cn_numerals": _v_cn_numerals,
    "group_words": _v_group_words,
    "hamlet": _v_hamlet,
    "old_town_name": _v_old_town_name,
    "fullwidth": _v_fullwidth,
    "noisy_punct": _v_noisy_punct,
    "typo": _v_typo,
    "street_address": _v_street_address,
}


# --------------------------------------------------------------------------- checks


def _check_columns(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = (
            f"`{name}` lacks column(s) {missing!r}; it needs {list(columns)!r} "
            f"(has {list(df.columns)!r})"
        )
        raise MissingColumnError(msg)


def _names(series: pd.Series, column: str, name: str) -> np.ndarray:
    values = series.to_numpy(dtype=object)
    bad = np.array([not isinstance(v, str) or not v.strip() for v in values], dtype=bool)
    if bad.any():
        labels = list(series.index[bad][:5])
        msg = (
            f"`{name}` column `{column}` is empty or not text at index {labels!r} "
            f"({int(bad.sum())} row(s)); give every row its township and village name "
            "(村/社区 as in the gazetteer)"
        )
        raise InputError(msg)
    return values


def _positive_ints(series: pd.Series, column: str, name: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.floor(values))
    if bad.any():
        labels = list(series.index[bad][:5])
        msg = (
            f"`{name}` column `{column}` must hold whole numbers >= 1, got "
            f"{list(series[bad][:5])!r} at index {labels!r}; fill or drop those rows"
        )
        raise InputError(msg)
    return values.astype(np.int64)


def _variant_probabilities(
    variant_weights: Mapping[str, float] | None, variants: Sequence[str] | None
) -> np.ndarray:
    weights = dict(DEFAULT_VARIANT_WEIGHTS)
    if variant_weights is not None:
        unknown = [k for k in variant_weights if k not in VARIANTS]
        if unknown:
            msg = f"`variant_weights` has unknown variant(s) {unknown!r}; valid: {VARIANTS!r}"
            raise InputError(msg)
        for key, w in variant_weights.items():
            if not np.isfinite(w) or w < 0:
                msg = f"`variant_weights[{key!r}]` must be a finite number >= 0, got {w!r}"
                raise InputError(msg)
            weights[key] = float(w)
    if variants is not None:
        if isinstance(variants, str):
            variants = (variants,)
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown or not variants:
            msg = f"`variants` must name one or more of {VARIANTS!r}, got {list(variants)!r}"
            raise InputError(msg)
        weights = {k: (w if k in variants else 0.0) for k, w in weights.items()}
    out = np.array([weights[v] for v in VARIANTS], dtype=float)
    if out.sum() <= 0:
        msg = "all allowed variants have weight 0; give at least one a weight > 0"
        raise InputError(msg)
    return out


# --------------------------------------------------------------------------- public


def _render(
    rows: pd.DataFrame,
    rng: np.random.Generator,
    *,
    variant_weights: Mapping[str, float] | None = None,
    variants: Sequence[str] | None = None,
    names: CountyNames = NANFENG_NAMES,
) -> pd.DataFrame:
    """Addresses, variant labels and a ``note`` (typo, generated parts) for ``rows``."""
    _check_columns(rows, _ROW_COLUMNS, "rows")
    weights = _variant_probabilities(variant_weights, variants)
    towns = _names(rows["town"], "town", "rows")
    villages = _names(rows["village"], "village", "rows")
    group = _positive_ints(rows["group_no"], "group_no", "rows")
    house = _positive_ints(rows["house_no"], "house_no", "rows")
    n = len(rows)
    address = np.empty(n, dtype=object)
    label = np.empty(n, dtype=object)
    note = np.full(n, None, dtype=object)
    if n == 0:
        return pd.DataFrame(
            {"address": address, "address_variant": label, "note": note}, index=rows.index
        )

    keys = pd.MultiIndex.from_arrays([towns, villages])
    code, uniq = pd.factorize(keys, sort=True)
    places = _build_places(
        [str(t) for t in uniq.get_level_values(0)],
        [str(v) for v in uniq.get_level_values(1)],
        names,
    )

    # each row draws among the variants allowed for its place, weights renormalised
    allowed = places.eligible & (weights > 0)
    patterns, place_pattern = np.unique(allowed, axis=0, return_inverse=True)
    row_pattern = place_pattern.reshape(-1)[code]
    choice = np.empty(n, dtype=np.int64)
    for p, pattern in enumerate(patterns):
        mask = row_pattern == p
        if not mask.any():
            continue
        w = weights * pattern
        if w.sum() <= 0:
            example = rows.index[mask][0]
            msg = (
                f"{int(mask.sum())} row(s) (first at index {example!r}: "
                f"{towns[mask][0]!r} {villages[mask][0]!r}) fit none of the allowed variants "
                f"{[v for v, x in zip(VARIANTS, weights > 0, strict=True) if x]!r}; "
                "allow one that fits every row, e.g. 'town_village'"
            )
            raise InputError(msg)
        choice[mask] = rng.choice(len(VARIANTS), size=int(mask.sum()), p=w / w.sum())
    u = rng.random((n, _N_UNIFORMS))

    for j, variant in enumerate(VARIANTS):
        idx = np.flatnonzero(choice == j)
        if idx.size == 0:
            continue
        sub = _Rows(places, code[idx], group[idx], house[idx], u[idx])
        addr, extra = _BUILDERS[variant](sub)
        address[idx] = addr
        label[idx] = variant
        if extra is not None:
            note[idx] = extra
    logger.debug("wrote %d addresses for %d places", n, len(places.town))
    return pd.DataFrame(
        {"address": address, "address_variant": label, "note": note}, index=rows.index
    )


def make_addresses(
    rows: pd.DataFrame,
    rng: np.random.Generator,
    *,
    variant_weights: Mapping[str, float] | None = None,
    variants: Sequence[str] | None = None,
    names: CountyNames | None = None,
) -> pd.DataFrame:
    """Write a messy archive address for every row of (township, village, group, house).

    Parameters
    ----------
    rows
        One row per customer with columns ``town`` (三溪乡), ``village`` (三溪村,
        解放路社区; the gazetteer's ``虚拟`` placeholders are written as their
        township), ``group_no`` (组) and ``house_no`` (号), whole numbers >= 1.
        Other columns (``town_code``, ...) are ignored.
    rng
        The random generator; the same generator state gives the same output.
    variant_weights
        Relative weights by variant label, updating ``DEFAULT_VARIANT_WEIGHTS``
        (labels not given keep their default). Each row draws among the variants
        that apply to it, with the weights renormalised over those.
    variants
        Allow only these labels of ``VARIANTS`` (default: all).
    names
        The province, city, county and county-seat township the addresses are written with
        (default: 南丰县, ``NANFENG_NAMES``).

    Returns
    -------
    pandas.DataFrame
        On the index of ``rows``: ``address`` (str) and ``address_variant`` (one
        label of ``VARIANTS``).

    Raises
    ------
    MissingColumnError
        If a required column is missing.
    InputError
        If a name is empty, a group or house number is not a whole number >= 1, a
        variant label or weight is invalid, or some row fits none of the allowed
        variants (``street_address`` alone fits only county-seat communities).
    """
    out = _render(
        rows,
        rng,
        variant_weights=variant_weights,
        variants=variants,
        names=NANFENG_NAMES if names is None else names,
    )
    return out[["address", "address_variant"]]


def _code_str(value: object) -> str | None:
    """Township statistics code as a string, None where the gazetteer has none."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (float, np.floating)):
        return str(int(value))
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return None
    return text[:-2] if text.endswith(".0") else text


def _hard_cases(
    places: pd.DataFrame,
    dup_names: list[str],
    nested: list[str],
    rng: np.random.Generator,
    counts: dict[str, int],
) -> list[dict[str, object]]:
    """Ambiguous, nested-name, other-county and garbage addresses with their truth."""
    out: list[dict[str, object]] = []

    def group_part() -> str:
        form = int(rng.integers(0, 4))
        g = int(rng.integers(1, LABELLED_MAX_GROUP_NO + 1))
        return ("", f"{g}组", f"{_int_to_chinese(g)}组", f"{g}组{int(rng.integers(1, 99))}号")[form]

    for _ in range(counts.get("ambiguous_village", 0)):
        name = dup_names[int(rng.integers(0, len(dup_names)))]
        head = ("", COUNTY)[int(rng.integers(0, 2))]
        written = (name, _committee_forms(name)[0])[int(rng.integers(0, 2))]
        towns = sorted(places.loc[places["village"] == name, "town"])
        out.append(
            {
                "address": head + written + group_part(),
                "address_variant": "ambiguous_village",
                "expected_town_code": None,
                "expected_town": None,
                "expected_village": None,
                "expected_status": "ambiguous",
                "note": f"{name} is in " + " | ".join(towns),
            }
        )
    for _ in range(counts.get("nested_village_name", 0)):
        name = nested[int(rng.integers(0, len(nested)))]
        row = places.loc[places["village"] == name].iloc[0]
        head = ("", COUNTY, row["town"])[int(rng.integers(0, 3))]
        longer = sorted(v for v in places["village"] if v != name and name in v)
        out.append(
            {
                "address": head + name + group_part(),
                "address_variant": "nested_village_name",
                "expected_town_code": row["town_code"],
                "expected_town": row["town"],
                "expected_village": name,
                "expected_status": "village",
                "note": f"{name} is part of " + " | ".join(longer),
            }
        )
    for _ in range(counts.get("other_county", 0)):
        city, county, town = NEIGHBOUR_TOWNS[int(rng.integers(0, len(NEIGHBOUR_TOWNS)))]
        form = int(rng.integers(0, 4))
        head = (PROVINCE + city + county, county, county, "")[form]
        tail = ("", group_part(), "圩上", group_part())[form]
        out.append(
            {
                "address": head + town + tail,
                "address_variant": "other_county",
                "expected_town_code": None,
                "expected_town": None,
                "expected_village": None,
                "expected_status": "other_county",
                "note": f"{city}{county}{town}",
            }
        )
    for _ in range(counts.get("garbage", 0)):
        form = int(rng.integers(0, 4))
        if form == 0:  # a mobile number typed into the address field
            digits = "".join(str(d) for d in rng.integers(0, 10, size=9))
            text = "1" + str(int(rng.integers(3, 10))) + digits
        elif form == 1:  # a Fuzhou landline
            text = "0794-" + "".join(str(d) for d in rng.integers(0, 10, size=7))
        else:
            text = GARBAGE_ADDRESSES[int(rng.integers(0, len(GARBAGE_ADDRESSES)))]
        out.append(
            {
                "address": text,
                "address_variant": "garbage",
                "expected_town_code": None,
                "expected_town": None,
                "expected_village": None,
                "expected_status": "garbage",
                "note": None,
            }
        )
    return out


def make_labelled_addresses(
    gazetteer: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n: int = 3000,
    include_hard_cases: bool = True,
) -> pd.DataFrame:
    """Build a labelled set of messy addresses to measure the geocoder per variant.

    Every variant of ``VARIANTS`` gets an equal share of the regular rows (each drawn
    from the gazetteer villages it applies to, groups 1-15, houses 1-150; a variant
    that fits no village is left out with a warning); with
    ``include_hard_cases`` about 12 % of the rows are hard cases
    (``HARD_CASE_VARIANTS``): village names that exist in two townships written
    without a township, short names that are part of longer ones (前村 in 林前村),
    towns of the neighbouring counties and garbage (不详, 同上, ？？, phone numbers,
    blanks).

    Parameters
    ----------
    gazetteer
        Township/village table with columns ``town``, ``town_code`` and ``village``
        (rows with an empty ``village`` are townships and are skipped), like
        ``nanfeng_gazetteer_towns_villages.csv``.
    rng
        The random generator; the same generator state gives the same output.
    n
        Number of rows, at least one per variant and hard case.
    include_hard_cases
        Add the hard cases.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows in random order on a 0..n-1 index: ``address``,
        ``address_variant``, ``expected_town_code`` (str, None for units without
        a code and where unresolvable), ``expected_town``, ``expected_village`` (None
        where no single village can be told), ``expected_status`` (one of
        ``EXPECTED_STATUSES``: ``village``, ``town`` for ``town_only``,
        ``ambiguous`` for duplicated names without a township, ``other_county``,
        ``garbage``) and ``note`` (the typo made, the candidates of an ambiguous
        name, generated parts). Rows of the ``虚拟`` placeholders expect that
        placeholder as their village (the only unit of 长红垦殖场 / 工业园区), with
        no town code.

    Raises
    ------
    MissingColumnError
        If the gazetteer lacks a required column.
    EmptyDataError
        If the gazetteer has no village rows.
    InputError
        If ``n`` is too small to hold every variant and hard case.
    """
    _check_columns(gazetteer, _GAZETTEER_COLUMNS, "gazetteer")
    village_col = gazetteer["village"]
    has_village = village_col.notna() & (village_col.astype(str).str.strip() != "")
    places = gazetteer.loc[has_village, ["town", "town_code", "village"]].copy()
    if places.empty:
        msg = "`gazetteer` has no rows with a `village` name; pass the township/village table"
        raise EmptyDataError(msg)
    places["town_code"] = [_code_str(v) for v in places["town_code"]]
    places = places.drop_duplicates(["town", "village"]).reset_index(drop=True)

    towns_of = places.groupby("village")["town"].nunique()
    dup_names = sorted(towns_of.index[towns_of > 1])
    names = list(places["village"])
    nested = sorted({a for a in names for b in names if a != b and a in b})

    hard: dict[str, int] = {}
    if include_hard_cases:
        kinds = [
            k
            for k, ok in (
                ("ambiguous_village", bool(dup_names)),
                ("nested_village_name", bool(nested)),
                ("other_county", True),
                ("garbage", True),
            )
            if ok
        ]
        for kind, missing in (("ambiguous_village", dup_names), ("nested_village_name", nested)):
            if not missing:
                warnings.warn(
                    f"the gazetteer has no village names for `{kind}` hard cases; none made",
                    UserWarning,
                    stacklevel=2,
                )
        n_hard = max(len(kinds), round(n * LABELLED_HARD_CASE_SHARE))
        base, extra = divmod(n_hard, len(kinds))
        hard = {k: base + (i < extra) for i, k in enumerate(kinds)}
    full = _build_places(list(places["town"]), list(places["village"]))
    fitting = [j for j in range(len(VARIANTS)) if full.eligible[:, j].any()]
    for j in sorted(set(range(len(VARIANTS))) - set(fitting)):
        warnings.warn(
            f"no gazetteer village fits variant {VARIANTS[j]!r}; the set has none of it",
            UserWarning,
            stacklevel=2,
        )
    n_regular = n - sum(hard.values())
    if n_regular < len(fitting):
        msg = (
            f"`n` must be at least {len(fitting) + sum(hard.values())} to hold every variant"
            f"{' and hard case' if hard else ''}, got {n!r}"
        )
        raise InputError(msg)

    base, extra = divmod(n_regular, len(fitting))
    parts: list[pd.DataFrame] = []
    for i, j in enumerate(fitting):
        variant = VARIANTS[j]
        count = base + (i < extra)
        fits = np.flatnonzero(full.eligible[:, j])
        pick = places.iloc[fits[rng.integers(0, fits.size, size=count)]].reset_index(drop=True)
        pick["group_no"] = rng.integers(1, LABELLED_MAX_GROUP_NO + 1, size=count)
        pick["house_no"] = rng.integers(1, LABELLED_MAX_HOUSE_NO + 1, size=count)
        written = _render(pick, rng, variants=(variant,))
        truth = pd.DataFrame(
            {
                "address": written["address"],
                "address_variant": written["address_variant"],
                "expected_town_code": pick["town_code"].astype(object),
                "expected_town": pick["town"].astype(object),
                "expected_village": pick["village"].astype(object),
                "expected_status": "village",
                "note": written["note"],
            }
        )
        if variant == "town_only":
            truth["expected_village"] = None
            truth["expected_status"] = "town"
        elif variant in ("missing_town", "missing_town_county"):
            amb = pick["village"].isin(dup_names).to_numpy()
            truth.loc[amb, ["expected_town_code", "expected_town", "expected_village"]] = None
            truth.loc[amb, "expected_status"] = "ambiguous"
            truth.loc[amb, "note"] = [
                f"{v} is in " + " | ".join(sorted(places.loc[places["village"] == v, "town"]))
                for v in pick.loc[amb, "village"]
            ]
        parts.append(truth)
    if hard:
        parts.append(pd.DataFrame(_hard_cases(places, dup_names, nested, rng, hard)))
    out = pd.concat(parts, ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    for column in ("expected_town_code", "expected_town", "expected_village", "note"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


# --------------------------------------------------------------------------- marketing export

# Simplified -> traditional for the characters of the Nanfeng names and address words plus
# the 110 most frequent convertible characters of the Jiangxi township and village names
# (sample_data/jiangxi). Taken from OpenCC s2t, keeping only characters whose traditional form
# converts back (t2s) and leaving out those that stay simplified in names (余, 范, 涂 as
# surnames; 里, 峰, 岩, 冲, 斗, 台 in place names). Enough to write a clerk's traditional
# address; the geocoder reads traditional text with a real converter.
_TRADITIONAL_FROM = (
    "业东丰举乡云仓会关军区单县号后员园国场坛垦头宝尧岗岭庄庙张户抚晒杨栋桥浆湾满瑶电"
    "红组罗联苍莱设话谦贤贯边进连邮邹镇长门阳际陆陈黄龙马双横万莲兴华凤枫处滩乐团坝楼"
    "树车芦农营冈铁胜兰经垅鹅宁银开温盘义观吴苏济滨荣风厂广窑锦乌枧邓临钟术饶产谢刘叶"
    "礼赣狮铜剑坞孙泽汤严历贡峡铺鸡灵浒种脑蓝蒋鱼钤阁丽矿涌赛垄许扬鹤垱对鹭顿韩炉顺钱"
    "渔郑聂鲁馆荆窝晓"
)
_TRADITIONAL_TO = (
    "業東豐舉鄉雲倉會關軍區單縣號後員園國場壇墾頭寶堯崗嶺莊廟張戶撫曬楊棟橋漿灣滿瑤電"
    "紅組羅聯蒼萊設話謙賢貫邊進連郵鄒鎮長門陽際陸陳黃龍馬雙橫萬蓮興華鳳楓處灘樂團壩樓"
    "樹車蘆農營岡鐵勝蘭經壠鵝寧銀開溫盤義觀吳蘇濟濱榮風廠廣窯錦烏梘鄧臨鍾術饒產謝劉葉"
    "禮贛獅銅劍塢孫澤湯嚴歷貢峽鋪雞靈滸種腦藍蔣魚鈐閣麗礦湧賽壟許揚鶴壋對鷺頓韓爐順錢"
    "漁鄭聶魯館荊窩曉"
)
TRADITIONAL_CHARS: dict[str, str] = dict(zip(_TRADITIONAL_FROM, _TRADITIONAL_TO, strict=True))
_TO_TRADITIONAL = str.maketrans(TRADITIONAL_CHARS)

MARKETING_VARIANTS: tuple[str, ...] = (
    "archive",  # the archive address as it is
    "traditional",  # the whole address in traditional characters (pt 3 of issue 11)
    "phone_in_address",  # a phone (or ID) number, maybe with a label and a name (pt 4)
    "county_seat",  # 县城 / 城关 / 城区 for the county-seat township (pt 5)
    "house_number",  # 12-3号, 18弄3号, 5栋2单元301室 (pt 7)
    "shared_stem",  # 太和镇太和: the stem of a 村 and a 社区 of one township (pt 6)
    "other_town_village",  # a township and a look-alike village of another township (pt 6)
    "ambiguous_typo",  # a close misspelling of a name two townships hold, no township (pt 6)
)
# Shares among the rows each variant fits (traditional and phones of every row, county_seat of
# the county-seat township's customers, ...); the rest keep the archive address.
MARKETING_SHARES: dict[str, float] = {
    "traditional": 0.03,
    "phone_in_address": 0.05,
    "county_seat": 0.30,
    "house_number": 0.06,
    "shared_stem": 0.10,
    "other_town_village": 0.10,
    "ambiguous_typo": 0.15,
}
# Area codes of the Jiangxi cities (by the first four adcode digits).
AREA_CODES: dict[str, str] = {
    "3601": "0791",
    "3602": "0798",
    "3603": "0799",
    "3604": "0792",
    "3605": "0790",
    "3606": "0701",
    "3607": "0797",
    "3608": "0796",
    "3609": "0795",
    "3610": "0794",
    "3611": "0793",
}
PHONE_KINDS: tuple[str, ...] = ("mobile", "landline", "missing", "malformed")
_PHONE_KIND_P = np.array([0.70, 0.13, 0.14, 0.03])
_MOBILE_HEADS = ("13", "15", "17", "18", "19")
# County-seat streets for town-level addresses (generated; never a community's namesake).
SEAT_STREETS: tuple[str, ...] = ("建设路", "人民路", "新华路", "环城路", "府前路", "中山路")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_HOUSE_RE = r"\d+号$"


def to_traditional(text: str) -> str:
    """Write ``text`` in traditional characters as far as ``TRADITIONAL_CHARS`` knows them."""
    return text.translate(_TO_TRADITIONAL)


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    d = rng.integers(0, 10, size=(n, k)).astype(str)
    return np.array(["".join(row) for row in d], dtype=object)


def make_phones(
    n: int, rng: np.random.Generator, *, area_code: str
) -> tuple[np.ndarray, np.ndarray]:
    """Phone numbers as a marketing system holds them, with their kind.

    Mobiles (``13907941234``), landlines (``0794-1234567``, ``07941234567`` or
    ``0794 1234567``), missing (empty) and malformed ones (a digit short or long, a landline
    without enough digits), in the shares of ``_PHONE_KIND_P``.

    Returns
    -------
    tuple of numpy.ndarray
        The phone texts and their kinds (one of ``PHONE_KINDS``).
    """
    kind = rng.choice(len(PHONE_KINDS), size=n, p=_PHONE_KIND_P)
    u = rng.random(n)
    mobile = _pick(_MOBILE_HEADS, u) + _digits(rng, n, 9)
    local = _digits(rng, n, 7)
    sep = _pick(("-", "", " "), (u * 7) % 1.0)
    landline = area_code + sep + local
    short = np.array([m[:-1] for m in mobile], dtype=object)
    long_ = mobile + _digits(rng, n, 1)
    bad_land = np.array([f"{area_code}-{x[:5]}" for x in local], dtype=object)
    malformed = np.where(u < 0.4, short, np.where(u < 0.7, long_, bad_land))
    phone = np.choose(kind, [mobile, landline, np.full(n, "", dtype=object), malformed])
    return phone.astype(object), np.asarray(PHONE_KINDS, dtype=object)[kind]


def make_id_numbers(n: int, rng: np.random.Generator, *, adcode: str) -> np.ndarray:
    """Resident ID numbers (18 characters, valid check digit) issued in county ``adcode``."""
    days = rng.integers(0, 365 * 60, size=n)
    birth = (np.datetime64("1945-01-01") + days.astype("timedelta64[D]")).astype(str)
    serial = rng.integers(0, 1000, size=n)
    body = [f"{adcode}{b.replace('-', '')}{s:03d}" for b, s in zip(birth, serial, strict=True)]
    return np.array(
        [x + _ID_CHECK[int(np.dot(_ID_WEIGHTS, [int(c) for c in x])) % 11] for x in body],
        dtype=object,
    )


def _phone_in(
    address: str, town: str, phone: str, contact: str, u: float, v: float
) -> tuple[str, str]:
    """Put ``phone`` (and maybe a label and ``contact``) in front, middle or at the end."""
    at = address.find(town) if town else -1
    middle_ok = at >= 0 and at + len(town) < len(address)
    forms: tuple[str, ...]
    if u < 0.45 or (u < 0.7 and not middle_ok):
        forms = (
            f"{phone}{address}",
            f"{contact} {phone} {address}",
            f"电话{phone} {address}",
            f"联系人：{contact} {phone} {address}",
        )
        return forms[min(int(v * len(forms)), len(forms) - 1)], "front"
    if u < 0.7:
        cut = at + len(town)
        forms = (
            f"{address[:cut]}{phone}{address[cut:]}",
            f"{address[:cut]} 电话{phone} {address[cut:]}",
        )
        return forms[min(int(v * len(forms)), len(forms) - 1)], "middle"
    forms = (
        f"{address} {phone}",
        f"{address} 电话：{phone}",
        f"{address}（联系人{contact} {phone}）",
        f"{address}，户主{contact}，{phone}",
    )
    return forms[min(int(v * len(forms)), len(forms) - 1)], "end"


def _house_form(rng_u: np.ndarray) -> str:
    """One of the house-number forms 12-3号, 18弄3号, 5栋2单元301室 from three uniforms."""
    a = 1 + int(rng_u[1] * 60)
    b = 1 + int(rng_u[2] * 9)
    form = int(rng_u[0] * 4)
    if form == 0:
        return f"{a}-{b}号"
    if form == 1:
        return f"{a}弄{b}号"
    room = f"{1 + int(rng_u[2] * 6)}0{1 + int(rng_u[1] * 4) % 4}"
    building = f"{1 + a % 12}栋{1 + b % 3}单元{room}室"
    return building if form == 2 else f"{a}号{building}"


def _seat_aliases(names: CountyNames, towns: Sequence[str]) -> tuple[str, ...]:
    """Ways to write the county seat without its name: 南丰县城, 县城, 城关镇, 城区."""
    county = names.county
    out = []
    if county.endswith("县"):
        out += [county + "城", "县城"]
    other = set(towns) - {names.county_seat}
    out += [a for a in (county + "城关镇", "城关镇", county + "城区", "城区") if a not in other]
    return tuple(a for a in out if a not in other and a.removeprefix(county) not in other)


def _look_alikes(villages: pd.DataFrame) -> dict[int, int]:
    """For village rows, a village of another township whose name looks like theirs.

    The other village's stem is the start of this one's (杨梅村 elsewhere for 莱溪乡 杨梅坑村,
    as in issue 11), its name is unique in the county and absent from this township.
    """
    stems = [_village_parts(v)[0] for v in villages["village"]]
    kinds = [_village_parts(v)[1] for v in villages["village"]]
    towns = villages["town"].to_numpy()
    names_in = villages.groupby("town")["village"].agg(set).to_dict()
    count = villages["village"].value_counts()
    out: dict[int, int] = {}
    for i, (si, ki) in enumerate(zip(stems, kinds, strict=True)):
        if ki != "村" or len(si) < 2:
            continue
        for j, (sj, kj) in enumerate(zip(stems, kinds, strict=True)):
            vj = villages["village"].iat[j]
            if (
                towns[i] != towns[j]
                and kj == "村"
                and sj != si
                and len(sj) >= 2
                and si.startswith(sj)
                and vj not in names_in[towns[i]]
                and count[vj] == 1
            ):
                out[i] = j
                break
    return out


def _typo_clashes(villages: pd.DataFrame, real: set[str]) -> dict[tuple[str, str], list[str]]:
    """Per (township, village), its typo names that are the same typo of another village there.

    Such a typo matches two villages equally (建路社区 drops one character of 建设路社区 and
    of 新建路社区), so its address is ambiguous, not the village the clerk meant.
    """
    out: dict[tuple[str, str], list[str]] = {}
    for t, group in villages.groupby("town", sort=False):
        made: dict[str, set[str]] = {}
        for v in group["village"]:
            stem, kind = _village_parts(v)
            for cand in _name_typos(v, stem, kind, real):
                made.setdefault(cand, set()).add(v)
        for cand, sources in made.items():
            if len(sources) > 1:
                for v in sorted(sources):
                    out.setdefault((str(t), v), []).append(cand)
    return out


def marketing_addresses(
    customers: pd.DataFrame,
    villages: pd.DataFrame,
    rng: np.random.Generator,
    *,
    names: CountyNames,
    adcode: str,
    shares: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Rewrite archive addresses the way a marketing-system export holds them.

    Parameters
    ----------
    customers
        ``address``, ``address_variant`` (of ``VARIANTS``), ``village_code``, ``phone`` and
        ``contact`` (a person's name) per customer.
    villages
        ``village_code``, ``village``, ``town``, ``town_code`` of the county.
    rng
        The export's own random stream (the archive's draws are not touched).
    names
        The county's names and county-seat township.
    adcode
        The county's code (ID numbers are issued there).
    shares
        Share of each of ``MARKETING_VARIANTS`` among the rows it fits (default
        ``MARKETING_SHARES``).

    Returns
    -------
    pandas.DataFrame
        On the index of ``customers``: ``address``, ``export_variant``, ``expected_status``
        (``village``: the customer's village can be told; ``town``: only the township;
        ``ambiguous``: two or more villages fit) and ``note``.
    """
    p = dict(MARKETING_SHARES if shares is None else shares)
    n = len(customers)
    vil = villages.set_index("village_code")
    code = customers["village_code"].to_numpy(dtype=object)
    village = vil["village"].reindex(code).to_numpy(dtype=object)
    town = vil["town"].reindex(code).to_numpy(dtype=object)
    base = customers["address"].to_numpy(dtype=object)
    archive_variant = customers["address_variant"].to_numpy(dtype=object)
    town_names = list(dict.fromkeys(villages["town"]))
    dup = villages["village"].value_counts()
    dup_names = set(dup.index[dup > 1])
    real = set(town_names) | set(villages["village"])

    # what the archive address lets a reader tell
    expected = np.full(n, "village", dtype=object)
    expected[archive_variant == "town_only"] = "town"
    no_town = np.isin(archive_variant, ["missing_town", "missing_town_county"])
    expected[no_town & np.isin(village, list(dup_names))] = "ambiguous"
    # a typo one step from two villages of its township (建路社区: 建设路社区, 新建路社区)
    clash = _typo_clashes(villages, real)
    for i in np.flatnonzero(archive_variant == "typo"):
        names_ = clash.get((town[i], village[i]), ())
        if str(village[i]) not in base[i] and any(name in base[i] for name in names_):
            expected[i] = "ambiguous"

    # eligibility per variant
    has_house = pd.Series(base).str.contains(_HOUSE_RE, regex=True).to_numpy()
    seat = town == names.county_seat
    stem_kind = [_village_parts(str(v)) for v in village]
    town_stems: dict[str, dict[str, set[str]]] = {}
    for t, v in zip(villages["town"], villages["village"], strict=True):
        s, k = _village_parts(v)
        town_stems.setdefault(t, {}).setdefault(s, set()).add(k)
    shared = np.array(
        [
            k in ("村", "社区") and town_stems.get(t, {}).get(s, set()) >= {"村", "社区"}
            for t, (s, k) in zip(town, stem_kind, strict=True)
        ],
        dtype=bool,
    )
    look = _look_alikes(villages.reset_index(drop=True))
    vpos = {c: i for i, c in enumerate(villages["village_code"])}
    look_of = np.array([look.get(vpos.get(c, -1), -1) for c in code], dtype=np.int64)
    typos = {name: _name_typos(name, *_village_parts(name), real) for name in sorted(dup_names)}
    has_typo = np.array([bool(typos.get(v)) for v in village], dtype=bool)
    virtual = np.array([VIRTUAL_MARKER in str(v) for v in village], dtype=bool)
    eligible = {
        "traditional": expected != "",
        "phone_in_address": expected != "",
        "county_seat": seat & ~virtual,
        "house_number": has_house & (expected == "village"),
        "shared_stem": shared,
        "other_town_village": look_of >= 0,
        "ambiguous_typo": has_typo,
    }
    # one variant per row: the first whose draw falls under its share (rare ones first)
    u = rng.random((n, len(MARKETING_VARIANTS) + 6))
    variant = np.full(n, "archive", dtype=object)
    order = (
        "shared_stem",
        "other_town_village",
        "ambiguous_typo",
        "county_seat",
        "phone_in_address",
        "traditional",
        "house_number",
    )
    for j, label in enumerate(order):
        take = (variant == "archive") & eligible[label] & (u[:, j] < p.get(label, 0.0))
        variant[take] = label

    address = base.copy()
    note = np.full(n, "", dtype=object)
    r = u[:, len(order) :]
    county = names.county
    aliases = _seat_aliases(names, town_names)
    streets = [s for s in SEAT_STREETS if not any(s in v for v in villages["village"])]
    phones = customers["phone"].to_numpy(dtype=object)
    contacts = customers["contact"].to_numpy(dtype=object)
    ids = make_id_numbers(n, rng, adcode=adcode)
    fresh_mobile = _pick(_MOBILE_HEADS, rng.random(n)) + _digits(rng, n, 9)
    for i in np.flatnonzero(variant != "archive"):
        name = variant[i]
        a, b, c, d = r[i, 0], r[i, 1], r[i, 2], r[i, 3]
        group = f"{1 + int(c * 9)}组"
        if name == "traditional":
            address[i] = to_traditional(base[i])
        elif name == "phone_in_address":
            mobile = len(phones[i]) == 11 and phones[i].startswith("1")
            own = phones[i] if mobile else fresh_mobile[i]
            if d < 0.1:  # an ID number in front, as in issue 11
                address[i] = ids[i] + base[i] if b < 0.5 else f"身份证{ids[i]} {base[i]}"
                note[i] = "id front"
            else:
                tb = _town_bare(str(town[i]), county)
                address[i], where = _phone_in(base[i], tb, own, contacts[i], a, b)
                note[i] = f"phone {where}"
        elif name == "county_seat":
            alias = aliases[min(int(a * len(aliases)), len(aliases) - 1)]
            s, k = stem_kind[i]
            namesake = k == "社区" and s.endswith(STREET_ENDINGS)
            if namesake and b < 0.7:
                address[i] = alias + s + _house_form(r[i, 1:4])
                expected[i] = "village"
                note[i] = f"{alias} street of community"
            elif b < 0.75 or not streets:
                address[i] = alias + str(village[i]) + group + f"{1 + int(d * 80)}号"
                expected[i] = "village"
                note[i] = f"{alias} village"
            else:
                street = streets[min(int(d * len(streets)), len(streets) - 1)]
                address[i] = alias + street + _house_form(r[i, 1:4])
                expected[i] = "town"
                note[i] = f"{alias} generated street {street}"
        elif name == "house_number":
            head = pd.Series([base[i]]).str.replace(_HOUSE_RE, "", regex=True).iat[0]
            address[i] = head + _house_form(r[i, 0:3])
        elif name == "shared_stem":
            s, _ = stem_kind[i]
            head = county if a < 0.5 else ""
            address[i] = head + str(town[i]) + s + (f"{1 + int(d * 80)}号" if b < 0.5 else "")
            expected[i] = "ambiguous"
            note[i] = f"{s}村 | {s}社区 in {town[i]}"
        elif name == "other_town_village":
            other = villages.iloc[look_of[i]]
            head = county if a < 0.6 else ""
            address[i] = head + str(town[i]) + str(other["village"]) + group
            expected[i] = "town"
            note[i] = f"{other['village']} is in {other['town']}"
        elif name == "ambiguous_typo":
            cands = typos[str(village[i])]
            typo = cands[min(int(a * len(cands)), len(cands) - 1)]
            address[i] = (county if b < 0.6 else "") + typo + group
            expected[i] = "ambiguous"
            note[i] = f"typo {village[i]}→{typo}, a name of two townships"
    return pd.DataFrame(
        {"address": address, "export_variant": variant, "expected_status": expected, "note": note},
        index=customers.index,
    )
