/* The planner's map editor (网格规划): grids by tier on an offline map, move a village,
 * split, merge, redraw by a drawn polygon; the preview's KPI diff and topology problems;
 * save as a new version; history and restore.
 *
 * Reads and writes only through the JSON routes (gg.api): GET /grids, /grids/villages,
 * /grids/moves, /grids/versions; POST /grids/preview, /grids/save, /grids/restore.
 * Every save names the version the map shows (expected_version): if someone saved in
 * between, the server answers 409 and the page says so.
 */
(function () {
  "use strict";

  const PALETTE = [
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626",
    "#4d7c0f", "#c026d3", "#0d9488", "#ea580c", "#4f46e5", "#65a30d",
  ];
  const PROBLEM_ZH = {
    duplicate_id: "网格编号重复 duplicate id",
    bad_tier: "层级错误 bad tier",
    empty: "空网格（没有村）empty grid",
    invalid_geometry: "边界无效 invalid boundary",
    orphan: "没有上级网格 no parent grid",
    not_nested: "未嵌套在上级网格内 not inside its parent",
    parent_not_union: "上级网格不等于下级之和 parent is not the union of its grids",
    gap: "网格之间有空隙 gap between grids",
    overlap: "网格重叠 grids overlap",
    outside_county: "超出县界 outside the county",
    not_contiguous: "网格不连片 grid not contiguous",
    shared_substation: "变电站重复 substation heads two grids",
    substation_outside: "变电站在网格外 substation outside its grid",
  };
  const OP_ZH = { move: "移动村庄 move", split: "拆分网格 split", merge: "合并网格 merge" };

  const state = {
    version: null, // the grids version the map shows: every save is based on it
    features: {}, // grid_id -> GeoJSON feature (all tiers)
    villages: [],
    byCode: {},
    selected: null, // village code
    options: {}, // grid_id -> option of GET /grids/moves for the selected village
    edit: null, // the edit previewed (a body of POST /grids/preview)
    drawn: null, // the drawn polygon layer
  };
  const layers = { tiers: {}, villages: null, problems: null, gridLayers: {}, markers: {} };
  let map = null;
  const msgEl = () => document.getElementById("planner-message");
  const say = (text, kind) => gg.message(msgEl(), text, kind);
  const $ = (id) => document.getElementById(id);
  const esc = (t) => gg.escapeHtml(t);

  function colourOf(id) {
    let h = 0;
    for (const ch of String(id || "")) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    return Number(value).toLocaleString("zh-CN", {
      minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0,
    });
  }

  function gridName(id) {
    const f = state.features[id];
    return f ? `${f.properties.name || id}` : String(id);
  }

  // ------------------------------------------------------------------ map layers

  function tier3Style(feature) {
    const p = feature.properties;
    return { color: "#374151", weight: 1, fillColor: colourOf(p.parent_id), fillOpacity: 0.22,
      className: "gg-grid gg-g-" + p.grid_id };
  }

  function drawGrids(collection) {
    for (const layer of Object.values(layers.tiers)) map.removeLayer(layer);
    layers.tiers = {};
    layers.gridLayers = {};
    state.features = {};
    for (const f of collection.features) state.features[f.properties.grid_id] = f;
    const of = (tier) => ({
      type: "FeatureCollection",
      features: collection.features.filter((f) => f.properties.tier === tier),
    });
    layers.tiers[3] = L.geoJSON(of(3), {
      style: tier3Style,
      onEachFeature: (feature, layer) => {
        const p = feature.properties;
        layers.gridLayers[p.grid_id] = layer;
        layer.bindTooltip(`${esc(p.name)}<br>${esc(p.grid_id)} · 客户 ${fmt(p.customers)}`, { sticky: true });
        layer.on("click", () => onGridClick(p.grid_id));
      },
    });
    layers.tiers[2] = L.geoJSON(of(2), {
      style: (f) => ({ color: colourOf(f.properties.grid_id), weight: 3, fill: false,
        className: "gg-grid2 gg-g-" + f.properties.grid_id }),
      interactive: false,
    });
    layers.tiers[1] = L.geoJSON(of(1), {
      style: { color: "#111827", weight: 2.5, fill: false, dashArray: "6 4" },
      interactive: false,
    });
    applyTiers();
    const bounds = layers.tiers[1].getBounds();
    if (bounds.isValid() && !state.fitted) {
      map.invalidateSize(); // the grid layout may have resized the map since it was made
      map.fitBounds(bounds, { padding: [8, 8] });
      state.fitted = true;
    }
  }

  function drawVillages() {
    if (layers.villages) map.removeLayer(layers.villages);
    layers.markers = {};
    layers.villages = L.layerGroup();
    for (const v of state.villages) {
      const marker = L.circleMarker([v.lat, v.lon], {
        radius: 5, color: "#111827", weight: 1, fillColor: "#fff", fillOpacity: 1,
        className: "gg-village gg-v-" + v.village_code,
      });
      marker.bindTooltip(esc(v.village), {
        permanent: true, direction: "right", offset: [5, 0], className: "gg-village-label",
      });
      marker.on("click", (e) => {
        L.DomEvent.stopPropagation(e);
        selectVillage(v.village_code);
      });
      layers.markers[v.village_code] = marker;
      marker.addTo(layers.villages);
    }
    layers.villages.addTo(map);
    applyNames();
  }

  function applyTiers() {
    const boxes = document.querySelectorAll("#tiers input[value]");
    for (const box of boxes) {
      const layer = layers.tiers[Number(box.value)];
      if (!layer) continue;
      if (box.checked) layer.addTo(map);
      else map.removeLayer(layer);
    }
    if (layers.tiers[2] && map.hasLayer(layers.tiers[2])) layers.tiers[2].bringToFront();
    if (layers.tiers[1] && map.hasLayer(layers.tiers[1])) layers.tiers[1].bringToFront();
  }

  function applyNames() {
    const show = $("show-names").checked && map.getZoom() >= 11;
    for (const marker of Object.values(layers.markers)) {
      const tip = marker.getTooltip();
      if (!tip) continue;
      if (show) marker.openTooltip();
      else marker.closeTooltip();
    }
  }

  function resetHighlights() {
    for (const [id, layer] of Object.entries(layers.gridLayers)) {
      layer.setStyle(tier3Style(state.features[id]));
      const el = layer.getElement && layer.getElement();
      if (el) el.classList.remove("gg-may-join", "gg-may-not-join");
    }
    for (const [code, marker] of Object.entries(layers.markers)) {
      marker.setStyle({ radius: code === state.selected ? 8 : 5,
        fillColor: code === state.selected ? "#dc2626" : "#fff" });
    }
  }

  // ------------------------------------------------------------------ loading

  async function loadAll() {
    const [villages, grids, versions] = await Promise.all([
      gg.api("GET", "/grids/villages"),
      gg.api("GET", "/grids"),
      gg.api("GET", "/grids/versions"),
    ]);
    state.version = villages.version;
    state.villages = villages.villages;
    state.byCode = {};
    for (const v of state.villages) state.byCode[v.village_code] = v;
    drawGrids(grids);
    drawVillages();
    fillVillageList();
    fillGridSelects();
    drawHistory(versions);
    $("version-label").textContent = `当前版本 version ${state.version}`;
    $("planner").dataset.version = String(state.version);
  }

  function fillVillageList() {
    const list = $("village-list");
    list.innerHTML = "";
    for (const v of state.villages) {
      const option = document.createElement("option");
      option.value = v.village_code;
      option.label = `${v.village}（${v.town || ""}）`;
      option.textContent = `${v.village}（${v.town || ""}）`;
      list.appendChild(option);
    }
  }

  function tier3Ids() {
    return Object.values(state.features)
      .filter((f) => f.properties.tier === 3)
      .map((f) => f.properties.grid_id)
      .sort();
  }

  function fillGridSelects() {
    for (const id of ["op-grid", "merge-with", "drawn-to"]) {
      const select = $(id);
      const keep = select.value;
      select.innerHTML = "";
      for (const gid of tier3Ids()) {
        const option = document.createElement("option");
        option.value = gid;
        option.textContent = `${gridName(gid)}（${gid}）`;
        select.appendChild(option);
      }
      if (keep && state.features[keep]) select.value = keep;
    }
  }

  function drawHistory(versions) {
    const body = $("history").querySelector("tbody");
    body.innerHTML = "";
    const current = Math.max(...versions.map((v) => v.version));
    for (const v of versions.slice().reverse()) {
      const tr = document.createElement("tr");
      const when = String(v.created_at || "").replace("T", " ").slice(0, 16);
      const from = v.restored_from ? `（恢复自版本 ${v.restored_from} restored）` : "";
      // the button sits in the first column: on a phone the table scrolls sideways
      tr.innerHTML = `<td>${esc(v.version)}<br></td><td>${esc(when)}</td><td>${esc(v.author)}</td>` +
        `<td>${esc(v.reason)}${esc(from)}</td>`;
      if (v.version !== current) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "gg-button gg-secondary gg-restore";
        button.dataset.version = String(v.version);
        button.textContent = "恢复 Restore";
        button.addEventListener("click", () => restore(button, v.version));
        tr.firstChild.appendChild(button);
      } else {
        tr.firstChild.appendChild(document.createTextNode("当前 current"));
      }
      body.appendChild(tr);
    }
  }

  // ------------------------------------------------------------------ selecting

  function findVillage(text) {
    const q = String(text || "").trim();
    if (!q) return null;
    if (state.byCode[q]) return [state.byCode[q]];
    const exact = state.villages.filter((v) => v.village === q);
    if (exact.length) return exact;
    return state.villages.filter((v) => v.village.includes(q) || v.village_code.startsWith(q));
  }

  function onSearch() {
    const text = $("village-search").value;
    const found = findVillage(text);
    if (!found || found.length === 0) {
      say(`查找村庄：没有“${text}” / find a village: no village named or coded ${JSON.stringify(text)} — 输入村名或12位村代码 / type a village name or its 12-digit code`, "error");
      return;
    }
    if (found.length > 1) {
      const list = found.slice(0, 8).map((v) => `${v.village}（${v.town}）${v.village_code}`).join("；");
      say(`查找村庄：“${text}”有 ${found.length} 个，请选代码 / ${found.length} villages match, pick one by code: ${list}`, "info");
      return;
    }
    selectVillage(found[0].village_code);
  }

  async function selectVillage(code) {
    const v = state.byCode[code];
    if (!v) return;
    state.selected = code;
    state.options = {};
    resetHighlights();
    $("village-search").value = code;
    $("selected").hidden = false;
    $("selected-name").textContent = `${v.village}（${v.village_code}）`;
    $("selected-where").textContent =
      `${v.town || ""} · 现属 now in ${gridName(v.grid_id)} · 客户 ${fmt(v.customers)}`;
    const list = $("move-options");
    list.innerHTML = "<li class='gg-muted'>查询中… / looking…</li>";
    map.panTo([v.lat, v.lon]);
    try {
      const out = await gg.api("GET", "/grids/moves?village=" + encodeURIComponent(code));
      if (state.selected !== code) return;
      list.innerHTML = "";
      for (const option of out.options) {
        state.options[option.grid_id] = option;
        const layer = layers.gridLayers[option.grid_id];
        if (layer) {
          layer.setStyle(option.ok
            ? { color: "#15803d", weight: 3, fillColor: "#22c55e", fillOpacity: 0.45 }
            : { color: "#b91c1c", weight: 2, dashArray: "5 4", fillOpacity: 0.08 });
          const el = layer.getElement && layer.getElement();
          if (el) el.classList.add(option.ok ? "gg-may-join" : "gg-may-not-join");
        }
        const li = document.createElement("li");
        if (option.ok) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "gg-button gg-secondary gg-move-to";
          button.dataset.grid = option.grid_id;
          button.textContent = `移入 ${option.name}（${option.grid_id}）`;
          button.addEventListener("click", () => previewMove(code, option.grid_id));
          li.appendChild(button);
        } else {
          const why = String(option.problems || "").split("，").filter(Boolean)
            .map((p) => PROBLEM_ZH[p] || p).join("、");
          li.className = "gg-no";
          li.textContent = `不可移入 ${option.name}（${option.grid_id}）：${why}`;
        }
        list.appendChild(li);
      }
      if (!out.options.length) {
        list.innerHTML = "<li class='gg-no'>没有相邻的其他网格 / no neighbouring grid</li>";
      } else if (!out.options.some((o) => o.ok)) {
        say(`${v.village}：移出会使原网格不连片或为空，不能移入任何相邻网格 / moving it out would break its grid: it may join none of its neighbours`, "info");
      }
    } catch (err) {
      list.innerHTML = "";
      say(err, "error");
    }
  }

  function onGridClick(gridId) {
    if (state.selected && state.options[gridId]) {
      const option = state.options[gridId];
      if (option.ok) previewMove(state.selected, gridId);
      else say(`不可移入 ${option.name}：${option.problems.split("，").map((p) => PROBLEM_ZH[p] || p).join("、")}`, "error");
      return;
    }
    $("op-grid").value = gridId;
  }

  // ------------------------------------------------------------------ preview

  function previewMove(code, gridId) {
    const v = state.byCode[code];
    return preview(
      { op: "move", village_codes: [code], to_grid_id: gridId },
      `${v ? v.village : code} 从 ${gridName(v && v.grid_id)} 移入 ${gridName(gridId)} / move into ${gridId}`
    );
  }

  async function preview(edit, what) {
    say("正在预览… / previewing…", "info");
    try {
      const out = await gg.api("POST", "/grids/preview", edit);
      state.edit = edit;
      showPreview(out, what);
      if (out.base_version !== state.version) {
        say(`网格已被他人修改为版本 ${out.base_version}（本页为版本 ${state.version}），保存会被拒绝：请刷新页面 / the grids changed meanwhile (version ${out.base_version}); a save will be refused: reload the page`, "error");
      } else if (out.problems.length) {
        say(`这个调整有 ${out.problems.length} 个拓扑问题，不能保存（地图上红点）/ the edit breaks ${out.problems.length} topology rule(s) and cannot be saved (red marks on the map)`, "error");
      } else {
        say("预览完成，尚未保存 / preview ready, nothing saved yet", "ok");
      }
    } catch (err) {
      say(err, "error");
    }
  }

  function targetWorkload() {
    const loads = Object.values(state.features)
      .filter((f) => f.properties.tier === 3)
      .map((f) => Number(f.properties.workload) || 0);
    return loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : null;
  }

  function arrow(before, after, digits, unit) {
    if ((before === null || before === undefined) && (after === null || after === undefined)) return "—";
    const change = (after ?? 0) - (before ?? 0);
    const cls = change > 0 ? "gg-up" : change < 0 ? "gg-down" : "";
    const sign = change > 0 ? "+" : "";
    const delta = before === null || after === null ? "" :
      ` <span class="${cls}">(${sign}${fmt(change, digits)}${unit || ""})</span>`;
    return `${fmt(before, digits)}${unit || ""} → ${fmt(after, digits)}${unit || ""}${delta}`;
  }

  function showPreview(out, what) {
    $("preview").hidden = false;
    $("preview-what").textContent = `${OP_ZH[state.edit.op] || state.edit.op}：${what}（基于版本 based on version ${out.base_version}）`;
    const target = targetWorkload();
    const body = $("diff").querySelector("tbody");
    body.innerHTML = "";
    for (const row of out.kpi_diff) {
      const tr = document.createElement("tr");
      tr.dataset.grid = row.grid_id;
      const tier = row.tier === 3 ? "三级" : row.tier === 2 ? "二级" : "一级";
      const vsTarget = row.tier === 3 && target
        ? ` / 目标 ${fmt(target)}（${fmt(100 * (row.workload_after - target) / target, 0)}%）` : "";
      tr.innerHTML =
        `<td>${esc(gridName(row.grid_id))}<br><span class="gg-muted">${esc(row.grid_id)} · ${tier}</span></td>` +
        `<td class="gg-customers">${arrow(row.customers_before, row.customers_after, 0)}</td>` +
        `<td>${fmt(row.workload_after)}${vsTarget}</td>` +
        `<td>${arrow(row.imbalance_pct_before, row.imbalance_pct_after, 1, "%")}</td>` +
        `<td>${arrow(row.repair_ok_pct_before ?? null, row.repair_ok_pct_after ?? null, 1, "%")}</td>` +
        `<td>${arrow(row.payment_ok_pct_before ?? null, row.payment_ok_pct_after ?? null, 1, "%")}</td>`;
      body.appendChild(tr);
    }
    drawProblems(out.problems);
    $("save-button").disabled = out.problems.length > 0;
  }

  function drawProblems(problems) {
    if (layers.problems) map.removeLayer(layers.problems);
    layers.problems = L.layerGroup().addTo(map);
    const list = $("problems");
    list.innerHTML = "";
    for (const p of problems) {
      const name = PROBLEM_ZH[p.problem] || p.problem;
      const li = document.createElement("li");
      const ids = [p.grid_id, p.other_id].filter((x) => x !== null && x !== undefined).join(" / ");
      li.textContent = `${name}：${ids}${p.detail ? " — " + p.detail : ""}`;
      list.appendChild(li);
      const at = p.location;
      if (Array.isArray(at) && at.length === 2) {
        L.circleMarker([at[1], at[0]], { radius: 9, color: "#b91c1c", weight: 3, fillOpacity: 0.3,
          className: "gg-problem" })
          .bindPopup(`${esc(name)}<br>${esc(ids)}`)
          .addTo(layers.problems);
      }
    }
  }

  function clearPreview() {
    state.edit = null;
    $("preview").hidden = true;
    if (layers.problems) map.removeLayer(layers.problems);
  }

  // ------------------------------------------------------------------ save, restore

  async function save(event) {
    event.preventDefault();
    if (!state.edit) return;
    const reason = $("save-reason").value.trim();
    if (!reason) {
      say("调整原因：请填写为什么调整 / reason: say why the grids change (required)", "error");
      $("save-reason").focus();
      return;
    }
    const body = Object.assign({}, state.edit, {
      author: $("planner").dataset.username,
      reason,
      expected_version: state.version,
    });
    $("save-button").disabled = true;
    try {
      const out = await gg.api("POST", "/grids/save", body);
      $("save-reason").value = "";
      clearPreview();
      state.selected = null;
      $("selected").hidden = true;
      const saved = `已保存为版本 ${out.version}（原版本 ${out.previous_version}）/ saved as version ${out.version}`;
      say(saved + " · 正在刷新地图 / refreshing the map…", "ok");
      await loadAll();
      say(saved, "ok");
    } catch (err) {
      if (err.status === 409) {
        // the server's own text names library calls: the page says it in the planner's words
        say(`保存被拒绝：其他人已保存了新版本，本页显示的版本 ${state.version} 已过期，未保存任何内容。请刷新页面，在最新网格上重新调整。/ refused: someone saved a newer version after version ${state.version}; nothing was saved. Reload the page and redo the edit.`, "error");
      } else {
        say(err, "error");
      }
      $("save-button").disabled = false;
    }
  }

  async function restore(button, version) {
    if (button.dataset.confirm !== "1") {
      button.dataset.confirm = "1";
      button.textContent = `确认恢复到版本 ${version}? Confirm`;
      return;
    }
    button.disabled = true;
    try {
      const out = await gg.api("POST", "/grids/restore", {
        version,
        expected_version: state.version,
        reason: `恢复到版本 ${version} / restore version ${version}`,
      });
      clearPreview();
      const restored = `已恢复版本 ${version}，保存为版本 ${out.version} / restored version ${version} as version ${out.version}`;
      say(restored + " · 正在刷新地图 / refreshing the map…", "ok");
      await loadAll();
      say(restored, "ok");
    } catch (err) {
      if (err.status === 409) {
        say(`恢复被拒绝：其他人已保存了新版本，未保存任何内容，请刷新页面 / refused: someone saved a newer version; nothing was saved, reload the page.`, "error");
      } else {
        say(err, "error");
      }
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ split, merge, draw

  function previewSplit() {
    const grid = $("op-grid").value;
    const k = Number($("split-k").value);
    if (!Number.isInteger(k) || k < 2) {
      say("拆为几个网格：请填不小于 2 的整数 / parts: give a whole number of at least 2", "error");
      return;
    }
    preview({ op: "split", grid_id: grid, k }, `${gridName(grid)} 拆为 ${k} 个 / split into ${k}`);
  }

  function previewMerge() {
    const a = $("op-grid").value;
    const b = $("merge-with").value;
    if (a === b) {
      say("合并：请选两个不同的网格 / merge: pick two different grids", "error");
      return;
    }
    preview({ op: "merge", grid_ids: [a, b] }, `${gridName(a)} + ${gridName(b)}`);
  }

  function insideRing(x, y, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function drawnVillages() {
    if (!state.drawn) return [];
    const rings = state.drawn.toGeoJSON().geometry.coordinates; // [outer, holes...]
    return state.villages.filter((v) =>
      insideRing(v.lon, v.lat, rings[0]) && !rings.slice(1).some((h) => insideRing(v.lon, v.lat, h)));
  }

  function onDrawn(layer) {
    if (state.drawn) map.removeLayer(state.drawn);
    state.drawn = layer;
    const inside = drawnVillages();
    $("drawn").hidden = false;
    $("drawn-villages").textContent = inside.length
      ? `多边形内 ${inside.length} 个村 / villages inside: ` + inside.map((v) => v.village).join("、")
      : "多边形内没有村庄，请重画 / no village inside the polygon: draw it again over the villages";
    if (inside.length) {
      const counts = {};
      for (const v of inside) counts[v.grid_id] = (counts[v.grid_id] || 0) + 1;
      $("drawn-to").value = Object.entries(counts).sort((a, b) => b[1] - a[1])[0][0];
    }
  }

  function previewDrawn() {
    const to = $("drawn-to").value;
    const codes = drawnVillages().filter((v) => v.grid_id !== to).map((v) => v.village_code);
    if (!codes.length) {
      say("重划：多边形内没有其他网格的村 / redraw: the polygon holds no village of another grid", "error");
      return;
    }
    preview({ op: "move", village_codes: codes, to_grid_id: to },
      `${codes.length} 个村划入 ${gridName(to)} / ${codes.length} villages into ${to}`);
  }

  // ------------------------------------------------------------------ start

  document.addEventListener("DOMContentLoaded", async () => {
    map = gg.map("map");
    map.on("zoomend", applyNames);
    if (map.pm) {
      map.pm.setLang("zh");
      map.pm.addControls({
        position: "topright", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
        drawRectangle: true, drawPolygon: true, drawCircle: false, drawText: false,
        editMode: false, dragMode: false, cutPolygon: false, removalMode: true, rotateMode: false,
      });
      map.on("pm:create", (e) => onDrawn(e.layer));
      map.on("pm:remove", (e) => {
        if (e.layer === state.drawn) {
          state.drawn = null;
          $("drawn").hidden = true;
        }
      });
    }
    for (const box of document.querySelectorAll("#tiers input[value]")) box.addEventListener("change", applyTiers);
    $("show-names").addEventListener("change", applyNames);
    $("village-find").addEventListener("click", onSearch);
    $("village-search").addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        onSearch();
      }
    });
    $("village-search").addEventListener("change", () => {
      if (state.byCode[$("village-search").value.trim()]) onSearch();
    });
    $("split-preview").addEventListener("click", previewSplit);
    $("merge-preview").addEventListener("click", previewMerge);
    $("drawn-preview").addEventListener("click", previewDrawn);
    $("save-form").addEventListener("submit", save);
    $("cancel-button").addEventListener("click", () => {
      clearPreview();
      say("已取消，未保存 / cancelled, nothing saved", "info");
    });
    try {
      await loadAll();
      $("planner").dataset.ready = "1";
    } catch (err) {
      say(err, "error");
    }
  });
})();
