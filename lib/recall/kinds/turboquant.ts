/**
 * 'turboquant': attention (scale 20 on unit keys) over a TurboQuant 3.5-bit
 * KV cache — keys and values both 3.5 bits (mse variant, random rotation;
 * 3.75 bits per value with the f16 norms). Floor 0.95 at the default sizes:
 * with random unit keys at scale 20 the stored key's score leads the best
 * other key by a wide margin, which 3.5-bit noise rarely closes.
 */
import * as quant from '../../quant/quantizer.js';
import { registerMemory } from '../adapters.js';
import { FULL_ATTENTION_SCALE } from './full_attention.js';
import { quantizedAttention } from './quantized_attention.js';

registerMemory({
  kind: 'turboquant',
  description: `attention (scale ${FULL_ATTENTION_SCALE}) over a TurboQuant 3.5-bit KV cache (keys and values)`,
  floor: 0.95,
  create: (spec) => quantizedAttention(spec, 'turboquant', (D) => [quant.turboQuant({ dim: D, bits: 3.5, seed: 1 }),
    quant.turboQuant({ dim: D, bits: 3.5, seed: 2 })]),
});
