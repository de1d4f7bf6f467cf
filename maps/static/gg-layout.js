/* gridgeo county map: docks the panels so that none covers another (see gg-layout.css).
 *
 * Desktop: the key figures and the problem villages in a column on the left, the legend and
 * the layer list in a column on the right; each panel folds to its title. Phone (<= 600 px):
 * the figures are a strip at the top (a tap shows the whole table) and the legend, the layers
 * and the problem villages open from the buttons 图例 / 图层 / 问题村 at the bottom, one at a
 * time, and close again. The map is then fitted to the part of the screen the panels leave
 * free. Runs in the page's <head>: marks the page `gg-js` at once, docks after the map is made.
 */
(function () {
  "use strict";
  var root = document.documentElement;
  root.className += " gg-js";

  var PHONE = "screen and (max-width: 600px)";
  // [panel key, Chinese, English] of the phone's buttons, in order
  var SHEETS = [
    ["legend", "图例", "Legend"],
    ["layers", "图层", "Layers"],
    ["problems", "问题村", "Problems"]
  ];
  var MARGIN_PX = 10;

  function el(tag, className, html) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (html) node.innerHTML = html;
    return node;
  }

  function findMap() {
    if (!window.L || !L.Map) return null;
    for (var key in window) {
      try {
        if (window[key] instanceof L.Map) return window[key];
      } catch (err) {
        // a cross-origin or throwing global: not the map
      }
    }
    return null;
  }

  function countyBounds(map) {
    var bounds = null;
    map.eachLayer(function (layer) {
      if (!(layer instanceof L.GeoJSON) || !layer.getLayers().length) return;
      var b = layer.getBounds();
      if (!b.isValid()) return;
      bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
    });
    return bounds;
  }

  function heading(panel, zh, en) {
    var title = panel.querySelector(":scope > .gg-title");
    if (!title) {
      title = el("div", "gg-title", zh + ' <span class="gg-en">' + en + "</span>");
      panel.insertBefore(title, panel.firstChild);
    }
    return title;
  }

  function setup() {
    var map = findMap();
    var panels = {
      figures: document.getElementById("gg-figures"),
      legend: document.getElementById("gg-legend"),
      layers: document.querySelector(".leaflet-control-layers"),
      problems: document.getElementById("gg-problems")
    };
    if (!panels.figures) return;
    if (panels.layers) {
      panels.layers.id = "gg-layers-panel";
      panels.layers.classList.add("leaflet-control-layers-expanded");
      heading(panels.layers, "图层", "Layers");
    }
    if (panels.problems) heading(panels.problems, "问题村", "Problem villages");

    var left = el("div", "gg-dock");
    left.id = "gg-dock-left";
    var right = el("div", "gg-dock");
    right.id = "gg-dock-right";
    var bar = el("nav");
    bar.id = "gg-bar";
    bar.setAttribute("aria-label", "图例 / 图层 / 问题村");
    document.body.appendChild(left);
    document.body.appendChild(right);
    document.body.appendChild(bar);
    // clicks and wheel turns on a panel must not pan or zoom the map below it
    if (window.L && L.DomEvent) {
      [left, right, bar].forEach(function (dock) {
        L.DomEvent.disableClickPropagation(dock);
        L.DomEvent.disableScrollPropagation(dock);
      });
    }

    var phone = window.matchMedia ? window.matchMedia(PHONE) : { matches: false };
    var buttons = {};

    // on a phone one thing at a time opens over the map: a sheet or the whole figures table
    function open(key) {
      if (key) panels.figures.classList.remove("gg-full");
      SHEETS.forEach(function (sheet) {
        var name = sheet[0];
        var shown = name === key && !!panels[name];
        if (panels[name]) panels[name].classList.toggle("gg-open", shown);
        if (buttons[name]) buttons[name].setAttribute("aria-expanded", shown ? "true" : "false");
      });
    }

    SHEETS.forEach(function (sheet) {
      var key = sheet[0];
      if (!panels[key]) return;
      var button = el("button", "", sheet[1] + ' <span class="gg-en">' + sheet[2] + "</span>");
      button.type = "button";
      button.setAttribute("data-sheet", key);
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () {
        open(panels[key].classList.contains("gg-open") ? null : key);
      });
      buttons[key] = button;
      bar.appendChild(button);
    });

    // a fold button in each panel's title: folds the panel on a desktop; on a phone it
    // opens the whole figures table, or closes the sheet
    [
      ["figures", null, null],
      ["legend", "图例", "Legend"],
      ["layers", "图层", "Layers"],
      ["problems", "问题村", "Problem villages"]
    ].forEach(function (entry) {
      var key = entry[0];
      var panel = panels[key];
      if (!panel) return;
      var title = entry[1] ? heading(panel, entry[1], entry[2]) : heading(panel, "", "");
      var fold = el("button", "gg-fold", "−");
      fold.type = "button";
      fold.title = "收起 / fold";
      fold.setAttribute("aria-expanded", "true");
      fold.addEventListener("click", function (event) {
        event.stopPropagation();
        if (phone.matches && key === "figures") {
          showFigures();
        } else if (phone.matches) {
          open(null);
        } else {
          var folded = panel.classList.toggle("gg-collapsed");
          fold.textContent = folded ? "+" : "−";
          fold.title = folded ? "展开 / unfold" : "收起 / fold";
          fold.setAttribute("aria-expanded", folded ? "false" : "true");
        }
        fit();
      });
      title.insertBefore(fold, title.firstChild);
    });
    // on a phone a tap on the strip shows the whole figures table, another hides it
    function showFigures() {
      var full = panels.figures.classList.toggle("gg-full");
      if (full) open(null);
    }
    panels.figures.addEventListener("click", function () {
      if (phone.matches) {
        showFigures();
        fit();
      }
    });
    // on a phone a problem village chosen in the list is shown on the map: close the sheet
    // (on the way down: the entries stop the click from rising to the panel)
    if (panels.problems) {
      panels.problems.addEventListener(
        "click",
        function (event) {
          var target = event.target;
          if (phone.matches && target.closest && target.closest("[data-village]")) open(null);
        },
        true
      );
    }

    function place() {
      var order = phone.matches
        ? [[left, ["figures"]], [right, ["legend", "layers", "problems"]]]
        : [[left, ["figures", "problems"]], [right, ["legend", "layers"]]];
      order.forEach(function (pair) {
        pair[1].forEach(function (key) {
          if (panels[key]) pair[0].appendChild(panels[key]);
        });
      });
      if (!phone.matches) {
        open(null);
        panels.figures.classList.remove("gg-full");
      }
      // Leaflet's own controls (zoom, scale) clear the strip and the buttons on a phone
      var top = phone.matches ? left.getBoundingClientRect().height : 0;
      var bottom = phone.matches ? bar.getBoundingClientRect().height : 0;
      var corners = document.querySelectorAll(".leaflet-top, .leaflet-bottom");
      for (var i = 0; i < corners.length; i++) {
        var corner = corners[i];
        if (corner.classList.contains("leaflet-top")) corner.style.top = top + "px";
        else corner.style.bottom = bottom + "px";
      }
      // and a popup opens clear of them: Leaflet pans the map by these paddings (every
      // popup reads its defaults from the prototype's options)
      if (window.L && L.Popup) {
        var defaults = L.Popup.prototype.options;
        defaults.autoPanPaddingTopLeft = phone.matches ? [MARGIN_PX, top + MARGIN_PX] : null;
        defaults.autoPanPaddingBottomRight = phone.matches
          ? [MARGIN_PX, bottom + MARGIN_PX]
          : null;
      }
    }

    var bounds = map ? countyBounds(map) : null;
    var fitted = false;

    function ready() {
      root.setAttribute("data-gg-layout", "ready");
    }

    function fit() {
      place();
      if (!map || !bounds || fitted) return;
      // once, on load: the county in the part of the screen the panels leave free; Folium's
      // own fitBounds may still be animating (Leaflet then ignores a new view): wait for it
      fitted = true;
      if (map._animatingZoom) {
        map.once("zoomend", function () {
          fitFree();
          ready();
        });
      } else {
        fitFree();
        ready();
      }
    }

    function fitFree() {
      var width = window.innerWidth;
      var height = window.innerHeight;
      var topLeft = [MARGIN_PX, MARGIN_PX];
      var bottomRight = [MARGIN_PX, MARGIN_PX];
      if (phone.matches) {
        topLeft[1] += left.getBoundingClientRect().height;
        bottomRight[1] += bar.getBoundingClientRect().height;
      } else {
        var l = left.getBoundingClientRect();
        var r = right.getBoundingClientRect();
        // leave the wider free band: beside the panels, if the county still fits
        if (width - l.width - r.width > width / 4) {
          topLeft[0] += l.right;
          bottomRight[0] += width - r.left;
        }
      }
      var freeWidth = width - topLeft[0] - bottomRight[0];
      var freeHeight = height - topLeft[1] - bottomRight[1];
      if (freeWidth < width / 4 || freeHeight < height / 3) return;
      var snap = map.options.zoomSnap;
      map.options.zoomSnap = 0.25;
      map.fitBounds(bounds, {
        paddingTopLeft: topLeft,
        paddingBottomRight: bottomRight,
        animate: false
      });
      map.options.zoomSnap = snap;
    }

    // paper: the county between the panels on the page, then the screen's view again
    var screenView = null;
    function printing(on) {
      if (!map || !bounds || on === (screenView !== null)) return;
      if (on) {
        screenView = { center: map.getCenter(), zoom: map.getZoom() };
        map.invalidateSize({ pan: false });
        fitFree();
      } else {
        var view = screenView;
        screenView = null;
        map.invalidateSize({ pan: false });
        map.setView(view.center, view.zoom, { animate: false });
      }
    }
    var paper = window.matchMedia ? window.matchMedia("print") : null;
    if (paper && paper.addEventListener) {
      paper.addEventListener("change", function (event) {
        printing(event.matches);
      });
    }
    window.addEventListener("beforeprint", function () {
      printing(true);
    });
    window.addEventListener("afterprint", function () {
      printing(false);
    });

    fit();
    if (!fitted) ready();
    if (phone.addEventListener) phone.addEventListener("change", place);
    else if (phone.addListener) phone.addListener(place);
    window.addEventListener("resize", place);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
