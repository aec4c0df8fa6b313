/* Charts of the admin dashboard and of an endpoint's health page (issue 7), drawn with the
   vendored Chart.js (static/vendor/chartjs/). The numbers come from json_script blocks the
   server renders; without JavaScript the pages still show every number as text. */
(function () {
  "use strict";

  var COLORS = { succeeded: "#2e7d32", failed: "#e0a100", dead: "#ba2121" };

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function outcomeChart(canvasId, series) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !series) {
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: ["succeeded", "failed", "dead"].map(function (outcome) {
          return { label: outcome, data: series[outcome], backgroundColor: COLORS[outcome] };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function latencyChart(canvasId, points) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !points) {
      return;
    }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: points.map(function (p) { return p.t; }),
        datasets: [{
          label: "latency (ms)",
          data: points.map(function (p) { return p.ms; }),
          borderColor: "#417690",
          pointBackgroundColor: points.map(function (p) { return p.ok ? COLORS.succeeded : COLORS.dead; }),
          pointRadius: 3,
          tension: 0.2,
        }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } },
        plugins: { legend: { display: false } },
      },
    });
  }

  function autoSubmit(formId) {
    var form = document.getElementById(formId);
    if (!form) {
      return;
    }
    var select = form.querySelector("select");
    select.addEventListener("change", function () { form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") {
      return;
    }
    var dashboard = data("dashboard-data");
    if (dashboard) {
      outcomeChart("chart-hourly", dashboard.hourly);
      outcomeChart("chart-daily", dashboard.daily);
    }
    var health = data("health-data");
    if (health) {
      latencyChart("chart-latency", health.points);
    }
  });
  document.addEventListener("DOMContentLoaded", function () { autoSubmit("manager-filter"); });
})();
