"""Tests for the messy sample-county address generator (gridgeo._sample_addresses)."""

from __future__ import annotations

import csv
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgeo import _sample_addresses as sa
from gridgeo.errors import EmptyDataError, InputError, MissingColumnError

# Written out by hand, not computed.
HAND_CN = {
    1: "一",
    2: "二",
    3: "三",
    5: "五",
    9: "九",
    10: "十",
    11: "十一",
    12: "十二",
    15: "十五",
    19: "十九",
    20: "二十",
    21: "二十一",
    35: "三十五",
    90: "九十",
    99: "九十九",
}
HAND_CN_LARGE = {0: "零", 100: "一百", 105: "一百零五", 110: "一百一十", 1010: "一千零一十"}

ASCII_DIGIT = re.compile(r"[0-9]")
FULLWIDTH_DIGIT = re.compile(r"[０-９]")


@pytest.fixture(scope="module")
def gazetteer(nanfeng_gazetteer: Path) -> pd.DataFrame:
    return pd.read_csv(nanfeng_gazetteer, dtype={"town_code": str})


@pytest.fixture(scope="module")
def gazetteer_rows(nanfeng_gazetteer: Path) -> list[dict[str, str]]:
    with nanfeng_gazetteer.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["village"]]


@pytest.fixture(scope="module")
def villages(gazetteer: pd.DataFrame) -> pd.DataFrame:
    return gazetteer[gazetteer["village"].notna()].reset_index(drop=True)


