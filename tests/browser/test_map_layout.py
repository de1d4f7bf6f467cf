"""The county map on a phone, a laptop and A4 paper (maps/static/gg-layout.css, gg-layout.js).

Real headless Chromium with every non-local load blocked (tests/browserharness.py) opens the
saved map of a small hand-made county; where the panels are is read from their element boxes
and checked with shapely, never by eye. Screenshots go to ``$GRIDGEO_ARTIFACTS/browser``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pytest
from browserharness import fail_if_blocked, new_offline_context
from pypdf import PdfReader
from shapely import box as shapely_box
from shapely import union_all
from shapely.geometry import Point, box

from maps.overview import county_overview_map, save_offline

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WGS84 = "EPSG:4326"
PHONE = [pytest.param("phone", id="phone")]
DESKTOP = [pytest.param("desktop", id="desktop")]
# A4 landscape at the browser's 96 px per inch: 297 x 210 mm
A4_LANDSCAPE_PX = {"width": 1123, "height": 794}
A4_LANDSCAPE_PT = (297 / 25.4 * 72, 210 / 25.4 * 72)
# the county's 30-minute repair reach as the figures give it, and as every panel must show it
REPAIR_SHARE = 0.956
REPAIR_SHOWN = "95.6%"
# a point of the west supply grid (甲) away from every marker: a tap there opens its popup
WEST_GRID_POINT = (116.47, 27.16)
PANELS = ("#gg-figures", "#gg-legend", "#gg-layers-panel", "#gg-problems", "#gg-bar")


@pytest.fixture(scope="module")
def county_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The saved map of a 0.2 x 0.2 degree county: two supply grids, three village grids,
    stations, repair bands, six customers outside a promise in two villages, a siting
    suggestion and the full key figures."""
    county = gpd.GeoDataFrame(
        {"adcode": ["361023"], "name": ["南丰县"]},
        geometry=[box(116.4, 27.0, 116.6, 27.2)],
        crs=WGS84,
    )
    grids = gpd.GeoDataFrame(
        {
            "grid_id": ["T1", "T2-A", "T2-B", "T3-A-01", "T3-B-01", "T3-B-02"],
            "tier": [1, 2, 2, 3, 3, 3],
            "parent_id": [None, "T1", "T1", "T2-A", "T2-B", "T2-B"],
            "name": ["南丰县", "甲供电网格", "乙供电网格", "甲网格1", "乙网格1", "乙网格2"],
            "substation_id": [None, "S1", "S2", "S1", "S2", "S2"],
            "manager": [None, "张三", "李四", "王五", "赵六", "钱七"],
            "phone": [None, "13800000001", "13800000002", "13800000003", "138", "139"],
        },
        geometry=[
            box(116.4, 27.0, 116.6, 27.2),
            box(116.4, 27.0, 116.5, 27.2),
            box(116.5, 27.0, 116.6, 27.2),
            box(116.4, 27.0, 116.5, 27.2),
            box(116.5, 27.0, 116.6, 27.1),
            box(116.5, 27.1, 116.6, 27.2),
        ],
        crs=WGS84,
    )
    substations = gpd.GeoDataFrame(
        {"substation_id": ["S1", "S2"], "name": ["甲变电站", "乙变电站"]},
        geometry=[Point(116.45, 27.1), Point(116.55, 27.1)],
        crs=WGS84,
    )
    repair_stations = gpd.GeoDataFrame(
        {"station_id": ["RS1"], "name": ["抢修中心"]}, geometry=[Point(116.45, 27.05)], crs=WGS84
    )
    payment_points = gpd.GeoDataFrame(
        {"point_id": ["P1", "P2"], "name": ["营业厅", "代收点"], "kind_zh": ["营业厅", "代收点"]},
        geometry=[Point(116.46, 27.06), Point(116.56, 27.16)],
        crs=WGS84,
    )
    # customers outside a promise in two villages of the east grid (乙): the problem villages
    access = gpd.GeoDataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
            "repair_ok": [True, False, False, False, True, False, True],
            "payment_ok": [True, True, False, False, False, True, False],
            "repair_eta_s": [600.0, 2400.0, 2500.0, 2600.0, 900.0, 2000.0, 700.0],
            "payment_eta_s": [120.0, 300.0, 900.0, 950.0, 800.0, 300.0, 700.0],
            "repair_reason": [
                *("ok", "over_limit", "over_limit", "too_far_from_road"),
                *("ok", "over_limit", "ok"),
            ],
            "payment_reason": [
                *("ok", "ok", "over_limit", "too_far_from_road"),
                *("over_limit", "ok", "over_limit"),
            ],
            "village_code": ["V0", "V1", "V1", "V1", "V2", "V2", "V2"],
            "village": ["城关村", "上晒村", "上晒村", "上晒村", "南洲村", "南洲村", "南洲村"],
        },
        geometry=[
            Point(116.41, 27.01),
            Point(116.58, 27.19),
            Point(116.585, 27.185),
            Point(116.575, 27.195),
            Point(116.55, 27.03),
            Point(116.555, 27.035),
            Point(116.545, 27.025),
        ],
        crs=WGS84,
    )
    isochrones = gpd.GeoDataFrame(
        {"station_id": ["all", "all", "all"], "band_s": [600.0, 1200.0, 1800.0]},
        geometry=[Point(116.45, 27.05).buffer(r) for r in (0.01, 0.02, 0.03)],
        crs=WGS84,
    )
    suggested_sites = gpd.GeoDataFrame(
        {"rank": [1, 2], "name": ["太源村", "三溪村"], "gain_customers": [421, 35]},
        geometry=[Point(116.58, 27.02), Point(116.42, 27.18)],
        crs=WGS84,
    )
    figures = {
        "customers": 30000,
        "not_located": 15,
        "reach": {
            "repair_share_ok": REPAIR_SHARE,
            "payment_share_ok": 0.838,
            "repair_median_eta_s": 450.0,
            "payment_median_eta_s": 90.0,
        },
    }
    m = county_overview_map(
        county=county,
        grids=grids,
        substations=substations,
        repair_stations=repair_stations,
        payment_points=payment_points,
        access=access,
        isochrones=isochrones,
        figures=figures,
        suggested_sites=suggested_sites,
        siting={"share_before": REPAIR_SHARE, "share_after": 0.986},
    )
    return save_offline(m, tmp_path_factory.mktemp("layout") / "county_map.html")


