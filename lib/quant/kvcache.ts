/**
 * engram.KVCache: a quantized (or plain f32/f16/bf16) key/value cache for
 * one sequence, with attention computed from the packed codes by fused CPU
 * (and CUDA) kernels. Layout [T, heads, headDim] (or [1, T, heads, headDim]).
 *
 *   const cache = new KVCache({ layers: 32, heads: 8, headDim: 128, maxTokens: 32768,
 *                               keys: quant.turboQuant({ dim: 128, bits: 3.5 }),
 *                               values: quant.turboQuant({ dim: 128, bits: 3.5 }) });
 *   cache.append(k, v, { layer });          // prefill or one decode token
 *   const o = cache.attend(q, { layer });   // [Tq, qHeads, headDim], qHeads a multiple of heads
 *
 * fork() shares every page copy-on-write; serialize()/deserialize() use a
 * versioned, checksummed format (docs/quant.md).
 */
import { native, type NativeQuantKVCache, type NativeQuantKVCacheInfo } from '../binding.js';
import type { Device } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import { Tensor } from '../tensor.js';
import { Quantizer } from './quantizer.js';

const disposeSymbol: typeof Symbol.dispose = (Symbol as { dispose?: typeof Symbol.dispose }).dispose ??
  (Symbol.for('Symbol.dispose') as typeof Symbol.dispose);

export type CacheStorage = Quantizer | 'f32' | 'f16' | 'bf16';

export interface KVCacheOptions {
  layers?: number;
  heads: number;
  headDim: number;
  maxTokens: number;
  /** Quantizer or plain row dtype for keys (default 'f32'). */
  keys?: CacheStorage;
  values?: CacheStorage;
  /** Most recent tokens kept in f32 (default: the KIVI quantizers' `residual`, else 0). */
  residualWindow?: number;
  device?: Device;
}

export interface AttendOptions {
  layer?: number;
  /** Queries are the last Tq tokens; query i sees keys [0, length - Tq + i] (default true). */
  causal?: boolean;
  /** Score scale (default 1/sqrt(headDim)). */
  scale?: number;
  /** Decode everything with the scalar references and attend in double (tests). */
  reference?: boolean;
}

export type KVCacheInfo = NativeQuantKVCacheInfo;

function storageArg(s: CacheStorage | undefined, what: string) {
  if (s === undefined || typeof s === 'string') return s;
  if (s instanceof Quantizer) return s.handle;
  throw new EngramError(`KVCache: ${what} must be a quantizer (engram.quant.*) or 'f32' | 'f16' | 'bf16'`, 'E_ARG');
}

function tensorArg(t: Tensor, what: string) {
  check(t instanceof Tensor, 'E_ARG', `KVCache: ${what} must be a Tensor`);
  return t.handle;
}

export class KVCache {
  /** @internal */
  readonly handle: NativeQuantKVCache;

  constructor(opts: KVCacheOptions);
  /** @internal */
  constructor(opts: KVCacheOptions | NativeQuantKVCache, internal?: true);
  constructor(opts: KVCacheOptions | NativeQuantKVCache, internal?: true) {
    if (internal) {
      this.handle = opts as NativeQuantKVCache;
      return;
    }
    const o = opts as KVCacheOptions;
    check(o && typeof o === 'object', 'E_ARG', 'KVCache: options object required');
    const known = ['layers', 'heads', 'headDim', 'maxTokens', 'keys', 'values', 'residualWindow', 'device'];
    for (const k of Object.keys(o))
      if (!known.includes(k)) throw new EngramError(`KVCache: unknown option '${k}' (known options: ${known.join(', ')})`, 'E_ARG');
    const { keys, values, ...rest } = o;
    this.handle = new native.QuantKVCacheHandle({ ...rest }, storageArg(keys, 'keys'), storageArg(values, 'values'));
  }

  /** Appends k, v [T, heads, headDim] (prefill, or T = 1 per decode step) to one layer. */
  append(k: Tensor, v: Tensor, opts: { layer?: number } = {}): void {
    this.handle.append(opts.layer ?? 0, tensorArg(k, 'k'), tensorArg(v, 'v'));
  }
  /** append() off the JS thread (the cache is busy until it settles). */
  async appendAsync(k: Tensor, v: Tensor, opts: { layer?: number } = {}): Promise<void> {
    await this.handle.appendAsync(opts.layer ?? 0, tensorArg(k, 'k'), tensorArg(v, 'v'));
  }

  /** Attention of q [Tq, qHeads, headDim] over the cached tokens of a layer -> f32, same shape as q. */
  attend(q: Tensor, opts: AttendOptions = {}): Tensor {
    return new Tensor(this.handle.attend(opts.layer ?? 0, tensorArg(q, 'q'), opts.causal, opts.scale, opts.reference));
  }
  async attendAsync(q: Tensor, opts: AttendOptions = {}): Promise<Tensor> {
    return new Tensor(await this.handle.attendAsync(opts.layer ?? 0, tensorArg(q, 'q'), opts.causal, opts.scale, opts.reference));
  }

  /** Tokens in layer 0 (see lengthOf). */
  get length(): number {
    return this.handle.length(0);
  }
  lengthOf(layer: number): number {
    return this.handle.length(layer);
  }
  /** Bytes of the stored representation (codes, norms/scales, f32 window rows) of all layers. */
  bytes(): number {
    return this.handle.bytes();
  }
  /** Bytes of the pages and windows held (capacity; pages shared with forks included). */
  allocatedBytes(): number {
    return this.handle.allocatedBytes();
  }
  /** Drops tokens [n, length) in every layer. */
  truncate(n: number): void {
    this.handle.truncate(n);
  }
  /** A new cache sharing this one's pages copy-on-write (for several continuations of a prefix). */
  fork(): KVCache {
    return new KVCache(this.handle.fork(), true);
  }
  serialize(): Uint8Array {
    return this.handle.serialize();
  }
  static deserialize(data: Uint8Array): KVCache {
    return new KVCache(native.quantKVCacheDeserialize(data), true);
  }
  info(): KVCacheInfo {
    return this.handle.info();
  }
  get keys(): CacheStorage {
    return this.storage('keys');
  }
  get values(): CacheStorage {
    return this.storage('values');
  }
  private storage(which: 'keys' | 'values'): CacheStorage {
    const c = this.handle.info()[which];
    return c.kind === 'plain' ? c.dtype! : new Quantizer(this.handle.quantizer(which));
  }

  get isDisposed(): boolean {
    return this.handle.isDisposed();
  }
  /** Frees the cache now (pages shared with forks live on in them). */
  dispose(): void {
    this.handle.dispose();
  }
  [disposeSymbol](): void {
    this.dispose();
  }

  /** @internal Native timing of attend (bench). */
  benchAttend(q: Tensor, reps: number, opts: AttendOptions = {}): { best: number; median: number } {
    return this.handle.benchAttend(opts.layer ?? 0, tensorArg(q, 'q'), opts.causal, opts.scale, opts.reference, reps);
  }
}