def _rows(villages: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Customers on random villages; group and house numbers from the hand table."""
    rng = np.random.default_rng(seed)
    pick = villages.iloc[rng.integers(0, len(villages), n)]
    rows = pick[["town", "town_code", "village"]].reset_index(drop=True)
    rows["group_no"] = rng.choice(list(HAND_CN), n)
    rows["house_no"] = rng.choice([*HAND_CN, 105, 110, 150], n)
    rows.index = pd.Index([f"c{i}" for i in range(n)])
    return rows


@pytest.fixture(scope="module")
def big_draw(villages: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = _rows(villages, 30_000, seed=11)
    return rows, sa.make_addresses(rows, np.random.default_rng(5))


@pytest.fixture(scope="module")
def labelled(gazetteer: pd.DataFrame) -> pd.DataFrame:
    return sa.make_labelled_addresses(gazetteer, np.random.default_rng(7), n=3000)


# ---------------------------------------------------------------- number writing


@pytest.mark.parametrize(("n", "text"), sorted({**HAND_CN, **HAND_CN_LARGE}.items()))
def test_int_to_chinese_hand_table(n: int, text: str) -> None:
    assert sa._int_to_chinese(n) == text


def test_int_to_chinese_1_to_99_by_rule() -> None:
    digits = "零一二三四五六七八九"
    for n in range(1, 100):
        tens, units = divmod(n, 10)
        expected = ""
        if tens:
            expected = ("" if tens == 1 else digits[tens]) + "十"
        if units:
            expected += digits[units]
        assert sa._int_to_chinese(n) == expected, n


@pytest.mark.parametrize("n", [-1, 10_000])
def test_int_to_chinese_out_of_range(n: int) -> None:
    with pytest.raises(InputError, match="between 0 and 9999"):
        sa._int_to_chinese(n)


def test_to_fullwidth() -> None:
    assert sa._to_fullwidth("5组12号") == "５组１２号"
    assert sa._to_fullwidth("A-7") == "Ａ－７"


# ---------------------------------------------------------------- make_addresses


def test_every_variant_appears_in_large_draw(big_draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, out = big_draw
    counts = out["address_variant"].value_counts()
    assert set(counts.index) == set(sa.VARIANTS)
    assert list(out.columns) == ["address", "address_variant"]


def test_default_weights_cover_variants() -> None:
    assert set(sa.DEFAULT_VARIANT_WEIGHTS) == set(sa.VARIANTS)
    assert len(set(sa.VARIANTS)) == len(sa.VARIANTS)


def test_common_forms_dominate(big_draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, out = big_draw
    share = out["address_variant"].value_counts(normalize=True)
    # 0.24 of the weight, renormalised over at most 1.0 -> about a quarter of rows
    assert 0.20 < share["town_village"] < 0.30
    assert share["town_village"] > share["typo"] * 4


def test_keeps_index_and_does_not_mutate(villages: pd.DataFrame) -> None:
    rows = _rows(villages, 500, seed=1)
    before = rows.copy()
    out = sa.make_addresses(rows, np.random.default_rng(0))
    pd.testing.assert_frame_equal(rows, before)
    assert out.index.equals(rows.index)
    assert out["address"].map(lambda s: isinstance(s, str) and len(s) > 0).all()


def test_deterministic(villages: pd.DataFrame) -> None:
    rows = _rows(villages, 3000, seed=2)
    a = sa.make_addresses(rows, np.random.default_rng(42))
    b = sa.make_addresses(rows, np.random.default_rng(42))
    c = sa.make_addresses(rows, np.random.default_rng(43))
    pd.testing.assert_frame_equal(a, b)
    assert (a["address"] != c["address"]).mean() > 0.5


def _old_name(town: str) -> str:
    if town == "市山镇":
        return "市山乡"
    return town[:-1] + {"乡": "镇", "镇": "乡"}[town[-1]]


def _stem(village: str) -> str:
    return village.removesuffix("社区").removesuffix("村")


def _check(variant: str, addr: str, town: str, village: str, g: int, h: int) -> bool:
    virtual = "虚拟" in village
    bare = town.removeprefix("南丰县")
    grp = f"{g}组"
    has_village = virtual or village in addr
    park = "园区" in town  # the industrial park is written without a group
    if variant == "full_chain":
        return (
            addr.startswith("江西省抚州市南丰县")
            and bare.removeprefix("南丰") in addr
            and (virtual or _stem(village) in addr)
        )
    if variant == "county_chain":
        return addr.startswith("南丰县") and (virtual or village in addr)
    if variant == "town_village":
        return addr.startswith(bare) and "南丰县" not in addr and (virtual or village in addr)
    if variant == "town_short":
        return town not in addr and town[:-1] in addr and village in addr
    if variant == "committee_suffix":
        return town in addr and ("委会" in addr or "委员会" in addr) and grp in addr
    if variant == "missing_town_county":
        return addr.startswith("南丰县" + village) and town not in addr
    if variant == "missing_town":
        return addr.startswith(village + grp) and town not in addr and "南丰县" not in addr
    if variant == "town_only":
        return town in addr and village not in addr and "组" not in addr
    if variant == "cn_numerals":
        rest = addr.replace(f"{h}号", "") if h > 99 else addr
        return HAND_CN[g] + "组" in addr and not ASCII_DIGIT.search(rest) and has_village
    if variant == "group_words":
        return ("第" in addr or "小组" in addr) and (str(g) in addr or HAND_CN[g] in addr)
    if variant == "hamlet":
        tail = addr.split(_stem(village), 1)[-1]
        hamlets = [p + s for p in sa.HAMLET_PREFIXES for s in sa.HAMLET_SUFFIXES]
        return town in addr and village.endswith("村") and any(x in tail for x in hamlets)
    if variant == "old_town_name":
        return town not in addr and _old_name(town) + village in addr
    if variant == "fullwidth":
        fw_group = "".join(chr(ord(c) + 0xFEE0) for c in str(g)) + "组"
        fw_house = "".join(chr(ord(c) + 0xFEE0) for c in str(h))
        fw_part = fw_house if park else fw_group
        return fw_part in addr and not ASCII_DIGIT.search(addr) and has_village
    if variant == "noisy_punct":
        marks = [*sa.SEPARATORS, "（", "(", "【"]
        return any(m in addr for m in marks) and bare in addr and has_village
    if variant == "typo":
        # exactly one of the two names is broken
        return (town in addr or bare in addr) != (village in addr)
    if variant == "street_address":
        return (
            town == "琴城镇"
            and village.endswith("社区")
            and f"{h}号" in addr
            and re.search("路|街|巷|大道", addr) is not None
            and "组" not in addr
        )
    raise AssertionError(variant)


@pytest.mark.parametrize("variant", sa.VARIANTS)
def test_variant_content(variant: str, big_draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, out = big_draw
    sel = out["address_variant"] == variant
    assert sel.sum() > 20
    bad = [
        (a, t, v, g, h)
        for a, t, v, g, h in zip(
            out.loc[sel, "address"],
            rows.loc[sel, "town"],
            rows.loc[sel, "village"],
            rows.loc[sel, "group_no"],
            rows.loc[sel, "house_no"],
            strict=True,
        )
        if not _check(variant, a, t, v, int(g), int(h))
    ]
    assert not bad, bad[:5]


def test_fullwidth_has_fullwidth_digits(big_draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, out = big_draw
    addr = out.loc[out["address_variant"] == "fullwidth", "address"]
    assert addr.map(lambda s: bool(FULLWIDTH_DIGIT.search(s))).all()


def test_variant_eligibility(big_draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, out = big_draw
    virtual = rows["village"].str.contains("虚拟")
    seat_comm = (rows["town"] == "琴城镇") & rows["village"].str.endswith("社区")
    suffix = rows["town"].str[-1].isin(["乡", "镇"])
    v = out["address_variant"]
    assert (seat_comm[v == "street_address"]).all()
    assert (suffix[v.isin(["town_short", "old_town_name"])]).all()
    assert not virtual[v.isin(["missing_town", "missing_town_county", "town_only"])].any()
    park = rows["town"] == "南丰工业园区"
    assert park.any()
    assert not park[v.isin(["cn_numerals", "group_words"])].any()
    assert not out.loc[park, "address"].str.contains("组").any()


def test_only_shishan_has_attested_old_name(villages: pd.DataFrame) -> None:
    rows = villages[villages["town"].isin(["市山镇", "三溪乡"])].reset_index(drop=True)
    rows = rows.assign(group_no=3, house_no=8)
    out = sa.make_addresses(rows, np.random.default_rng(0), variants=["old_town_name"])
    for addr, town in zip(out["address"], rows["town"], strict=True):
        assert ("市山乡" if town == "市山镇" else "三溪镇") in addr


def test_variants_restricts_labels(villages: pd.DataFrame) -> None:
    rows = _rows(villages, 2000, seed=3)
    rows = rows[~rows["village"].str.contains("虚拟")]
    out = sa.make_addresses(rows, np.random.default_rng(0), variants=("missing_town", "typo"))
    assert set(out["address_variant"]) == {"missing_town", "typo"}


def test_variant_weights(villages: pd.DataFrame) -> None:
    rows = _rows(villages, 3000, seed=4)
    out = sa.make_addresses(rows, np.random.default_rng(0), variant_weights={"town_village": 0})
    assert "town_village" not in set(out["address_variant"])
    only = {v: 0.0 for v in sa.VARIANTS if v != "full_chain"}
    out = sa.make_addresses(rows, np.random.default_rng(0), variant_weights=only)
    assert set(out["address_variant"]) == {"full_chain"}


def test_empty_rows(villages: pd.DataFrame) -> None:
    out = sa.make_addresses(_rows(villages, 5, seed=0).iloc[:0], np.random.default_rng(0))
    assert out.empty
    assert list(out.columns) == ["address", "address_variant"]


def test_timing_one_million_rows(villages: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    rows = villages.iloc[rng.integers(0, len(villages), n)][["town", "village"]]
    rows = rows.reset_index(drop=True)
    rows["group_no"] = rng.integers(1, 16, n)
    rows["house_no"] = rng.integers(1, 300, n)
    t0 = time.perf_counter()
    out = sa.make_addresses(rows, np.random.default_rng(1))
    elapsed_s = time.perf_counter() - t0
    print(f"make_addresses: {n:,} rows in {elapsed_s:.2f} s")
    assert len(out) == n


# ---------------------------------------------------------------- errors


def test_missing_column(villages: pd.DataFrame) -> None:
    rows = _rows(villages, 10, seed=0).drop(columns="group_no")
    with pytest.raises(MissingColumnError, match="group_no"):
        sa.make_addresses(rows, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("group_no", 0, "`group_no`.*whole numbers >= 1"),
        ("house_no", np.nan, "`house_no`.*whole numbers >= 1"),
        ("house_no", 2.5, "`house_no`.*whole numbers >= 1"),
        ("village", None, "`village` is empty"),
        ("town", "  ", "`town` is empty"),
    ],
)
def test_bad_values(villages: pd.DataFrame, column: str, value: object, match: str) -> None:
    rows = _rows(villages, 10, seed=0)
    rows[column] = rows[column].astype(object)
    rows.loc[rows.index[3], column] = value
    with pytest.raises(InputError, match=match):
        sa.make_addresses(rows, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variants": ["nope"]}, "`variants` must name"),
        ({"variants": []}, "`variants` must name"),
        ({"variant_weights": {"nope": 1.0}}, "unknown variant"),
        ({"variant_weights": {"typo": -1.0}}, r"`variant_weights\['typo'\]`"),
        ({"variant_weights": {"typo": float("nan")}}, r"`variant_weights\['typo'\]`"),
        ({"variant_weights": dict.fromkeys(sa.VARIANTS, 0.0)}, "weight 0"),
    ],
)
def test_bad_options(villages: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        sa.make_addresses(_rows(villages, 10, seed=0), np.random.default_rng(0), **kwargs)


def test_rows_fitting_no_variant(villages: pd.DataFrame) -> None:
    rows = villages[villages["town"] == "三溪乡"].assign(group_no=1, house_no=1)
    with pytest.raises(InputError, match="fit none of the allowed variants"):
        sa.make_addresses(rows, np.random.default_rng(0), variants=["street_address"])


# ---------------------------------------------------------------- labelled set


def test_labelled_shape(labelled: pd.DataFrame) -> None:
    assert len(labelled) == 3000
    assert labelled.index.equals(pd.RangeIndex(3000))
    assert list(labelled.columns) == [
        "address",
        "address_variant",
        "expected_town_code",
        "expected_town",
        "expected_village",
        "expected_status",
        "note",
    ]


def test_labelled_covers_everything(labelled: pd.DataFrame) -> None:
    assert set(labelled["expected_status"]) == set(sa.EXPECTED_STATUSES)
    assert set(sa.EXPECTED_STATUSES) == {"village", "town", "ambiguous", "other_county", "garbage"}
    assert set(labelled["address_variant"]) == set(sa.VARIANTS) | set(sa.HARD_CASE_VARIANTS)


def test_labelled_deterministic(gazetteer: pd.DataFrame, labelled: pd.DataFrame) -> None:
    again = sa.make_labelled_addresses(gazetteer, np.random.default_rng(7), n=3000)
    pd.testing.assert_frame_equal(labelled, again)


def test_duplicated_village_names_are_real(gazetteer_rows: list[dict[str, str]]) -> None:
    towns = defaultdict(set)
    for r in gazetteer_rows:
        towns[r["village"]].add(r["town"])
    dups = {v for v, t in towns.items() if len(t) > 1}
    # read off the CSV by eye: 黄家村 (太源乡, 洽湾镇) and 罗坊村 (白舍镇, 紫霄镇)
    assert dups == {"黄家村", "罗坊村"}
    assert towns["黄家村"] == {"太源乡", "洽湾镇"}
    assert towns["罗坊村"] == {"白舍镇", "紫霄镇"}


def test_labelled_truth_matches_gazetteer(
    labelled: pd.DataFrame, gazetteer_rows: list[dict[str, str]]
) -> None:
    code = {(r["town"], r["village"]): (r["town_code"] or None) for r in gazetteer_rows}
    village_rows = labelled[labelled["expected_status"] == "village"]
    for town, village, tcode in zip(
        village_rows["expected_town"],
        village_rows["expected_village"],
        village_rows["expected_town_code"],
        strict=True,
    ):
        assert (town, village) in code
        assert tcode == code[(town, village)]
    town_rows = labelled[labelled["expected_status"] == "town"]
    assert town_rows["expected_village"].isna().all()
    assert (town_rows["address_variant"] == "town_only").all()
    assert town_rows.apply(lambda r: r["expected_town"] in r["address"], axis=1).all()
    unresolved = labelled[
        labelled["expected_status"].isin(["ambiguous", "other_county", "garbage"])
    ]
    assert (
        unresolved[["expected_town_code", "expected_town", "expected_village"]].isna().all().all()
    )


def test_labelled_ambiguous(labelled: pd.DataFrame, gazetteer_rows: list[dict[str, str]]) -> None:
    all_towns = {r["town"] for r in gazetteer_rows}
    stems = {t[:-1] for t in all_towns if t[-1] in "乡镇"}
    amb = labelled[labelled["expected_status"] == "ambiguous"]
    assert (amb["address_variant"] == "ambiguous_village").sum() > 20
    for addr in amb["address"]:
        assert "黄家村" in addr or "罗坊村" in addr
        assert not any(s in addr for s in stems)
    # a regular missing-town row naming a duplicated village is flagged ambiguous
    missing = labelled[labelled["address_variant"].isin(["missing_town", "missing_town_county"])]
    for addr, status in zip(missing["address"], missing["expected_status"], strict=True):
        dup = addr.removeprefix("南丰县").startswith(("黄家村", "罗坊村"))
        assert status == ("ambiguous" if dup else "village"), addr


def test_labelled_missing_town_has_no_town(labelled: pd.DataFrame) -> None:
    sel = labelled["address_variant"].isin(["missing_town", "missing_town_county"])
    sel &= labelled["expected_status"] == "village"
    for addr, town, village in zip(
        labelled.loc[sel, "address"],
        labelled.loc[sel, "expected_town"],
        labelled.loc[sel, "expected_village"],
        strict=True,
    ):
        assert town not in addr and village in addr


def test_labelled_nested_names(labelled: pd.DataFrame) -> None:
    nested = labelled[labelled["address_variant"] == "nested_village_name"]
    assert set(nested["expected_village"]) <= {"前村", "东村"}
    assert (nested["expected_status"] == "village").all()


def test_labelled_other_county(
    labelled: pd.DataFrame, gazetteer_rows: list[dict[str, str]]
) -> None:
    names = {r["town"] for r in gazetteer_rows} | {r["village"] for r in gazetteer_rows}
    other = labelled[labelled["expected_status"] == "other_county"]
    assert len(other) > 20
    for addr in other["address"]:
        assert "南丰" not in addr
        assert not any(n in addr for n in names), addr
        assert any(t in addr for _, _, t in sa.NEIGHBOUR_TOWNS)


def test_labelled_garbage(labelled: pd.DataFrame, gazetteer_rows: list[dict[str, str]]) -> None:
    garbage = labelled.loc[labelled["expected_status"] == "garbage", "address"]
    assert len(garbage) > 20
    assert not garbage.str.contains("村|乡|镇|社区").any()
    assert garbage.str.fullmatch(r"1[3-9]\d{9}").any()  # a mobile number
    assert garbage.isin(["不详", "同上", "？？", "", " "]).any()


def test_labelled_typos_recorded(
    labelled: pd.DataFrame, gazetteer_rows: list[dict[str, str]]
) -> None:
    names = {r["town"] for r in gazetteer_rows} | {r["village"] for r in gazetteer_rows}
    typo = labelled[labelled["address_variant"] == "typo"]
    assert len(typo) > 100
    parts = set()
    for addr, note in zip(typo["address"], typo["note"], strict=True):
        m = re.fullmatch(r"typo (town|village) (\S+)→(\S+)", note)
        assert m, note
        part, real, wrong = m.groups()
        parts.add(part)
        assert real in names and wrong not in names
        assert wrong in addr and real not in addr
        assert len(wrong) in (len(real), len(real) - 1)
    assert parts == {"town", "village"}


def test_labelled_without_hard_cases(gazetteer: pd.DataFrame) -> None:
    out = sa.make_labelled_addresses(
        gazetteer, np.random.default_rng(0), n=200, include_hard_cases=False
    )
    assert len(out) == 200
    assert set(out["address_variant"]) == set(sa.VARIANTS)
    assert set(out["expected_status"]) <= {"village", "town", "ambiguous"}


def test_labelled_n_too_small(gazetteer: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="`n` must be at least"):
        sa.make_labelled_addresses(gazetteer, np.random.default_rng(0), n=10)


def test_labelled_missing_column(gazetteer: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError, match="town_code"):
        sa.make_labelled_addresses(gazetteer.drop(columns="town_code"), np.random.default_rng(0))


def test_labelled_no_villages(gazetteer: pd.DataFrame) -> None:
    towns_only = gazetteer[gazetteer["village"].isna()]
    with pytest.raises(EmptyDataError, match="no rows with a `village`"):
        sa.make_labelled_addresses(towns_only, np.random.default_rng(0))


def test_labelled_small_gazetteer_warns(gazetteer: pd.DataFrame) -> None:
    one_town = gazetteer[gazetteer["town"] == "三溪乡"]
    with pytest.warns(UserWarning) as record:
        out = sa.make_labelled_addresses(one_town, np.random.default_rng(0), n=300)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 3
    assert "`ambiguous_village`" in messages[1] and "`nested_village_name`" in messages[2]
    assert "'street_address'" in messages[0]
    assert len(out) == 300
    assert "street_address" not in set(out["address_variant"])
    assert "ambiguous" not in set(out["expected_status"])


def test_neighbour_towns_lie_in_their_county(jiangxi_dir: Path, data_dir: Path) -> None:
    gpd = pytest.importorskip("geopandas")
    counties = gpd.read_file(jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg")
    # GeoNames places cut to Jiangxi (tests/data/README.md): a town found in its county polygon
    # is inside Jiangxi, so the cut keeps every place this test can accept
    places = pd.read_csv(data_dir / "geonames_jiangxi_places500.csv", dtype=str)
    for city, county, town in sa.NEIGHBOUR_TOWNS:
        assert county != "南丰县"
        hit = places[places["name_zh"].fillna("").str.split("|").map(lambda ns, t=town: t in ns)]
        assert len(hit) >= 1, town
        poly = counties[(counties["name"] == county) & (counties["ctname"] == city)]
        assert len(poly) == 1, county
        pts = gpd.points_from_xy(hit["lon"].astype(float), hit["lat"].astype(float))
        assert poly.geometry.iloc[0].contains(pts).any(), (county, town)
