/* neighbourhood-lens map: LADs at low zoom, wards at mid zoom, LSOAs (bbox only) at high zoom. */
(function () {
  "use strict";
  var DECILE = ["#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061"];
  var el = document.getElementById("map");
  var map = L.map("map", { preferCanvas: true, minZoom: 6, maxZoom: 16 }).setView([52.8, -1.6], 7);
  var basemap = el.getAttribute("data-basemap");
  if (basemap) { L.tileLayer(basemap, { maxZoom: 18, attribution: "Basemap: see NLENS_BASEMAP_URL" }).addTo(map); }
  map.attributionControl.addAttribution("MHCLG IoD2025; OCSI CNI 2023; ONS boundaries, OGL v3; contains OS data &copy; Crown copyright");
  var measure = "imd_decile";
  var current = null, currentKey = "", request = 0;

  function levelFor(zoom) { return zoom < 9 ? "lad24" : (zoom < 12 ? "ward24" : "lsoa21"); }
  function colour(p, level) {
    if (measure === "lb") {
      if (level === "lsoa21") { return p.lb ? "#b2182b" : "#d9d9d9"; }
      return p.lb >= 10 ? "#67001f" : p.lb >= 3 ? "#b2182b" : p.lb >= 1 ? "#f4a582" : "#d9d9d9";
    }
    var d = p[measure];
    return d ? DECILE[d - 1] : "#ffffff";
  }
  function legend(level) {
    var box = document.getElementById("legend"), html = "";
    if (measure === "lb") {
      if (level === "lsoa21") {
        html = '<div><i style="background:#b2182b"></i>Left behind (2023)</div><div><i style="background:#d9d9d9"></i>Not left behind</div>';
      } else {
        html = "<div>Left-behind LSOAs in the area</div>" +
          [["#67001f", "10 or more"], ["#b2182b", "3 to 9"], ["#f4a582", "1 or 2"], ["#d9d9d9", "none"]].map(function (r) {
            return '<div><i style="background:' + r[0] + '"></i>' + r[1] + "</div>"; }).join("");
      }
    } else {
      html = "<div>" + (measure === "imd_decile" ? "IMD 2025" : "CNI 2023") + " decile</div>" + DECILE.map(function (c, i) {
        var label = i === 0 ? "1 (most " + (measure === "imd_decile" ? "deprived" : "need") + ")" : (i === 9 ? "10 (least)" : String(i + 1));
        return '<div><i style="background:' + c + '"></i>' + label + "</div>"; }).join("");
    }
    box.innerHTML = html;
    var names = { lad24: "local authorities (2024)", ward24: "wards (2024)", lsoa21: "LSOAs (2021)" };
    document.getElementById("layer-note").textContent = "Showing " + names[level] +
      (level === "lsoa21" ? "" : "; zoom in for " + (level === "lad24" ? "wards" : "LSOAs")) + ".";
  }
  function style(level) {
    return function (f) {
      return { fillColor: colour(f.properties, level), fillOpacity: 0.8, color: "#444", weight: level === "lad24" ? 0.8 : 0.3 };
    };
  }
  function info(p) {
    var lb = measure === "lb" ? "" : "";
    document.getElementById("info").innerHTML = "<strong>" + escapeHtml(p.name || p.code) + "</strong> (" + escapeHtml(p.code) + ")<br>IMD decile " +
      (p.imd_decile || "–") + ", CNI decile " + (p.cni_decile || "–") + "<br>Left behind: " + (p.lb ? p.lb : "no") + lb;
  }
  function escapeHtml(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function load() {
    var level = levelFor(map.getZoom());
    var url = "/api/geo/" + level;
    if (level !== "lad24") {
      var b = map.getBounds().pad(0.2);
      url += "?bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(3); }).join(",");
    }
    legend(level);
    if (url === currentKey) { return; }
    var mine = ++request;
    el.setAttribute("data-loading", "1");
    fetch(url).then(function (r) {
      if (!r.ok) { return r.json().then(function (e) { throw new Error(e.detail || r.status); }); }
      return r.json();
    }).then(function (data) {
      if (mine !== request) { return; }
      var layer = L.geoJSON(data, {
        style: style(level),
        onEachFeature: function (f, l) {
          l.on("mouseover", function () { info(f.properties); });
          l.on("click", function () { window.location.href = "/area/" + f.properties.code; });
        }
      });
      if (current) { map.removeLayer(current); }
      current = layer.addTo(map);
      current.level = level;
      currentKey = url;
      el.setAttribute("data-level", level);
      el.setAttribute("data-features", String(data.features.length));
      el.removeAttribute("data-loading");
      if (!window.nlensFirstDrawn) { window.nlensFirstDrawn = performance.now(); }
    }).catch(function (err) {
      el.removeAttribute("data-loading");
      document.getElementById("layer-note").textContent = "Could not load the map layer: " + err.message;
    });
  }
  document.querySelectorAll('input[name="measure"]').forEach(function (input) {
    input.addEventListener("change", function () {
      measure = input.value;
      if (current) { current.setStyle(style(current.level)); }
      legend(levelFor(map.getZoom()));
    });
  });
  map.on("moveend", load);
  var focus = new URLSearchParams(window.location.search).get("focus");
  if (focus && /^E\d{8}$/.test(focus)) {
    fetch("/api/areas/" + focus).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
      if (p && p.bbox) { map.fitBounds([[p.bbox[1], p.bbox[0]], [p.bbox[3], p.bbox[2]]]); } else { load(); }
    });
  } else {
    load();
  }
}());