def _open(page: Page, path: Path) -> None:
    page.goto(path.as_uri())
    # gg-layout.js marks the page once the panels are docked and the map fitted
    page.locator("html[data-gg-layout=ready]").wait_for(state="attached")


def _boxes(page: Page, selectors: tuple[str, ...] = PANELS) -> dict[str, Any]:
    """The shapely boxes of the visible elements among ``selectors``, by selector."""
    out = {}
    for selector in selectors:
        found = page.locator(selector)
        if found.count() and found.first.is_visible():
            b = found.first.bounding_box()
            assert b is not None, selector
            out[selector] = shapely_box(b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])
    return out


def _viewport(page: Page) -> Any:
    size = page.viewport_size
    assert size is not None
    return shapely_box(0, 0, size["width"], size["height"])


def _assert_apart(boxes: dict[str, Any]) -> None:
    """No two of ``boxes`` overlap (touching edges allowed)."""
    names = sorted(boxes)
    for i, one in enumerate(names):
        for other in names[i + 1 :]:
            overlap = boxes[one].intersection(boxes[other]).area
            assert overlap < 1.0, f"{one} and {other} overlap by {overlap:.0f} px²"


def _inside(boxes: dict[str, Any], viewport: Any) -> None:
    for name, b in boxes.items():
        assert viewport.buffer(0.5).contains(b), f"{name} {b.bounds} is cut off"


FIND_MAP = """() => {
    for (const key of Object.keys(window)) {
        if (window[key] instanceof L.Map) return window[key];
    }
}"""


def _map_view(page: Page) -> dict[str, float]:
    """The map's zoom (and defines ``window.ggLayoutZoom()`` for waiting on it)."""
    return page.evaluate(
        f"""() => {{
            const map = ({FIND_MAP})();
            window.ggLayoutZoom = () => map.getZoom();
            return {{zoom: map.getZoom()}};
        }}"""
    )


