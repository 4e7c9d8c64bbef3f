/**
 * 'ttt': TTT-Linear (ops.ttt, the official structure f(x) = x + LN(x W),
 * mini-batches of 16, gradients at the mini-batch start) as an associative
 * memory on the raw stream. LayerNorm weight 1/√Dv and bias 0 (fixed, not
 * learned), so LN's output has the unit norm of the codebook values;
 * W0 ~ N(0, 1/Dk) (seed 1: LN needs a non-zero pre-activation). No inner
 * bias: a bias shared by all keys absorbs the mean of every update, grows,
 * and LN then returns about the same vector for every query (accuracy near
 * chance with it).
 * Inner lr η = 0.5 per token: through LN the gradient is scaled by about
 * w/σ(xW), which shrinks as W grows, so the step that matches the other
 * memories' RECALL_STEP is not a fixed number; 0.3–1 all give the same
 * accuracy (0.1 is clearly too small). Read: f(q) with the final W, b (the
 * op with η = 0). Floor 0.02 at the default sizes (4K context: ≈ 3.7%).
 */
import * as ops from '../../ops/index.js';
import type { TttLinearState } from '../../ops/ttt.js';
import { Tensor, randn, tensor, tidy, zeros } from '../../tensor.js';
import { registerMemory } from '../adapters.js';
import { constGate } from './recurrent.js';

const LR = 0.5;
const CHUNK = 16;

registerMemory({
  kind: 'ttt',
  description: `TTT-Linear x + LN(xW), mini-batch ${CHUNK}, η = ${LR}, LN weight 1/√Dv`,
  floor: 0.02,
  create(spec) {
    const H = spec.heads, Dk = spec.keyDim, Dv = spec.valueDim;
    const lnWeight = tensor(new Float32Array(H * Dv).fill(1 / Math.sqrt(Dv)), [H, Dv], { device: spec.device });
    let st: Partial<TttLinearState> = { W: tidy(() => ops.scale(randn([1, H, Dk, Dv], { seed: 1, device: spec.device }), 1 / Math.sqrt(Dk))) };
    const drop = () => Object.values(st).forEach((t) => t?.dispose());
    const run = async (q: Tensor, k: Tensor, v: Tensor, lr: number) => {
      const eta = constGate(q.shape[1], H, lr, spec.device);
      try {
        return await ops.tttAsync({ q, k, v, eta, lnWeight }, { chunkSize: CHUNK, bias: false, initialState: st, outputFinalState: lr > 0 });
      } finally {
        eta.dispose();
      }
    };
    return {
      async write(k, v) {
        const r = await run(k, k, v, LR);
        r.o.dispose();
        drop();
        st = r.finalState!;
      },
      async read(q) {
        const v = zeros([1, q.shape[1], H, Dv], { device: spec.device }); // unused at η = 0
        try {
          return (await run(q, q, v, 0)).o;
        } finally {
          v.dispose();
        }
      },
      bytes: () => Object.values(st).reduce((n, t) => n + (t?.nbytes ?? 0), 0),
      dispose: () => {
        drop();
        lnWeight.dispose();
      },
    };
  },
});
