"""Tests of gridgeo.geocode: address parsing, gazetteer matching, coordinates and flags.

The labelled set is written by the project's own generator
(``gridgeo._sample_addresses.make_labelled_addresses``) with ``LABELLED_SEED``, a seed the
geocoder was not developed on (development used seeds 1, 2, 3, 5 and 101). Its truth comes
from the generator, never from the geocoder. Run ``pytest -s tests/test_geocode.py`` to see
the accuracy table by variant.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridgeo import crs
from gridgeo._sample_addresses import make_labelled_addresses
from gridgeo.errors import CRSError, EmptyDataError, InputError, MissingColumnError
from gridgeo.geocode import (
    MATCH_LEVELS,
    REASONS,
    Gazetteer,
    geocode_addresses,
    geocode_customers,
    parse_addresses,
)
from gridgeo.sample import load_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "sample_data" / "nanfeng"
GAZETTEER_CSV = SAMPLE_DIR / "source" / "nanfeng_gazetteer_towns_villages.csv"
LABELLED_SEED = 7
LABELLED_N = 3000
GEOD = pyproj.Geod(ellps="WGS84")
ARCHIVE_COLUMNS = ["customer_id", "address", "gps_lon", "gps_lat", "gps_datum"]


@pytest.fixture(scope="module")
def sample():
    return load_sample(SAMPLE_DIR)


@pytest.fixture(scope="module")
def gaz(sample):
    return Gazetteer.from_sample(sample)


@pytest.fixture(scope="module")
def labelled():
    table = pd.read_csv(GAZETTEER_CSV, dtype=str)
    return make_labelled_addresses(table, np.random.default_rng(LABELLED_SEED), n=LABELLED_N)


@pytest.fixture(scope="module")
def labelled_result(labelled, gaz):
    return pd.concat([labelled, geocode_addresses(labelled["address"], gaz)], axis=1)


def _village_point(sample, town: str, village: str) -> tuple[float, float]:
    v = sample.villages
    row = v[(v["town"] == town) & (v["village"] == village)].iloc[0]
    return float(row.geometry.x), float(row.geometry.y)


def _one(gaz, address: str) -> pd.Series:
    return geocode_addresses(pd.Series([address]), gaz).iloc[0]


# --------------------------------------------------------------------------- labelled set


def _row_ok(d: pd.DataFrame) -> pd.Series:
    """Whether each labelled row got the answer its label asks for."""
    st = d["expected_status"]
    same_place = (d["town"] == d["expected_town"]) & (d["village"] == d["expected_village"])
    ok = pd.Series(False, index=d.index)
    ok[st == "village"] = (d["match_level"] == "village") & same_place
    ok[st == "town"] = d["match_level"].isin(["town", "village"]) & (
        d["town"] == d["expected_town"]
    )
    ok[st == "ambiguous"] = d["reason"] == "ambiguous"
    ok[st == "other_county"] = d["reason"] == "other_county"
    ok[st == "garbage"] = d["match_level"] == "none"
    return ok[st.index]


def test_labelled_accuracy_by_variant(labelled_result):
    d = labelled_result
    d = d.assign(ok=_row_ok(d))
    table = (
        d.groupby("address_variant")
        .agg(rows=("ok", "size"), right=("ok", "sum"), share=("ok", "mean"))
        .sort_values("rows", ascending=False)
    )
    village_rows = d["expected_status"] == "village"
    acc = float(d.loc[village_rows, "ok"].mean())
    print(f"\nlabelled set: seed {LABELLED_SEED}, {len(d)} rows")
    print(f"{'variant':<22}{'rows':>6}{'right':>7}{'share':>9}")
    for variant, row in table.iterrows():
        print(f"{variant:<22}{int(row['rows']):>6}{int(row['right']):>7}{row['share']:>9.1%}")
    print(f"village rows: {int(village_rows.sum())}, right village: {acc:.2%}")
    assert acc >= 0.98
    assert set(d["match_level"]) <= set(MATCH_LEVELS)
    assert set(d["reason"]) <= set(REASONS)


def test_labelled_no_confident_wrong_village(labelled_result):
    d = labelled_result
    wrong = (d["match_level"] == "village") & (
        (d["village"] != d["expected_village"]) | (d["town"] != d["expected_town"])
    )
    assert not (wrong & (d["confidence"] >= 0.9)).any(), d.loc[wrong, ["address", "village"]]


def test_labelled_ambiguous_lists_both_candidates(labelled_result):
    d = labelled_result[labelled_result["expected_status"] == "ambiguous"]
    assert len(d) > 0
    assert (d["reason"] == "ambiguous").all()
    assert d["village"].isna().all()
    for note, cands in zip(d["note"], d["candidates"], strict=True):
        name, towns = note.split(" is in ")  # the generator's truth: "黄家村 is in 太源乡 | 洽湾镇"
        expected = {f"{name}({t.strip()})" for t in towns.split("|")}
        assert set(cands.split("|")) == expected


def test_labelled_other_county_and_garbage(labelled_result):
    d = labelled_result
    other = d[d["expected_status"] == "other_county"]
    assert len(other) > 0
    assert (other["reason"] == "other_county").all(), other.loc[
        other["reason"] != "other_county", "address"
    ]
    assert (other["match_level"] == "none").all()
    garbage = d[d["expected_status"] == "garbage"]
    assert len(garbage) > 0
    assert (garbage["match_level"] == "none").all()
    assert garbage["reason"].isin(["no_admin_name", "empty_address"]).all()
    assert garbage["lon"].isna().all()


def test_labelled_town_only_gets_town_seat(labelled_result, sample):
    d = labelled_result[labelled_result["expected_status"] == "town"]
    seats = sample.towns.set_index("town")
    ok = d[d["match_level"] == "town"]
    assert len(ok) > 0
    assert (ok["town"] == ok["expected_town"]).all()
    assert np.allclose(ok["lon"], seats.loc[ok["town"]].geometry.x.to_numpy())
    assert np.allclose(ok["lat"], seats.loc[ok["town"]].geometry.y.to_numpy())
    assert (ok["point_level"] == "town").all()


# --------------------------------------------------------------------------- parsing


def test_parse_full_chain():
    p = parse_addresses(pd.Series(["江西省抚州市南丰县三溪乡三溪村委会5组12号"])).iloc[0]
    assert (p["province"], p["city"], p["county"]) == ("江西省", "抚州市", "南丰县")
    assert (p["town"], p["village"]) == ("三溪乡", "三溪村委会")
    assert p["group_no"] == 5
    assert p["house_no"] == "12"
    assert p["rest"] is None


@pytest.mark.parametrize(
    ("address", "group_no", "house_no"),
    [
        ("三溪乡三溪村５组１２Ａ号", 5, "12A"),  # full-width digits and letter
        ("三溪乡三溪村第五组", 5, None),
        ("三溪乡三溪村十二组", 12, None),
        ("三溪乡三溪村二十组一百零五号", 20, "105"),
        ("三溪乡三溪村第5村民小组", 5, None),
        ("三溪乡三溪村七村小组九号", 7, "9"),
        ("三溪乡 ，三溪村-5组（老屋）12号", 5, "12"),
    ],
)
def test_parse_numbers(address, group_no, house_no):
    p = parse_addresses(pd.Series([address])).iloc[0]
    assert p["town"] == "三溪乡"
    assert p["village"] == "三溪村"
    assert p["group_no"] == group_no
    assert p["house_no"] == house_no


def test_parse_normalises_and_keeps_rest():
    p = parse_addresses(pd.Series(["琴城镇　解放路社区，解放路88号3栋2单元301室（桥头）"])).iloc[0]
    assert p["normalized"] == "琴城镇解放路社区解放路88号3栋2单元301室"
    assert p["village"] == "解放路社区"
    assert p["house_no"] == "88"
    assert p["rest"] == "解放路3栋2单元301室"


def test_parse_keeps_index_and_empty():
    s = pd.Series(["三溪乡", None, np.nan, "  "], index=["a", "b", "c", "d"])
    p = parse_addresses(s)
    assert list(p.index) == ["a", "b", "c", "d"]
    assert list(p["normalized"]) == ["三溪乡", "", "", ""]
    assert p.loc["b", "town"] is None


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("address", "town", "village"),
    [
        ("三溪乡三溪村委会5组", "三溪乡", "三溪村"),
        ("三溪乡三溪村民委员会5组", "三溪乡", "三溪村"),
        ("琴城镇解放路社区2组", "琴城镇", "解放路社区"),
        ("琴城镇解放路居委会2组", "琴城镇", "解放路社区"),
        ("琴城镇解放路社区居委会", "琴城镇", "解放路社区"),
        ("琴城镇解放路社区居民委员会", "琴城镇", "解放路社区"),
        ("南丰县市山乡市山村4组", "市山镇", "市山村"),  # old name 市山乡
        ("太源镇寨里村", "太源乡", "寨里村"),  # 乡/镇 swapped
        ("三溪三溪村5组", "三溪乡", "三溪村"),  # suffix dropped
        ("琴城人民路社区2组", "琴城镇", "人民路社区"),
        ("南丰县 , 三溪乡/ 上晒村 、5组", "三溪乡", "上晒村"),
        ("三溪乡三溪村５组", "三溪乡", "三溪村"),
        ("傅坊乡前村3组", "傅坊乡", "前村"),
        ("傅坊乡林前村3组", "傅坊乡", "林前村"),
        ("南丰县前村8组", "傅坊乡", "前村"),  # 前村 is not read inside 林前村 / 庙前村
        ("南丰县林前村8组", "傅坊乡", "林前村"),
        ("太和镇太和社区", "太和镇", "太和社区"),
        ("太和镇太和村", "太和镇", "太和村"),
        ("傅坊村5组", "傅坊乡", "傅坊村"),  # a village named like its township
        ("江西南丰县琴城镇解放路社区", "琴城镇", "解放路社区"),
        ("抚州南丰三溪乡三溪村", "三溪乡", "三溪村"),
        ("南丰县琴城镇解放路88号", "琴城镇", "解放路社区"),  # the community's street
        ("三溪乡三溪村下坪自然村", "三溪乡", "三溪村"),  # hamlet after the village
        ("南丰县长红垦殖场5组", "南丰县长红垦殖场", "南丰县长红垦殖场虚拟生活区"),
        ("南丰县工业园区12号", "南丰工业园区", "南丰工业园区虚拟社区"),
    ],
)
def test_match_rules(gaz, address, town, village):
    r = _one(gaz, address)
    assert r["match_level"] == "village", r.to_dict()
    assert (r["town"], r["village"]) == (town, village)
    assert r["reason"] == "ok"
    assert r["point_level"] == "village"


def test_exact_forms_are_confident_and_typos_are_not(gaz):
    assert _one(gaz, "三溪乡三溪村5组")["confidence"] >= 0.95
    homophone = _one(gaz, "芹城镇水南村8组")  # 芹 (qin) for 琴 (qin)
    assert (homophone["town"], homophone["village"]) == ("琴城镇", "水南村")
    assert 0.6 <= homophone["confidence"] < 0.9
    dropped = _one(gaz, "三溪乡黄山村")  # 黄连山村 with a character dropped
    assert dropped["village"] == "黄连山村"
    assert dropped["confidence"] < 0.9


def test_min_confidence_falls_back_to_town(gaz):
    s = pd.Series(["三溪乡黄山村"])
    loose = geocode_addresses(s, gaz, min_confidence=0.5).iloc[0]
    assert loose["village"] == "黄连山村"
    strict = geocode_addresses(s, gaz, min_confidence=0.95).iloc[0]
    assert strict["match_level"] == "town"
    assert strict["town"] == "三溪乡"
    assert strict["reason"] == "low_confidence"
    assert strict["candidates"] == "黄连山村(三溪乡)"
    assert pd.isna(strict["village"])


def test_ambiguous_village_without_town(gaz):
    r = _one(gaz, "南丰县黄家村5组")
    assert r["match_level"] == "county"
    assert r["reason"] == "ambiguous"
    assert set(r["candidates"].split("|")) == {"黄家村(太源乡)", "黄家村(洽湾镇)"}
    assert math.isnan(r["lon"])
    with_town = _one(gaz, "洽湾镇黄家村5组")
    assert (with_town["town"], with_town["village"]) == ("洽湾镇", "黄家村")


@pytest.mark.parametrize(
    "address",
    ["江西省抚州市南城县株良镇", "南城县株良镇3组", "湖北省十堰市竹山县下村", "株良镇5组"],
)
def test_other_county(gaz, address):
    r = _one(gaz, address)
    assert r["reason"] == "other_county"
    assert r["match_level"] == "none"


def test_levels_and_reasons(gaz):
    s = pd.Series(["南丰县三溪乡", "南丰县", "琴城镇东村", "不详", "", None, "13800138000"])
    r = geocode_addresses(s, gaz)
    assert list(r["match_level"]) == ["town", "county", "town", "none", "none", "none", "none"]
    assert list(r["reason"]) == [
        "no_village_name",
        "county_only",
        "village_in_other_town",
        "no_admin_name",
        "empty_address",
        "empty_address",
        "no_admin_name",
    ]
    assert r["candidates"].iloc[2] == "东村(紫霄镇)"


def test_result_columns_codes_and_points(gaz, sample):
    s = pd.Series(["三溪乡上晒村3组7号", "三溪乡圩上"], index=[10, 20])
    r = geocode_addresses(s, gaz)
    assert list(r.index) == [10, 20]
    v = sample.villages.set_index(["town", "village"]).loc[("三溪乡", "上晒村")]
    assert r.loc[10, "village_code"] == v["village_code"]
    assert r.loc[10, "town_code"] == "361023203"
    assert (r.loc[10, "lon"], r.loc[10, "lat"]) == (v.geometry.x, v.geometry.y)
    assert r.loc[10, "group_no"] == 3
    assert r.loc[10, "house_no"] == "7"
    seat = sample.towns.set_index("town").loc["三溪乡"].geometry
    assert (r.loc[20, "lon"], r.loc[20, "lat"]) == (seat.x, seat.y)
    assert r.loc[20, "point_level"] == "town"


def test_gazetteer_without_points():
    table = pd.read_csv(GAZETTEER_CSV, dtype=str)
    towns = table[table["village"].isna()].rename(
        columns={"town_seat_lon_wgs84": "lon", "town_seat_lat_wgs84": "lat"}
    )
    villages = table[table["village"].notna()]
    g = Gazetteer(towns, villages, county="南丰县", city="抚州市", province="江西省")
    r = geocode_addresses(pd.Series(["三溪乡上晒村", "太源乡寨里村"]), g)
    assert list(r["village"]) == ["上晒村", "寨里村"]
    # no village points: the township seat stands in; 太源乡 has no known seat
    assert r["point_level"].iloc[0] == "town"
    assert pd.isna(r["point_level"].iloc[1])
    assert r["lon"].iloc[0] == pytest.approx(116.39248)
    assert math.isnan(r["lon"].iloc[1])
    assert r["village_code"].isna().all()


# --------------------------------------------------------------------------- customers


def _customers(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    for column in ("gps_lon", "gps_lat"):
        if column not in out:
            out[column] = np.nan
    if "gps_datum" not in out:
        out["gps_datum"] = ""
    out["gps_datum"] = out["gps_datum"].fillna("")
    return out


def test_gcj02_gps_is_converted_and_takes_precedence(gaz, sample):
    vx, vy = _village_point(sample, "三溪乡", "上晒村")
    glon, glat = vx + 0.004, vy + 0.002  # numbers as an Amap pick would give them
    row = {"address": "三溪乡上晒村", "gps_lon": glon, "gps_lat": glat, "gps_datum": "gcj02"}
    cust = _customers([row])
    r = geocode_customers(cust, gaz).iloc[0]
    ex, ey = crs.gcj02_to_wgs84(glon, glat)
    assert r["gps_wgs84_lon"] == pytest.approx(ex, abs=1e-9)
    assert r["gps_wgs84_lat"] == pytest.approx(ey, abs=1e-9)
    assert r.geometry.x == pytest.approx(ex, abs=1e-9)
    assert r["location_source"] == "gps"
    assert r["reason"] == "ok"
    _, _, shift = GEOD.inv(glon, glat, ex, ey)
    assert 300 < shift < 700  # GCJ-02 offset around Nanfeng


def test_bd09_and_blank_datum(gaz, sample):
    vx, vy = _village_point(sample, "三溪乡", "上晒村")
    cust = _customers(
        [
            {"address": "三溪乡上晒村", "gps_lon": vx, "gps_lat": vy, "gps_datum": "BD-09"},
            {"address": "三溪乡上晒村", "gps_lon": vx, "gps_lat": vy, "gps_datum": ""},
        ]
    )
    r = geocode_customers(cust, gaz)
    bx, by = crs.bd09_to_wgs84(vx, vy)
    assert r["gps_wgs84_lon"].iloc[0] == pytest.approx(bx, abs=1e-9)
    assert r["gps_wgs84_lat"].iloc[0] == pytest.approx(by, abs=1e-9)
    assert (r["gps_wgs84_lon"].iloc[1], r["gps_wgs84_lat"].iloc[1]) == (vx, vy)  # wgs84


def test_conflict_flag_at_1_and_5_km(gaz, sample):
    vx, vy = _village_point(sample, "三溪乡", "上晒村")
    rows = []
    for dist_m in (1000.0, 5000.0):
        x, y, _ = GEOD.fwd(vx, vy, 45.0, dist_m)  # WGS84, so no datum
        rows.append({"address": "三溪乡上晒村5组", "gps_lon": x, "gps_lat": y, "gps_datum": ""})
    cust = _customers(rows)
    r = geocode_customers(cust, gaz)
    assert list(r["coords_conflict_address"]) == [False, True]
    assert r["address_distance_m"].to_numpy() == pytest.approx([1000.0, 5000.0], abs=0.5)
    assert list(r["location_source"]) == ["gps", "gps"]  # still used, only flagged
    tight = geocode_customers(cust, gaz, conflict_m=500.0)
    assert list(tight["coords_conflict_address"]) == [True, True]


def test_swapped_and_outside_county_are_flagged_not_used(gaz, sample):
    vx, vy = _village_point(sample, "三溪乡", "上晒村")
    far_x, far_y = 115.60, 27.20  # west of the county, in 宁都/宜黄
    county = sample.county.geometry.iloc[0]
    assert not county.buffer(0.05).contains(shapely.Point(far_x, far_y))  # independent check
    cust = _customers(
        [
            {"address": "三溪乡上晒村", "gps_lon": vy, "gps_lat": vx, "gps_datum": "wgs84"},
            {"address": "三溪乡上晒村", "gps_lon": far_x, "gps_lat": far_y, "gps_datum": "wgs84"},
            {"address": "不详", "gps_lon": vy, "gps_lat": vx, "gps_datum": "wgs84"},
        ]
    )
    r = geocode_customers(cust, gaz)
    assert list(r["swapped_lonlat"]) == [True, False, True]
    assert list(r["coords_outside_county"]) == [False, True, False]
    assert list(r["gps_check"]) == ["swapped_lonlat", "outside_area", "swapped_lonlat"]
    assert r["location_source"].iloc[:2].tolist() == ["village", "village"]
    assert pd.isna(r["location_source"].iloc[2])
    assert (r.geometry.iloc[0].x, r.geometry.iloc[0].y) == (vx, vy)
    assert list(r["reason"]) == ["ok", "ok", "not_geocoded"]
    assert r.geometry.iloc[2] is None


def test_sample_customers_flags_match_independent_check(gaz, sample):
    c = sample.customers
    archive = pd.DataFrame(c[ARCHIVE_COLUMNS])
    r = geocode_customers(archive, gaz)
    assert list(r.index) == list(c.index)
    assert r.crs == "EPSG:4326"
    # swapped pairs are exactly the generator's swapped ones
    assert (r["swapped_lonlat"] == (c["gps_error"] == "swapped_lonlat")).all()
    # conflicts: recomputed here with crs + pyproj for every usable GPS pair
    has = c["gps_lon"].notna().to_numpy() & (c["gps_error"] != "swapped_lonlat").to_numpy()
    gx, gy = crs.gcj02_to_wgs84(c["gps_lon"].to_numpy()[has], c["gps_lat"].to_numpy()[has])
    inside = crs.check_coordinates(gx, gy, area=sample.county, max_distance_m=500.0)["reason"]
    sub = r[has]
    village = (sub["point_level"] == "village").to_numpy()
    _, _, dist = GEOD.inv(gx, gy, sub["address_lon"].to_numpy(), sub["address_lat"].to_numpy())
    expected = (inside.to_numpy() == "ok") & village & (dist > 3000.0)
    assert (sub["coords_conflict_address"].to_numpy() == expected).all()
    assert expected.sum() > 100  # the generator displaced 2.5 % of the GPS pairs by 3-40 km
    # addresses: every village found is the true one
    v = r["match_level"] == "village"
    assert v.mean() > 0.97
    assert (r.loc[v, "village_code"] == c.loc[v, "village_code"]).all()


def test_customers_input_not_mutated_and_geometry_replaced(gaz, sample):
    c = sample.customers.iloc[:50][[*ARCHIVE_COLUMNS, "geometry"]].copy()
    c = gpd.GeoDataFrame(c, geometry="geometry", crs="EPSG:4326")
    before = c.copy()
    r = geocode_customers(c, gaz)
    pd.testing.assert_frame_equal(c, before)
    assert "customer_id" in r.columns
    assert r.geometry.name == "geometry"
    located = r["location_source"].notna()
    assert r.geometry[located].notna().all()


def test_location_sources(gaz, sample):
    vx, vy = _village_point(sample, "三溪乡", "上晒村")
    cust = _customers(
        [
            {"address": "不详", "gps_lon": vx, "gps_lat": vy},  # GPS alone locates it
            {"address": "三溪乡圩上"},  # township seat
            {"address": "南丰县黄家村"},  # ambiguous, no GPS: not located
        ]
    )
    r = geocode_customers(cust, gaz)
    seat = sample.towns.set_index("town").loc["三溪乡"].geometry
    assert r["location_source"].iloc[:2].tolist() == ["gps", "town"]
    assert pd.isna(r["location_source"].iloc[2])
    assert (r.geometry.iloc[0].x, r.geometry.iloc[0].y) == (vx, vy)
    assert (r.geometry.iloc[1].x, r.geometry.iloc[1].y) == (seat.x, seat.y)
    assert list(r["reason"]) == ["ok", "ok", "not_geocoded"]
    assert list(r["address_reason"]) == ["no_admin_name", "no_village_name", "ambiguous"]
    assert not r["coords_conflict_address"].any()


def test_customers_without_coordinate_columns(gaz):
    cust = pd.DataFrame({"addr": ["三溪乡上晒村", "不详"]})
    r = geocode_customers(cust, gaz, address_column="addr")
    assert r["location_source"].iloc[0] == "village"
    assert pd.isna(r["location_source"].iloc[1])
    assert list(r["gps_check"]) == ["missing", "missing"]


# --------------------------------------------------------------------------- bad input


def test_addresses_must_be_series(gaz):
    with pytest.raises(InputError, match="`addresses` must be a pandas Series"):
        geocode_addresses(["三溪乡"], gaz)
    with pytest.raises(InputError, match="`addresses` must be a pandas Series"):
        parse_addresses("三溪乡")


def test_missing_address_column(gaz):
    with pytest.raises(MissingColumnError, match="no address column 'address'"):
        geocode_customers(pd.DataFrame({"addr": ["三溪乡"]}), gaz)


def test_only_one_coordinate_column(gaz):
    cust = pd.DataFrame({"address": ["三溪乡"], "gps_lon": [116.4]})
    with pytest.raises(MissingColumnError, match="'gps_lat' is missing"):
        geocode_customers(cust, gaz)


def test_unknown_datum(gaz):
    row = {"address": "三溪乡", "gps_lon": 116.4, "gps_lat": 27.1, "gps_datum": "mars"}
    cust = _customers([row])
    with pytest.raises(CRSError, match=r"`gps_datum`.*'mars'"):
        geocode_customers(cust, gaz)


def test_bad_gps_values_are_reported_per_row(gaz):
    cust = _customers(
        [
            {"address": "三溪乡上晒村", "gps_lon": "abc", "gps_lat": "27.1"},
            {"address": "三溪乡上晒村", "gps_lon": " ", "gps_lat": "27.1"},
        ]
    )
    r = geocode_customers(cust, gaz)
    assert list(r["gps_check"]) == ["not_a_number", "missing"]
    assert list(r["location_source"]) == ["village", "village"]


def test_empty_addresses_never_raise(gaz):
    s = pd.Series([np.nan, None, "", "　", "（）"], index=list("abcde"))
    r = geocode_addresses(s, gaz)
    assert list(r.index) == list("abcde")
    assert (r["reason"] == "empty_address").all()
    assert (r["match_level"] == "none").all()
    assert geocode_addresses(pd.Series([], dtype=object), gaz).empty


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_confidence": 1.5}, InputError, "`min_confidence` must be a number between 0 and 1"),
        ({"conflict_m": -1}, InputError, "`conflict_m` must be a distance in metres"),
    ],
)
def test_bad_parameters(gaz, kwargs, error, match):
    cust = pd.DataFrame({"address": ["三溪乡"]})
    with pytest.raises(error, match=match):
        geocode_customers(cust, gaz, **kwargs)


def test_gazetteer_type_checked():
    with pytest.raises(InputError, match="`gazetteer` must be a Gazetteer"):
        geocode_addresses(pd.Series(["三溪乡"]), object())


def test_gazetteer_errors(sample):
    towns, villages = sample.towns, sample.villages
    with pytest.raises(MissingColumnError, match="`villages` has no column 'village'"):
        Gazetteer(towns, villages.drop(columns="village"), county="南丰县")
    with pytest.raises(MissingColumnError, match="`towns` has no column 'town'"):
        Gazetteer(towns.drop(columns="town"), villages, county="南丰县")
    with pytest.raises(EmptyDataError, match="`villages` has no rows"):
        Gazetteer(towns, villages.iloc[:0], county="南丰县")
    with pytest.raises(InputError, match="not in `towns`"):
        Gazetteer(towns[towns["town"] != "三溪乡"], villages, county="南丰县")
    with pytest.raises(InputError, match="`old_names` maps '旧镇' to '新镇'"):
        Gazetteer(towns, villages, county="南丰县", old_names={"旧镇": "新镇"})
    with pytest.raises(InputError, match="`county` must be the county's name"):
        Gazetteer(towns, villages, county=" ")
    with pytest.raises(InputError, match="`towns` must be a"):
        Gazetteer([], villages, county="南丰县")


def test_old_names_given_by_user(sample):
    g = Gazetteer(sample.towns, sample.villages, county="南丰县", old_names={"城关镇": "琴城镇"})
    r = _one(g, "城关镇水南村")
    assert (r["town"], r["village"]) == ("琴城镇", "水南村")
