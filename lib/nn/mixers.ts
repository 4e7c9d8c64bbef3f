/**
 * The mixer registry: each block of a Model mixes tokens with a mixer chosen
 * by config ({ mixer: 'attention' | 'swa' | 'conv' | ... }). Built in:
 *   attention  causal multi-head / grouped-query attention with a KV cache
 *   swa        sliding-window attention (window W, cache of the last W-1)
 *   conv       short causal conv mixer (a fixed-shape functional state)
 * Owners of other memory kinds ('titans', 'tnt', 'trellis', 'gdn') register
 * theirs with registerMixer(kind, factory) in lib/nn/<kind>.ts and add one
 * import line to lib/nn/builtin.ts.
 *
 * Contract (also in docs/graphs.md):
 *  - factory({ dim, layer, prefix, init, index }) returns a Mixer: a Module
 *    whose parameters are created from `init` under `prefix`
 *    ("layers.<i>.mixer"), so weights load by name.
 *  - mixer.build(ctx, x): adds nodes mapping x [B, T, dim] to [B, T, dim].
 *    ctx.mode 'forward': a whole sequence from an empty state (no state I/O).
 *    ctx.mode 'stateful': continue from the layer's state:
 *      - fixed-shape state (recurrent memories, conv history): declare it in
 *        stateSpec().tensors; read it with ctx.state.read(name) (a graph
 *        input) and give the next value with ctx.state.write(name, value)
 *        (a graph output). The model swaps them after each call.
 *      - growing / opaque state (KV caches): declare a factory in
 *        stateSpec().bound; bind the node that uses it with
 *        { bind: ctx.state.bind(name) }; the object (a LayerState) runs it.
 *    Both modes must compute the same function: prefill(x[:t]) then steps
 *    equal forward(x) (test/nn.test.ts checks every registered kind's
 *    built-ins; owners add their kind to that test).
 *  - ctx.positions is the i32 [T] absolute positions of the tokens (rope).
 */
import type { DType, Device } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import type { Graph, Value } from '../graph/index.js';
import type { LayerState } from './cache.js';
import { Conv1d, Linear } from './layers.js';
import { Init, Module } from './module.js';

/** One layer of a ModelConfig: the mixer kind and its options. */
export interface LayerConfig {
  mixer: string;
  [option: string]: unknown;
}

export interface LayerStateIO {
  /** The current value of a fixed-shape state tensor (a graph input). */
  read(name: string): Value;
  /** The next value of a fixed-shape state tensor (a graph output). */
  write(name: string, v: Value): void;
  /** The slot name of a bound state, for { bind }. */
  bind(name: string): string;
}

export interface MixerContext {
  readonly g: Graph;
  readonly mode: 'forward' | 'stateful';
  readonly batch: number;
  readonly seqLen: number;
  /** i32 [T]: absolute position of each token. */
  readonly positions: Value;
  readonly device: Device;
  /** Only in 'stateful' mode. */
  readonly state: LayerStateIO;
}

export interface StateTensorSpec {
  shape: number[];
  dtype?: DType;
  /** The starting value (default zeros), e.g. a learned initial memory broadcast over the batch. */
  init?: () => import('../tensor.js').Tensor;
}

export interface MixerStateSpec {
  /** Fixed-shape state tensors (start as zeros). */
  tensors?: Record<string, StateTensorSpec>;
  /** Opaque states a node is bound to (created per model state). */
  bound?: Record<string, (o: { batch: number; device: Device }) => LayerState>;
}

export interface Mixer extends Module {
  readonly kind: string;
  build(ctx: MixerContext, x: Value): Value;
  stateSpec(batch: number): MixerStateSpec;
}

export interface MixerArgs {
  dim: number;
  layer: LayerConfig;
  /** Parameter prefix, "layers.<index>.mixer". */
  prefix: string;
  init: Init;
  index: number;
}

export type MixerFactory = (a: MixerArgs) => Mixer;

const registry = new Map<string, MixerFactory>();

/** Registers a mixer kind (replaces an earlier registration of the same kind). */
export function registerMixer(kind: string, factory: MixerFactory): void {
  registry.set(kind, factory);
}

export function mixerKinds(): string[] {
  return [...registry.keys()];
}

export function createMixer(a: MixerArgs): Mixer {
  const f = registry.get(a.layer.mixer);
  if (!f) {
    throw new EngramError(`layer ${a.index}: unknown mixer '${a.layer.mixer}' (registered: ${mixerKinds().join(', ')})`,
      'E_ARG');
  }
  return f(a);
}

/** Reads an integer option of a layer config (E_ARG naming layer and key). */
export function intOption(layer: LayerConfig, index: number, key: string, def?: number): number {
  const v = layer[key] ?? def;
  check(typeof v === 'number' && Number.isInteger(v) && v >= 1, 'E_ARG',
    `layer ${index} (${layer.mixer}): '${key}' must be an integer >= 1, got ${String(v)}`);
  return v;
}

/** The 'conv' mixer: out_proj(conv(in_proj(x))) with a carried [B, K-1, dim] history. */
export class ConvMixer extends Module implements Mixer {
  readonly kind = 'conv';
  readonly inProj;
  readonly conv;
  readonly outProj;
  constructor(a: MixerArgs) {
    super(a.prefix);
    const k = intOption(a.layer, a.index, 'kernel', 4);
    this.inProj = this.child('in_proj', new Linear(this.full('in_proj'), a.init, a.dim, a.dim));
    this.conv = this.child('conv1d', new Conv1d(this.full('conv1d'), a.init, a.dim, k, { activation: 'silu' }));
    this.outProj = this.child('out_proj', new Linear(this.full('out_proj'), a.init, a.dim, a.dim));
  }
  stateSpec(batch: number): MixerStateSpec {
    return { tensors: { conv: { shape: this.conv.stateShape(batch) } } };
  }
  build(ctx: MixerContext, x: Value): Value {
    const h = this.inProj.build(ctx.g, x);
    let y: Value;
    if (ctx.mode === 'forward') y = this.conv.build(ctx.g, h);
    else {
      const r = this.conv.buildStateful(ctx.g, h, ctx.state.read('conv'));
      ctx.state.write('conv', r.next);
      y = r.y;
    }
    return this.outProj.build(ctx.g, y);
  }
}

registerMixer('conv', (a) => new ConvMixer(a));
