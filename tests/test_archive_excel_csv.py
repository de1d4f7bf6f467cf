"""The archive's CSV for Excel (``excel_csv=True``, ``--excel-csv``): ids and phones as ="…".

Hand-made customers in two village grids of one supply grid (a 13-digit 户号, a mobile, a
Fuzhou landline with its leading 0, an address that begins with ``=`` and one that quotes
``"``, one customer in no grid); the files are read back with the ``csv`` module and the
expected cells are spelled out here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gridgeo import archive, cli, run, sample, workspace

ID_A, ID_B, ID_C, ID_LOST = "3610230000001", "3610230000002", "0361023000003", "3610230000099"


@pytest.fixture
def layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2-A", "T3-A1", "T3-A2"],
            "tier": [1, 2, 3, 3],
            "parent_id": [None, "T1", "T2-A", "T2-A"],
            "name": ["县公司", "供电网格A", "村网格1", "村网格2"],
            "manager": ["", "", "张三", "李四"],
            "phone": ["", "", "13907940001", "0794-3221234"],
        },
        geometry=[box(0, 0, 2, 1), box(0, 0, 2, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    customers = gpd.GeoDataFrame(
        {
            "customer_id": [ID_A, ID_B, ID_C, ID_LOST],
            "name": ["王五", "赵六", "钱七", "孙八"],
            "address": ["=1+2 琴城镇", '水南村"东"组', "-3号", "无"],
            "phone": ["13907941234", "0794-7100003", "", "13800000000"],
            "category": "residential",
            "voltage_class": "LV",
            "vulnerable": False,
            "location_source": ["village", "village", "gps", ""],
            "grid_t1": ["T1", "T1", "T1", None],
            "grid_t2": ["T2-A", "T2-A", "T2-A", None],
            "grid_t3": ["T3-A1", "T3-A1", "T3-A2", None],
        },
        geometry=[Point(0.5, 0.5), Point(0.6, 0.5), Point(1.5, 0.5), None],
        crs="EPSG:4326",
    )
    return customers, grids


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_excel_csv_beside_the_plain_csv_read_back(layers, tmp_path):
    customers, grids = layers
    files = archive.export_archive(customers, grids, tmp_path, excel_csv=True)
    names = sorted(p.name for p in files)
    assert "T3-A1_村网格1.csv" in names and "T3-A1_村网格1_excel.csv" in names
    assert "T3-A2_村网格2_excel.csv" in names
    assert "未定位客户_not_located_excel.csv" in names
    assert all((tmp_path / n).exists() for n in names)

    excel = tmp_path / "T3-A1_村网格1_excel.csv"
    assert excel.read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 with BOM, as Excel wants it
    rows = {r["户号"]: r for r in _rows(excel)}
    assert set(rows) == {f'="{ID_A}"', f'="{ID_B}"'}
    a, b = rows[f'="{ID_A}"'], rows[f'="{ID_B}"']
    assert a["联系电话"] == '="13907941234"'
    assert b["联系电话"] == '="0794-7100003"'
    assert a["村级网格编号"] == '="T3-A1"' and a["供电网格编号"] == '="T2-A"'
    assert a["网格长电话"] == '="13907940001"'
    assert a["户名"] == "王五" and a["村级网格"] == "村网格1"  # other text as it is
    assert a["地址"] == '="=1+2 琴城镇"'  # would run as a formula in Excel: kept as text
    assert b["地址"] == '水南村"东"组'
    # the raw file: the formula is quoted for CSV, the inner quotes doubled
    raw = excel.read_text(encoding="utf-8-sig")
    assert f'"=""{ID_A}"""' in raw
    assert float(a["经度(WGS84)"]) == pytest.approx(0.5)  # numbers stay numbers

    plain = {r["户号"]: r for r in _rows(tmp_path / "T3-A1_村网格1.csv")}
    assert set(plain) == {ID_A, ID_B}  # the file for systems: plain digits
    assert plain[ID_B]["联系电话"] == "0794-7100003"
    assert plain[ID_A]["地址"] == "=1+2 琴城镇"

    c = _rows(tmp_path / "T3-A2_村网格2_excel.csv")
    assert [r["户号"] for r in c] == [f'="{ID_C}"']  # the leading 0 kept
    assert c[0]["联系电话"] == ""  # empty stays empty, not =""
    assert c[0]["地址"] == '="-3号"'
    lost = _rows(tmp_path / "未定位客户_not_located_excel.csv")
    assert [r["户号"] for r in lost] == [f'="{ID_LOST}"']


