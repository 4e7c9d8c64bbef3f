/**
 * Quantized attention caches for the attention mixer:
 *   { mixer: 'attention', heads: 8, kvHeads: 2, cache: 'turboquant' }
 * Each kind is an engram.KVCache (lib/quant/kvcache.ts) with one layer per
 * batch row; attention runs straight from the packed codes. In a compiled
 * plan the attention node is bound to the cache's native StateKernel
 * (native/quant/kv_state.h: append the new keys/values, then attend);
 * runBoundEager does the same through the JS handle.
 *
 * Kinds (keys / values; bits per value as in docs/quant.md):
 *   turboquant       TurboQuant 3.5 bits / 3.5 bits (mse variant, random rotation)
 *   turboquant-2.5   TurboQuant 2.5 / 2.5
 *   turboquant-4     TurboQuant 4 / 4
 *   kivi             KIVI 2-bit (keys per channel, values per token, f32 window of the last 128 tokens)
 *   kivi-4           KIVI 4-bit
 *   int8             per-vector int8 / int8
 *   f16, bf16        plain 16-bit rows
 * Full attention only: a quantized cache keeps every position (a window, i.e. 'swa', is E_UNSUPPORTED),
 * and values have the key head dim. save() is the cache's serialized form as one u8 tensor.
 */
import type { Attrs } from '../binding.js';
import { EngramError, check } from '../errors.js';
import * as ops from '../ops/index.js';
import { KVCache, type CacheStorage } from '../quant/kvcache.js';
import * as quant from '../quant/quantizer.js';
import { Tensor, tensor } from '../tensor.js';
import { registerAttentionCache, type AttentionCache, type AttentionCacheSpec, type AttentionOptions } from './cache.js';

/** Positions a quantized model cache may hold (a limit, not an allocation). */
export const QUANT_CACHE_MAX_TOKENS = 1 << 24;

type Storages = (headDim: number) => [CacheStorage, CacheStorage];

const turbo = (bits: number): Storages => (D) => [quant.turboQuant({ dim: D, bits, seed: 1 }), quant.turboQuant({ dim: D, bits, seed: 2 })];

/** The registered quantized cache kinds: key and value storage per head dim. */
export const QUANT_CACHE_KINDS: Record<string, Storages> = {
  turboquant: turbo(3.5),
  'turboquant-2.5': turbo(2.5),
  'turboquant-4': turbo(4),
  kivi: () => [quant.kivi({ bits: 2 }), quant.kivi({ bits: 2 })],
  'kivi-4': () => [quant.kivi({ bits: 4 }), quant.kivi({ bits: 4 })],
  int8: () => [quant.int8(), quant.int8()],
  f16: () => ['f16', 'f16'],
  bf16: () => ['bf16', 'bf16'],
};

export class QuantAttentionCache implements AttentionCache {
  private kv: KVCache | null;

  /** `from`: an existing cache to wrap (fork). */
  constructor(readonly kindName: string, private readonly spec: AttentionCacheSpec, from?: KVCache) {
    if (from) {
      this.kv = from;
      return;
    }
    const make = QUANT_CACHE_KINDS[kindName];
    check(make, 'E_ARG', `unknown quantized cache '${kindName}'`);
    check(spec.window === 0, 'E_UNSUPPORTED',
      `attention cache '${kindName}': a quantized cache keeps every position; use it with full attention, not a window of ${spec.window}`);
    check(spec.valueDim === spec.headDim, 'E_UNSUPPORTED',
      `attention cache '${kindName}': values must have the key head dim (${spec.headDim}), got ${spec.valueDim}`);
    const [keys, values] = make(spec.headDim);
    this.kv = new KVCache({ layers: spec.batch, heads: spec.kvHeads, headDim: spec.headDim, maxTokens: QUANT_CACHE_MAX_TOKENS,
      keys, values, device: spec.device });
  }

