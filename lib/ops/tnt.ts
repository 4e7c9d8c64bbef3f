/**
 * ops.tnt: TNT hierarchical memory (algorithms.md §4; docs/tnt.md). One
 * global memory V, updated once per global chunk (C_G tokens) and read at its
 * chunk-start state, plus N local memories W_i with their own chunk sizes
 * C_L and shard lengths S_L that reset to their learnable initial state at
 * every shard start, read through the Q-K projection Π_t q_t:
 *
 *   o_t = f(V_{ξ(t, C_G)}, q_t) + Σ_i f(W_i,t, Π_i,t q_t)
 *
 * Every memory is a Titans memory (linear M [Dv, Dk] or the residual MLP
 * x + W1 act(W2 x)) trained on ‖f(k) − v‖² (factor 2) with the gradient of a
 * chunk taken at the chunk-start state; plain GD with a per-token learning
 * rate (etaGlobal, etaLocal[i], [B, T, H]) by default, optional forget gate
 * (decay: true, alpha*) and momentum (momentum: true, momentum*) per module.
 * The final state is one packed f32 tensor (TntState) holding every memory,
 * its chunk anchor, momentum and Π: passing it back as initialState continues
 * the sequence exactly at any split. ops.tntStep advances one token (O(1)
 * work, independent of the position).
 */
import type { Attrs } from '../binding.js';
import { EngramError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { attrsOf, checkOptions, type MemoryActivation } from './memory_common.js';
import { runOp, runOpAsync, type MaybeTensor } from './run.js';

export type TntMemory = 'linear' | { kind: 'mlp'; hidden?: number; activation?: MemoryActivation };

/** Starting memory of a module: linear { memory [B|1, H, Dv, Dk] }, MLP { W1 [B|1, H, D, Dh], W2 [B|1, H, Dh, D] }. */
export interface TntMemoryInit {
  memory?: Tensor | null;
  W1?: Tensor | null;
  W2?: Tensor | null;
}

interface TntModuleCommon {
  chunkSize: number;
  memory?: TntMemory;
  /** Momentum S_t = η_t S_{t−1} − lr_t ∇ (default false; then give momentumGlobal/momentumLocal[i]). */
  momentum?: boolean;
  /** Forget gate M_t = (1 − α_t) M_{t−1} + S_t (default false; then give alphaGlobal/alphaLocal[i]). */
  decay?: boolean;
  initialState?: TntMemoryInit | null;
}
/** The global memory: initialState is its starting memory (zeros when absent). */
export type TntGlobalConfig = TntModuleCommon;
/** A local memory: initialState is W_init, the state it resets to at every shard start. */
export interface TntLocalConfig extends TntModuleCommon {
  /** Tokens per shard (a multiple of chunkSize). */
  shardLength: number;
}

export interface TntInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Learning rate of the global memory, >= 0, [B, T, H] (when global is on). */
  etaGlobal?: Tensor | null;
  /** Learning rates of the local memories, one [B, T, H] each. */
  etaLocal?: readonly Tensor[];
  alphaGlobal?: Tensor | null;
  momentumGlobal?: Tensor | null;
  alphaLocal?: readonly (Tensor | null | undefined)[];
  momentumLocal?: readonly (Tensor | null | undefined)[];
}

export type TntProjection = boolean | 'shard' | 'chunk' | 'sequence';

export interface TntOptions {
  /** The global memory ({ chunkSize: 2048, ... }); null or absent: none. */
  global?: TntGlobalConfig | null;
  locals?: readonly TntLocalConfig[];
  /**
   * Q-K projection of the local reads: true / 'shard' (Π sums the keys of the shard up to t: the default),
   * 'chunk' (from the local chunk start, Eq. 7 as printed), 'sequence' (from the start, never reset), false (off).
   */
  qkProjection?: TntProjection;
  /** The finalState of an earlier call with the same configuration (or its packed tensor). */
  initialState?: TntState | Tensor | null;
  outputFinalState?: boolean;
  /** Run as this many simulated context-parallel devices (CPU; bit-identical to one machine). */
  devices?: number;
}

export interface TntResult {
  o: Tensor;
  finalState: TntState | null;
}

const ACTS: readonly MemoryActivation[] = ['gelu', 'geluTanh', 'silu', 'relu', 'tanh'];
const MODULE_KEYS = ['chunkSize', 'memory', 'momentum', 'decay', 'initialState'];
const OPTION_KEYS = ['global', 'locals', 'qkProjection', 'initialState', 'outputFinalState', 'devices'];
const MAX_LOCALS = 8;

