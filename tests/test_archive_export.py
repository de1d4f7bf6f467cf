"""The archive grid managers use (客户资料档案): every XLSX and CSV checked against the workspace.

A small workspace of the bundled sample county (every 60th customer of its archive, plus
hand-made customers whose GPS contradicts their address, has lon/lat swapped, lies outside
the county, or whose address is empty or in another county), grids with a roster (one
village grid without anybody), customer phones, then ``gridgeo run`` (which stores the access
and writes the archive) and ``gridgeo customers export --mask-phones``. Expected values are
read independently with geopandas from the GeoPackage (customers, customer_access, grids,
repair_stations, payment_points) and turned into the archive's Chinese values here by hand:
the headers are spelled out in this file, ETA minutes are seconds / 60 rounded up to 0.1 min
(the documented rule), and the notes are looked up from the stored flags.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyproj import Geod

from gridgeo import archive, cli, roster, run, sample, workspace

EVERY = 60
HEADERS = [
    "户号",
    "户名",
    "地址",
    "联系电话",
    "高低压",
    "用电类别",
    "重点关怀",
    "县公司网格编号",
    "县公司网格",
    "供电网格编号",
    "供电网格",
    "村级网格编号",
    "村级网格",
    "网格长",
    "网格长电话",
    "网格员",
    "党员联络员",
    "联络员电话",
    "抢修到达(分钟)",
    "30分钟抢修",
    "抢修站",
    "抢修说明",
    "缴费用时(分钟)",
    "10分钟缴费",
    "最近缴费点",
    "缴费说明",
    "定位方式",
    "定位说明",
    "乡镇",
    "村",
    "经度(WGS84)",
    "纬度(WGS84)",
    "voltage_class",
    "category",
    "location_source",
    "location_codes",
    "repair_station_id",
    "repair_reason",
    "payment_point_id",
    "payment_reason",
]
TEXT = [
    "户号",
    "联系电话",
    "县公司网格编号",
    "供电网格编号",
    "村级网格编号",
    "网格长电话",
    "联络员电话",
]
SUMMARY_HEADERS = [
    "网格编号",
    "网格名称",
    "层级",
    "客户数",
    "居民",
    "商业",
    "工业",
    "农业",
    "高压",
    "低压",
    "重点关怀",
    "定位到村",
    "未定位到村(需核实地址)",
    "30分钟抢修达标户数",
    "10分钟缴费达标户数",
]
NUMBERS = ["抢修到达(分钟)", "缴费用时(分钟)", "经度(WGS84)", "纬度(WGS84)"]
MOBILE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
# the hand-made customers (ids sort after the sample's 3610230000001 ...)
CONFLICT, SWAPPED, OUTSIDE, EMPTY, OTHER = (f"99000000000{i}" for i in range(1, 6))
PHONE_IN_ADDRESS = "13907941234"


def _phone(i: int) -> str:
    """A customer's phone: mobiles, every 7th a Fuzhou landline, every 5th none."""
    if i % 5 == 4:
        return ""
    if i % 7 == 3:
        return f"0794-{7100000 + i}"
    return f"1370000{i:04d}"


@pytest.fixture(scope="module")
def county() -> sample.SampleCounty:
    return sample.load_sample()


