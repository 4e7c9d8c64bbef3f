/**
 * Memory-kind adapters of `engram recall`: how each memory stores the
 * haystack and answers the queries. One file per kind in lib/recall/kinds/,
 * imported from lib/recall/kinds/index.ts. Built in: 'full-attention'
 * (exact softmax attention over a plain f32 KV cache, ops.sdpa inside, sharp
 * temperature). Owners of the other kinds add theirs:
 *   turboquant, kivi (quantized caches), gdn (gated delta rule),
 *   titans-linear, titans-mlp, tnt, trellis.
 *
 * Adapter contract:
 *  - registerMemory({ kind, description, floor, create }).
 *  - create(spec) returns a fresh MemoryInstance for H heads of key dim Dk
 *    and value dim Dv on spec.device; nothing learned from another run.
 *  - write(k [1, n, H, Dk], v [1, n, H, Dv]): consume the next n haystack
 *    tokens, in order, doing the per-token work a model layer would do while
 *    streaming (attention: append + causal attention of the chunk, with the
 *    keys as queries; a recurrent memory: its update (and read-out) op with
 *    q = k). tokensPerSec counts this work, so kinds compare fairly. The
 *    memories learn at test time from these raw keys/values: no trained
 *    weights, no projections (gates/learning rates are the adapter's fixed,
 *    documented choices).
 *  - read(q [1, Q, H, Dk]) → [1, Q, H, Dv]: what the memory recalls for each
 *    query, without writing. Scored against the codebook (task.ts).
 *  - bytes(): bytes of the memory's state after the haystack (what it must
 *    keep to answer: a cache grows with T, a recurrent state does not).
 *  - dispose() frees everything (the harness checks memory() afterwards).
 *  - floor: the accuracy the kind must reach at the default sizes
 *    (test/recall.test.ts checks it for every registered kind).
 * The harness disposes the k/v/q tensors it passes after the call resolves;
 * an adapter must copy what it keeps (the plain cache copies on append).
 */
import type { Device } from '../dtype.js';
import { EngramError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface MemorySpec {
  heads: number;
  keyDim: number;
  valueDim: number;
  /** Haystack length (some kinds size their state from it). */
  context: number;
  device: Device;
}

export interface MemoryInstance {
  write(k: Tensor, v: Tensor): Promise<void>;
  read(q: Tensor): Promise<Tensor>;
  bytes(): number;
  dispose(): void;
}

export interface MemoryAdapter {
  kind: string;
  description: string;
  /** Minimum accuracy at the default sizes (documented; tested). */
  floor: number;
  create(spec: MemorySpec): MemoryInstance;
}

const adapters = new Map<string, MemoryAdapter>();

export function registerMemory(a: MemoryAdapter): void {
  adapters.set(a.kind, a);
}

export function memoryKinds(): string[] {
  return [...adapters.keys()];
}

export function memoryAdapter(kind: string): MemoryAdapter {
  const a = adapters.get(kind);
  if (!a) throw new EngramError(`recall: unknown memory kind '${kind}' (registered: ${memoryKinds().join(', ')})`, 'E_ARG');
  return a;
}
