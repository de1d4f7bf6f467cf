"""Offline geocoding of Chinese rural and town addresses to the county's villages.

County intranets have no internet, so no online geocoder is used: every address is
matched against the county gazetteer (its townships and villages with their points).
The work has three steps.

1. **Parsing** (:func:`parse_addresses`). Each address is normalised -- NFKC (full-width
   digits, letters and punctuation to half-width); traditional characters to simplified
   with OpenCC's ``t2s`` converter (南豐縣 -> 南丰县; only strings holding a character
   the converter changes are converted, and gazetteer names it would change, such as
   乾村 -> 干村, are put back); phone numbers (mobile ``1[3-9]`` + 9 digits, with
   ``+86`` or not; landlines with their area code), 18-digit ID numbers, their labels
   (电话, 手机, 联系电话, 身份证 ...) and personal names (after 联系人, 户主, 户名,
   姓名, or standing alone beside a phone or ID number: 2-4 characters, a common
   surname first, no place suffix last) removed wherever they stand and kept in
   ``phone_in_address`` and ``removed``; bracketed notes dropped, spaces and
   punctuation removed, Chinese numerals before 组/号/巷/栋/单元/室 turned into digits
   (``十二组`` -> ``12组``), ``第5组``, ``5村小组``, ``5村民小组`` and ``5队`` written ``5组`` --
   and split by suffix rules into province (省), city (市), county (县/区/市), township
   (乡/镇/街道/垦殖场/园区 ...), village (村, 村委会, 村民委员会, 社区, 居委会, ...),
   group (组), house number (号: ``12``, ``12A``, ``12-3``, ``18弄3``), building
   (栋/幢/座/号楼), unit (单元), room (室/房) and the rest (hamlet, street, notes).
2. **Matching** (:func:`geocode_addresses`) against a :class:`Gazetteer`. The county's
   own province/city/county prefix is stripped (full or short forms, each optional).
   The names are then read from the gazetteer itself before any suffix rule: a
   township followed by one of its villages, else a village of the county, else a
   township, else a community's namesake street (磨市街 of 磨市街社区), so that names with
   市/区/县/镇/乡/村 inside (株市村, 河东新区社区, 江村乡, 新村街道, 市中行, 磨市街) are not cut at
   those characters; names the number rules would cut (九号村, 二六七队社区) are protected
   from them. A misspelt township whose name holds 村 (雄村镇 for 熊村镇) is read as a
   township, not cut at its 村 into a look-alike village (熊村): the township-typo rule
   decides (the village when it is written exactly and lies in the township the typo is
   like, else that township alone). What is not read that way goes
   through the suffix rules: townships are looked up by name, by
   name without 乡/镇, and with the suffix swapped (many 乡 became 镇: an old name
   ``市山乡`` finds ``市山镇``; other old names can be given); villages by name and
   committee forms, only among the township's villages when the township is known --
   names are matched as whole tokens, so 前村 is never found inside 林前村. A village
   named without a township is accepted when its name is unique in the county and
   reported ``ambiguous`` with every candidate when it is not. Typos are matched with
   rapidfuzz on two keys: the characters (edit distance, a dropped character) and the
   toneless pinyin (homophones such as 芹城镇 for 琴城镇, from ``pypinyin``); the
   fuzzy search is restricted to the township's villages when the township is known.
   A township-like name that is not in the county, or another county, city or
   province, is reported ``other_county``. 县城, 城关, 城区 and 城内 right after the
   county's prefix or at the start (``南丰县城建设路25号``, ``南丰县县城``,
   ``县城解放路``, ``南丰县城关镇``) stand for the township of the county seat
   (``Gazetteer(county_seat=...)``, by default the township whose name holds 城关,
   else the one with the most communities), unless a township or village of the
   gazetteer is written there (a real 城关镇, 城上村).

   **No silent guesses.** Where two units fit equally, the answer is ``ambiguous``
   with every candidate, never the first in the table: a name in several townships
   written without a township; a typo as close to two villages; a street whose
   community is in several townships; a name the gazetteer lists twice in one
   township; a stem shared by two units of one township (``太和镇太和``: 太和村 and
   太和社区), except that a group number decides for the 村 (numbered 村民小组 exist
   only in a 村: ``太和镇太和12组`` -> 太和村). A village of another township is never
   taken for a look-alike of the written township (``莱溪乡杨梅村``: 杨梅村 is in 琴城镇,
   莱溪乡 has 杨梅坑村): the answer is the township, ``village_in_other_town``, with
   both in ``candidates``.
3. **Coordinates** (:func:`geocode_customers`). Coordinates given with a customer (phone
   GPS, Amap/Baidu picks) are converted from their datum to WGS84 and take precedence
   over the address point; they are flagged when they lie farther than ``conflict_m``
   from the address's village (``coords_conflict_address``), when they make sense only
   with lon/lat exchanged (``swapped_lonlat``, never fixed silently) and when they lie
   outside the county.

Speed comes from deduplication: normalisation runs once per distinct address string
(one pass of compiled patterns each; the OpenCC conversion and the search for phone
numbers and names only where one regex search finds a hint of them), matching once
per distinct address head -- the part before the group and house numbers, of which an
archive has far fewer than rows (about 50,000 for 10^6 generated addresses) -- and
the results are mapped back to the rows with numpy indexing; coordinates are
converted and checked with vectorised numpy and shapely calls. 10^6 customers take
about 8 s on 2 cores, the addresses alone about 4 s (``benchmarks/bench_geocode.py``).

Why not ``cpca`` or ``jionlp``. Both were tried on the labelled set of
``gridgeo._sample_addresses`` (3,000 rows). ``cpca`` 0.5.5 (250 kB plus
``pyahocorasick``) is fast (0.04 s for 3,000 rows) but stops at the county level: it
gives the county only where the county is written, which a suffix rule does as well,
and it reads village and street names as far-away county-level cities (东方村 ->
东方市, 丹阳村 -> 丹阳市, 文昌巷 -> 文昌市). ``jionlp`` 1.5.31 (167 MB with its
``jiojio`` segmenter) parses township and village only in full chains, misreads
short forms (太和镇下洋村 -> county 太和, 桑田镇竹山下村 -> 湖北省十堰市竹山县) and
runs at 13 ms per row, an hour per 10^5 rows. Neither knows the county's villages,
which is where the work is, so neither is used. ``pypinyin`` (4 MB, no dependencies)
is used for homophone typos; without it the matcher falls back to characters only,
with a warning.

Why OpenCC (``opencc`` 1.4.x, the project's official Python binding). It is the
maintained reference converter (releases in 2025-2026), Apache-2.0, with prebuilt
wheels for CPython 3.11 on Linux x86-64 (2.4 MB, no dependencies), and converts by
phrases as well as characters (about 1.5 µs per address). ``opencc-python-
reimplemented`` (pure Python, last release 2023) and ``hanziconv`` (2016) are not
maintained; ``zhconv`` (last release 2021) is a MediaWiki-table converter. Without
``opencc`` installed, traditional characters are left as they are, with a warning.

Reasons (``REASONS``) of :func:`geocode_addresses`:

``ok``
    The village was found.
``no_village_name``
    The township was found but the address names no village (圩上, 政府附近, a
    township only); the point is the township seat.
``unknown_village``
    A village-like name (…村, …社区) that is not a village of the township (or of the
    county when no township is written), not even as a typo.
``village_in_other_town``
    The village exists, but only in another township than the one written; the
    township is kept, the village is listed in ``candidates`` (with the written
    township's look-alike village, if it has one), never guessed.
``ambiguous``
    A village name that exists in several townships, written without a township;
    ``candidates`` lists them (``黄家村(太源乡)|黄家村(洽湾镇)``). Also for a typo that
    fits two villages equally well, a street whose community is in several
    townships, a name the gazetteer lists twice in the same township and a stem
    shared by two units of the township without a group number (the township is
    kept in these two).
``county_only``
    The county is written but no township or village could be read.
``other_county``
    Another province, city or county is written, or a township that is not in this
    county.
``no_admin_name``
    No place name could be read (不详, 同上, only a phone number, ...).
``empty_address``
    The address is missing or blank.
``low_confidence``
    A match was found below ``min_confidence``; the result falls back to the level
    above (the township, else nothing) and ``candidates`` names the rejected match.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from gridgeo import crs as _crs
from gridgeo._names import SURNAMES as _NAME_POOL_SURNAMES
from gridgeo.admin import admin_names, find_county
from gridgeo.errors import EmptyDataError, InputError, MissingColumnError

__all__ = [
    "CUSTOMER_REASONS",
    "DEFAULT_CONFLICT_M",
    "DEFAULT_MIN_CONFIDENCE",
    "LOCATION_SOURCES",
    "MATCH_LEVELS",
    "REASONS",
    "Gazetteer",
    "geocode_addresses",
    "geocode_customers",
    "parse_addresses",
]

logger = logging.getLogger(__name__)

MATCH_LEVELS = ("village", "town", "county", "none")
REASONS = (
    "ok",
    "no_village_name",
    "unknown_village",
    "village_in_other_town",
    "ambiguous",
    "county_only",
    "other_county",
    "no_admin_name",
    "empty_address",
    "low_confidence",
)
LOCATION_SOURCES = ("gps", "village", "town")
CUSTOMER_REASONS = ("ok", "not_geocoded")

DEFAULT_MIN_CONFIDENCE = 0.6
DEFAULT_CONFLICT_M = 3000.0
# GPS points up to this far outside the county polygon still count as inside
# (boundary generalisation, GPS noise).
DEFAULT_COUNTY_TOLERANCE_M = 500.0
DEFAULT_DATUM = "wgs84"

# Confidence of each way of finding a place. Anything found through a typo stays
# below 0.9, so that a confidence >= 0.9 means an exact reading of the names.
_CONF_EXACT = 0.99  # township and village written as in the gazetteer (or its committee)
_CONF_TOWN_SHORT = 0.97  # township without 乡/镇
_CONF_TOWN_SWAPPED = 0.95  # township with 乡/镇 swapped, or an old name given by the user
_CONF_TOWN_EMBEDDED = 0.9  # township name at the end of a longer token
_CONF_VILLAGE_ALONE = 0.93  # a unique village name without township
_CONF_SINGLE_UNIT = 0.95  # factor: the township has a single village-level unit
_CONF_STREET = 0.85  # community found by its namesake street, township written
_CONF_STREET_ALONE = 0.8  # ... without township
_CONF_VILLAGE_STEM = 0.8  # village written without 村 after its township
_CONF_TOWN_TYPO_CONFIRMED = 0.88  # township typo, village exact in it
_CONF_TOWN_HOMOPHONE = 0.85  # township typo (same pinyin), no village
_CONF_FUZZY_MAX = 0.85  # village typo within a known township
_CONF_FUZZY_ALONE_MAX = 0.75  # village typo without township

# Fuzzy thresholds on the similarity of two name stems (0-1, see Gazetteer._similarity).
_FUZZY_MIN_IN_TOWN = 0.55
_FUZZY_MIN_ALONE = 0.7
_FUZZY_MARGIN = 0.08
_HOMOPHONE_SCORE = 0.85  # floor of the similarity of two stems with the same pinyin
_TOWN_CANDIDATE_MIN = 0.45
_KIND_PENALTY = 0.1  # 三溪社区 written for 三溪村: a committee of the other kind

# --------------------------------------------------------------------------- #
# normalisation and grammar

_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_BRACKET_RE = r"[(\[【〔{<《][^)\]】〕}>》]*[)\]】〕}>》]"
_NOISE_RE = rf"[^0-9A-Za-z\-{_CJK}]"
_LONE_DASH_RE = r"(?<!\d)-|-(?!\d)"
_CLEAN_RE = f"{_BRACKET_RE}|{_NOISE_RE}|{_LONE_DASH_RE}"
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_UNIT_WORDS = "组|号|村民小组|村小组|小组|生产队|队|巷|弄|栋|幢|单元|室|楼"
_CN_NUM_RE = rf"第?([零〇一二两三四五六七八九十百千]+)(?={_UNIT_WORDS})"
_CN_NUM_HINT = "[零〇一二两三四五六七八九十百千]"
_GROUP_WORD_RE = r"第(?=\d)|(?<=\d)(?:村民小组|村小组|小组|生产队|队)"
# head (no digit), then a group number right after it, then the first house number
_PARTS_RE = (
    r"^(?P<head>\D*)(?:(?P<group>\d+)组)?"
    r"(?:.*?(?<![\d-])(?P<house>\d+(?:[-弄]\d+)?[A-Za-z]?)号(?![楼房]))?"
)

_NOT_NAME = r"\d省市县区乡镇村"
_VILLAGE_PART = (
    r"(?P<village>[^\d省县乡镇]{1,10}?"
    r"(?:村民委员会|村委会|社区居民委员会|社区居委会|居民委员会|居委会|社区|村))?"
)
_ADMIN_RE = re.compile(
    rf"^(?P<province>[^{_NOT_NAME}]{{2,3}}省|[^{_NOT_NAME}]{{2,6}}?自治区)?"
    rf"(?P<city>[^{_NOT_NAME}]{{2,4}}?(?:市|自治州|地区|盟))?"
    rf"(?P<county>[^{_NOT_NAME}]{{1,5}}?(?:县|(?<![社园])区|市|旗))?"
    r"(?P<town>[^\d省县区乡镇村]{1,8}?(?:乡|镇|街道办事处|街道|垦殖场|农场|林场|园区|开发区))?"
    + _VILLAGE_PART
    + r"(?P<rest>.*)$"
)
# the village token after a township read from the gazetteer (no 市/区/县 rules: 市中行)
_VILLAGE_RE = re.compile("^" + _VILLAGE_PART + r"(?P<rest>.*)$")
# characters that end a province, city or county name: a place name read from the
# gazetteer must not run on into one (高村 in 高村镇, 南昌 in 南昌县)
_ADMIN_END = "省市县区旗"
_TOWN_END = "乡镇"
_ADMIN_FIELDS = ("province", "city", "county", "town", "village", "rest")

# Committee forms and what they stand for.
_COMMITTEE_SUFFIXES = (
    ("社区居民委员会", "社区"),
    ("社区居委会", "社区"),
    ("居民委员会", "社区"),
    ("居委会", "社区"),
    ("村民委员会", "村"),
    ("村委会", "村"),
)
_TOWN_SUFFIXES = ("乡", "镇")
_STREET_ENDINGS = ("大道", "路", "街", "巷")
_VIRTUAL_MARKER = "虚拟"
# how addresses write the county seat, longest first (see Gazetteer county_seat)
_SEAT_WORDS = (
    "县城关镇",
    "县城关",
    "县城区",
    "县城内",
    "县城",
    "城关镇",
    "城关乡",
    "城关",
    "城区",
    "城内",
)
_PLACEHOLDER_BASE = 0xE000  # Unicode private use area: never in a cleaned address


def _cn_to_int(text: str) -> int:
    """Chinese numerals to an int: 五 -> 5, 十二 -> 12, 一百零五 -> 105, 二零 -> 20."""
    if not any(c in _CN_UNITS for c in text):  # digit by digit: 一二 -> 12
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total = 0
    digit = 0
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
    return total + digit


def _cn_repl(match: re.Match[str]) -> str:
    return str(_cn_to_int(match.group(1)))


def _group_word_repl(match: re.Match[str]) -> str:
    return "" if match.group(0) == "第" else "组"  # 第5组 -> 5组, 5村民小组 -> 5组


def _as_text(values: pd.Series) -> pd.Series:
    """Object Series of str, '' for missing values."""
    obj = values.astype(object)
    out = obj.where(obj.notna(), "")
    odd = ~out.map(type).eq(str)
    if odd.any():
        out[odd] = out[odd].map(str)
    return out.astype(object)


def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the rows into their distinct strings ('' for missing, at the end)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    texts = [u if isinstance(u, str) else str(u) for u in uniques]
    texts.append("")
    codes = np.where(codes < 0, len(texts) - 1, codes)
    return codes, np.array(texts, dtype=object)


_CLEAN = re.compile(_CLEAN_RE)
_CN_HINT = re.compile(_CN_NUM_HINT)
_CN_NUM = re.compile(_CN_NUM_RE)
_GROUP_WORD = re.compile(_GROUP_WORD_RE)
_PARTS = re.compile(_PARTS_RE)
_BUILDING = re.compile(r"(\d+[A-Za-z]?)(?:号楼|栋|幢|座)")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d+)(?:室|号房|房)")
_BUILDING_CHARS = "楼栋幢座单元室房"

# --------------------------------------------------------------------------- #
# personal data inside addresses (removed before parsing, kept aside)

_ID_NO = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
_MOBILE = r"(?:\+?86-?)?1[3-9]\d{9}"
_LANDLINE = r"0\d{2,3}-?[2-9]\d{6,7}"
_NUMBER_RE = re.compile(
    rf"(?<![\dA-Za-z])(?:(?P<id>{_ID_NO})|(?P<phone>{_MOBILE}|{_LANDLINE}))(?![\dA-Za-z])"
)
_PHONE_LABELS = "联系电话|联系方式|电话号码|手机号码|手机号|固定电话|座机|电话|手机|tel|TEL|Tel"
_NAME_LABELS = "联系人|户主|户名|用户名|姓名"
_ID_LABELS = "身份证号码|身份证号|身份证"
_MARK = "\x00"  # stands where a number was removed; a separator, dropped by _CLEAN
_SEP = rf"\s,;:/|、，；：{_MARK}"
_LABEL_RE = re.compile(
    rf"(?:(?:{_ID_LABELS}|{_PHONE_LABELS})[:：]?\s*(?={_MARK}))"
    rf"|(?:(?:{_NAME_LABELS})[:：]?\s*(?P<name>[{_CJK}]{{2,4}}(?=[{_SEP}\d]|$)|[{_CJK}]{{2}})?)"
)
_LABEL_WORDS_RE = re.compile(f"{_PHONE_LABELS}|{_NAME_LABELS}|{_ID_LABELS}")
_SEVEN_DIGITS = re.compile(r"\d{7}")
# Common surnames (the first character of an unlabelled name beside a phone number), and
# every surname of gridgeo's Jiangxi name pool (包, ...), so the two lists cannot drift apart.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史"
    "陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤饶揭危聂艾章兰游甘温涂邬傅官包"
) | frozenset(_NAME_POOL_SURNAMES)
# A segment ending in one of these is a place or a number word, never a name.
_PLACE_END = frozenset("省市县区乡镇村组号路街巷弄栋幢室楼队场园道社里")
_SEGMENT_RE = re.compile(rf"[^{_SEP}]+")
_CJK_WORD = re.compile(rf"[{_CJK}]+")


def _strip_personal(text: str) -> tuple[str, list[str], list[str]]:
    """Phone and ID numbers, their labels and personal names removed from one address.

    Returns the text (with separators where something was removed), the phone numbers
    and every removed piece, in order. A name is removed when a label (联系人, 户主,
    姓名 ...) stands before it, or when it stands alone (between separators, 2-4
    characters, a common surname first, no place suffix last) right beside a removed
    phone or ID number. A labelled name runs to the next separator or digit; glued
    to the address it is taken as two characters (the rest of a longer name then
    stays in front of the county name, which absorbs it).
    """
    phones: list[str] = []
    removed: list[str] = []

    def number(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        if m.group("phone") is not None:
            phones.append(m.group(0))
        return _MARK

    text = _NUMBER_RE.sub(number, text)

    def label(m: re.Match[str]) -> str:
        removed.append(m.group(0).strip())
        return _MARK if m.group("name") else " "

    text = _LABEL_RE.sub(label, text)
    if _MARK not in text:
        return text, phones, removed
    out: list[str] = []
    last = 0
    for seg in _SEGMENT_RE.finditer(text):
        a, b = seg.span()
        word = seg.group(0)
        before = text[:a].rstrip()
        after = text[b:].lstrip()
        if (
            2 <= len(word) <= 4
            and word[0] in _SURNAMES
            and word[-1] not in _PLACE_END
            and _CJK_WORD.fullmatch(word) is not None
            and (before.endswith(_MARK) or after.startswith(_MARK))
        ):
            out.append(text[last:a])
            out.append(_MARK)
            removed.append(word)
            last = b
    out.append(text[last:])
    return "".join(out), phones, removed


# --------------------------------------------------------------------------- #
# traditional characters


@functools.cache
def _t2s() -> tuple[Any, re.Pattern[str] | None, re.Pattern[str]]:
    """The OpenCC ``t2s`` converter, a pattern of the characters it changes, and a
    pattern of those and of the first characters of labels and building words.

    One search of the last pattern (a character class) tells the strings that need
    no conversion, label or building parsing -- nearly all of them. The first two
    are None without OpenCC (a warning says so).
    """
    firsts = {w[0] for w in f"{_PHONE_LABELS}|{_NAME_LABELS}|{_ID_LABELS}".split("|")}
    others = "".join(sorted(firsts)) + _BUILDING_CHARS
    try:
        import opencc
    except ImportError:  # pragma: no cover - exercised only without opencc
        warnings.warn(
            "opencc is not installed: traditional characters (南豐縣) are not converted; "
            "`pip install opencc`",
            UserWarning,
            stacklevel=4,
        )
        return None, None, re.compile(f"[{others}]")
    converter = opencc.OpenCC("t2s")
    # the characters that change on their own: a string holding none of them is
    # left alone (one regex search instead of a conversion per string)
    # (compatibility ideographs are gone after NFKC)
    changed = "".join(chr(c) for c in range(0x3400, 0xA000) if converter.convert(chr(c)) != chr(c))
    return converter, re.compile(f"[{changed}]"), re.compile(f"[{changed}{others}]")


def _simplify(text: str, restore: tuple[tuple[str, str], ...]) -> str:
    """Traditional characters to simplified (OpenCC ``t2s``) where there are any.

    ``restore`` holds ``(converted, name)`` pairs of gazetteer names that the
    conversion would change (乾村 -> 干村, 瑤村 -> 瑶村): they are put back.
    """
    converter, pattern, _ = _t2s()
    if pattern is None or pattern.search(text) is None:
        return text
    text = converter.convert(text)
    for converted, name in restore:
        if converted in text:
            text = text.replace(converted, name)
    return text


def _clean(text: str) -> str:
    """NFKC, without spaces, punctuation and bracketed notes."""
    return _CLEAN.sub("", unicodedata.normalize("NFKC", text))


_PREPARED = (
    "normalized",
    "head",
    "group_no",
    "house_no",
    "tail_rest",
    "building_no",
    "unit_no",
    "room_no",
    "phone_in_address",
    "removed",
)


def _prepare_one(
    text: str,
    with_rest: bool,
    protect: tuple[tuple[str, str], ...] = (),
    restore: tuple[tuple[str, str], ...] = (),
    hint: re.Pattern[str] | None = None,
) -> tuple[Any, ...]:
    """The normalised text and parts of one address (the fields of ``_PREPARED``).

    NFKC (full-width forms to half-width), traditional characters to simplified,
    phone and ID numbers, labels and names removed and kept aside, then spaces,
    punctuation and bracketed notes dropped and the numbers read. ``protect`` holds
    ``(name, placeholder)`` pairs: gazetteer names that the number rules would cut
    (九号村, 二六七队社区) are replaced by a placeholder character first; ``restore``
    see :func:`_simplify`; ``hint`` is the last pattern of :func:`_t2s`.
    """
    norm = unicodedata.normalize("NFKC", text)
    hinted = (hint or _t2s()[2]).search(norm) is not None
    if hinted:
        norm = _simplify(norm, restore)
    phones = removed = None
    if (hinted and _LABEL_WORDS_RE.search(norm)) or _SEVEN_DIGITS.search(norm):
        norm, found, taken = _strip_personal(norm)
        phones = "|".join(found) if found else None
        removed = "|".join(taken) if taken else None
    norm = _CLEAN.sub("", norm)
    for name, placeholder in protect:
        if name in norm:
            norm = norm.replace(name, placeholder)
    if _CN_HINT.search(norm):
        norm = _CN_NUM.sub(_cn_repl, norm)
    if "第" in norm or "小组" in norm or "队" in norm:
        norm = _GROUP_WORD.sub(_group_word_repl, norm)
    m = _PARTS.match(norm)
    assert m is not None  # every part is optional
    head, group, house = m.group("head", "group", "house")
    tail = ""
    if with_rest:
        cut = [(m.start(k), m.end(k) + 1) for k in ("group", "house") if m.group(k) is not None]
        tail = norm[len(head) :]
        for a, b in reversed(cut):
            tail = tail[: a - len(head)] + tail[b - len(head) :]
    building = unit = room = None
    if hinted:
        after = norm[len(head) :]
        found_b = _BUILDING.search(after)
        found_u = _UNIT.search(after)
        found_r = _ROOM.search(after)
        building = found_b.group(1).upper() if found_b else None
        unit = found_u.group(1) if found_u else None
        room = found_r.group(1) if found_r else None
    return (
        norm,
        head,
        float(group) if group is not None else math.nan,
        house.upper() if house is not None else None,
        tail,
        building,
        unit,
        room,
        phones,
        removed,
    )


def _prepare(
    values: np.ndarray,
    *,
    with_rest: bool = False,
    protect: tuple[tuple[str, str], ...] = (),
    restore: tuple[tuple[str, str], ...] = (),
) -> pd.DataFrame:
    """Normalise distinct address strings and cut off their group and house numbers.

    One pass of compiled patterns per distinct string: pandas' string methods on object
    arrays loop in Python as well, and ten of them cost twice as much as one pass.
    """
    hint = _t2s()[2]
    rows = [_prepare_one(v, with_rest, protect, restore, hint) for v in values]
    out = pd.DataFrame(rows, columns=list(_PREPARED), dtype=object)
    out["group_no"] = pd.array(out["group_no"].to_numpy(dtype=float), dtype="Int64")
    return out


def _parse_heads(heads: pd.Series) -> pd.DataFrame:
    """Admin tokens of address heads by suffix rules (vectorised regex)."""
    out = heads.str.extract(_ADMIN_RE)
    for column in _ADMIN_FIELDS:
        col = out[column].astype(object)
        out[column] = col.where(col.notna() & (col != ""), None)
    return out


def _as_series(addresses: Any, name: str) -> pd.Series:
    if not isinstance(addresses, pd.Series):
        msg = (
            f"`{name}` must be a pandas Series of address strings, got "
            f"{type(addresses).__name__}; pass e.g. customers['address']"
        )
        raise InputError(msg)
    return addresses


def parse_addresses(addresses: pd.Series) -> pd.DataFrame:
    """Split Chinese addresses into their administrative parts by suffix rules.

    No gazetteer is used: the parts are read from their suffixes (省, 市, 县/区,
    乡/镇/街道/垦殖场/园区, 村/村委会/社区/居委会, 组, 号), so a township written
    without 乡/镇 stays in ``village`` or ``rest``; :func:`geocode_addresses` resolves
    such forms against the gazetteer.

    Parameters
    ----------
    addresses
        Address strings; missing values are read as empty.

    Returns
    -------
    pandas.DataFrame
        On the index of ``addresses``: ``normalized`` (NFKC, simplified characters,
        no phone/ID numbers or names, no spaces, punctuation or bracketed notes,
        Chinese numerals of groups and house numbers as digits), ``province``,
        ``city``, ``county``, ``town``, ``village`` (as written, e.g. ``三溪村委会``),
        ``group_no`` (nullable int), ``house_no`` (str: ``12``, ``12A``, ``12-3``,
        ``18弄3``), ``building_no``, ``unit_no``, ``room_no`` (str: ``5栋2单元301室``
        -> ``5``, ``2``, ``301``), ``rest`` (hamlet, street, building...),
        ``phone_in_address`` (the phone numbers found in the address, ``|``-joined)
        and ``removed`` (everything taken out: numbers, labels, names); None where
        absent.

    Raises
    ------
    InputError
        If ``addresses`` is not a pandas Series.
    """
    addresses = _as_series(addresses, "addresses")
    codes, uniques = _distinct(addresses)
    split = _prepare(uniques, with_rest=True)
    admin = _parse_heads(split["head"])
    rest = admin["rest"].fillna("") + split["tail_rest"]
    result = pd.DataFrame(
        {
            "normalized": split["normalized"],
            "province": admin["province"],
            "city": admin["city"],
            "county": admin["county"],
            "town": admin["town"],
            "village": admin["village"],
            "group_no": split["group_no"],
            "house_no": split["house_no"],
            "building_no": split["building_no"],
            "unit_no": split["unit_no"],
            "room_no": split["room_no"],
            "rest": rest.where(rest != "", None).astype(object),
            "phone_in_address": split["phone_in_address"],
            "removed": split["removed"],
        }
    )
    return result.iloc[codes].set_axis(addresses.index)


# --------------------------------------------------------------------------- #
# gazetteer


def _pinyin_function() -> Any:
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:  # pragma: no cover - exercised only without pypinyin
        warnings.warn(
            "pypinyin is not installed: typos are matched on characters only, homophones "
            "(芹城镇 for 琴城镇) are missed; `pip install pypinyin`",
            UserWarning,
            stacklevel=3,
        )
        return None

    def to_pinyin(text: str) -> tuple[str, ...]:
        return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default"))

    return to_pinyin


def _village_stem(name: str) -> tuple[str, str]:
    """Stem and kind ('村', '社区' or '') of a village name."""
    if name.endswith("社区"):
        return name[:-2], "社区"
    if name.endswith("村") and len(name) > 1:
        return name[:-1], "村"
    return name, ""


def _canonical_village(token: str) -> str:
    """A written village token in its gazetteer form: 三溪村委会 -> 三溪村."""
    for suffix, kind in _COMMITTEE_SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)] + kind
    return token


def _code(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, (float, np.floating)):
        return str(int(value))
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "<na>"):
        return None
    return text[:-2] if text.endswith(".0") else text


def _points(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of a frame's points (geometry, else lon/lat columns), NaN if none."""
    n = len(frame)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        gdf = _crs.ensure_crs(frame, source=f"`{what}`")
        geom = gdf.geometry.to_numpy()
        ok = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
        pts = np.where(ok, shapely.centroid(np.where(ok, geom, shapely.Point(0, 0))), None)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        x[ok] = shapely.get_x(pts[ok].astype(object))
        y[ok] = shapely.get_y(pts[ok].astype(object))
        return x, y
    if "lon" in frame.columns and "lat" in frame.columns:
        x = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        return x, y
    return np.full(n, np.nan), np.full(n, np.nan)


