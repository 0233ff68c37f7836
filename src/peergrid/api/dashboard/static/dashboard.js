// The dashboard: one snapshot from /dashboard/state, then server-sent events (/dashboard/events).
// Charts are drawn as SVG here: nothing is loaded from the network. Amounts arrive as the
// chain's integers (Wh, micro-currency) and are kept in data-value attributes as they came.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const money = (micro) => (micro / 1e6).toFixed(4);
const kwh = (wh) => (wh / 1000).toFixed(3);
let feeder = null;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, words, anchor) {
  const t = el("text", { x, y, "text-anchor": anchor || "start" }, parent);
  t.textContent = words;
  return t;
}

function setFigure(id, value, shown) {
  const figure = document.getElementById(id);
  figure.dataset.value = value === null || value === undefined ? "" : String(value);
  figure.querySelector(".value").textContent = shown;
}

function showClock(clock) {
  document.getElementById("clock").textContent =
    `cycle ${clock.cycle} · ${clock.phase} · market minute ${clock.minute.toFixed(1)}`;
}

function showFigures(state) {
  const last = state.slots.length ? state.slots[state.slots.length - 1] : null;
  document.getElementById("last-slot-number").textContent = last ? `(slot ${last.slot})` : "(none yet)";
  document.getElementById("last-price").dataset.slot = last ? last.slot : "";
  setFigure("last-price", last && last.price_micro_per_kwh, last ? money(last.price_micro_per_kwh) : "–");
  setFigure("last-energy", last && last.energy_wh, last ? kwh(last.energy_wh) : "–");
  setFigure("last-trades", last && last.trade_count, last ? String(last.trade_count) : "–");
  setFigure("dso-income", state.dso_income_micro, money(state.dso_income_micro));
  const matched = state.matched.length ? state.matched[state.matched.length - 1] : null;
  setFigure("next-matched", matched && matched.price_micro_per_kwh,
    matched ? (matched.price_micro_per_kwh === null ? `slot ${matched.slot}: no price`
      : `slot ${matched.slot}: ${money(matched.price_micro_per_kwh)}`) : "–");
}

function showTables(state) {
  const balances = document.querySelector("#balances tbody");
  balances.replaceChildren(...state.balances.map((b) => {
    const row = document.createElement("tr");
    row.dataset.account = b.account;
    row.innerHTML = `<td>${b.account === "dso" ? "DSO" : b.account}</td><td>${b.bus ?? ""}</td>` +
      `<td class="balance" data-value="${b.balance_micro}">${money(b.balance_micro)}</td>`;
    return row;
  }));
  const slots = document.querySelector("#slots tbody");
  slots.replaceChildren(...state.slots.slice().reverse().map((s) => {
    const row = document.createElement("tr");
    row.dataset.slot = s.slot;
    row.innerHTML = `<td>${s.slot}</td><td data-value="${s.price_micro_per_kwh}">${money(s.price_micro_per_kwh)}</td>` +
      `<td data-value="${s.energy_wh}">${kwh(s.energy_wh)}</td><td>${s.trade_count}</td>` +
      `<td data-value="${s.dso_income_micro}">${money(s.dso_income_micro)}</td>`;
    return row;
  }));
}

function axes(svg, box, yLabel, yMax, xLabel, yMin) {
  el("line", { x1: box.x, y1: box.y + box.h, x2: box.x + box.w, y2: box.y + box.h, stroke: "#999" }, svg);
  el("line", { x1: box.x, y1: box.y, x2: box.x, y2: box.y + box.h, stroke: "#999" }, svg);
  text(svg, box.x - 4, box.y + 4, yMax, "end");
  text(svg, box.x - 4, box.y + box.h, yMin === undefined ? "0" : yMin, "end");
  text(svg, box.x, box.y - 6, yLabel);
  text(svg, box.x + box.w, box.y + box.h + 28, xLabel, "end");
}

