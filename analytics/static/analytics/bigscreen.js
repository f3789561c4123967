/* The wall display: polls the big screen API every data-every seconds and updates the figures
   and the ECharts in place (one chart instance each, reused: no growth over hours). */
(function () {
  "use strict";
  var root = document.getElementById("bigscreen");
  if (!root || !window.echarts) { return; }
  var text = JSON.parse(document.getElementById("bs-text").textContent);
  var every = Math.max(2, parseInt(root.dataset.every, 10) || 10) * 1000;
  var lang = document.documentElement.lang || "en";
  var money = new Intl.NumberFormat(lang, { style: "currency", currency: "CNY", maximumFractionDigits: 0 });
  var count = new Intl.NumberFormat(lang);
  var axis = { axisLine: { lineStyle: { color: "#5b6b8c" } }, axisLabel: { color: "#9fb0d0" }, splitLine: { lineStyle: { color: "#1e2a44" } } };
  var charts = {};
  var mapReady = false;
  var timer = null;
  var inflight = false;

  function chart(id) {
    if (!charts[id]) { charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" }); }
    return charts[id];
  }
  function set(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function num(v) { return v === null || v === undefined ? 0 : Number(v); }
  function pct(el, v) {
    var node = document.getElementById(el);
    if (!node) { return; }
    if (v === null || v === undefined) { node.textContent = ""; node.className = ""; return; }
    node.textContent = (Number(v) >= 0 ? "▲ " : "▼ ") + Math.abs(Number(v)).toFixed(1) + "%";
    node.className = Number(v) >= 0 ? "up" : "down";
  }
  function rows(tbody, items) {
    var el = document.getElementById(tbody);
    while (el.firstChild) { el.removeChild(el.firstChild); }
    items.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      el.appendChild(tr);
    });
  }

  function render(d) {
    set("bs-now", new Date(d.now).toLocaleString(lang, { timeZone: d.timezone }));
    set("kpi-gmv", money.format(num(d.today.gmv)));
    set("kpi-gmv-prev", money.format(num(d.yesterday_same_time.gmv)));
    pct("kpi-gmv-change", d.change_pct.gmv);
    set("kpi-orders", count.format(d.today.paid_orders));
    set("kpi-orders-prev", count.format(d.yesterday_same_time.paid_orders));
    pct("kpi-orders-change", d.change_pct.paid_orders);
    set("kpi-units", count.format(d.today.units));
    set("kpi-aov", d.today.average_order_value === null ? "—" : money.format(num(d.today.average_order_value)));
    set("kpi-ontime", d.today.on_time_ship_rate === null ? "—" : d.today.on_time_ship_rate + "%");
    Object.keys(d.queues).forEach(function (k) { set("q-" + k, count.format(d.queues[k])); });
    set("as-open", count.format(d.aftersales.open));
    set("as-overdue", count.format(d.aftersales.overdue));

    chart("chart-hours").setOption({
      grid: { left: 40, right: 10, top: 30, bottom: 24 }, tooltip: { trigger: "axis" },
      legend: { top: 0, right: 0, data: [text.today, text.yesterday], textStyle: { color: "#c9d6f0" } },
      xAxis: Object.assign({ type: "category", data: d.hours.map(function (h) { return h.hour; }) }, axis),
      yAxis: Object.assign({ type: "value", minInterval: 1 }, axis),
      series: [
        { name: text.today, type: "bar", data: d.hours.map(function (h) { return h.today; }), itemStyle: { color: "#3ba0ff" } },
        { name: text.yesterday, type: "line", data: d.hours.map(function (h) { return h.yesterday; }), itemStyle: { color: "#f6c244" }, symbol: "none" }
      ]
    });
    chart("chart-platforms").setOption({
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["40%", "70%"], label: { color: "#c9d6f0" },
        data: d.by_platform.map(function (p) { return { name: p.name, value: num(p.gmv) }; }) }]
    });
    var shops = d.by_shop.slice(0, 8).reverse();
    chart("chart-shops").setOption({
      grid: { left: 110, right: 20, top: 10, bottom: 24 }, tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "value" }, axis),
      yAxis: Object.assign({ type: "category", data: shops.map(function (s) { return s.name; }) }, axis),
      series: [{ type: "bar", data: shops.map(function (s) { return num(s.gmv); }), itemStyle: { color: "#37d39b" } }]
    });
    if (mapReady) {
      var max = d.provinces.reduce(function (m, p) { return Math.max(m, num(p.gmv)); }, 0);
      chart("chart-map").setOption({
        tooltip: { trigger: "item" },
        visualMap: { min: 0, max: max || 1, left: 10, bottom: 10, calculable: false, textStyle: { color: "#c9d6f0" },
          inRange: { color: ["#17233d", "#1f5fa8", "#3ba0ff", "#7fd3ff"] } },
        series: [{ type: "map", map: "china", roam: false, name: text.gmv,
          itemStyle: { areaColor: "#17233d", borderColor: "#2d4270" }, emphasis: { label: { color: "#fff" } },
          data: d.provinces.map(function (p) { return { name: p.key, value: num(p.gmv) }; }) }]
      });
    }
    rows("top-skus", d.top_skus.map(function (s) { return [s.sku_code + " " + s.title, count.format(s.units), money.format(num(s.gmv))]; }));
    set("stock-out", count.format(d.stock.out));
    set("stock-risk", count.format(d.stock.risk));
    rows("stock-lines", d.stock.lines.map(function (l) {
      return [l.code + " " + l.name, l.status === "out" ? text.out : (l.days_of_cover + " " + text.cover)];
    }));
    var ul = document.getElementById("sync-shops");
    while (ul.firstChild) { ul.removeChild(ul.firstChild); }
    d.sync.forEach(function (s) {
      var li = document.createElement("li");
      li.className = "tone-" + s.tone;
      li.textContent = s.name + (s.failures ? " · " + s.failures + " " + text.failures : "");
      ul.appendChild(li);
    });
    root.dataset.loaded = String(1 + (parseInt(root.dataset.loaded, 10) || 0));
  }

  function tick() {
    if (inflight) { return; }
    inflight = true;
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (d) { render(d); document.getElementById("bs-status").className = "bs-dot live"; })
      .catch(function () { document.getElementById("bs-status").className = "bs-dot stale"; document.getElementById("bs-status").title = text.stale; })
      .then(function () { inflight = false; });
  }

  fetch(root.dataset.map).then(function (r) { return r.json(); }).then(function (geo) {
    echarts.registerMap("china", geo);
    mapReady = true;
    tick();
  }).catch(function () { tick(); });
  timer = setInterval(tick, every);
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearInterval(timer); timer = null; } else if (!timer) { tick(); timer = setInterval(tick, every); }
  });
}());
