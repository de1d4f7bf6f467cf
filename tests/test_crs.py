"""Tests of gridgeo.crs: datum conversion, metric CRS choice, coordinate checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gridgeo import crs
from gridgeo.errors import CRSError

GEOD = pyproj.Geod(ellps="WGS84")
NANFENG_LONLAT = (116.53, 27.21)


def geod_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """Points every 0.5° over China's bounding box that lie in China."""
    lon, lat = np.meshgrid(np.arange(73.0, 135.01, 0.5), np.arange(18.0, 53.01, 0.5))
    lon, lat = lon.ravel(), lat.ravel()
    keep = crs.in_china(lon, lat)
    assert keep.sum() > 3000  # the grid really covers China
    return lon[keep], lat[keep]


# --------------------------------------------------------------------------- #
# published reference values


def test_wgs84_to_gcj02_matches_published_pair():
    # wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915)
    # -> [116.41024449916938, 39.91640428150164] (also used by hutool's CoordinateUtilTest).
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-11)
    assert lat == pytest.approx(39.91640428150164, abs=1e-11)


def test_gcj02_to_bd09_matches_published_pair():
    # wandergis/coordtransform, test/app.js: gcj02tobd09(116.404, 39.915)
    # -> [116.41036949371029, 39.92133699351021].
    lon, lat = crs.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-11)
    assert lat == pytest.approx(39.92133699351021, abs=1e-11)


def test_gcj02_to_wgs84_beats_published_one_step_inverse():
    # coordtransform's gcj02towgs84(116.404, 39.915) = [116.39775550083061, 39.91359571849836]
    # is the one-step approximation, metres off; the iterated inverse must map back onto
    # the input under the (reference-checked) forward transform, and lie near that value.
    lon, lat = crs.gcj02_to_wgs84(116.404, 39.915)
    fwd_lon, fwd_lat = crs.wgs84_to_gcj02(lon, lat)
    assert geod_m(fwd_lon, fwd_lat, 116.404, 39.915) < 0.01
    one_step_m = geod_m(lon, lat, 116.39775550083061, 39.91359571849836)
    assert 0.01 < one_step_m < 10.0


def test_offset_near_nanfeng_is_300_to_600_m():
    glon, glat = crs.wgs84_to_gcj02(*NANFENG_LONLAT)
    offset_m = geod_m(*NANFENG_LONLAT, glon, glat)
    assert 300.0 < offset_m < 600.0


# --------------------------------------------------------------------------- #
# round trips over China


def test_gcj02_round_trip_over_china(china_grid):
    lon, lat = china_grid
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    # the shift is real everywhere on the grid, so the round trip tests something
    assert geod_m(lon, lat, glon, glat).min() > 30.0
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    err_m = geod_m(lon, lat, wlon, wlat)
    assert err_m.max() < 0.5
    assert err_m.max() < 0.011  # the default tol_m is 1 cm


def test_gcj02_inverse_honours_tighter_tolerance(china_grid):
    lon, lat = china_grid
    wlon, wlat = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat), tol_m=0.0001)
    assert geod_m(lon, lat, wlon, wlat).max() < 0.0002


def test_bd09_round_trips_over_china(china_grid):
    lon, lat = china_grid
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    wlon, wlat = crs.bd09_to_wgs84(blon, blat)
    assert geod_m(lon, lat, wlon, wlat).max() < 0.011
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    g2lon, g2lat = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(glon, glat))
    assert geod_m(glon, glat, g2lon, g2lat).max() < 0.011


