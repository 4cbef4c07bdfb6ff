// The shopstream dashboard: draws the snapshots of /dashboard/data, then follows
// /dashboard/ws. Plain script, no build step; plotly.js comes from the plotly wheel.
"use strict";

(function () {
  const CONFIG = { displayModeBar: false, responsive: true };
  const MARGIN = { l: 48, r: 48, t: 8, b: 36 };
  const healthPoints = { x: [], y: [] };
  const params = new URLSearchParams(window.location.search);
  const keyQuery = params.get("api_key") ? "?api_key=" + encodeURIComponent(params.get("api_key")) : "";

  function time(ms) { return new Date(ms); }
  function text(value) { return value === null || value === undefined ? "–" : String(value); }
  function money(value) { return typeof value === "number" ? value.toFixed(2) : "–"; }

  function table(id, headers, rows) {
    const node = document.getElementById(id);
    node.replaceChildren();
    const head = node.insertRow();
    for (const h of headers) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    if (rows.length === 0) {
      const cell = node.insertRow().insertCell();
      cell.colSpan = headers.length;
      cell.className = "empty";
      cell.textContent = "nothing yet";
      return;
    }
    for (const row of rows) {
      const tr = node.insertRow();
      for (const value of row.cells) {
        const td = tr.insertCell();
        td.textContent = text(value);
        if (row.className) td.className = row.className;
      }
    }
  }

  function drawRevenue(windows) {
    const x = windows.map((w) => time(w.windowStart));
    const most = Math.max(0, ...windows.map((w) => w.orderCount));
    Plotly.react("chart-revenue", [
      { type: "bar", name: "revenue", x: x, y: windows.map((w) => w.revenue),
        marker: { color: "#60a5fa" } },
      { type: "scatter", mode: "lines+markers", name: "orders", yaxis: "y2", x: x,
        y: windows.map((w) => w.orderCount), line: { color: "#f59e0b" } },
    ], { margin: MARGIN, legend: { orientation: "h" },
         yaxis: { title: "revenue" },
         yaxis2: { title: "orders", overlaying: "y", side: "right", rangemode: "tozero",
                   tickformat: ",d", dtick: most < 10 ? 1 : null } },
    CONFIG);
  }

  function drawTrending(latest) {
    const products = latest ? latest.products.slice(0, 10).reverse() : [];
    Plotly.react("chart-trending", [
      { type: "bar", orientation: "h", x: products.map((p) => p.score),
        y: products.map((p) => p.productId), marker: { color: "#34d399" },
        text: products.map((p) => "count " + p.count), hoverinfo: "x+y+text" },
    ], { margin: { l: 90, r: 16, t: 8, b: 36 }, xaxis: { title: "score" } }, CONFIG);
  }

  function drawTop(windows) {
    const withOrders = windows.filter((w) => w.orderCount > 0);
    const latest = withOrders[withOrders.length - 1];
    const products = latest ? latest.byRevenue.slice(0, 10).reverse() : [];
    Plotly.react("chart-top", [
      { type: "bar", orientation: "h", x: products.map((p) => p.revenue),
        y: products.map((p) => p.productName || p.productId), marker: { color: "#f472b6" },
        text: products.map((p) => p.quantity + " sold"), hoverinfo: "x+y+text" },
    ], { margin: { l: 90, r: 16, t: 8, b: 36 }, xaxis: { title: "revenue" } }, CONFIG);
  }

  function drawHealth(health) {
    healthPoints.x.push(time(health.now));
    healthPoints.y.push(health.eventsPerSecond);
    if (healthPoints.x.length > 300) { healthPoints.x.shift(); healthPoints.y.shift(); }
    Plotly.react("chart-health", [
      { type: "scatter", mode: "lines", name: "events/s", x: healthPoints.x.slice(),
        y: healthPoints.y.slice(), line: { color: "#a78bfa" }, fill: "tozeroy" },
    ], { margin: MARGIN, yaxis: { rangemode: "tozero" } }, CONFIG);
    document.getElementById("kpi-events").textContent = health.events;
    document.getElementById("kpi-rate").textContent = health.eventsPerSecond;
    document.getElementById("kpi-lag").textContent = text(health.watermarkLagSeconds);
    document.getElementById("kpi-dead").textContent = health.deadLetters;
    document.getElementById("kpi-checkpoint").textContent =
      health.checkpoints ? text(health.checkpointAgeSeconds) : "off";
  }

  function draw(data) {
    drawRevenue(data.revenue);
    drawTrending(data.trending[data.trending.length - 1]);
    drawTop(data.top);
    drawHealth(data.health);
    const last = data.revenue[data.revenue.length - 1];
    document.getElementById("kpi-revenue").textContent = last ? money(last.revenue) : "0";
    document.getElementById("kpi-aov").textContent = last ? money(last.averageOrderValue) : "–";
    table("table-fraud", ["rule", "user", "severity", "reason"],
      data.fraud.slice().reverse().map((a) => ({
        cells: [a.rule, a.userId, a.severity, a.reason], className: a.severity })));
    table("table-abandoned", ["session", "user", "cart value", "offer", "suggested"],
      data.abandoned.slice().reverse().map((c) => ({
        cells: [c.sessionId, c.userId, money(c.cartValue), c.offer,
                c.recommendations.map((r) => r.productId || r.product_id).join(", ")] })));
    table("table-recommendations", ["session", "after", "products", "type"],
      data.recommendations.slice().reverse().map((r) => ({
        cells: [r.sessionId, r.triggerProductId, r.recommendedProducts.join(", "),
                r.recommendationType] })));
    document.getElementById("kpi-rules").textContent = data.rules.count;
    table("table-rules", ["if bought", "then", "confidence", "lift", "baskets"],
      data.rules.strongest.map((r) => ({
        cells: [r.antecedents.join(" + "), r.consequent, r.confidence.toFixed(2),
                r.lift.toFixed(2), r.count] })));
    table("table-activity", ["entity", "id", "as of (event time)", "features"],
      data.activity.slice().reverse().map((f) => ({
        cells: [f.entity, f.entityId, time(f.computedAt).toLocaleTimeString(),
                Object.keys(f.features || {}).length] })));
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/dashboard/ws" + keyQuery);
    const status = document.getElementById("status");
    socket.onopen = () => { status.textContent = "live"; status.className = "live"; };
    socket.onmessage = (message) => draw(JSON.parse(message.data));
    socket.onclose = () => {
      status.textContent = "reconnecting…";
      status.className = "";
      setTimeout(connect, 1000);
    };
  }

  fetch("/dashboard/data" + keyQuery)
    .then((answer) => answer.json())
    .then(draw)
    .finally(connect);
})();
