/**
 * ops.titans: Titans neural long-term memory (algorithms.md §2-§3) with
 * momentum and a forget gate, per-token per-head gates [B, T, H]:
 *   S_t = η_t S_{t−1} − θ_t ∇ℓ,   M_t = (1 − α_t) M_{t−1} + S_t,   y_t = M_t(q_t)
 * with ℓ = ‖M(k_t) − v_t‖² (factor 2 kept) and the gradient of every token
 * of a chunk taken at the chunk-start memory (stale anchor; chunkSize 1 is
 * the exact recurrence). memory 'linear': M [B, H, Dv, Dk], y = M q.
 * memory {kind: 'mlp'}: M(x) = x + W1 act(W2 x), W1 [B, H, D, Dh],
 * W2 [B, H, Dh, D]. The final state (memory, momentum, the anchor of the
 * chunk in progress and the offset inside it) passed back as initialState
 * continues the sequence exactly at any split — T = 1 decode steps included:
 * chunks stay aligned to the whole sequence.
 * The MLP memory at zero weights is a fixed point: pass an initial state.
 */
import { EngramError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import {
  attrsOf,
  checkOptions,
  checkStateKeys,
  runMemory,
  runMemoryAsync,
  type MemoryActivation,
  type MemoryResult,
} from './memory_common.js';

export interface TitansInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** inner learning rate θ >= 0, [B, T, H] */
  theta: Tensor;
  /** forget gate α in [0, 1], [B, T, H] (omit with decay: false) */
  alpha?: Tensor | null;
  /** momentum decay η in [0, 1], [B, T, H] (omit with momentum: false) */
  eta?: Tensor | null;
}

/**
 * Linear memory state: M and the momentum S, both [B, H, Dv, Dk] f32, plus
 * where the sequence stands in its chunk grid: `offset` (i32 [1], tokens of
 * the current chunk already consumed, 0 ≤ offset < chunkSize) and `anchor`
 * (the memory at that chunk's start, where its remaining tokens take their
 * gradients; equal to `memory` when offset is 0). Omitted: offset 0.
 */
export interface TitansLinearState {
  memory: Tensor;
  momentum: Tensor;
  anchor: Tensor;
  offset: Tensor;
}
/** MLP memory state: W1 [B, H, D, Dh], W2 [B, H, Dh, D], their momenta, their anchors A1/A2 and the offset. */
export interface TitansMlpState {
  W1: Tensor;
  W2: Tensor;
  S1: Tensor;
  S2: Tensor;
  A1: Tensor;
  A2: Tensor;
  offset: Tensor;
}

export type TitansMemory = 'linear' | { kind: 'mlp'; hidden?: number; activation?: MemoryActivation };

interface TitansCommon {
  /** Tokens per chunk (semantic: gradients at the chunk-start state). Default 64. */
  chunkSize?: number;
  /** Return the final state (default true). */
  outputFinalState?: boolean;
  /** Momentum S (default true); false means η ≡ 0 and no eta input. */
  momentum?: boolean;
  /** Forget gate (default true); false means α ≡ 0 and no alpha input. */
  decay?: boolean;
}
export interface TitansLinearOptions extends TitansCommon {
  memory?: 'linear';
  /** Parts may be omitted (zeros). */
  initialState?: Partial<TitansLinearState> | null;
  /** 'chunk' (dual form, default) or 'recurrent' (the same function as a token loop). */
  mode?: 'chunk' | 'recurrent';
}
export interface TitansMlpOptions extends TitansCommon {
  memory: { kind: 'mlp'; hidden?: number; activation?: MemoryActivation };
  initialState?: Partial<TitansMlpState> | null;
}
export type TitansOptions = TitansLinearOptions | TitansMlpOptions;

const gates = (x: TitansInputs) => [x.q, x.k, x.v, x.theta, x.alpha ?? null, x.eta ?? null];
const common = (o: TitansCommon) => ({
  chunkSize: o.chunkSize,
  outputFinalState: o.outputFinalState,
  momentum: o.momentum,
  decay: o.decay,
});
const LIN_KEYS = ['memory', 'momentum', 'anchor', 'offset'] as const;
const MLP_KEYS = ['W1', 'W2', 'S1', 'S2', 'A1', 'A2', 'offset'] as const;

const COMMON_KEYS = ['chunkSize', 'outputFinalState', 'momentum', 'decay', 'initialState'];

