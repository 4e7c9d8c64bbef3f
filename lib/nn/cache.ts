/**
 * Layer states and attention caches.
 *
 * LayerState is what a mixer keeps between prefill/step calls when its state
 * does not fit a fixed-shape tensor (a growing KV cache): an object a plan
 * node is bound to (BindableState), that can report its bytes, fork, and
 * save/load itself as named tensors.
 *
 * AttentionCache adds the attention surface. The plain f32 cache is built in
 * (PlainKVCache, native/core/attention_cache.cpp); other formats register a
 * factory under a name (registerAttentionCache('turboquant', ...)) and are
 * picked per layer with { mixer: 'attention', cache: 'turboquant' }. A cache
 * used in a plan must provide a native StateKernel (nativeState) that runs
 * `sdpa` / `sdpaWindow` nodes with inputs (q, k_new, v_new): append, then
 * attend over everything held (docs/graphs.md, "Bound states").
 */
import { native, type Attrs, type NativeKVCache, type NativeState } from '../binding.js';
import type { Device } from '../dtype.js';
import { EngramError, check } from '../errors.js';
import type { BindableState } from '../graph/index.js';
import { Tensor, fromHandle, tensor } from '../tensor.js';

export interface LayerState extends BindableState {
  readonly kind: string;
  /** Bytes of the state held now. */
  bytes(): number;
  /** An independent copy (for several continuations of one prefix). */
  fork(): LayerState;
  /** The state as named tensors (the caller owns them). */
  save(): Record<string, Tensor>;
  /** Replaces the state from save()'s tensors (copied; shapes checked). */
  load(tensors: Record<string, Tensor>): void;
  dispose(): void;
}

export interface AttentionOptions {
  causal?: boolean;
  scale?: number;
  /** Sliding window (keys in (p − window, p]); absent = full attention. */
  window?: number;
}

export interface AttentionCache extends LayerState {
  /** Positions held now (a windowed cache drops what no query can see). */
  readonly length: number;
  /** Positions appended since creation (or load). */
  readonly position: number;
  /** Appends k [B, T, Hkv, D], v [B, T, Hkv, Dv]. */
  append(k: Tensor, v: Tensor): void;
  /** q [B, T, H, D] (the last T positions) over the cache → [B, T, H, Dv]. */
  attend(q: Tensor, o?: AttentionOptions): Tensor;
  attendAsync(q: Tensor, o?: AttentionOptions): Promise<Tensor>;
  fork(): AttentionCache;
}

export interface AttentionCacheSpec {
  batch: number;
  kvHeads: number;
  headDim: number;
  valueDim: number;
  /** 0 = unbounded (full attention). */
  window: number;
  device: Device;
}

export type AttentionCacheFactory = (spec: AttentionCacheSpec) => AttentionCache;

const attrsOf = (o: AttentionOptions = {}): Attrs =>
  o.window !== undefined ? { window: o.window, scale: o.scale } : { causal: o.causal ?? true, scale: o.scale };

/** The unquantized cache: keys and values stored as f32 (any float input dtype). */
export class PlainKVCache implements AttentionCache {
  readonly kind = 'f32';
  private h: NativeKVCache | null;

  constructor(spec: Partial<AttentionCacheSpec> & Pick<AttentionCacheSpec, 'kvHeads' | 'headDim'>);
  /** @internal */
  constructor(spec: { fork: NativeKVCache });
  constructor(spec: (Partial<AttentionCacheSpec> & Pick<AttentionCacheSpec, 'kvHeads' | 'headDim'>) | { fork: NativeKVCache }) {
    this.h = 'fork' in spec
      ? new native.KVCacheHandle(spec.fork)
      : new native.KVCacheHandle({
        batch: spec.batch ?? 1, kvHeads: spec.kvHeads, headDim: spec.headDim, valueDim: spec.valueDim ?? spec.headDim,
        window: spec.window ?? 0, device: spec.device ?? 'cpu',
      });
  }

  private live(): NativeKVCache {
    check(this.h, 'E_DISPOSED', 'KV cache: disposed');
    return this.h;
  }
  /** @internal */
  get nativeState(): NativeState {
    return this.live();
  }
  get length(): number {
    return this.live().info().length;
  }
  get position(): number {
    return this.live().info().position;
  }
  get window(): number {
    return this.live().info().window;
  }
  bytes(): number {
    return this.live().info().bytes;
  }
  append(k: Tensor, v: Tensor): void {
    this.live().append(k.handle, v.handle);
  }
  attend(q: Tensor, o?: AttentionOptions): Tensor {
    return fromHandle(this.live().attend(q.handle, attrsOf(o)));
  }
  async attendAsync(q: Tensor, o?: AttentionOptions): Promise<Tensor> {
    return fromHandle(await this.live().attendAsync(q.handle, attrsOf(o)));
  }
  runBoundEager(op: string, inputs: readonly Tensor[], attrs: Attrs): Tensor {
    check(op === 'sdpa' || op === 'sdpaWindow', 'E_ARG', `KV cache: cannot run '${op}' nodes`);
    this.append(inputs[1], inputs[2]);
    return fromHandle(this.live().attend(inputs[0].handle, attrs));
  }
  fork(): PlainKVCache {
    return new PlainKVCache({ fork: this.live() });
  }
  save(): Record<string, Tensor> {
    const h = this.live();
    return { k: fromHandle(h.keys()), v: fromHandle(h.values()), position: tensor(new Int32Array([h.info().position]), [1]) };
  }
  load(t: Record<string, Tensor>): void {
    check(t.k && t.v && t.position, 'E_ARG', 'KV cache load: needs tensors k, v and position');
    const pos = t.position.toArray()[0];
    this.live().load(t.k.handle, t.v.handle, pos);
  }
  dispose(): void {
    this.h?.dispose();
    this.h = null;
  }
}

const caches = new Map<string, AttentionCacheFactory>([['f32', (s) => new PlainKVCache(s)]]);

/** Registers an attention cache format under `kind` (e.g. 'turboquant', 'kivi'). */
export function registerAttentionCache(kind: string, factory: AttentionCacheFactory): void {
  caches.set(kind, factory);
}

export function attentionCacheKinds(): string[] {
  return [...caches.keys()];
}

export function createAttentionCache(kind: string, spec: AttentionCacheSpec): AttentionCache {
  const f = caches.get(kind);
  if (!f) throw new EngramError(`unknown attention cache '${kind}' (known: ${attentionCacheKinds().join(', ')})`, 'E_ARG');
  return f(spec);
}