def _leaflet_point(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Where the map shows (lon, lat), in page pixels."""
    return page.evaluate(
        """([lon, lat]) => {
            let map = null;
            for (const key of Object.keys(window)) {
                if (window[key] instanceof L.Map) map = window[key];
            }
            const p = map.latLngToContainerPoint([lat, lon]);
            const r = map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [lon, lat],
    )


@pytest.fixture
def no_script_page(
    chromium: Browser, blocked_requests: list[str], page_errors: list[str]
) -> Iterator[Page]:
    """A phone page (WeChat's user agent) that runs no JavaScript, as WeChat's preview may."""
    context = new_offline_context(chromium, "phone", blocked_requests, java_script_enabled=False)
    tab = context.new_page()
    yield tab
    context.close()
    fail_if_blocked(blocked_requests)


@pytest.mark.parametrize("size", PHONE)
def test_phone_shows_the_map_under_a_strip_and_opens_panels_on_tap(
    county_map, offline_page, screenshot, page_errors
):
    page = offline_page
    _open(page, county_map)
    viewport = _viewport(page)
    screenshot("strip")
    # the map fills the screen; what the panels cover of it is at most 40 % (shapely union)
    map_box = _boxes(page, (".folium-map",))[".folium-map"].intersection(viewport)
    panels = _boxes(page)
    assert set(panels) == {"#gg-figures", "#gg-bar"}  # legend, layers, problems closed
    free = map_box.difference(union_all(list(panels.values())))
    assert free.area >= 0.6 * viewport.area, f"map free {free.area / viewport.area:.0%}"
    # the figures are a strip with the repair reach, a fifth of the screen at most
    strip = page.locator("#gg-figures .gg-strip")
    assert strip.is_visible()
    assert REPAIR_SHOWN in strip.inner_text()
    assert "抢修30分钟" in strip.inner_text()
    assert panels["#gg-figures"].bounds[3] - panels["#gg-figures"].bounds[1] <= 0.2 * 844
    _inside(panels, viewport)
    assert not page.locator("#gg-figures table").is_visible()

    # each button opens its panel over the map (not over the strip or the buttons) and the
    # same button closes it again; one panel at a time
    for sheet, selector, text in (
        ("legend", "#gg-legend", "抢修站"),
        ("layers", "#gg-layers-panel", "县界 County boundary"),
        ("problems", "#gg-problems", "上晒村"),
    ):
        button = page.locator(f'#gg-bar button[data-sheet="{sheet}"]')
        button.tap()
        panel = page.locator(selector)
        panel.wait_for(state="visible")
        assert text in panel.inner_text()
        shown = _boxes(page)
        assert set(shown) == {"#gg-figures", "#gg-bar", selector}
        _assert_apart(shown)
        _inside(shown, viewport)
        screenshot(f"open-{sheet}")
        button.tap()
        panel.wait_for(state="hidden")
    assert page.locator("#gg-bar button").all_inner_texts() == [
        "图例 Legend",
        "图层 Layers",
        "问题村 Problems",
    ]

    # one tap on the strip shows the whole figures table, another folds it again
    page.locator("#gg-figures .gg-strip").tap()
    page.locator("#gg-figures table").wait_for(state="visible")
    page.locator("#gg-figures .gg-strip").tap()
    page.locator("#gg-figures table").wait_for(state="hidden")

    # a tap on the map still opens a grid's popup
    x, y = _leaflet_point(page, *WEST_GRID_POINT)
    assert free.contains(Point(x, y)), "the tapped point lies under a panel"
    page.touchscreen.tap(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert "甲" in popup.inner_text() and "张三" in popup.inner_text()
    # and moves the map so that the popup is clear of the strip and the buttons (Leaflet
    # pans in a quarter second: wait for the map to stop moving)
    page.wait_for_function(
        f"""() => new Promise((done) => {{
            const map = ({FIND_MAP})();
            const still = () => !map.getPane("mapPane").classList.contains("leaflet-pan-anim");
            const check = () => (still() ? done(true) : setTimeout(check, 50));
            setTimeout(check, 50);
        }})"""
    )
    _assert_apart({**_boxes(page, (".leaflet-popup",)), **_boxes(page)})
    screenshot("popup")

    # a problem village tapped in its list closes the list: the map shows it closer
    before = _map_view(page)["zoom"]
    page.locator('#gg-bar button[data-sheet="problems"]').tap()
    page.locator('#gg-problems [data-village="V1"]').tap()
    page.locator("#gg-problems").wait_for(state="hidden")
    page.wait_for_function(f"() => window.ggLayoutZoom() > {before}")
    assert (
        page.locator('#gg-bar button[data-sheet="problems"]').get_attribute("aria-expanded")
        == "false"
    )
    assert page_errors == []


@pytest.mark.parametrize("size", DESKTOP)
def test_desktop_panels_leave_the_figures_free_and_fold(
    county_map, offline_page, screenshot, page_errors
):
    page = offline_page
    _open(page, county_map)
    screenshot("panels")
    boxes = _boxes(page)
    assert set(boxes) == {"#gg-figures", "#gg-legend", "#gg-layers-panel", "#gg-problems"}
    _assert_apart(boxes)
    _inside(boxes, _viewport(page))
    # the figures show every row, the last one too
    figures = page.locator("#gg-figures")
    assert figures.locator("table").is_visible()
    assert REPAIR_SHOWN in figures.inner_text()
    assert "缴费未达标客户" in figures.inner_text()
    assert not page.locator("#gg-figures .gg-strip").is_visible()
    # no part of the county lies under a panel: its corners are free
    panels = union_all(list(boxes.values()))
    for lon, lat in ((116.4, 27.0), (116.6, 27.0), (116.4, 27.2), (116.6, 27.2)):
        assert not panels.contains(Point(_leaflet_point(page, lon, lat))), (lon, lat)

    # each panel folds to its title and unfolds again
    for selector, inner in (
        ("#gg-legend", "#gg-legend .gg-item"),
        ("#gg-layers-panel", "#gg-layers-panel input"),
        ("#gg-problems", "#gg-problems li"),
        ("#gg-figures", "#gg-figures table"),
    ):
        height = boxes[selector].bounds[3] - boxes[selector].bounds[1]
        fold = page.locator(f"{selector} .gg-fold")
        fold.click()
        page.locator(inner).first.wait_for(state="hidden")
        folded = page.locator(selector).bounding_box()
        assert folded is not None and folded["height"] < min(height, 60)
        fold.click()
        page.locator(inner).first.wait_for(state="visible")
    # the layer list still switches layers once docked beside the map
    county_box = page.locator("#gg-layers-panel label", has_text="县界").locator("input")
    county_box.uncheck()
    assert not county_box.is_checked()
    county_box.check()
    assert page_errors == []


@pytest.mark.parametrize("size", DESKTOP)
def test_a4_landscape_print_covers_no_figure_and_hides_the_controls(
    county_map, offline_page, screenshot, page_errors
):
    page = offline_page
    page.set_viewport_size(A4_LANDSCAPE_PX)
    _open(page, county_map)
    page.emulate_media(media="print")
    screenshot("print")
    viewport = _viewport(page)
    boxes = _boxes(page, (*PANELS, ".leaflet-control-zoom", ".leaflet-control-layers"))
    assert {"#gg-figures", "#gg-legend"} <= set(boxes)
    # zoom buttons, the layer list's boxes to tick and the buttons are not printed
    assert not {".leaflet-control-zoom", ".leaflet-control-layers", "#gg-bar"} & set(boxes)
    assert not page.locator("input[type=checkbox]").first.is_visible()
    assert not page.locator("button.gg-fold").first.is_visible()
    _assert_apart(boxes)
    _inside({k: boxes[k] for k in ("#gg-figures", "#gg-legend")}, viewport)
    assert REPAIR_SHOWN in page.locator("#gg-figures").inner_text()
    # the page's own @page rule: one A4 landscape sheet (pypdf reads the PDF's media box)
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    width, height = (float(v) for v in pdf.pages[0].mediabox.upper_right)
    assert width == pytest.approx(A4_LANDSCAPE_PT[0], abs=1)
    assert height == pytest.approx(A4_LANDSCAPE_PT[1], abs=1)
    assert REPAIR_SHOWN in pdf.pages[0].extract_text()
    assert page_errors == []


@pytest.mark.parametrize("size", PHONE)
def test_without_javascript_the_figures_are_plain_readable_html(
    county_map, no_script_page, artifacts_dir, size
):
    page = no_script_page
    page.goto(county_map.as_uri())
    page.screenshot(path=str(artifacts_dir / f"test_map_layout_no_script-{size}.png"))
    figures = page.locator("#gg-figures")
    assert figures.is_visible()
    text = figures.inner_text()
    for shown in ("30分钟抢修到达率", REPAIR_SHOWN, "30,000", "缴费未达标客户"):
        assert shown in text, shown
    # and a line saying where the map can be seen
    assert "在浏览器" in page.locator(".gg-noscript").inner_text()
    # the whole table, on the screen's width, and nothing over it
    assert figures.locator("table").is_visible()
    viewport = _viewport(page)
    boxes = _boxes(page, ("#gg-figures", "#gg-legend", "#gg-problems"))
    left, _top, right, _bottom = boxes["#gg-figures"].bounds
    assert left >= 0 and right <= viewport.bounds[2] + 0.5, "the figures are cut off"
    assert set(boxes) == {"#gg-figures", "#gg-legend", "#gg-problems"}
    _assert_apart(boxes)
