/** Bench and recall reports as HTML pages (lib/bench/html.ts draws them). */
import type { BenchReport } from './index.js';
import { renderHtmlReport } from './html.js';
import type { BenchResult } from './types.js';

type Machine = BenchReport['machine'];

export function machineLines(m: Machine): string[] {
  const cpu = m.backends.find((b) => b.name === 'cpu');
  const cuda = m.backends.find((b) => b.name === 'cuda');
  return [
    `engram build: ${m.build.compiler}, gemm ${m.build.gemmKernel}, CUDA compiled: ${m.build.cudaCompiled ? 'yes' : 'no'}`,
    `cpu: ${m.threads} threads, kernels ${cpu?.isa ?? '?'}`,
    `cuda: ${cuda?.available ? `${cuda.deviceName} (sm_${cuda.computeCapability})` : `not available (${cuda?.reason ?? 'unknown'})`}`,
  ];
}

export function benchHtml(r: BenchReport): string {
  return renderHtmlReport({ title: 'engram bench', date: r.date, machine: machineLines(r.machine), results: r.results });
}

/** A recall report as one result with its charts (accuracy, tokens/s and state bytes vs context). */
export function recallHtml(r: { date: string; machine: Machine; rows: { memory: string; context: number; accuracy: number; bytes: number; tokensPerSec: number }[] }): string {
  const result: BenchResult = {
    suite: 'recall',
    title: 'associative recall per memory kind',
    rows: r.rows.map((x) => ({ memory: x.memory, context: x.context, accuracy: x.accuracy, 'state bytes': x.bytes, 'tokens/s': x.tokensPerSec })),
    charts: [
      { title: 'tokens/s vs context', x: 'context', y: 'tokens/s', series: 'memory', logX: true, logY: true },
      { title: 'accuracy vs context', x: 'context', y: 'accuracy', series: 'memory', logX: true },
      { title: 'state bytes vs context', x: 'context', y: 'state bytes', series: 'memory', logX: true, logY: true },
    ],
  };
  return renderHtmlReport({ title: 'engram recall', date: r.date, machine: machineLines(r.machine), results: [result] });
}
