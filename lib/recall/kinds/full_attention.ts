/**
 * 'full-attention': exact softmax attention over a plain f32 KV cache (the
 * sdpa op inside), with a sharp temperature (scale 20 on unit keys), so
 * recall is ~100% at every context; state grows linearly with T and the
 * write cost (causal attention of each chunk over the cache) quadratically.
 */
import { PlainKVCache } from '../../nn/cache.js';
import { registerMemory } from '../adapters.js';

/** Score scale of the exact attention: unit keys, temperature 1/20. */
export const FULL_ATTENTION_SCALE = 20;

registerMemory({
  kind: 'full-attention',
  description: `exact softmax attention over an f32 KV cache (scale ${FULL_ATTENTION_SCALE} on unit keys)`,
  floor: 0.99,
  create(spec) {
    const cache = new PlainKVCache({ batch: 1, kvHeads: spec.heads, headDim: spec.keyDim, valueDim: spec.valueDim, device: spec.device });
    return {
      async write(k, v) {
        cache.append(k, v);
        // The work of a transformer layer over these tokens: each attends causally to all before it.
        (await cache.attendAsync(k, { causal: true, scale: FULL_ATTENTION_SCALE })).dispose();
      },
      read: (q) => cache.attendAsync(q, { causal: false, scale: FULL_ATTENTION_SCALE }),
      bytes: () => cache.bytes(),
      dispose: () => cache.dispose(),
    };
  },
});
