/**
 * 'kivi': attention (scale 20 on unit keys) over a KIVI 2-bit KV cache —
 * keys quantized per channel in groups of 32 tokens, values per token, the
 * most recent 128 tokens kept in f32 (3.03 bits per value at 4K with the
 * scales and window). Floor 0.95 at the default sizes (see turboquant.ts).
 */
import * as quant from '../../quant/quantizer.js';
import { registerMemory } from '../adapters.js';
import { FULL_ATTENTION_SCALE } from './full_attention.js';
import { quantizedAttention } from './quantized_attention.js';

registerMemory({
  kind: 'kivi',
  description: `attention (scale ${FULL_ATTENTION_SCALE}) over a KIVI 2-bit KV cache (f32 window of 128 tokens)`,
  floor: 0.95,
  create: (spec) => quantizedAttention(spec, 'kivi', () => [quant.kivi({ bits: 2 }), quant.kivi({ bits: 2 })]),
});
