// nngpt dashboard: live refresh over server-sent events and the charts.
// Hand-written, no dependencies. Every string from the store reaches the
// DOM through textContent or setAttribute, never as markup.
'use strict';

const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, s, cls, anchor) {
  const t = el('text', { x: x, y: y, class: cls || '', 'text-anchor': anchor || 'start' }, parent);
  t.textContent = s;
  return t;
}

function tip(node, s) {
  const t = el('title', {}, node);
  t.textContent = s;
}

// niceTicks returns about n round values covering [lo, hi].
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1).replace(/\.0$/, '') + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  if (a > 0 && a < 0.01) return v.toExponential(0);
  return String(+v.toFixed(3));
}

// axes draws a frame with ticks and returns the scales. opt: xlo, xhi,
// ylo, yhi, xlog, xlabel, ylabel, xint (integer ticks).
function axes(svg, W, H, opt) {
  const m = { l: 54, r: 14, t: 12, b: 40 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const lx = v => (opt.xlog ? Math.log10(v) : v);
  const x0 = lx(opt.xlo), x1 = lx(opt.xhi);
  const sx = v => m.l + (x1 > x0 ? (lx(v) - x0) / (x1 - x0) : 0.5) * pw;
  const sy = v => m.t + (opt.yhi > opt.ylo ? 1 - (v - opt.ylo) / (opt.yhi - opt.ylo) : 0.5) * ph;
  const g = el('g', { class: 'axes' }, svg);
  el('rect', { x: m.l, y: m.t, width: pw, height: ph, class: 'frame' }, g);
  for (const v of niceTicks(opt.ylo, opt.yhi, 5)) {
    el('line', { x1: m.l, x2: m.l + pw, y1: sy(v), y2: sy(v), class: 'grid' }, g);
    text(g, m.l - 6, sy(v) + 4, fmt(v), 'tick', 'end');
  }
  let xt;
  if (opt.xlog) {
    xt = [];
    // Decades, or 1-2-5 steps when the range spans less than two.
    const mults = x1 - x0 < 2 ? [1, 2, 5] : [1];
    for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) {
      for (const k of mults) {
        const v = k * Math.pow(10, e);
        if (Math.log10(v) >= x0 - 1e-9 && Math.log10(v) <= x1 + 1e-9) xt.push(v);
      }
    }
    if (xt.length < 2) xt = [opt.xlo, opt.xhi];
  } else {
    xt = niceTicks(opt.xlo, opt.xhi, 6);
    if (opt.xint) xt = xt.filter(v => Number.isInteger(v));
  }
  for (const v of xt) {
    el('line', { x1: sx(v), x2: sx(v), y1: m.t, y2: m.t + ph, class: 'grid' }, g);
    text(g, sx(v), m.t + ph + 16, fmt(v), 'tick', 'middle');
  }
  text(g, m.l + pw / 2, H - 6, opt.xlabel || '', 'label', 'middle');
  const yl = text(g, 0, 0, opt.ylabel || '', 'label', 'middle');
  yl.setAttribute('transform', 'translate(13,' + (m.t + ph / 2) + ') rotate(-90)');
  return { sx: sx, sy: sy, m: m, pw: pw, ph: ph };
}

function newSVG(box, H) {
  box.replaceChildren();
  const W = Math.max(320, box.clientWidth || 560);
  const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, class: 'svgchart' }, box);
  return { svg: svg, W: W };
}

function empty(box, msg) {
  box.replaceChildren();
  const p = document.createElement('p');
  p.className = 'empty';
  p.textContent = msg;
  box.appendChild(p);
}

function legend(box, items) {
  const d = document.createElement('div');
  d.className = 'legend';
  for (const [cls, label] of items) {
    const s = document.createElement('span');
    const i = document.createElement('i');
    i.className = cls;
    s.appendChild(i);
    s.appendChild(document.createTextNode(label));
    d.appendChild(s);
  }
  box.appendChild(d);
}

function range(vals, pad) {
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (!isFinite(lo)) return [0, 1];
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const p = (hi - lo) * (pad || 0);
  return [lo - p, hi + p];
}

