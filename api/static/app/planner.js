/* The planner's map editor (网格规划): grids by tier on an offline map, move a village,
 * split, merge, redraw by a drawn polygon; the preview's KPI diff and topology problems;
 * save as a new version; history and restore.
 *
 * Also: reassign a supply grid to another substation (click a substation ▲ on the map), and
 * compare two versions on the map (A dashed, B filled, the villages that changed grids
 * ringed, a table of what changed).
 *
 * Reads and writes only through the JSON routes (gg.api): GET /grids, /grids/villages,
 * /grids/moves, /grids/versions, /grids/substations, /grids/compare; POST /grids/preview,
 * /grids/save, /grids/restore.
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
  const OP_ZH = {
    move: "移动村庄 move", split: "拆分网格 split", merge: "合并网格 merge",
    reassign: "更换变电站 reassign substation",
  };
  const STATUS_ZH = {
    added: "新增 added", removed: "删除 removed", changed: "有变化 changed", same: "不变 same",
  };

  const state = {
    version: null, // the grids version the map shows: every save is based on it
    features: {}, // grid_id -> GeoJSON feature (all tiers)
    villages: [],
    byCode: {},
    selected: null, // village code
    options: {}, // grid_id -> option of GET /grids/moves for the selected village
    edit: null, // the edit previewed (a body of POST /grids/preview)
    drawn: null, // the drawn polygon layer
    substations: [], // GET /grids/substations
    versions: [], // GET /grids/versions
    comparing: false, // a comparison is drawn over the map
  };
  const layers = {
    tiers: {}, villages: null, problems: null, gridLayers: {}, markers: {}, substations: null,
    compare: null,
  };
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
      if (box.checked && !state.comparing) layer.addTo(map);
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
    const [villages, grids, versions, substations] = await Promise.all([
      gg.api("GET", "/grids/villages"),
      gg.api("GET", "/grids"),
      gg.api("GET", "/grids/versions"),
      gg.api("GET", "/grids/substations"),
    ]);
    state.substations = substations.substations;
    state.versions = versions;
    state.version = villages.version;
    state.villages = villages.villages;
    state.byCode = {};
    for (const v of state.villages) state.byCode[v.village_code] = v;
    drawGrids(grids);
    drawVillages();
    drawSubstations();
    fillVillageList();
    fillGridSelects();
    fillReassign();
    fillCompare();
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
    const parent = state.features[gridId] && state.features[gridId].properties.parent_id;
    if (parent && state.features[parent]) $("reassign-grid").value = parent;
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
      const sub = row.substation_after !== undefined && row.substation_before !== row.substation_after
        ? `<br><span class="gg-substation-change">变电站 ${esc(row.substation_before || "—")} → ${esc(row.substation_after || "—")}</span>` : "";
      tr.innerHTML =
        `<td>${esc(gridName(row.grid_id))}<br><span class="gg-muted">${esc(row.grid_id)} · ${tier}</span>${sub}</td>` +
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

  // after a save or restore: the outputs of `gridgeo run` (archive, map, its picture,
  // summary, service reports) in the workspace's folder are older than the grids until the
  // run refreshes them; the answer names each one (label: "地图 map")
  function staleNote(out) {
    const stale = (out.outputs || []).filter((o) => o.state === "stale").map((o) => o.label);
    return stale.length
      ? ` · 已过期 / now out of date: ${stale.join("、")} — 请运行 gridgeo run 刷新 / run gridgeo run`
      : "";
  }

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
      say(saved + staleNote(out), "ok");
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
      say(restored + staleNote(out), "ok");
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

  // ------------------------------------------------------------------ reassign a substation

  function substationLabel(sub) {
    const heads = sub.grid_id
      ? `现带 heads ${gridName(sub.grid_id)}`
      : "未带网格 heads no grid";
    return `${sub.name || sub.substation_id}（${sub.substation_id}，${heads}）`;
  }

  function drawSubstations() {
    if (layers.substations) map.removeLayer(layers.substations);
    layers.substations = L.layerGroup();
    for (const sub of state.substations) {
      if (sub.lat === null || sub.lon === null) continue;
      const free = !sub.grid_id;
      const icon = L.divIcon({
        className: `gg-substation gg-s-${sub.substation_id}${free ? " gg-free" : ""}`,
        html: "▲", iconSize: [22, 22], iconAnchor: [11, 13],
      });
      const marker = L.marker([sub.lat, sub.lon], { icon, keyboard: true,
        title: substationLabel(sub) });
      marker.on("click", (e) => {
        L.DomEvent.stopPropagation(e);
        pickSubstation(sub.substation_id);
      });
      marker.addTo(layers.substations);
    }
    layers.substations.addTo(map);
  }

  function fillReassign() {
    const grids = $("reassign-grid");
    const keep = grids.value;
    grids.innerHTML = "";
    const t2 = Object.values(state.features).filter((f) => f.properties.tier === 2)
      .map((f) => f.properties).sort((a, b) => String(a.grid_id).localeCompare(String(b.grid_id)));
    for (const p of t2) {
      const option = document.createElement("option");
      option.value = p.grid_id;
      option.textContent = `${p.name || p.grid_id}（${p.grid_id}，变电站 ${p.substation_id || "—"}）`;
      grids.appendChild(option);
    }
    if (keep && state.features[keep]) grids.value = keep;
    const subs = $("reassign-substation");
    const keepSub = subs.value;
    subs.innerHTML = "";
    const sorted = state.substations.slice().sort((a, b) =>
      (a.grid_id ? 1 : 0) - (b.grid_id ? 1 : 0) || String(a.substation_id).localeCompare(String(b.substation_id)));
    for (const sub of sorted) {
      const option = document.createElement("option");
      option.value = sub.substation_id;
      option.textContent = substationLabel(sub);
      subs.appendChild(option);
    }
    if (keepSub && sorted.some((x) => x.substation_id === keepSub)) subs.value = keepSub;
  }

  function pickSubstation(id) {
    $("reassign-substation").value = id;
    const sub = state.substations.find((x) => x.substation_id === id);
    const grid = $("reassign-grid").value;
    say(`已选变电站 ${sub ? substationLabel(sub) : id}，供电网格 ${gridName(grid)}：点“预览换变电站” / substation picked for ${grid}: press Preview reassign`, "info");
    $("reassign-preview").scrollIntoView({ block: "nearest" });
  }

  function previewReassign() {
    const grid = $("reassign-grid").value;
    const sub = $("reassign-substation").value;
    if (!grid || !sub) {
      say("更换变电站：请选供电网格和变电站 / reassign: pick a supply grid and a substation", "error");
      return;
    }
    const now = state.features[grid] && state.features[grid].properties.substation_id;
    if (now === sub) {
      say(`更换变电站：${gridName(grid)} 已由 ${sub} 供电，请选另一个变电站 / reassign: ${grid} is already headed by ${sub}, pick another substation`, "error");
      return;
    }
    preview({ op: "reassign", grid_id: grid, substation_id: sub },
      `${gridName(grid)}：变电站 ${now || "—"} → ${sub} / substation ${now || "—"} → ${sub}`);
  }

  // ------------------------------------------------------------------ compare two versions

  function fillCompare() {
    const versions = state.versions.map((v) => v.version).sort((a, b) => a - b);
    for (const [id, pick] of [["compare-a", versions.length - 2], ["compare-b", versions.length - 1]]) {
      const select = $(id);
      const keep = select.value;
      select.innerHTML = "";
      for (const v of versions.slice().reverse()) {
        const option = document.createElement("option");
        option.value = String(v);
        option.textContent = `版本 ${v}${v === state.version ? "（当前 current）" : ""}`;
        select.appendChild(option);
      }
      if (keep && versions.includes(Number(keep))) select.value = keep;
      else if (versions.length) select.value = String(versions[Math.max(pick, 0)]);
    }
  }

  function clearCompare() {
    if (layers.compare) map.removeLayer(layers.compare);
    layers.compare = null;
    state.comparing = false;
    $("compare-result").hidden = true;
    $("compare-clear").hidden = true;
    $("planner").dataset.compared = "";
    applyTiers();
  }

  async function compareVersions() {
    const a = Number($("compare-a").value);
    const b = Number($("compare-b").value);
    if (!a || !b) {
      say("版本对比：请选两个版本 / compare: pick two versions", "error");
      return;
    }
    say("正在对比… / comparing…", "info");
    try {
      const [out, gridsA, gridsB] = await Promise.all([
        gg.api("GET", `/grids/compare?version_a=${a}&version_b=${b}`),
        gg.api("GET", `/grids?tier=3&version=${a}`),
        gg.api("GET", `/grids?tier=3&version=${b}`),
      ]);
      drawCompare(out, gridsA, gridsB);
      say(`版本 ${a} → ${b}：${out.villages_moved} 个村换了网格，${out.grids_changed} 个网格有变化 / ${out.villages_moved} villages changed grids, ${out.grids_changed} grids changed`, "ok");
    } catch (err) {
      say(err, "error");
    }
  }

  function drawCompare(out, gridsA, gridsB) {
    if (layers.compare) map.removeLayer(layers.compare);
    for (const layer of Object.values(layers.tiers)) map.removeLayer(layer);
    state.comparing = true;
    const changed = new Set(out.grids.map((g) => g.grid_id));
    layers.compare = L.layerGroup().addTo(map);
    L.geoJSON(gridsB, {
      style: (f) => ({
        color: "#1d4ed8", weight: changed.has(f.properties.grid_id) ? 2 : 1,
        fillColor: colourOf(f.properties.parent_id),
        fillOpacity: changed.has(f.properties.grid_id) ? 0.45 : 0.15,
        className: "gg-cmp-b gg-cmp-g-" + f.properties.grid_id,
      }),
      interactive: false,
    }).addTo(layers.compare);
    L.geoJSON(gridsA, {
      style: (f) => ({
        color: "#111827", weight: 2, dashArray: "6 5", fill: false,
        className: "gg-cmp-a gg-cmp-g-" + f.properties.grid_id,
      }),
      interactive: false,
    }).addTo(layers.compare);
    for (const v of out.villages) {
      if (v.lat === null || v.lon === null) continue;
      L.circleMarker([v.lat, v.lon], {
        radius: 10, color: "#ea580c", weight: 4, fillColor: "#fdba74", fillOpacity: 0.9,
        className: "gg-cmp-village gg-cmp-v-" + v.village_code,
      }).bindTooltip(`${esc(v.village || v.village_code)}：${esc(v.grid_a || "—")} → ${esc(v.grid_b || "—")}`)
        .addTo(layers.compare);
    }
    if (layers.villages) layers.villages.eachLayer((m) => m.bringToFront());
    const moved = out.villages.filter((v) => v.lat !== null && v.lon !== null);
    if (moved.length) { // show where the villages changed grids
      map.fitBounds(L.latLngBounds(moved.map((v) => [v.lat, v.lon])).pad(0.8), { maxZoom: 12 });
    }

    $("compare-result").hidden = false;
    $("compare-clear").hidden = false;
    $("compare-summary").textContent =
      `版本 A ${out.version_a}（虚线 dashed）→ 版本 B ${out.version_b}（填色 filled）：` +
      `${out.villages_moved} 个村换了网格（橙色圈）、${out.grids_changed} 个网格有变化 / ` +
      `${out.villages_moved} villages changed grids (orange rings), ${out.grids_changed} grids changed`;
    const vbody = $("compare-villages").querySelector("tbody");
    vbody.innerHTML = "";
    for (const v of out.villages) {
      const tr = document.createElement("tr");
      tr.dataset.village = v.village_code;
      tr.innerHTML = `<td>${esc(v.village || "")}<br><span class="gg-muted">${esc(v.village_code)} · ${esc(v.town || "")}</span></td>` +
        `<td>${esc(v.grid_name_a || "—")}<br><span class="gg-muted">${esc(v.grid_a || "")}</span></td>` +
        `<td>${esc(v.grid_name_b || "—")}<br><span class="gg-muted">${esc(v.grid_b || "")}</span></td>`;
      vbody.appendChild(tr);
    }
    if (!out.villages.length) {
      vbody.innerHTML = "<tr><td colspan='3' class='gg-muted'>没有村换网格 / no village changed grids</td></tr>";
    }
    const gbody = $("compare-grids").querySelector("tbody");
    gbody.innerHTML = "";
    for (const g of out.grids) {
      const tr = document.createElement("tr");
      tr.dataset.grid = g.grid_id;
      const tier = g.tier === 3 ? "三级" : g.tier === 2 ? "二级" : "一级";
      const sub = g.substation_a === g.substation_b ? esc(g.substation_b || "—")
        : `${esc(g.substation_a || "—")} → ${esc(g.substation_b || "—")}`;
      tr.innerHTML =
        `<td>${esc(g.name_b || g.name_a || g.grid_id)}<br><span class="gg-muted">${esc(g.grid_id)} · ${tier}</span></td>` +
        `<td class="gg-customers">${arrow(g.customers_a, g.customers_b, 0)}</td>` +
        `<td>${fmt(g.villages_a)} → ${fmt(g.villages_b)}</td>` +
        `<td>${sub}</td><td>${esc(STATUS_ZH[g.status] || g.status)}</td>`;
      gbody.appendChild(tr);
    }
    $("planner").dataset.compared = `${out.version_a}-${out.version_b}`;
    $("compare-result").scrollIntoView({ block: "nearest" });
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
    $("reassign-preview").addEventListener("click", previewReassign);
    $("compare-button").addEventListener("click", compareVersions);
    $("compare-clear").addEventListener("click", () => {
      clearCompare();
      say("已结束对比 / comparison ended", "info");
    });
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