@pytest.fixture(scope="module")
def ws(tmp_path_factory, county) -> Path:
    """Workspace with roster, phones and hand-made location cases; then `gridgeo run`."""
    folder = tmp_path_factory.mktemp("archive_export")
    text = (sample.SAMPLE_DIR / sample.OUTPUT_CUSTOMERS).read_text(encoding="utf-8").splitlines()
    records = pd.read_csv(
        pd.io.common.StringIO("\n".join([text[0], *text[1::EVERY]])),
        dtype=str,
        keep_default_na=False,
    )
    villages = county.villages.set_index("village_code")
    home = villages.loc["361023100001"]  # 琴城镇人民路社区, the county seat
    far = villages.loc["361023105210"]  # 梅溪村, ~5 km south-west
    _, _, dist_m = Geod(ellps="WGS84").inv(
        home.geometry.x, home.geometry.y, far.geometry.x, far.geometry.y
    )
    assert dist_m > 3000  # farther than the conflict distance (3 km)
    address = f"南丰县{home['town']}{home['village']}2组5号"
    extra = pd.DataFrame(
        {
            "customer_id": [CONFLICT, SWAPPED, OUTSIDE, EMPTY, OTHER],
            "name": ["冲突户", "颠倒户", "县外户", "空址户", "外县户"],
            "address": [
                address,
                address,
                f"{PHONE_IN_ADDRESS}{address}",
                "",
                "江西省赣州市瑞金市叶坪乡",
            ],
            "category": "residential",
            "voltage_class": "LV",
            "vulnerable": "False",
            "gps_lon": [str(far.geometry.x), str(home.geometry.y), "115.0", "", ""],
            "gps_lat": [str(far.geometry.y), str(home.geometry.x), "26.0", "", ""],
            "gps_datum": ["wgs84", "wgs84", "wgs84", "", ""],
        }
    )
    records = pd.concat([records, extra], ignore_index=True).fillna("")
    csv = folder / "customers.csv"
    records.to_csv(csv, index=False)
    path = folder / "workspace.gpkg"
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    store = workspace.create_workspace(path, layers, roads=county.roads, author="t", reason="t")
    gazetteer = workspace.read_gazetteer(store)
    located = archive.locate_customers(records, gazetteer, county_area=county.county)
    with pytest.warns(UserWarning, match="SUB14"):  # the sample's substation off the roads
        build = workspace.build_grids(store, workspace.village_workload(located), seed=1)
    grids = build.service.grids
    people = roster.generate_roster(grids)
    nobody = sorted(grids.loc[grids["tier"] == 3, "grid_id"])[1]  # a grid with no roster row
    people = people[people["grid_id"] != nobody]
    with pytest.warns(UserWarning, match="no roster row"):
        staffed = roster.apply_roster(grids, people)
    workspace.save_grids(store, staffed, author="t", reason="grids")
    archive.import_customers(
        store, csv, gazetteer, author="t", reason="import", grids=store.read("grids"),
        county_area=county.county,
    )  # fmt: skip
    # the customers' phones (the import may or may not carry them yet): set here, known
    customers = store.read("customers")
    ids = customers["customer_id"].astype(str)
    phones = [_phone(i) for i in range(len(customers))]
    customers = customers.drop(columns="version").assign(phone=phones)
    store.save(
        "customers",
        customers,
        expected_version=store.current_version("customers"),
        author="t",
        reason="phones",
    )
    assert ids.is_unique
    run.run_workspace(path, folder / "out", write_map=None, progress=lambda _: None)
    return path


@pytest.fixture(scope="module")
def expected(ws) -> pd.DataFrame:
    """The archive row of every customer, built here from the GeoPackage read by geopandas."""
    customers = gpd.read_file(ws, layer="customers").set_index("customer_id")
    access = gpd.read_file(ws, layer="customer_access", ignore_geometry=True)
    access = access.set_index("customer_id")
    grids = gpd.read_file(ws, layer="grids", ignore_geometry=True).set_index("grid_id")
    stations = gpd.read_file(ws, layer="repair_stations").set_index("station_id")["name"]
    points = gpd.read_file(ws, layer="payment_points").set_index("point_id")["name"]

    def text(value: object) -> str:
        return (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )

    def minutes(seconds: float) -> float | None:
        if seconds is None or not np.isfinite(seconds):
            return None
        return math.ceil(round(seconds / 6.0, 6)) / 10.0

    zh_category = {
        "residential": "居民",
        "commercial": "商业",
        "industrial": "工业",
        "agricultural": "农业",
    }
    zh_source = {"gps": "GPS定位", "village": "按村定位", "town": "按乡镇定位"}
    zh_reason = {"ok": "", "over_limit": "超出时限", "too_far_from_road": "离道路过远",
                 "isolated_road_piece": "所在道路与路网不通", "unreachable": "无法到达",
                 "not_geocoded": "未定位"}  # fmt: skip
    rows = {}
    for cid, c in customers.iterrows():
        a = access.loc[cid]
        g1, g2, g3 = (text(c[f"grid_t{t}"]) for t in (1, 2, 3))
        people = grids.loc[g3] if g3 else None
        located = c.geometry is not None and not c.geometry.is_empty and text(c["location_source"])
        row = {
            "户号": cid,
            "户名": text(c["name"]),
            "地址": text(c["address"]),
            "联系电话": text(c["phone"]),
            "高低压": {"HV": "高压", "LV": "低压"}[c["voltage_class"]],
            "用电类别": zh_category[c["category"]],
            "重点关怀": "是" if bool(c["vulnerable"]) else "否",
            "县公司网格编号": g1,
            "县公司网格": text(grids.loc[g1, "name"]) if g1 else "",
            "供电网格编号": g2,
            "供电网格": text(grids.loc[g2, "name"]) if g2 else "",
            "村级网格编号": g3,
            "村级网格": text(grids.loc[g3, "name"]) if g3 else "",
        }
        for col, header in (("manager", "网格长"), ("phone", "网格长电话"),
                            ("members", "网格员"), ("liaison", "党员联络员"),
                            ("liaison_phone", "联络员电话")):  # fmt: skip
            row[header] = text(people[col]) if people is not None else ""
        for service, eta, flag, place, note, names, id_col in (
            ("repair", "抢修到达(分钟)", "30分钟抢修", "抢修站", "抢修说明", stations,
             "repair_station_id"),
            ("payment", "缴费用时(分钟)", "10分钟缴费", "最近缴费点", "缴费说明", points,
             "payment_point_id"),
        ):  # fmt: skip
            place_id = text(a[id_col])
            row[eta] = minutes(a[f"{service}_eta_s"])
            row[flag] = "达标" if bool(a[f"{service}_ok"]) else "未达标"
            row[place] = text(names.get(place_id, place_id)) if place_id else ""
            row[note] = zh_reason[a[f"{service}_reason"]]
            row[f"{service}_reason"] = a[f"{service}_reason"]
            row[id_col] = place_id
        row["定位方式"] = zh_source[c["location_source"]] if located else "未定位"
        row["乡镇"] = text(c["town"])
        row["村"] = text(c["village"])
        row["经度(WGS84)"] = round(c.geometry.x, 6) if located else None
        row["纬度(WGS84)"] = round(c.geometry.y, 6) if located else None
        row["voltage_class"] = c["voltage_class"]
        row["category"] = c["category"]
        row["location_source"] = text(c["location_source"]) if located else ""
        row["_flags"] = {
            k
            for k in ("coords_conflict_address", "swapped_lonlat", "coords_outside_county")
            if bool(c[k])
        }
        row["_flags"] |= {c["address_reason"]} - {"ok"}
        row["_flags"] |= {text(c["grid_reason"])} - {"ok", "not_geocoded", ""}
        rows[cid] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _archive_dir(ws: Path) -> Path:
    return ws.parent / "out" / "archive"


