/* /my: my grids' customers (search, flags, service levels), work orders (arrival, callback)
 * and, for grid roles, this quarter's callbacks due and visit coverage.
 * Reads GET /customers, GET /orders and GET /visits/callbacks|coverage (the API limits them
 * to the user's grids) and writes with PATCH /orders/{id} and POST /visits; every error is
 * shown on the page in Chinese with the fix. */
(function () {
  "use strict";
  const root = document.getElementById("my");
  const esc = gg.escapeHtml;
  const PAGE = 20;
  const FLAG_TEXT = {
    repair: ["30 分钟抢修未达", "gg-bad"],
    payment: ["10 分钟缴费未达", "gg-bad"],
    gps: ["GPS 与地址不符", "gg-warn"],
    care: ["重点关怀", "gg-care"],
  };
  const REASON_ZH = {
    ok: "正常", over_limit: "超时", too_far_from_road: "离路太远",
    isolated_road_piece: "孤立路段", not_geocoded: "未定位", not_computed: "未计算",
  };
  const openStatuses = root.dataset.openStatuses.split(",");
  const arrivalStatuses = root.dataset.arrivalStatuses.split(",");
  const callbackStatus = root.dataset.callbackStatus;
  const author = root.dataset.author;

  const form = document.getElementById("customer-search");
  const list = document.getElementById("customer-list");
  const total = document.getElementById("customer-total");
  const more = document.getElementById("customer-more");
  const customerBox = document.getElementById("customer-message");
  const orderBox = document.getElementById("order-message");
  let offset = 0;

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    return (seconds / 60).toFixed(1) + " 分钟";
  }

  function level(label, ok, eta, reason) {
    const cls = ok ? "gg-ok-text" : "gg-bad-text";
    const word = ok ? "达标" : "未达标";
    const why = !ok && reason && reason !== "over_limit" ? `（${REASON_ZH[reason] || reason}）` : "";
    return `${label} <span class="${cls}">${minutes(eta)} ${word}${why}</span>`;
  }

  function customerItem(c) {
    const badges = Object.keys(FLAG_TEXT)
      .filter((f) => c["flag_" + f])
      .map((f) => `<span class="gg-badge ${FLAG_TEXT[f][1]}" data-flag="${f}">${FLAG_TEXT[f][0]}</span>`)
      .join("");
    const phone = c.phone ? `<a href="tel:${esc(c.phone)}">${esc(c.phone)}</a>` : "";
    return `<li data-customer-id="${esc(c.customer_id)}">
      <div class="gg-row-head"><strong class="gg-name">${esc(c.name || "")}</strong>
        <span class="gg-muted">户号 ${esc(c.customer_id)}</span> ${phone}</div>
      <div class="gg-address">${esc(c.address || "")}</div>
      <div class="gg-muted">${esc(c.village || "")} · ${esc(c.grid_t3 || "")}</div>
      <div class="gg-levels">${level("抢修", c.repair_ok, c.repair_eta_s, c.repair_reason)} ·
        ${level("缴费", c.payment_ok, c.payment_eta_s, c.payment_reason)}</div>
      <div class="gg-badges">${badges}</div></li>`;
  }

  function showCounts(counts) {
    const shown = [
      ["customers", "客户 customers"],
      ["repair", "30 分钟抢修未达"],
      ["payment", "10 分钟缴费未达"],
      ["gps", "GPS 与地址不符"],
      ["care", "重点关怀"],
    ];
    document.getElementById("my-counts").innerHTML = shown
      .map(([key, label]) => `<div class="gg-figure" data-count="${key}">
        <span class="gg-value">${Number(counts[key] || 0).toLocaleString("zh-CN")}</span>
        <span class="gg-label">${label}</span></div>`)
      .join("");
  }

  function query() {
    const params = new URLSearchParams();
    const q = form.q.value.trim();
    if (q) params.set("q", q);
    form.querySelectorAll('input[name="flag"]:checked').forEach((el) => params.append("flag", el.value));
    params.set("limit", String(PAGE));
    params.set("offset", String(offset));
    return params;
  }

  async function loadCustomers(append) {
    if (!append) offset = 0;
    if (form.q.value.trim().length > 100) {
      gg.message(customerBox, "查找内容过长 / the search text (户号、姓名或地址) is over 100 characters: shorten it", "error");
      return;
    }
    gg.message(customerBox, "正在查找… / searching…", "info");
    try {
      const data = await gg.api("GET", "/customers?" + query().toString());
      gg.message(customerBox, "");
      if (!append) {
        list.innerHTML = "";
        showCounts(data.counts);
      }
      list.insertAdjacentHTML("beforeend", data.customers.map(customerItem).join(""));
      offset = data.offset + data.customers.length;
      total.textContent = data.total
        ? `共 ${data.total} 户，已显示 ${offset} 户 / ${data.total} customers, ${offset} shown`
        : "没有符合条件的客户 / no customer matches: clear the search text or the flags";
      more.hidden = offset >= data.total;
    } catch (err) {
      gg.message(customerBox, err.message, "error");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadCustomers(false);
  });
  form.querySelectorAll('input[name="flag"]').forEach((el) => el.addEventListener("change", () => loadCustomers(false)));
  more.addEventListener("click", () => loadCustomers(true));

  // ------------------------------------------------------------------ work orders

  function chinaNow() {
    const parts = new Intl.DateTimeFormat("sv-SE", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false,
    }).format(new Date());
    return parts.replace(" ", "T");
  }

  function when(iso) {
    return iso ? iso.slice(0, 16).replace("T", " ") : "—";
  }

  function orderItem(o) {
    const canArrive = arrivalStatuses.includes(o.status);
    const canCall = o.status === callbackStatus;
    const actions = [
      canArrive ? `<button type="button" class="gg-button" data-action="arrival">登记到达 Arrived</button>` : "",
      canCall ? `<button type="button" class="gg-button" data-action="callback">登记回访 Called back</button>` : "",
    ].join("");
    return `<li data-order-id="${esc(o.order_id)}" data-status="${esc(o.status)}">
      <div class="gg-row-head"><strong>${esc(o.order_id)}</strong>
        <span>${esc(o.kind_zh || o.kind)}</span><span class="gg-badge gg-warn">${esc(o.status_zh || o.status)}</span></div>
      <div class="gg-muted">受理 ${when(o.reported_at)} · 户号 ${esc(o.customer_id || "—")} · ${esc(o.village || "")}</div>
      <div>${esc(o.address || "")}</div>
      <div class="gg-order-actions">${actions}</div></li>`;
  }

  async function ordersWith(status) {
    const data = await gg.api("GET", `/orders?status=${encodeURIComponent(status)}&limit=100`);
    return data;
  }

  async function loadOrders() {
    try {
      const answers = await Promise.all(openStatuses.map(ordersWith));
      const open = answers.flatMap((a) => a.orders);
      open.sort((a, b) => String(b.reported_at).localeCompare(String(a.reported_at)));
      const openTotal = answers.reduce((n, a) => n + a.total, 0);
      document.getElementById("open-orders").innerHTML = open.length
        ? open.map(orderItem).join("")
        : '<li class="gg-muted">没有处理中的工单 / no open work orders</li>';
      document.getElementById("open-count").textContent = `(${openTotal})`;
      const due = await ordersWith(callbackStatus);
      const rows = due.orders.slice().sort((a, b) => String(b.closed_at).localeCompare(String(a.closed_at)));
      document.getElementById("callback-orders").innerHTML = rows.length
        ? rows.map(orderItem).join("")
        : '<li class="gg-muted">没有待回访的工单 / no callbacks due</li>';
      document.getElementById("callback-count").textContent =
        due.total > rows.length ? `(${due.total}，显示最近 ${rows.length} / latest shown)` : `(${due.total})`;
    } catch (err) {
      gg.message(orderBox, err.message, "error");
    }
  }

  function openForm(item, action) {
    const old = item.querySelector(".gg-order-form");
    if (old) old.remove();
    const tpl = document.getElementById("order-form-template").content.cloneNode(true);
    const f = tpl.querySelector("form");
    f.dataset.action = action;
    f.at.value = chinaNow();
    if (action !== "callback") f.querySelector(".gg-callback-only").remove();
    f.querySelector("[data-cancel]").addEventListener("click", () => f.remove());
    f.addEventListener("submit", (event) => {
      event.preventDefault();
      save(item, f);
    });
    item.appendChild(tpl);
  }

  async function save(item, f) {
    const id = item.dataset.orderId;
    const at = f.at.value;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(at)) {
      gg.message(orderBox, "请填写时间 / fill in the time (时间 field) as date and hour:minute", "error");
      f.at.focus();
      return;
    }
    const time = at.slice(0, 16).replace("T", " ");
    const body = { author, reason: "" };
    if (f.dataset.action === "arrival") {
      body.arrived_at = time;
      body.reason = "网格人员登记到达现场 / arrival recorded on the grid page";
    } else {
      body.called_back_at = time;
      body.satisfaction = f.satisfaction.value;
      body.reason = "网格人员登记回访 / callback recorded on the grid page";
    }
    const button = f.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const data = await gg.api("PATCH", `/orders/${encodeURIComponent(id)}`, body);
      const status = data.order ? data.order.status_zh || data.order.status : "";
      await loadOrders(); // the lists first: the message then reads as the last word
      gg.message(orderBox, `已保存 / saved: 工单 ${id} → ${status}`, "ok");
    } catch (err) {
      gg.message(orderBox, `工单 ${id}：${err.message}`, "error");
      button.disabled = false;
    }
  }

  document.getElementById("my-orders").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    openForm(button.closest("li"), button.dataset.action);
  });

  // ------------------------------------------------------------------ visits and callbacks
  // (grid roles only: GET /visits/callbacks and /visits/coverage of this quarter, POST /visits)

  const visitCard = document.getElementById("my-visits");
  const visitBox = document.getElementById("visit-message");
  const visitList = document.getElementById("visit-due");
  const visitMore = document.getElementById("visit-more");
  const quarter = root.dataset.quarter;
  const isMember = root.dataset.role === "grid_member";
  let dueRows = [];
  let dueShown = 0;

  function share(part, whole) {
    return whole ? `${((100 * part) / whole).toFixed(1)}%` : "—";
  }

  function showCoverage(data) {
    const rows = data.by_grid;
    const sum = (key) => rows.reduce((n, r) => n + Number(r[key] || 0), 0);
    const customers = sum("customers");
    const two = sum("two_visits");
    const called = sum("called");
    const figures = [
      ["two_visits", share(two, customers), `全年两次家访 two visits this year (${two}/${customers})`],
      ["called", share(called, customers), `本季度已回访 called back this quarter (${called}/${customers})`],
      ["overdue", Number(data.overdue.length).toLocaleString("zh-CN"), "逾期客户 overdue customers"],
    ];
    document.getElementById("visit-coverage").innerHTML = figures
      .map(([key, value, label]) => `<div class="gg-figure" data-coverage="${key}">
        <span class="gg-value">${value}</span><span class="gg-label">${esc(label)}</span></div>`)
      .join("");
  }

  function dueItem(c) {
    const orders = [
      c.open_orders ? `处理中工单 open orders: ${esc(c.open_orders)}` : "",
      c.recent_orders ? `近期工单 recent orders: ${esc(c.recent_orders)}` : "",
    ].filter(Boolean).join(" · ");
    const reason = c.urgent
      ? `<span class="gg-badge gg-warn">先回访 first: 有工单</span> ${orders}`
      : '<span class="gg-muted">本季度未回访 not yet called this quarter</span>';
    const tries = c.attempts
      ? `<div class="gg-muted">已尝试 ${Number(c.attempts)} 次 attempts, 最近 last ${esc(c.last_attempt_at)}</div>`
      : "";
    const phone = c.phone ? `<a href="tel:${esc(c.phone)}">${esc(c.phone)}</a>` : "";
    return `<li data-customer-id="${esc(c.customer_id)}" data-member="${esc(c.member)}"
        data-urgent="${c.urgent ? "1" : "0"}">
      <div class="gg-row-head"><strong class="gg-name">${esc(c.name || "")}</strong>
        <span class="gg-muted">户号 ${esc(c.customer_id)}</span> ${phone}</div>
      <div class="gg-visit-reason">${reason}</div>
      <div class="gg-address">${esc(c.address || "")}</div>
      <div class="gg-muted">${esc(c.village || "")} · ${esc(c.grid_t3 || "")} · 网格员 ${esc(c.member || "")}</div>
      ${tries}
      <div class="gg-order-actions gg-visit-actions">
        <button type="button" class="gg-button" data-visit="callback">记录回访 Record a callback</button>
        <button type="button" class="gg-button gg-secondary" data-visit="home">记录走访 Record a home visit</button>
      </div></li>`;
  }

  function showDue(append) {
    if (!append) {
      visitList.innerHTML = "";
      dueShown = 0;
    }
    const next = dueRows.slice(dueShown, dueShown + PAGE);
    dueShown += next.length;
    if (!dueRows.length) {
      visitList.innerHTML = '<li class="gg-muted">本季度回访已全部完成 / every callback of this quarter is done</li>';
    } else {
      visitList.insertAdjacentHTML("beforeend", next.map(dueItem).join(""));
    }
    visitMore.hidden = dueShown >= dueRows.length;
    document.getElementById("visit-due-count").textContent = dueRows.length > dueShown
      ? `(${dueRows.length}，已显示 ${dueShown} / ${dueShown} shown)`
      : `(${dueRows.length})`;
  }

  async function loadVisits() {
    const q = encodeURIComponent(quarter);
    try {
      const [due, coverage] = await Promise.all([
        gg.api("GET", `/visits/callbacks?quarter=${q}`),
        gg.api("GET", `/visits/coverage?quarter=${q}`),
      ]);
      dueRows = due.callbacks;
      showDue(false);
      showCoverage(coverage);
    } catch (err) {
      gg.message(visitBox, `走访与回访 / visits: ${err.message}`, "error");
    }
  }

  function openVisitForm(item, kind) {
    const old = item.querySelector(".gg-visit-form");
    if (old) old.remove();
    const tpl = document.getElementById("visit-form-template").content.cloneNode(true);
    const f = tpl.querySelector("form");
    f.dataset.kind = kind;
    f.at.value = chinaNow();
    f.member.value = isMember ? author : item.dataset.member || "";
    const done = f.querySelector(".gg-done-only");
    f.outcome.addEventListener("change", () => {
      done.hidden = f.outcome.value !== "done";
    });
    f.querySelector("[data-cancel]").addEventListener("click", () => f.remove());
    f.addEventListener("submit", (event) => {
      event.preventDefault();
      saveVisit(item, f);
    });
    item.appendChild(tpl);
  }

  function visitId(kind, customer) {
    const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
    const tag = Math.random().toString(36).slice(2, 6).toUpperCase();
    return `${kind === "callback" ? "HF" : "JF"}-${customer}-${stamp}-${tag}`;
  }

  async function saveVisit(item, f) {
    const customer = item.dataset.customerId;
    const kind = f.dataset.kind;
    const what = kind === "callback" ? "回访 callback" : "走访 home visit";
    const at = f.at.value;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(at)) {
      gg.message(visitBox, "请填写时间 / fill in the time (时间 field) as date and hour:minute", "error");
      f.at.focus();
      return;
    }
    const member = f.member.value.trim();
    if (!member) {
      gg.message(visitBox, "请填写网格员 / fill in the member (网格员 field): who visited or called", "error");
      f.member.focus();
      return;
    }
    const body = {
      visit_id: visitId(kind, customer),
      kind,
      customer_id: customer,
      done_at: at.slice(0, 16).replace("T", " "),
      outcome: f.outcome.value,
      member,
      reason: kind === "callback"
        ? "网格页面记录回访 / callback recorded on the grid page"
        : "网格页面记录走访 / home visit recorded on the grid page",
    };
    if (f.outcome.value === "done") body.satisfaction = f.satisfaction.value;
    const notes = f.notes.value.trim();
    if (notes) body.notes = notes;
    const button = f.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const data = await gg.api("POST", "/visits", body);
      await loadVisits(); // the list and figures first: the message then reads as the last word
      const outcome = data.visit ? data.visit.outcome_zh || data.visit.outcome : "";
      gg.message(visitBox, `已保存 / saved: 户号 ${customer} ${what}（${outcome}）`, "ok");
    } catch (err) {
      gg.message(visitBox, `户号 ${customer} ${what}：${err.message}`, "error");
      button.disabled = false;
    }
  }

  if (visitCard) {
    visitCard.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-visit]");
      if (!button) return;
      openVisitForm(button.closest("li"), button.dataset.visit);
    });
    visitMore.addEventListener("click", () => showDue(true));
    loadVisits();
  }

  loadCustomers(false);
  loadOrders();
})();