def test_bd09_is_gcj02_then_baidu_shift():
    lon, lat = np.array([116.53, 121.47]), np.array([27.21, 31.23])
    b1 = crs.wgs84_to_bd09(lon, lat)
    b2 = crs.gcj02_to_bd09(*crs.wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(b1, b2, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# shapes, scalars, NaN, outside China


def test_scalar_in_gives_floats_out():
    lon, lat = crs.gcj02_to_wgs84(116.5, 27.2)
    assert isinstance(lon, float)
    assert isinstance(lat, float)


def test_arrays_keep_shape_and_nan_passes_through():
    lon = np.array([[116.5, np.nan], [117.0, 118.0]])
    lat = np.array([[27.2, 27.3], [np.nan, 28.0]])
    out_lon, out_lat = crs.gcj02_to_wgs84(lon, lat)
    assert out_lon.shape == (2, 2)
    assert np.isnan(out_lon[0, 1])
    assert np.isnan(out_lat[1, 0])
    assert np.isfinite(out_lon[1, 1])


def test_outside_china_is_unchanged():
    paris = (2.3522, 48.8566)
    assert crs.wgs84_to_gcj02(*paris) == paris
    assert crs.gcj02_to_wgs84(*paris) == paris


def test_inputs_not_mutated():
    lon = np.array([116.5, 117.0])
    lat = np.array([27.2, 27.5])
    crs.gcj02_to_wgs84(lon, lat)
    crs.bd09_to_wgs84(lon, lat)
    np.testing.assert_array_equal(lon, [116.5, 117.0])
    np.testing.assert_array_equal(lat, [27.2, 27.5])


# --------------------------------------------------------------------------- #
# to_wgs84 / to_wgs84_geometry


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
    ],
)
def test_to_wgs84_datum_names(datum, expected):
    lon, lat = 116.5, 27.2
    reference = {
        "wgs84": (lon, lat),
        "gcj02": crs.gcj02_to_wgs84(lon, lat),
        "bd09": crs.bd09_to_wgs84(lon, lat),
    }[expected]
    assert crs.to_wgs84(lon, lat, datum) == pytest.approx(reference, abs=1e-12)


def test_to_wgs84_unknown_datum():
    with pytest.raises(CRSError, match=r"Unknown `datum` 'wgs-72'.*'wgs84', 'gcj02', 'bd09'"):
        crs.to_wgs84(116.5, 27.2, "wgs-72")


def test_to_wgs84_geometry_geodataframe_copy():
    poly = shapely.box(116.4, 27.1, 116.6, 27.3)
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[poly, shapely.Point(116.5, 27.2)], index=[7, 9], crs=4326
    )
    before = gdf.copy()
    out = crs.to_wgs84_geometry(gdf, "gcj02")
    pd.testing.assert_frame_equal(gdf, before)  # input untouched
    assert list(out.index) == [7, 9]
    assert out.crs == gdf.crs
    assert list(out["name"]) == ["a", "b"]
    xy = shapely.get_coordinates(gdf.geometry.values)
    expected = np.column_stack(crs.gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
    np.testing.assert_allclose(shapely.get_coordinates(out.geometry.values), expected, atol=1e-12)
    assert out.geometry.iloc[0].geom_type == "Polygon"


def test_to_wgs84_geometry_series_array_and_single():
    pts = [shapely.Point(116.5, 27.2), shapely.Point(116.6, 27.3)]
    series = gpd.GeoSeries(pts, index=["x", "y"], crs=4326)
    out = crs.to_wgs84_geometry(series, "bd09")
    assert isinstance(out, gpd.GeoSeries)
    assert list(out.index) == ["x", "y"]
    exp_lon, exp_lat = crs.bd09_to_wgs84(116.6, 27.3)
    assert (out["y"].x, out["y"].y) == pytest.approx((exp_lon, exp_lat), abs=1e-12)
    arr = crs.to_wgs84_geometry(np.array(pts, dtype=object), "gcj02")
    assert isinstance(arr, np.ndarray)
    single = crs.to_wgs84_geometry(pts[0], "gcj02")
    assert (single.x, single.y) == pytest.approx(crs.gcj02_to_wgs84(116.5, 27.2), abs=1e-12)
    assert shapely.equals(arr[0], single)
    assert crs.to_wgs84_geometry(pts[0], "wgs84").equals(pts[0])


def test_to_wgs84_geometry_keeps_missing_and_empty():
    arr = np.array([None, shapely.Point(), shapely.Point(116.5, 27.2)], dtype=object)
    out = crs.to_wgs84_geometry(arr, "gcj02")
    assert out[0] is None
    assert out[1].is_empty
    assert not out[2].equals(arr[2])


# --------------------------------------------------------------------------- #
# metric CRS


def test_metric_crs_nanfeng_gauss_kruger():
    # 116.5 / 3 = 38.83 -> nearest multiple of 3 is 117; EPSG:4534 is CM 75E and codes
    # step by one per 3°: 4534 + (117 - 75) / 3 = 4548.
    got = crs.metric_crs((116.0, 26.9, 117.0, 27.5))
    assert got.to_epsg() == 4548
    assert "CM 117E" in got.name
    assert got.equals(pyproj.CRS.from_epsg(4548))


def test_metric_crs_nanfeng_utm():
    # UTM zone = floor((116.5 + 180) / 6) + 1 = 50 -> EPSG:32650 (north).
    assert crs.metric_crs(shapely.Point(116.5, 27.2), kind="utm").to_epsg() == 32650


def test_metric_crs_gk_zone_edges():
    # 118.4 is nearer 117 than 120; 118.6 nearer 120 (EPSG 4534 + 15 = 4549).
    assert crs.metric_crs((118.4, 30.0)).to_epsg() == 4548
    assert crs.metric_crs((118.6, 30.0)).to_epsg() == 4549


def test_metric_crs_outside_china_falls_back_to_utm():
    # Heidelberg 8.69E: zone floor(188.69 / 6) + 1 = 32; Sydney 151.2E 33.9S: zone 56 south.
    assert crs.metric_crs((8.69, 49.41)).to_epsg() == 32632
    assert crs.metric_crs((151.2, -33.9)).to_epsg() == 32756


def test_metric_crs_reprojects_geodataframe():
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(116.5, 27.2)], crs=4326).to_crs(3857)
    assert crs.metric_crs(gdf).to_epsg() == 4548
    assert crs.metric_crs(gdf.geometry, kind="utm").to_epsg() == 32650