def _sheet_rows(sheet) -> tuple[list[str], list[dict[str, object]]]:
    values = list(sheet.iter_rows(values_only=True))
    header = [str(v) for v in values[0]]
    return header, [dict(zip(header, row, strict=True)) for row in values[1:]]


NOTES = {
    "coords_conflict_address": "GPS与地址不符",
    "swapped_lonlat": "经纬度颠倒",
    "coords_outside_county": "坐标在县外",
    "no_village_name": "地址无村名",
    "ambiguous": "地址有歧义",
    "other_county": "外县地址",
    "empty_address": "地址为空",
    "near_boundary": "近县界",
    "village_in_other_town": "村属其他乡镇",
    "unknown_village": "村名不在村庄名录",
    "county_only": "地址只有县名",
    "no_admin_name": "地址无地名",
    "low_confidence": "地址匹配可信度低",
}


def _check_row(got: dict[str, object], want: pd.Series) -> None:
    cid = want.name
    for header in HEADERS:
        if header in ("定位说明", "location_codes"):
            continue
        value = got[header]
        wanted = want[header]
        if wanted is None or (isinstance(wanted, float) and math.isnan(wanted)) or wanted == "":
            assert value in (None, ""), (cid, header, value)
        elif header in ("经度(WGS84)", "纬度(WGS84)"):  # rounded to 6 decimals: ±1 in the last
            assert isinstance(value, float) and abs(value - wanted) <= 1.01e-6, (cid, header)
        else:
            assert value == wanted, (cid, header, value, wanted)
    note = str(got["定位说明"])
    codes = set(str(got["location_codes"]).split("|"))
    flags = want["_flags"]
    for flag in flags:
        assert NOTES[flag] in note, (cid, note, flag)
        assert flag in codes, (cid, codes, flag)
    if not flags and got["定位方式"] != "未定位":
        assert note == "正常" and codes == {"ok"}, (cid, note)
    else:
        assert note != "正常", (cid, note)