def test_without_the_option_no_excel_files(layers, tmp_path):
    customers, grids = layers
    files = archive.export_archive(customers, grids, tmp_path)
    assert files and not any(p.stem.endswith("_excel") for p in files)
    assert not list(tmp_path.glob("*_excel.csv"))


def test_excel_csv_with_masked_phones(layers, tmp_path):
    customers, grids = layers
    archive.export_archive(customers, grids, tmp_path, excel_csv=True, mask_phones=True)
    rows = {r["户号"]: r for r in _rows(tmp_path / "T3-A1_村网格1_excel.csv")}
    assert rows[f'="{ID_A}"']["联系电话"] == '="139****1234"'


def test_excel_csv_frame_keeps_index_and_columns():
    frame = pd.DataFrame(
        {"户号": ["1", None], "户名": ["@x", ""], "经度(WGS84)": [1.5, float("nan")]},
        index=[7, 3],
    )
    got = archive.excel_csv_frame(frame)
    assert list(got.index) == [7, 3] and list(got.columns) == list(frame.columns)
    assert got["户号"].tolist()[0] == '="1"' and pd.isna(got["户号"].tolist()[1])
    assert got["户名"].tolist() == ['="@x"', ""]
    assert got["经度(WGS84)"].iloc[0] == 1.5
    assert frame["户号"].tolist()[0] == "1"  # input not changed


class _Store:
    """What `gridgeo customers export` reads of a workspace: its layers, by name."""

    def __init__(self, layers: dict[str, gpd.GeoDataFrame]) -> None:
        self._layers = layers

    def layers(self) -> list[str]:
        return list(self._layers)

    def read(self, name: str) -> gpd.GeoDataFrame:
        return self._layers[name]


def test_customers_export_flag_writes_the_excel_csv(layers, monkeypatch, tmp_path, capsys):
    customers, grids = layers
    store = _Store({"customers": customers, "grids": grids})
    monkeypatch.setattr(cli, "_open_store", lambda path: store)
    out = tmp_path / "out"
    argv = ["customers", "export", "--workspace", "w.gpkg", "--out", str(out)]
    assert cli.main([*argv, "--excel-csv"]) == 0
    said = capsys.readouterr().out
    assert "archive files written" in said and "CSV copies for Excel (*_excel.csv)" in said
    rows = _rows(out / "T3-A1_村网格1_excel.csv")
    assert sorted(r["户号"] for r in rows) == [f'="{ID_A}"', f'="{ID_B}"']
    plain = tmp_path / "plain"
    assert cli.main(["customers", "export", "--workspace", "w", "--out", str(plain)]) == 0
    assert not list(plain.glob("*_excel.csv"))


def test_run_flag_reaches_the_run(monkeypatch, tmp_path):
    seen: dict[str, object] = {}

    def fake_run(*args, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(cli, "_open_store", lambda path: path)
    monkeypatch.setattr(run, "run_workspace", fake_run)
    assert cli.main(["run", "--workspace", "w.gpkg", "--out", str(tmp_path), "--excel-csv"]) == 0
    assert seen["excel_csv"] is True
    assert cli.main(["run", "--workspace", "w.gpkg", "--out", str(tmp_path)]) == 0
    assert seen["excel_csv"] is False


def test_run_workspace_writes_the_excel_csv_and_reexports_when_asked(tmp_path):
    """`run_workspace(..., excel_csv=True)` reaches the archive; the option is a step input."""
    county = sample.load_sample()
    path = tmp_path / "ws.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    text = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text("\n".join([text[0], *text[1::300]]) + "\n", encoding="utf-8")
    located = archive.locate_customers(
        pd.read_csv(csv_path, dtype=str, keep_default_na=False),
        gazetteer,
        county_area=county.county,
    )
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, workspace.village_workload(located), seed=1)
    workspace.save_grids(store, build.service.grids, author="t", reason="grids")
    archive.import_customers(
        store, csv_path, gazetteer, author="t", reason="import", grids=store.read("grids"),
        county_area=county.county,
    )  # fmt: skip
    out = tmp_path / "out"
    first = run.run_workspace(path, out, write_map=None, progress=lambda _: None)
    assert not list((out / "archive").glob("*_excel.csv"))
    again = run.run_workspace(path, out, write_map=None, progress=lambda _: None, excel_csv=True)
    assert "archive" in first.computed and "archive" in again.computed  # not reused
    excel = sorted((out / "archive").glob("T3-*_excel.csv"))
    plain = sorted((out / "archive").glob("T3-*.csv"))
    assert excel and len(plain) == 2 * len(excel)
    ids = [r["户号"] for p in excel for r in _rows(p)]
    assert ids and all(re.fullmatch(r'="\d{13}"', i) for i in ids)
