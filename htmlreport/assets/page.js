// The icicle: the page's data (names, kernel, tree) becomes the {n, v, c}
// nodes d3-flame-graph reads; everything else on the page is static HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("flame-data").textContent);
  var kernel = new Set(data.kernel);
  var total = data.tree[1] || 1;
  function node(name, v) {
    return { n: data.names[name], v: v, l: kernel.has(name) ? "kernel" : "" };
  }
  // [name, value, child...]; a list of names is a chain of frames with
  // one caller each and the same count.
  function conv(a) {
    var names = Array.isArray(a[0]) ? a[0] : [a[0]];
    var top = node(names[0], a[1]), last = top;
    for (var i = 1; i < names.length; i++) {
      var n = node(names[i], a[1]);
      last.c = [n];
      last = n;
    }
    if (a.length > 2) {
      last.c = [];
      for (var j = 2; j < a.length; j++) last.c.push(conv(a[j]));
    }
    return top;
  }
  var el = document.getElementById("flame");
  if (!el || !window.flamegraph || total === 0) return;
  var details = document.getElementById("details");
  var chart = flamegraph.default()
    .width(Math.max(el.clientWidth - 2, 320))
    .cellHeight(18)
    .inverted(true)
    .minFrameSize(2)
    .transitionDuration(0)
    .setDetailsElement(details)
    .setLabelHandler(function (d) {
      var v = d.value || d.data.v;
      var unit = data.unit === "outstanding" ? " outstanding" : (v === 1 ? " hit" : " hits");
      return d.data.n + ": " + v + unit + ", " + (100 * v / total).toFixed(2) + "% of all";
    })
    // Kernel and allocator frames in grey, so the drivers stand out.
    .setColorMapper(function (d) {
      if (d.highlight) return "#E600E6";
      if (d.data.l === "kernel") return "#c8cfd8";
      var h = 0;
      for (var i = 0; i < d.data.n.length; i++) h = (h * 31 + d.data.n.charCodeAt(i)) >>> 0;
      return "hsl(" + (h % 50) + ", 80%, " + (55 + h % 15) + "%)";
    })
    .setSearchMatch(function (d, term) {
      return !!term && d.data.n.toLowerCase().indexOf(term.toLowerCase()) >= 0;
    });
  // Drawn at once (a screenshot or a reader sees the whole icicle), then
  // zoom and search animate.
  d3.select(el).datum(conv(data.tree)).call(chart);
  chart.transitionDuration(250);
  var search = document.getElementById("search");
  function run() {
    if (search.value) chart.search(search.value); else chart.clear();
  }
  search.addEventListener("input", run);
  document.getElementById("reset").addEventListener("click", function () { chart.resetZoom(); });
  document.getElementById("clear").addEventListener("click", function () { search.value = ""; chart.clear(); });
  // A click on a culprit in the tables searches for it in the icicle.
  document.querySelectorAll("[data-frame]").forEach(function (c) {
    c.addEventListener("click", function () {
      search.value = c.getAttribute("data-frame");
      run();
      el.scrollIntoView({ behavior: "smooth" });
    });
  });
  document.body.setAttribute("data-flame", "ready");
})();