def test_every_xlsx_row_equals_the_workspace(ws, expected):
    folder = _archive_dir(ws)
    grids = gpd.read_file(ws, layer="grids", ignore_geometry=True)
    t3 = grids.loc[grids["tier"] == 3].set_index("grid_id")["name"]
    books = sorted(folder.glob("T3-*.xlsx")) + sorted(folder.glob("T2-*_workbook.xlsx"))
    assert len(books) > 5
    seen: dict[str, int] = {}
    for path in books:
        book = openpyxl.load_workbook(path)
        names = book.sheetnames
        assert len(set(names)) == len(names) and all(len(n) <= 31 for n in names)
        for sheet in book.worksheets:
            if sheet.title == "汇总":
                continue
            header, rows = _sheet_rows(sheet)
            assert header == HEADERS, path.name
            assert sheet.freeze_panes == "A2", path.name
            last = openpyxl.utils.get_column_letter(len(HEADERS))
            assert sheet.auto_filter.ref == f"A1:{last}{len(rows) + 1}", path.name
            for i, h in enumerate(HEADERS, start=1):
                width = sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width
                assert 4 <= width <= 52, (h, width)
            # the 户号 column is wide enough for 13 digits; the address wider than the phone
            assert sheet.column_dimensions["A"].width >= 13
            for r, row in enumerate(rows, start=2):
                for h in TEXT:
                    cell = sheet.cell(row=r, column=HEADERS.index(h) + 1)
                    assert cell.value is None or cell.data_type == "s", (h, cell.value)
                _check_row(row, expected.loc[str(row["户号"])])
            grid_ids = {row["村级网格编号"] for row in rows}
            assert len(grid_ids) == 1  # one village grid per sheet
            grid_id = grid_ids.pop()
            if path.name.startswith("T3-"):
                assert path.name.startswith(f"{grid_id}_")
                seen[grid_id] = seen.get(grid_id, 0) + len(rows)
            else:
                assert sheet.title == t3[grid_id][:31]  # the sheet is named by the grid
                seen[grid_id] = seen.get(grid_id, 0) + len(rows)
    # every located customer is in its village grid's file and its workbook sheet: twice
    in_grids = expected.loc[expected["村级网格编号"] != "", "村级网格编号"].value_counts()
    assert seen == {g: 2 * n for g, n in in_grids.items()}


def test_people_and_service_levels_are_there(expected):
    """The workspace really has what the rows are checked for (else the checks prove little)."""
    assert (expected["网格长"] != "").sum() > 0 and (expected["网格长"] == "").sum() > 0
    assert expected["联系电话"].str.match(r"^1\d{10}$").sum() > 0
    assert expected["联系电话"].str.match(r"^0794-\d{7}$").sum() > 0
    assert set(expected["30分钟抢修"]) == {"达标", "未达标"}
    assert set(expected["10分钟缴费"]) == {"达标", "未达标"}
    assert (expected["抢修站"] != "").all() or (expected["定位方式"] == "未定位").any()
    flags = set().union(*expected["_flags"])
    assert {"coords_conflict_address", "swapped_lonlat", "coords_outside_county"} <= flags
    assert expected.loc[CONFLICT, "定位方式"] == "GPS定位"  # placed by the contradicting GPS
    assert expected.loc[SWAPPED, "定位方式"] == "按村定位"  # the swapped pair is not used


def test_csv_has_a_bom_and_equals_the_xlsx(ws):
    folder = _archive_dir(ws)
    csvs = sorted(folder.glob("T3-*.csv"))
    assert csvs
    for path in csvs:
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf", path.name
        want = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        assert list(want.columns) == HEADERS
        book = openpyxl.load_workbook(path.with_suffix(".xlsx"), read_only=True)
        header, rows = _sheet_rows(book.worksheets[0])
        book.close()
        cells = [["" if row[h] is None else str(row[h]) for h in header] for row in rows]
        got = pd.DataFrame(cells, columns=header, dtype=object)
        for h in NUMBERS:  # Excel numbers: 9.0 reads back as 9
            got[h] = pd.to_numeric(got[h].replace("", None)).astype(float)
            want[h] = pd.to_numeric(want[h].replace("", None)).astype(float)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        # the 13-digit 户号 is text in the CSV too: read back digit for digit
        assert want["户号"].str.fullmatch(r"\d{12,13}").all()


