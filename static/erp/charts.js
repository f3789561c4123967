// Charts of the operator pages (dashboard, stock health, profit, refund report, members dashboard),
// drawn with Apache ECharts from a spec the page embeds with json_script. Every element
// <div class="chart" data-chart="ID"> is drawn from the <script id="ID" type="application/json">:
//   {"type": "bar" | "line" | "pie",
//    "categories": [...],                       labels of the category axis (pie: of the slices)
//    "series": [{"name", "data": [number or numeric string or null], "type"?, "axis"?: 0 | 1,
//                "stack"?, "unit"?: "%"}],
//    "axes": [{"name", "unit"?}, ...],           value axes (a second one goes on the right)
//    "horizontal"?: true,                        categories on the vertical axis
//    "empty": "text shown when there is nothing to draw"}
// Numbers arrive as strings when they are Decimals (exact); they are read with Number(). The labels
// are translated by the server. After drawing, the element gets data-rendered="1".
(function () {
  "use strict";
  function num(v) { return v === null || v === undefined || v === "" ? null : Number(v); }
  function fmt(unit) {
    return function (v) {
      if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) { return "—"; }
      return (typeof v === "number" ? v.toLocaleString() : v) + (unit || "");
    };
  }
  function option(spec) {
    var series = spec.series || [];
    if (spec.type === "pie") {
      var s = series[0] || { name: "", data: [] };
      return {
        tooltip: { trigger: "item", formatter: function (p) { return p.marker + p.name + ": " + fmt(s.unit)(p.value) + " (" + p.percent + "%)"; } },
        legend: { type: "scroll", orient: "vertical", left: 0, top: "middle" },
        series: [{ name: s.name, type: "pie", radius: ["35%", "68%"], center: ["62%", "50%"],
          label: { formatter: "{b}: {d}%" },
          // empty slices are left out of the drawing (their labels would pile up); the page's table lists them
          data: (spec.categories || []).map(function (c, i) { return { name: c, value: num(s.data[i]) }; })
            .filter(function (d) { return d.value; }) }]
      };
    }
    var axes = (spec.axes && spec.axes.length ? spec.axes : [{}]).map(function (a, i) {
      return { type: "value", name: a.name || "", position: spec.horizontal ? (i ? "top" : "bottom") : (i ? "right" : "left"),
        nameLocation: spec.horizontal ? "middle" : "end", nameGap: spec.horizontal ? 24 : 12,
        splitLine: { show: i === 0 }, axisLabel: { formatter: function (v) { return v + (a.unit || ""); } } };
    });
    var category = { type: "category", data: spec.categories || [],
      axisLabel: spec.horizontal ? { width: 140, overflow: "truncate", interval: 0 } : {
        interval: (spec.categories || []).length > 12 ? "auto" : 0,
        rotate: (spec.categories || []).length > 12 ? 40 : 0,
        // days (YYYY-MM-DD) show as MM-DD on the axis; the tooltip keeps the whole date
        formatter: function (v) { return /^\d{4}-\d{2}-\d{2}$/.test(v) ? v.slice(5) : v; } } };
    var longest = Math.max.apply(null, [0].concat((spec.categories || []).map(function (c) { return String(c).length; })));
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { type: "scroll", top: 0 },
      grid: { left: spec.horizontal ? Math.min(160, 24 + longest * 7) : 56, right: !spec.horizontal && axes.length > 1 ? 56 : 24,
        top: spec.horizontal && axes.length > 1 ? 72 : 40,
        bottom: spec.horizontal ? 44 : ((spec.categories || []).length > 12 ? 72 : 32) },
      xAxis: spec.horizontal ? axes : category,
      yAxis: spec.horizontal ? Object.assign(category, { inverse: true }) : axes,
      series: series.map(function (s) {
        var out = { name: s.name, type: s.type || spec.type || "bar", data: (s.data || []).map(num),
          tooltip: { valueFormatter: fmt(s.unit) }, connectNulls: true, smooth: false };
        if (s.stack) { out.stack = s.stack; }
        if (spec.horizontal && out.type === "line") { out.lineStyle = { width: 0 }; out.symbolSize = 10; }  // points, no line across categories
        if (s.axis) { out[spec.horizontal ? "xAxisIndex" : "yAxisIndex"] = s.axis; }
        return out;
      })
    };
  }
  function draw(box) {
    var el = document.getElementById(box.getAttribute("data-chart"));
    if (!el || !window.echarts) { return; }
    var spec = JSON.parse(el.textContent);
    var chart = window.echarts.init(box);
    var empty = !(spec.categories || []).length || (spec.type === "pie" &&
      !((spec.series || [])[0] || { data: [] }).data.some(function (v) { return num(v); }));
    var opt = option(spec);
    if (empty && spec.empty) {
      opt.graphic = { type: "text", left: "center", top: "middle", style: { text: spec.empty, fill: "#94a3b8", fontSize: 14 } };
    }
    chart.setOption(opt);
    window.addEventListener("resize", function () { chart.resize(); });
    box.setAttribute("data-rendered", "1");
  }
  var boxes = document.querySelectorAll("[data-chart]");
  for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }
})();
