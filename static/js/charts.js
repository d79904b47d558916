/* Draws the staff pages' charts with the vendored Chart.js (static/vendor/chart.js).
 * Markup: <canvas data-chart="ID"> plus {{ spec|json_script:"ID" }} where spec comes from the
 * {% chart_spec %} template tag: {type, horizontal, title, unit, max, labels, datasets:[{label, color, data}]}.
 * Without JavaScript (or if Chart.js did not load) the page's <noscript> SVG and tables remain. */
(function () {
  "use strict";

  function readSpec(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function format(value, unit) {
    var text = Number(value).toLocaleString(undefined, { maximumFractionDigits: 2 });
    if (!unit) return text;
    return unit === "%" ? text + "%" : unit + text;
  }

  function draw(canvas) {
    var spec = readSpec(canvas.getAttribute("data-chart"));
    if (!spec || !window.Chart) return null;
    if (!spec.labels.length) {
      var empty = document.createElement("p");
      empty.className = "portal-chart-empty";
      empty.textContent = canvas.getAttribute("data-empty") || "—";
      canvas.parentNode.replaceChild(empty, canvas);
      return null;
    }
    var valueAxis = spec.horizontal ? "x" : "y";
    var scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      ticks: { callback: function (v) { return format(v, spec.unit); } },
    };
    if (spec.max !== null && spec.max !== undefined) scales[valueAxis].max = spec.max;
    // One row per bar group: give horizontal charts room for every label.
    if (spec.horizontal) {
      canvas.parentNode.style.height = Math.max(120, 28 * spec.labels.length * Math.max(1, spec.datasets.length) + 60) + "px";
    }
    var chart = new window.Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d) {
          return { label: d.label, data: d.data, backgroundColor: d.color, borderColor: d.color };
        }),
      },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: {
          title: { display: !!spec.title, text: spec.title },
          legend: { display: spec.datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (ctx) { return ctx.dataset.label + ": " + format(ctx.parsed[valueAxis], spec.unit); },
            },
          },
        },
      },
    });
    canvas.setAttribute("data-chart-ready", "true");
    return chart;
  }

  function drawAll() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) draw(canvases[i]);
  }

  window.PortalCharts = { draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
