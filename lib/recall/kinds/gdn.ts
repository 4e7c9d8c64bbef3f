/**
 * 'gdn': the gated delta rule (ops.gatedDeltaRule, chunk form) as an
 * associative memory: state S [1, H, Dk, Dv], per write
 * S ← S + β k (v − kᵀS)ᵀ with β = RECALL_STEP = 0.25 and no decay (g = 0);
 * read o = Sᵀ q (scale 1: the argmax over the codebook ignores it).
 * Floor 0.025 at the default sizes (4K context: ~150–200 of 4096 pairs per
 * head fit a 64 × 64 state, see recurrent.ts; chance is 0.001).
 */
import * as ops from '../../ops/index.js';
import type { Tensor } from '../../tensor.js';
import { registerMemory } from '../adapters.js';
import { RECALL_STEP, constGate, perHead } from './recurrent.js';

registerMemory({
  kind: 'gdn',
  description: `gated delta rule, state Dk×Dv per head, β = ${RECALL_STEP}, no decay`,
  floor: 0.025,
  create(spec) {
    let S: Tensor | null = null;
    return {
      async write(k, v) {
        const n = k.shape[1];
        const g = constGate(n, spec.heads, 0, spec.device), beta = constGate(n, spec.heads, RECALL_STEP, spec.device);
        try {
          const r = await ops.gatedDeltaRuleAsync({ q: k, k, v, g, beta }, { chunkSize: 64, initialState: S });
          r.o.dispose();
          S?.dispose();
          S = r.finalState;
        } finally {
          g.dispose();
          beta.dispose();
        }
      },
      read: async (q) => perHead(q, S!, false), // [H, Q, Dk] @ S_h [Dk, Dv]
      bytes: () => S?.nbytes ?? 0,
      dispose: () => S?.dispose(),
    };
  },
});
