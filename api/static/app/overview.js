/* /overview: the county's key figures for the leadership (aggregates only): GET /kpis,
 * GET /reports/month/{last month}, GET /stars. No customer is named on this page. */
(function () {
  "use strict";
  const root = document.getElementById("overview");
  const esc = gg.escapeHtml;
  const month = root.dataset.month;

  function pct(share) {
    return share === null || share === undefined ? "—" : (share * 100).toFixed(1) + "%";
  }

  function minutes(seconds) {
    return seconds === null || seconds === undefined ? "—" : (seconds / 60).toFixed(1) + " 分钟";
  }

  function figure(key, value, label) {
    return `<div class="gg-figure" data-figure="${key}"><span class="gg-value">${value}</span>
      <span class="gg-label">${label}</span></div>`;
  }

  async function loadKpis() {
    const box = document.getElementById("kpi-message");
    try {
      const [kpis, grids] = await Promise.all([
        gg.api("GET", "/kpis"),
        gg.api("GET", "/grids?tier=2"),
      ]);
      const c = kpis.county;
      document.getElementById("kpi-figures").innerHTML = [
        figure("customers", Number(c.customers).toLocaleString("zh-CN"), "客户数 customers"),
        figure("repair_share_ok", pct(c.repair_share_ok), "30 分钟抢修达标率"),
        figure("payment_share_ok", pct(c.payment_share_ok), "10 分钟缴费达标率"),
        figure("repair_median_eta_s", minutes(c.repair_median_eta_s), "抢修到达时间中位数"),
        figure("repair_share_ok_vulnerable", pct(c.repair_share_ok_vulnerable), "重点关怀客户抢修达标率"),
      ].join("");
      const names = new Map(grids.features.map((f) => [String(f.properties.grid_id), f.properties.name]));
      document.querySelector("#tier2-table tbody").innerHTML = kpis.tier2
        .filter((row) => names.has(String(row.grid_id)))
        .map((row) => `<tr data-grid-id="${esc(row.grid_id)}"><td>${esc(names.get(String(row.grid_id)))}</td>
          <td>${Number(row.customers).toLocaleString("zh-CN")}</td>
          <td class="${row.repair_share_ok < 0.95 ? "gg-bad-text" : ""}">${pct(row.repair_share_ok)}</td>
          <td class="${row.payment_share_ok < 0.95 ? "gg-bad-text" : ""}">${pct(row.payment_share_ok)}</td></tr>`)
        .join("");
    } catch (err) {
      gg.message(box, err.message, "error");
    }
  }

  function value(row) {
    if (row.value === null || row.value === undefined) return "—";
    const v = Number(row.value);
    const shown = Number.isInteger(v) ? String(v) : v.toFixed(1);
    return `${shown} ${esc(row.unit || "")}`;
  }

  async function loadReport() {
    const box = document.getElementById("report-message");
    document.getElementById("report-month").textContent = month;
    try {
      const data = await gg.api("GET", `/reports/month/${encodeURIComponent(month)}`);
      const rows = (data.tiers.county || []);
      const met = rows.filter((r) => r.result === "达标").length;
      const missed = rows.filter((r) => r.result === "未达标").length;
      document.getElementById("report-headline").textContent =
        `${data.month}：工单 ${data.orders} 件（上月 ${data.previous_orders} 件），考核指标达标 ${met} 项、未达标 ${missed} 项`;
      document.querySelector("#report-table tbody").innerHTML = rows.map((r) => `<tr data-figure="${esc(r.figure)}">
        <td>${esc(r.figure_zh)}</td><td>${value(r)}</td>
        <td>${r.target === null || r.target === undefined ? "—" : esc(r.op) + " " + esc(r.target)}</td>
        <td>${r.change === null || r.change === undefined ? "—" : (r.change > 0 ? "+" : "") + Number(r.change).toFixed(1)}</td>
        <td class="${r.result === "未达标" ? "gg-bad-text" : r.result === "达标" ? "gg-ok-text" : ""}">${esc(r.result)}</td></tr>`).join("");
    } catch (err) {
      gg.message(box, err.status === 404
        ? "工作区还没有工单，无法考核 / no work orders in the workspace yet: import them (gridgeo orders import)"
        : err.message, "error");
    }
  }

  async function loadStars() {
    const box = document.getElementById("star-message");
    try {
      const data = await gg.api("GET", "/stars");
      document.getElementById("star-week").textContent = `${data.week}（${data.start.slice(0, 10)} 至 ${data.end.slice(0, 10)}）`;
      document.getElementById("star-name").textContent = data.star
        ? `★ ${data.star.member} · ${data.star.grid_name} · ${data.star.score} 分`
        : "本周暂无服务之星 / no star this week (no scored orders)";
      document.getElementById("star-ranking").innerHTML = data.ranking.slice(0, 5).map((r) =>
        `<li>${esc(r.member)} · ${esc(r.grid_name)} · ${esc(r.score)} 分</li>`).join("");
    } catch (err) {
      gg.message(box, err.status === 404
        ? "工作区还没有工单 / no work orders in the workspace yet"
        : err.message, "error");
    }
  }

  loadKpis();
  loadReport();
  loadStars();
})();
