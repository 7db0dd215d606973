/* Search box: areas by name or code; choosing one opens its profile. */
(function () {
  "use strict";
  var input = document.getElementById("search"), list = document.getElementById("search-results");
  var form = document.getElementById("search-form"), timer = null, items = [];
  var TYPES = { lsoa: "LSOA", ward: "Ward", lad: "Local authority", region: "Region" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function show(data) {
    items = data.items || [];
    list.innerHTML = items.length ? items.map(function (a) {
      return '<li><a href="/area/' + esc(a.code) + '">' + esc(a.name) + ' <small>' + esc(TYPES[a.type] || a.type) + " " +
        esc(a.vintage) + " · " + esc(a.code) + (a.lad_name && a.type !== "lad" ? " · " + esc(a.lad_name) : "") + "</small></a></li>";
    }).join("") : "<li class=\"none\">No area matches.</li>";
    list.hidden = false;
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { list.hidden = true; return; }
    timer = setTimeout(function () {
      fetch("/api/search?q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(show);
    }, 150);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (items.length) { window.location.href = "/area/" + encodeURIComponent(items[0].code); }
  });
}());