def _names(frame: pd.DataFrame, column: str, what: str) -> list[str]:
    values = frame[column]
    blank = values.isna() | (values.astype(str).str.strip() == "")
    if blank.any():
        rows = list(frame.index[blank.to_numpy()])[:5]
        msg = f"`{what}` has empty `{column}` names at rows {rows!r}: fill or drop them"
        raise InputError(msg)
    return [str(v).strip() for v in values]


@dataclass(frozen=True)
class _Match:
    """The answer for one distinct address head."""

    level: str
    confidence: float
    town: int = -1
    village: int = -1
    reason: str = "ok"
    candidates: str | None = None
    town_confidence: float | None = None  # of the township alone, when read on its own
    stem_tie: bool = False  # two units share the stem: a group number may decide


_NONE = _Match("none", 0.0, reason="no_admin_name")


class Gazetteer:
    """The county's townships and villages, indexed for address matching.

    Build it once per county and reuse it: it holds exact lookup tables of every
    written form of the names (township with and without 乡/镇 and with the suffix
    swapped, given old names; village as 村, 村委会, 村民委员会, communities as 社区,
    居委会, 社区居委会, 居民委员会, and the namesake street of a 路/街 community) and the
    pinyin of every name for the typo search.

    Parameters
    ----------
    towns
        One row per township-level unit: ``town`` (name), optional ``town_code`` and
        a point (the seat) as a GeoDataFrame geometry with a CRS or ``lon``/``lat``
        columns in WGS84.
    villages
        One row per village-level unit: ``village``, ``town`` (its township, one of
        ``towns``), optional ``village_code`` and a point as for ``towns``.
    county
        The county's name as written in addresses (``南丰县``); its stem without
        县/区/市 (``南丰``) is accepted too.
    city, province
        The names above the county (``抚州市``, ``江西省``), stripped from the head of
        addresses; any other city or province makes the address ``other_county``.
    old_names
        Old township names to accept, as ``{old name: current township}``. The
        乡/镇 swap (``市山乡`` for ``市山镇``) needs no entry.
    county_area
        Optional county polygon (shapely geometry in EPSG:4326, or a GeoDataFrame /
        GeoSeries with a CRS) used by :func:`geocode_customers` to flag GPS points
        outside the county.
    county_seat
        The township of the county seat (``琴城镇`` for 南丰县), which addresses write
        as 县城, 城关, 城区 or 城内 (``南丰县城建设路25号``, ``县城解放路``,
        ``南丰县城关镇``). Default: the township whose name holds 城关, else the one with
        the most communities (…社区, at least one, no tie); with none of these the
        county has no known seat and such addresses stay at the county level. Pass
        ``""`` for no seat.

    Raises
    ------
    MissingColumnError
        If ``towns`` lacks ``town`` or ``villages`` lacks ``village`` or ``town``.
    EmptyDataError
        If ``villages`` has no rows.
    InputError
        If a name is empty, a village's township is not in ``towns``, an old name
        points to an unknown township, ``county`` is empty or ``county_seat`` is not
        one of ``towns``.
    """

    def __init__(
        self,
        towns: pd.DataFrame,
        villages: pd.DataFrame,
        *,
        county: str,
        city: str | None = None,
        province: str | None = None,
        old_names: Mapping[str, str] | None = None,
        county_area: Any = None,
        county_seat: str | None = None,
    ) -> None:
        for frame, what, required in (
            (towns, "towns", ("town",)),
            (villages, "villages", ("village", "town")),
        ):
            if not isinstance(frame, pd.DataFrame):
                msg = f"`{what}` must be a (Geo)DataFrame, got {type(frame).__name__}"
                raise InputError(msg)
            for column in required:
                if column not in frame.columns:
                    msg = (
                        f"`{what}` has no column {column!r} (columns: {list(frame.columns)!r}); "
                        f"rename the {what[:-1]} name column to {column!r}"
                    )
                    raise MissingColumnError(msg)
        if len(villages) == 0:
            msg = "`villages` has no rows: pass the county's village table"
            raise EmptyDataError(msg)
        if not isinstance(county, str) or not county.strip():
            msg = f"`county` must be the county's name such as '南丰县', got {county!r}"
            raise InputError(msg)
        self.county = county.strip()
        self.city = city.strip() if city else None
        self.province = province.strip() if province else None
        self.county_area = None if county_area is None else _crs.area_geometry(county_area)
        if self.county_area is not None:
            shapely.prepare(self.county_area)
        self._pinyin = _pinyin_function()

        # townships
        self.town_names = _names(towns, "town", "towns")
        if len(set(self.town_names)) != len(self.town_names):
            dup = sorted({t for t in self.town_names if self.town_names.count(t) > 1})
            msg = f"`towns` lists {dup!r} more than once: keep one row per township"
            raise InputError(msg)
        codes = towns["town_code"] if "town_code" in towns.columns else [None] * len(towns)
        self.town_codes = [_code(c) for c in codes]
        self.town_lon, self.town_lat = _points(towns, "towns")
        town_index = {t: i for i, t in enumerate(self.town_names)}

        # villages
        self.village_names = _names(villages, "village", "villages")
        vt = _names(villages, "town", "villages")
        unknown = sorted(set(vt) - set(town_index))
        if unknown:
            msg = (
                f"`villages` names township(s) {unknown[:5]!r} that are not in `towns` "
                f"({self.town_names!r}); add them to `towns` or fix the names"
            )
            raise InputError(msg)
        self.village_town = np.array([town_index[t] for t in vt], dtype=np.int64)
        vcodes = (
            villages["village_code"] if "village_code" in villages.columns else [None] * len(vt)
        )
        self.village_codes = [_code(c) for c in vcodes]
        self.village_lon, self.village_lat = _points(villages, "villages")

        self._build_indexes(old_names or {})
        self._seat = self._find_seat(county_seat)
        # the seat's township name, or None (then 县城/城关 stay at the county level)
        self.county_seat = None if self._seat is None else self.town_names[self._seat]

    # ------------------------------------------------------------------ building

    @classmethod
    def from_sample(cls, sample: Any) -> Gazetteer:
        """The gazetteer of a sample county (:func:`gridgeo.sample.load_sample`).

        Parameters
        ----------
        sample
            A :class:`gridgeo.sample.SampleCounty` (``towns``, ``villages``,
            ``county`` layers) or a workspace's layers. A ``county_seat`` column of the
            county layer (``gridgeo workspace init --county-seat``) names the township that
            县城/城关/城区 mean; without it the default rule of ``county_seat`` applies.

        Returns
        -------
        Gazetteer
            With the county polygon as ``county_area``.
        """
        county = sample.county
        seat: str | None = None
        if "county_seat" in county.columns and pd.notna(county["county_seat"].iloc[0]):
            seat = str(county["county_seat"].iloc[0]).strip() or None
        meta = getattr(sample, "meta", {}) or {}
        names = None
        if "adcode" in county.columns and pd.notna(county["adcode"].iloc[0]):
            names = admin_names(county["adcode"].iloc[0])
        elif "name" in county.columns:
            names = find_county(str(county["name"].iloc[0]))
        if names is None:
            msg = (
                "the `county` layer needs an `adcode` (6-digit code, e.g. 361023) or a `name` "
                "(e.g. 南丰县) column: add it to the county boundary file"
            )
            raise MissingColumnError(msg)
        return cls(
            sample.towns,
            sample.villages,
            county=names.county,
            city=meta.get("city", names.city),
            province=meta.get("province", names.province),
            county_area=county,
            county_seat=seat,
        )

    def _pinyin_of(self, text: str) -> tuple[str, ...]:
        return self._pinyin(text) if self._pinyin is not None else tuple(text)

    def _add(
        self, table: dict[str, Any], key: str, value: tuple[int, float], clashes: set[str]
    ) -> None:
        if not key:
            return
        if key in table and table[key][0] != value[0]:
            clashes.add(key)
        table.setdefault(key, value)

    def _build_indexes(self, old_names: Mapping[str, str]) -> None:
        county = self.county
        county_stem = county[:-1] if len(county) > 2 and county[-1] in "县区市旗" else county
        self.county_stem = county_stem
        # own prefix: province, city, county in that order, each optional, bare stems
        # allowed; every combination is kept (南昌 is both 南昌市 and 南昌县 for 南昌县)
        starts: dict[str, tuple[bool, bool]] = {"": (False, False)}
        for key, full in (("province", self.province), ("city", self.city), ("county", county)):
            if not full:
                continue
            stem = full[:-1] if len(full) > 2 else full
            for prefix, (had_county, _) in list(starts.items()):
                for form in dict.fromkeys((full, stem)):  # in order, once each
                    ends_in_stem = form != full
                    seen = starts.get(prefix + form, (False, True))
                    starts[prefix + form] = (
                        seen[0] or had_county or key == "county",
                        seen[1] and ends_in_stem,
                    )
        # (prefix, county written, ends in a bare stem), longest first
        self._own_starts = sorted(
            ((p, c, e) for p, (c, e) in starts.items()), key=lambda x: -len(x[0])
        )
        self._county_pinyin = self._pinyin_of(county_stem)

        # townships: alias -> (town index, confidence)
        self.town_alias: dict[str, tuple[int, float]] = {}
        clashes: set[str] = set()
        self.town_stems: list[str] = []
        for i, name in enumerate(self.town_names):
            bare = name
            for prefix in (county, county_stem):
                if bare.startswith(prefix) and len(bare) > len(prefix) + 1:
                    bare = bare[len(prefix) :]
                    break
            stem = bare[:-1] if len(bare) > 2 and bare[-1] in _TOWN_SUFFIXES else bare
            self.town_stems.append(stem)
            self._add(self.town_alias, name, (i, _CONF_EXACT), clashes)
            self._add(self.town_alias, bare, (i, _CONF_EXACT), clashes)
            if stem != bare:
                self._add(self.town_alias, stem, (i, _CONF_TOWN_SHORT), clashes)
                for suffix in _TOWN_SUFFIXES:
                    self._add(self.town_alias, stem + suffix, (i, _CONF_TOWN_SWAPPED), clashes)
        for old, new in old_names.items():
            if new not in self.town_names:
                msg = f"`old_names` maps {old!r} to {new!r}, which is not a township in `towns`"
                raise InputError(msg)
            self.town_alias[str(old)] = (self.town_names.index(new), _CONF_TOWN_SWAPPED)
        for key in clashes:  # a form shared by two townships says nothing
            self.town_alias.pop(key, None)
        # the bare stems (三溪 for 三溪乡) are read from the gazetteer only when a village
        # of the township follows them
        self._town_stem_aliases = {
            k for k, (i, c) in self.town_alias.items() if c == _CONF_TOWN_SHORT
        } - set(old_names)
        self._town_alias_lengths = sorted({len(k) for k in self.town_alias}, reverse=True)
        self._town_prefixes = sorted(self.town_alias, key=len, reverse=True)
        self._town_pinyin = [self._pinyin_of(s) for s in self.town_stems]

        # villages
        n_towns = len(self.town_names)
        self.village_stems: list[str] = []
        self._village_pinyin: list[tuple[str, ...]] = []
        self.by_name: dict[str, list[int]] = {}
        self.in_town: list[dict[str, int]] = [{} for _ in range(n_towns)]
        # stem -> the units of the township with that stem (太和村 and 太和社区: 太和)
        self.stem_in_town: list[dict[str, list[int]]] = [{} for _ in range(n_towns)]
        self.streets: dict[str, list[int]] = {}
        self.real_villages: list[list[int]] = [[] for _ in range(n_towns)]
        units_per_town = np.bincount(self.village_town, minlength=n_towns)
        self.single_unit = {
            int(t): int(np.flatnonzero(self.village_town == t)[0])
            for t in np.flatnonzero(units_per_town == 1)
        }
        # every written form of a village (name, 居委会 forms of a community) for reading
        # the names from the gazetteer: per township, and in the county
        self._forms_in_town: list[dict[str, int]] = [{} for _ in range(n_towns)]
        self._forms: dict[str, list[int]] = {}
        # the same name twice in one township: which one is meant cannot be told
        self._same_name: dict[tuple[int, str], list[int]] = {}
        self._village_kind: list[str] = []
        for j, name in enumerate(self.village_names):
            t = int(self.village_town[j])
            stem, kind = _village_stem(name)
            self.village_stems.append(stem)
            self._village_kind.append(kind)
            self._village_pinyin.append(self._pinyin_of(stem))
            forms = [name]
            if kind == "社区":
                forms += [stem + "居委会", stem + "居民委员会"]
            for form in forms:
                self._forms_in_town[t].setdefault(form, j)
            if _VIRTUAL_MARKER in name:
                continue  # statistical placeholder: reached through its township only
            for form in forms:
                self._forms.setdefault(form, []).append(j)
            self.real_villages[t].append(j)
            self.by_name.setdefault(name, []).append(j)
            if name in self.in_town[t]:
                self._same_name.setdefault((t, name), [self.in_town[t][name]]).append(j)
            self.in_town[t].setdefault(name, j)
            if len(stem) >= 2:
                self.stem_in_town[t].setdefault(stem, []).append(j)
            if kind == "社区" and stem.endswith(_STREET_ENDINGS) and len(stem) >= 3:
                self.streets.setdefault(stem, []).append(j)
        self.stem_in_town = [
            dict(sorted(d.items(), key=lambda kv: -len(kv[0]))) for d in self.stem_in_town
        ]
        self._street_prefixes = sorted(self.streets, key=len, reverse=True)
        self._protect_names()
        self._form_lengths = sorted(
            {len(f) for forms in self._forms_in_town for f in forms}, reverse=True
        )
        self._town_street_prefixes = [
            sorted(
                (s for s, js in self.streets.items() if any(self.village_town[j] == t for j in js)),
                key=len,
                reverse=True,
            )
            for t in range(n_towns)
        ]

    def _protect_names(self) -> None:
        """Placeholders for names the number rules would cut (九号村 -> house number 9).

        Such a name (its normalised form) is replaced in the addresses by one private-use
        character before the numbers are read, and the character is a form of the name.
        """
        protect: dict[str, str] = {}

        def placeholder(form: str) -> str | None:
            clean = _clean(form)
            if len(clean) < 2 or _prepare_one(clean, False)[1] == clean:
                return None
            return protect.setdefault(clean, chr(_PLACEHOLDER_BASE + len(protect)))

        for alias, value in list(self.town_alias.items()):
            ph = placeholder(alias)
            if ph is not None:
                self.town_alias.setdefault(ph, value)
        for forms in self._forms_in_town:
            for form, j in list(forms.items()):
                ph = placeholder(form)
                if ph is not None:
                    forms.setdefault(ph, j)
        for form, js in list(self._forms.items()):
            ph = placeholder(form)
            if ph is not None:
                known = self._forms.setdefault(ph, [])
                known.extend(j for j in js if j not in known)
        self._town_alias_lengths = sorted({len(k) for k in self.town_alias}, reverse=True)
        # longest first: 二六七队社区 before a shorter protected name inside it
        self._protect = tuple(sorted(protect.items(), key=lambda kv: -len(kv[0])))

    def _find_seat(self, given: str | None) -> int | None:
        """The township of the county seat (see ``county_seat``), and how to read it."""
        converter, _, _ = _t2s()
        names = set(self.town_names) | set(self.village_names)
        restore: dict[str, str] = {}
        if converter is not None:
            for name in names:
                converted = converter.convert(name)
                if converted != name and converted not in names:
                    restore[converted] = name
        # gazetteer names OpenCC would change (乾村 -> 干村) are put back after it
        self._restore = tuple(sorted(restore.items(), key=lambda kv: -len(kv[0])))
        if given is not None:
            if given == "":
                return None
            if given not in self.town_names:
                msg = (
                    f"`county_seat` is {given!r}, which is not a township in `towns` "
                    f"({self.town_names!r}); give the seat's township as written there"
                )
                raise InputError(msg)
            return self.town_names.index(given)
        chengguan = [i for i, name in enumerate(self.town_names) if "城关" in name]
        if len(chengguan) == 1:
            return chengguan[0]
        communities = np.bincount(
            [
                int(self.village_town[j])
                for t in self.real_villages
                for j in t
                if self._village_kind[j] == "社区"
            ],
            minlength=len(self.town_names),
        )
        best = int(communities.max()) if len(communities) else 0
        if best >= 1 and int((communities == best).sum()) == 1:
            return int(np.argmax(communities))
        logger.info(
            "no county seat found for %s: 县城/城关 addresses stay at the county", self.county
        )
        return None

    def _seat_head(self, head: str) -> str | None:
        """``head`` with 县城/城关/城区/城内 after the county prefix written as the seat.

        The word must start the head or follow a prefix that names the county; it is
        read so only where no township or village of the gazetteer starts there (a
        real 城关镇, a 城上村); a bare 城 only right after the full county name
        (``南丰县城建设路``).
        """
        assert self.county_seat is not None
        seat = self.county_seat
        for prefix, had_county, _ in self._own_starts:
            if not head.startswith(prefix) or (prefix and not had_county):
                continue  # 抚州市城区 is the city's, not the county's
            rest = head[len(prefix) :]
            word = next((w for w in _SEAT_WORDS if rest.startswith(w)), None)
            if word is None and rest.startswith("城") and prefix.endswith(self.county):
                word = "城"
            if word is None:
                continue
            if self._read_town(rest) is not None or self._name_at(rest, self._forms):
                return None
            return prefix + seat + rest[len(word) :]
        return None

    def __repr__(self) -> str:
        return (
            f"Gazetteer(county={self.county!r}, towns={len(self.town_names)}, "
            f"villages={len(self.village_names)})"
        )

    # ------------------------------------------------------------------ similarity

    def _similarity(
        self, written: str, written_pinyin: tuple[str, ...], stem: str, stem_pinyin: tuple[str, ...]
    ) -> float:
        """Similarity (0-1) of a written stem and a gazetteer stem.

        The mean of the character similarity (normalised Levenshtein: a substituted
        or dropped character) and the similarity of the toneless pinyin strings; two
        stems with the same pinyin (homophones) score at least ``_HOMOPHONE_SCORE``.
        """
        chars = Levenshtein.normalized_similarity(written, stem)
        if self._pinyin is None:
            return chars
        sound = fuzz.ratio(" ".join(written_pinyin), " ".join(stem_pinyin)) / 100.0
        score = (chars + sound) / 2.0
        if written_pinyin == stem_pinyin:
            score = max(score, _HOMOPHONE_SCORE)
        return score

    def _scores(self, written: str, pool: Iterable[int]) -> list[tuple[float, int]]:
        """Similarity of a written village token to each village of ``pool``, best first."""
        stem, kind = _village_stem(_canonical_village(written))
        wp = self._pinyin_of(stem)
        scored: list[tuple[float, int]] = []
        for j in pool:
            score = self._similarity(stem, wp, self.village_stems[j], self._village_pinyin[j])
            vkind = _village_stem(self.village_names[j])[1]
            if kind and vkind and kind != vkind:
                score -= _KIND_PENALTY
            scored.append((score, j))
        scored.sort(key=lambda x: -x[0])
        return scored

    def _best_village(self, written: str, pool: Iterable[int]) -> tuple[list[int], float, float]:
        """Best villages (ties kept), their score and the best score of another name."""
        scored = self._scores(written, pool)
        if not scored:
            return [], 0.0, 0.0
        best = scored[0][0]
        # the same name in several townships counts once for the margin
        best_names = {self.village_names[j] for s, j in scored if s == best}
        second = max((s for s, j in scored if self.village_names[j] not in best_names), default=0.0)
        return [j for s, j in scored if s == best], best, second

    def _close_villages(self, written: str, pool: Iterable[int], best: float) -> list[int]:
        """Villages of ``pool`` within the fuzzy margin of the best score."""
        return [j for s, j in self._scores(written, pool) if s >= best - _FUZZY_MARGIN]

    # ------------------------------------------------------------------ matching

    def _cands(self, villages: Iterable[int]) -> str:
        items = sorted(set(villages), key=lambda j: (self.village_town[j], j))
        return "|".join(
            f"{self.village_names[j]}({self.town_names[self.village_town[j]]})" for j in items
        )

    def _foreign(self, province: str | None, city: str | None, county: str | None) -> bool:
        """Whether a province, city or county token names another unit than ours."""
        for token, own in ((province, self.province), (city, self.city)):
            if token is not None and not (own is not None and token.startswith(own[:-1])):
                return True
        return county is not None and not self._is_own_county(county)

    def _is_own_county(self, token: str) -> bool:
        """Our county, also after a city (抚州南丰县) or as a homophone (南风县)."""
        stem = token[:-1] if len(token) > 2 else token
        if stem.endswith(self.county_stem):
            return True
        return self._pinyin is not None and self._pinyin_of(stem) == self._county_pinyin

    def _match_head(self, head: str, grouped: bool = False) -> _Match:
        """Match one distinct normalised address head (text before the numbers).

        The names are read from the gazetteer first, right after any form of the
        county's own prefix (longest first): a township followed by one of its
        villages, else a village of the county, else a township. Only then are the
        suffix rules used, which would take the 市 of 株市村 or 市中行 for a city, the 区
        of 河东新区社区 for a district and the 村 of 江村乡 for the end of a village.
        """
        if not head:
            return _NONE
        if self._seat is not None and "城" in head:
            head = self._seat_head(head) or head
        starts = [s for s in self._own_starts if head.startswith(s[0])]
        for prefix, _, _ in starts:
            known = self._read_names(head[len(prefix) :])
            if known is not None:
                return known
        for prefix, _, _ in starts:
            town = self._read_town(head[len(prefix) :])
            if town is not None:
                t, conf_t, after = town
                v = _VILLAGE_RE.match(after)
                assert v is not None  # every group is optional
                return self._in_town(t, conf_t, v.group("village"), v.group("rest") or "", grouped)
        for prefix, _, _ in starts:
            # a community's namesake street first (磨市街 of 磨市街社区): the suffix rules
            # would take its 市 for a city and call the address another county's
            street = self._read_street(head[len(prefix) :])
            if street is not None:
                return street
        # the longest own prefix whose bare stem does not run on into a longer name
        # (南昌 of 南昌县 read from a gazetteer of 南昌市)
        n, had_county = next(
            (len(p), c)
            for p, c, stem in starts
            if not (stem and len(head) > len(p) and head[len(p)] in _ADMIN_END)
        )
        stripped = head[n:]
        m = _ADMIN_RE.match(stripped)
        assert m is not None  # every group is optional
        province, city, county, town_tok, vill_tok, rest = m.group(*_ADMIN_FIELDS)
        rest = rest or ""
        if (
            town_tok is None
            and vill_tok is not None
            and rest[:1] in ("乡", "镇")
            and _canonical_village(vill_tok) not in self.by_name
        ):
            # 雄村镇上街村: the village rule cuts a township named with 村 (熊村镇) at its
            # 村 when the township is misspelt; read it as the township it is, so that the
            # township typo rules decide (_unknown_town), not a look-alike village (熊村)
            town_tok = vill_tok + rest[0]
            v = _VILLAGE_RE.match(rest[1:])
            assert v is not None  # every group is optional
            vill_tok, rest = v.group("village"), v.group("rest") or ""
        if self._foreign(province, city, county):
            return _Match("none", 0.0, reason="other_county")
        if county is not None:  # our own county written in another form
            had_county = True
        result = self._match_parts(town_tok, vill_tok, rest, grouped)
        if result.level == "none" and result.reason == "no_admin_name" and had_county:
            return _Match("county", 0.5, reason="county_only")
        if result.level == "county" and result.reason == "unknown_village" and not had_county:
            return _Match("none", 0.0, reason="unknown_village")
        return result

    def _name_at(self, text: str, table: Mapping[str, Any]) -> Any:
        """The entry of ``table`` whose village form starts ``text`` (longest first).

        A form counts only when the name ends there: a name without 村/社区 must be the
        whole of ``text``, and no name may run on into a township, county, city or
        province (高村 in 高村镇, 江西村 in 江西省).
        """
        size = len(text)
        for k in self._form_lengths:
            if k > size:
                continue
            value = table.get(text[:k])
            if value is None:
                continue
            if k < size:
                j = value if isinstance(value, int) else value[0]
                after = text[k:]
                if (
                    not self._village_kind[j]
                    or after[0] in _ADMIN_END
                    or after[0] in _TOWN_END
                    or after.startswith("街道")
                ):
                    continue
            return value
        return None

    def _read_names(self, text: str) -> _Match | None:
        """A township and one of its villages, or a village, starting ``text`` exactly."""
        size = len(text)
        for k in self._town_alias_lengths:
            if k >= size:
                continue
            found = self.town_alias.get(text[:k])
            if found is None:
                continue
            j = self._name_at(text[k:], self._forms_in_town[found[0]])
            if j is not None:
                return self._village_in_town(found[0], found[1], j)
        js = self._name_at(text, self._forms)
        if js is None:
            return None
        if len(js) == 1:
            return _Match("village", _CONF_VILLAGE_ALONE, int(self.village_town[js[0]]), js[0])
        return _Match("county", 0.5, reason="ambiguous", candidates=self._cands(js))

    def _read_town(self, text: str) -> tuple[int, float, str] | None:
        """A township (not as a bare stem) starting ``text``, and the text after it."""
        size = len(text)
        for k in self._town_alias_lengths:
            if k > size:
                continue
            alias = text[:k]
            found = self.town_alias.get(alias)
            if found is None or alias in self._town_stem_aliases:
                continue
            after = text[k:]
            if after[:1] and after[0] in _ADMIN_END:
                continue
            return found[0], found[1], after
        return None

    def _read_street(self, text: str) -> _Match | None:
        """A community's namesake street (:data:`_STREET_ENDINGS`) starting ``text``."""
        for street in self._street_prefixes:  # longest first
            if not text.startswith(street):
                continue
            after = text[len(street) :]
            if after[:1] and (after[0] in _ADMIN_END or after[0] in _TOWN_END):
                continue
            if street.endswith("街") and after.startswith("道"):  # a 街道 township
                continue
            js = self.streets[street]
            if len(js) == 1:
                return _Match("village", _CONF_STREET_ALONE, int(self.village_town[js[0]]), js[0])
            return _Match("county", 0.5, reason="ambiguous", candidates=self._cands(js))
        return None

    def _village_in_town(self, t: int, conf_t: float, j: int) -> _Match:
        """Village ``j`` written exactly after township ``t`` (ambiguous if named twice)."""
        same = self._same_name.get((t, self.village_names[j]))
        if same is not None:
            return _Match("town", conf_t, t, reason="ambiguous", candidates=self._cands(same))
        return _Match("village", conf_t * _CONF_EXACT, t, j, town_confidence=conf_t)

    def _match_parts(
        self, town_tok: str | None, vill_tok: str | None, rest: str, grouped: bool = False
    ) -> _Match:
        if town_tok is not None:
            found = self.town_alias.get(town_tok)
            if found is None:
                # a township name at the end of a longer token: 地址琴城镇
                for alias in self._town_prefixes:
                    if len(alias) >= 3 and town_tok.endswith(alias):
                        found = (self.town_alias[alias][0], _CONF_TOWN_EMBEDDED)
                        break
            if found is not None:
                return self._in_town(found[0], found[1], vill_tok, rest, grouped)
            return self._unknown_town(town_tok, vill_tok, rest, grouped)
        if vill_tok is not None:
            return self._village_alone(vill_tok, rest, grouped)
        return self._rest_alone(rest, grouped)

    def _in_town(
        self, t: int, conf_t: float, vill_tok: str | None, rest: str, grouped: bool = False
    ) -> _Match:
        """The township is known: find the village among its villages."""
        if vill_tok is None:
            return self._town_rest(t, conf_t, rest, grouped)
        name = _canonical_village(vill_tok)
        j = self.in_town[t].get(name)
        if j is not None:
            return self._village_in_town(t, conf_t, j)
        elsewhere = self.by_name.get(name)
        near, score, second = self._best_village(vill_tok, self.real_villages[t])
        if near and score >= _FUZZY_MIN_IN_TOWN:
            if len(near) == 1 and score - second >= _FUZZY_MARGIN:
                if elsewhere:  # 杨梅村 of 琴城镇 written after 莱溪乡: or its 杨梅坑村?
                    return _Match(
                        "town",
                        conf_t,
                        t,
                        reason="village_in_other_town",
                        candidates=self._cands([*elsewhere, near[0]]),
                    )
                conf = min(_CONF_FUZZY_MAX, 0.45 + 0.45 * score) * conf_t
                return _Match("village", conf, t, near[0], town_confidence=conf_t)
            if not elsewhere:
                close = self._close_villages(vill_tok, self.real_villages[t], score)
                return _Match("town", conf_t, t, reason="ambiguous", candidates=self._cands(close))
        if elsewhere:
            return _Match(
                "town", conf_t, t, reason="village_in_other_town", candidates=self._cands(elsewhere)
            )
        single = self.single_unit.get(t)
        if single is not None:
            return _Match("village", conf_t * _CONF_SINGLE_UNIT, t, single)
        return _Match("town", conf_t, t, reason="unknown_village")

    def _town_rest(self, t: int, conf_t: float, rest: str, grouped: bool = False) -> _Match:
        """The township is known and no …村/…社区 token follows: street, stem, or none."""
        if rest:
            for street in self._town_street_prefixes[t]:
                if rest.startswith(street):
                    js = [j for j in self.streets[street] if self.village_town[j] == t]
                    if len(js) == 1:
                        conf = conf_t * _CONF_STREET
                        return _Match("village", conf, t, js[0], town_confidence=conf_t)
            for stem, js in self.stem_in_town[t].items():  # longest first
                if not rest.startswith(stem):
                    continue
                if len(js) > 1:
                    # 太和 for 太和村 and 太和社区: only a 村 has numbered 村民小组
                    cun = [j for j in js if self._village_kind[j] == "村"]
                    if not (grouped and len(cun) == 1):
                        return _Match(
                            "town",
                            conf_t,
                            t,
                            reason="ambiguous",
                            candidates=self._cands(js),
                            stem_tie=len(cun) == 1,
                        )
                    js = cun
                conf = conf_t * _CONF_VILLAGE_STEM
                return _Match("village", conf, t, js[0], town_confidence=conf_t)
        single = self.single_unit.get(t)
        if single is not None:
            return _Match("village", conf_t * _CONF_SINGLE_UNIT, t, single)
        return _Match("town", conf_t, t, reason="no_village_name")

    def _unknown_town(
        self, town_tok: str, vill_tok: str | None, rest: str, grouped: bool = False
    ) -> _Match:
        """A township-like token that is no form of our townships: typo or elsewhere."""
        bare = town_tok
        for suffix in ("街道办事处", "街道", "乡", "镇"):
            if bare.endswith(suffix) and len(bare) > len(suffix):
                bare = bare[: -len(suffix)]
                break
        bare_pinyin = self._pinyin_of(bare)
        scores = [
            (self._similarity(bare, bare_pinyin, stem, self._town_pinyin[i]), i)
            for i, stem in enumerate(self.town_stems)
        ]
        scores.sort(key=lambda x: -x[0])
        candidates = [i for s, i in scores if s >= _TOWN_CANDIDATE_MIN]
        if vill_tok is not None:
            name = _canonical_village(vill_tok)
            exact = [i for i in candidates if name in self.in_town[i]]
            if len(exact) == 1:
                t = exact[0]
                return _Match("village", _CONF_TOWN_TYPO_CONFIRMED, t, self.in_town[t][name])
        best_score, best_town = scores[0] if scores else (0.0, -1)
        second = scores[1][0] if len(scores) > 1 else 0.0
        if best_score >= _HOMOPHONE_SCORE and best_score - second >= _FUZZY_MARGIN:
            return self._in_town(best_town, _CONF_TOWN_HOMOPHONE, vill_tok, rest, grouped)
        return _Match("none", 0.0, reason="other_county")

    def _village_alone(self, vill_tok: str, rest: str, grouped: bool = False) -> _Match:
        """No township token: the village names it, or a short township leads it."""
        name = _canonical_village(vill_tok)
        js = self.by_name.get(name)
        if js:
            if len(js) == 1:
                j = js[0]
                return _Match("village", _CONF_VILLAGE_ALONE, int(self.village_town[j]), j)
            return _Match("county", 0.5, reason="ambiguous", candidates=self._cands(js))
        # a township written without 乡/镇 ahead of the village: 三溪三溪村
        for alias in self._town_prefixes:
            if vill_tok.startswith(alias) and len(vill_tok) > len(alias) + 1:
                t, conf_t = self.town_alias[alias]
                return self._in_town(t, conf_t, vill_tok[len(alias) :], rest, grouped)
        pool = [j for js_ in self.real_villages for j in js_]
        best, score, second = self._best_village(vill_tok, pool)
        if best and score >= _FUZZY_MIN_ALONE and score - second >= _FUZZY_MARGIN:
            if len(best) == 1:
                j = best[0]
                conf = min(_CONF_FUZZY_ALONE_MAX, 0.35 + 0.45 * score)
                return _Match("village", conf, int(self.village_town[j]), j)
            close = self._close_villages(vill_tok, pool, score)
            return _Match("county", 0.5, reason="ambiguous", candidates=self._cands(close))
        return _Match("county", 0.3, reason="unknown_village")

    def _rest_alone(self, rest: str, grouped: bool = False) -> _Match:
        """Neither township nor village token: a short township, a street, or nothing."""
        if not rest:
            return _NONE
        for alias in self._town_prefixes:
            if rest.startswith(alias) and len(alias) >= 2:
                t, conf_t = self.town_alias[alias]
                sub = _ADMIN_RE.match(rest[len(alias) :])
                assert sub is not None
                if sub.group("village") is not None:
                    return self._in_town(
                        t, conf_t, sub.group("village"), sub.group("rest") or "", grouped
                    )
                return self._town_rest(t, conf_t, rest[len(alias) :], grouped)
        for street in self._street_prefixes:
            if rest.startswith(street):
                js = self.streets[street]
                if len(js) == 1:
                    j = js[0]
                    return _Match("village", _CONF_STREET_ALONE, int(self.village_town[j]), j)
                return _Match("county", 0.5, reason="ambiguous", candidates=self._cands(js))
        return _NONE


