// 黑产雷达 live updates. Polls the JSON API every few seconds while the tab is visible:
// refreshes the counters, and when the result count changes either swaps in the freshly
// server-rendered results (page 1, auto-update on) or offers a refresh link. All markup
// comes from the server (escaped there); this script never builds HTML from data.
(function () {
  "use strict";
  var INTERVAL_MS = 5000;
  var live = document.getElementById("live");
  var auto = document.getElementById("auto-refresh");
  if (!live) { return; }
  var busy = false;

  function searchUrl() {
    var params = new URLSearchParams(window.location.search);
    params.delete("page");
    params.set("page_size", "1");
    return "/api/search?" + params.toString();
  }

  function setStats(store) {
    if (!store) { return; }
    document.querySelectorAll("[data-stat]").forEach(function (el) {
      var value = store[el.getAttribute("data-stat")];
      if (typeof value === "number") { el.textContent = String(value); }
    });
  }

  function swapResults() {
    return fetch(window.location.href, { headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (fresh) {
          var current = document.getElementById("live");
          current.replaceWith(document.importNode(fresh, true));
          live = document.getElementById("live");
        }
      });
  }

  function tick() {
    if (busy || document.hidden) { return; }
    busy = true;
    var status = fetch("/api/status").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { setStats(s && s.store); });
    var search = fetch(searchUrl()).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var known = Number(live.getAttribute("data-total"));
        if (data.total === known) { return; }
        var onFirstPage = live.getAttribute("data-page") === "1";
        if (auto && auto.checked && onFirstPage) { return swapResults(); }
        var total = document.getElementById("total");
        var note = document.getElementById("fresh");
        if (total) { total.textContent = String(data.total); }
        if (note) { note.hidden = false; }
      });
    Promise.all([status, search]).catch(function () { /* next tick retries */ })
      .then(function () { busy = false; });
  }

  window.setInterval(tick, INTERVAL_MS);
})();
