/**
 * 'tnt': TNT hierarchical memory (ops.tnt) as an associative memory: a global
 * linear memory Dv×Dk per head (chunks of TNT_RECALL.globalChunk tokens, read
 * at its chunk start) plus one local linear memory (chunks of 16, reset every
 * TNT_RECALL.shard tokens, read through the Q-K projection), all plain GD
 * (TNT's default optimizer) on the raw stream with q = k while writing.
 *
 * Learning rates: the global memory sums the gradients of a whole chunk at
 * one anchor, so its rate must keep 2·lr·λmax(Σ k kᵀ) < 2 over a chunk
 * (256 unit keys in 64 dims: λmax ≈ 9) — lr 0.05 (0.015 / 0.03 / 0.05 / 0.08
 * gave 1.8 / 3.5 / 5.3 / 5.3% at 4K); the local one (chunks of 16) uses
 * 0.125 (one write corrects a quarter of the error at k).
 *
 * read(q) runs the same op on the queries without writing (learning rates
 * 0, zero keys and values) from the state after the haystack: the global
 * memory then reads the state of everything before the query (the query
 * positions start a global chunk), and the locals, having just reset at the
 * shard start, add nothing — TNT's local memories are short-range by design,
 * so long-range recall rests on the global memory alone.
 * bytes(): the whole packed state (memories, anchors, Π, header).
 * Floor 0.025 at the default sizes (measured 0.053 at 4K and 0.156 at 1K; chance 1/1024):
 * about 150–200 pairs per head, the capacity of a 64×64 state, as for the other recurrent kinds.
 */
import * as ops from '../../ops/index.js';
import type { TntOptions, TntState } from '../../ops/tnt.js';
import { Tensor, tidy, zeros } from '../../tensor.js';
import type { Device } from '../../dtype.js';
import { registerMemory } from '../adapters.js';

export const TNT_RECALL = { globalChunk: 256, shard: 256, localChunk: 16, globalLr: 0.05, localLr: 0.125 };

const OPTIONS: TntOptions = {
  global: { chunkSize: TNT_RECALL.globalChunk },
  locals: [{ chunkSize: TNT_RECALL.localChunk, shardLength: TNT_RECALL.shard }],
};

function constGate(n: number, heads: number, value: number, device: Device): Tensor {
  return tidy(() => ops.scale(zeros([1, n, heads], { device }), 0, value));
}

registerMemory({
  kind: 'tnt',
  description: `TNT: global linear memory (C_G ${TNT_RECALL.globalChunk}, lr ${TNT_RECALL.globalLr}) + one local (C_L ${TNT_RECALL.localChunk}, S_L ${TNT_RECALL.shard}, lr ${TNT_RECALL.localLr}, Q-K projection), plain GD`,
  floor: 0.025,
  create(spec) {
    let st: TntState | null = null;
    return {
      async write(k, v) {
        const n = k.shape[1];
        const eg = constGate(n, spec.heads, TNT_RECALL.globalLr, spec.device);
        const el = constGate(n, spec.heads, TNT_RECALL.localLr, spec.device);
        try {
          const r = await ops.tntAsync({ q: k, k, v, etaGlobal: eg, etaLocal: [el] }, { ...OPTIONS, initialState: st });
          r.o.dispose();
          st?.dispose();
          st = r.finalState;
        } finally {
          eg.dispose();
          el.dispose();
        }
      },
      async read(q) {
        const n = q.shape[1];
        const z = constGate(n, spec.heads, 0, spec.device);
        const k0 = zeros([1, n, spec.heads, spec.keyDim], { device: spec.device });
        const v0 = zeros([1, n, spec.heads, spec.valueDim], { device: spec.device });
        try {
          const r = await ops.tntAsync({ q, k: k0, v: v0, etaGlobal: z, etaLocal: [z] }, { ...OPTIONS, initialState: st, outputFinalState: false });
          return r.o;
        } finally {
          for (const t of [z, k0, v0]) t.dispose();
        }
      },
      bytes: () => (st ? st.packed.nbytes : 0),
      dispose: () => st?.dispose(),
    };
  },
});
