/**
 * Quantizers for KV vectors (algorithms.md §11): engram.quant.turboQuant,
 * qjl, kivi, int8. Each encodes rows [..., dim] into bit-packed u8 records
 * (layouts in docs/quant.md), decodes them, scores queries against them
 * without dequantising (dot) and reports exact bits per value.
 *
 *   const q = engram.quant.turboQuant({ dim: 128, bits: 3.5 });
 *   const codes = q.encode(keys);          // u8 [..., q.bits().blockBytes]
 *   const scores = q.dot(query, codes);    // f32 [M, N]
 */
import { native, type NativeBitAccount, type NativeQuantConfig, type NativeQuantizer, type Attrs } from '../binding.js';
import { EngramError, check } from '../errors.js';
import { Tensor } from '../tensor.js';

export type BitAccount = NativeBitAccount;
export type QuantizerConfig = NativeQuantConfig;
export type ScalarDType = 'f16' | 'f32';

interface OutlierOptions {
  /** Channels of the outlier group: one list shared by all heads, or one list per head. */
  outlierChannels?: number[] | number[][];
  /** Rows [N, dim] or [N, heads, dim]: the outlier channels are those with the largest mean square. */
  calibration?: Tensor;
  /** With 3-d calibration data: one channel set (and mean) per head (default true). */
  perHead?: boolean;
  /**
   * Subtract the calibration per-channel mean before encoding (keys with offset outlier
   * channels). Attention is unchanged by it (softmax is shift-invariant); decode adds it back.
   */
  center?: boolean;
}

export interface TurboQuantOptions extends OutlierOptions {
  dim: number;
  /** 1..4; fractional values (2.5, 3.5, 2.25, ...) split the channels: round(frac·dim) outlier channels at ceil(bits), the rest at floor(bits). */
  bits: number;
  /** 'mse' (Algorithm 1) or 'prod' (b-1 bit mse + 1-bit QJL of the residual: unbiased inner products). */
  variant?: 'mse' | 'prod';
  rotation?: 'dense' | 'hadamard';
  /** QJL projection of the prod variant: i.i.d. Gaussian (paper) or block-orthogonal. */
  sketch?: 'gaussian' | 'orthogonal';
  seed?: number;
  /** Storage of the per-vector norms (f16 by default: exact accounting counts them). */
  normDType?: ScalarDType;
}

export interface QjlOptions extends OutlierOptions {
  dim: number;
  /** Sign bits per key for the inlier channels (default 2·dim). */
  sketchDim?: number;
  /** Number of outlier channels sketched separately (default 0). */
  outliers?: number;
  /** Sign bits for the outlier channels (default sketchDim). */
  outlierSketchDim?: number;
  projection?: 'gaussian' | 'orthogonal';
  seed?: number;
  normDType?: ScalarDType;
}

export interface KiviOptions {
  bits: 2 | 4;
  /** Channels per scale for per-token rows; tokens per block for per-channel keys (default 32). */
  groupSize?: number;
  /** Full-precision window a KVCache keeps by default (default 128). */
  residual?: number;
  /** Standalone encode(): 'token' (values) or 'channel' (keys). A KVCache always uses channel for keys, token for values. */
  axis?: 'token' | 'channel';
  dim?: number;
  scaleDType?: ScalarDType;
}

export interface Int8Options {
  dim?: number;
  scaleDType?: ScalarDType;
}

function outlierAttrs(o: OutlierOptions, attrs: Attrs): void {
  if (o.outlierChannels === undefined) return;
  check(Array.isArray(o.outlierChannels), 'E_ARG', 'outlierChannels must be an array');
  if (o.outlierChannels.length && Array.isArray(o.outlierChannels[0])) {
    const lists = o.outlierChannels as number[][];
    check(lists.every((l) => Array.isArray(l) && l.length === lists[0].length), 'E_ARG',
      'outlierChannels: every head needs the same number of channels');
    attrs.outlierChannels = lists.flat();
    attrs.outlierHeads = lists.length;
  } else {
    attrs.outlierChannels = o.outlierChannels as number[];
  }
}

function checkKeys(o: object, known: string[], who: string): void {
  for (const k of Object.keys(o))
    if (!known.includes(k)) throw new EngramError(`${who}: unknown option '${k}' (known options: ${known.join(', ')})`, 'E_ARG');
}

export class Quantizer {
  /** @internal */
  readonly handle: NativeQuantizer;

