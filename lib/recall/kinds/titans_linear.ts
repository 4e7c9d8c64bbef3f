/**
 * 'titans-linear': the Titans linear memory (ops.titans, memory 'linear',
 * stale-anchor chunks of 64, momentum on, decay off) as an associative
 * memory: M [1, H, Dv, Dk], per token S ← η S − θ ∇‖M k − v‖², M ← M + S,
 * with η = RECALL_ETA = 0.5 and θ = RECALL_STEP·(1 − η)/2 = 0.0625, so one
 * write (its gradient and the momentum it leaves) moves M k a fraction
 * RECALL_STEP of the way to v (unit keys); read y = M q. The state carried
 * between writes is memory, momentum, chunk anchor and offset (writes of any
 * length continue exactly); bytes() counts memory and momentum.
 * Floor 0.025 at the default sizes (see recurrent.ts).
 */
import * as ops from '../../ops/index.js';
import type { TitansLinearState } from '../../ops/titans.js';
import { registerMemory } from '../adapters.js';
import { RECALL_ETA, RECALL_STEP, constGate, perHead } from './recurrent.js';

const THETA = (RECALL_STEP * (1 - RECALL_ETA)) / 2;

registerMemory({
  kind: 'titans-linear',
  description: `Titans linear memory Dv×Dk per head, chunks of 64, θ = ${THETA}, η = ${RECALL_ETA}, no decay`,
  floor: 0.025,
  create(spec) {
    let st: TitansLinearState | null = null;
    const drop = () => st && Object.values(st).forEach((t) => t.dispose());
    return {
      async write(k, v) {
        const n = k.shape[1];
        const theta = constGate(n, spec.heads, THETA, spec.device), eta = constGate(n, spec.heads, RECALL_ETA, spec.device);
        try {
          const r = await ops.titansAsync({ q: k, k, v, theta, eta }, { chunkSize: 64, decay: false, initialState: st });
          r.o.dispose();
          drop();
          st = r.finalState;
        } finally {
          theta.dispose();
          eta.dispose();
        }
      },
      read: async (q) => perHead(q, st!.memory, true), // [H, Q, Dk] @ M_hᵀ
      bytes: () => (st ? st.memory.nbytes + st.momentum.nbytes : 0),
      dispose: drop,
    };
  },
});
