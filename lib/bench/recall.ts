/**
 * `engram bench recall`: the associative-recall benchmark (engram recall,
 * lib/recall/) as a bench suite, so `engram bench` covers it and its HTML
 * report charts tokens/s, accuracy and state bytes against context per
 * memory kind. Every registered kind; contexts 1K–64K (quick: 1K, 4K).
 */
import { RECALL_DEFAULTS, runRecall } from '../recall/index.js';
import type { BenchResult, Suite } from './types.js';

export const recallSuite: Suite = async (ctx) => {
  const contexts = ctx.quick ? [1024, 4096] : RECALL_DEFAULTS.contexts;
  const r = await runRecall({ contexts, device: ctx.device, print: false, onProgress: (d, t, l) => ctx.progress(d, t, l) });
  const o = r.options;
  const result: BenchResult = {
    suite: 'recall',
    title: `associative recall, ${o.heads} heads, Dk=${o.keyDim}, Dv=${o.valueDim}, ${o.codebook} classes, ${o.queries} queries, seed ${o.seed}`,
    rows: r.rows.map((x) => ({ memory: x.memory, context: x.context, accuracy: x.accuracy, 'state bytes': x.bytes,
      'tokens/s': x.tokensPerSec, 'write ms': x.writeMs, 'read ms': x.readMs })),
    notes: ['tokens/s = (haystack + queries) / (write + read time); accuracy = recalled (query, head) pairs; chance = 1/codebook.'],
    charts: [
      { title: 'tokens/s vs context', x: 'context', y: 'tokens/s', series: 'memory', logX: true, logY: true },
      { title: 'accuracy vs context', x: 'context', y: 'accuracy', series: 'memory', logX: true },
      { title: 'state bytes vs context', x: 'context', y: 'state bytes', series: 'memory', logX: true, logY: true },
    ],
    summary: { contexts, kinds: o.kinds },
  };
  return result;
};