export type TntPartName = 'memory' | 'anchor' | 'momentum' | 'W1' | 'W2' | 'anchorW1' | 'anchorW2' | 'S1' | 'S2' | 'pi';

interface PartInfo {
  off: number;
  shape: number[];
}
interface ModuleLayout {
  name: string;
  parts: Map<TntPartName, PartInfo>;
}

/** Packed-state layout (mirrors tnt_layout in native/include/engram/tnt_params.h). */
export interface TntLayout {
  total: number;
  modules: ModuleLayout[];
}

interface ModSpec {
  global: boolean;
  hidden: number; // 0: linear
  momentum: boolean;
  pi: boolean;
}

function layoutOf(mods: ModSpec[], B: number, H: number, Dk: number, Dv: number): TntLayout {
  let off = 8;
  const modules: ModuleLayout[] = [];
  mods.forEach((m, i) => {
    const parts = new Map<TntPartName, PartInfo>();
    const add = (name: TntPartName, tail: number[]) => {
      parts.set(name, { off, shape: [B, H, ...tail] });
      off += B * H * tail.reduce((a, b) => a * b, 1);
    };
    if (m.hidden === 0) {
      add('memory', [Dv, Dk]);
      add('anchor', [Dv, Dk]);
      if (m.momentum) add('momentum', [Dv, Dk]);
    } else {
      add('W1', [Dk, m.hidden]);
      add('W2', [m.hidden, Dk]);
      add('anchorW1', [Dk, m.hidden]);
      add('anchorW2', [m.hidden, Dk]);
      if (m.momentum) {
        add('S1', [Dk, m.hidden]);
        add('S2', [m.hidden, Dk]);
      }
    }
    if (m.pi) add('pi', [Dk, Dk]);
    modules.push({ name: m.global ? 'global' : `local ${i - (mods[0].global ? 1 : 0)}`, parts });
  });
  return { total: off, modules };
}

/**
 * The carried state of ops.tnt: one packed f32 tensor (`packed`) and the
 * absolute position of the next token. view() gives a shaped view of a part
 * (no copy; dispose it). dispose() frees the packed tensor.
 */
export class TntState {
  constructor(
    readonly packed: Tensor,
    readonly position: number,
    /** @internal */ readonly layout: TntLayout,
    readonly hasGlobal: boolean,
  ) {}

  /** A view of one part: module 'global' or a local index; e.g. view(0, 'memory') is local 0's M [B, H, Dv, Dk]. */
  view(module: 'global' | number, part: TntPartName): Tensor {
    const idx = module === 'global' ? 0 : module + (this.hasGlobal ? 1 : 0);
    const ok = module === 'global' ? this.hasGlobal : Number.isInteger(module) && module >= 0 && idx < this.layout.modules.length;
    if (!ok) throw new EngramError(`TntState.view: no module ${String(module)}`, 'E_ARG');
    const m = this.layout.modules[idx];
    const p = m.parts.get(part);
    if (!p)
      throw new EngramError(`TntState.view: ${m.name} has no part '${part}' (has ${[...m.parts.keys()].join(', ')})`, 'E_ARG');
    const n = p.shape.reduce((a, b) => a * b, 1);
    const flat = this.packed.slice(0, p.off, p.off + n);
    try {
      return flat.reshape(p.shape);
    } finally {
      flat.dispose();
    }
  }

  dispose(): void {
    this.packed.dispose();
  }
}

/**
 * The packed-state layout of a configuration (what finalState holds): its size in floats
 * (`total`) and the parts of every module — e.g. a model's fixed-shape state tensor [total].
 */
export function tntLayout(o: Pick<TntOptions, 'global' | 'locals' | 'qkProjection'>, B: number, H: number, Dk: number, Dv: number): TntLayout {
  const pi = o.qkProjection !== false;
  const mods: ModSpec[] = [];
  if (o.global) mods.push({ global: true, hidden: memKind(o.global.memory, Dk, 'global').hidden, momentum: !!o.global.momentum, pi: false });
  (o.locals ?? []).forEach((l, i) =>
    mods.push({ global: false, hidden: memKind(l.memory, Dk, `locals[${i}]`).hidden, momentum: !!l.momentum, pi }));
  return layoutOf(mods, B, H, Dk, Dv);
}

