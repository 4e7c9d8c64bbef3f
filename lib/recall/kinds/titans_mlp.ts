/**
 * 'titans-mlp': the Titans MLP memory M(x) = x + W1 tanh(W2 x) (ops.titans,
 * memory {kind: 'mlp'}, hidden Dh = 4·Dk, stale-anchor chunks of 16,
 * momentum η = RECALL_ETA, no decay) as an associative memory.
 * Start: W1 = 0 (M is the identity; the MLP branch learns the correction
 * v − k) and a fixed random W2 ~ N(0, 2²) (seed 1, not learned from any
 * data): pre-activations W2 k ~ N(0, 4) for unit keys put tanh in its
 * nonlinear range, so tanh(W2 k) are random features of higher effective
 * rank than the Dk inputs, and tanh's zero mean keeps the simultaneous
 * updates of a chunk from piling up along a shared direction (GELU's
 * positive mean makes chunked writes overshoot). The learning rate is
 * normalised by the feature norm, θ = RECALL_STEP·(1 − η) / (2 E‖tanh(z)‖²)
 * with z ~ N(0, 4) (E by quadrature), so one write moves M(k) a fraction
 * RECALL_STEP of the way to v, as for the linear memories. Read:
 * y = q + W1 tanh(W2 q) with the final weights.
 * titansMlp's CUDA kernel has not run on a GPU yet: with device 'cuda' this
 * kind still runs the memory on the CPU (inputs copied over, reads copied back).
 * Floor 0.025 at the default sizes (4K context; ≈ 5% measured, about the
 * linear memory's with 8× its state; Dh = 8·Dk reached ≈ 7% in a side run).
 */
import { check } from '../../errors.js';
import * as ops from '../../ops/index.js';
import type { TitansMlpState } from '../../ops/titans.js';
import { Tensor, randn, tidy, zeros } from '../../tensor.js';
import { registerMemory } from '../adapters.js';
import { RECALL_ETA, RECALL_STEP, constGate, perHead } from './recurrent.js';

/** Std of the fixed random W2 entries. */
const W2_STD = 2;
const CHUNK = 16;

/** E tanh(z)², z ~ N(0, s²), by the midpoint rule on [-8, 8] standard deviations. */
export function meanTanhSquare(s: number): number {
  let m = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const u = ((i + 0.5) / n) * 16 - 8;
    m += (Math.exp((-u * u) / 2) / Math.sqrt(2 * Math.PI)) * (16 / n) * Math.tanh(s * u) ** 2;
  }
  return m;
}

registerMemory({
  kind: 'titans-mlp',
  description: `Titans MLP memory x + W1 tanh(W2 x), Dh = 4·Dk, chunks of ${CHUNK}, η = ${RECALL_ETA}, normalised θ, no decay`,
  floor: 0.025,
  create(spec) {
    const H = spec.heads, D = spec.keyDim, Dh = 4 * D;
    check(spec.valueDim === D, 'E_UNSUPPORTED',
      `recall 'titans-mlp': the residual MLP memory needs keyDim == valueDim, got ${D} and ${spec.valueDim}`);
    const theta0 = (RECALL_STEP * (1 - RECALL_ETA)) / (2 * Dh * meanTanhSquare(W2_STD));
    const dev = 'cpu' as const;
    const cpu = (x: Tensor) => (x.device === dev ? x : x.to(dev));
    let st: Partial<TitansMlpState> = {
      W1: zeros([1, H, D, Dh], { device: dev }),
      W2: tidy(() => ops.scale(randn([1, H, Dh, D], { seed: 1, device: dev }), W2_STD)),
    };
    const drop = () => Object.values(st).forEach((t) => t?.dispose());
    return {
      async write(k0, v0) {
        const n = k0.shape[1];
        const k = cpu(k0), v = cpu(v0);
        const theta = constGate(n, H, theta0, dev), eta = constGate(n, H, RECALL_ETA, dev);
        try {
          const r = await ops.titansAsync({ q: k, k, v, theta, eta },
            { memory: { kind: 'mlp', hidden: Dh, activation: 'tanh' }, chunkSize: CHUNK, decay: false, initialState: st });
          r.o.dispose();
          drop();
          st = r.finalState!;
        } finally {
          theta.dispose();
          eta.dispose();
          if (k !== k0) k.dispose();
          if (v !== v0) v.dispose();
        }
      },
      read: async (q0) => tidy(() => {
        const q = cpu(q0);
        const h = ops.tanh(perHead(q, st.W2!, true)); // [1, Q, H, Dh]
        const y = ops.add(q, perHead(h, st.W1!, true)); // q + W1 h
        return y.device === q0.device ? y : y.to(q0.device);
      }),
      bytes: () => Object.entries(st).filter(([k]) => ['W1', 'W2', 'S1', 'S2'].includes(k))
        .reduce((n, [, t]) => n + (t as Tensor).nbytes, 0),
      dispose: drop,
    };
  },
});
