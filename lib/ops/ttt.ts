/**
 * ops.ttt: TTT-Linear and TTT-MLP layers (algorithms.md §9) in the
 * mini-batch dual form, row convention of the official code (z = x W + b).
 * Inner model f(x) = x + LN(f_res(x)) trained on ‖f(k) − v‖² (factor 2 kept:
 * halve eta to match the official code); per-token inner lr eta [B, T, H];
 * in a mini-batch every gradient is taken at the mini-batch-start weights and
 * the output reads the updated weights: o_t = f(q_t; W_t).
 * model 'linear': W [B, H, Dk, Dv], b [B, H, Dv];
 * model {kind: 'mlp'}: W1 [B, H, Dk, Dh], b1 [B, H, Dh], W2 [B, H, Dh, Dv], b2 [B, H, Dv].
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

export interface TttInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** per-token inner learning rate >= 0, [B, T, H] */
  eta: Tensor;
  /** LayerNorm weight / bias of the inner model, [H, Dv] (default 1 / 0) */
  lnWeight?: Tensor | null;
  lnBias?: Tensor | null;
}

export interface TttLinearState {
  W: Tensor;
  /** null without bias */
  b: Tensor | null;
}
export interface TttMlpState {
  W1: Tensor;
  b1: Tensor | null;
  W2: Tensor;
  b2: Tensor | null;
}

interface TttCommon {
  /** Mini-batch size (semantic). Default 16. */
  chunkSize?: number;
  /** f(x) = x + LN(...) (default true each). */
  layerNorm?: boolean;
  residual?: boolean;
  /** Biases in f_res (default true). */
  bias?: boolean;
  /** Scale the lr of the i-th token of a mini-batch by 1/i (official code). Default false. */
  tokenIdx?: boolean;
  /** LayerNorm epsilon (default 1e-6). */
  eps?: number;
  outputFinalState?: boolean;
}
export interface TttLinearOptions extends TttCommon {
  model?: 'linear';
  initialState?: Partial<TttLinearState> | null;
}
export interface TttMlpOptions extends TttCommon {
  model: { kind: 'mlp'; hidden?: number; activation?: MemoryActivation };
  initialState?: Partial<TttMlpState> | null;
}
export type TttOptions = TttLinearOptions | TttMlpOptions;
export type TttMlpRawOptions = Omit<TttMlpOptions, 'model'> & { hidden?: number; activation?: MemoryActivation };

const common = (o: TttCommon) => ({
  chunkSize: o.chunkSize,
  layerNorm: o.layerNorm,
  residual: o.residual,
  bias: o.bias,
  tokenIdx: o.tokenIdx,
  eps: o.eps,
  outputFinalState: o.outputFinalState,
});
const head = (x: TttInputs) => [x.q, x.k, x.v, x.eta, x.lnWeight ?? null, x.lnBias ?? null];
const LIN_KEYS = ['W', 'b'] as const;
const MLP_KEYS = ['W1', 'b1', 'W2', 'b2'] as const;

const COMMON_KEYS = ['chunkSize', 'layerNorm', 'residual', 'bias', 'tokenIdx', 'eps', 'outputFinalState', 'initialState'];

function linArgs(x: TttInputs, o: Omit<TttLinearOptions, 'model'>) {
  checkOptions('ttt', o, COMMON_KEYS);
  checkStateKeys('ttt', o.initialState, [...LIN_KEYS]);
  const s = o.initialState ?? {};
  return [[...head(x), s.W ?? null, s.b ?? null], attrsOf(common(o))] as const;
}
function mlpArgs(x: TttInputs, o: TttMlpRawOptions) {
  checkOptions('ttt', o, [...COMMON_KEYS, 'hidden', 'activation']);
  checkStateKeys('ttt', o.initialState, [...MLP_KEYS]);
  const s = o.initialState ?? {};
  return [
    [...head(x), s.W1 ?? null, s.b1 ?? null, s.W2 ?? null, s.b2 ?? null],
    attrsOf({ ...common(o), hidden: o.hidden, activation: o.activation }),
  ] as const;
}

/** TTT-Linear (ops.ttt with model: 'linear'). */
export function tttLinear(x: TttInputs, o: Omit<TttLinearOptions, 'model'> = {}): MemoryResult<TttLinearState> {
  const [ins, attrs] = linArgs(x, o);
  return runMemory<TttLinearState>('tttLinear', [...ins], attrs, [...LIN_KEYS]);
}
export function tttLinearAsync(x: TttInputs, o: Omit<TttLinearOptions, 'model'> = {}): Promise<MemoryResult<TttLinearState>> {
  const [ins, attrs] = linArgs(x, o);
  return runMemoryAsync<TttLinearState>('tttLinear', [...ins], attrs, [...LIN_KEYS]);
}
/** TTT-MLP (ops.ttt with model: {kind: 'mlp'}). */
export function tttMlp(x: TttInputs, o: TttMlpRawOptions = {}): MemoryResult<TttMlpState> {
  const [ins, attrs] = mlpArgs(x, o);
  return runMemory<TttMlpState>('tttMlp', [...ins], attrs, [...MLP_KEYS]);
}
export function tttMlpAsync(x: TttInputs, o: TttMlpRawOptions = {}): Promise<MemoryResult<TttMlpState>> {
  const [ins, attrs] = mlpArgs(x, o);
  return runMemoryAsync<TttMlpState>('tttMlp', [...ins], attrs, [...MLP_KEYS]);
}

function route(o: TttOptions): { mlp: false; o: Omit<TttLinearOptions, 'model'> } | { mlp: true; o: TttMlpRawOptions } {
  const m = o.model ?? 'linear';
  if (m === 'linear') {
    const { model: _m, ...rest } = o as TttLinearOptions;
    return { mlp: false, o: rest };
  }
  if (typeof m === 'object' && m && m.kind === 'mlp') {
    const { model: _m, ...rest } = o as TttMlpOptions;
    return { mlp: true, o: { ...rest, hidden: m.hidden, activation: m.activation } };
  }
  throw new EngramError(`ttt: model must be 'linear' or {kind: 'mlp', ...}, got ${JSON.stringify(m)}`, 'E_ARG');
}

/** → { o [B, T, H, Dv], finalState } for TTT-Linear or TTT-MLP. */
export function ttt(x: TttInputs, o: TttMlpOptions): MemoryResult<TttMlpState>;
export function ttt(x: TttInputs, o?: TttLinearOptions): MemoryResult<TttLinearState>;
export function ttt(x: TttInputs, o: TttOptions = {}): MemoryResult<TttLinearState | TttMlpState> {
  const r = route(o);
  return r.mlp ? tttMlp(x, r.o) : tttLinear(x, r.o);
}
export function tttAsync(x: TttInputs, o: TttMlpOptions): Promise<MemoryResult<TttMlpState>>;
export function tttAsync(x: TttInputs, o?: TttLinearOptions): Promise<MemoryResult<TttLinearState>>;
export async function tttAsync(x: TttInputs, o: TttOptions = {}): Promise<MemoryResult<TttLinearState | TttMlpState>> {
  const r = route(o);
  return r.mlp ? tttMlpAsync(x, r.o) : tttLinearAsync(x, r.o);
}
