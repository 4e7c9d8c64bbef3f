/** Plain-text (markdown) tables for benchmark output. */
import type { BenchRow } from './types.js';

function fmt(v: BenchRow[string]): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : a >= 0.01 ? v.toFixed(3) : v.toExponential(2);
  }
  return String(v);
}

export function formatTable(rows: BenchRow[], columns?: string[]): string {
  if (!rows.length) return '(no rows)';
  const cols = columns ?? Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (xs: string[]) => '| ' + xs.map((x, i) => x.padEnd(w[i])).join(' | ') + ' |';
  return [line(cols), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}
