/**
 * 'trellis': the Trellis compressed KV memory (ops.trellis) — m = 64 slots per
 * head whatever the context, so its state is fixed (MK, MV [64, D] per head
 * plus the chunk anchors) and it can only recall the most recent pairs: a
 * linear key memory of D-dim keys holds at most ~D of them exactly, and the
 * haystack's random pairs overwrite each other. Adapter choices (no trained
 * weights): slot code one-hot round-robin by position (pair t → slot t mod m),
 * no forget gate, lr 0.5, φ identity, chunkSize 16 (stale-anchor OGD is stable
 * for lr · λmax(Σ_chunk k kᵀ) < 2), reads f = softmax with scale 10 through
 * ops.trellisRead. Floor: 0.004 at the default sizes (4K pairs, 1024 classes:
 * chance 0.001; the last ~64 pairs are ~1.6% of the queries).
 */
import * as ops from '../../ops/index.js';
import type { TrellisState } from '../../ops/trellis.js';
import { tensor } from '../../tensor.js';
import { registerMemory } from '../adapters.js';

export const TRELLIS_RECALL = { slots: 64, chunkSize: 16, lr: 0.5, f: 'softmax', scale: 10 } as const;

registerMemory({
  kind: 'trellis',
  description: `Trellis compressed KV memory, ${TRELLIS_RECALL.slots} slots per head (fixed state), round-robin slot codes`,
  floor: 0.004,
  create(spec) {
    const { slots: m, chunkSize, lr, f, scale } = TRELLIS_RECALL;
    const H = spec.heads;
    let state: TrellisState | null = null;
    let pos = 0;
    const drop = () => state && Object.values(state).forEach((t) => t?.dispose());
    return {
      async write(k, v) {
        const n = k.shape[1];
        const code = new Float32Array(n * H * m);
        for (let t = 0; t < n; t++) for (let h = 0; h < H; h++) code[(t * H + h) * m + ((pos + t) % m)] = 1;
        const alpha = tensor(code, [1, n, H, m], { device: spec.device });
        try {
          const r = await ops.trellisAsync({ q: k, k, v, alpha }, { chunkSize, lr, f, scale, initialState: state });
          r.o.dispose();
          drop();
          state = r.finalState;
          pos += n;
        } finally {
          alpha.dispose();
        }
      },
      async read(q) {
        return ops.trellisRead(state!, q, { f, scale });
      },
      bytes: () => (state ? Object.values(state).reduce((a, t) => a + (t ? t.size * 4 : 0), 0) : 0),
      dispose: drop,
    };
  },
});
