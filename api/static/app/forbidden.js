/* The 403 page: its "log out" button does what the header's button does (app.js). */
(function () {
  "use strict";
  const mine = document.getElementById("forbidden-logout");
  const header = document.getElementById("gg-logout");
  if (mine && header) {
    mine.addEventListener("click", () => header.click());
  } else if (mine) {
    mine.hidden = true;
  }
})();
