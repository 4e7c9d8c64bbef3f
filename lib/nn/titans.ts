/**
 * The 'titans' mixer (TitansMemory, Titans §3 and §4.4) and the 'mag' hybrid
 * (memory as a gate over sliding-window attention, Titans §4.2).
 *
 *   { mixer: 'titans', heads: 4, memory: 'linear' | { kind: 'mlp', hidden: 64 }, chunkSize: 16 }
 *   { mixer: 'mag', heads: 4, window: 64, memory: 'linear' }      // MAG: one block, two branches
 *   layers: [{ mixer: 'titans', ... }, { mixer: 'swa', ... }]     // MAL: memory layer, then attention
 *
 * TitansMemory, per head h (Dk = Dv = headDim):
 *   q, k, v = SiLU(conv(W x)) (short causal depthwise conv, §4.4; conv: 0 = none, then SiLU only)
 *   q, k ← q/‖q‖, k/‖k‖
 *   θ_t = thetaMax · σ(w_θ·x_t + b_θ)  ∈ (0, thetaMax)   inner learning rate (default thetaMax 0.5:
 *         with unit keys and the factor-2 loss, θ = 0.5 is one full delta-rule step per token)
 *   α_t = σ(w_α·x_t + b_α)             ∈ (0, 1)          forget gate (b_α = −4.6 at init: α ≈ 0.01)
 *   η_t = σ(w_η·x_t + b_η)             ∈ (0, 1)          momentum decay (b_η = 0 at init: η ≈ 0.5)
 *   y = Titans memory read (ops.titans: stale-anchor chunks of chunkSize, write-before-read)
 *   out = o_proj( RMSNorm_h(y) · SiLU(g_proj x) )         output norm + gate (§4.4, gate: false = norm only)
 * Linear memory M [H, Dv, Dk] starts at zero; the MLP memory M(x) = x + W1 act(W2 x) starts at the
 * learned `memory_W1` [H, D, Dh], `memory_W2` [H, Dh, D] (zero weights are a fixed point).
 * Stateful mode carries memory, momentum, the anchor of the chunk in progress and the offset inside
 * it, so prefill + steps equal forward exactly (up to rounding) at any split.
 *
 * MAG: out = RMSNorm_a(SWA(x)) · σ(RMSNorm_m(Titans(x))) (learnable vector weights, then σ), the
 * branches under `attn.` and `memory.`. Persistent memory tokens are not implemented.
 */
import { check } from '../errors.js';
import type { Value } from '../graph/index.js';
import type { MemoryActivation } from '../ops/memory_common.js';
import * as ops from '../ops/index.js';
import { zeros, type Tensor } from '../tensor.js';
import { Attention } from './attention.js';
import { Linear, RMSNorm } from './layers.js';
import {
  GateProj,
  ShortConvs,
  boolOption,
  convOption,
  gatedNorm,
  heads,
  l2norm,
  numOption,
  prefixedContext,
  prefixedSpec,
} from './mixer_parts.js';
import { intOption, registerMixer, type Mixer, type MixerArgs, type MixerContext, type MixerStateSpec } from './mixers.js';
import { Module } from './module.js';

export interface TitansMixerConfig {
  heads: number;
  /** Dk = Dv per head; default dim / heads. */
  headDim?: number;
  memory?: 'linear' | { kind: 'mlp'; hidden?: number; activation?: MemoryActivation };
  /** Tokens per chunk (semantic: gradients at the chunk-start memory). Default 16. */
  chunkSize?: number;
  /** Short conv kernel on q/k/v; 0 = none. Default 4. */
  conv?: number;
  momentum?: boolean;
  decay?: boolean;
  /** θ = thetaMax·σ(·). Default 0.5. */
  thetaMax?: number;
  /** Output gate SiLU(g_proj x) after the norm. Default true. */
  gate?: boolean;
  normEps?: number;
}

const ACTS = ['gelu', 'geluTanh', 'silu', 'relu', 'tanh'];

export class TitansMemory extends Module implements Mixer {
  readonly kind = 'titans';
  readonly heads: number;
  readonly headDim: number;
  readonly mlp: { hidden: number; activation: MemoryActivation } | null;
  readonly chunk: number;
  readonly momentum: boolean;
  readonly decay: boolean;
  readonly thetaMax: number;
  readonly eps: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly g: Linear | null;
  readonly convs: ShortConvs;
  readonly theta: GateProj;
  readonly alpha: GateProj | null;
  readonly eta: GateProj | null;
  readonly oNorm: Tensor;
  readonly W1: Tensor | null;
  readonly W2: Tensor | null;

