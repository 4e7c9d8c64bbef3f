/**
 * The 'tnt' mixer (TNTMemory): TNT hierarchical memory (algorithms.md §4,
 * docs/tnt.md) as a sequence layer.
 *
 *   { mixer: 'tnt', heads: 4, global: { chunkSize: 64 }, locals: [{ chunkSize: 8, shardLength: 32 }] }
 *
 * Per head h (Dk = Dv = headDim):
 *   q, k = ℓ2-normalised q_proj x, k_proj x;  v = v_proj x
 *   η^(m)_t = lrMax · σ(eta_proj x)_t,m        one learning rate per memory module (global, local 0, ...)
 *   o = ops.tnt(q, k, v, η): the global memory read at its chunk start + Σ_i local i read through Π_i q
 *   out = o_proj(o)
 * Learnable initial states: `global.w_init` (the global memory's start) and `locals.<i>.w_init`
 * (W_init, restored at every shard start) — [H, D, D] for the linear memory (zeros at init),
 * `w1_init` [H, D, Dh] / `w2_init` [H, Dh, D] for an MLP memory (random: zero is a fixed point).
 * Stateful mode carries one packed state tensor ('tnt', zeros = fresh) holding every memory,
 * anchor, momentum, Π and the position, so prefill + steps equal forward at any split.
 * `global: null` drops the global memory; `qkProjection: false | 'chunk' | 'sequence'` as in ops.tnt.
 */
import { check } from '../errors.js';
import type { Value } from '../graph/index.js';
import { tntAttrs, tntLayout, type TntGlobalConfig, type TntLocalConfig, type TntMemory, type TntProjection } from '../ops/tnt.js';
import type { Tensor } from '../tensor.js';
import { Linear } from './layers.js';
import { intOption, registerMixer, type Mixer, type MixerArgs, type MixerContext, type MixerStateSpec } from './mixers.js';
import { Module } from './module.js';

interface ModuleCfg {
  chunkSize: number;
  shardLength?: number;
  memory?: TntMemory;
}

export class TNTMemory extends Module implements Mixer {
  readonly kind = 'tnt';
  readonly heads: number;
  readonly headDim: number;
  readonly lrMax: number;
  readonly global: TntGlobalConfig | null;
  readonly locals: TntLocalConfig[];
  readonly proj: TntProjection;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly eta: Linear;
  readonly o: Linear;
  /** Learnable initial states per module (global first): [name, tensor] of init1 and init2 (MLP only). */
  readonly inits: [[string, Tensor], [string, Tensor] | null][] = [];

  constructor(a: MixerArgs) {
    super(a.prefix);
    const L = a.layer, i = a.index;
    const err = (msg: string) => `layer ${i} (tnt): ${msg}`;
    this.heads = intOption(L, i, 'heads');
    check(a.dim % this.heads === 0 || L.headDim !== undefined, 'E_ARG', err(`dim ${a.dim} is not a multiple of heads ${this.heads}; set headDim`));
    this.headDim = intOption(L, i, 'headDim', Math.floor(a.dim / this.heads));
    const lr = L.lrMax ?? 0.2;
    check(typeof lr === 'number' && lr > 0 && Number.isFinite(lr), 'E_ARG', err(`lrMax must be a positive number, got ${String(lr)}`));
    this.lrMax = lr;
    const g = L.global === undefined ? { chunkSize: 64 } : (L.global as ModuleCfg | null);
    const locals = (L.locals ?? [{ chunkSize: 8, shardLength: 32 }]) as ModuleCfg[];
    check(Array.isArray(locals), 'E_ARG', err('locals must be an array of { chunkSize, shardLength, memory? }'));
    check(g !== null || locals.length > 0, 'E_ARG', err('no memory: give a global memory and/or at least one local'));
    this.global = g ? { chunkSize: g.chunkSize, memory: g.memory } : null;
    this.locals = locals.map((l) => ({ chunkSize: l.chunkSize, shardLength: l.shardLength as number, memory: l.memory }));
    this.proj = (L.qkProjection ?? true) as TntProjection;
    const H = this.heads, D = this.headDim, init = a.init;
    const nmod = (g ? 1 : 0) + locals.length;
    // Validates the whole configuration now (the native parser), naming the layer.
    try {
      tntAttrs({ global: this.global, locals: this.locals, qkProjection: this.proj }, D);
    } catch (e) {
      throw Object.assign(e as Error, { message: err((e as Error).message) });
    }
    this.q = this.child('q_proj', new Linear(this.full('q_proj'), init, a.dim, H * D));
    this.k = this.child('k_proj', new Linear(this.full('k_proj'), init, a.dim, H * D));
    this.v = this.child('v_proj', new Linear(this.full('v_proj'), init, a.dim, H * D));
    this.eta = this.child('eta_proj', new Linear(this.full('eta_proj'), init, a.dim, nmod * H, { bias: true }));
    this.o = this.child('o_proj', new Linear(this.full('o_proj'), init, H * D, a.dim));
    const mods: [string, ModuleCfg][] = [...(g ? [['global', g] as [string, ModuleCfg]] : []),
      ...locals.map((l, j) => [`locals.${j}`, l] as [string, ModuleCfg])];
    for (const [name, m] of mods) {
      const mem = m.memory ?? 'linear';
      const p = (local: string, shape: number[], kind: Parameters<Module['param']>[3]): [string, Tensor] =>
        [local, this.param(init, local, shape, kind)];
      if (mem === 'linear') {
        this.inits.push([p(`${name}.w_init`, [H, D, D], 'zeros'), null]);
      } else {
        const Dh = mem.hidden ?? 4 * D;
        this.inits.push([p(`${name}.w1_init`, [H, D, Dh], { normal: 1 / Math.sqrt(Dh) }),
          p(`${name}.w2_init`, [H, Dh, D], { normal: 1 / Math.sqrt(D) })]);
      }
    }
  }

