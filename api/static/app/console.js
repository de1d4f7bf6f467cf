/* The dispatcher console (调度台): find a fault, the nearest available station, whom to call,
 * create the work order, station availability, open orders. Every answer comes from the JSON
 * routes (GET /dispatch, /customers/{id}, /dispatch/stations, /orders), as for any client. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const esc = gg.escapeHtml;
  const root = $("console");
  const username = root.dataset.username;
  const OPEN_STATUSES = ["reported", "dispatched", "departed", "arrived", "repaired"];
  const ORDERS_SHOWN = 50;
  const COORDS = /^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,，\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;
  const CUSTOMER_NUMBER = /^\s*\d{6,20}\s*$/;
  const REASON_ZH = {
    ok: "",
    over_limit: "超出时限 over the limit",
    unavailable: "不可派 unavailable",
    no_crews: "无班组 no crews",
    unreachable: "无法到达 unreachable",
    too_far_from_road: "离道路过远 too far from a road",
    isolated_road_piece: "道路不通 isolated road piece",
    outside_county: "在县外 outside the county",
  };

  let board = { stations: [], unavailable: [] };
  let lastQuery = null; // the fault of the last answer, as GET /dispatch parameters
  const map = gg.map("map");
  const stationLayer = L.layerGroup().addTo(map);
  const answerLayer = L.layerGroup().addTo(map);

  const minutes = (s) => (s == null || !isFinite(s) ? null : Math.ceil(s / 6) / 10);
  const showMinutes = (s) => {
    const m = minutes(s);
    return m == null ? "—" : `${m.toFixed(1)} 分钟 min`;
  };
  const datum = () => document.querySelector('input[name="datum"]:checked').value;

  function stationName(id) {
    const s = board.stations.find((x) => x.station_id === id);
    return s && s.name ? `${s.name}（${id}）` : String(id);
  }

  /* ------------------------------------------------------------------ the map's layers */
  async function drawBase() {
    try {
      const [county, grids] = await Promise.all([
        gg.api("GET", "/grids?tier=1"),
        gg.api("GET", "/grids?tier=3"),
      ]);
      L.geoJSON(grids, {
        style: { color: "#94a3b8", weight: 1, fillOpacity: 0.04 },
        onEachFeature: (f, layer) => layer.bindTooltip(esc(f.properties.name || f.properties.grid_id)),
      }).addTo(map).bringToBack();
      const outline = L.geoJSON(county, { style: { color: "#334155", weight: 2, fill: false }, interactive: false }).addTo(map);
      if (outline.getBounds().isValid()) map.fitBounds(outline.getBounds(), { padding: [8, 8] });
    } catch (err) {
      gg.message($("search-message"), "地图底图未能加载 / the county layers did not load: " + err.message, "error");
    }
  }

  function drawStations() {
    stationLayer.clearLayers();
    for (const s of board.stations) {
      if (s.lon == null) continue;
      const on = s.status === "on_duty";
      L.circleMarker([s.lat, s.lon], {
        radius: 7, color: on ? "#15803d" : "#b45309", fillColor: on ? "#22c55e" : "#f59e0b",
        fillOpacity: 0.9, weight: 2,
      }).bindTooltip(`${esc(s.name)}（${esc(s.station_id)}）${esc(s.status_zh)}`).addTo(stationLayer);
    }
  }

  /* ------------------------------------------------------------------ station availability */
  async function loadStations() {
    board = await gg.api("GET", "/dispatch/stations");
    renderStations();
  }

  function renderStations() {
    const body = $("stations").querySelector("tbody");
    body.innerHTML = board.stations.map((s) => `
      <tr data-station-id="${esc(s.station_id)}" data-status="${esc(s.status)}">
        <td>${esc(s.name)}<br><span class="gg-muted">${esc(s.station_id)}</span></td>
        <td>${esc(s.crews)}</td>
        <td><select aria-label="${esc(s.name)} 状态 status" data-station-id="${esc(s.station_id)}">
          ${[["on_duty", "在岗 on duty"], ["busy", "忙碌 busy"], ["out", "外出 out"]].map(([v, t]) =>
            `<option value="${v}"${v === s.status ? " selected" : ""}>${t}</option>`).join("")}
        </select></td>
        <td class="gg-muted">${s.updated_by ? esc(s.updated_by) + "<br>" + esc(s.updated_at) : ""}</td>
      </tr>`).join("");
    drawStations();
  }

  $("stations").addEventListener("change", async (event) => {
    const select = event.target.closest("select[data-station-id]");
    if (!select) return;
    const id = select.dataset.stationId;
    select.disabled = true;
    try {
      board = await gg.api("PUT", `/dispatch/stations/${encodeURIComponent(id)}`, { status: select.value });
      renderStations();
      const s = board.stations.find((x) => x.station_id === id);
      gg.message($("stations-message"), `${s.name}（${id}）已设为 ${s.status_zh} / set to ${s.status}`, "ok");
      if (lastQuery) await runDispatch(lastQuery); // the answer follows the new board
    } catch (err) {
      gg.message($("stations-message"), err, "error");
      select.disabled = false;
      await loadStations().catch(() => {});
    }
  });

  /* ------------------------------------------------------------------ search and dispatch */
  function queryFromText(text) {
    text = (text || "").trim();
    if (!text) return null;
    const coords = COORDS.exec(text);
    if (coords) return { lon: Number(coords[1]), lat: Number(coords[2]), datum: datum() };
    if (CUSTOMER_NUMBER.test(text)) return { customer_id: text.trim() };
    return { address: text };
  }

  function describe(q) {
    if (q.customer_id) return `户号 customer ${q.customer_id}`;
    if (q.address) return `地址 address「${q.address}」`;
    return `坐标 ${q.lon},${q.lat}（${q.datum.toUpperCase()}）`;
  }

  async function runDispatch(q) {
    const params = new URLSearchParams({ contacts: "true" });
    for (const [k, v] of Object.entries(q)) params.set(k, String(v));
    if (board.unavailable.length) params.set("unavailable", board.unavailable.join(","));
    gg.message($("search-message"), `正在查询 ${describe(q)} … / searching…`, "info");
    $("search-button").disabled = true;
    try {
      const calls = [gg.api("GET", "/dispatch?" + params.toString())];
      if (q.customer_id) calls.push(gg.api("GET", `/customers/${encodeURIComponent(q.customer_id)}`));
      const [answer, customer] = await Promise.all(calls);
      lastQuery = q;
      showAnswer(q, answer, customer);
      gg.message($("search-message"), `已定位 ${describe(q)} / located`, "ok");
    } catch (err) {
      let text = err.message;
      if (err.status === 404 && q.customer_id) {
        text = `未找到户号 ${q.customer_id} / no customer with this number: check the number on the bill, or search by address.\n` + err.message;
      } else if (err.status === 422) {
        text = "输入有误 / check the search box and the datum: " + err.message;
      }
      gg.message($("search-message"), text, "error");
    } finally {
      $("search-button").disabled = false;
    }
  }

  function contactRows(answer, customer) {
    const rows = [];
    const phone = (p) => (p ? `<a href="tel:${esc(p)}">${esc(p)}</a>` : '<span class="gg-muted">—</span>');
    if (customer && customer.customer) {
      const c = customer.customer;
      rows.push(["客户 Customer", `${esc(c.name || "")}（${esc(c.customer_id)}）<br>${esc(c.address || "")}`, phone(c.phone)]);
    }
    const p = answer.contact;
    if (p) {
      rows.push(["网格长 Grid manager", esc(p.manager || "—"), phone(p.phone)]);
      rows.push(["网格员 Grid members", esc(p.members || "—"),
        p.phone ? phone(p.phone) + ' <span class="gg-muted">（经网格长 via the manager）</span>' : phone(null)]);
      rows.push(["党员联络员 Party-member liaison", esc(p.liaison || "—"), phone(p.liaison_phone)]);
    } else {
      rows.push(["网格 Grid", '<span class="gg-warn-text">不在任何网格 / in no grid</span>', ""]);
    }
    return rows.map(([role, who, tel]) => `<tr><td>${role}</td><td>${who}</td><td>${tel}</td></tr>`).join("");
  }

  function showAnswer(q, answer, customer) {
    $("result").hidden = false;
    const box = $("answer");
    box.dataset.stationId = answer.station_id == null ? "" : answer.station_id;
    box.dataset.etaS = answer.eta_s == null ? "" : String(answer.eta_s);
    box.dataset.withinLimit = String(Boolean(answer.within_limit));
    if (answer.station_id == null) {
      $("answer-station").textContent = "没有可派的抢修站 / no available station reaches the fault";
      $("answer-eta").textContent = "";
      $("answer-promise").innerHTML = `<span class="gg-bad-text">${esc(REASON_ZH[answer.reason] || answer.reason)}</span>`;
    } else {
      $("answer-station").textContent = stationName(answer.station_id);
      $("answer-eta").textContent = showMinutes(answer.eta_s);
      $("answer-promise").innerHTML = answer.within_limit
        ? '<span class="gg-ok-text">30分钟内可到达 ✓ within the 30-minute promise</span>'
        : '<span class="gg-bad-text">超过30分钟 ✗ over the 30-minute promise</span>';
    }
    $("answer-route").textContent = answer.route_km == null ? "" : `路程 route ${Number(answer.route_km).toFixed(1)} km`;
    const g = answer.grid || {};
    const by = { customer: "按户号 by customer", address: "按地址 by address", point: "按坐标 by coordinates" }[answer.fault.located_by] || answer.fault.located_by;
    $("answer-place").textContent = [
      `${by}: ${Number(answer.fault.lon).toFixed(5)}, ${Number(answer.fault.lat).toFixed(5)} (WGS84)`,
      [g.grid_t2_name, g.grid_t3_name].filter(Boolean).join(" / "),
    ].filter(Boolean).join(" · ");
    const doubts = answer.doubts || [];
    $("answer-doubts").innerHTML = doubts.map((d) => `<li data-code="${esc(d.code)}">⚠ ${esc(d.text)}</li>`).join("");
    $("contacts").querySelector("tbody").innerHTML = contactRows(answer, customer);
    $("options").querySelector("tbody").innerHTML = (answer.options || []).map((o) => {
      const status = o.available ? "可派 available" : (REASON_ZH[o.reason] && o.reason !== "ok" ? REASON_ZH[o.reason] : "不可派 unavailable");
      const chosen = o.station_id === answer.station_id;
      return `<tr data-station-id="${esc(o.station_id)}"${chosen ? ' class="gg-chosen"' : ""}>
        <td>${chosen ? "★ " : ""}${esc(o.name || o.station_id)}</td>
        <td>${showMinutes(o.eta_s)}</td>
        <td>${o.eta_s == null ? "—" : o.within_limit ? '<span class="gg-ok-text">✓</span>' : '<span class="gg-bad-text">✗</span>'}</td>
        <td>${esc(status)}</td></tr>`;
    }).join("");
    $("create-order").disabled = answer.station_id == null;
    gg.message($("order-message"), "", "info");
    drawAnswer(answer);
  }

  function drawAnswer(answer) {
    answerLayer.clearLayers();
    const fault = [answer.fault.lat, answer.fault.lon];
    L.circleMarker(fault, { radius: 9, color: "#b91c1c", fillColor: "#ef4444", fillOpacity: 0.9, weight: 3, className: "gg-fault" })
      .bindTooltip("故障点 fault").addTo(answerLayer);
    let bounds = L.latLngBounds([fault]);
    if (answer.route && answer.route.geometry) {
      const route = L.geoJSON(answer.route, {
        style: { color: "#1d4ed8", weight: 5, opacity: 0.85, className: "gg-route" },
      }).addTo(answerLayer);
      bounds = bounds.extend(route.getBounds());
    }
    map.fitBounds(bounds.pad(0.3), { maxZoom: 15 });
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = queryFromText($("q").value);
    if (!q) {
      gg.message($("search-message"), "请输入户号、地址、村名或坐标 / type a customer number, an address, a village or coordinates (搜索框 the search box)", "error");
      $("q").focus();
      return;
    }
    runDispatch(q);
  });

  map.on("click", (event) => {
    const lon = Number(event.latlng.lng.toFixed(6));
    const lat = Number(event.latlng.lat.toFixed(6));
    $("q").value = `${lon},${lat}`;
    const wgs = document.querySelector('input[name="datum"][value="wgs84"]');
    wgs.checked = true; // a click on this map is WGS84: the map's data are
    runDispatch({ lon, lat, datum: "wgs84" });
  });

  /* ------------------------------------------------------------------ work orders */
  function newOrderId() {
    // GD + China time yyyyMMddHHmmss + 2 random digits (the sample's numbers are GD + date + 4)
    const now = new Date(Date.now() + 8 * 3600 * 1000).toISOString().replace(/\D/g, "").slice(0, 14);
    return "GD" + now + String(Math.floor(Math.random() * 100)).padStart(2, "0");
  }

  $("create-order").addEventListener("click", async () => {
    if (!lastQuery) return;
    const button = $("create-order");
    button.disabled = true;
    const body = Object.assign({ author: username, kind: "fault", source: "95598", unavailable: board.unavailable }, lastQuery);
    for (let attempt = 0; attempt < 3; attempt++) {
      body.order_id = newOrderId();
      try {
        const made = await gg.api("POST", "/dispatch", body);
        const o = made.order;
        const box = $("order-message");
        box.dataset.orderId = o.order_id;
        gg.message(box, `已创建工单 ${o.order_id}，派 ${stationName(o.station_id)}，预计 ${showMinutes(o.predicted_eta_s)} / work order created`, "ok");
        await loadOrders();
        button.disabled = false;
        return;
      } catch (err) {
        if (err.status === 409 && attempt < 2) continue; // the number was just taken: a new one
        gg.message($("order-message"), "工单未创建 / not created: " + err.message, "error");
        button.disabled = false;
        return;
      }
    }
  });

  async function loadOrders() {
    try {
      const pages = await Promise.all(OPEN_STATUSES.map(async (status) => {
        let page = await gg.api("GET", `/orders?status=${status}&limit=${ORDERS_SHOWN}`);
        if (page.total > ORDERS_SHOWN) { // the newest numbers are last
          page = await gg.api("GET", `/orders?status=${status}&limit=${ORDERS_SHOWN}&offset=${page.total - ORDERS_SHOWN}`);
        }
        return page.orders;
      }));
      const orders = pages.flat().sort((a, b) => String(b.reported_at).localeCompare(String(a.reported_at))).slice(0, ORDERS_SHOWN);
      const body = $("orders").querySelector("tbody");
      body.innerHTML = orders.length
        ? orders.map((o) => `<tr data-order-id="${esc(o.order_id)}" data-status="${esc(o.status)}">
            <td>${esc(o.order_id)}</td><td>${esc(o.status_zh || o.status)}</td><td>${esc(o.kind_zh || o.kind)}</td>
            <td>${esc(o.station_id ? stationName(o.station_id) : "—")}</td>
            <td>${esc(String(o.reported_at || "").replace("T", " ").slice(0, 16))}</td></tr>`).join("")
        : '<tr><td colspan="5" class="gg-muted">没有未办结的工单 / no open work orders</td></tr>';
      gg.message($("orders-message"), "", "info");
    } catch (err) {
      gg.message($("orders-message"), "工单列表未能加载 / the order list did not load: " + err.message, "error");
    }
  }
  $("orders-refresh").addEventListener("click", loadOrders);

  /* ------------------------------------------------------------------ start */
  drawBase();
  loadStations().catch((err) => gg.message($("stations-message"), err, "error"));
  loadOrders();
})();