  constructor(a: MixerArgs) {
    super(a.prefix);
    const L = a.layer, i = a.index;
    this.heads = intOption(L, i, 'heads');
    check(a.dim % this.heads === 0 || L.headDim !== undefined, 'E_ARG',
      `layer ${i}: dim ${a.dim} is not a multiple of heads ${this.heads}; set headDim`);
    this.headDim = intOption(L, i, 'headDim', Math.floor(a.dim / this.heads));
    const mem = L.memory ?? 'linear';
    if (mem === 'linear') this.mlp = null;
    else {
      check(typeof mem === 'object' && (mem as { kind?: string }).kind === 'mlp', 'E_ARG',
        `layer ${i} (${L.mixer}): memory must be 'linear' or { kind: 'mlp', hidden, activation }, got ${JSON.stringify(mem)}`);
      const m = mem as { hidden?: number; activation?: string };
      const hidden = intOption({ ...L, hidden: m.hidden }, i, 'hidden', 4 * this.headDim);
      const activation = (m.activation ?? 'gelu') as MemoryActivation;
      check(ACTS.includes(activation), 'E_ARG', `layer ${i} (${L.mixer}): memory activation must be one of ${ACTS.join(', ')}`);
      this.mlp = { hidden, activation };
    }
    this.chunk = intOption(L, i, 'chunkSize', 16);
    this.momentum = boolOption(L, i, 'momentum', true);
    this.decay = boolOption(L, i, 'decay', true);
    this.thetaMax = numOption(L, i, 'thetaMax', 0.5, 0, 1e3);
    this.eps = numOption(L, i, 'normEps', 1e-5, 0, 1);
    const H = this.heads, D = this.headDim, init = a.init;
    this.q = this.child('q_proj', new Linear(this.full('q_proj'), init, a.dim, H * D));
    this.k = this.child('k_proj', new Linear(this.full('k_proj'), init, a.dim, H * D));
    this.v = this.child('v_proj', new Linear(this.full('v_proj'), init, a.dim, H * D));
    this.convs = this.child('convs', new ShortConvs(this.prefix, init, convOption(L, i, 4), { q: H * D, k: H * D, v: H * D }));
    this.theta = this.child('theta_proj', new GateProj(this.full('theta_proj'), init, a.dim, H, 'zeros'));
    this.alpha = this.decay ? this.child('alpha_proj', new GateProj(this.full('alpha_proj'), init, a.dim, H, { constant: -4.6 })) : null;
    this.eta = this.momentum ? this.child('eta_proj', new GateProj(this.full('eta_proj'), init, a.dim, H, 'zeros')) : null;
    this.g = boolOption(L, i, 'gate', true) ? this.child('g_proj', new Linear(this.full('g_proj'), init, a.dim, H * D)) : null;
    this.oNorm = this.param(init, 'o_norm.weight', [D], 'ones');
    this.o = this.child('o_proj', new Linear(this.full('o_proj'), init, H * D, a.dim));
    if (this.mlp) {
      const Dh = this.mlp.hidden;
      this.W1 = this.param(init, 'memory_W1', [H, D, Dh], { normal: 1 / Math.sqrt(Dh) });
      this.W2 = this.param(init, 'memory_W2', [H, Dh, D], { normal: 1 / Math.sqrt(D) });
    } else {
      this.W1 = this.W2 = null;
    }
  }

  /** Names of the op's state inputs/outputs, in order. */
  private get stateNames(): string[] {
    return this.mlp ? ['W1', 'W2', 'S1', 'S2', 'A1', 'A2', 'offset'] : ['memory', 'momentum', 'anchor', 'offset'];
  }

  stateSpec(batch: number): MixerStateSpec {
    const H = this.heads, D = this.headDim;
    const t: NonNullable<MixerStateSpec['tensors']> = { ...this.convs.stateTensors(batch) };
    const learned = (p: Tensor) => () => {
      const z = zeros([batch, ...p.shape], { device: p.device });
      const p1 = p.reshape([1, ...p.shape]);
      const r = ops.add(z, p1);
      z.dispose();
      p1.dispose();
      return r;
    };
    if (this.mlp) {
      const Dh = this.mlp.hidden;
      for (const n of ['W1', 'S1', 'A1']) t[n] = { shape: [batch, H, D, Dh], init: n === 'S1' ? undefined : learned(this.W1!) };
      for (const n of ['W2', 'S2', 'A2']) t[n] = { shape: [batch, H, Dh, D], init: n === 'S2' ? undefined : learned(this.W2!) };
    } else {
      for (const n of ['memory', 'momentum', 'anchor']) t[n] = { shape: [batch, H, D, D] };
    }
    t.offset = { shape: [1], dtype: 'i32' };
    return { tensors: t };
  }

