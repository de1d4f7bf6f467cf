/* /admin: users (list, add, role and grids, disable/enable, reset password) through
 * /admin/users..., and the audit log (GET /admin/audit, paged, filtered). Passwords from the
 * server are shown once on the page and never stored by the page. */
(function () {
  "use strict";
  const root = document.getElementById("admin");
  const esc = gg.escapeHtml;
  const gridRoles = root.dataset.gridRoles.split(",");
  const auditPage = Number(root.dataset.auditPage);
  const userBox = document.getElementById("user-message");
  const auditBox = document.getElementById("audit-message");
  const addForm = document.getElementById("add-user-form");
  const users = new Map();
  let auditOffset = 0;
  let auditTotal = 0;

  function gridList(text) {
    return String(text || "").split(/[,，、\s]+/).map((g) => g.trim()).filter(Boolean);
  }

  function showPassword(username, password) {
    document.getElementById("password-user").textContent = username;
    document.getElementById("password-value").textContent = password;
    document.getElementById("password-box").hidden = false;
  }

  function userItem(u) {
    const grids = (u.grids || []).join(", ");
    const state = u.disabled ? "停用 disabled" : "启用 active";
    const locked = u.locked_until ? ` · 锁定至 locked until ${esc(u.locked_until)}` : "";
    return `<li data-username="${esc(u.username)}">
      <div class="gg-row-head"><strong class="${u.disabled ? "gg-disabled" : ""}">${esc(u.username)}</strong>
        <span>${esc(u.display_name || "")}</span>
        <span class="gg-badge">${esc(u.role_zh)} ${esc(u.role)}</span>
        <span class="gg-muted" data-state>${state}${locked}</span></div>
      <div class="gg-muted">网格 grids: ${esc(grids || "—")}</div>
      <div class="gg-order-actions">
        <button type="button" class="gg-button gg-secondary" data-action="edit">改角色/网格 Role, grids</button>
        <button type="button" class="gg-button gg-secondary" data-action="toggle">${u.disabled ? "启用 Enable" : "停用 Disable"}</button>
        <button type="button" class="gg-button gg-secondary" data-action="reset">重置密码 Reset password</button>
      </div></li>`;
  }

  async function loadUsers() {
    try {
      const data = await gg.api("GET", "/admin/users");
      users.clear();
      data.users.forEach((u) => users.set(u.username, u));
      document.getElementById("user-list").innerHTML = data.users.map(userItem).join("");
    } catch (err) {
      gg.message(userBox, err.message, "error");
    }
  }

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = addForm.username.value.trim();
    const role = addForm.role.value;
    const grids = gridList(addForm.grids.value);
    if (!/^[\w.\-]{2,32}$/.test(username)) {
      gg.message(userBox, "用户名须为 2–32 个字母、数字或 . _ - / the username (用户名 field) must be 2 to 32 letters, digits, . _ or -", "error");
      addForm.username.focus();
      return;
    }
    if (gridRoles.includes(role) && !grids.length) {
      gg.message(userBox, "网格长、网格员须填写网格 / a grid manager or member needs their grids: fill in the 网格 field, e.g. T3-SUB02-01", "error");
      addForm.grids.focus();
      return;
    }
    const body = { username, role, grids: gridRoles.includes(role) ? grids : [] };
    const shown = addForm.display_name.value.trim();
    if (shown) body.display_name = shown;
    const button = document.getElementById("add-user-submit");
    button.disabled = true;
    try {
      const data = await gg.api("POST", "/admin/users", body);
      addForm.reset();
      await loadUsers(); // the list first: the message then reads as the last word
      gg.message(userBox, `已添加用户 / user added: ${data.user.username} (${data.user.role_zh})`, "ok");
      showPassword(data.user.username, data.password);
    } catch (err) {
      gg.message(userBox, err.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  function editForm(item, user) {
    const old = item.querySelector(".gg-user-edit");
    if (old) {
      old.remove();
      return;
    }
    const tpl = document.getElementById("user-edit-template").content.cloneNode(true);
    const f = tpl.querySelector("form");
    f.role.value = user.role;
    f.grids.value = (user.grids || []).join(", ");
    f.querySelector("[data-cancel]").addEventListener("click", () => f.remove());
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      const grids = gridList(f.grids.value);
      if (gridRoles.includes(f.role.value) && !grids.length) {
        gg.message(userBox, "网格长、网格员须填写网格 / a grid manager or member needs their grids: fill in the 网格 field", "error");
        f.grids.focus();
        return;
      }
      const body = { role: f.role.value, grids: gridRoles.includes(f.role.value) ? grids : [] };
      try {
        await gg.api("PATCH", `/admin/users/${encodeURIComponent(user.username)}`, body);
        await loadUsers();
        gg.message(userBox, `已保存 / saved: ${user.username}`, "ok");
      } catch (err) {
        gg.message(userBox, `${user.username}：${err.message}`, "error");
      }
    });
    item.appendChild(tpl);
  }

  document.getElementById("user-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const item = button.closest("li");
    const user = users.get(item.dataset.username);
    if (!user) return;
    const name = encodeURIComponent(user.username);
    try {
      if (button.dataset.action === "edit") {
        editForm(item, user);
      } else if (button.dataset.action === "toggle") {
        await gg.api("PATCH", `/admin/users/${name}`, { disabled: !user.disabled });
        await loadUsers();
        gg.message(userBox, `${user.username}：${user.disabled ? "已启用 enabled" : "已停用 disabled (sessions ended)"}`, "ok");
      } else if (button.dataset.action === "reset") {
        const data = await gg.api("POST", `/admin/users/${name}/password`, {});
        gg.message(userBox, `已重置密码 / password reset: ${user.username} (sessions ended)`, "ok");
        showPassword(data.username, data.password);
      }
    } catch (err) {
      gg.message(userBox, `${user.username}：${err.message}`, "error");
    }
  });

  // ------------------------------------------------------------------ audit log

  const auditForm = document.getElementById("audit-form");

  function what(row) {
    const value = row.what;
    if (value === null || value === undefined || value === "") return "";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > 160 ? text.slice(0, 160) + "…" : text;
  }

  async function loadAudit() {
    const params = new URLSearchParams({ limit: String(auditPage), offset: String(auditOffset) });
    for (const key of ["username", "route", "start", "end"]) {
      const value = auditForm[key].value.trim();
      if (value) params.set(key, value);
    }
    if (auditForm.start.value && auditForm.end.value && auditForm.end.value <= auditForm.start.value) {
      gg.message(auditBox, "止日期须晚于起日期 / the 止 To date must be after the 起 From date", "error");
      return;
    }
    try {
      const data = await gg.api("GET", "/admin/audit?" + params.toString());
      gg.message(auditBox, "");
      auditTotal = data.total;
      document.querySelector("#audit-table tbody").innerHTML = data.rows.map((r) => `<tr>
        <td>${esc(r.at || r.time || r.created_at || "")}</td><td>${esc(r.username)}</td>
        <td>${esc(r.method)}</td><td>${esc(r.route)}</td><td>${esc(r.target || "")}</td>
        <td>${esc(r.status)}</td><td>${esc(what(r))}</td></tr>`).join("");
      const last = Math.min(auditOffset + data.rows.length, auditTotal);
      document.getElementById("audit-total").textContent = auditTotal
        ? `共 ${auditTotal} 条，第 ${auditOffset + 1}–${last} 条 / ${auditTotal} rows, ${auditOffset + 1}–${last} shown`
        : "没有符合条件的记录 / no audit rows match: clear a filter";
      document.getElementById("audit-prev").disabled = auditOffset === 0;
      document.getElementById("audit-next").disabled = last >= auditTotal;
    } catch (err) {
      gg.message(auditBox, err.message, "error");
    }
  }

  auditForm.addEventListener("submit", (event) => {
    event.preventDefault();
    auditOffset = 0;
    loadAudit();
  });
  document.getElementById("audit-prev").addEventListener("click", () => {
    auditOffset = Math.max(0, auditOffset - auditPage);
    loadAudit();
  });
  document.getElementById("audit-next").addEventListener("click", () => {
    auditOffset += auditPage;
    loadAudit();
  });

  loadUsers();
  loadAudit();
})();
