/**
 * Shared by the 'turboquant' and 'kivi' recall kinds: the full-attention
 * recall of full_attention.ts over a quantized engram.KVCache
 * (lib/quant/kvcache.ts). Keys and values are encoded on append and the
 * attention runs straight from the codes, with the same sharp temperature
 * (scale 20 on unit keys); the state is the codes (with their norms/scales,
 * and KIVI's f32 window of the most recent tokens).
 */
import { check } from '../../errors.js';
import { KVCache, type CacheStorage } from '../../quant/kvcache.js';
import type { Tensor } from '../../tensor.js';
import type { MemoryInstance, MemorySpec } from '../adapters.js';
import { FULL_ATTENTION_SCALE } from './full_attention.js';

export function quantizedAttention(spec: MemorySpec, kind: string, make: (D: number) => [CacheStorage, CacheStorage]): MemoryInstance {
  check(spec.keyDim === spec.valueDim, 'E_UNSUPPORTED',
    `recall '${kind}': a quantized KV cache needs keyDim == valueDim, got ${spec.keyDim} and ${spec.valueDim}`);
  const [keys, values] = make(spec.keyDim);
  const cache = new KVCache({ heads: spec.heads, headDim: spec.keyDim, maxTokens: spec.context, keys, values, device: spec.device });
  return {
    async write(k: Tensor, v: Tensor) {
      await cache.appendAsync(k, v);
      // the per-token work of an attention layer: each new token attends causally over the cache
      (await cache.attendAsync(k, { causal: true, scale: FULL_ATTENTION_SCALE })).dispose();
    },
    read: (q: Tensor) => cache.attendAsync(q, { causal: false, scale: FULL_ATTENTION_SCALE }),
    bytes: () => cache.bytes(),
    dispose: () => cache.dispose(),
  };
}
