/**
 * Model-building ops: concat, causalConv1d (short causal depthwise conv),
 * rope (rotary position embedding) and sdpaWindow (sliding-window causal
 * attention). Each has an *Async twin that computes off the JS thread.
 * Sequences are [B, T, H, D] (attention, rope) or [B, T, C] (conv).
 */
import type { Tensor } from '../tensor.js';
import { run1, run1Async } from './run.js';

export interface ConcatOptions {
  /** Axis to join along (negative counts from the end). Default 0. */
  axis?: number;
}
/** Joins tensors of one dtype along `axis`; the other sizes must agree. */
export const concat = (xs: readonly Tensor[], o: ConcatOptions = {}): Tensor => run1('concat', xs, { ...o });
export const concatAsync = (xs: readonly Tensor[], o: ConcatOptions = {}): Promise<Tensor> =>
  run1Async('concat', xs, { ...o });

export interface CausalConv1dOptions {
  /** Bias [C]. */
  bias?: Tensor | null;
  /** The K-1 inputs before x, [B, K-1, C] (zeros when absent): carries a stream across calls. */
  state?: Tensor | null;
  /** Applied to the output. Default 'none'. */
  activation?: 'none' | 'silu';
}
/**
 * Causal depthwise conv over time: y[b,t,c] = act(bias[c] + Σ_j weight[c,j] · x[b, t−(K−1)+j, c]),
 * x [B, T, C], weight [C, K] (PyTorch's conv1d weight [C, 1, K] with groups = C, left padding K−1).
 */
export const causalConv1d = (x: Tensor, weight: Tensor, o: CausalConv1dOptions = {}): Tensor =>
  run1('causalConv1d', [x, weight, o.bias ?? null, o.state ?? null], { activation: o.activation });
export const causalConv1dAsync = (x: Tensor, weight: Tensor, o: CausalConv1dOptions = {}): Promise<Tensor> =>
  run1Async('causalConv1d', [x, weight, o.bias ?? null, o.state ?? null], { activation: o.activation });

export interface RopeOptions {
  /** Frequency base. Default 10000. */
  theta?: number;
  /** Rotated leading dims of D (even); default all of D. */
  dims?: number;
}
/**
 * Rotary position embedding (half-split pairs, as Llama / NeoX) of x [B, T, H, D] at i32
 * `positions` [T] or [B, T].
 */
export const rope = (x: Tensor, positions: Tensor, o: RopeOptions = {}): Tensor =>
  run1('rope', [x, positions], { ...o });
export const ropeAsync = (x: Tensor, positions: Tensor, o: RopeOptions = {}): Promise<Tensor> =>
  run1Async('rope', [x, positions], { ...o });

export interface SdpaWindowOptions {
  /** Keys visible to a query at position p: (p − window, p]. Required, ≥ 1. */
  window: number;
  /** Score scale; default 1/sqrt(D). */
  scale?: number;
}
/**
 * Sliding-window causal attention: q [B,T,H,D], k [B,S,Hkv,D], v [B,S,Hkv,Dv] → [B,T,H,Dv];
 * the queries are the last T of S positions.
 */
export const sdpaWindow = (q: Tensor, k: Tensor, v: Tensor, o: SdpaWindowOptions): Tensor =>
  run1('sdpaWindow', [q, k, v], { ...o });
export const sdpaWindowAsync = (q: Tensor, k: Tensor, v: Tensor, o: SdpaWindowOptions): Promise<Tensor> =>
  run1Async('sdpaWindow', [q, k, v], { ...o });