def test_to_wgs84_geometry_refuses_projected():
    gk = gpd.GeoSeries([shapely.Point(116.5, 27.2)], crs=4326).to_crs(4548)
    with pytest.raises(CRSError, match=r"projected CRS .* reproject them to EPSG:4326"):
        crs.to_wgs84_geometry(gk, "gcj02")
    assert crs.to_wgs84_geometry(gk, "wgs84").equals(gk)


def test_metric_crs_errors():
    no_crs = gpd.GeoDataFrame(geometry=[shapely.Point(116.5, 27.2)])
    with pytest.raises(CRSError, match=r"no CRS.*set_crs\('EPSG:4326'\)"):
        crs.metric_crs(no_crs)
    with pytest.raises(CRSError, match=r"Unknown `kind` 'tm'.*'gk', 'utm'"):
        crs.metric_crs((116.5, 27.2), kind="tm")
    with pytest.raises(CRSError, match="empty"):
        crs.metric_crs(gpd.GeoDataFrame(geometry=[], crs=4326))
    with pytest.raises(CRSError, match="not a lon/lat in degrees"):
        crs.metric_crs((500_000.0, 3_000_000.0))
    with pytest.raises(CRSError, match="bounds tuple"):
        crs.metric_crs((1.0, 2.0, 3.0))


# --------------------------------------------------------------------------- #
# in_china / check_coordinates

INSIDE = {
    "Nanfeng": NANFENG_LONLAT,
    "Kashgar": (75.99, 39.47),
    "Lhasa": (91.11, 29.65),
    "Mohe": (122.54, 52.97),
    "Sanya": (109.51, 18.25),
    "Hong Kong": (114.17, 22.30),
    "Taipei": (121.56, 25.04),
    "Urumqi": (87.62, 43.83),
}
OUTSIDE = {
    "Paris": (2.35, 48.86),
    "Seoul": (126.98, 37.57),
    "Pyongyang": (125.75, 39.03),
    "Ulaanbaatar": (106.92, 47.92),
    "Hanoi": (105.85, 21.03),
    "Delhi": (77.21, 28.61),
    "Kathmandu": (85.32, 27.72),
    "Tokyo": (139.69, 35.69),
    "Almaty": (76.89, 43.24),
}


def test_in_china_cities():
    lon = [v[0] for v in [*INSIDE.values(), *OUTSIDE.values()]]
    lat = [v[1] for v in [*INSIDE.values(), *OUTSIDE.values()]]
    expected = [True] * len(INSIDE) + [False] * len(OUTSIDE)
    np.testing.assert_array_equal(crs.in_china(lon, lat), expected)
    assert crs.in_china(*NANFENG_LONLAT) is True
    assert not crs.in_china(np.nan, 27.0)