  build(ctx: MixerContext, x: Value): Value {
    const g = ctx.g, H = this.heads, D = this.headDim;
    const q0 = this.convs.build(ctx, 'q', this.q.build(g, x), true);
    const k0 = this.convs.build(ctx, 'k', this.k.build(g, x), true);
    const v0 = this.convs.build(ctx, 'v', this.v.build(g, x), true);
    const y = g.scope(this.prefix, () => {
      const q = l2norm(g, heads(g, q0, H, D, 'q_heads'), 'q_l2');
      const k = l2norm(g, heads(g, k0, H, D, 'k_heads'), 'k_l2');
      const v = heads(g, v0, H, D, 'v_heads');
      const theta = g.scale(g.unary('sigmoid', this.theta.build(g, x), { name: 'theta_sig' }), this.thetaMax, 0, { name: 'theta' });
      const alpha = this.alpha ? g.unary('sigmoid', this.alpha.build(g, x), { name: 'alpha' }) : null;
      const eta = this.eta ? g.unary('sigmoid', this.eta.build(g, x), { name: 'eta' }) : null;
      const stateful = ctx.mode === 'stateful';
      const names = this.stateNames;
      let init: (Value | null)[];
      if (stateful) init = names.map((n) => ctx.state.read(n));
      else if (this.mlp) init = [g.reshape(g.param('memory_W1', this.W1!), [1, ...this.W1!.shape]),
        g.reshape(g.param('memory_W2', this.W2!), [1, ...this.W2!.shape])];
      else init = [];
      const attrs = { chunkSize: this.chunk, momentum: this.momentum, decay: this.decay, outputFinalState: stateful,
        ...(this.mlp ? { hidden: this.mlp.hidden, activation: this.mlp.activation } : {}) };
      const outs = g.op(this.mlp ? 'titansMlp' : 'titansLinear', [q, k, v, theta, alpha, eta, ...init], attrs, { name: 'memory' });
      if (stateful) names.forEach((n, j) => ctx.state.write(n, outs[1 + j]));
      const gate = this.g ? heads(g, this.g.build(g, x), H, D, 'g_heads') : null;
      const o = gatedNorm(g, outs[0], g.param('o_norm.weight', this.oNorm), gate, this.eps, 'o_norm');
      return g.reshape(o, [ctx.batch, ctx.seqLen, H * D], { name: 'merge_heads' });
    });
    return this.o.build(g, y);
  }
}

/** MAG: sliding-window attention gated by the Titans memory branch (one block). */
export class MagMixer extends Module implements Mixer {
  readonly kind = 'mag';
  readonly attn: Attention;
  readonly memory: TitansMemory;
  readonly attnNorm: RMSNorm;
  readonly memNorm: RMSNorm;
  constructor(a: MixerArgs) {
    super(a.prefix);
    const L = a.layer;
    const { mixer: _m, window, kvHeads, rope, scale, cache, ...memCfg } = L;
    this.attn = this.child('attn', new Attention({ ...a, prefix: this.full('attn'),
      layer: { mixer: 'swa', heads: L.heads, headDim: L.headDim, window, kvHeads, rope, scale, cache } }, true));
    this.memory = this.child('memory', new TitansMemory({ ...a, prefix: this.full('memory'), layer: { ...memCfg, mixer: 'mag' } }));
    this.attnNorm = this.child('attn_norm', new RMSNorm(this.full('attn_norm'), a.init, a.dim));
    this.memNorm = this.child('memory_norm', new RMSNorm(this.full('memory_norm'), a.init, a.dim));
  }
  stateSpec(batch: number): MixerStateSpec {
    const a = prefixedSpec(this.attn.stateSpec(), 'attn'), m = prefixedSpec(this.memory.stateSpec(batch), 'memory');
    return { tensors: { ...a.tensors, ...m.tensors }, bound: { ...a.bound, ...m.bound } };
  }
  build(ctx: MixerContext, x: Value): Value {
    const g = ctx.g;
    const ya = this.attnNorm.build(g, this.attn.build(prefixedContext(ctx, 'attn'), x));
    const ym = this.memNorm.build(g, this.memory.build(prefixedContext(ctx, 'memory'), x));
    return g.scope(this.prefix, () => g.mul(ya, g.unary('sigmoid', ym, { name: 'gate' }), { name: 'mag' }));
  }
}

registerMixer('titans', (a) => new TitansMemory(a));
registerMixer('mag', (a) => new MagMixer(a));
