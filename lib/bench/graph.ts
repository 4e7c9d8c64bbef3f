/**
 * `engram bench graph`: a 2-layer hybrid model (sliding-window + full
 * attention, dim 256) at contexts 256…4096: prefill tokens/s through the
 * compiled plan, decode tokens/s through the plan vs the same graph run op by
 * op (Graph.runEager: one native call per node), and the forward plan's
 * planned arena vs one buffer per intermediate.
 */
import { Model } from '../nn/model.js';
import type { ModelState } from '../nn/state.js';
import { Tensor, tensor } from '../tensor.js';
import type { Graph } from '../graph/index.js';
import type { BenchRow, Suite } from './types.js';

const CONFIG = {
  vocab: 512, dim: 256, mlpHidden: 512,
  layers: [{ mixer: 'swa', heads: 4, window: 256 }, { mixer: 'attention', heads: 4, kvHeads: 2 }],
};

/** One decode step through the eager interpreter of the stateful graph (what prefill() does with a plan). */
function stepEager(g: Graph, state: ModelState, token: number): void {
  const inputs: Record<string, Tensor> = {
    tokens: tensor(new Int32Array([token]), [1, 1]),
    positions: tensor(new Int32Array([state.position]), [1]),
  };
  const states: Record<string, import('../nn/cache.js').LayerState> = {};
  state.layers.forEach((l, i) => {
    for (const [k, t] of l.tensors) inputs[`state.layers.${i}.${k}`] = t;
    for (const [k, b] of l.bound) states[`layers.${i}.${k}`] = b;
  });
  const out = g.runEager(inputs, states);
  state.layers.forEach((l, i) => {
    for (const k of [...l.tensors.keys()]) {
      l.tensors.get(k)!.dispose();
      l.tensors.set(k, out[`state.layers.${i}.${k}`]);
    }
  });
  out.logits.dispose();
  inputs.tokens.dispose();
  inputs.positions.dispose();
  state.position++;
}

export const graphSuite: Suite = async (ctx) => {
  const contexts = ctx.quick ? [256, 1024] : [256, 1024, 4096];
  const steps = ctx.quick ? 8 : 32;
  const model = new Model(CONFIG, { seed: 1, device: ctx.device });
  const rows: BenchRow[] = [];
  const eagerGraph = model.graph('stateful', 1, 1);
  try {
    for (const [i, T] of contexts.entries()) {
      ctx.progress(i, contexts.length, `context ${T}`);
      const tokens = Array.from({ length: T }, (_, j) => (j * 7919) % CONFIG.vocab);
      const st = model.createState();
      let t0 = performance.now();
      (await model.prefill([tokens], st)).dispose();
      const prefillMs = performance.now() - t0;
      const eagerState = st.fork();
      (await model.step(1, st)).dispose(); // warm the decode plan
      stepEager(eagerGraph, eagerState, 1);
      t0 = performance.now();
      for (let s = 0; s < steps; s++) (await model.step((s * 31) % CONFIG.vocab, st)).dispose();
      const planMs = performance.now() - t0;
      t0 = performance.now();
      for (let s = 0; s < steps; s++) stepEager(eagerGraph, eagerState, (s * 31) % CONFIG.vocab);
      const eagerMs = performance.now() - t0;
      const stats = model.plan('forward', 1, T).stats;
      rows.push({
        context: T,
        'prefill tokens/s': (T * 1000) / prefillMs,
        'decode tokens/s (plan)': (steps * 1000) / planMs,
        'decode tokens/s (eager)': (steps * 1000) / eagerMs,
        'plan / eager': eagerMs / planMs,
        'planned KiB': stats.plannedBytes / 1024,
        'naive KiB': stats.naiveBytes / 1024,
      });
      st.dispose();
      eagerState.dispose();
    }
  } finally {
    model.dispose();
  }
  ctx.progress(contexts.length, contexts.length, 'done');
  return {
    suite: 'graph',
    title: `hybrid model (swa 256 + attention, dim 256, 2 layers), ${ctx.device}`,
    rows,
    notes: ['decode: one token per step with the state carried; eager runs the same graph one op call per node.',
      'planned/naive: the forward plan\'s arena vs one buffer per intermediate, at that context.'],
  };
};