function minMax(vals) {
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

const candHref = id => '/candidates/' + encodeURIComponent(id);

function dot(g, x, y, cls, label, href) {
  const parent = href ? el('a', { href: href }, g) : g;
  const c = el('circle', { cx: x, cy: y, r: 3.6, class: cls }, parent);
  if (label) tip(c, label);
  return c;
}

function cross(g, x, y, cls, label) {
  const p = el('path', { d: `M${x - 3.5},${y - 3.5}L${x + 3.5},${y + 3.5}M${x - 3.5},${y + 3.5}L${x + 3.5},${y - 3.5}`, class: cls }, g);
  if (label) tip(p, label);
}

function polyline(g, pts, cls) {
  if (pts.length === 0) return;
  el('polyline', { points: pts.map(p => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), class: cls }, g);
}

function stepPoints(pts) { // horizontal then vertical: a best-so-far line
  const out = [];
  pts.forEach((p, i) => { if (i > 0) out.push([p[0], pts[i - 1][1]]); out.push(p); });
  return out;
}

// pareto keeps the points no other point beats on both axes (smaller x,
// larger y).
function pareto(points, xf) {
  const ps = points.filter(p => xf(p) > 0).slice().sort((a, b) => xf(a) - xf(b) || b.a - a.a);
  const out = [];
  let best = -Infinity;
  for (const p of ps) if (p.a > best) { out.push(p); best = p.a; }
  return out;
}

function pointLabel(p) {
  return `${p.n} · cycle ${p.c} · ${p.s}${p.adm ? ', admitted' : ''}\naccuracy ${p.a.toFixed(4)} · ${fmt(p.p)} params · ${p.t.toFixed(1)} s`;
}

function pointClass(p) { return p.s === 'pruned' ? 'pt pruned' : p.adm ? 'pt adm' : 'pt done'; }

function chartCycles(box, d) {
  const pts = d.points;
  if (!pts.length) return empty(box, 'No trained candidate yet.');
  const { svg, W } = newSVG(box, 300);
  const cyc = d.cycles.length ? d.cycles : pts.map(p => p.c);
  const [clo, chi] = minMax(cyc);
  const ay = pts.map(p => p.a).concat(d.threshold ? [d.threshold] : []);
  const ax = axes(svg, W, 300, { xlo: clo - 0.5, xhi: chi + 0.5, ylo: 0, yhi: Math.min(1, Math.max(...ay) * 1.1 + 0.02), xint: true, xlabel: 'cycle', ylabel: 'accuracy (best epoch)' });
  const by = {};
  for (const p of pts) (by[p.c] = by[p.c] || []).push(p);
  const g = el('g', {}, svg);
  for (const c in by) {
    const ps = by[c];
    ps.forEach((p, i) => {
      const jitter = ps.length > 1 ? (i / (ps.length - 1) - 0.5) * 0.5 : 0;
      const x = ax.sx(+c + jitter), y = ax.sy(p.a);
      if (p.s === 'pruned') cross(g, x, y, 'pt pruned', pointLabel(p));
      else dot(g, x, y, pointClass(p), pointLabel(p), candHref(p.id));
    });
  }
  polyline(g, stepPoints(d.best.map(b => [ax.sx(b.x), ax.sy(b.y)])), 'line best');
  legend(box, [['k-adm', 'admitted'], ['k-done', 'trained'], ['k-pruned', 'pruned'], ['k-best', 'best so far']]);
}

function chartScatter(box, d, key, label, log) {
  const xf = p => p[key];
  const pts = d.points.filter(p => xf(p) > 0);
  if (!pts.length) return empty(box, 'No trained candidate yet.');
  const { svg, W } = newSVG(box, 300);
  const [xlo, xhi] = minMax(pts.map(xf));
  const ax = axes(svg, W, 300, {
    xlo: log ? xlo / 1.6 : Math.max(0, xlo - (xhi - xlo) * 0.05 - 0.01), xhi: log ? xhi * 1.6 : xhi + (xhi - xlo) * 0.05 + 0.01,
    ylo: 0, yhi: Math.min(1, Math.max(...pts.map(p => p.a)) * 1.1 + 0.02), xlog: log, xlabel: label, ylabel: 'accuracy (best epoch)'
  });
  const g = el('g', {}, svg);
  for (const p of pts) {
    if (p.s === 'pruned') cross(g, ax.sx(xf(p)), ax.sy(p.a), 'pt pruned', pointLabel(p));
    else dot(g, ax.sx(xf(p)), ax.sy(p.a), pointClass(p), pointLabel(p), candHref(p.id));
  }
  const front = pareto(pts.filter(p => p.s === 'done'), xf);
  polyline(g, stepPoints(front.map(p => [ax.sx(xf(p)), ax.sy(p.a)])), 'line front');
  for (const p of front) el('circle', { cx: ax.sx(xf(p)), cy: ax.sy(p.a), r: 6, class: 'ring' }, g);
  legend(box, [['k-adm', 'admitted'], ['k-done', 'trained'], ['k-pruned', 'pruned'], ['k-front', 'Pareto front (' + front.length + ')']]);
}

function chartLineage(box, d) {
  const lg = d.lineage;
  if (!lg || !lg.nodes.length) return empty(box, 'No candidate with a parent yet (the generator made them from scratch).');
  const cols = lg.cycles + 1;
  const rows = Math.max(...lg.nodes.map(n => n.r)) + 1;
  const rowH = Math.max(7, Math.min(24, 760 / rows));
  const H = Math.max(160, rows * rowH + 40);
  const { svg, W } = newSVG(box, H);
  const left = 130, right = 130; // room for the corpus and last-cycle labels
  const colW = (W - left - right) / Math.max(1, cols - 1);
  const X = n => left + n.c * colW, Y = n => 24 + n.r * rowH;
  const g = el('g', {}, svg);
  for (let c = 0; c < cols; c++) text(g, left + c * colW, 12, c === 0 ? 'corpus' : 'cycle ' + c, 'tick', 'middle');
  const eg = el('g', { class: 'edges' }, g);
  for (const [a, b] of lg.edges) {
    const p = lg.nodes[a], q = lg.nodes[b];
    const x1 = X(p), y1 = Y(p), x2 = X(q), y2 = Y(q), mx = (x1 + x2) / 2;
    el('path', { d: `M${x1},${y1}C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: 'edge ' + (q.adm ? 'adm' : q.s) }, eg);
  }
  const labels = rowH >= 13;
  for (const n of lg.nodes) {
    const cls = 'node ' + (n.adm ? 'adm' : n.s);
    const label = n.n + (n.s === 'corpus' ? ' (corpus)' : ' · ' + n.s + (n.a ? ' · ' + n.a.toFixed(4) : '') + (n.adm ? ' · admitted' : ''));
    const parent = n.id ? el('a', { href: candHref(n.id) }, g) : g;
    const c = el('circle', { cx: X(n), cy: Y(n), r: Math.min(5, rowH / 2.4), class: cls }, parent);
    tip(c, label);
    if (labels && (n.c === 0 || n.c === lg.cycles)) text(parent, X(n) + (n.c === 0 ? -8 : 8), Y(n) + 4, n.n, 'nlabel', n.c === 0 ? 'end' : 'start');
  }
  const items = [['k-adm', 'admitted'], ['k-done', 'trained'], ['k-pruned', 'pruned'], ['k-failed', 'failed'], ['k-rejected', 'rejected / duplicate'], ['k-corpus', 'corpus model']];
  if (lg.cut) items.push(['', 'showing the ancestry of the best candidates only']);
  legend(box, items);
}

function chartHistory(box, d) {
  const h = d.history;
  if (!h.length) return empty(box, 'No finished trial yet.');
  const { svg, W } = newSVG(box, 300);
  const [lo, hi] = range(h.map(p => p.v), 0.08);
  const ax = axes(svg, W, 300, { xlo: Math.min(...h.map(p => p.n)) - 0.5, xhi: Math.max(...h.map(p => p.n)) + 0.5, ylo: Math.max(0, lo), yhi: hi, xint: true, xlabel: 'trial', ylabel: 'objective' });
  const g = el('g', {}, svg);
  for (const p of h) {
    const label = `trial #${p.n} · ${p.s} · ${p.v.toFixed(4)}`;
    if (p.s === 'pruned') cross(g, ax.sx(p.n), ax.sy(p.v), 'pt pruned', label);
    else dot(g, ax.sx(p.n), ax.sy(p.v), 'pt done', label);
  }
  const best = h.filter(p => p.s === 'complete' || p.best);
  polyline(g, stepPoints(best.map(p => [ax.sx(p.n), ax.sy(p.best)])), 'line best');
  legend(box, [['k-done', 'complete'], ['k-pruned', 'pruned'], ['k-best', 'best so far']]);
}

function chartIntermediate(box, d) {
  const cs = d.curves;
  if (!cs.length) return empty(box, 'No trial has reported an intermediate value.');
  const { svg, W } = newSVG(box, 300);
  const steps = [], vals = [];
  for (const c of cs) for (const s of c.steps) { steps.push(s[0]); vals.push(s[1]); }
  const [slo, shi] = minMax(steps);
  const [vlo, vhi] = range(vals, 0.08);
  const ax = axes(svg, W, 300, { xlo: slo - 0.2, xhi: shi + 0.2, ylo: Math.max(0, vlo), yhi: vhi, xint: true, xlabel: 'epoch', ylabel: 'intermediate value' });
  const g = el('g', {}, svg);
  for (const c of cs) {
    const cls = 'curve ' + (c.s === 'pruned' ? 'pruned' : 'done');
    const pts = c.steps.map(s => [ax.sx(s[0]), ax.sy(s[1])]);
    if (pts.length === 1) dot(g, pts[0][0], pts[0][1], 'pt ' + (c.s === 'pruned' ? 'pruned' : 'done'), 'trial #' + c.n);
    else {
      const pl = el('polyline', { points: pts.map(p => p.join(',')).join(' '), class: cls }, g);
      tip(pl, `trial #${c.n} · ${c.s}`);
    }
  }
  legend(box, [['k-done', 'complete'], ['k-pruned', 'pruned']]);
}

// viridis-like ramp for the objective, low to high.
function ramp(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function chartParallel(box, d) {
  if (!d.lines.length) return empty(box, 'No complete trial yet.');
  const H = 320;
  const { svg, W } = newSVG(box, H);
  const n = d.axes.length;
  const top = 28, bot = H - 30, left = 60, right = W - 60;
  const X = i => left + (n > 1 ? i * (right - left) / (n - 1) : 0);
  const Y = u => bot - u * (bot - top);
  const g = el('g', {}, svg);
  const lines = d.lines.slice().sort((a, b) => a.x[n - 1] - b.x[n - 1]); // best drawn last, on top
  for (const l of lines) {
    const pts = [];
    l.x.forEach((u, i) => { if (u >= 0) pts.push([X(i), Y(u)]); });
    const pl = el('polyline', { points: pts.map(p => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), class: 'pc', stroke: ramp(l.x[n - 1]) }, g);
    tip(pl, 'trial #' + l.n);
  }
  d.axes.forEach((a, i) => {
    el('line', { x1: X(i), x2: X(i), y1: top, y2: bot, class: 'pcaxis' }, g);
    text(g, X(i), 14, a.name, 'label', 'middle');
    if (a.ticks && a.ticks.length) {
      a.ticks.forEach((t, k) => text(g, X(i) + 4, Y(a.ticks.length > 1 ? k / (a.ticks.length - 1) : 0.5) + 4, t, 'tick', 'start'));
    } else {
      text(g, X(i) + 4, bot - 4, a.lo, 'tick', 'start');
      text(g, X(i) + 4, top + 10, a.hi, 'tick', 'start');
    }
  });
}

function chartCompare(box, d) {
  const A = d.A || [], B = d.B || [];
  if (!A.length && !B.length) return empty(box, 'Neither loop has a trained candidate yet.');
  const { svg, W } = newSVG(box, 280);
  const xs = A.concat(B).map(p => p.x), ys = A.concat(B).map(p => p.y);
  const [xlo, xhi] = minMax(xs);
  const ax = axes(svg, W, 280, { xlo: xlo - 0.5, xhi: xhi + 0.5, ylo: 0, yhi: Math.min(1, Math.max(...ys) * 1.1 + 0.02), xint: true, xlabel: 'cycle', ylabel: 'best accuracy so far' });
  const g = el('g', {}, svg);
  [[A, 'best a'], [B, 'best b']].forEach(([s, cls]) => {
    polyline(g, stepPoints(s.map(p => [ax.sx(p.x), ax.sy(p.y)])), 'line ' + cls);
    for (const p of s) dot(g, ax.sx(p.x), ax.sy(p.y), 'pt ' + cls.split(' ')[1], 'cycle ' + p.x + ': ' + p.y.toFixed(4));
  });
  legend(box, [['k-a', d.NA], ['k-b', d.NB]]);
}

function readJSON(id) {
  const n = document.getElementById(id);
  if (!n) return null;
  try { return JSON.parse(n.textContent); } catch (e) { return null; }
}

function drawAll() {
  const loop = readJSON('loop-data'), study = readJSON('study-data'), cmp = readJSON('compare-data');
  for (const box of document.querySelectorAll('[data-chart]')) {
    switch (box.dataset.chart) {
      case 'cycles': if (loop) chartCycles(box, loop); break;
      case 'params': if (loop) chartScatter(box, loop, 'p', 'parameters (log scale)', true); break;
      case 'time': if (loop) chartScatter(box, loop, 't', 'training time (s)', false); break;
      case 'lineage': if (loop) chartLineage(box, loop); break;
      case 'history': if (study) chartHistory(box, study); break;
      case 'intermediate': if (study) chartIntermediate(box, study); break;
      case 'parallel': if (study) chartParallel(box, study); break;
      case 'compare': if (cmp) chartCompare(box, cmp); break;
    }
  }
}

// ---- live refresh ----

let timer = null, last = 0, refreshes = 0;
const minGap = 1500; // at most one refetch per 1.5 s, however busy the store

function schedule() {
  if (timer) return;
  timer = setTimeout(refresh, Math.max(0, minGap - (Date.now() - last)));
}

async function refresh() {
  timer = null;
  const a = document.activeElement;
  if (document.hidden || (a && a.matches('input, select, textarea'))) { // do not disturb typing
    timer = setTimeout(refresh, 1000);
    return;
  }
  last = Date.now();
  let html;
  try {
    const r = await fetch(location.href, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) return;
    html = await r.text();
  } catch (e) {
    return;
  }
  const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
  const main = document.getElementById('main');
  if (!fresh || !main) return;
  const open = Array.from(main.querySelectorAll('details'), x => x.open);
  main.replaceChildren(...Array.from(fresh.childNodes, n => document.importNode(n, true)));
  main.querySelectorAll('details').forEach((x, i) => { if (i < open.length) x.open = open[i]; });
  drawAll();
  refreshes++;
  document.body.dataset.refreshes = String(refreshes);
}

function connect() {
  const state = document.getElementById('live-state');
  const es = new EventSource('/events?since=' + encodeURIComponent(document.body.dataset.seq || ''));
  es.addEventListener('hello', ev => {
    let live = 'on';
    try { live = JSON.parse(ev.data).live; } catch (e) { /* keep on */ }
    state.textContent = live === 'on' ? 'live' : 'static';
    state.className = 'live ' + (live === 'on' ? 'on' : '');
  });
  es.addEventListener('change', schedule);
  es.onerror = () => { state.textContent = 'reconnecting…'; state.className = 'live off'; };
}

document.addEventListener('DOMContentLoaded', () => {
  drawAll();
  connect();
  let w = window.innerWidth;
  window.addEventListener('resize', () => { if (Math.abs(window.innerWidth - w) > 40) { w = window.innerWidth; drawAll(); } });
});