function drawPrices(slots) {
  const svg = document.getElementById("price-chart");
  svg.replaceChildren();
  const box = { x: 48, y: 20, w: 500, h: 170 };
  if (!slots.length) { text(svg, 300, 120, "no slot cleared yet", "middle"); return; }
  const shown = slots.slice(-48);
  const eMax = Math.max(...shown.map((s) => s.energy_wh), 1);
  const prices = shown.map((s) => s.price_micro_per_kwh);
  const pLo = Math.min(...prices), pHi = Math.max(...prices);
  const pPad = Math.max((pHi - pLo) * 0.15, 5000);
  const y = (p) => box.y + box.h - ((p - (pLo - pPad)) / (pHi - pLo + 2 * pPad)) * box.h;
  const step = Math.min(box.w / shown.length, 40); // a few slots do not fill the axis
  axes(svg, box, "kWh", kwh(eMax), "slot");
  shown.forEach((s, i) => {
    const h = (s.energy_wh / eMax) * box.h;
    el("rect", { x: box.x + i * step + 1, y: box.y + box.h - h, width: Math.max(step - 2, 1), height: h,
      fill: "#9fb3c8" }, svg);
    if (shown.length <= 24 || i % Math.ceil(shown.length / 12) === 0)
      text(svg, box.x + (i + 0.5) * step, box.y + box.h + 14, String(s.slot), "middle");
  });
  const points = shown.map((s, i) => `${box.x + (i + 0.5) * step},${y(s.price_micro_per_kwh)}`);
  el("polyline", { points: points.join(" "), fill: "none", stroke: "#c05621", "stroke-width": 2 }, svg);
  shown.forEach((s, i) => el("circle", { cx: box.x + (i + 0.5) * step, cy: y(s.price_micro_per_kwh), r: 3,
    fill: "#c05621" }, svg));
  const right = box.x + box.w;
  el("line", { x1: right, y1: box.y, x2: right, y2: box.y + box.h, stroke: "#c05621" }, svg);
  text(svg, right + 4, y(pHi) + 4, money(pHi));
  if (pLo !== pHi) text(svg, right + 4, y(pLo) + 4, money(pLo));
}

function drawDepth(depth) {
  const svg = document.getElementById("depth-chart");
  svg.replaceChildren();
  document.getElementById("depth-slot").textContent = depth ? `(slot ${depth.slot})` : "";
  if (!depth || (!depth.asks.length && !depth.bids.length)) {
    text(svg, 300, 120, depth ? "too few orders to show without revealing one" : "no book matched yet", "middle");
    return;
  }
  const box = { x: 60, y: 20, w: 500, h: 170 };
  const cumulative = (levels) => { let sum = 0; return levels.map((l) => [sum += l.energy_wh, l.price_micro_per_kwh]); };
  const asks = cumulative(depth.asks), bids = cumulative(depth.bids);
  const all = asks.concat(bids);
  const eMax = Math.max(...all.map((p) => p[0]), 1);
  const prices = all.map((p) => p[1]).concat(depth.price_micro_per_kwh === null ? [] : [depth.price_micro_per_kwh]);
  const pLo = Math.min(...prices) - depth.price_step_micro, pHi = Math.max(...prices) + depth.price_step_micro;
  const x = (e) => box.x + (e / eMax) * box.w;
  const y = (p) => box.y + box.h - ((p - pLo) / (pHi - pLo)) * box.h;
  axes(svg, box, "price /kWh", money(pHi), `cumulative kWh (up to ${kwh(eMax)})`, money(pLo));
  const steps = (points) => {
    let d = `M ${x(0)} ${y(points[0][1])}`;
    let e = 0;
    for (const [cum, price] of points) { d += ` L ${x(e)} ${y(price)} L ${x(cum)} ${y(price)}`; e = cum; }
    return d;
  };
  if (asks.length) el("path", { d: steps(asks), fill: "none", stroke: "var(--sell)", "stroke-width": 2 }, svg);
  if (bids.length) el("path", { d: steps(bids), fill: "none", stroke: "var(--buy)", "stroke-width": 2 }, svg);
  if (depth.price_micro_per_kwh !== null) {
    const py = y(depth.price_micro_per_kwh);
    el("line", { x1: box.x, y1: py, x2: box.x + box.w, y2: py, stroke: "#444", "stroke-dasharray": "4 3" }, svg);
    text(svg, box.x + box.w, py - 4, `clearing ${money(depth.price_micro_per_kwh)}`, "end");
  }
  text(svg, box.x + 8, box.y + 12, "offers (asks)").setAttribute("style", "fill: var(--sell)");
  text(svg, box.x + 8, box.y + 26, "bids").setAttribute("style", "fill: var(--buy)");
}

function voltageColour(v, lo, hi) {
  if (v === null || v === undefined) return "#bbb";
  const t = hi > lo ? Math.min(Math.max((v - lo) / (hi - lo), 0), 1) : 0.5;
  // low voltage red, high blue (the report's coolwarm_r), white in the middle
  const mix = (a, b, s) => Math.round(a + (b - a) * s);
  const [r, g, b] = t < 0.5
    ? [mix(178, 247, t * 2), mix(24, 247, t * 2), mix(43, 247, t * 2)]
    : [mix(247, 33, (t - 0.5) * 2), mix(247, 102, (t - 0.5) * 2), mix(247, 172, (t - 0.5) * 2)];
  return `rgb(${r},${g},${b})`;
}