def test_summary_sheet_is_chinese_and_counts_agree(ws, expected):
    folder = _archive_dir(ws)
    grids = gpd.read_file(ws, layer="grids", ignore_geometry=True).set_index("grid_id")
    for path in sorted(folder.glob("T2-*_workbook.xlsx")):
        grid2 = path.name.split("_")[0]
        book = openpyxl.load_workbook(path)
        assert book.sheetnames[0] == "汇总"
        sheet = book["汇总"]
        assert sheet.freeze_panes == "A2"
        header, rows = _sheet_rows(sheet)
        assert header == SUMMARY_HEADERS
        assert rows[0]["网格编号"] == grid2 and rows[0]["层级"] == "供电网格"
        assert rows[0]["网格名称"] == grids.loc[grid2, "name"]
        mine = expected[expected["供电网格编号"] == grid2]
        assert rows[0]["客户数"] == len(mine)
        assert rows[0]["30分钟抢修达标户数"] == int((mine["30分钟抢修"] == "达标").sum())
        assert rows[0]["10分钟缴费达标户数"] == int((mine["10分钟缴费"] == "达标").sum())
        for row in rows[1:]:
            assert row["层级"] == "村级网格"
            assert row["网格名称"] == grids.loc[row["网格编号"], "name"]
            its = expected[expected["村级网格编号"] == row["网格编号"]]
            assert row["客户数"] == len(its)
            assert row["高压"] == int((its["voltage_class"] == "HV").sum())
            assert row["10分钟缴费达标户数"] == int((its["10分钟缴费"] == "达标").sum())
        assert sum(r["客户数"] for r in rows[1:]) == rows[0]["客户数"]


def test_not_located_list_with_the_reason_in_chinese(ws, expected):
    path = _archive_dir(ws) / "未定位客户_not_located.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    lost = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(lost.columns) == HEADERS
    want = sorted(expected.index[expected["村级网格编号"] == ""])
    assert sorted(lost["户号"]) == want
    assert {EMPTY, OTHER} <= set(want)
    notes = lost.set_index("户号")["定位说明"]
    assert "地址为空" in notes[EMPTY]
    assert "外县地址" in notes[OTHER]
    assert (lost["定位方式"] == "未定位").all() and (notes != "").all() and (notes != "正常").all()


def test_mask_phones_masks_every_phone_in_every_file(ws, expected, tmp_path, capsys):
    out = tmp_path / "masked"
    assert cli.main(["customers", "export", "--workspace", str(ws), "--out", str(out),
                     "--mask-phones"]) == 0  # fmt: skip
    assert "phones masked" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert {p.name for p in files} == {p.name for p in _archive_dir(ws).iterdir()}
    masked_cells = 0
    for path in files:
        if path.suffix == ".csv":
            cells = pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
        else:
            book = openpyxl.load_workbook(path, read_only=True)
            cells = [
                v for s in book.worksheets for row in s.iter_rows(values_only=True) for v in row
            ]
            book.close()
        for value in cells:
            if isinstance(value, str):
                assert not MOBILE.search(value), (path.name, value)
                assert not LANDLINE.search(value), (path.name, value)
                masked_cells += "****" in value or "***" in value
    assert masked_cells > 0
    # by hand: the customer's mobile, the manager's phone and the phone inside the address
    both = expected["联系电话"].str.match(r"^1\d{10}$") & (expected["网格长电话"] != "")
    row = expected.loc[both].iloc[0]
    grid = row["村级网格编号"]
    book = openpyxl.load_workbook(next(out.glob(f"{grid}_*.xlsx")), read_only=True)
    _, rows = _sheet_rows(book.worksheets[0])
    book.close()
    got = next(r for r in rows if r["户号"] == row.name)
    phone = row["联系电话"]
    assert got["联系电话"] == phone[:3] + "****" + phone[-4:]
    assert got["网格长电话"] == row["网格长电话"][:3] + "****" + row["网格长电话"][-4:]
    everything = "".join(p.read_text(encoding="utf-8-sig") for p in files if p.suffix == ".csv")
    assert "139****1234" in everything and PHONE_IN_ADDRESS not in everything
    # a landline keeps its area code and last four digits
    land = expected.loc[expected["联系电话"].str.startswith("0794-")].iloc[0]
    table = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in files if p.suffix == ".csv"
    ).set_index("户号")
    assert table.loc[land.name, "联系电话"] == "0794-***" + land["联系电话"][-4:]


def test_export_without_access_says_so_and_marks_service_levels(ws, tmp_path):
    customers = gpd.read_file(ws, layer="customers")
    grids = gpd.read_file(ws, layer="grids")
    files = archive.export_archive(customers, grids, tmp_path / "plain")
    one = pd.read_csv(
        next(p for p in files if p.suffix == ".csv"), dtype=str, keep_default_na=False
    )
    assert set(one["30分钟抢修"]) == {"未计算"} and set(one["10分钟缴费"]) == {"未计算"}
    assert set(one["抢修说明"]) == {"未计算"}


