/* /my: my grids' customers (search, flags, service levels) and work orders (arrival, callback).
 * Reads GET /customers and GET /orders (the API limits both to the user's grids) and writes
 * with PATCH /orders/{id}; every error is shown on the page in Chinese with the fix. */
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

  loadCustomers(false);
  loadOrders();
})();
