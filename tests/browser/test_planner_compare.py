"""The planner's map editor (网格规划), its two further pieces, in real headless Chromium on a
real uvicorn server: reassign a supply grid to a newly built substation (click the
substation's ▲ on the map, preview, save with a reason) and compare two versions on the map
(version A dashed, B filled, the villages that changed grids ringed and listed).

Expected values come from the served workspace read through the store in the test (the
customers' stored grid ids; customers inside each version's polygons counted with shapely),
not from the routes under test. At phone and desktop size, every non-local request blocked
(tests/browser/conftest.py).
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from playwright.sync_api import expect

import gridgeo

SEP = "，"


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"-?[\d,]+", text)]


def _open_planner(page: Any, login: Any) -> None:
    login(page, "planner")
    response = page.goto("/planner")
    assert response is not None and response.ok
    # the first load of a grids version makes its edit base (about a second, more when busy)
    expect(page.locator("#planner")).to_have_attribute("data-ready", "1", timeout=30_000)


def _add_substation(store: gridgeo.GeoPackageStore, sid: str, where: Any) -> None:
    """A newly built 35 kV substation at ``where``, saved as a new substations version."""
    subs = store.read("substations")
    row = gpd.GeoDataFrame(
        {"substation_id": [sid], "name": [f"新建{sid}变电站"], "voltage_kv": [35.0],
         "source": ["test"], "voltage_source": ["test"]},
        geometry=[where], crs=subs.crs,
    )  # fmt: skip
    new = pd.concat([subs.drop(columns="version"), row], ignore_index=True)
    store.save(
        "substations",
        gpd.GeoDataFrame(new, geometry="geometry", crs=subs.crs),
        expected_version=store.current_version("substations"),
        author="test",
        reason="新建变电站 / a new substation",
    )


def test_planner_reassigns_a_supply_grid_to_a_new_substation(
    page, login, app_server, size, screenshot, page_errors
):
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    grids = store.read("grids")
    kids = grids.loc[grids["tier"] == 3, "parent_id"].value_counts()
    gid = str(kids.index[0])  # the supply grid with the most village grids
    t2 = grids.set_index("grid_id").loc[gid]
    old = str(t2["substation_id"])
    sid = f"NEW-{size.upper()}"
    # inside one of its village grids, as far as can be from every substation's triangle
    taken = shapely.MultiPoint(list(store.read("substations").geometry))
    spots = [p.representative_point() for p in grids.loc[grids["parent_id"] == gid].geometry]
    _add_substation(store, sid, max(spots, key=lambda p: p.distance(taken)))
    version = store.current_version("grids")

    _open_planner(page, login)
    page.select_option("#reassign-grid", gid)
    # the new substation's triangle on the map: a click picks it
    page.locator(f".gg-substation.gg-s-{sid}").click()
    expect(page.locator("#reassign-substation")).to_have_value(sid)
    with page.expect_response(lambda r: r.url.endswith("/grids/preview")):
        page.click("#reassign-preview")
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#preview-what")).to_contain_text(f"{old} → {sid}")

    customers = store.read("customers")
    children = sorted(grids.loc[grids["parent_id"] == gid, "grid_id"].astype(str))
    rows = page.locator("#diff tbody tr")
    expect(rows).to_have_count(1 + len(children))
    for g in [gid, *children]:
        row = page.locator(f"#diff tbody tr[data-grid='{g}']")
        expect(row.locator("td").first).to_contain_text(f"变电站 {old} → {sid}")
        column = "grid_t2" if g == gid else "grid_t3"
        stored = int((customers[column].astype(str) == g).sum())
        shown = _numbers(row.locator("td.gg-customers").inner_text())
        assert shown[:2] == [stored, stored], g  # a reassign moves no customer
    screenshot("reassign-preview", full_page=True)

    page.fill("#save-reason", "新变电站投运，改由其供电 / the new substation takes the grid")
    with page.expect_response(lambda r: r.url.endswith("/grids/save")):
        page.click("#save-button")
    expect(page.locator("#planner-message")).to_contain_text(f"已保存为版本 {version + 1}")
    expect(page.locator("#planner")).to_have_attribute(
        "data-version", str(version + 1), timeout=30_000
    )
    after = store.read("grids").set_index("grid_id")
    assert after.at[gid, "substation_id"] == sid
    assert (after.loc[children, "substation_id"] == sid).all()
    assert store.list_versions("grids").iloc[-1]["reason"].startswith("新变电站投运")
    # the old substation now heads no grid: the map shows it free (green)
    expect(page.locator(f".gg-substation.gg-s-{old}.gg-free")).to_have_count(1)
    screenshot("reassign-saved", full_page=True)
    assert page_errors == []


def _counts(store: gridgeo.GeoPackageStore, version: int) -> dict[str, int]:
    """Customers inside each grid of one version, counted with shapely."""
    grids = store.read("grids", version=version)
    points = store.read("customers").geometry.to_numpy()
    return {
        str(g): int(shapely.contains(geom, points).sum())
        for g, geom in zip(grids["grid_id"], grids.geometry, strict=True)
    }


def test_planner_compares_two_versions_on_the_map(page, login, app_server, screenshot, page_errors):
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    first = store.current_version("grids")
    # someone saves a village move (through the library): compare `first` with it
    base = gridgeo.load_edit_base(store)
    codes = base.service.cells["village_code"].astype(str)
    own = dict(zip(codes, base.service.village_grid.astype(str), strict=True))
    for code in sorted(codes):
        options = gridgeo.village_join_options(base.service, code, adjacency=base.adjacency)
        if options["ok"].any():
            target = str(options.loc[options["ok"], "grid_id"].iloc[0])
            break
    edited = gridgeo.preview_move_villages(base.service, [code], target).grids
    second = gridgeo.save_grids(store, edited, author="other", reason="move",
                                expected_version=first)  # fmt: skip
    source = own[code]

    _open_planner(page, login)
    # the two newest versions are picked by default
    expect(page.locator("#compare-a")).to_have_value(str(first))
    expect(page.locator("#compare-b")).to_have_value(str(second))
    with page.expect_response(lambda r: "/grids/compare?" in r.url):
        page.click("#compare-button")
    expect(page.locator("#planner")).to_have_attribute("data-compared", f"{first}-{second}")

    t3 = {v: store.read("grids", version=v) for v in (first, second)}
    expect(page.locator("path.gg-cmp-a")).to_have_count(int((t3[first]["tier"] == 3).sum()))
    expect(page.locator("path.gg-cmp-b")).to_have_count(int((t3[second]["tier"] == 3).sum()))
    expect(page.locator("path.gg-cmp-village")).to_have_count(1)
    expect(page.locator(f"path.gg-cmp-v-{code}")).to_have_count(1)
    village = store.read("villages").set_index("village_code").loc[code, "village"]
    listed = page.locator(f"#compare-villages tbody tr[data-village='{code}']")
    expect(listed).to_contain_text(str(village))
    expect(listed.locator("td").nth(1)).to_contain_text(source)
    expect(listed.locator("td").nth(2)).to_contain_text(target)

    before, after = _counts(store, first), _counts(store, second)
    assert before[source] > after[source]  # the move took customers away
    for g in (source, target):
        cell = page.locator(f"#compare-grids tbody tr[data-grid='{g}'] td.gg-customers")
        assert _numbers(cell.inner_text())[:2] == [before[g], after[g]], g
    screenshot("compare", full_page=True)

    # the same version twice: the server's message is shown on the page
    page.select_option("#compare-a", str(second))
    with page.expect_response(lambda r: "/grids/compare?" in r.url) as answer:
        page.click("#compare-button")
    assert answer.value.status == 400
    expect(page.locator("#planner-message")).to_contain_text("两个版本相同")
    expect(page.locator("#planner-message")).to_contain_text("version_b")
    page.click("#compare-clear")
    expect(page.locator("path.gg-cmp-a")).to_have_count(0)
    expect(page.locator("#compare-result")).to_be_hidden()
    assert page_errors == []
