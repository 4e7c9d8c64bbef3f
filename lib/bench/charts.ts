/**
 * Charts for benchmark reports: which columns of a result's rows to plot.
 * A suite may declare its charts (BenchResult.charts); otherwise these rules
 * find the usual ones:
 *   tokens/s vs context   x ~ context|T|seq|tokens,  y ~ tokens/s
 *   error vs bits         x ~ bits,                  y ~ error|mse|distortion|cosine
 *   GFLOP/s vs size       x ~ size|shape|n|M,        y ~ GFLOP/s
 * grouped into one line per value of the first text column (the series).
 */
import type { BenchResult, BenchRow } from './types.js';

/** A chart a suite asks for: columns of its rows. */
export interface ChartSpec {
  title: string;
  x: string;
  /** One or more y columns (one line each, per series). */
  y: string | string[];
  /** Column(s) whose values split the rows into lines (several: joined with spaces). */
  series?: string | string[];
  /** Only rows whose columns equal these values. */
  where?: Record<string, string | number | boolean>;
  logX?: boolean;
  logY?: boolean;
}

export interface ChartData {
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  logY: boolean;
  series: { name: string; points: [number, number][] }[];
}

/** Numeric reading of a cell: numbers as is, "512x512x512" → 512, "4k" → 4096. */
export function numericCell(v: BenchRow[string]): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM])?/.exec(v);
  if (!m) return null;
  return Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1);
}

const RULES: { title: string; x: RegExp; y: RegExp; logX: boolean; logY: boolean }[] = [
  { title: 'tokens/s vs context', x: /^(context|t|seq|seqlen|tokens|length)$/i, y: /tokens\s*\/\s*s|tok\/s|tokenspersec/i, logX: true, logY: true },
  { title: 'error vs bits', x: /bits/i, y: /err|mse|distortion|cos/i, logX: false, logY: true },
  { title: 'GFLOP/s vs size', x: /^(size|shape|n|m)$/i, y: /gflop\/s/i, logX: true, logY: false },
];

function build(rows: BenchRow[], spec: ChartSpec): ChartData | null {
  const ys = Array.isArray(spec.y) ? spec.y : [spec.y];
  const groups = new Map<string, BenchRow[]>();
  const cols = spec.series === undefined ? [] : Array.isArray(spec.series) ? spec.series : [spec.series];
  const where = Object.entries(spec.where ?? {});
  for (const r of rows) {
    if (!where.every(([k, v]) => r[k] === v)) continue;
    // several columns: text values as they are, numbers as column=value
    const key = cols.map((c) => (cols.length > 1 && typeof r[c] === 'number' ? `${c}=${r[c]}` : String(r[c] ?? ''))).join(' ');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const series: ChartData['series'] = [];
  for (const [g, rs] of groups)
    for (const y of ys) {
      const points = rs
        .map((r) => [numericCell(r[spec.x]), numericCell(r[y])] as [number | null, number | null])
        .filter((p): p is [number, number] => p[0] !== null && p[1] !== null && (!spec.logY || p[1] > 0) && (!spec.logX || p[0] > 0))
        .sort((a, b) => a[0] - b[0]);
      if (points.length) series.push({ name: [g, ys.length > 1 ? y : ''].filter(Boolean).join(' · ') || y, points });
    }
  if (!series.length) return null;
  return { title: spec.title, xLabel: spec.x, yLabel: ys.join(', '), logX: !!spec.logX, logY: !!spec.logY, series };
}

/** The charts of one result: its declared charts, else the matching rules. */
export function chartsFor(r: BenchResult & { charts?: ChartSpec[] }): ChartData[] {
  const rows = r.rows;
  if (!rows.length) return [];
  if (r.charts?.length) return r.charts.map((c) => build(rows, c)).filter((c): c is ChartData => !!c);
  const cols = Object.keys(rows[0]);
  const text = cols.find((c) => rows.some((row) => typeof row[c] === 'string' && numericCell(row[c]) === null));
  const out: ChartData[] = [];
  for (const rule of RULES) {
    const x = cols.find((c) => rule.x.test(c));
    const ys = cols.filter((c) => c !== x && rule.y.test(c) && rows.some((row) => typeof row[c] === 'number'));
    if (!x || !ys.length) continue;
    const series = text && text !== x ? text : undefined;
    const c = build(rows, { title: rule.title, x, y: ys, series, logX: rule.logX, logY: rule.logY });
    if (c) out.push(c);
  }
  return out;
}