def test_sheet_names_are_unique_and_short(tmp_path):
    """Two village grids of one supply grid with the same long name: two sheets, ≤ 31 chars."""
    from shapely.geometry import Point

    long = "琴城镇某某某某某某某某某某某某某某某某某某某某某某某某某某网格:1"  # 35 chars, a ':'
    grids = pd.DataFrame(
        {
            "grid_id": ["T1", "T2-A", "T3-A-01", "T3-A-02"],
            "tier": [1, 2, 3, 3],
            "name": ["县", "供电网格", long, long],
        }
    )
    customers = gpd.GeoDataFrame(
        {
            "customer_id": ["3610230000001", "3610230000002"],
            "name": ["甲", "乙"],
            "address": ["a", "=1+1"],  # text that looks like a formula stays text
            "category": "residential",
            "voltage_class": "LV",
            "vulnerable": False,
            "location_source": "village",
            "address_reason": "ok",
            "grid_t1": "T1",
            "grid_t2": "T2-A",
            "grid_t3": ["T3-A-01", "T3-A-02"],
        },
        geometry=[Point(116.5, 27.2), Point(116.51, 27.2)],
        crs="EPSG:4326",
    )
    files = archive.export_archive(customers, grids, tmp_path)
    book = openpyxl.load_workbook(next(p for p in files if p.name.endswith("_workbook.xlsx")))
    names = book.sheetnames
    assert names[0] == "汇总" and len(names) == 3 and len(set(names)) == 3
    assert all(len(n) <= 31 and ":" not in n for n in names)
    assert names[1] == long.replace(":", "_")[:31]
    assert names[2].endswith("(2)") and len(names[2]) == 31
    sheet = book[names[2]]
    address = sheet.cell(row=2, column=HEADERS.index("地址") + 1)
    assert address.value == "=1+1" and address.data_type == "s"
    ids = sheet.cell(row=2, column=1)
    assert ids.value == "3610230000002" and ids.data_type == "s"
    # numbers are number cells; what is missing is an empty cell, not an empty string
    lon = sheet.cell(row=2, column=HEADERS.index("经度(WGS84)") + 1)
    assert lon.value == 116.51 and lon.data_type == "n"
    for header in ("联系电话", "抢修到达(分钟)", "网格长"):  # no phone, no access, no roster
        assert sheet.cell(row=2, column=HEADERS.index(header) + 1).value is None, header
    # the width stored is the widest cell + 2: 户号 is 13 digits (its header 4 wide) → 15
    assert sheet.column_dimensions["A"].width == 15


def test_mask_phone_numbers_by_hand():
    got = archive.mask_phone_numbers(
        pd.Series(
            ["13912341234", "0794-7123456", "36252519800101123X南丰县", None, "电话13800001111"]
        )
    )
    assert got.tolist()[:3] == ["139****1234", "0794-***3456", "36252519800101123X南丰县"]
    assert pd.isna(got.iloc[3])  # missing stays missing
    assert got.iloc[4] == "电话138****1111"


def test_run_mask_phones_flag_and_step(ws, tmp_path):
    """`gridgeo run --mask-phones` reaches the archive; masking is an input of the step."""
    args = cli.build_parser().parse_args(["run", "--workspace", "w", "--out", "o", "--mask-phones"])
    assert args.mask_phones is True
    copy = tmp_path / "ws.gpkg"
    copy.write_bytes(ws.read_bytes())
    out = tmp_path / "out"
    first = run.run_workspace(copy, out, write_map=None, progress=lambda _: None)
    again = run.run_workspace(copy, out, write_map=None, progress=lambda _: None, mask_phones=True)
    assert "archive" in first.computed and "archive" in again.computed  # not reused
    assert "access" in again.reused
    texts = [p.read_text(encoding="utf-8-sig") for p in (out / "archive").glob("*.csv")]
    assert texts and not any(MOBILE.search(t) for t in texts)
    assert any("****" in t for t in texts)


def test_export_of_a_workspace_without_customers_is_one_line(tmp_path, county, capsys):
    layers = {name: getattr(county, name) for name in workspace.WORKSPACE_KEYS if name != "grids"}
    path = tmp_path / "empty.gpkg"
    workspace.create_workspace(path, layers, author="t", reason="t")
    code = cli.main(["customers", "export", "--workspace", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and "gridgeo customers import" in err[0], err
    assert "Traceback" not in err[0]
