// Purchasing page chart: the open reorder suggestions' quantities beside what is already on order
// and in transit for the same SKUs (data: purchasing.selectors.suggested_vs_on_order).
(function () {
  "use strict";
  var el = document.getElementById("suggested-chart-data");
  var box = document.getElementById("chart-suggested");
  if (!el || !box || !window.echarts) { return; }
  var data = JSON.parse(el.textContent);
  if (!data.skus.length) { return; }
  var chart = window.echarts.init(box);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: {},
    grid: { left: 48, right: 16, bottom: 64 },
    xAxis: { type: "category", data: data.skus, axisLabel: { rotate: 30 } },
    yAxis: { type: "value", name: data.labels.units },
    series: [
      { name: data.labels.suggested, type: "bar", data: data.suggested },
      { name: data.labels.on_order, type: "bar", stack: "pipe", data: data.on_order },
      { name: data.labels.in_transit, type: "bar", stack: "pipe", data: data.in_transit }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