  get kind(): string {
    return this.kindName;
  }
  private live(): KVCache {
    check(this.kv && !this.kv.isDisposed, 'E_DISPOSED', `attention cache '${this.kindName}': disposed`);
    return this.kv;
  }
  /** @internal The bindable native object (QuantKVCacheHandle → quant::KVCacheState). */
  get nativeState() {
    return this.live().handle;
  }
  /** The underlying engram.KVCache (layer b = batch row b). */
  get cache(): KVCache {
    return this.live();
  }
  get length(): number {
    return this.live().length;
  }
  get position(): number {
    return this.live().length;
  }
  bytes(): number {
    return this.live().bytes();
  }
  append(k: Tensor, v: Tensor): void {
    const kv = this.live();
    check(k.shape[0] === this.spec.batch && v.shape[0] === this.spec.batch, 'E_SHAPE',
      `attention cache '${this.kindName}': k/v must have ${this.spec.batch} sequences, got ${k.shape[0]} and ${v.shape[0]}`);
    for (let b = 0; b < this.spec.batch; b++) {
      const kb = k.slice(0, b, b + 1), vb = v.slice(0, b, b + 1);
      try {
        kv.append(kb, vb, { layer: b });
      } finally {
        kb.dispose();
        vb.dispose();
      }
    }
  }
  private rows(q: Tensor, one: (qb: Tensor, b: number) => Tensor): Tensor {
    check(q.shape[0] === this.spec.batch, 'E_SHAPE', `attention cache '${this.kindName}': q must have ${this.spec.batch} sequences`);
    const outs: Tensor[] = [];
    try {
      for (let b = 0; b < this.spec.batch; b++) {
        const qb = q.slice(0, b, b + 1);
        try {
          outs.push(one(qb, b));
        } finally {
          qb.dispose();
        }
      }
      return outs.length === 1 ? outs.pop()! : ops.concat(outs, { axis: 0 });
    } finally {
      for (const o of outs) o.dispose();
    }
  }
  attend(q: Tensor, o: AttentionOptions = {}): Tensor {
    check(o.window === undefined, 'E_UNSUPPORTED', `attention cache '${this.kindName}': no windowed attention`);
    const kv = this.live();
    return this.rows(q, (qb, b) => kv.attend(qb, { layer: b, causal: o.causal ?? true, scale: o.scale }));
  }
  async attendAsync(q: Tensor, o: AttentionOptions = {}): Promise<Tensor> {
    check(o.window === undefined, 'E_UNSUPPORTED', `attention cache '${this.kindName}': no windowed attention`);
    const kv = this.live();
    const outs: Tensor[] = [];
    try {
      for (let b = 0; b < this.spec.batch; b++) {
        const qb = q.slice(0, b, b + 1);
        try {
          outs.push(await kv.attendAsync(qb, { layer: b, causal: o.causal ?? true, scale: o.scale }));
        } finally {
          qb.dispose();
        }
      }
      return outs.length === 1 ? outs.pop()! : ops.concat(outs, { axis: 0 });
    } finally {
      for (const x of outs) x.dispose();
    }
  }
  runBoundEager(op: string, inputs: readonly Tensor[], attrs: Attrs): Tensor {
    check(op === 'sdpa', op === 'sdpaWindow' ? 'E_UNSUPPORTED' : 'E_ARG',
      `attention cache '${this.kindName}': runs sdpa nodes (full attention), not '${op}'`);
    this.append(inputs[1], inputs[2]);
    const o = this.attend(inputs[0], { causal: (attrs.causal as boolean | undefined) ?? true, scale: attrs.scale as number | undefined });
    if (o.dtype === inputs[0].dtype) return o;
    const c = o.cast(inputs[0].dtype);
    o.dispose();
    return c;
  }
  fork(): QuantAttentionCache {
    return new QuantAttentionCache(this.kindName, this.spec, this.live().fork());
  }
  save(): Record<string, Tensor> {
    const bytes = this.live().serialize();
    return { codes: tensor(bytes, [bytes.length]) };
  }
  load(t: Record<string, Tensor>): void {
    check(t.codes instanceof Tensor && t.codes.dtype === 'u8', 'E_ARG', `attention cache '${this.kindName}' load: needs a u8 tensor 'codes'`);
    const next = KVCache.deserialize(t.codes.toArray() as Uint8Array);
    const i = next.info(), want = this.live().info();
    if (i.layers !== want.layers || i.heads !== want.heads || i.headDim !== want.headDim) {
      next.dispose();
      throw new EngramError(`attention cache '${this.kindName}' load: the saved cache is ${i.layers}×${i.heads}×${i.headDim}, ` +
        `expected ${want.layers}×${want.heads}×${want.headDim}`, 'E_SHAPE');
    }
    this.kv!.dispose();
    this.kv = next;
  }
  dispose(): void {
    if (this.kv && !this.kv.isDisposed) this.kv.dispose();
    this.kv = null;
  }
}

for (const kind of Object.keys(QUANT_CACHE_KINDS)) registerAttentionCache(kind, (spec) => new QuantAttentionCache(kind, spec));