function drawMap(map) {
  const svg = document.getElementById("map");
  if (!feeder) return;
  svg.replaceChildren();
  const coords = Object.values(feeder.buses);
  const xs = coords.map((c) => c[0]), ys = coords.map((c) => c[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const scale = Math.min(960 / Math.max(x1 - x0, 1e-9), 520 / Math.max(y1 - y0, 1e-9));
  const flip = feeder.geographic; // north up; a tree layout has its root at the top
  const at = (bus) => {
    const c = feeder.buses[String(bus)];
    const px = 20 + (c[0] - x0) * scale;
    const py = flip ? 540 - (c[1] - y0) * scale : 20 + (c[1] - y0) * scale;
    return [px, py];
  };
  let d = "";
  for (const [a, b] of feeder.lines) { const p = at(a), q = at(b); d += `M${p[0]} ${p[1]}L${q[0]} ${q[1]}`; }
  el("path", { d, stroke: "#9aa5b1", "stroke-width": 1, fill: "none" }, svg);
  const volts = map && map.voltage_pu ? map.voltage_pu : null;
  const known = volts ? Object.values(volts).filter((v) => v !== null) : [];
  const lo = known.length ? Math.min(...known) : 1, hi = known.length ? Math.max(...known) : 1;
  const members = new Set(feeder.member_buses);
  for (const bus of Object.keys(feeder.buses)) {
    const [px, py] = at(bus);
    const member = members.has(bus);
    if (!member && !volts) continue;
    el("circle", { cx: px, cy: py, r: member ? 5 : 1.6, fill: voltageColour(volts ? volts[bus] : null, lo, hi),
      stroke: member ? "#1d2733" : "none", "stroke-width": 0.8, "data-bus": bus }, svg);
  }
  if (feeder.source !== null && feeder.buses[String(feeder.source)]) {
    const [px, py] = at(feeder.source);
    el("rect", { x: px - 6, y: py - 6, width: 12, height: 12, fill: "#dd6b20", stroke: "#1d2733" }, svg);
  }
  const trades = map ? map.trades : [];
  const eMax = Math.max(...trades.map((t) => t.energy_wh), 1);
  for (const t of trades) {
    const [sx, sy] = at(t.seller_bus), [bx, by] = at(t.buyer_bus);
    const mx = (sx + bx) / 2 + (by - sy) * 0.2, my = (sy + by) / 2 - (bx - sx) * 0.2;
    el("path", { d: `M${sx} ${sy} Q${mx} ${my} ${bx} ${by}`, fill: "none", stroke: "var(--trade)",
      "stroke-opacity": 0.75, "stroke-width": 1 + 4 * (t.energy_wh / eMax), "data-trade": `${t.seller}>${t.buyer}` }, svg);
  }
  document.getElementById("map-slot").textContent = map ? `(slot ${map.slot}: ${trades.length} trades)` : "(no slot metered yet)";
  document.getElementById("map-legend").innerHTML = volts
    ? `<span><i class="swatch" style="background:${voltageColour(lo, lo, hi)}"></i>${lo.toFixed(4)} p.u.</span>` +
      `<span><i class="swatch" style="background:${voltageColour(hi, lo, hi)}"></i>${hi.toFixed(4)} p.u.</span>` +
      `<span><i class="swatch" style="background:var(--trade)"></i>trade, seller to buyer (width: energy)</span>` +
      "<span>ringed: members' buses · square: the substation</span>"
    : "Voltages appear once a slot's meters are in (AC power flow of the metered net energy).";
}

function render(state) {
  showClock(state.clock);
  document.getElementById("mechanism").textContent = `${state.mechanism} · ${state.members} members`;
  showFigures(state);
  showTables(state);
  drawPrices(state.slots);
  drawDepth(state.depth);
  drawMap(state.map);
  document.body.dataset.rendered = String(Date.now());
}

async function start() {
  const answer = await fetch("/dashboard/feeder");
  if (answer.ok) feeder = await answer.json();
  else document.getElementById("map-section").hidden = true;
  render(await (await fetch("/dashboard/state")).json());
  const status = document.getElementById("status");
  const events = new EventSource("/dashboard/events");
  events.addEventListener("state", (e) => render(JSON.parse(e.data)));
  events.addEventListener("clock", (e) => showClock(JSON.parse(e.data)));
  events.onopen = () => { status.className = "live"; status.textContent = "● live"; };
  events.onerror = () => { status.className = "down"; status.textContent = "● reconnecting"; };
}

start();
