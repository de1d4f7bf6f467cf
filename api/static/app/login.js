/* The login page: POST /auth/login (JSON), then go to the role's page. */
(function () {
  "use strict";
  const form = document.getElementById("login-form");
  const box = document.getElementById("login-message");
  const button = document.getElementById("login-submit");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username) {
      gg.message(box, "请输入用户名 / enter your username (用户名 field)", "error");
      form.username.focus();
      return;
    }
    if (!password) {
      gg.message(box, "请输入密码 / enter your password (密码 field)", "error");
      form.password.focus();
      return;
    }
    button.disabled = true;
    gg.message(box, "正在登录… / logging in…", "info");
    try {
      await gg.api("POST", "/auth/login", { username, password });
      window.location.assign(form.dataset.next || "/");
    } catch (err) {
      let text;
      if (err.status === 401) {
        text = "用户名或密码错误 / wrong username or password: check both and try again";
      } else if (err.status === 429) {
        const wait = err.retryAfter;
        const minutes = wait ? Math.ceil(wait / 60) : null;
        text = "登录失败次数过多，账户已暂时锁定 / too many failed logins, locked" +
          (wait ? `：请 ${minutes} 分钟（${wait} 秒）后再试 / try again in ${wait} s` : "") +
          "\n" + err.message;
      } else {
        text = err.message;
      }
      gg.message(box, text, "error");
      form.password.value = "";
      form.password.focus();
      button.disabled = false;
    }
  });
})();
