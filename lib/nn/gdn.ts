/**
 * The 'gdn' mixer: a Gated DeltaNet layer with the parameter names of fla's
 * `GatedDeltaNet` (fla/layers/gated_deltanet.py; docs/weights.md,
 * FLA_GDN_TO_ENGRAM), so fla checkpoints load by name.
 *
 *   { mixer: 'gdn', heads: 4, headDim: 16, expandV: 2, conv: 4, gate: true, normEps: 1e-5 }
 *
 * Per head (Dk = headDim, Dv = expandV·headDim):
 *   q, k, v = SiLU(conv(W x))   (ShortConvolution, no bias; conv: 0 = SiLU only)
 *   q, k ← ℓ2-normalised (fla's use_qk_l2norm_in_kernel, eps 1e-6)
 *   β = σ(b_proj x) ∈ (0, 1)     (squeezed by 1e-7 so it never rounds to 0 or 1: the op needs an open interval)
 *   g = −exp(A_log) · softplus(a_proj x + dt_bias) ≤ 0   (log decay)
 *   o = ops.gatedDeltaRule(q, k, v, g, β) (state S [B, H, Dk, Dv], read scale Dk^-1/2)
 *   out = o_proj( RMSNorm_h(o) · SiLU(g_proj x) )   (FusedRMSNormGated, swish; gate: false = RMSNorm only)
 * Init (fla-like): A_log ~ U[0, ln 16] (A log-uniform in [1, 16]; fla draws A ~ U[0, 16]), dt_bias ~
 * U[ln 1e-3, ln 0.1] (≈ softplus⁻¹ of fla's log-uniform dt ∈ [1e-3, 0.1]), projections N(0, 1/fan_in).
 * num_v_heads = heads (fla's grouped value heads are not supported); allow_neg_eigval is off.
 */
import { check } from '../errors.js';
import type { Value } from '../graph/index.js';
import type { Tensor } from '../tensor.js';
import { Linear } from './layers.js';
import { GateProj, ShortConvs, boolOption, convOption, gatedNorm, heads, l2norm, numOption } from './mixer_parts.js';
import { intOption, registerMixer, type Mixer, type MixerArgs, type MixerContext, type MixerStateSpec } from './mixers.js';
import { Module } from './module.js';

export interface GdnMixerConfig {
  heads: number;
  /** Key head dim; default dim / heads. */
  headDim?: number;
  /** Value head dim = expandV · headDim. Default 2 (fla). */
  expandV?: number;
  /** Short conv kernel; 0 = none. Default 4. */
  conv?: number;
  gate?: boolean;
  normEps?: number;
  /** Chunk of the WY/UT form (any size computes the same function). Default 64. */
  chunkSize?: number;
}

/** β squeeze: σ(x)·(1 − 2ε) + ε stays inside (0, 1) in f32. */
const BETA_EPS = 1e-7;

export class GatedDeltaNet extends Module implements Mixer {
  readonly kind = 'gdn';
  readonly heads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly chunk: number;
  readonly eps: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly a: GateProj;
  readonly b: GateProj;
  readonly g: Linear | null;
  readonly o: Linear;
  readonly convs: ShortConvs;
  readonly Alog: Tensor;
  readonly dtBias: Tensor;
  readonly oNorm: Tensor;

  constructor(args: MixerArgs) {
    super(args.prefix);
    const L = args.layer, i = args.index, init = args.init, dim = args.dim;
    this.heads = intOption(L, i, 'heads');
    check(dim % this.heads === 0 || L.headDim !== undefined, 'E_ARG',
      `layer ${i}: dim ${dim} is not a multiple of heads ${this.heads}; set headDim`);
    this.headDim = intOption(L, i, 'headDim', Math.floor(dim / this.heads));
    this.valueDim = this.headDim * intOption(L, i, 'expandV', 2);
    this.chunk = intOption(L, i, 'chunkSize', 64);
    this.eps = numOption(L, i, 'normEps', 1e-5, 0, 1);
    const H = this.heads, Dk = this.headDim, Dv = this.valueDim;
    this.q = this.child('q_proj', new Linear(this.full('q_proj'), init, dim, H * Dk));
    this.k = this.child('k_proj', new Linear(this.full('k_proj'), init, dim, H * Dk));
    this.v = this.child('v_proj', new Linear(this.full('v_proj'), init, dim, H * Dv));
    this.a = this.child('a_proj', new GateProj(this.full('a_proj'), init, dim, H, 'zeros', false));
    this.b = this.child('b_proj', new GateProj(this.full('b_proj'), init, dim, H, 'zeros', false));
    this.Alog = this.param(init, 'A_log', [H], { uniform: [0, Math.log(16)] });
    this.dtBias = this.param(init, 'dt_bias', [H], { uniform: [Math.log(1e-3), Math.log(0.1)] });
    this.convs = this.child('convs', new ShortConvs(this.prefix, init, convOption(L, i, 4), { q: H * Dk, k: H * Dk, v: H * Dv }));
    this.g = boolOption(L, i, 'gate', true) ? this.child('g_proj', new Linear(this.full('g_proj'), init, dim, H * Dv)) : null;
    this.oNorm = this.param(init, 'o_norm.weight', [Dv], 'ones');
    this.o = this.child('o_proj', new Linear(this.full('o_proj'), init, H * Dv, dim));
  }

  stateSpec(batch: number): MixerStateSpec {
    return { tensors: { ...this.convs.stateTensors(batch), state: { shape: [batch, this.heads, this.headDim, this.valueDim] } } };
  }

  build(ctx: MixerContext, x: Value): Value {
    const g = ctx.g, H = this.heads, Dk = this.headDim, Dv = this.valueDim;
    const q0 = this.convs.build(ctx, 'q', this.q.build(g, x), true);
    const k0 = this.convs.build(ctx, 'k', this.k.build(g, x), true);
    const v0 = this.convs.build(ctx, 'v', this.v.build(g, x), true);
    const y = g.scope(this.prefix, () => {
      const q = l2norm(g, heads(g, q0, H, Dk, 'q_heads'), 'q_l2');
      const k = l2norm(g, heads(g, k0, H, Dk, 'k_heads'), 'k_l2');
      const v = heads(g, v0, H, Dv, 'v_heads');
      const beta = g.scale(g.unary('sigmoid', this.b.build(g, x), { name: 'beta_sig' }), 1 - 2 * BETA_EPS, BETA_EPS, { name: 'beta' });
      const dt = g.unary('softplus', g.add(this.a.build(g, x), g.param('dt_bias', this.dtBias), { name: 'dt_in' }), { name: 'dt' });
      const A = g.unary('exp', g.param('A_log', this.Alog), { name: 'A' });
      const decay = g.unary('neg', g.mul(dt, A, { name: 'A_dt' }), { name: 'g' });
      const stateful = ctx.mode === 'stateful';
      const outs = g.op('gatedDeltaRule', [q, k, v, decay, beta, stateful ? ctx.state.read('state') : null],
        { chunkSize: this.chunk, outputFinalState: stateful }, { name: 'delta_rule' });
      if (stateful) ctx.state.write('state', outs[1]);
      const gate = this.g ? heads(g, this.g.build(g, x), H, Dv, 'g_heads') : null;
      const o = gatedNorm(g, outs[0], g.param('o_norm.weight', this.oNorm), gate, this.eps, 'o_norm');
      return g.reshape(o, [ctx.batch, ctx.seqLen, H * Dv], { name: 'merge_heads' });
    });
    return this.o.build(g, y);
  }
}

registerMixer('gdn', (a) => new GatedDeltaNet(a));
