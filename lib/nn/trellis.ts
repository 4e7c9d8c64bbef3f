/**
 * The 'trellis' mixer: TrellisAttention, the Trellis compressed KV memory
 * (ops.trellis, a reconstruction of algorithms.md §5; docs/trellis.md) as an
 * attention replacement whose state never grows.
 *
 *   { mixer: 'trellis', heads: 4, slots: 64, chunkSize: 64, forget: 'scalar', momentum: false,
 *     phi: 'identity', f: 'layerNormSilu', scale: 1 }
 *
 * Per head: q, k, v = projections of x (k and v ℓ2-normalised: they are the
 * write vectors of the OGD steps, stable for γ ≤ 1 on unit vectors; q too),
 * slot code α = a_proj x [m], forget gate β = sigmoid(b_proj x + 3) (scalar per
 * head, or per slot with forget: 'slot'), learning rate γ = sigmoid(g_proj x),
 * momentum decay η = sigmoid(e_proj x) (momentum: true). Output o_proj of the
 * per-head reads. Parameters: q_proj, k_proj, v_proj [H·D, dim], a_proj
 * [H·m, dim], b_proj [H or H·m, dim], g_proj [H, dim], e_proj [H, dim],
 * o_proj [dim, H·D].
 * Stateful mode carries the op's state (MK, MV, momenta, chunk anchors and the
 * i32 offset inside the chunk) as fixed-shape state tensors, so prefill +
 * steps compute exactly the forward's function; a one-token call runs the
 * op's token loop (O(m·D) per head), longer calls its chunk form.
 */
import { check } from '../errors.js';
import type { Value } from '../graph/index.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { intOption, registerMixer, type Mixer, type MixerArgs, type MixerContext, type MixerStateSpec } from './mixers.js';

const PHIS = ['identity', 'siluNorm', 'layerNorm'];
const FS = ['softmax', 'siluNorm', 'layerNormSilu', 'identity'];

export class TrellisAttention extends Module implements Mixer {
  readonly kind = 'trellis';
  readonly heads: number;
  readonly headDim: number;
  readonly slots: number;
  readonly chunkSize: number;
  readonly perSlot: boolean;
  readonly momentum: boolean;
  readonly attrs: { phi: string; f: string; scale: number };
  readonly q;
  readonly k;
  readonly v;
  readonly a;
  readonly b;
  readonly gl;
  readonly e;
  readonly o;

  constructor(a: MixerArgs) {
    super(a.prefix);
    const L = a.layer, at = `layer ${a.index} (trellis)`;
    this.heads = intOption(L, a.index, 'heads');
    check(a.dim % this.heads === 0 || L.headDim !== undefined, 'E_ARG', `${at}: dim ${a.dim} is not a multiple of heads ${this.heads}; set headDim`);
    this.headDim = intOption(L, a.index, 'headDim', Math.floor(a.dim / this.heads));
    this.slots = intOption(L, a.index, 'slots', 64);
    this.chunkSize = intOption(L, a.index, 'chunkSize', 64);
    const forget = L.forget ?? 'scalar';
    check(forget === 'scalar' || forget === 'slot', 'E_ARG', `${at}: forget must be 'scalar' or 'slot', got ${String(forget)}`);
    this.perSlot = forget === 'slot';
    this.momentum = !!L.momentum;
    const phi = (L.phi as string | undefined) ?? 'identity', f = (L.f as string | undefined) ?? 'layerNormSilu';
    check(PHIS.includes(phi), 'E_ARG', `${at}: phi must be one of ${PHIS.join(', ')}, got ${phi}`);
    check(FS.includes(f), 'E_ARG', `${at}: f must be one of ${FS.join(', ')}, got ${f}`);
    const scale = (L.scale as number | undefined) ?? 1;
    check(typeof scale === 'number' && scale > 0 && Number.isFinite(scale), 'E_ARG', `${at}: scale must be > 0, got ${String(scale)}`);
    this.attrs = { phi, f, scale };
    const H = this.heads, D = this.headDim, m = this.slots;
    const lin = (name: string, out: number, inF = a.dim) => this.child(name, new Linear(this.full(name), a.init, inF, out));
    this.q = lin('q_proj', H * D);
    this.k = lin('k_proj', H * D);
    this.v = lin('v_proj', H * D);
    this.a = lin('a_proj', H * m);
    this.b = lin('b_proj', this.perSlot ? H * m : H);
    this.gl = lin('g_proj', H);
    this.e = this.momentum ? lin('e_proj', H) : null;
    this.o = lin('o_proj', a.dim, H * D);
  }

