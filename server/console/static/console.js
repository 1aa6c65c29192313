// shitu console: the threshold slider and the upload progress bar. Pages
// work without it (plain forms); htmx makes them swap in place.
(function () {
  "use strict";
  function relabel(root, t) {
    var res = root.querySelector(".result");
    if (!res) return;
    var binary = res.dataset.binary === "true";
    res.querySelectorAll("li.obj").forEach(function (li) {
      var score = parseFloat(li.dataset.score);
      var known = t === null ? li.dataset.known === "true" : (binary ? score <= t : score >= t);
      var text = known && li.dataset.label ? li.dataset.label : "unknown";
      var g = res.querySelector('g.box[data-n="' + li.dataset.n + '"]');
      [li, g].forEach(function (el) {
        if (!el) return;
        el.classList.toggle("known", known);
        var l = el.querySelector(".lbl");
        if (l) l.textContent = text;
      });
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target.id !== "thr") return;
    var t = parseFloat(e.target.value);
    document.getElementById("thr-out").textContent = t.toFixed(2);
    relabel(document, t);
  });
  document.addEventListener("click", function (e) {
    if (e.target.id !== "thr-reset") return;
    document.getElementById("thr-out").textContent = "as calibrated";
    relabel(document, null);
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var p = document.getElementById("add-progress");
    if (p && e.detail && e.detail.total) p.value = Math.round(100 * e.detail.loaded / e.detail.total);
  });
  document.addEventListener("htmx:afterRequest", function () {
    var p = document.getElementById("add-progress");
    if (p) p.value = 100;
  });
})();
