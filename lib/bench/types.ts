/** Benchmark suite plumbing shared by lib/bench/<suite>.ts. */
import type { ChartSpec } from './charts.js';

export interface BenchRow {
  [column: string]: string | number | boolean | null;
}

export interface BenchResult {
  suite: string;
  /** What was measured, in one line. */
  title: string;
  /** Rows of the table (also written to JSON). */
  rows: BenchRow[];
  /** Column order for the printed table (default: keys of the first row). */
  columns?: string[];
  /** Free-form lines printed under the table (targets, ratios, caveats). */
  notes?: string[];
  /** Machine-readable summary (targets met, peak numbers, ...). */
  summary?: Record<string, unknown>;
  /** Charts for the HTML report (default: found by the rules of charts.ts). */
  charts?: ChartSpec[];
}

export interface BenchContext {
  /** Smaller sizes and fewer repetitions (CI smoke runs). */
  quick: boolean;
  /** Reports progress: done of total steps, with a label. */
  progress(done: number, total: number, label: string): void;
  device: 'cpu' | 'cuda';
}

export type Suite = (ctx: BenchContext) => Promise<BenchResult>;

/** Best-of-`reps` wall time in ms of `fn` (after `warmup` untimed runs). */
export async function timeIt(fn: () => unknown | Promise<unknown>, reps = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Median-of-`reps` wall time in ms. */
export async function timeMedian(fn: () => unknown | Promise<unknown>, reps = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}