function memKind(m: TntMemory | undefined, D: number, what: string): { hidden: number; act: number } {
  if (m === undefined || m === 'linear') return { hidden: 0, act: 0 };
  if (typeof m === 'object' && m && m.kind === 'mlp') {
    const hidden = m.hidden ?? 4 * D;
    if (!Number.isInteger(hidden) || hidden < 1) throw new EngramError(`tnt: ${what}.memory.hidden must be an integer >= 1, got ${String(m.hidden)}`, 'E_ARG');
    const act = ACTS.indexOf(m.activation ?? 'gelu');
    if (act < 0) throw new EngramError(`tnt: ${what}.memory.activation must be one of ${ACTS.join(', ')}, got '${String(m.activation)}'`, 'E_ARG');
    return { hidden, act };
  }
  throw new EngramError(`tnt: ${what}.memory must be 'linear' or {kind: 'mlp', ...}, got ${JSON.stringify(m)}`, 'E_ARG');
}

function initTensors(init: TntMemoryInit | null | undefined, mlp: boolean, what: string): [MaybeTensor, MaybeTensor] {
  if (!init) return [null, null];
  const keys = mlp ? ['W1', 'W2'] : ['memory'];
  for (const k of Object.keys(init))
    if (!keys.includes(k)) throw new EngramError(`tnt: ${what}.initialState has an unknown key '${k}' (expected ${keys.join(', ')})`, 'E_ARG');
  return mlp ? [init.W1 ?? null, init.W2 ?? null] : [init.memory ?? null, null];
}

interface Prepared {
  inputs: MaybeTensor[];
  attrs: Attrs;
  layout: TntLayout;
  hasGlobal: boolean;
  position: number;
}

function positionOf(s: TntState | Tensor): number {
  if (s instanceof TntState) return s.position;
  const head = s.slice(0, 0, Math.min(8, s.shape[0] ?? 0));
  try {
    const h = head.toFloat32();
    return h[0] === 1 ? h[1] + h[2] * 1048576 : 0;
  } finally {
    head.dispose();
  }
}

/**
 * The native op's attributes for a configuration (head dim D for the MLP default hidden width);
 * graph builders (engram.nn) pass these to g.op('tnt', ...).
 */
export function tntAttrs(o: Omit<TntOptions, 'initialState'>, D: number): Attrs {
  return configOf(o, D).attrs;
}

function configOf(o: Omit<TntOptions, 'initialState'>, D: number): { attrs: Attrs; mods: ModSpec[] } {
  checkOptions('tnt', o, OPTION_KEYS);
  const g = o.global ?? null;
  const locals = o.locals ?? [];
  if (!Array.isArray(locals)) throw new EngramError('tnt: locals must be an array of local memory configs', 'E_ARG');
  if (locals.length > MAX_LOCALS) throw new EngramError(`tnt: at most ${MAX_LOCALS} local memories, got ${locals.length}`, 'E_ARG');
  if (!g && locals.length === 0)
    throw new EngramError('tnt: no memory configured: give a global memory and/or at least one local', 'E_ARG');
  let proj = o.qkProjection ?? 'shard';
  if (proj === true) proj = 'shard';
  const projStr = proj === false ? 'none' : proj;
  const mods: ModSpec[] = [];
  const a: Record<string, unknown> = { qkProjection: projStr, outputFinalState: o.outputFinalState, devices: o.devices };
  if (g) {
    checkOptions('tnt: global', g, MODULE_KEYS);
    const mk = memKind(g.memory, D, 'global');
    Object.assign(a, {
      globalChunkSize: g.chunkSize,
      globalHidden: mk.hidden,
      globalActivation: ACTS[mk.act],
      globalMomentum: g.momentum ?? false,
      globalDecay: g.decay ?? false,
    });
    mods.push({ global: true, hidden: mk.hidden, momentum: !!g.momentum, pi: false });
  }
  if (locals.length) {
    locals.forEach((l, i) => checkOptions(`tnt: locals[${i}]`, l, [...MODULE_KEYS, 'shardLength']));
    const mk = locals.map((l, i) => memKind(l.memory, D, `locals[${i}]`));
    Object.assign(a, {
      localChunkSizes: locals.map((l) => l.chunkSize),
      localShardLengths: locals.map((l) => l.shardLength),
      localHidden: mk.map((m) => m.hidden),
      localActivations: mk.map((m) => m.act),
      localMomentum: locals.map((l) => (l.momentum ? 1 : 0)),
      localDecay: locals.map((l) => (l.decay ? 1 : 0)),
    });
    locals.forEach((l, i) => mods.push({ global: false, hidden: mk[i].hidden, momentum: !!l.momentum, pi: projStr !== 'none' }));
  }
  return { attrs: attrsOf(a), mods };
}