function linArgs(x: TitansInputs, o: Omit<TitansLinearOptions, 'memory'>) {
  checkOptions('titans', o, [...COMMON_KEYS, 'mode']);
  checkStateKeys('titans', o.initialState, [...LIN_KEYS]);
  const s = o.initialState ?? {};
  return [[...gates(x), ...LIN_KEYS.map((k) => s[k] ?? null)], attrsOf({ ...common(o), mode: o.mode })] as const;
}
function mlpArgs(x: TitansInputs, o: Omit<TitansMlpOptions, 'memory'> & { hidden?: number; activation?: string }) {
  checkOptions('titans', o, [...COMMON_KEYS, 'hidden', 'activation']);
  checkStateKeys('titans', o.initialState, [...MLP_KEYS]);
  const s = o.initialState ?? {};
  return [
    [...gates(x), ...MLP_KEYS.map((k) => s[k] ?? null)],
    attrsOf({ ...common(o), hidden: o.hidden, activation: o.activation }),
  ] as const;
}

/** The linear-memory op (ops.titans with memory: 'linear'). */
export function titansLinear(x: TitansInputs, o: Omit<TitansLinearOptions, 'memory'> = {}): MemoryResult<TitansLinearState> {
  const [ins, attrs] = linArgs(x, o);
  return runMemory<TitansLinearState>('titansLinear', [...ins], attrs, [...LIN_KEYS]);
}
export function titansLinearAsync(
  x: TitansInputs,
  o: Omit<TitansLinearOptions, 'memory'> = {},
): Promise<MemoryResult<TitansLinearState>> {
  const [ins, attrs] = linArgs(x, o);
  return runMemoryAsync<TitansLinearState>('titansLinear', [...ins], attrs, [...LIN_KEYS]);
}

export type TitansMlpRawOptions = Omit<TitansMlpOptions, 'memory'> & { hidden?: number; activation?: MemoryActivation };
/** The MLP-memory op (ops.titans with memory: {kind: 'mlp'}). */
export function titansMlp(x: TitansInputs, o: TitansMlpRawOptions = {}): MemoryResult<TitansMlpState> {
  const [ins, attrs] = mlpArgs(x, o);
  return runMemory<TitansMlpState>('titansMlp', [...ins], attrs, [...MLP_KEYS]);
}
export function titansMlpAsync(x: TitansInputs, o: TitansMlpRawOptions = {}): Promise<MemoryResult<TitansMlpState>> {
  const [ins, attrs] = mlpArgs(x, o);
  return runMemoryAsync<TitansMlpState>('titansMlp', [...ins], attrs, [...MLP_KEYS]);
}

function route(o: TitansOptions): { mlp: false; o: TitansLinearOptions } | { mlp: true; o: TitansMlpRawOptions } {
  const m = o.memory ?? 'linear';
  if (m === 'linear') {
    const { memory: _m, ...rest } = o as TitansLinearOptions;
    return { mlp: false, o: rest };
  }
  if (typeof m === 'object' && m && m.kind === 'mlp') {
    const { memory: _m, mode, ...rest } = o as TitansMlpOptions & { mode?: string };
    if (mode !== undefined && mode !== 'chunk')
      throw new EngramError(`titans: mode '${mode}' is only available for the linear memory`, 'E_ARG');
    return { mlp: true, o: { ...rest, hidden: m.hidden, activation: m.activation } };
  }
  throw new EngramError(`titans: memory must be 'linear' or {kind: 'mlp', ...}, got ${JSON.stringify(m)}`, 'E_ARG');
}

/** → { o [B, T, H, Dv], finalState } for either memory kind. */
export function titans(x: TitansInputs, o: TitansMlpOptions): MemoryResult<TitansMlpState>;
export function titans(x: TitansInputs, o?: TitansLinearOptions): MemoryResult<TitansLinearState>;
export function titans(x: TitansInputs, o: TitansOptions = {}): MemoryResult<TitansLinearState | TitansMlpState> {
  const r = route(o);
  return r.mlp ? titansMlp(x, r.o) : titansLinear(x, r.o);
}
export function titansAsync(x: TitansInputs, o: TitansMlpOptions): Promise<MemoryResult<TitansMlpState>>;
export function titansAsync(x: TitansInputs, o?: TitansLinearOptions): Promise<MemoryResult<TitansLinearState>>;
export async function titansAsync(
  x: TitansInputs,
  o: TitansOptions = {},
): Promise<MemoryResult<TitansLinearState | TitansMlpState>> {
  const r = route(o);
  return r.mlp ? titansMlpAsync(x, r.o) : titansLinearAsync(x, r.o);
}