  /** @internal Use engram.quant.turboQuant / qjl / kivi / int8. */
  constructor(handle: NativeQuantizer) {
    this.handle = handle;
  }

  /** The full configuration (outlier channels resolved). */
  get config(): QuantizerConfig {
    return this.handle.info();
  }
  get kind(): QuantizerConfig['kind'] {
    return this.config.kind;
  }
  /** Vector dimension, or undefined for dimension-agnostic quantizers (kivi, int8) built without one. */
  get dim(): number | undefined {
    return this.config.dim || undefined;
  }

  /** Exact bits per value: codes + norms/scales + byte padding (`dim` for kivi/int8 without a fixed one). */
  bits(dim?: number): BitAccount {
    return this.handle.bits(dim);
  }

  /** Rows x [..., dim] (f32/f16/bf16) -> u8 [..., blockBytes] (per-channel KIVI: [rows/groupSize, blockBytes]). */
  encode(x: Tensor): Tensor {
    return new Tensor(this.handle.encode(x?.handle));
  }
  /** encode() off the JS thread. */
  async encodeAsync(x: Tensor): Promise<Tensor> {
    return new Tensor(await this.handle.encodeAsync(x?.handle));
  }

  /** u8 records -> f32 rows [..., dim]. */
  decode(codes: Tensor, opts: { dim?: number } = {}): Tensor {
    return new Tensor(this.handle.decode(codes?.handle, opts.dim));
  }

  /** Scores <q, x̃_j> computed from the codes (no dequantisation): q [dim] -> [N], q [M, dim] -> [M, N]. */
  dot(q: Tensor, codes: Tensor, opts: { dim?: number; head?: number } = {}): Tensor {
    return new Tensor(this.handle.dot(q?.handle, codes?.handle, opts.dim, opts.head));
  }

  /** The linear map A (t_dim × dim) of the transformed space: x̃ = Aᵀ tile(codes). */
  matrix(head?: number): Tensor {
    return new Tensor(this.handle.matrix(head));
  }
}

function make(kind: string, attrs: Attrs, calibration?: Tensor): Quantizer {
  if (calibration !== undefined) check(calibration instanceof Tensor, 'E_ARG', 'calibration must be a Tensor');
  return new Quantizer(new native.QuantizerHandle(kind, attrs, calibration?.handle ?? null));
}

/** TurboQuant (arXiv 2504.19874): rotation + Lloyd-Max codebooks (+ QJL of the residual for 'prod'). */
export function turboQuant(o: TurboQuantOptions): Quantizer {
  check(o && typeof o === 'object', 'E_ARG', 'turboQuant: options object required');
  checkKeys(o, ['dim', 'bits', 'variant', 'rotation', 'sketch', 'seed', 'normDType', 'outlierChannels', 'calibration', 'perHead',
    'center'], 'turboQuant');
  const { outlierChannels: _o, calibration, ...rest } = o;
  const attrs: Attrs = { ...rest };
  outlierAttrs(o, attrs);
  return make('turboquant', attrs, calibration);
}

/** QJL (arXiv 2406.03482): sign sketches of keys with an unbiased asymmetric estimator. */
export function qjl(o: QjlOptions): Quantizer {
  check(o && typeof o === 'object', 'E_ARG', 'qjl: options object required');
  checkKeys(o, ['dim', 'sketchDim', 'outliers', 'outlierSketchDim', 'projection', 'seed', 'normDType', 'outlierChannels',
    'calibration', 'perHead', 'center'], 'qjl');
  const { outlierChannels: _o, calibration, ...rest } = o;
  const attrs: Attrs = { ...rest };
  outlierAttrs(o, attrs);
  return make('qjl', attrs, calibration);
}

/** KIVI (arXiv 2402.02750): 2/4-bit asymmetric, per channel (keys) / per token (values). */
export function kivi(o: KiviOptions): Quantizer {
  check(o && typeof o === 'object', 'E_ARG', 'kivi: options object required');
  checkKeys(o, ['bits', 'groupSize', 'residual', 'axis', 'dim', 'scaleDType'], 'kivi');
  return make('kivi', { ...o });
}

/** Per-token symmetric int8 (the simple baseline). */
export function int8(o: Int8Options = {}): Quantizer {
  checkKeys(o, ['dim', 'scaleDType'], 'int8');
  return make('int8', { ...o });
}