# --------------------------------------------------------------------------- #
# geocoding


def _check_gazetteer(gazetteer: Any) -> Gazetteer:
    if not isinstance(gazetteer, Gazetteer):
        msg = (
            f"`gazetteer` must be a Gazetteer, got {type(gazetteer).__name__}; build one with "
            "Gazetteer(towns, villages, county=...) or Gazetteer.from_sample(load_sample())"
        )
        raise InputError(msg)
    return gazetteer


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        msg = f"`{name}` must be a number between 0 and 1, got {value!r}"
        raise InputError(msg)
    return float(value)


def geocode_addresses(
    addresses: pd.Series,
    gazetteer: Gazetteer,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> pd.DataFrame:
    """Find the village (or township) of each address in the county gazetteer.

    Parameters
    ----------
    addresses
        Address strings; missing and blank values give ``empty_address``.
    gazetteer
        The county's :class:`Gazetteer`.
    min_confidence
        Matches below this confidence are not reported: the result falls back to
        the township (if that was read with enough confidence) or to nothing, with
        reason ``low_confidence``.

    Returns
    -------
    pandas.DataFrame
        On the index of ``addresses``: ``match_level`` (one of ``MATCH_LEVELS``),
        ``confidence`` (0-1; 0 when nothing was found), ``town_code``, ``town``,
        ``village_code``, ``village``, ``lon``, ``lat`` (WGS84: the village point, or
        the township seat where only the township is known or the village has no
        point; NaN otherwise), ``point_level`` (``"village"``, ``"town"`` or None),
        ``reason`` (one of ``REASONS``, see the module docstring), ``candidates``
        (``name(township)`` joined by ``|`` for ``ambiguous`` and
        ``village_in_other_town``), and as in :func:`parse_addresses`:
        ``group_no``, ``house_no``, ``building_no``, ``unit_no``, ``room_no``,
        ``phone_in_address`` and ``removed`` (phone/ID numbers, labels and names
        taken out of the address before matching; an address that held nothing
        else is ``no_admin_name``, not ``empty_address``).

    Raises
    ------
    InputError
        If ``addresses`` is not a Series, ``gazetteer`` not a Gazetteer or
        ``min_confidence`` not within 0-1.
    """
    addresses = _as_series(addresses, "addresses")
    gaz = _check_gazetteer(gazetteer)
    min_confidence = _check_fraction(min_confidence, "min_confidence")
    codes, uniques = _distinct(addresses)
    split = _prepare(uniques, protect=gaz._protect, restore=gaz._restore)
    head_codes, heads = pd.factorize(split["head"].to_numpy(dtype=object))
    matches = [gaz._match_head(str(h)) for h in heads]
    # a stem shared by a 村 and a 社区 of one township followed by a group number is
    # the 村 (see ``ambiguous``): those heads are matched again, knowing the group
    tie = np.array([m.stem_tie for m in matches], dtype=bool)
    if tie.any():
        redo = tie[head_codes] & split["group_no"].notna().to_numpy(dtype=bool)
        if redo.any():
            again, inverse = np.unique(head_codes[redo], return_inverse=True)
            head_codes = head_codes.copy()
            head_codes[redo] = len(matches) + inverse
            matches += [gaz._match_head(str(heads[k]), True) for k in again]
    logger.debug(
        "geocoded %d addresses: %d distinct strings, %d distinct heads",
        len(addresses),
        len(uniques),
        len(heads),
    )
    per_head = _match_table(matches, gaz, min_confidence)
    empty = ((split["normalized"] == "") & split["removed"].isna()).to_numpy(dtype=bool)
    per_unique = per_head.iloc[head_codes].reset_index(drop=True)
    per_unique.loc[empty, "reason"] = "empty_address"
    for column in _PREPARED[2:]:
        if column != "tail_rest":
            per_unique[column] = (
                split[column].array if column == "group_no" else split[column].to_numpy()
            )
    return per_unique.iloc[codes].set_axis(addresses.index)


def _match_table(matches: list[_Match], gaz: Gazetteer, min_confidence: float) -> pd.DataFrame:
    """One row per distinct head with the gazetteer fields of its match."""
    n = len(matches)
    level = np.array([m.level for m in matches], dtype=object)
    conf = np.array([m.confidence for m in matches], dtype=float)
    town = np.array([m.town for m in matches], dtype=np.int64)
    vill = np.array([m.village for m in matches], dtype=np.int64)
    reason = np.array([m.reason for m in matches], dtype=object)
    cands = np.array([m.candidates for m in matches], dtype=object)

    low = (conf < min_confidence) & np.isin(level, ("village", "town"))
    for k in np.flatnonzero(low):
        m = matches[k]
        if m.village >= 0:
            cands[k] = gaz._cands([m.village])
        reason[k], vill[k] = "low_confidence", -1
        if m.level == "village" and (m.town_confidence or 0.0) >= min_confidence:
            level[k], conf[k] = "town", m.town_confidence
        else:
            level[k], town[k], conf[k] = "none", -1, 0.0
    has_town = town >= 0
    has_vill = vill >= 0
    town_names = np.array([*gaz.town_names, None], dtype=object)
    town_codes = np.array([*gaz.town_codes, None], dtype=object)
    vill_names = np.array([*gaz.village_names, None], dtype=object)
    vill_codes = np.array([*gaz.village_codes, None], dtype=object)
    t_idx = np.where(has_town, town, len(gaz.town_names))
    v_idx = np.where(has_vill, vill, len(gaz.village_names))
    vlon = np.append(gaz.village_lon, np.nan)[v_idx]
    vlat = np.append(gaz.village_lat, np.nan)[v_idx]
    tlon = np.append(gaz.town_lon, np.nan)[t_idx]
    tlat = np.append(gaz.town_lat, np.nan)[t_idx]
    use_v = has_vill & np.isfinite(vlon) & np.isfinite(vlat)
    use_t = ~use_v & has_town & np.isfinite(tlon) & np.isfinite(tlat)
    point_level = np.full(n, None, dtype=object)
    point_level[use_v] = "village"
    point_level[use_t] = "town"
    return pd.DataFrame(
        {
            "match_level": level,
            "confidence": np.round(conf, 3),
            "town_code": town_codes[t_idx],
            "town": town_names[t_idx],
            "village_code": vill_codes[v_idx],
            "village": vill_names[v_idx],
            "lon": np.where(use_v, vlon, np.where(use_t, tlon, np.nan)),
            "lat": np.where(use_v, vlat, np.where(use_t, tlat, np.nan)),
            "point_level": point_level,
            "reason": reason,
            "candidates": cands,
        }
    )


# --------------------------------------------------------------------------- #
# customers: coordinates and flags

_GEOD = pyproj.Geod(ellps="WGS84")


def _blank(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.isna().to_numpy(dtype=bool)
    text = _as_text(values).str.strip()
    return (values.isna() | (text == "")).to_numpy(dtype=bool)


def _not_number(values: pd.Series) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return ~np.isfinite(num) & ~_blank(values)


def _gps_to_wgs84(
    lon: pd.Series, lat: pd.Series, datum: pd.Series | None, default_datum: str, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat numbers (strings allowed) converted per row from their datum to WGS84."""
    x = pd.to_numeric(lon, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(lat, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if datum is None:
        names = np.full(len(x), default_datum, dtype=object)
    else:
        d = _as_text(datum).str.strip().str.lower()
        names = np.where(d.to_numpy() == "", default_datum, d.to_numpy()).astype(object)
    out_x = x.copy()
    out_y = y.copy()
    for value in pd.unique(names):
        mask = names == value
        try:
            cx, cy = _crs.to_wgs84(x[mask], y[mask], str(value))
        except InputError as exc:
            first = lon.index[np.flatnonzero(mask)[0]]
            msg = (
                f"{int(mask.sum())} row(s) of `{column}` (first at index {first!r}) hold the "
                f"datum {value!r}: {exc}"
            )
            raise type(exc)(msg) from exc
        out_x[mask] = cx
        out_y[mask] = cy
    return out_x, out_y


def geocode_customers(
    customers: pd.DataFrame,
    gazetteer: Gazetteer,
    *,
    county_area: Any = None,
    conflict_m: float = DEFAULT_CONFLICT_M,
    county_tolerance_m: float = DEFAULT_COUNTY_TOLERANCE_M,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    address_column: str = "address",
    lon: str | None = "gps_lon",
    lat: str | None = "gps_lat",
    datum_column: str | None = "gps_datum",
    default_datum: str = DEFAULT_DATUM,
) -> gpd.GeoDataFrame:
    """Locate customers from their address and, where given, their coordinates.

    Coordinates given with a customer are converted from their datum to WGS84 and
    take precedence over the address point when they pass the checks; the address
    point (village, else township seat) is used otherwise. Nothing is fixed silently:
    swapped lon/lat and points outside the county are flagged and not used.

    Parameters
    ----------
    customers
        One row per customer with an address column and optionally lon/lat columns.
    gazetteer
        The county's :class:`Gazetteer`.
    county_area
        County polygon (EPSG:4326 shapely geometry, or GeoDataFrame/GeoSeries with a
        CRS) for the outside-county check; default the gazetteer's ``county_area``;
        without either, points are checked against China only.
    conflict_m
        Coordinates farther than this from the address's village point are flagged
        ``coords_conflict_address`` (they are still used).
    county_tolerance_m
        Points up to this far outside ``county_area`` still count as inside.
    min_confidence
        See :func:`geocode_addresses`.
    address_column
        Column of the address strings.
    lon, lat
        Columns of the given coordinates, or None when there are none. Both columns
        may also be absent from ``customers`` altogether.
    datum_column
        Column saying per row which datum the coordinates are in (``wgs84``,
        ``gcj02``, ``bd09``; blank = ``default_datum``), or None.
    default_datum
        Datum of coordinates whose row gives none.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, on the index of ``customers``: its columns (a previous geometry
        is replaced, and so are columns named like a result column, with a warning),
        the columns of :func:`geocode_addresses` (``lon``/``lat`` renamed
        ``address_lon``/``address_lat``, ``reason`` renamed ``address_reason``), and
        ``gps_wgs84_lon``, ``gps_wgs84_lat`` (the given coordinates in WGS84), ``gps_check``
        (the reason of :func:`gridgeo.crs.check_coordinates`: ``ok``, ``missing``,
        ``not_a_number``, ``swapped_lonlat``, ``outside_china``, ``outside_area``),
        ``address_distance_m`` (geodesic, GPS to the address's village point),
        the flags ``coords_conflict_address``, ``swapped_lonlat``,
        ``coords_outside_county`` (bool), ``location_source`` (``"gps"``,
        ``"village"``, ``"town"`` or None), ``reason`` (``ok`` or ``not_geocoded``)
        and the point geometry (None where not located).

    Raises
    ------
    MissingColumnError
        If the address column, or only one of the lon/lat columns, is missing.
    InputError
        If a parameter is invalid.
    CRSError
        If a datum value is unknown.
    """
    if not isinstance(customers, pd.DataFrame):
        msg = f"`customers` must be a (Geo)DataFrame, got {type(customers).__name__}"
        raise InputError(msg)
    gaz = _check_gazetteer(gazetteer)
    if address_column not in customers.columns:
        msg = (
            f"`customers` has no address column {address_column!r} (columns: "
            f"{list(customers.columns)!r}); pass `address_column=` with the right name"
        )
        raise MissingColumnError(msg)
    for value, name in ((conflict_m, "conflict_m"), (county_tolerance_m, "county_tolerance_m")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            msg = f"`{name}` must be a distance in metres >= 0, got {value!r}"
            raise InputError(msg)
    has_lon = lon is not None and lon in customers.columns
    has_lat = lat is not None and lat in customers.columns
    if has_lon != has_lat:
        missing = lat if has_lon else lon
        msg = (
            f"`customers` has only one of the coordinate columns {lon!r}/{lat!r}: "
            f"{missing!r} is missing; add it or pass `lon=None, lat=None`"
        )
        raise MissingColumnError(msg)
    if datum_column is not None and has_lon and datum_column not in customers.columns:
        datum_series = None
        logger.info("no datum column %r: coordinates taken as %s", datum_column, default_datum)
    else:
        datum_series = customers[datum_column] if has_lon and datum_column else None

    geo = geocode_addresses(customers[address_column], gaz, min_confidence=min_confidence)
    n = len(customers)
    index = customers.index
    area = county_area if county_area is not None else gaz.county_area
    if area is not None:
        area = _crs.area_geometry(area)
        shapely.prepare(area)

    if has_lon:
        assert lon is not None and lat is not None
        raw_x = pd.Series(customers[lon].to_numpy(), index=index)
        raw_y = pd.Series(customers[lat].to_numpy(), index=index)
        gone = _blank(raw_x) | _blank(raw_y)
        bad = ~gone & (_not_number(raw_x) | _not_number(raw_y))
        present = ~gone & ~bad
        gps_check = np.where(gone, "missing", "not_a_number").astype(object)
        gx = np.full(n, np.nan)
        gy = np.full(n, np.nan)
        if present.any():
            px, py = _gps_to_wgs84(
                raw_x[present],
                raw_y[present],
                None if datum_series is None else datum_series[present],
                default_datum,
                str(datum_column),
            )
            gx[present], gy[present] = px, py
            # a swapped pair lies outside the GCJ-02/BD-09 area and passes unconverted
            check = _crs.check_coordinates(px, py, area=area, max_distance_m=county_tolerance_m)
            gps_check[present] = check["reason"].to_numpy(dtype=object)
    else:
        gx = np.full(n, np.nan)
        gy = np.full(n, np.nan)
        gps_check = np.full(n, "missing", dtype=object)

    gps_ok = gps_check == "ok"
    alon = geo["lon"].to_numpy(dtype=float)
    alat = geo["lat"].to_numpy(dtype=float)
    village_pt = (geo["point_level"] == "village").to_numpy()
    dist = np.full(n, np.nan)
    both = gps_ok & np.isfinite(alon) & np.isfinite(alat)
    if both.any():
        _, _, d = _GEOD.inv(gx[both], gy[both], alon[both], alat[both])
        dist[both] = d
    conflict = gps_ok & village_pt & (dist > conflict_m)
    swapped = gps_check == "swapped_lonlat"
    outside = np.isin(gps_check, ("outside_area", "outside_china"))

    source = np.full(n, None, dtype=object)
    point_level = geo["point_level"].to_numpy(dtype=object)
    source[point_level == "village"] = "village"
    source[point_level == "town"] = "town"
    source[gps_ok] = "gps"
    x = np.where(gps_ok, gx, alon)
    y = np.where(gps_ok, gy, alat)
    located = source != None  # noqa: E711 - elementwise on an object array
    geometry = np.full(n, None, dtype=object)
    if located.any():
        geometry[located] = shapely.points(x[located], y[located])

    out = pd.DataFrame(index=index)
    result = geo.rename(
        columns={"lon": "address_lon", "lat": "address_lat", "reason": "address_reason"}
    )
    for column in result.columns:
        out[column] = result[column]
    out["gps_wgs84_lon"] = gx
    out["gps_wgs84_lat"] = gy
    out["gps_check"] = gps_check
    out["address_distance_m"] = np.round(dist, 1)
    out["coords_conflict_address"] = conflict
    out["swapped_lonlat"] = swapped
    out["coords_outside_county"] = outside & (area is not None)
    out["location_source"] = source
    out["reason"] = np.where(located, "ok", "not_geocoded").astype(object)

    base = pd.DataFrame(customers)
    if isinstance(customers, gpd.GeoDataFrame):
        base = pd.DataFrame(customers.drop(columns=customers.geometry.name))
    clash = [c for c in out.columns if c in base.columns]
    if clash:
        warnings.warn(
            f"`customers` columns {clash!r} are replaced by the geocoding results",
            UserWarning,
            stacklevel=2,
        )
        base = base.drop(columns=clash)
    if "geometry" in base.columns:
        base = base.drop(columns="geometry")
    joined = pd.concat([base, out], axis=1)
    n_flag = int(conflict.sum()), int(swapped.sum()), int(outside.sum())
    logger.info(
        "located %d of %d customers (%d by GPS); %d conflicts, %d swapped, %d outside",
        int(located.sum()),
        n,
        int(gps_ok.sum()),
        *n_flag,
    )
    return gpd.GeoDataFrame(joined, geometry=gpd.GeoSeries(geometry, index=index), crs="EPSG:4326")
