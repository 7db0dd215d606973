/* neighbourhood-lens map: every edition, domain, left-behind definition, neighbourhood set and stored result.
   Geometry comes from /api/geo/{layer}, values from /api/values/{layer}?measure=, joined on the area code.
   The view (show, edition, domain, zoom, centre, selected area) is kept in the page URL so it can be shared. */
(function () {
  "use strict";
  var DECILE = ["#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061"];
  var SEQ = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  var CATS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];
  var BBOX_ONLY = { lsoa21: 1, lsoa11: 1, lsoa01: 1 };
  var NAMES = { lad24: "local authorities (2024)", ward24: "wards (2024)", lsoa21: "LSOAs (2021)", lad19: "local authorities (2019)",
    ward17: "wards (2017)", lsoa11: "LSOAs (2011)", lsoa01: "LSOAs (2001)" };
  var DOMAINS = { imd: "IMD", income: "Income", employment: "Employment", education: "Education", health: "Health",
    crime: "Crime", housing: "Barriers to housing", environment: "Living environment" };
  var el = document.getElementById("map");
  var params = new URLSearchParams(window.location.search);
  var state = { show: params.get("show") || "imd", edition: params.get("edition") || "2025", domain: params.get("domain") || "imd",
    sel: params.get("sel") || "" };
  var start = [parseFloat(params.get("lat")), parseFloat(params.get("lon")), parseInt(params.get("z"), 10)];
  var map = L.map("map", { preferCanvas: true, minZoom: 6, maxZoom: 16 });
  if (isFinite(start[0]) && isFinite(start[1]) && isFinite(start[2])) { map.setView([start[0], start[1]], start[2]); }
  else { map.setView([52.8, -1.6], el.clientWidth < 700 ? 6 : 7); }  /* England; a phone sees all of it at zoom 6 */
  var basemap = el.getAttribute("data-basemap");
  if (basemap) { L.tileLayer(basemap, { maxZoom: 18, attribution: "Basemap: see NLENS_BASEMAP_URL" }).addTo(map); }
  map.attributionControl.addAttribution("MHCLG IoD 2004-2025; OCSI CNI; ONS boundaries, OGL v3; contains OS data &copy; Crown copyright");
  var catalogue = { editions: [], neighbourhood_sets: [], results: [] };
  var current = null, currentKey = "", request = 0, valueCache = {}, highlight = null, labels = null;

  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function edition() {
    var y = parseInt(state.edition, 10);
    return catalogue.editions.filter(function (e) { return e.year === y; })[0] ||
      { year: 2025, layers: ["lad24", "ward24", "lsoa21"], domains: ["imd"] };
  }
  function byZoom(layers) { var z = map.getZoom(); return z < 9 ? layers[0] : (z < 12 ? layers[1] : layers[2]); }
  function find(list, key, value) { return list.filter(function (x) { return x[key] === value; })[0]; }

  /* What to draw now: {layer, measure, title, note}. */
  function plan() {
    var s = state.show, z = map.getZoom();
    if (s === "imd") {
      var ed = edition(), layer = byZoom(ed.layers), note = "";
      var domain = ed.domains.indexOf(state.domain) >= 0 ? state.domain : "imd";
      if (domain !== state.domain) { note = "IoD" + ed.year + " has no " + DOMAINS[state.domain] + " decile in the warehouse. "; }
      if (domain !== "imd" && ed.year !== 2019 && ed.year !== 2025 && layer !== ed.lsoa_layer) {
        note += "IoD" + ed.year + " domains are published for LSOAs: zoom in to see them; showing the IMD. ";
        domain = "imd";
      }
      if (ed.year !== 2019 && ed.year !== 2025 && layer !== ed.lsoa_layer) {
        note += "Wards and LADs: decile of the population-weighted rank percentile of their LSOAs. ";
      }
      return { layer: layer, measure: "imd" + ed.year + ":" + domain, scale: "decile",
        title: "IoD" + ed.year + " " + DOMAINS[domain] + " decile", low: "most deprived", note: note };
    }
    if (s === "cni") {
      var recent = parseInt(state.edition, 10) >= 2025;
      return { layer: byZoom(recent ? ["lad24", "ward24", "lsoa21"] : ["lad19", "ward17", "ward17"]),
        measure: recent ? "cni2023" : "cni2019", title: "Community Needs Index " + (recent ? "2023" : "2019") + " decile",
        low: "highest need", note: recent ? "" : "CNI 2019 is published for wards (2017)." };
    }
    if (s === "lb2023") {
      return { layer: byZoom(["lad24", "ward24", "lsoa21"]), measure: "lb2023", title: "Left behind 2023 (LSOAs 2021)",
        note: "IMD 2025 decile 1 and CNI 2023 decile 1.", unit: "LSOAs" };
    }
    if (s === "lb2019") {
      return { layer: z < 8 ? "lad19" : "ward17", measure: "lb2019", title: "Left behind 2019 (wards 2017)",
        note: "Wards in the most deprived 10% on both IMD 2019 and CNI 2019: the 225 wards." + (z < 8 ? " Zoom in to see the wards." : ""),
        unit: "wards" };
    }
    if (s.indexOf("nbhd:") === 0) {
      var set = find(catalogue.neighbourhood_sets, "layer", s) || { name: s.slice(5), vintage: 2021 };
      var year = set.vintage === 2011 ? 2019 : 2025;
      return { layer: s, measure: "imd" + year + ":" + state.domain, title: "Neighbourhood set " + set.name + ": IoD" + year + " " +
        DOMAINS[state.domain] + " decile among its neighbourhoods", low: "most deprived", note: "" };
    }
    if (s.indexOf("result:") === 0) {
      var r = find(catalogue.results, "measure", s) || { layer: "lad24", name: s, kind: "result" };
      var zoomIn = BBOX_ONLY[r.layer] && z < 12;
      return { layer: r.layer, measure: s, title: r.kind + " " + r.name + (r.description ? ": " + r.description : ""),
        note: zoomIn ? "This result is on " + NAMES[r.layer] + ": zoom in to see it." : "", skip: zoomIn, low: "most need" };
    }
    return plan.call(null, (state.show = "imd"));
  }

  function colourFor(scale, info) {
    var values = info.values;
    if (scale === "decile") { return function (v) { return v ? DECILE[v - 1] : "#ffffff"; }; }
    if (scale === "flag") { return function (v) { return v ? "#b2182b" : "#d9d9d9"; }; }
    if (scale === "count") { return function (v) { return v >= 10 ? "#67001f" : v >= 3 ? "#b2182b" : v >= 1 ? "#f4a582" : "#d9d9d9"; }; }
    if (scale === "category") {
      var cats = info.categories;
      return function (v) { var i = cats.indexOf(v); return i < 0 ? "#ffffff" : CATS[i % CATS.length]; };
    }
    var breaks = info.breaks;
    return function (v) {
      if (v === undefined || v === null) { return "#ffffff"; }
      var i = 0; while (i < breaks.length && v > breaks[i]) { i++; }
      return SEQ[Math.min(i, SEQ.length - 1)];
    };
  }
  function prepare(info) {
    var vals = Object.keys(info.values).map(function (k) { return info.values[k]; });
    if (info.scale === "category") { info.categories = vals.filter(function (v, i) { return vals.indexOf(v) === i; }).sort(); }
    if (info.scale === "value") {
      var sorted = vals.filter(function (v) { return typeof v === "number"; }).sort(function (a, b) { return a - b; });
      info.breaks = [0.2, 0.4, 0.6, 0.8].map(function (q) { return sorted[Math.floor(q * (sorted.length - 1))]; });
    }
    return info;
  }
  function legend(p, info) {
    var html = "<div><strong>" + esc(p.title) + "</strong></div>", scale = info ? info.scale : "decile";
    function row(c, label) { return '<div><i style="background:' + c + '"></i>' + esc(label) + "</div>"; }
    if (scale === "decile") {
      html += DECILE.map(function (c, i) { return row(c, i === 0 ? "1 (" + (p.low || "most") + ")" : (i === 9 ? "10 (least)" : String(i + 1))); }).join("");
    } else if (scale === "flag") {
      html += row("#b2182b", "Left behind") + row("#d9d9d9", "Not left behind");
    } else if (scale === "count") {
      html += "<div>Left-behind " + esc(p.unit || "areas") + " in the area</div>" + row("#67001f", "10 or more") + row("#b2182b", "3 to 9") +
        row("#f4a582", "1 or 2") + row("#d9d9d9", "none");
    } else if (scale === "category") {
      html += info.categories.map(function (c, i) { return row(CATS[i % CATS.length], String(c)); }).join("");
    } else {
      var b = info.breaks, lo = ["lowest 20%", "20-40%", "40-60%", "60-80%", "highest 20%"];
      html += SEQ.map(function (c, i) { return row(c, lo[i] + (i < 4 ? " (up to " + Number(b[i]).toLocaleString() + ")" : "")); }).join("");
    }
    $("legend").innerHTML = html;
    $("layer-note").textContent = ((p.note || "") + " " + (p.skip ? "" : "Showing " + (NAMES[p.layer] || "neighbourhoods") + ".")).trim();
  }
  function profileUrl(layer, code) {
    if (layer.indexOf("nbhd:") === 0) { return "/neighbourhood/" + encodeURIComponent(layer.slice(5)) + "/" + encodeURIComponent(code); }
    if (layer === "lsoa01") { return ""; }
    return "/area/" + encodeURIComponent(code);
  }
  function describe(f, p, info) {
    var v = info && info.values[f.properties.code], shown;
    if (info && info.scale === "flag") { shown = v ? "left behind" : "not left behind"; }
    else if (info && info.scale === "count") { shown = (v || 0) + " left-behind " + (p.unit || "areas") + " within"; }
    else if (v === undefined || v === null) { shown = "no value"; }
    else { shown = (info.scale === "decile" ? "decile " : "") + (typeof v === "number" ? v.toLocaleString() : v); }
    return "<strong>" + esc(f.properties.name || f.properties.code) + "</strong> (" + esc(f.properties.code) + ")<br>" +
      esc(p.title) + ": " + esc(shown);
  }
  function select(f, p, info, layerObj) {
    state.sel = f.properties.code;
    if (highlight) { map.removeLayer(highlight); }
    highlight = L.geoJSON(f, { interactive: false, style: { fill: false, color: "#000", weight: 3 } }).addTo(map);
    var url = profileUrl(p.layer, f.properties.code);
    $("info").innerHTML = describe(f, p, info) + (url ? '<br><a id="open-profile" href="' + esc(url) + '">Open the profile</a>' : "");
    el.setAttribute("data-selected", f.properties.code);
    saveView();
  }
  function saveView() {
    var c = map.getCenter(), q = new URLSearchParams();
    q.set("show", state.show); q.set("edition", state.edition); q.set("domain", state.domain);
    q.set("z", String(map.getZoom())); q.set("lat", c.lat.toFixed(4)); q.set("lon", c.lng.toFixed(4));
    if (state.sel) { q.set("sel", state.sel); }
    window.history.replaceState(null, "", "/?" + q.toString());
  }
  function getJson(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) { return r.json().then(function (e) { throw new Error(e.detail || r.status); }); }
      return r.json();
    });
  }
  function values(p) {
    var key = p.layer + "|" + p.measure;
    if (!valueCache[key]) { valueCache[key] = getJson("/api/values/" + encodeURIComponent(p.layer) + "?measure=" + encodeURIComponent(p.measure)).then(prepare); }
    return valueCache[key];
  }
  function load() {
    var p = plan();
    saveView();
    $("edition-label").hidden = !(state.show === "imd" || state.show === "cni");
    $("domain-label").hidden = !(state.show === "imd" || state.show.indexOf("nbhd:") === 0);
    if (p.skip) {
      if (current) { map.removeLayer(current); current = null; currentKey = ""; }
      legend(p, null); el.setAttribute("data-ready", p.measure); return;
    }
    var url = "/api/geo/" + encodeURIComponent(p.layer);
    if (p.layer !== "lad24" && p.layer !== "lad19") {
      var b = map.getBounds().pad(0.2);
      url += "?bbox=" + [Math.max(b.getWest(), -179), Math.max(b.getSouth(), -89), Math.min(b.getEast(), 179), Math.min(b.getNorth(), 89)]
        .map(function (v) { return v.toFixed(3); }).join(",");
    }
    var key = url + "|" + p.measure;
    if (key === currentKey) { return; }
    var mine = ++request;
    el.setAttribute("data-loading", "1");
    el.removeAttribute("data-ready");
    Promise.all([getJson(url), values(p)]).then(function (got) {
      if (mine !== request) { return; }
      var data = got[0], info = got[1], colour = colourFor(info.scale, info);
      var layer = L.geoJSON(data, {
        style: function (f) {
          return { fillColor: colour(info.values[f.properties.code]), fillOpacity: 0.8, color: "#444",
            weight: p.layer.indexOf("lad") === 0 ? 0.8 : 0.3 };
        },
        onEachFeature: function (f, l) {
          l.on("mouseover", function () { if (!state.sel) { $("info").innerHTML = describe(f, p, info); } });
          l.on("click", function () { select(f, p, info, l); });
          if (f.properties.code === state.sel) { window.setTimeout(function () { select(f, p, info, l); }, 0); }
        }
      });
      if (current) { map.removeLayer(current); }
      current = layer.addTo(map);
      if (highlight) { highlight.bringToFront(); }
      currentKey = key;
      legend(p, info);
      el.setAttribute("data-level", p.layer);
      el.setAttribute("data-measure", p.measure);
      el.setAttribute("data-features", String(data.features.length));
      el.removeAttribute("data-loading");
      el.setAttribute("data-ready", p.measure);
    }).catch(function (err) {
      if (mine !== request) { return; }
      el.removeAttribute("data-loading");
      $("layer-note").textContent = "Could not load the map layer: " + err.message;
    });
  }
  function placeLabels() {
    getJson("/api/labels").then(function (d) {
      labels = L.layerGroup(d.items.map(function (x) {
        return L.marker([x.lat, x.lon], { interactive: false, keyboard: false,
          icon: L.divIcon({ className: "place-label", html: esc(x.name), iconSize: null }) });
      }));
      toggleLabels();
    });
  }
  function toggleLabels() {
    if (!labels) { return; }
    var z = map.getZoom(), on = z >= 8 && z <= 12;
    if (on && !map.hasLayer(labels)) { labels.addTo(map); } else if (!on && map.hasLayer(labels)) { map.removeLayer(labels); }
  }
  function fillCatalogue(c) {
    catalogue = c;
    $("show-sets").innerHTML = c.neighbourhood_sets.map(function (s) {
      return '<option value="' + esc(s.layer) + '">' + esc(s.name) + " (" + s.n_neighbourhoods.toLocaleString() + " neighbourhoods, LSOA " + s.vintage + ")</option>";
    }).join("");
    $("show-results").innerHTML = c.results.map(function (r) {
      return '<option value="' + esc(r.measure) + '">' + esc(r.kind + ": " + r.name + " (" + r.unit + ")") + "</option>";
    }).join("");
    $("show-sets").hidden = !c.neighbourhood_sets.length;
    $("show-results").hidden = !c.results.length;
    ["show", "edition", "domain"].forEach(function (id) {
      var select = $(id);
      if (Array.prototype.some.call(select.options, function (o) { return o.value === state[id]; })) { select.value = state[id]; }
      else { state[id] = select.value; }
      select.addEventListener("change", function () { state[id] = select.value; state.sel = ""; currentKey = ""; load(); });
    });
  }
  map.on("moveend", function () { toggleLabels(); load(); });
  getJson("/api/layers").then(fillCatalogue).catch(function () { fillCatalogue(catalogue); }).then(function () {
    placeLabels();
    var focus = params.get("focus"), box = params.get("bbox");
    if (box && /^-?[\d.]+(,-?[\d.]+){3}$/.test(box)) {
      var b = box.split(",").map(parseFloat);
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
      load();
    } else if (focus && /^E\d{8}$/.test(focus)) {
      getJson("/api/areas/" + focus).then(function (a) {
        state.sel = focus;
        if (a.geography === "ward17" || a.geography === "lad19" || a.geography === "lsoa11") { state.edition = "2019"; $("edition").value = "2019"; }
        if (a.bbox) { map.fitBounds([[a.bbox[1], a.bbox[0]], [a.bbox[3], a.bbox[2]]]); }
        load();
      }).catch(load);
    } else {
      load();
    }
  });
}());
