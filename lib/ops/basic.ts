/**
 * The foundation ops: matmul, elementwise, activations, row ops, reductions,
 * scans, data movement and attention. Every function has an *Async twin that
 * computes off the JS thread. Shapes follow numpy broadcasting; sequences are
 * [B, T, H, D].
 */
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { run1, run1Async } from './run.js';

export interface MatmulOptions {
  /** Use aᵀ (a stored as [..., K, M]). */
  transA?: boolean;
  /** Use bᵀ (b stored as [..., N, K]). */
  transB?: boolean;
  /** C = alpha · op(a) op(b). Default 1. */
  alpha?: number;
}
/** Batched matrix product [..., M, K] × [..., K, N] → [..., M, N] (batch dims broadcast; f32 accumulation). */
export const matmul = (a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor => run1('matmul', [a, b], { ...o });
export const matmulAsync = (a: Tensor, b: Tensor, o: MatmulOptions = {}): Promise<Tensor> =>
  run1Async('matmul', [a, b], { ...o });

// ---- elementwise binary (broadcasting) ----
export const add = (a: Tensor, b: Tensor): Tensor => run1('add', [a, b]);
export const sub = (a: Tensor, b: Tensor): Tensor => run1('sub', [a, b]);
export const mul = (a: Tensor, b: Tensor): Tensor => run1('mul', [a, b]);
export const div = (a: Tensor, b: Tensor): Tensor => run1('div', [a, b]);
export const addAsync = (a: Tensor, b: Tensor): Promise<Tensor> => run1Async('add', [a, b]);
export const subAsync = (a: Tensor, b: Tensor): Promise<Tensor> => run1Async('sub', [a, b]);
export const mulAsync = (a: Tensor, b: Tensor): Promise<Tensor> => run1Async('mul', [a, b]);
export const divAsync = (a: Tensor, b: Tensor): Promise<Tensor> => run1Async('div', [a, b]);

// ---- elementwise unary ----
/** y = alpha · x + beta */
export const scale = (x: Tensor, alpha: number, beta = 0): Tensor => run1('scale', [x], { alpha, beta });
export const scaleAsync = (x: Tensor, alpha: number, beta = 0): Promise<Tensor> =>
  run1Async('scale', [x], { alpha, beta });
export const neg = (x: Tensor): Tensor => run1('neg', [x]);
export const abs = (x: Tensor): Tensor => run1('abs', [x]);
export const sqrt = (x: Tensor): Tensor => run1('sqrt', [x]);
export const exp = (x: Tensor): Tensor => run1('exp', [x]);
export const log = (x: Tensor): Tensor => run1('log', [x]);
export const sigmoid = (x: Tensor): Tensor => run1('sigmoid', [x]);
export const silu = (x: Tensor): Tensor => run1('silu', [x]);
/** GELU; exact (erf) by default, tanh approximation with `approximate: true`. */
export const gelu = (x: Tensor, o: { approximate?: boolean } = {}): Tensor => run1('gelu', [x], { ...o });
export const tanh = (x: Tensor): Tensor => run1('tanh', [x]);
export const relu = (x: Tensor): Tensor => run1('relu', [x]);
export const softplus = (x: Tensor): Tensor => run1('softplus', [x]);
export const negAsync = (x: Tensor): Promise<Tensor> => run1Async('neg', [x]);
export const absAsync = (x: Tensor): Promise<Tensor> => run1Async('abs', [x]);
export const sqrtAsync = (x: Tensor): Promise<Tensor> => run1Async('sqrt', [x]);
export const expAsync = (x: Tensor): Promise<Tensor> => run1Async('exp', [x]);
export const logAsync = (x: Tensor): Promise<Tensor> => run1Async('log', [x]);
export const sigmoidAsync = (x: Tensor): Promise<Tensor> => run1Async('sigmoid', [x]);
export const siluAsync = (x: Tensor): Promise<Tensor> => run1Async('silu', [x]);
export const geluAsync = (x: Tensor, o: { approximate?: boolean } = {}): Promise<Tensor> =>
  run1Async('gelu', [x], { ...o });
export const tanhAsync = (x: Tensor): Promise<Tensor> => run1Async('tanh', [x]);
export const reluAsync = (x: Tensor): Promise<Tensor> => run1Async('relu', [x]);
export const softplusAsync = (x: Tensor): Promise<Tensor> => run1Async('softplus', [x]);

// ---- row ops ----
export interface AxisOptions {
  /** Axis (negative counts from the end). Default -1. */
  axis?: number;
}
export const softmax = (x: Tensor, o: AxisOptions = {}): Tensor => run1('softmax', [x], { ...o });
export const softmaxAsync = (x: Tensor, o: AxisOptions = {}): Promise<Tensor> => run1Async('softmax', [x], { ...o });

export interface NormOptions {
  eps?: number;
}
/** x / sqrt(mean(x²) + eps) · weight over the last axis (eps default 1e-6). */
export const rmsNorm = (x: Tensor, weight?: Tensor | null, o: NormOptions = {}): Tensor =>
  run1('rmsNorm', weight ? [x, weight] : [x], { ...o });
export const rmsNormAsync = (x: Tensor, weight?: Tensor | null, o: NormOptions = {}): Promise<Tensor> =>
  run1Async('rmsNorm', weight ? [x, weight] : [x], { ...o });
/** (x − mean) / sqrt(var + eps) · weight + bias over the last axis (eps default 1e-5). */
export const layerNorm = (x: Tensor, weight?: Tensor | null, bias?: Tensor | null, o: NormOptions = {}): Tensor =>
  run1('layerNorm', [x, weight ?? null, bias ?? null], { ...o });
export const layerNormAsync = (
  x: Tensor,
  weight?: Tensor | null,
  bias?: Tensor | null,
  o: NormOptions = {},
): Promise<Tensor> => run1Async('layerNorm', [x, weight ?? null, bias ?? null], { ...o });

// ---- reductions ----
export interface ReduceOptions extends AxisOptions {
  /** Keep the reduced axis as size 1. */
  keepdim?: boolean;
}
export const sum = (x: Tensor, o: ReduceOptions = {}): Tensor => run1('sum', [x], { ...o });
export const mean = (x: Tensor, o: ReduceOptions = {}): Tensor => run1('mean', [x], { ...o });
export const max = (x: Tensor, o: ReduceOptions = {}): Tensor => run1('max', [x], { ...o });
export const sumAsync = (x: Tensor, o: ReduceOptions = {}): Promise<Tensor> => run1Async('sum', [x], { ...o });
export const meanAsync = (x: Tensor, o: ReduceOptions = {}): Promise<Tensor> => run1Async('mean', [x], { ...o });
export const maxAsync = (x: Tensor, o: ReduceOptions = {}): Promise<Tensor> => run1Async('max', [x], { ...o });

// ---- scans ----
export interface ScanOptions extends AxisOptions {
  /** y_i excludes x_i. */
  exclusive?: boolean;
  /** Scan from the end. */
  reverse?: boolean;
}
export const cumsum = (x: Tensor, o: ScanOptions = {}): Tensor => run1('cumsum', [x], { ...o });
/** log Σ exp (the cumulative sum in log space), stable for large inputs. */
export const logcumsumexp = (x: Tensor, o: ScanOptions = {}): Tensor => run1('logcumsumexp', [x], { ...o });
export const cumsumAsync = (x: Tensor, o: ScanOptions = {}): Promise<Tensor> => run1Async('cumsum', [x], { ...o });
export const logcumsumexpAsync = (x: Tensor, o: ScanOptions = {}): Promise<Tensor> =>
  run1Async('logcumsumexp', [x], { ...o });

// ---- data movement ----
/** Contiguous copy of any (strided) view. */
export const copy = (x: Tensor): Tensor => run1('copy', [x]);
export const copyAsync = (x: Tensor): Promise<Tensor> => run1Async('copy', [x]);
/** Convert between f32/f16/bf16/i32/u8/i8. */
export const cast = (x: Tensor, to: DType): Tensor => run1('cast', [x], { to });
export const castAsync = (x: Tensor, to: DType): Promise<Tensor> => run1Async('cast', [x], { to });
/** Rows of `table` [N, ...] at i32 `index` [...] → [..., ...]. */
export const gather = (table: Tensor, index: Tensor): Tensor => run1('gather', [table, index]);
export const gatherAsync = (table: Tensor, index: Tensor): Promise<Tensor> => run1Async('gather', [table, index]);

// ---- attention ----
export interface SdpaOptions {
  /** Causal mask (queries are the last T of S positions). Default true. */
  causal?: boolean;
  /** Score scale; default 1/sqrt(D). */
  scale?: number;
}
/** softmax(q kᵀ · scale) v for q [B,T,H,D], k [B,S,Hkv,D], v [B,S,Hkv,Dv] (grouped-query when Hkv < H). */
export const sdpa = (q: Tensor, k: Tensor, v: Tensor, o: SdpaOptions = {}): Tensor => run1('sdpa', [q, k, v], { ...o });
export const sdpaAsync = (q: Tensor, k: Tensor, v: Tensor, o: SdpaOptions = {}): Promise<Tensor> =>
  run1Async('sdpa', [q, k, v], { ...o });
