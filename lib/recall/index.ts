/**
 * engram.runRecall(opts) and `engram recall`: the long-context associative
 * recall benchmark (task.ts) for each registered memory kind (adapters.ts) at
 * each context length. Prints a progress bar and a final table; returns (and
 * with `json`, writes) rows { memory, context, accuracy, bytes, tokensPerSec }.
 *
 * Defaults (about a minute for full attention on 2 cores): contexts 1K, 4K,
 * 16K, 64K; 2 heads, key/value dim 64, codebook 1024, 256 queries, chunks of
 * 2048 tokens, seed 0, device cpu.
 */
import { writeFileSync } from 'node:fs';

import { backends, buildInfo, getNumThreads } from '../backends.js';
import { recallHtml } from '../bench/report.js';
import { formatTable } from '../bench/table.js';
import type { Device } from '../dtype.js';
import { check, EngramError } from '../errors.js';
import { renderProgress } from '../progress.js';
import { memoryAdapter, memoryKinds } from './adapters.js';
import { makeRecallTask, scoreRecall } from './task.js';

import './kinds/index.js';

export { registerMemory, memoryKinds, memoryAdapter } from './adapters.js';
export { FULL_ATTENTION_SCALE } from './kinds/full_attention.js';
export type { MemoryAdapter, MemoryInstance, MemorySpec } from './adapters.js';
export { makeRecallTask, scoreRecall, type RecallSizes, type RecallTask } from './task.js';

export interface RecallOptions {
  /** Haystack lengths. Default [1024, 4096, 16384, 65536]. */
  contexts?: number[];
  /** Memory kinds (default: every registered kind). */
  kinds?: string[];
  seed?: number;
  queries?: number;
  heads?: number;
  keyDim?: number;
  valueDim?: number;
  codebook?: number;
  /** Tokens per write() call. Default 2048. */
  chunk?: number;
  device?: Device;
  /** Write the report as JSON here. */
  json?: string;
  /** Write an HTML report with charts here. */
  html?: string;
  /** Print progress and the table (default true). */
  print?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface RecallRow {
  memory: string;
  context: number;
  /** Fraction of (query, head) pairs recalled. */
  accuracy: number;
  /** Bytes of the memory's state after the haystack. */
  bytes: number;
  /** (haystack + queries) / (write + read seconds). */
  tokensPerSec: number;
  writeMs: number;
  readMs: number;
}

/** A memory kind the device could not run (e.g. no CUDA kernel for it): E_UNSUPPORTED. */
export interface RecallSkip {
  memory: string;
  context: number;
  reason: string;
}

export interface RecallReport {
  date: string;
  options: Required<Omit<RecallOptions, 'json' | 'html' | 'print' | 'onProgress'>>;
  machine: { build: ReturnType<typeof buildInfo>; backends: ReturnType<typeof backends>; threads: number };
  rows: RecallRow[];
  /** Kinds not run at a context because the device has no kernel for them (E_UNSUPPORTED). */
  skipped: RecallSkip[];
}

export const RECALL_DEFAULTS = {
  contexts: [1024, 4096, 16384, 65536],
  seed: 0,
  queries: 256,
  heads: 2,
  keyDim: 64,
  valueDim: 64,
  codebook: 1024,
  chunk: 2048,
  device: 'cpu' as Device,
};

export async function runRecall(opts: RecallOptions = {}): Promise<RecallReport> {
  const o = { ...RECALL_DEFAULTS, kinds: memoryKinds(), ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as
    Required<RecallOptions>;
  const print = opts.print ?? true;
  for (const k of o.kinds) memoryAdapter(k); // unknown kinds fail before any work
  check(o.contexts.length > 0 && o.contexts.every((c) => Number.isInteger(c) && c >= 1), 'E_ARG',
    'recall: contexts must be positive integers');
  check(Number.isInteger(o.chunk) && o.chunk >= 1, 'E_ARG', 'recall: chunk must be a positive integer');
  const total = o.kinds.length * o.contexts.reduce((a, c) => a + Math.ceil(c / o.chunk) + 1, 0);
  let done = 0;
  const tick = (label: string) => {
    done++;
    opts.onProgress?.(done, total, label);
    renderProgress('recall', done, total, label, print);
  };
  const rows: RecallRow[] = [];
  const skipped: RecallSkip[] = [];
  for (const T of o.contexts) {
    const task = makeRecallTask({ context: T, queries: Math.min(o.queries, T), heads: o.heads, keyDim: o.keyDim,
      valueDim: o.valueDim, codebook: o.codebook, seed: o.seed, device: o.device });
    try {
      for (const kind of o.kinds) {
        const mem = memoryAdapter(kind).create({ heads: o.heads, keyDim: o.keyDim, valueDim: o.valueDim, context: T, device: o.device });
        let t0 = 0;
        try {
          let writeMs = 0;
          for (; t0 < T; t0 += o.chunk) {
            const t1 = Math.min(T, t0 + o.chunk);
            const k = task.keys.slice(1, t0, t1), v = task.values.slice(1, t0, t1);
            const start = performance.now();
            try {
              await mem.write(k, v);
            } finally {
              k.dispose();
              v.dispose();
            }
            writeMs += performance.now() - start;
            tick(`${kind} T=${T} write ${t1}/${T}`);
          }
          const start = performance.now();
          const out = await mem.read(task.queries);
          const readMs = performance.now() - start;
          let accuracy: number;
          try {
            accuracy = scoreRecall(task, out);
          } finally {
            out.dispose();
          }
          const bytes = mem.bytes();
          rows.push({ memory: kind, context: T, accuracy, bytes, tokensPerSec: ((T + task.sizes.queries) * 1000) / (writeMs + readMs), writeMs, readMs });
          tick(`${kind} T=${T} read`);
        } catch (e) {
          // A kind the device cannot run (no kernel there) is reported, not fatal: the others still run.
          if (!(e instanceof EngramError) || e.code !== 'E_UNSUPPORTED') throw e;
          skipped.push({ memory: kind, context: T, reason: e.message });
          for (let n = Math.ceil(Math.min(t0, T) / o.chunk); n <= Math.ceil(T / o.chunk); n++) tick(`${kind} T=${T} skipped`);
        } finally {
          mem.dispose();
        }
      }
    } finally {
      task.dispose();
    }
  }
  const { json: _j, html: _h, print: _p, onProgress: _c, ...rest } = o;
  const report: RecallReport = {
    date: new Date().toISOString(),
    options: rest as RecallReport['options'],
    machine: { build: buildInfo(), backends: backends(), threads: getNumThreads() },
    rows,
    skipped,
  };
  if (print) {
    console.log(`\n## recall: ${o.heads} heads, Dk=${o.keyDim}, Dv=${o.valueDim}, ${o.codebook} classes, ${o.queries} queries, seed ${o.seed}\n`);
    const size = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);
    console.log(formatTable(rows.map((r) => ({
      memory: r.memory, context: r.context, accuracy: r.accuracy, state: size(r.bytes),
      'tokens/s': Math.round(r.tokensPerSec), 'write ms': r.writeMs, 'read ms': r.readMs,
    }))));
    for (const k of [...new Set(skipped.map((x) => x.memory))]) {
      const first = skipped.find((x) => x.memory === k)!;
      console.log(`\nnot run on ${o.device}: ${k} (${first.reason})`);
    }
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2));
  if (opts.html) writeFileSync(opts.html, recallHtml(report));
  return report;
}