  stateSpec(batch: number): MixerStateSpec {
    const D = this.headDim;
    const L = tntLayout({ global: this.global, locals: this.locals, qkProjection: this.proj }, batch, this.heads, D, D);
    return { tensors: { tnt: { shape: [L.total] } } };
  }

  build(ctx: MixerContext, x: Value): Value {
    const g = ctx.g, H = this.heads, D = this.headDim, B = ctx.batch, T = ctx.seqLen;
    const stateful = ctx.mode === 'stateful';
    const y = g.scope(this.prefix, () => {
      // ℓ2 normalisation: rmsNorm without a weight is x / rms(x) = √D x / ‖x‖.
      const unit = (v: Value, name: string) =>
        g.scale(g.rmsNorm(g.reshape(v, [B, T, H, D], { name: `${name}_heads` }), null, { eps: 1e-12, name: `${name}_rms` }),
          1 / Math.sqrt(D), 0, { name: `${name}_l2` });
      const q = unit(this.q.build(g, x), 'q');
      const k = unit(this.k.build(g, x), 'k');
      const v = g.reshape(this.v.build(g, x), [B, T, H, D], { name: 'v_heads' });
      const lr = g.scale(g.unary('sigmoid', this.eta.build(g, x), { name: 'eta_sig' }), this.lrMax, 0, { name: 'eta' });
      const inputs: (Value | null)[] = [q, k, v, stateful ? ctx.state.read('tnt') : null];
      const slot = (m: number) => {
        const [a, b] = this.inits[m];
        const i1 = g.reshape(g.param(a[0], a[1]), [1, ...a[1].shape]);
        const i2 = b ? g.reshape(g.param(b[0], b[1]), [1, ...b[1].shape]) : null;
        return [g.slice(lr, 2, m * H, (m + 1) * H, { name: `eta_${m}` }), null, null, i1, i2];
      };
      let m = 0;
      if (this.global) inputs.push(...slot(m++));
      else inputs.push(null, null, null, null, null);
      for (let j = 0; j < this.locals.length; j++) inputs.push(...slot(m++));
      const attrs = tntAttrs({ global: this.global, locals: this.locals, qkProjection: this.proj, outputFinalState: stateful }, D);
      const outs = g.op('tnt', inputs, attrs, { name: 'memory' });
      if (stateful) ctx.state.write('tnt', outs[1]);
      return g.reshape(outs[0], [B, T, H * D], { name: 'merge_heads' });
    });
    return this.o.build(g, y);
  }
}

registerMixer('tnt', (a) => new TNTMemory(a));
