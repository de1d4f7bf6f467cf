"""Input files checked at the door: unclosed rings, files in metres, Shapefile column names,
Shapefile parts, lon/lat ranges, per-file datums at `workspace init`, convert of CSV/XLSX.

Every bad input is tried through the library (the error class and message) and through the
command line (`gridgeo.cli.main`: exit 2 and one line naming the fix).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridgeo import cli, crs, io
from gridgeo.errors import CorruptFileError, CRSError, InvalidGeometryError, MissingColumnError
from gridgeo.store import GeoPackageStore

# A hand-made county around Nanfeng (WGS84) and points inside it.
COUNTY_WGS84 = shapely.box(116.3, 27.0, 116.7, 27.4)
SUBSTATIONS = {"S1": (116.45, 27.15), "S2": (116.55, 27.25)}
VILLAGES = {"V1": ("甲村", 116.40, 27.10), "V2": ("乙村", 116.60, 27.30)}
# Nanfeng county seat 琴城镇, and its UTM 50N coordinates computed with pyproj alone
SEAT = (116.53, 27.21)
SEAT_UTM50 = pyproj.Transformer.from_crs(4326, 32650, always_xy=True).transform(*SEAT)


def write_geojson(path: Path, features: list[tuple[dict, dict]], **top: object) -> Path:
    """A GeoJSON written by hand (no `crs` member unless given in ``top``)."""
    doc = {
        "type": "FeatureCollection",
        **top,
        "features": [
            {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def points_frame(ids: dict[str, tuple[float, float]], id_column: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {id_column: list(ids), "name": [f"{k}站" for k in ids]},
        geometry=[shapely.Point(xy) for xy in ids.values()],
        crs=4326,
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("gridgeo: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("gridgeo: error:")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def county_files(tmp_path: Path) -> dict[str, Path]:
    """County polygon as Amap publishes it (GCJ-02), villages as a WGS84 CSV."""
    gcj = shapely.transform(COUNTY_WGS84, lambda xy: np.column_stack(crs.wgs84_to_gcj02(*xy.T)))
    county = write_geojson(
        tmp_path / "county_gcj02.geojson",
        [({"adcode": "361023", "name": "南丰县"}, shapely.geometry.mapping(gcj))],
    )
    villages = tmp_path / "villages.csv"
    pd.DataFrame(
        {
            "village_code": list(VILLAGES),
            "village": [v[0] for v in VILLAGES.values()],
            "lon": [v[1] for v in VILLAGES.values()],
            "lat": [v[2] for v in VILLAGES.values()],
        }
    ).to_csv(villages, index=False)
    return {"county": county, "villages": villages}


def init_args(out: Path, files: dict[str, Path], *extra: object) -> list[object]:
    return [
        "workspace", "init", out, "--county", files["county"], "--county-datum", "gcj02",
        "--villages", files["villages"], "--author", "规划 张三", "--reason", "新建", *extra,
    ]  # fmt: skip


# --------------------------------------------------------------------------- #
# unclosed polygon rings


UNCLOSED = [[116.35, 27.05], [116.45, 27.05], [116.45, 27.15], [116.35, 27.15]]


def test_an_unclosed_ring_is_read_as_the_closed_polygon(tmp_path):
    path = write_geojson(
        tmp_path / "drawn.geojson",
        [({"adcode": "1"}, {"type": "Polygon", "coordinates": [UNCLOSED]})],
    )
    with pytest.warns(UserWarning, match=r"closed the unclosed polygon ring\(s\) of 1 row \[0\]"):
        out = io.read_layer(path, id_column="adcode")
    closed = shapely.Polygon([*UNCLOSED, UNCLOSED[0]])  # by hand: the first corner again
    assert out.geometry.iloc[0].equals(closed)
    assert out.geometry.iloc[0].is_valid


def test_a_ring_that_cannot_be_closed_is_refused_naming_the_feature(tmp_path):
    path = write_geojson(
        tmp_path / "bad.geojson",
        [
            ({"adcode": "A"}, {"type": "Polygon", "coordinates": [[*UNCLOSED, UNCLOSED[0]]]}),
            ({"adcode": "B"}, {"type": "Polygon", "coordinates": [UNCLOSED[:2]]}),
        ],
    )
    with pytest.raises(InvalidGeometryError, match=r"1 row \[1\] \(`adcode` \['B'\]\).*not closed"):
        io.read_layer(path, id_column="adcode")


def test_unclosed_rings_at_workspace_init_and_redraw(tmp_path, capsys, county_files):
    ring = [[116.3, 27.0], [116.7, 27.0], [116.7, 27.4], [116.3, 27.4]]  # the county, unclosed
    county = write_geojson(
        tmp_path / "county.geojson",
        [({"adcode": "361023", "name": "南丰县"}, {"type": "Polygon", "coordinates": [ring]})],
    )
    subs = tmp_path / "subs.geojson"
    points_frame(SUBSTATIONS, "substation_id").to_file(subs)
    files = {**county_files, "county": county}
    ws = tmp_path / "ws.gpkg"
    code, _, err = run(
        capsys, *init_args(ws, files, "--county-datum", "wgs84", "--substations", subs)
    )
    assert code == 0, err
    assert "Traceback" not in err and "internal error" not in err
    assert "closed the unclosed polygon ring(s) of 1 row [0] (`adcode` ['361023'])" in err
    stored = GeoPackageStore.open(ws).read("county").geometry.iloc[0]
    assert stored.equals(COUNTY_WGS84)

    code, _, err = run(
        capsys, "grids", "build", "--workspace", ws, "--method", "voronoi", "--author", "a",
        "--reason", "b",
    )  # fmt: skip
    assert code == 0, err
    big = [[116.2, 26.9], [116.8, 26.9], [116.8, 27.5], [116.2, 27.5]]
    drawn = write_geojson(
        tmp_path / "drawn.geojson", [({}, {"type": "Polygon", "coordinates": [big]})]
    )
    code, out, err = run(
        capsys, "grids", "edit", "redraw", "--workspace", ws, "--polygon", drawn, "--to", "T3-S2-01"
    )
    assert code in (0, 1), err  # 1: the preview shows topology problems (a grid left empty)
    assert "preview of `redraw`" in out
    assert "closed the unclosed polygon ring" in err and "Traceback" not in err
    bad = write_geojson(
        tmp_path / "bad.geojson", [({}, {"type": "Polygon", "coordinates": [big[:2]]})]
    )
    code, _, err = run(
        capsys, "grids", "edit", "redraw", "--workspace", ws, "--polygon", bad, "--to", "T3-S2-01"
    )
    assert_one_line_error(code, err, "bad.geojson", "not closed", "Redraw")


# --------------------------------------------------------------------------- #
# files in metres without a CRS, CRS options, lon/lat ranges


def metres_geojson(path: Path) -> Path:
    x, y = SEAT_UTM50
    point = {"type": "Point", "coordinates": [x, y]}
    return write_geojson(path, [({"substation_id": "S1", "name": "琴城变"}, point)])


def test_a_geojson_in_metres_without_crs_is_refused_and_read_with_crs(tmp_path):
    path = metres_geojson(tmp_path / "metres.geojson")
    with pytest.raises(CRSError, match=r"not lon/lat.*GeoJSON without a `crs` member.*`crs`"):
        io.read_layer(path, id_column="substation_id")
    out = io.read_layer(path, id_column="substation_id", crs="EPSG:32650")
    assert out.crs.to_epsg() == 4326
    np.testing.assert_allclose([out.geometry.x[0], out.geometry.y[0]], SEAT, atol=1e-9)


def test_a_crs_that_contradicts_the_file_is_refused(tmp_path):
    gk = points_frame({"S1": SEAT}, "substation_id").to_crs(4548)
    path = tmp_path / "gk.gpkg"
    gk.to_file(path)
    with pytest.raises(CRSError, match=r"says its CRS is 'EPSG:4548' but 'EPSG:32650'"):
        io.read_layer(path, crs="EPSG:32650")
    same = io.read_layer(path, crs="EPSG:4548")
    np.testing.assert_allclose([same.geometry.x[0], same.geometry.y[0]], SEAT, atol=1e-9)


def test_points_outside_lonlat_ranges_are_refused(tmp_path):
    swapped = gpd.GeoDataFrame(
        {"substation_id": ["S1", "S2"]},
        geometry=[shapely.Point(116.5, 27.2), shapely.Point(27.2, 116.5)],
        crs=4326,
    )
    path = tmp_path / "swapped.gpkg"
    swapped.to_file(path)
    with pytest.raises(CRSError, match=r"1 row \[1\] \(`substation_id` \['S2'\]\) are outside"):
        io.read_layer(path, id_column="substation_id")
    # a wrong CRS puts the points off the globe after conversion
    wrong = write_geojson(
        tmp_path / "wrong.geojson",
        [({"id": 1}, {"type": "Point", "coordinates": [1e9, 1e9]})],
    )
    with pytest.raises(CRSError, match=r"after conversion to WGS84 lon/lat.*`crs`"):
        io.read_layer(wrong, crs="EPSG:32650")


def test_metres_substations_at_workspace_init(tmp_path, capsys, county_files):
    subs = metres_geojson(tmp_path / "subs_m.geojson")
    ws = tmp_path / "ws.gpkg"
    code, _, err = run(capsys, *init_args(ws, county_files, "--substations", subs))
    assert_one_line_error(code, err, "subs_m.geojson", "not lon/lat", "--substations-crs EPSG:")
    assert not ws.exists()
    code, _, err = run(
        capsys,
        *init_args(ws, county_files, "--substations", subs, "--substations-crs", "EPSG:32650"),
    )
    assert code == 0, err
    stored = GeoPackageStore.open(ws).read("substations")
    np.testing.assert_allclose([stored.geometry.x[0], stored.geometry.y[0]], SEAT, atol=1e-9)
    # --crs is the default of every vector file; the tables (villages.csv) keep lon/lat
    ws2 = tmp_path / "ws2.gpkg"
    code, _, err = run(
        capsys, *init_args(ws2, county_files, "--substations", subs, "--crs", "EPSG:32650")
    )
    assert code == 0, err
    stored = GeoPackageStore.open(ws2).read("substations")
    np.testing.assert_allclose([stored.geometry.x[0], stored.geometry.y[0]], SEAT, atol=1e-9)
    code, _, err = run(
        capsys,
        *init_args(tmp_path / "c.gpkg", county_files, "--substations", subs,
                   "--villages-crs", "EPSG:32650"),
    )  # fmt: skip
    assert_one_line_error(code, err, "--villages-crs", "--villages-datum")


def test_a_table_with_unusable_points_is_refused_at_workspace_init(tmp_path, capsys, county_files):
    subs = tmp_path / "subs.csv"
    pd.DataFrame(
        {
            "substation_id": ["S1", "S2", "S3"],
            "lon": [116.45, 27.25, 713222],
            "lat": [27.15, 116.55, 3012345],
        }
    ).to_csv(subs, index=False)
    code, _, err = run(
        capsys, *init_args(tmp_path / "ws.gpkg", county_files, "--substations", subs)
    )
    line = assert_one_line_error(code, err, "subs.csv", "swapped_lonlat in 1 row [1]")
    assert "exchange the lon and lat" in line and "outside_china in 1 row [2]" in line
    with pytest.raises(Exception, match="swapped_lonlat"):
        io.read_table(subs, id_column="substation_id", points="valid")


# --------------------------------------------------------------------------- #
# Shapefile column names and parts


def test_shapefile_short_names_read_the_same_as_the_full_names(tmp_path):
    full = points_frame(SUBSTATIONS, "substation_id")
    full_path = tmp_path / "full.gpkg"
    full.to_file(full_path)
    expected = io.read_layer(full_path, id_column="substation_id")
    for short in ("sub_id", "SUB_ID", "substation", "变电站编号"):
        shp = tmp_path / f"s_{len(short)}_{short.isascii()}_{short.isupper()}.shp"
        # Chinese DBFs are GBK: 变电站编号 is 10 bytes there, the longest a DBF name can be
        full.rename(columns={"substation_id": short}).to_file(shp, encoding="GBK")
        got = io.read_layer(shp, id_column="substation_id")
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")),
            pd.DataFrame(expected.drop(columns="geometry")),
        )
        assert got.geometry.equals(expected.geometry)
        assert got.attrs["source_columns"] == {"substation_id": short}

    villages = gpd.GeoDataFrame(
        {"vill_code": ["V1"], "vill_name": ["甲村"], "town_code": ["T1"]},
        geometry=[shapely.Point(116.4, 27.1)],
        crs=4326,
    )
    shp = tmp_path / "villages.shp"
    villages.to_file(shp, encoding="utf-8")
    got = io.read_layer(shp, id_column="village_code", required_columns=("village", "town_code"))
    assert got[["village_code", "village", "town_code"]].values.tolist() == [["V1", "甲村", "T1"]]


def test_other_short_names_and_chinese_headers(tmp_path):
    for short, full in (
        ("stat_id", "station_id"),
        ("pt_id", "point_id"),
        ("村编码", "village_code"),
    ):
        path = tmp_path / f"{full}.csv"
        pd.DataFrame({short: ["007"], "经度": [116.5], "纬度": [27.2]}).to_csv(path, index=False)
        got = io.read_table(path, id_column=full)
        assert got[full].tolist() == ["007"]  # read as text: the leading zeros stay
        assert (got.geometry.x[0], got.geometry.y[0]) == (116.5, 27.2)


def test_two_candidate_columns_are_refused_and_columns_says_which(tmp_path):
    both = points_frame(SUBSTATIONS, "sub_id").assign(变电站编号=["X1", "X2"])
    path = tmp_path / "both.gpkg"
    both.to_file(path)
    with pytest.raises(MissingColumnError, match=r"several columns.*\['sub_id', '变电站编号'\]"):
        io.read_layer(path, id_column="substation_id")
    got = io.read_layer(path, id_column="substation_id", columns={"substation_id": "变电站编号"})
    assert got["substation_id"].tolist() == ["X1", "X2"]
    with pytest.raises(MissingColumnError, match=r"no column 'nope'"):
        io.read_layer(path, id_column="substation_id", columns={"substation_id": "nope"})


def test_columns_flag_at_workspace_init(tmp_path, capsys, county_files):
    shp = tmp_path / "subs.shp"
    points_frame(SUBSTATIONS, "编号").to_file(shp, encoding="utf-8")
    ws = tmp_path / "ws.gpkg"
    code, _, err = run(capsys, *init_args(ws, county_files, "--substations", shp))
    assert_one_line_error(
        code, err, "lacks column(s) ['substation_id']", "--columns substations:substation_id="
    )
    code, _, err = run(
        capsys,
        *init_args(
            ws, county_files, "--substations", shp, "--columns", "substations:substation_id=编号"
        ),
    )
    assert code == 0, err
    assert GeoPackageStore.open(ws).read("substations")["substation_id"].tolist() == ["S1", "S2"]
    code, _, err = run(
        capsys,
        *init_args(
            tmp_path / "b.gpkg", county_files, "--substations", shp, "--columns", "subs:x=y"
        ),
    )
    assert_one_line_error(code, err, "--columns 'subs:x=y'", "substations")


def test_a_shapefile_without_its_dbf_or_shx(tmp_path, capsys, county_files):
    shp = tmp_path / "subs.shp"
    points_frame(SUBSTATIONS, "sub_id").to_file(shp)
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(
        MissingColumnError, match=r"no subs\.dbf beside it.*copy subs\.shx, subs\.dbf and subs\.prj"
    ):
        io.read_layer(shp, id_column="substation_id")
    code, _, err = run(capsys, *init_args(tmp_path / "ws.gpkg", county_files, "--substations", shp))
    assert_one_line_error(code, err, "subs.dbf", "same folder as the .shp")
    shp.with_suffix(".shx").unlink()
    with pytest.raises(CorruptFileError, match=r"no subs\.shx beside it"):
        io.read_layer(shp)


# --------------------------------------------------------------------------- #
# per-file datums at workspace init


def test_per_file_datums_at_workspace_init(tmp_path, capsys, county_files):
    # substations from OSM (WGS84), repair stations and payment points picked on Amap (GCJ-02)
    subs = tmp_path / "osm_substations.geojson"
    points_frame(SUBSTATIONS, "substation_id").to_file(subs)
    picks = {"R1": (116.50, 27.20), "R2": (116.62, 27.33)}
    stations = tmp_path / "stations.csv"
    pd.DataFrame(
        {
            "station_id": list(picks),
            "lon": [p[0] for p in picks.values()],
            "lat": [p[1] for p in picks.values()],
        }
    ).to_csv(stations, index=False)
    payment = tmp_path / "payment.geojson"
    points_frame({"P1": (116.41, 27.12)}, "point_id").to_file(payment)
    ws = tmp_path / "ws.gpkg"
    code, _, err = run(
        capsys,
        *init_args(
            ws, county_files,
            "--substations", subs, "--substations-datum", "wgs84",
            "--repair-stations", stations, "--repair-stations-datum", "gcj02",
            "--payment-points", payment,
            "--villages-datum", "wgs84",
            "--datum", "gcj02",  # the default of the point files without their own datum
        ),
    )  # fmt: skip
    assert code == 0, err
    store = GeoPackageStore.open(ws)
    got = store.read("substations").set_index("substation_id").geometry
    for sid, xy in SUBSTATIONS.items():  # WGS84 kept as given
        assert (got[sid].x, got[sid].y) == pytest.approx(xy, abs=1e-12)
    got = store.read("repair_stations").set_index("station_id").geometry
    geod = pyproj.Geod(ellps="WGS84")
    for sid, (lon, lat) in picks.items():  # GCJ-02 converted, point by point
        wx, wy = crs.gcj02_to_wgs84(lon, lat)
        assert (got[sid].x, got[sid].y) == pytest.approx((wx, wy), abs=1e-9)
        assert 300 < geod.inv(lon, lat, got[sid].x, got[sid].y)[2] < 600
    got = store.read("payment_points").geometry.iloc[0]
    assert (got.x, got.y) == pytest.approx(crs.gcj02_to_wgs84(116.41, 27.12), abs=1e-9)
    got = store.read("villages").set_index("village_code").geometry
    assert (got["V1"].x, got["V1"].y) == pytest.approx(VILLAGES["V1"][1:], abs=1e-12)
    county = store.read("county").geometry.iloc[0]
    assert county.hausdorff_distance(COUNTY_WGS84) < 1e-6  # ~0.1 m


def test_workspace_init_help_documents_the_per_file_options(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["workspace", "init", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--substations-datum", "--repair-stations-datum", "--payment-points-datum",
                 "--villages-datum", "--towns-datum", "--county-datum", "--crs", "--columns",
                 "sub_id", "变电站编号"):  # fmt: skip
        assert flag in out, flag


# --------------------------------------------------------------------------- #
# convert of CSV/XLSX


GCJ_PICKS = pd.DataFrame(
    {
        "编号": ["A", "B", "C"],
        "经度": [116.5047799, 116.4012345, 116.6543210],
        "纬度": [27.1967096, 27.0876543, 27.3456789],
    }
)


def test_convert_a_csv_equals_the_crs_function_point_by_point(tmp_path, capsys):
    src = tmp_path / "picks.csv"
    GCJ_PICKS.to_csv(src, index=False)
    dst = tmp_path / "wgs.csv"
    code, out, err = run(capsys, "convert", src, dst, "--datum", "gcj02")
    assert code == 0, err
    assert "3 个要素已转换" in out
    got = pd.read_csv(dst, encoding="utf-8-sig")
    assert got.columns.tolist() == ["编号", "经度", "纬度"]  # the file's own names kept
    assert got["编号"].tolist() == ["A", "B", "C"]
    for row, (lon, lat) in enumerate(zip(GCJ_PICKS["经度"], GCJ_PICKS["纬度"], strict=True)):
        wx, wy = crs.gcj02_to_wgs84(lon, lat)
        assert (got["经度"][row], got["纬度"][row]) == pytest.approx((wx, wy), abs=1e-9)


def test_convert_an_xlsx_to_geopackage_and_geojson(tmp_path, capsys):
    src = tmp_path / "picks.xlsx"
    GCJ_PICKS.rename(columns={"经度": "东经", "纬度": "北纬"}).to_excel(src, index=False)
    code, _, err = run(capsys, "convert", src, tmp_path / "a.gpkg", "--datum", "gcj02")
    assert_one_line_error(code, err, "lacks column(s) ['lon', 'lat']", "--columns lon=<name>")
    for dst in (tmp_path / "a.gpkg", tmp_path / "a.geojson"):
        code, _, err = run(
            capsys, "convert", src, dst, "--datum", "gcj02", "--columns", "lon=东经,lat=北纬"
        )
        assert code == 0, err
        got = gpd.read_file(dst)
        assert got.crs.to_epsg() == 4326
        for row, (lon, lat) in enumerate(zip(GCJ_PICKS["经度"], GCJ_PICKS["纬度"], strict=True)):
            wx, wy = crs.gcj02_to_wgs84(lon, lat)
            assert (got.geometry.x[row], got.geometry.y[row]) == pytest.approx((wx, wy), abs=1e-9)
            assert (got["东经"][row], got["北纬"][row]) == pytest.approx((wx, wy), abs=1e-9)


def test_convert_refuses_what_it_cannot_write(tmp_path, capsys):
    src = tmp_path / "picks.csv"
    GCJ_PICKS.to_csv(src, index=False)
    code, _, err = run(capsys, "convert", src, tmp_path / "out.txt", "--datum", "gcj02")
    assert_one_line_error(code, err, "out.txt", ".gpkg, .geojson, .json, .csv")
    code, _, err = run(
        capsys, "convert", src, tmp_path / "o.csv", "--datum", "gcj02", "--crs", "EPSG:4548"
    )
    assert_one_line_error(code, err, "--crs", "--datum")
    poly = write_geojson(
        tmp_path / "poly.geojson",
        [({}, shapely.geometry.mapping(COUNTY_WGS84))],
    )
    code, _, err = run(capsys, "convert", poly, tmp_path / "o.csv", "--datum", "gcj02")
    assert_one_line_error(code, err, "CSV", ".gpkg or .geojson")
    assert not (tmp_path / "o.csv").exists()
    metres = metres_geojson(tmp_path / "m.geojson")
    code, _, err = run(capsys, "convert", metres, tmp_path / "m.gpkg", "--datum", "wgs84")
    assert_one_line_error(code, err, "not lon/lat", "--crs EPSG:")
    code, _, err = run(
        capsys, "convert", metres, tmp_path / "m.csv", "--datum", "wgs84", "--crs", "EPSG:32650"
    )
    assert code == 0, err
    got = pd.read_csv(tmp_path / "m.csv", encoding="utf-8-sig")
    assert (got["lon"][0], got["lat"][0]) == pytest.approx(SEAT, abs=1e-9)