  stateSpec(batch: number): MixerStateSpec {
    const H = this.heads, D = this.headDim, m = this.slots, B = batch;
    const t: MixerStateSpec['tensors'] = { MK: { shape: [B, H, m, D] }, MV: { shape: [B, H, m, D] }, offset: { shape: [1], dtype: 'i32' } };
    if (this.momentum) Object.assign(t, { SK: { shape: [B, H, m, D] }, SV: { shape: [B, H, m, D] } });
    if (this.chunkSize > 1) Object.assign(t, { AK: { shape: [B, H, m, D] }, AV: { shape: [B, H, m, D] } });
    return { tensors: t };
  }

  build(ctx: MixerContext, x: Value): Value {
    const { g, batch: B, seqLen: T } = ctx;
    const H = this.heads, D = this.headDim, m = this.slots;
    const proj = (l: Linear, shape: number[], name: string) => g.scope(this.prefix, () => g.reshape(l.build(g, x), shape, { name }));
    const unit = (v: Value, name: string) => g.scope(this.prefix, () => g.scale(g.rmsNorm(v, null, { eps: 1e-6 / D }), 1 / Math.sqrt(D), 0, { name }));
    const q = unit(proj(this.q, [B, T, H, D], 'q_heads'), 'q_unit');
    const k = unit(proj(this.k, [B, T, H, D], 'k_heads'), 'k_unit');
    const v = unit(proj(this.v, [B, T, H, D], 'v_heads'), 'v_unit');
    const alpha = proj(this.a, [B, T, H, m], 'alpha');
    const gate = (l: Linear, shape: number[], shift: number, name: string) =>
      g.scope(this.prefix, () => g.unary('sigmoid', g.scale(g.reshape(l.build(g, x), shape), 1, shift), { name }));
    const beta = gate(this.b, this.perSlot ? [B, T, H, m] : [B, T, H], 3, 'beta');
    const gamma = gate(this.gl, [B, T, H], 0, 'gamma');
    const eta = this.e ? gate(this.e, [B, T, H], 0, 'eta') : null;
    const stateful = ctx.mode === 'stateful';
    const read = (n: string) => (stateful && this.stateSpec(B).tensors![n] ? ctx.state.read(n) : null);
    const attrs = { ...this.attrs, chunkSize: this.chunkSize, mode: stateful && T === 1 ? 'recurrent' : 'chunk', outputFinalState: stateful };
    const outs = g.scope(this.prefix, () => g.op('trellis', [q, k, v, alpha, beta, gamma, eta, read('MK'), read('MV'), read('SK'), read('SV'),
      read('AK'), read('AV'), read('offset')], attrs, { name: 'trellis' }));
    if (stateful) {
      const names = ['MK', 'MV', 'SK', 'SV', 'AK', 'AV', 'offset'];
      const declared = this.stateSpec(B).tensors!;
      names.forEach((n, i) => {
        if (declared[n]) ctx.state.write(n, outs[i + 1]);
      });
    }
    const y = g.scope(this.prefix, () => g.reshape(outs[0], [B, T, H * D], { name: 'merge_heads' }));
    return this.o.build(g, y);
  }
}

registerMixer('trellis', (a) => new TrellisAttention(a));
