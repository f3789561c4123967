// Members charts: a campaign's repurchase against its holdout, the repurchase dashboard; a sending
// campaign's page reloads itself to show the progress.
(function () {
  "use strict";
  function read(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  var campaign = read("campaign-chart-data");
  var box = document.getElementById("campaign-chart");
  if (campaign && box && window.echarts) {
    var chart = window.echarts.init(box);
    chart.setOption({
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      legend: {},
      xAxis: { type: "category", data: campaign.windows.map(function (d) { return d + " " + campaign.labels.days; }) },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [
        { name: campaign.labels.treated, type: "bar", data: campaign.treated.map(pct) },
        { name: campaign.labels.holdout, type: "bar", data: campaign.holdout.map(pct) },
        { name: campaign.labels.redemption, type: "line", data: campaign.redemption.map(pct) }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (campaign && campaign.sending) {
    window.setTimeout(function () { window.location.reload(); }, 5000);
  }
  var repurchase = read("repurchase-chart-data");
  var box2 = document.getElementById("repurchase-chart");
  if (repurchase && box2 && window.echarts) {
    var chart2 = window.echarts.init(box2);
    chart2.setOption({
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      legend: { type: "scroll" },
      xAxis: { type: "category", data: repurchase.months },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: repurchase.series.map(function (s, i) {
        return { name: s.name, type: "line", connectNulls: true, data: s.data.map(pct), lineStyle: { width: i === 0 ? 3 : 1 } };
      })
    });
    window.addEventListener("resize", function () { chart2.resize(); });
  }
})();
