/* gridgeo pages: the shared helpers (window.gg). No build step, no CDN.
 *
 * gg.api(method, url, body)  fetch JSON with the session cookie; writes carry X-CSRF-Token.
 *                            Throws gg.ApiError (message = the answer's `detail`, plus row
 *                            `errors`; .status, .body, .retryAfter).
 * gg.message(el, text, kind) show a message on the page (kind: "info" | "ok" | "error").
 * gg.map(el, options)        a Leaflet map with NO tile layer (offline); EPSG:4326 data.
 * gg.outline(map)            draw the tier-1 grid (the county) from GET /grids?tier=1.
 */
(function () {
  "use strict";

  class ApiError extends Error {
    constructor(message, status, body, retryAfter) {
      super(message);
      this.name = "ApiError";
      this.status = status;
      this.body = body;
      this.retryAfter = retryAfter;
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function setCsrfToken(value) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) meta.setAttribute("content", value || "");
  }

  const STATUS_TEXT = {
    400: "输入有误 / bad input",
    401: "请先登录 / please log in",
    403: "无权限 / not allowed for your role",
    404: "未找到 / not found",
    409: "冲突：数据已被他人修改 / changed meanwhile: reload and try again",
    413: "请求过大 / request too large",
    422: "输入有误 / invalid input",
    429: "请求过多，请稍后再试 / too many requests: wait and try again",
    500: "服务器出错，已记录 / server error (logged for the administrator)",
    503: "服务繁忙，请稍后再试 / service busy: try again shortly",
  };

  function detailOf(status, body) {
    let text = "";
    if (body && typeof body === "object") {
      if (typeof body.detail === "string") text = body.detail;
      else if (Array.isArray(body.detail)) {
        text = body.detail.map((d) => (d && d.msg) || String(d)).join("; ");
      }
      const rows = Array.isArray(body.errors) ? body.errors : [];
      if (rows.length) {
        const lines = rows.slice(0, 10).map((r) => {
          if (!r || typeof r !== "object") return String(r);
          if (r.msg) return (r.loc ? r.loc.filter((p) => p !== "body").join(".") + ": " : "") + r.msg;
          return Object.entries(r).map(([k, v]) => `${k}: ${v}`).join(", ");
        });
        text = [text, ...lines].filter(Boolean).join("\n");
      }
    } else if (typeof body === "string") {
      text = body.slice(0, 300);
    }
    return text || STATUS_TEXT[status] || `HTTP ${status}`;
  }

  async function api(method, url, body) {
    method = (method || "GET").toUpperCase();
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError("无法连接服务器 / cannot reach the server: check the network", 0, null);
    }
    const type = response.headers.get("content-type") || "";
    let data = null;
    if (type.includes("json")) {
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
    } else {
      data = await response.text();
    }
    if (!response.ok) {
      const wait = Number(response.headers.get("retry-after")) || null;
      throw new ApiError(detailOf(response.status, data), response.status, data, wait);
    }
    return data;
  }

  function message(el, text, kind) {
    if (typeof el === "string") el = document.querySelector(el);
    if (!el) el = document.getElementById("gg-message");
    if (!el) return;
    if (text instanceof Error) text = text.message;
    el.textContent = text || "";
    el.dataset.kind = kind || "info";
    el.classList.remove("gg-info", "gg-ok", "gg-error");
    el.classList.add("gg-" + (kind || "info"));
    el.hidden = !text;
  }

  function map(el, options) {
    if (typeof el === "string") el = document.getElementById(el) || document.querySelector(el);
    if (!window.L) throw new Error("Leaflet is not loaded: add leaflet.js before the page script");
    const opts = Object.assign(
      { center: [27.2, 116.53], zoom: 10, attributionControl: false, zoomSnap: 0.25 },
      options || {}
    );
    const m = window.L.map(el, opts); // no tile layer: offline, the workspace's own layers only
    m.attributionControl = window.L.control.attribution({ prefix: false }).addTo(m);
    m.attributionControl.addAttribution("gridgeo · WGS84 (EPSG:4326)");
    return m;
  }

  async function outline(m, style) {
    const data = await api("GET", "/grids?tier=1");
    const layer = window.L.geoJSON(data, {
      style: Object.assign({ color: "#4b5563", weight: 2, fill: false }, style || {}),
      interactive: false,
    }).addTo(m);
    const bounds = layer.getBounds();
    if (bounds.isValid()) m.fitBounds(bounds, { padding: [10, 10] });
    return layer;
  }

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }

  window.gg = {
    ApiError, api, message, map, outline, csrfToken, setCsrfToken, escapeHtml,
  };

  document.addEventListener("DOMContentLoaded", () => {
    const logout = document.getElementById("gg-logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        try {
          await api("POST", "/auth/logout");
        } catch (err) {
          /* already logged out or session gone: go to the login page anyway */
        }
        window.location.assign("/login");
      });
    }
  });
})();
