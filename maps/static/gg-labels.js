/* gridgeo county map: place labels, zoom-dependent layers, coverage gaps by village and the
 * problem-village list. Plain Leaflet 1.9, no network, no other library. Inlined into the
 * saved map by maps/overview.py. Names are set as text (textContent), never as HTML. */
(function (global) {
  "use strict";
  var gg = (global.ggMap = global.ggMap || {});

  function textSpan(cls, text) {
    var span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    return span;
  }

  function label(lat, lon, cls, text) {
    return L.marker([lat, lon], {
      icon: L.divIcon({ className: "gg-label " + cls, html: textSpan("gg-label-text", text), iconSize: null }),
      interactive: false,
      keyboard: false
    });
  }

  /* Show the classes' labels from their zoom on: the map container gets `gg-hide-<name>`
   * below it (CSS hides those labels). zooms: {name: minZoom}; group: unused. */
  gg.zoomClasses = function (map, group, zooms) {
    function update() {
      var z = map.getZoom();
      Object.keys(zooms).forEach(function (name) {
        L.DomUtil[z < zooms[name] ? "addClass" : "removeClass"](map.getContainer(), "gg-hide-" + name);
      });
    }
    map.on("zoomend", update);
    map.whenReady(update);
  };

  /* items: [[lat, lon, text, zoomName], ...]; each label gets class gg-label-<zoomName>. */
  gg.labels = function (map, group, items, cls) {
    items.forEach(function (it) {
      label(it[0], it[1], cls + (it[3] ? " gg-label-" + it[3] : ""), it[2]).addTo(group);
    });
  };

  /* Keep `layer` in `group` only from zoom `minZoom` on (canvas paths ignore CSS). */
  gg.showFrom = function (map, group, layer, minZoom) {
    function update() {
      if (map.getZoom() >= minZoom) {
        group.addLayer(layer);
      } else {
        group.removeLayer(layer);
      }
    }
    map.on("zoomend", update);
    map.whenReady(update);
  };

  function bubble(count, cls) {
    var text = count >= 10000 ? Math.round(count / 1000) + "k" : String(count);
    var size = 16 + 5 * text.length;
    return L.divIcon({
      className: "gg-gap-agg " + cls,
      html: textSpan("gg-gap-count", text),
      iconSize: [size, 18],
      // just below the place (its name above, a station's icon on it): repair left, payment right
      iconAnchor: cls.indexOf("payment") >= 0 ? [-1, -7] : [size + 1, -7]
    });
  }

  /* Customers outside a promise: one bubble per township (count) below `townZoom`, one per
   * village below `minZoom`, the dots (one per place and reason) from it on, only those near
   * the view. Without villages: the dots at every zoom.
   * d = {colour, minZoom, townZoom, css, towns: [[lat, lon, count, tip], ...],
   *      villages: [[lat, lon, count, tip], ...],
   *      dots: [[lat, lon, count, reasonIndex, etaMin or null, villageIndex or -1], ...],
   *      names: [village name, ...], reasons: [...], dotTip: [prefix, etaLabel]} */
  gg.gaps = function (map, group, d) {
    var towns = L.layerGroup();
    var aggregates = L.layerGroup();
    var dots = L.layerGroup();
    var drawnFor = null;
    function bubbles(items, layer) {
      items.forEach(function (v) {
        L.marker([v[0], v[1]], { icon: bubble(v[2], d.css), keyboard: false, zIndexOffset: 500 })
          .bindTooltip(v[3], { direction: "top" })
          .addTo(layer);
      });
    }
    bubbles(d.towns, towns);
    bubbles(d.villages, aggregates);
    function drawDots() {
      var view = map.getBounds().pad(0.5);
      var key = view.toBBoxString() + "/" + map.getZoom();
      if (key === drawnFor) {
        return;
      }
      drawnFor = key;
      dots.clearLayers();
      var shown = 0;
      for (var i = 0; i < d.dots.length && shown < d.maxDots; i++) {
        var p = d.dots[i];
        if (!view.contains([p[0], p[1]])) {
          continue;
        }
        shown++;
        var tip = (p[5] >= 0 ? d.names[p[5]] + " · " : "") + d.dotTip[0] + " " + p[2] + " · " + d.reasons[p[3]] +
          (p[4] === null ? "" : " · " + d.dotTip[1] + " " + p[4]);
        L.circleMarker([p[0], p[1]], {
          radius: p[2] > 1 ? Math.min(2.5 + Math.sqrt(p[2]), 9) : 2.5,
          stroke: false,
          fill: true,
          fillColor: d.colour,
          fillOpacity: 0.85
        })
          .bindTooltip(tip)
          .addTo(dots);
      }
    }
    function update() {
      var z = map.getZoom();
      var level = d.villages.length === 0 || z >= d.minZoom ? "dots" : z >= d.townZoom ? "villages" : "towns";
      [["towns", towns], ["villages", aggregates], ["dots", dots]].forEach(function (pair) {
        if (pair[0] !== level) {
          group.removeLayer(pair[1]);
        }
      });
      if (level === "dots") {
        drawDots();
      }
      group.addLayer(level === "dots" ? dots : level === "villages" ? aggregates : towns);
    }
    map.on("zoomend moveend", update);
    map.whenReady(update);
  };

  /* Clicking (or Enter on) an entry of the problem list zooms the map to its village. */
  gg.problems = function (map, listId) {
    var list = document.getElementById(listId);
    if (!list) {
      return;
    }
    function go(item) {
      var b = JSON.parse(item.getAttribute("data-bounds"));
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 15, padding: [30, 30] });
      var old = list.querySelector(".gg-current");
      if (old) {
        L.DomUtil.removeClass(old, "gg-current");
      }
      L.DomUtil.addClass(item, "gg-current");
    }
    Array.prototype.forEach.call(list.querySelectorAll("[data-village]"), function (item) {
      L.DomEvent.on(item, "click", function (e) {
        L.DomEvent.stop(e);
        go(item);
      });
      L.DomEvent.on(item, "keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          L.DomEvent.preventDefault(e);
          go(item);
        }
      });
    });
    L.DomEvent.disableClickPropagation(list);
    L.DomEvent.disableScrollPropagation(list);
  };
})(window);
