// Draws the dashboard's time series with uPlot from the JSON that the page
// carries (json_script); the same numbers are in the table beside it.
(function () {
  "use strict";
  var element = document.getElementById("timeseries-chart");
  if (!element || typeof uPlot === "undefined") return;
  var data = JSON.parse(document.getElementById(element.dataset.source).textContent);
  if (!data.rows.length) return;

  // Bucket labels are dates (or date and hour) in the environment's time zone:
  // read them as UTC and show them as UTC, so the chart says what the table says.
  var xs = data.rows.map(function (row) {
    // "2026-11-29" or "2026-11-29T13:00:00+01:00": keep the wall-clock part.
    var text = row.date.length === 10 ? row.date + "T00:00:00Z" : row.date.slice(0, 19) + "Z";
    return Date.parse(text) / 1000;
  });
  var colours = { visitors: "#3b5bdb", pageviews: "#94a3d8" };
  var series = [{}].concat(data.metrics.map(function (metric) {
    return {
      label: metric.charAt(0).toUpperCase() + metric.slice(1),
      stroke: colours[metric] || "#555",
      fill: metric === "visitors" ? "rgba(59, 91, 219, 0.08)" : undefined,
      width: 2,
      points: { show: xs.length < 40 },
    };
  }));
  var values = [xs].concat(data.metrics.map(function (metric) {
    return data.rows.map(function (row) { return row[metric]; });
  }));

  // Days are labelled by date only, hours by the hour: no "12am" on a daily chart.
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function xAxis() {
    var day = 86400;
    return {
      space: 50,
      incrs: data.hourly ? [3600, 2 * 3600, 3 * 3600, 6 * 3600] : [day, 2 * day, 7 * day, 14 * day, 28 * day],
      values: function (u, splits) {
        return splits.map(function (ts) {
          var d = new Date(ts * 1000);
          return data.hourly ? String(d.getUTCHours()).padStart(2, "0") + ":00" : d.getUTCDate() + " " + months[d.getUTCMonth()];
        });
      },
    };
  }

  function size() {
    return { width: Math.max(280, element.clientWidth), height: element.clientWidth < 600 ? 200 : 260 };
  }
  var options = Object.assign(size(), {
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "UTC"); },
    series: series,
    scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
    axes: [xAxis(), { size: 50 }],
    legend: { live: true },
  });
  element.classList.add("drawn");
  var chart = new uPlot(options, values, element);
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { chart.setSize(size()); }, 100);
  });
})();