def test_check_coordinates_reasons():
    lon = pd.Series([116.53, 27.21, np.nan, "abc", 2.35, " 116.6 ", None], index=list("abcdefg"))
    lat = pd.Series([27.21, 116.53, 27.0, 27.0, 48.86, "27.3", 27.0], index=list("abcdefg"))
    out = crs.check_coordinates(lon, lat)
    assert list(out.index) == list("abcdefg")
    assert list(out["reason"]) == [
        "ok",
        "swapped_lonlat",
        "missing",
        "not_a_number",
        "outside_china",
        "ok",
        "missing",
    ]
    # swapped: reported, not fixed, with the suggestion
    assert (out.loc["b", "lon"], out.loc["b", "lat"]) == (27.21, 116.53)
    assert (out.loc["b", "suggested_lon"], out.loc["b", "suggested_lat"]) == (116.53, 27.21)
    assert out["suggested_lon"].drop("b").isna().all()
    assert out.loc["f", "lon"] == 116.6
    assert lon.iloc[5] == " 116.6 "  # input untouched


def test_check_coordinates_area():
    area = shapely.box(116.2, 26.9, 116.9, 27.5)
    to_m = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    # a point 0.01° east of the box edge, at 27.2N: distance measured independently in GK
    east_x, _ = to_m.transform(116.91, 27.2)
    edge_x, _ = to_m.transform(116.9, 27.2)
    expected_m = abs(east_x - edge_x)
    assert 900 < expected_m < 1100
    lon = [116.5, 27.2, 116.91, 118.0, 2.35]
    lat = [27.2, 116.5, 27.2, 28.0, 48.86]
    out = crs.check_coordinates(lon, lat, area=area)
    assert list(out.index) == [0, 1, 2, 3, 4]
    assert list(out["reason"]) == [
        "ok",
        "swapped_lonlat",
        "outside_area",
        "outside_area",
        "outside_china",
    ]
    assert out.loc[0, "distance_m"] == 0.0
    assert out.loc[2, "distance_m"] == pytest.approx(expected_m, rel=1e-3)
    tolerant = crs.check_coordinates(lon, lat, area=area, max_distance_m=expected_m * 1.01)
    assert tolerant.loc[2, "reason"] == "ok"
    assert tolerant.loc[3, "reason"] == "outside_area"


def test_check_coordinates_area_as_geodataframe():
    county = gpd.GeoDataFrame(
        geometry=[shapely.box(116.2, 26.9, 116.5, 27.5), shapely.box(116.5, 26.9, 116.9, 27.5)],
        crs=4326,
    ).to_crs(4548)
    out = crs.check_coordinates([116.3, 116.8, 118.0], [27.0, 27.4, 28.0], area=county)
    assert list(out["reason"]) == ["ok", "ok", "outside_area"]
    with pytest.raises(CRSError, match="`area` has no CRS"):
        crs.check_coordinates([116.3], [27.0], area=gpd.GeoSeries([shapely.box(0, 0, 1, 1)]))


def test_check_coordinates_area_outside_china():
    heidelberg = shapely.box(8.6, 49.3, 8.8, 49.5)
    out = crs.check_coordinates([8.7, 2.35], [49.4, 48.86], area=heidelberg)
    assert list(out["reason"]) == ["ok", "outside_area"]


def test_check_coordinates_errors():
    with pytest.raises(CRSError, match="`lon` has 2 values but `lat` has 1"):
        crs.check_coordinates([116.5, 116.6], [27.2])
    with pytest.raises(CRSError, match="`area` must be a non-empty shapely geometry"):
        crs.check_coordinates([116.5], [27.2], area=shapely.Polygon())


# --------------------------------------------------------------------------- #
# ensure_crs


def test_ensure_crs():
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(116.5, 27.2)], crs=4326)
    projected = gdf.to_crs(4548)
    out = crs.ensure_crs(projected)
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].x == pytest.approx(116.5, abs=1e-9)
    assert projected.crs.to_epsg() == 4548  # input untouched
    same = crs.ensure_crs(gdf)
    assert same is not gdf
    no_crs = gpd.GeoDataFrame(geometry=[shapely.Point(116.5, 27.2)])
    with pytest.raises(CRSError, match=r"customers.csv has no CRS.*set_crs\('EPSG:4326'\)"):
        crs.ensure_crs(no_crs, source="customers.csv")
