"""The rules every module built on the work orders shares, each tested once here.

- one rule of times (:func:`gridgeo.orders.order_times_utc`): a time without a zone is China
  time (UTC+8, no daylight saving), whatever form it comes in;
- one refusal of a workspace without work orders (``read_orders(store, required=True)``),
  the same words from the evaluation, the stars, the watch list and the service reports;
- free text is stored and read as typed (NFKC only for codes and words).

Expected values are worked out by hand (China is UTC+8 all year).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from gridgeo import evaluation, run, stars, watch
from gridgeo.errors import InputError, NotFoundError
from gridgeo.orders import ORDER_LAYER, order_times_utc, orders_from_table, parse_times, read_orders
from gridgeo.store import GeoPackageStore


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --- times ------------------------------------------------------------------------------------


def test_times_without_a_zone_are_china_time_in_every_form():
    # 23:50 on 30 Nov in China is 15:50 UTC the same day
    expected = [utc("2026-11-30 15:50"), utc("2026-11-30 15:50"), pd.NaT]
    naive = pd.Series([pd.Timestamp("2026-11-30 23:50"), pd.Timestamp("2026-11-30 23:50"), pd.NaT])
    text = pd.Series(["2026-11-30 23:50", "2026/11/30 23:50:00", ""], dtype=object)
    aware = pd.Series(
        [
            pd.Timestamp("2026-11-30 23:50", tz="Asia/Shanghai"),
            pd.Timestamp("2026-11-30 15:50", tz="UTC"),
            pd.NaT,
        ]
    )
    zoned_text = pd.Series(["2026-11-30T23:50:00+08:00", "2026-11-30T15:50:00Z", None])
    for values in (naive, text, aware, zoned_text):
        out = order_times_utc(values, "reported_at")
        assert str(out.dtype) == "datetime64[ns, UTC]"
        assert out.tolist()[:2] == expected[:2] and pd.isna(out.iloc[2])


def test_a_value_that_is_not_a_time_is_named():
    with pytest.raises(InputError, match=r"column 'arrived_at'.*'soon'.*2026-11-23 08:05"):
        order_times_utc(pd.Series(["2026-11-30 08:00", "soon"]), "arrived_at")


def test_the_jobs_read_naive_times_as_china_time():
    # a fault reported at 23:50 on Sunday 29 Nov (China), reached after 20 minutes: week 48
    # and November in China; read as UTC it would be 07:50 on Monday 30 Nov (week 49)
    grids = pd.DataFrame({"grid_id": ["V1"], "tier": [3], "name": ["甲村"], "members": ["王芳"]})
    orders = pd.DataFrame(
        {
            "order_id": ["1"],
            "kind": ["fault"],
            "reported_at": [pd.Timestamp("2026-11-29 23:50")],
            "arrived_at": [pd.Timestamp("2026-11-30 00:10")],
            "member": ["王芳"],
            "satisfaction": [""],
            "first_time": [False],
            "grid_t1": [""],
            "grid_t2": [""],
            "grid_t3": ["V1"],
        }
    )
    ranking = stars.service_stars(orders, week="2026-W48", grids=grids).ranking
    assert ranking.loc[0, "on_time"] == 1  # 20 min <= 30 min, in week 48
    assert stars.service_stars(orders, week="2026-W49", grids=grids).ranking.loc[0, "on_time"] == 0
    peaks = watch.fault_peaks(orders, period="week", min_faults=1)
    assert peaks["period"].tolist() == ["2026-W48"]


# --- a workspace without work orders ----------------------------------------------------------


def _store(path, orders: gpd.GeoDataFrame | None) -> GeoPackageStore:
    grids = gpd.GeoDataFrame(
        {"grid_id": ["V1"], "tier": [3], "name": ["甲村"], "members": ["王芳"]},
        geometry=[Point(116.5, 27.2).buffer(0.1)],
        crs=4326,
    )
    layers = {"grids": grids}
    keys = {}
    if orders is not None:
        layers[ORDER_LAYER] = orders
        keys[ORDER_LAYER] = "order_id"
    return GeoPackageStore.create(path, layers, author="t", reason="t", keys=keys)


def test_one_message_for_a_workspace_without_work_orders(tmp_path):
    store = _store(tmp_path / "w.gpkg", None)
    assert read_orders(store).empty  # without `required`: an empty table
    jobs = [
        lambda: read_orders(store, required=True),
        lambda: evaluation.evaluate_workspace(store, "2026-11"),
        lambda: stars.workspace_stars(store),
        lambda: watch.workspace_watch(store),
        lambda: run.report_records(store, tmp_path / "out"),
    ]
    messages = set()
    for job in jobs:
        with pytest.raises(NotFoundError) as err:
            job()
        messages.add(str(err.value))
    assert messages == {
        "工作区 'w.gpkg' 没有工单 / workspace 'w.gpkg' has no work orders (`work_orders` layer): "
        "import them first with `gridgeo orders import FILE --workspace w.gpkg`"
    }
    assert not (tmp_path / "out").exists()


# --- free text as typed -----------------------------------------------------------------------


def test_free_text_is_stored_and_read_as_typed(tmp_path):
    table = pd.DataFrame(
        {
            "order_id": ["Ａ1"],  # full-width: an order number is parsed (NFKC) -> A1
            "kind": ["ｆａｕｌｔ"],  # a code word, parsed -> fault
            "reported_at": ["２０２６-11-03 14:20"],
            "result": [" 已修复，恢复供电（１号表箱） "],  # free text: kept, only stripped
            "address": ["琴城镇１号"],
            "crew": ["张三（班长）"],
            "member": ["王芳"],
        }
    )
    good, errors = orders_from_table(table)
    assert errors.empty
    row = good.iloc[0]
    assert (row["order_id"], row["kind"]) == ("A1", "fault")
    assert row["reported_at"] == utc("2026-11-03 06:20")
    assert row["result"] == "已修复，恢复供电（１号表箱）"
    assert (row["address"], row["crew"]) == ("琴城镇１号", "张三（班长）")

    # what is stored comes back as stored, full-width punctuation and digits included
    stored = good.copy()
    stored["result"] = "已修复，恢复供电"
    stored["address"] = "琴城镇１号"
    store = _store(tmp_path / "w.gpkg", gpd.GeoDataFrame(stored, geometry=[Point(116.5, 27.2)]))
    raw = store.read(ORDER_LAYER)
    assert raw["result"].tolist() == ["已修复，恢复供电"]  # the store itself keeps it
    back = read_orders(store, required=True)
    assert back["result"].tolist() == ["已修复，恢复供电"]
    assert back["address"].tolist() == ["琴城镇１号"]
    assert back["crew"].tolist() == ["张三（班长）"]
    assert not np.any(back["result"].str.contains(",", regex=False))


def test_times_out_of_range_are_bad_values_not_overflows() -> None:
    """Years pandas cannot hold (after 2262, before 1677) and implausible ones are row
    errors, not an OutOfBoundsDatetime traceback; the usual forms still read."""
    values = pd.Series(
        [
            "2262-05-01 00:00:00",
            "3000年1月1日",
            "1600-01-01 10:00",
            "1899-12-31",
            "",
            "2026/11/3 14:20",
        ]
    )
    times, bad = parse_times(values)
    assert bad.tolist() == [True, True, True, True, False, False]
    assert times.isna().tolist() == [True, True, True, True, True, False]
    assert times.iloc[5] == pd.Timestamp("2026-11-03 06:20", tz="UTC")  # 14:20 China time
