"""The planner's map editor (网格规划) in real headless Chromium on a real uvicorn server.

A planner clicks a village on the map, sees the grids it may join highlighted, previews the
move (customers before → after, checked against the customers layer read here) and saves
it as a new version, read back through the library; a second planner who loaded the page
before that save is refused with a message on the page and nothing is written. At phone and
desktop size, every non-local request blocked (tests/browser/conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from browserharness import fail_if_blocked, new_offline_context
from playwright.sync_api import expect

import gridgeo

SEP = "，"


@pytest.fixture(scope="module")
def second_planner(app_server) -> tuple[str, str]:
    """Another planner of the served workspace: (username, password)."""
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    user, password = gridgeo.add_user(store, "browser_planner_2", role="planner")
    return user.username, password


def _village_grid(store: gridgeo.GeoPackageStore) -> dict[str, str]:
    grids = store.read("grids")
    t3 = grids.loc[grids["tier"] == 3]
    return {code: gid for gid, vs in zip(t3["grid_id"], t3["villages"], strict=True)
            for code in str(vs).split(SEP) if code}  # fmt: skip


def _moves(store: gridgeo.GeoPackageStore, avoid: set[str]) -> Iterator[tuple[str, str, str]]:
    """(village, its grid, a grid it may join) for villages whose grids are not in ``avoid``."""
    base = gridgeo.load_edit_base(store)
    vg = _village_grid(store)
    # loneliest villages first: on a phone-sized county map their dots do not overlap
    points = store.read("villages").set_index("village_code").geometry
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    gap = np.sort(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)), axis=1)[:, 1]
    lonely = [str(c) for c in points.index[np.argsort(-gap, kind="stable")]]
    for code in [c for c in lonely if c in vg]:
        if vg[code] in avoid:
            continue
        options = gridgeo.village_join_options(base.service, code, adjacency=base.adjacency)
        ok = options.loc[options["ok"] & ~options["grid_id"].isin(avoid), "grid_id"]
        if len(ok):
            yield code, vg[code], str(ok.iloc[0])


def _customers_of(store: gridgeo.GeoPackageStore, grid_id: str) -> int:
    customers = store.read("customers")
    return int((customers["grid_t3"].astype(str) == grid_id).sum())


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"-?[\d,]+", text)]


def _sign_in(page: Any, username: str, password: str) -> None:
    answer = page.request.post("/auth/login", form={"username": username, "password": password})
    assert answer.ok, answer.text()[:300]


def _open_planner(page: Any) -> None:
    response = page.goto("/planner")
    assert response is not None and response.ok
    # the first load of a grids version makes its edit base (about a second, more on a busy
    # machine)
    expect(page.locator("#planner")).to_have_attribute("data-ready", "1", timeout=30_000)
    expect(page.locator("path.gg-village").first).to_be_attached()


def test_planner_moves_a_village_and_a_stale_save_is_refused(
    page, login, app_server, chromium, size, second_planner, artifacts_dir, screenshot,
    page_errors,
):  # fmt: skip
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    version = store.current_version("grids")

    # the second planner opens the editor first: their map shows `version`
    blocked: list[str] = []
    other = new_offline_context(chromium, size, blocked, base_url=app_server.url)
    page2 = other.new_page()
    errors2: list[str] = []
    page2.on("pageerror", lambda err: errors2.append(str(err)))
    _sign_in(page2, *second_planner)
    _open_planner(page2)
    expect(page2.locator("#planner")).to_have_attribute("data-version", str(version))

    login(page, "planner")
    _open_planner(page)
    expect(page.locator("#planner")).to_have_attribute("data-version", str(version))
    code, source, target = next(_moves(store, set()))
    before = {g: _customers_of(store, g) for g in (source, target)}

    # click the village on the map: the grids it may join are highlighted
    page.locator(f"path.gg-v-{code}").click(force=True)
    expect(page.locator("#selected-name")).to_contain_text(code)
    expect(page.locator(f"path.gg-g-{target}.gg-may-join")).to_have_count(1)
    with page.expect_response(lambda r: r.url.endswith("/grids/preview")):
        page.locator(f"#move-options button[data-grid='{target}']").click()
    expect(page.locator("#preview")).to_be_visible()
    rows = {g: page.locator(f"#diff tbody tr[data-grid='{g}'] td.gg-customers") for g in before}
    for g in before:
        expect(rows[g]).to_be_visible()
    shown = {g: _numbers(rows[g].inner_text()) for g in before}
    for g in before:
        assert shown[g][0] == before[g]  # before, as the customers layer counts them
    moved = before[source] - shown[source][1]
    assert moved >= 0
    assert shown[target][1] == before[target] + moved  # nobody lost on the way
    screenshot("preview", full_page=True)

    page.fill("#save-reason", "边界村划入相邻网格 / a border village into its neighbour")
    with page.expect_response(lambda r: r.url.endswith("/grids/save")):
        page.click("#save-button")
    expect(page.locator("#planner-message")).to_contain_text(f"已保存为版本 {version + 1}")
    # the map reloads on the new version (its edit base is made again)
    expect(page.locator("#planner")).to_have_attribute(
        "data-version", str(version + 1), timeout=30_000
    )
    expect(page.locator("#history tbody tr").first).to_contain_text(str(version + 1))
    # through the library: a new version with the village in its new grid, the reason kept
    assert store.current_version("grids") == version + 1
    assert _village_grid(store)[code] == target
    last = store.list_versions("grids").iloc[-1]
    assert last["reason"].startswith("边界村划入相邻网格")
    assert _customers_of(store, target) == before[target] + moved
    screenshot("saved", full_page=True)

    # the second planner's map is stale: their save is refused with a message
    code2, _, target2 = next(_moves(store, {source, target}))
    page2.locator("#village-search").fill(code2)
    page2.locator("#village-find").click()
    expect(page2.locator(f"#move-options button[data-grid='{target2}']")).to_be_visible()
    page2.locator(f"#move-options button[data-grid='{target2}']").click()
    expect(page2.locator("#planner-message")).to_contain_text("已被他人修改")
    page2.fill("#save-reason", "第二位规划员的调整 / the second planner's edit")
    with page2.expect_response(lambda r: r.url.endswith("/grids/save")) as answer:
        page2.click("#save-button")
    assert answer.value.status == 409
    message = page2.locator("#planner-message")
    expect(message).to_contain_text("保存被拒绝")
    expect(message).to_contain_text("刷新页面")
    assert store.current_version("grids") == version + 1  # nothing written
    page2.screenshot(path=str(artifacts_dir / f"test_planner-stale-{size}.png"), full_page=True)
    other.close()
    fail_if_blocked(blocked)
    assert errors2 == []
    assert page_errors == []


def test_planner_finds_a_village_by_name_and_restores_a_version(
    page, login, app_server, screenshot, page_errors
):
    store = gridgeo.GeoPackageStore.open(app_server.workspace)
    # someone saved a move (through the library) on top of `version`: restore `version`
    version = store.current_version("grids")
    code, _, target = next(_moves(store, set()))
    base = gridgeo.load_edit_base(store)
    edited = gridgeo.preview_move_villages(base.service, [code], target).grids
    gridgeo.save_grids(store, edited, author="other", reason="move", expected_version=version)
    wanted = store.read("grids", version=version).sort_values("grid_id")

    villages = store.read("villages")
    unique = villages.loc[~villages["village"].duplicated(keep=False)].sort_values("village_code")
    row = unique.iloc[len(unique) // 2]
    login(page, "planner")
    _open_planner(page)
    page.fill("#village-search", str(row["village"]))
    page.press("#village-search", "Enter")
    expect(page.locator("#selected-name")).to_contain_text(str(row["village_code"]))
    # a name that is no village: a message naming the field and what to type
    page.fill("#village-search", "无此村")
    page.click("#village-find")
    expect(page.locator("#planner-message")).to_contain_text("查找村庄")
    expect(page.locator("#planner-message")).to_contain_text("村名或12位村代码")

    # restore (two clicks: ask, confirm)
    button = page.locator(f"#history button.gg-restore[data-version='{version}']")
    button.click()
    expect(button).to_contain_text("确认")
    with page.expect_response(lambda r: r.url.endswith("/grids/restore")):
        button.click()
    expect(page.locator("#planner-message")).to_contain_text(f"保存为版本 {version + 2}")
    expect(page.locator("#planner")).to_have_attribute(
        "data-version", str(version + 2), timeout=30_000
    )
    assert store.current_version("grids") == version + 2
    assert store.list_versions("grids")["restored_from"].iloc[-1] == version
    now = store.read("grids").sort_values("grid_id")
    assert list(now["grid_id"]) == list(wanted["grid_id"])
    assert list(now["villages"]) == list(wanted["villages"])
    screenshot("restored", full_page=True)
    assert page_errors == []
