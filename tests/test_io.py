"""Tests of gridgeo.io: reading and validating layers and tables, writing GeoPackages."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from gridgeo import crs, io
from gridgeo.errors import (
    CoordinateError,
    CorruptFileError,
    CRSError,
    DuplicateIdError,
    EmptyDataError,
    InputError,
    InvalidGeometryError,
    MissingColumnError,
    NotFoundError,
)

NANFENG_ADCODE = "361023"
NANFENG_AREA_KM2 = 1920.0


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"station_id": ["S1", "S2", "S3"], "name": ["琴城", "太和", "白舍"]},
        geometry=[
            shapely.Point(116.53, 27.21),
            shapely.Point(116.60, 27.30),
            shapely.Point(116.45, 27.05),
        ],
        crs=4326,
    )


def write_raw(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    """Write with pyogrio directly, bypassing the code under test."""
    gdf.to_file(path, engine="pyogrio", **kwargs)
    return path


# --------------------------------------------------------------------------- #
# formats


def test_read_gpkg_geojson_shapefile_zip(tmp_path, points):
    gpkg = write_raw(points, tmp_path / "p.gpkg", layer="stations")
    geojson = write_raw(points, tmp_path / "p.geojson", driver="GeoJSON")
    shp = write_raw(points, tmp_path / "p.shp")
    zipped = tmp_path / "p.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in tmp_path.glob("p.*"):
            if part.suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                zf.write(part, part.name)
    for path in (gpkg, geojson, shp, zipped):
        out = io.read_layer(path, id_column="station_id", geometry_types=("Point",))
        assert out.crs.to_epsg() == 4326
        assert list(out["station_id"]) == ["S1", "S2", "S3"]
        assert list(out["name"]) == ["琴城", "太和", "白舍"]
        np.testing.assert_allclose(
            shapely.get_coordinates(out.geometry.values),
            shapely.get_coordinates(points.geometry.values),
        )


def test_read_layer_reprojects_to_4326(tmp_path, points):
    path = write_raw(points.to_crs(4548), tmp_path / "gk.gpkg", layer="stations")
    out = io.read_layer(path)
    assert out.crs.to_epsg() == 4326
    np.testing.assert_allclose(
        shapely.get_coordinates(out.geometry.values),
        shapely.get_coordinates(points.geometry.values),
        atol=1e-9,
    )


def test_geojson_without_crs_member_is_4326(tmp_path):
    path = tmp_path / "plain.geojson"
    feature = {
        "type": "Feature",
        "properties": {"id": 1},
        "geometry": {"type": "Point", "coordinates": [116.5, 27.2]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    out = io.read_layer(path)
    assert out.crs.to_epsg() == 4326


def test_read_layer_gcj02_datum(tmp_path, points):
    path = write_raw(points, tmp_path / "amap.gpkg", layer="stations")
    out = io.read_layer(path, datum="GCJ-02")
    xy = shapely.get_coordinates(points.geometry.values)
    got = shapely.get_coordinates(out.geometry.values)
    # independent check through the reference-tested forward transform
    fwd_lon, fwd_lat = crs.wgs84_to_gcj02(got[:, 0], got[:, 1])
    dist_m = pyproj.Geod(ellps="WGS84").inv(fwd_lon, fwd_lat, xy[:, 0], xy[:, 1])[2]
    assert np.max(dist_m) < 0.02
    shift_m = pyproj.Geod(ellps="WGS84").inv(got[:, 0], got[:, 1], xy[:, 0], xy[:, 1])[2]
    assert np.all((shift_m > 300) & (shift_m < 700))


def test_list_layers(tmp_path, points):
    path = write_raw(points, tmp_path / "two.gpkg", layer="a")
    write_raw(points, path, layer="b")
    assert sorted(io.list_layers(path)) == ["a", "b"]


# --------------------------------------------------------------------------- #
# bad layers


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match=r"`path` '.*nope\.gpkg' does not exist"):
        io.read_layer(tmp_path / "nope.gpkg")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.kml"
    path.write_text("<kml/>")
    with pytest.raises(InputError, match=r"extension '\.kml'; supported: .*'\.gpkg'"):
        io.read_layer(path)


def test_unknown_layer_lists_layers(tmp_path, points):
    path = write_raw(points, tmp_path / "p.gpkg", layer="stations")
    with pytest.raises(NotFoundError, match=r"no layer 'roads'; layers there: \['stations'\]"):
        io.read_layer(path, layer="roads")


def test_several_layers_need_a_name(tmp_path, points):
    path = write_raw(points, tmp_path / "two.gpkg", layer="a")
    write_raw(points, path, layer="b")
    with pytest.raises(InputError, match=r"holds 2 layers .* pass `layer`"):
        io.read_layer(path)
    assert len(io.read_layer(path, layer="b")) == 3


def test_shapefile_without_prj_is_refused(tmp_path, points):
    shp = write_raw(points, tmp_path / "noprj.shp")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match=r"'.*noprj\.shp' has no CRS .*\.prj.*pass `crs`"):
        io.read_layer(shp)
    out = io.read_layer(shp, crs="EPSG:4326")
    assert out.crs.to_epsg() == 4326
    with pytest.raises(CRSError, match="`crs` 'EPSG:99999' is not a CRS"):
        io.read_layer(shp, crs="EPSG:99999")


def test_empty_layer(tmp_path):
    empty = gpd.GeoDataFrame({"id": pd.Series([], dtype=str)}, geometry=[], crs=4326)
    path = write_raw(empty, tmp_path / "empty.gpkg", layer="nothing")
    with pytest.raises(EmptyDataError, match=r"'.*empty\.gpkg' layer 'nothing' holds no features"):
        io.read_layer(path, layer="nothing")


def test_garbage_gpkg(tmp_path):
    path = tmp_path / "garbage.gpkg"
    path.write_bytes(b"this is not a geopackage" * 50)
    with pytest.raises(CorruptFileError, match=r"'.*garbage\.gpkg' cannot be opened.*export it"):
        io.read_layer(path)
    with pytest.raises(CorruptFileError, match="cannot be opened"):
        io.list_layers(path)


def test_truncated_gpkg(tmp_path, points):
    good = write_raw(points, tmp_path / "good.gpkg", layer="stations")
    data = good.read_bytes()
    path = tmp_path / "truncated.gpkg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError, match=r"truncated\.gpkg"):
        io.read_layer(path, layer="stations")


def test_missing_columns(tmp_path, points):
    path = write_raw(points, tmp_path / "p.gpkg", layer="stations")
    with pytest.raises(
        MissingColumnError,
        match=r"lacks column\(s\) \['voltage_kv'\]; columns present: \['station_id', 'name'\]",
    ):
        io.read_layer(path, required_columns=("name", "voltage_kv"))
    with pytest.raises(MissingColumnError, match=r"\['sid'\]"):
        io.read_layer(path, id_column="sid")


def test_duplicate_ids(tmp_path, points):
    dup = points.assign(station_id=["S1", "S2", "S1"])
    path = write_raw(dup, tmp_path / "dup.gpkg", layer="stations")
    with pytest.raises(
        DuplicateIdError, match=r"`station_id` repeats value\(s\) \['S1'\] in 2 rows \[0, 2\]"
    ):
        io.read_layer(path, id_column="station_id")


def test_empty_ids(tmp_path, points):
    path = write_raw(points.assign(station_id=["S1", None, "S3"]), tmp_path / "n.gpkg")
    with pytest.raises(InputError, match=r"`station_id` is empty in 1 row \[1\]"):
        io.read_layer(path, id_column="station_id")


def test_bow_tie_polygon(tmp_path):
    bow_tie = shapely.Polygon([(116.0, 27.0), (116.1, 27.1), (116.1, 27.0), (116.0, 27.1)])
    assert not bow_tie.is_valid
    gdf = gpd.GeoDataFrame(
        {"grid_id": ["g1", "g2"]},
        geometry=[shapely.box(116.2, 27.0, 116.3, 27.1), bow_tie],
        crs=4326,
    )
    path = write_raw(gdf, tmp_path / "bowtie.gpkg", layer="grids")
    with pytest.raises(
        InvalidGeometryError,
        match=r"invalid geometry in 1 row \[1\] \(`grid_id` \['g2'\]\): .*Self-intersection.*"
        r"shapely\.make_valid",
    ):
        io.read_layer(path, id_column="grid_id")
    with pytest.warns(UserWarning, match="repaired 1 invalid geometries"):
        out = io.read_layer(path, repair=True)
    assert out.geometry.is_valid.all()
    # the bow-tie's two triangles have 0.0025 deg² each
    assert out.geometry.iloc[1].area == pytest.approx(0.005, rel=1e-9)


def test_empty_and_missing_geometries(tmp_path):
    path = tmp_path / "holes.geojson"
    features = [
        {"type": "Feature", "properties": {"id": i}, "geometry": geom}
        for i, geom in enumerate(
            [
                {"type": "Point", "coordinates": [116.5, 27.2]},
                None,
                {"type": "Point", "coordinates": [116.6, 27.3]},
                {"type": "Polygon", "coordinates": []},
            ]
        )
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InvalidGeometryError, match=r"missing or empty in 2 rows \[1, 3\]"):
        io.read_layer(path)


def test_wrong_geometry_type(tmp_path, points):
    path = write_raw(points, tmp_path / "p.gpkg", layer="stations")
    with pytest.raises(
        InvalidGeometryError, match=r"type\(s\) \['Point'\] in 3 rows .* \('Polygon',\)"
    ):
        io.read_layer(path, geometry_types=("Polygon",))


def test_read_layer_unknown_datum(tmp_path, points):
    path = write_raw(points, tmp_path / "p.gpkg", layer="stations")
    with pytest.raises(CRSError, match="Unknown `datum` 'baidu'"):
        io.read_layer(path, datum="baidu")


# --------------------------------------------------------------------------- #
# the real Nanfeng boundary


@pytest.fixture(scope="module")
def nanfeng(jiangxi_dir) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    path = jiangxi_dir / "amap_jiangxi_counties_gcj02.gpkg"
    raw = gpd.read_file(path, engine="pyogrio")
    raw = raw[raw["adcode"].astype(str) == NANFENG_ADCODE]
    converted = io.read_layer(path, datum="gcj02", id_column="adcode")
    converted = converted[converted["adcode"].astype(str) == NANFENG_ADCODE]
    assert len(raw) == 1
    assert len(converted) == 1
    return raw, converted


def test_nanfeng_boundary_within_1_km_of_gcj02_original(nanfeng):
    raw, converted = nanfeng
    metric = crs.metric_crs(converted)
    assert metric.to_epsg() == 4548
    a = raw.to_crs(metric).geometry.iloc[0]
    b = converted.to_crs(metric).geometry.iloc[0]
    hausdorff_m = a.hausdorff_distance(b)
    assert 300.0 < hausdorff_m < 1000.0  # really moved, but by less than 1 km


def test_nanfeng_area(nanfeng):
    _, converted = nanfeng
    metric = crs.metric_crs(converted)
    area_km2 = converted.to_crs(metric).area.iloc[0] / 1e6
    assert area_km2 == pytest.approx(NANFENG_AREA_KM2, rel=0.01)
    # independent: geodesic area on the WGS84 ellipsoid
    geod_area_m2, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(converted.geometry.iloc[0])
    assert abs(geod_area_m2) / 1e6 == pytest.approx(area_km2, rel=0.002)


# --------------------------------------------------------------------------- #
# tables


def write_csv(path: Path, rows: list[dict], *, encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


CUSTOMERS = [
    {"customer_id": "0001", "address": "南丰县琴城镇", "lon": 116.53, "lat": 27.21},
    {"customer_id": "0002", "address": "南丰县太和镇", "lon": 116.60, "lat": 27.30},
    {"customer_id": "0003", "address": "南丰县白舍镇", "lon": 116.45, "lat": 27.05},
]


def test_read_csv_wgs84(tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMERS)
    out = io.read_table(path, id_column="customer_id")
    assert out.crs.to_epsg() == 4326
    assert list(out["customer_id"]) == ["0001", "0002", "0003"]  # leading zeros kept
    assert list(out["coord_reason"]) == ["ok", "ok", "ok"]
    np.testing.assert_allclose(out.geometry.x, [116.53, 116.60, 116.45])
    np.testing.assert_allclose(out.geometry.y, [27.21, 27.30, 27.05])


def test_read_csv_gcj02_converted(tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMERS)
    out = io.read_table(path, datum="gcj02")
    lon = np.array([r["lon"] for r in CUSTOMERS])
    lat = np.array([r["lat"] for r in CUSTOMERS])
    exp_lon, exp_lat = crs.gcj02_to_wgs84(lon, lat)
    np.testing.assert_allclose(out.geometry.x, exp_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.geometry.y, exp_lat, rtol=0, atol=1e-12)
    # lon/lat columns keep the numbers as given
    np.testing.assert_array_equal(out["lon"], lon)


def test_read_csv_gbk_chinese(tmp_path, caplog):
    rows = [
        {"编号": "A1", "地址": "南丰县琴城镇解放路", "经度": 116.53, "纬度": 27.21},
        {"编号": "A2", "地址": "南丰县市山镇", "经度": 116.40, "纬度": 27.10},
    ]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    with caplog.at_level(logging.INFO, logger="gridgeo.io"):
        out = io.read_table(path, lon="经度", lat="纬度", id_column="编号")
    assert list(out["地址"]) == ["南丰县琴城镇解放路", "南丰县市山镇"]
    assert "gb18030" in caplog.text


def test_read_csv_utf8_bom(tmp_path):
    path = write_csv(tmp_path / "bom.csv", CUSTOMERS, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out = io.read_table(path)
    assert "lon" in out.columns
    assert out["address"].iloc[0] == "南丰县琴城镇"


def test_read_txt_tab_separated(tmp_path):
    path = tmp_path / "c.txt"
    pd.DataFrame(CUSTOMERS).to_csv(path, index=False, sep="\t")
    out = io.read_table(path)
    assert len(out) == 3
    assert out.geometry.x.iloc[1] == pytest.approx(116.60)


def test_read_xlsx(tmp_path):
    path = tmp_path / "c.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        pd.DataFrame(CUSTOMERS).to_excel(writer, sheet_name="客户", index=False)
    out = io.read_table(path, sheet="客户", datum="bd09", id_column="customer_id")
    exp_lon, exp_lat = crs.bd09_to_wgs84(116.60, 27.30)
    assert (out.geometry.x.iloc[1], out.geometry.y.iloc[1]) == pytest.approx(
        (exp_lon, exp_lat), abs=1e-12
    )
    assert out["customer_id"].iloc[0] == "0001"
    with pytest.raises(
        NotFoundError, match=r"no sheet 'Sheet9'; sheets there: \['notes', '客户'\]"
    ):
        io.read_table(path, sheet="Sheet9")
    with pytest.raises(NotFoundError, match="no sheet number 5"):
        io.read_table(path, sheet=5)


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFileError, match=r"bad\.xlsx' cannot be opened as an Excel"):
        io.read_table(path)


def test_table_swapped_and_outside_rows_get_no_point(tmp_path):
    rows = [
        *CUSTOMERS[:1],
        {"customer_id": "0009", "address": "swapped", "lon": 27.30, "lat": 116.60},
        {"customer_id": "0010", "address": "Paris", "lon": 2.35, "lat": 48.86},
    ]
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.warns(UserWarning, match=r"2 of 3 rows get no point .*file lines \[3, 4\]"):
        out = io.read_table(path)
    assert list(out["coord_reason"]) == ["ok", "swapped_lonlat", "outside_china"]
    assert out.geometry.isna().tolist() == [False, True, True]
    assert out["lon"].iloc[1] == 27.30  # not silently fixed


def test_table_area(tmp_path):
    path = write_csv(
        tmp_path / "c.csv", [*CUSTOMERS, {"customer_id": "x", "lon": 118.0, "lat": 28.0}]
    )
    area = shapely.box(116.2, 26.9, 116.9, 27.5)
    with pytest.warns(UserWarning, match="outside_area"):
        out = io.read_table(path, area=area, max_distance_m=1000.0)
    assert list(out["coord_reason"]) == ["ok", "ok", "ok", "outside_area"]


def test_table_missing_coordinates(tmp_path):
    rows = [*CUSTOMERS, {"customer_id": "0004", "address": "no point", "lon": None, "lat": None}]
    rows.append({"customer_id": "0005", "address": "text", "lon": "东经116", "lat": 27.2})
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.raises(
        CoordinateError,
        match=r"missing or not_a_number in 2 rows \[3, 4\] \(file lines \[5, 6\]\).*"
        r"points='optional'",
    ):
        io.read_table(path)
    with pytest.warns(UserWarning, match="2 of 5 rows get no point"):
        out = io.read_table(path, points="optional")
    assert list(out["coord_reason"])[3:] == ["missing", "not_a_number"]
    assert out.geometry.isna().tolist() == [False, False, False, True, True]
    with pytest.raises(InputError, match=r"Unknown `points` 'maybe'"):
        io.read_table(path, points="maybe")


def test_table_datum_column(tmp_path):
    rows = [{**r, "datum": d} for r, d in zip(CUSTOMERS, ["WGS84", "gcj02", "BD-09"], strict=True)]
    path = write_csv(tmp_path / "c.csv", rows)
    out = io.read_table(path, datum_column="datum")
    expected = [
        (116.53, 27.21),
        crs.gcj02_to_wgs84(116.60, 27.30),
        crs.bd09_to_wgs84(116.45, 27.05),
    ]
    got = list(zip(out.geometry.x, out.geometry.y, strict=True))
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx(e, abs=1e-12)
    rows[1]["datum"] = "mars"
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(
        CRSError, match=r"datum column `datum` has unknown or empty value\(s\) \['mars'\]"
    ):
        io.read_table(path, datum_column="datum")


def test_table_unknown_datum(tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMERS)
    with pytest.raises(CRSError, match=r"Unknown `datum` 'utm'.*'wgs84', 'gcj02', 'bd09'"):
        io.read_table(path, datum="utm")


def test_table_missing_columns(tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMERS)
    with pytest.raises(
        MissingColumnError,
        match=r"'.*c\.csv' lacks column\(s\) \['经度', '纬度'\]; columns present: "
        r"\['customer_id', 'address', 'lon', 'lat'\].*lon='经度'",
    ):
        io.read_table(path, lon="经度", lat="纬度")
    with pytest.raises(MissingColumnError, match=r"\['phone'\]"):
        io.read_table(path, required_columns=["phone"])


def test_table_duplicate_ids(tmp_path):
    rows = [*CUSTOMERS, {**CUSTOMERS[1]}]
    path = write_csv(tmp_path / "c.csv", rows)
    with pytest.raises(
        DuplicateIdError,
        match=r"repeats value\(s\) \['0002'\] in 2 rows \[1, 3\] \(file lines \[3, 5\]\)",
    ):
        io.read_table(path, id_column="customer_id")


def test_table_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDataError, match="no header and no rows"):
        io.read_table(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("customer_id,lon,lat\n")
    with pytest.raises(EmptyDataError, match="header but no data rows"):
        io.read_table(header_only)


def test_table_blank_rows_dropped(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_id,lon,lat\n1,116.5,27.2\n,,\n\n2,116.6,27.3\n")
    with pytest.warns(
        UserWarning, match=r"dropped fully empty 2 rows \[1, 2\] \(file lines \[3, 4\]\)"
    ):
        out = io.read_table(path)
    assert len(out) == 2
    assert list(out.index) == [0, 1]


def test_table_undecodable(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CorruptFileError, match="Save it as 'CSV UTF-8'"):
        io.read_table(path)
    with pytest.raises(InputError, match="`encoding` 'klingon' is unknown"):
        io.read_table(path, encoding="klingon")


def test_table_missing_file_and_extension(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        io.read_table(tmp_path / "none.csv")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"x")
    with pytest.raises(InputError, match=r"extension '\.xls'"):
        io.read_table(xls)


# --------------------------------------------------------------------------- #
# write_layer


def test_write_layer_4326_and_modes(tmp_path, points):
    path = tmp_path / "ws.gpkg"
    out = io.write_layer(points.to_crs(4548), path, "stations")
    assert out == path
    back = gpd.read_file(path, layer="stations", engine="pyogrio")
    assert back.crs.to_epsg() == 4326
    np.testing.assert_allclose(back.geometry.x, points.geometry.x, atol=1e-9)
    io.write_layer(points, path, "other")
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["other", "stations"]
    io.write_layer(points, path, "stations", mode="a")
    assert len(gpd.read_file(path, layer="stations", engine="pyogrio")) == 6
    io.write_layer(points.iloc[:1], path, "stations", mode="w")
    assert len(gpd.read_file(path, layer="stations", engine="pyogrio")) == 1
    assert points.crs.to_epsg() == 4326  # input untouched


def test_write_layer_errors(tmp_path, points):
    no_crs = gpd.GeoDataFrame(points.drop(columns="geometry"), geometry=list(points.geometry))
    assert no_crs.crs is None
    with pytest.raises(CRSError, match=r"layer 'stations' has no CRS.*set_crs"):
        io.write_layer(no_crs, tmp_path / "x.gpkg", "stations")
    with pytest.raises(InputError, match=r"Unknown `mode` 'x'"):
        io.write_layer(points, tmp_path / "x.gpkg", "stations", mode="x")
    with pytest.raises(InputError, match=r"must end in '\.gpkg'"):
        io.write_layer(points, tmp_path / "x.shp", "stations")
    with pytest.raises(InputError, match="non-empty layer name"):
        io.write_layer(points, tmp_path / "x.gpkg", "")
    with pytest.raises(NotFoundError, match="does not exist: create it first"):
        io.write_layer(points, tmp_path / "no" / "x.gpkg", "stations")