function prepare(x: TntInputs, o: TntOptions): Prepared {
  const { initialState, ...cfg } = o;
  const D = x.q?.shape?.[3] ?? 0;
  const { attrs, mods } = configOf(cfg, D);
  const g = o.global ?? null;
  const locals = o.locals ?? [];
  const etaLocal = x.etaLocal ?? [];
  if (etaLocal.length !== locals.length)
    throw new EngramError(`tnt: etaLocal has ${etaLocal.length} gates for ${locals.length} local memories`, 'E_ARG');
  for (const [key, arr] of [['alphaLocal', x.alphaLocal], ['momentumLocal', x.momentumLocal]] as const)
    if (arr && arr.length > locals.length)
      throw new EngramError(`tnt: ${key} has ${arr.length} gates for ${locals.length} local memories`, 'E_ARG');
  for (const k of Object.keys(x))
    if (!['q', 'k', 'v', 'etaGlobal', 'etaLocal', 'alphaGlobal', 'momentumGlobal', 'alphaLocal', 'momentumLocal'].includes(k))
      throw new EngramError(`tnt: unknown input '${k}'`, 'E_ARG');
  const inputs: MaybeTensor[] = [x.q, x.k, x.v, initialState instanceof TntState ? initialState.packed : initialState ?? null];
  if (g) {
    const [i1, i2] = initTensors(g.initialState, mods[0].hidden > 0, 'global');
    inputs.push(x.etaGlobal ?? null, x.alphaGlobal ?? null, x.momentumGlobal ?? null, i1, i2);
  } else {
    if (x.etaGlobal || x.alphaGlobal || x.momentumGlobal)
      throw new EngramError('tnt: a global gate was given but global is null', 'E_ARG');
    inputs.push(null, null, null, null, null);
  }
  locals.forEach((l, i) => {
    const [i1, i2] = initTensors(l.initialState, mods[i + (g ? 1 : 0)].hidden > 0, `locals[${i}]`);
    inputs.push(etaLocal[i], x.alphaLocal?.[i] ?? null, x.momentumLocal?.[i] ?? null, i1, i2);
  });
  const [B, , H] = x.q?.shape ?? [0, 0, 0];
  const Dv = x.v?.shape?.[3] ?? 0;
  const layout = layoutOf(mods, B, H, D, Dv);
  const position = initialState ? positionOf(initialState) : 0;
  return { inputs, attrs, layout, hasGlobal: !!g, position };
}

function finish(outs: Tensor[], p: Prepared, T: number): TntResult {
  const [o, st] = outs;
  if (st.size === 0) {
    st.dispose();
    return { o, finalState: null };
  }
  if (st.size !== p.layout.total) throw new EngramError(`tnt: packed state of ${st.size} floats, expected ${p.layout.total}`, 'E_INTERNAL');
  return { o, finalState: new TntState(st, p.position + T, p.layout, p.hasGlobal) };
}

/** → { o [B, T, H, Dv], finalState }. */
export function tnt(x: TntInputs, o: TntOptions = {}): TntResult {
  const p = prepare(x, o);
  return finish(runOp('tnt', p.inputs, p.attrs), p, x.q.shape[1]);
}
export async function tntAsync(x: TntInputs, o: TntOptions = {}): Promise<TntResult> {
  const p = prepare(x, o);
  return finish(await runOpAsync('tnt', p.inputs, p.attrs), p, x.q.shape[1]);
}

function checkStep(x: TntInputs): void {
  if (x.q?.shape?.[1] !== 1)
    throw new EngramError(`tntStep: advances one token: q must be [B, 1, H, D], got [${x.q?.shape?.join(', ')}]`, 'E_SHAPE');
}
/**
 * One decode step: the next token [B, 1, H, D] from the state of the tokens
 * before it (O(1) work per token: one gradient and one read per memory).
 * With chunkSize 1 locals this is exact online GD (TNT stage 2).
 */
export function tntStep(x: TntInputs, o: TntOptions = {}): TntResult {
  checkStep(x);
  return tnt(x, o);
}
export async function tntStepAsync(x: TntInputs, o: TntOptions = {}): Promise<TntResult> {
  checkStep(x);
  return tntAsync(x, o);
}
