/**
 * engram.bench(opts): runs benchmark suites, prints tables, writes JSON.
 * Suites register in SUITES below (one file each in lib/bench/).
 */
import { writeFileSync } from 'node:fs';

import { backends, buildInfo, getNumThreads } from '../backends.js';
import { EngramError } from '../errors.js';
import { benchHtml } from './report.js';
import { formatTable } from './table.js';
import type { BenchContext, BenchResult, Suite } from './types.js';

export type { BenchResult, BenchRow, BenchContext, Suite } from './types.js';
export { renderHtmlReport, type HtmlReportInput } from './html.js';
export type { ChartSpec } from './charts.js';

export const SUITES: Record<string, () => Promise<Suite>> = {
  gemm: async () => (await import('./gemm.js')).gemmSuite,
  graph: async () => (await import('./graph.js')).graphSuite,
  memory: async () => (await import('./memory.js')).memorySuite,
  kv: async () => (await import('./kv.js')).kvSuite,
  recall: async () => (await import('./recall.js')).recallSuite,
  trellis: async () => (await import('./trellis.js')).trellisSuite,
  tnt: async () => (await import('./tnt.js')).tntSuite,
};

export interface BenchOptions {
  /** Suites to run (default: all). */
  suites?: string[];
  quick?: boolean;
  /** Write all results as JSON here. */
  json?: string;
  /** Write an HTML report with charts here (self-contained, opens offline). */
  html?: string;
  /** Print tables and progress to stderr/stdout (default true). */
  print?: boolean;
  device?: 'cpu' | 'cuda';
  onProgress?: (suite: string, done: number, total: number, label: string) => void;
}

export interface BenchReport {
  date: string;
  machine: { build: ReturnType<typeof buildInfo>; backends: ReturnType<typeof backends>; threads: number };
  results: BenchResult[];
}

export async function bench(opts: BenchOptions = {}): Promise<BenchReport> {
  const names = opts.suites?.length ? opts.suites : Object.keys(SUITES);
  for (const n of names)
    if (!SUITES[n]) throw new EngramError(`bench: unknown suite '${n}' (known: ${Object.keys(SUITES).join(', ')})`, 'E_ARG');
  const print = opts.print ?? true;
  const results: BenchResult[] = [];
  for (const name of names) {
    const suite = await SUITES[name]();
    const ctx: BenchContext = {
      quick: !!opts.quick,
      device: opts.device ?? 'cpu',
      progress: (done, total, label) => {
        opts.onProgress?.(name, done, total, label);
        if (print && process.stderr.isTTY) {
          const w = 30, f = Math.round((done / Math.max(total, 1)) * w);
          process.stderr.write(`\r${name} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total} ${label.padEnd(40).slice(0, 40)}`);
          if (done >= total) process.stderr.write('\n');
        } else if (print) {
          process.stderr.write(`${name}: ${done}/${total} ${label}\n`);
        }
      },
    };
    const r = await suite(ctx);
    results.push(r);
    if (print) {
      console.log(`\n## ${r.suite}: ${r.title}\n`);
      console.log(formatTable(r.rows, r.columns));
      for (const n of r.notes ?? []) console.log(n);
    }
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine: { build: buildInfo(), backends: backends(), threads: getNumThreads() },
    results,
  };
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2));
  if (opts.html) writeFileSync(opts.html, benchHtml(report));
  return report;
}
