/* Promotion analysis chart: per promotion, gross profit in the promotion against its baseline
   (bars) and the margin of both (lines), from the JSON the page embeds. */
(function () {
  "use strict";
  var el = document.getElementById("promo-chart");
  var data = document.getElementById("promo-chart-data");
  if (!el || !data || !window.echarts) { return; }
  var d = JSON.parse(data.textContent);
  if (!d.names.length) { el.style.display = "none"; return; }
  var chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: [d.text.profit, d.text.baseline_profit, d.text.margin, d.text.baseline_margin] },
    grid: { left: 60, right: 60, top: 40, bottom: 40 },
    xAxis: { type: "category", data: d.names },
    yAxis: [{ type: "value", name: d.text.profit }, { type: "value", name: "%", axisLabel: { formatter: "{value}%" } }],
    series: [
      { name: d.text.profit, type: "bar", data: d.profit },
      { name: d.text.baseline_profit, type: "bar", data: d.baseline_profit },
      { name: d.text.margin, type: "line", yAxisIndex: 1, data: d.margin },
      { name: d.text.baseline_margin, type: "line", yAxisIndex: 1, data: d.baseline_margin, lineStyle: { type: "dashed" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
