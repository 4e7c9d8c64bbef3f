/**
 * Attention mixers: causal multi-head / grouped-query attention ('attention')
 * and sliding-window attention ('swa'), with rotary positions and a KV cache.
 *
 *   { mixer: 'attention', heads: 4, kvHeads: 2, headDim: 16, rope: true, cache: 'f32' }
 *   { mixer: 'swa', heads: 4, window: 64 }
 *
 * Parameters (PyTorch/Llama naming): q_proj [H·D, dim], k_proj and v_proj
 * [Hkv·D, dim], o_proj [dim, H·D]. In 'stateful' mode the attention node is
 * bound to the layer's cache ('kv'), which appends the new keys/values and
 * attends over all it holds; 'forward' runs sdpa / sdpaWindow directly.
 */
import { check } from '../errors.js';
import type { Value } from '../graph/index.js';
import { createAttentionCache } from './cache.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { intOption, registerMixer, type Mixer, type MixerArgs, type MixerContext, type MixerStateSpec } from './mixers.js';

export interface AttentionConfig {
  heads: number;
  /** Key/value heads (grouped-query attention); default `heads`. */
  kvHeads?: number;
  /** Default dim / heads. */
  headDim?: number;
  /** Sliding window; 0 or absent = full causal attention. */
  window?: number;
  /** Rotary positions (theta 10000 by default); false = none. */
  rope?: boolean | { theta?: number };
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Cache format (registerAttentionCache); default 'f32'. */
  cache?: string;
  bias?: boolean;
}

export class Attention extends Module implements Mixer {
  readonly kind: string;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly window: number;
  readonly theta: number | null;
  readonly scale: number | undefined;
  readonly cacheKind: string;
  readonly q;
  readonly k;
  readonly v;
  readonly o;

  constructor(a: MixerArgs, swa: boolean) {
    super(a.prefix);
    const L = a.layer;
    this.kind = swa ? 'swa' : 'attention';
    this.heads = intOption(L, a.index, 'heads');
    this.kvHeads = intOption(L, a.index, 'kvHeads', this.heads);
    check(a.dim % this.heads === 0 || L.headDim !== undefined, 'E_ARG',
      `layer ${a.index}: dim ${a.dim} is not a multiple of heads ${this.heads}; set headDim`);
    this.headDim = intOption(L, a.index, 'headDim', Math.floor(a.dim / this.heads));
    check(this.heads % this.kvHeads === 0, 'E_ARG',
      `layer ${a.index}: heads (${this.heads}) must be a multiple of kvHeads (${this.kvHeads})`);
    this.window = swa ? intOption(L, a.index, 'window') : (L.window === undefined || L.window === 0 ? 0 : intOption(L, a.index, 'window'));
    const rope = L.rope ?? true;
    this.theta = rope === false ? null : typeof rope === 'object' ? ((rope as { theta?: number }).theta ?? 10000) : 10000;
    this.scale = L.scale as number | undefined;
    this.cacheKind = (L.cache as string | undefined) ?? 'f32';
    const bias = !!L.bias;
    const H = this.heads, Hkv = this.kvHeads, D = this.headDim;
    this.q = this.child('q_proj', new Linear(this.full('q_proj'), a.init, a.dim, H * D, { bias }));
    this.k = this.child('k_proj', new Linear(this.full('k_proj'), a.init, a.dim, Hkv * D, { bias }));
    this.v = this.child('v_proj', new Linear(this.full('v_proj'), a.init, a.dim, Hkv * D, { bias }));
    this.o = this.child('o_proj', new Linear(this.full('o_proj'), a.init, H * D, a.dim, { bias }));
  }

  stateSpec(): MixerStateSpec {
    return {
      bound: {
        kv: ({ batch, device }) => createAttentionCache(this.cacheKind, {
          batch, kvHeads: this.kvHeads, headDim: this.headDim, valueDim: this.headDim, window: this.window, device,
        }),
      },
    };
  }

  build(ctx: MixerContext, x: Value): Value {
    const { g, batch: B, seqLen: T } = ctx;
    const H = this.heads, Hkv = this.kvHeads, D = this.headDim;
    const heads = (v: Value, n: number, name: string) => g.scope(this.prefix, () => g.reshape(v, [B, T, n, D], { name }));
    let q = heads(this.q.build(g, x), H, 'q_heads');
    let k = heads(this.k.build(g, x), Hkv, 'k_heads');
    const v = heads(this.v.build(g, x), Hkv, 'v_heads');
    const o = g.scope(this.prefix, () => {
      if (this.theta !== null) {
        q = g.rope(q, ctx.positions, { theta: this.theta, name: 'q_rope' });
        k = g.rope(k, ctx.positions, { theta: this.theta, name: 'k_rope' });
      }
      const bind = ctx.mode === 'stateful' ? ctx.state.bind('kv') : undefined;
      const att = this.window
        ? g.sdpaWindow(q, k, v, { window: this.window, scale: this.scale, name: 'attn', bind })
        : g.sdpa(q, k, v, { causal: true, scale: this.scale, name: 'attn', bind });
      return g.reshape(att, [B, T, H * D], { name: 'merge_heads' });
    });
    return this.o.build(g, o);
  }
}

registerMixer('attention', (a) => new Attention(a, false));
registerMixer('swa', (a) => new Attention(a, true));
