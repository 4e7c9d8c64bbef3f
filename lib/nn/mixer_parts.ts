/**
 * Pieces shared by the recurrent-memory mixers (titans, gdn, mag): per-head
 * views, ℓ2 normalisation, the gated output RMSNorm, short q/k/v convolutions
 * with carried histories, per-head gate projections, and a state view that
 * prefixes a child mixer's state names (for mixers built from mixers).
 */
import { check } from '../errors.js';
import type { Graph, Value } from '../graph/index.js';
import { Conv1d } from './layers.js';
import { intOption, type LayerConfig, type LayerStateIO, type MixerContext, type MixerStateSpec } from './mixers.js';
import { Init, Module, type InitKind } from './module.js';

/** [B, T, H·D] -> [B, T, H, D]. */
export function heads(g: Graph, x: Value, H: number, D: number, name: string): Value {
  return g.reshape(x, [x.shape[0], x.shape[1], H, D], { name });
}

/** x / sqrt(Σ x² + eps) over the last axis (fla's l2norm), as rmsNorm(x; eps / D) / √D. */
export function l2norm(g: Graph, x: Value, name: string, eps = 1e-6): Value {
  const D = x.shape[x.shape.length - 1];
  return g.scale(g.rmsNorm(x, null, { eps: eps / D, name: `${name}_rms` }), 1 / Math.sqrt(D), 0, { name });
}

/** A boolean layer option (E_ARG naming the layer). */
export function boolOption(layer: LayerConfig, index: number, key: string, def: boolean): boolean {
  const v = layer[key] ?? def;
  check(typeof v === 'boolean', 'E_ARG', `layer ${index} (${layer.mixer}): '${key}' must be true or false, got ${String(v)}`);
  return v;
}

/** A finite number option within [lo, hi] (E_ARG naming the layer). */
export function numOption(layer: LayerConfig, index: number, key: string, def: number, lo: number, hi: number): number {
  const v = layer[key] ?? def;
  check(typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi, 'E_ARG',
    `layer ${index} (${layer.mixer}): '${key}' must be a number in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}

/** Short-conv kernel size: 0 (none) or an integer >= 2. */
export function convOption(layer: LayerConfig, index: number, def: number): number {
  const v = layer.conv ?? def;
  if (v === 0 || v === false) return 0;
  const k = intOption({ ...layer, conv: v }, index, 'conv');
  check(k >= 2, 'E_ARG', `layer ${index} (${layer.mixer}): 'conv' must be 0 (none) or an integer >= 2, got ${k}`);
  return k;
}

/**
 * Per-head gate logits: x [B, T, dim] -> [B, T, H] = x Wᵀ + b with W [H, dim]
 * and a bias [H] (its initial value sets the gate's starting level).
 */
export class GateProj extends Module {
  readonly weight;
  readonly bias;
  constructor(prefix: string, init: Init, dim: number, readonly heads: number, biasInit: InitKind, bias = true) {
    super(prefix);
    this.weight = this.param(init, 'weight', [heads, dim], { normal: 1 / Math.sqrt(dim) });
    this.bias = bias ? this.param(init, 'bias', [heads], biasInit) : null;
  }
  build(g: Graph, x: Value): Value {
    return g.scope(this.prefix, () => {
      const y = g.matmul(x, g.param('weight', this.weight), { transB: true, name: 'matmul' });
      return this.bias ? g.add(y, g.param('bias', this.bias), { name: 'bias' }) : y;
    });
  }
}

/** Output norm of a memory read: RMSNorm over each head's Dv (weight [Dv]), times silu(gate) when gated. */
export function gatedNorm(g: Graph, o: Value, weight: Value, gate: Value | null, eps: number, name: string): Value {
  const n = g.rmsNorm(o, weight, { eps, name: `${name}_rms` });
  return gate ? g.mul(n, g.silu(gate, { name: `${name}_act` }), { name }) : n;
}

/** Short causal convolutions (SiLU) on named streams, with [B, K-1, C] histories in stateful mode. */
export class ShortConvs extends Module {
  readonly convs = new Map<string, Conv1d>();
  constructor(prefix: string, init: Init, readonly kernel: number, channels: Record<string, number>) {
    super(prefix);
    if (kernel)
      for (const [n, c] of Object.entries(channels))
        this.convs.set(n, this.child(`${n}_conv1d`, new Conv1d(this.full(`${n}_conv1d`), init, c, kernel, { activation: 'silu' })));
  }
  stateTensors(batch: number): NonNullable<MixerStateSpec['tensors']> {
    const out: NonNullable<MixerStateSpec['tensors']> = {};
    for (const [n, c] of this.convs) out[`${n}_conv`] = { shape: c.stateShape(batch) };
    return out;
  }
  /** The stream after its conv (+ SiLU); without a conv, SiLU alone when `siluWithout`. */
  build(ctx: MixerContext, name: string, x: Value, siluWithout: boolean): Value {
    const c = this.convs.get(name);
    const g = ctx.g;
    if (!c) return siluWithout ? g.scope(this.prefix, () => g.silu(x, { name: `${name}_act` })) : x;
    if (ctx.mode === 'forward') return c.build(g, x);
    const r = c.buildStateful(g, x, ctx.state.read(`${name}_conv`));
    ctx.state.write(`${name}_conv`, r.next);
    return r.y;
  }
}

/** A context whose state names are prefixed (`<prefix>.<name>`), for a mixer built from mixers. */
export function prefixedContext(ctx: MixerContext, prefix: string): MixerContext {
  if (ctx.mode !== 'stateful') return ctx;
  const state: LayerStateIO = {
    read: (n) => ctx.state.read(`${prefix}.${n}`),
    write: (n, v) => ctx.state.write(`${prefix}.${n}`, v),
    bind: (n) => ctx.state.bind(`${prefix}.${n}`),
  };
  return { ...ctx, g: ctx.g, mode: ctx.mode, state };
}

/** A child's state spec under `<prefix>.` names. */
export function prefixedSpec(spec: MixerStateSpec, prefix: string): MixerStateSpec {
  const p = <T>(r: Record<string, T> | undefined) => Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [`${prefix}.${k}`, v]));
  return { tensors: p(spec.tensors), bound: p(spec.bound) };
}
