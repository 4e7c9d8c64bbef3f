/**
 * The HTML report of `engram bench --html <file>` (and `engram recall --html`):
 * one self-contained page — tables, and charts drawn into inline SVG by a
 * small inline script from data embedded in the page. No CDN, no network:
 * it opens offline. Each drawn chart gets data-drawn="<points>" so a headless
 * browser (test/html_report.test.ts) can check that the script ran.
 */
import { chartsFor, type ChartData, type ChartSpec } from './charts.js';
import type { BenchResult, BenchRow } from './types.js';

export interface HtmlReportInput {
  title: string;
  date: string;
  /** Free-form machine description lines. */
  machine: string[];
  results: (BenchResult & { charts?: ChartSpec[] })[];
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function cell(v: BenchRow[string]): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : a >= 0.01 ? v.toFixed(3) : v.toExponential(2);
  }
  return String(v);
}

function table(r: BenchResult): string {
  if (!r.rows.length) return '<p>(no rows)</p>';
  const cols = r.columns ?? Object.keys(r.rows[0]);
  const head = cols.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = r.rows.map((row) => `<tr>${cols.map((c) => `<td>${esc(cell(row[c]))}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

// The drawing script (runs in the browser; plain ES2017, no dependencies).
const DRAW = String.raw`
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
    if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
    if (a >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
    if (a >= 1 || a === 0) return String(+v.toPrecision(3));
    return v.toPrecision(2);
  }
  function scale(lo, hi, log, a, b) {
    if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    if (hi === lo) { hi = lo + 1; lo = lo - 1; }
    return function (v) { var t = ((log ? Math.log10(v) : v) - lo) / (hi - lo); return a + t * (b - a); };
  }
  function ticks(lo, hi, log, data) {
    var out = [], i;
    if (log) {
      var p0 = Math.floor(Math.log10(lo)), p1 = Math.ceil(Math.log10(hi));
      for (var p = p0; p <= p1; p++) [1, 2, 5].forEach(function (m) { var t = m * Math.pow(10, p); if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t); });
      if (out.length > 8) out = out.filter(function (t) { return Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9; });
      if (out.length >= 3) return out;
      var uniq = (data || []).filter(function (v, k, a) { return a.indexOf(v) === k; });
      if (uniq.length >= 2 && uniq.length <= 8) return uniq;
      out = [];
      for (i = 0; i <= 4; i++) out.push(+Math.pow(10, Math.log10(lo) + i * (Math.log10(hi) - Math.log10(lo)) / 4).toPrecision(2));
      return out;
    }
    var step = (hi - lo) / 4 || 1;
    for (i = 0; i <= 4; i++) out.push(lo + i * step);
    return out;
  }
  function draw(host, c) {
    var W = 640, H = 360, L = 70, R = 170, T = 36, B = 48;
    var svg = el('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, host);
    el('rect', { x: 0, y: 0, width: W, height: H, fill: '#fff' }, svg);
    el('text', { x: W / 2 - R / 2, y: 22, 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }, svg).textContent = c.title;
    var xs = [], ys = [];
    c.series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    var xlo = Math.min.apply(null, xs), xhi = Math.max.apply(null, xs);
    var ylo = Math.min.apply(null, ys), yhi = Math.max.apply(null, ys);
    if (!c.logY) { ylo = Math.min(0, ylo); yhi = yhi * 1.05 || 1; }
    var sx = scale(xlo, xhi, c.logX, L, W - R), sy = scale(ylo, yhi, c.logY, H - B, T);
    var axes = el('g', { stroke: '#333', 'stroke-width': 1 }, svg);
    el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B }, axes);
    el('line', { x1: L, y1: T, x2: L, y2: H - B }, axes);
    ticks(xlo, xhi, c.logX, xs).forEach(function (t) {
      var x = sx(t);
      el('line', { x1: x, y1: H - B, x2: x, y2: H - B + 5, stroke: '#333' }, svg);
      el('text', { x: x, y: H - B + 18, 'text-anchor': 'middle', 'font-size': 11 }, svg).textContent = fmt(t);
    });
    ticks(ylo, yhi, c.logY).forEach(function (t) {
      var y = sy(t);
      el('line', { x1: L, y1: y, x2: W - R, y2: y, stroke: '#e4e4e4' }, svg);
      el('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11 }, svg).textContent = fmt(t);
    });
    el('text', { x: (L + W - R) / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 12 }, svg).textContent = c.xLabel + (c.logX ? ' (log)' : '');
    el('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', 'font-size': 12, transform: 'rotate(-90 14 ' + (T + H - B) / 2 + ')' }, svg)
      .textContent = c.yLabel + (c.logY ? ' (log)' : '');
    var drawn = 0;
    c.series.forEach(function (s, i) {
      var col = COLORS[i % COLORS.length];
      var pts = s.points.map(function (p) { return sx(p[0]).toFixed(1) + ',' + sy(p[1]).toFixed(1); }).join(' ');
      el('polyline', { points: pts, fill: 'none', stroke: col, 'stroke-width': 2.5, 'class': 'series' }, svg);
      s.points.forEach(function (p) { el('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 3.5, fill: col }, svg); drawn++; });
      var ly = T + 8 + i * 18;
      el('rect', { x: W - R + 12, y: ly - 9, width: 12, height: 12, fill: col }, svg);
      el('text', { x: W - R + 30, y: ly + 2, 'font-size': 11 }, svg).textContent = s.name.length > 22 ? s.name.slice(0, 21) + '…' : s.name;
    });
    host.setAttribute('data-drawn', String(drawn));
  }
  var data = JSON.parse(document.getElementById('engram-chart-data').textContent);
  document.querySelectorAll('[data-chart]').forEach(function (host) {
    draw(host, data[+host.getAttribute('data-chart')]);
  });
  document.body.setAttribute('data-charts-drawn', String(data.length));
})();
`;

export function renderHtmlReport(input: HtmlReportInput): string {
  const charts: ChartData[] = [];
  const sections = input.results.map((r) => {
    const cs = chartsFor(r).map((c) => {
      charts.push(c);
      return `<figure class="chart" data-chart="${charts.length - 1}" aria-label="${esc(c.title)}"></figure>`;
    });
    const notes = (r.notes ?? []).map((n) => `<li>${esc(n)}</li>`).join('');
    return `<section><h2>${esc(r.suite)}: ${esc(r.title)}</h2>
<div class="charts">${cs.join('\n')}</div>
${table(r)}
${notes ? `<ul class="notes">${notes}</ul>` : ''}</section>`;
  });
  // JSON inside <script> must not close the element early.
  const json = JSON.stringify(charts).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(input.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure.chart { margin: 0; border: 1px solid #ddd; }
.machine { color: #555; font-size: 12px; }
</style></head>
<body>
<h1>${esc(input.title)}</h1>
<p class="machine">${esc(input.date)}<br>${input.machine.map(esc).join('<br>')}</p>
${sections.join('\n')}
<script type="application/json" id="engram-chart-data">${json}</script>
<script>${DRAW}</script>
</body></html>
`;
}
