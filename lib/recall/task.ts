/**
 * The synthetic associative-recall task of `engram recall`, generated from a
 * seed. A haystack of T tokens, each a key→value pair per head: keys are
 * random unit vectors [1, T, H, Dk]; values are rows of a codebook of C random
 * unit vectors [C, Dv] (value of token t, head h = codebook[class[t, h]]).
 * Then Q queries: the keys of Q earlier tokens picked uniformly over the
 * haystack (needles at every depth). A memory reads each query; the answer is
 * the codebook row nearest (by dot product) to what it read, and accuracy is
 * the fraction of (query, head) pairs answered with the stored class.
 *
 * Same seed and sizes → the same task on every machine and device (Philox
 * random numbers for vectors, a seeded xorshift for classes and positions).
 */
import type { Device } from '../dtype.js';
import { check } from '../errors.js';
import * as ops from '../ops/index.js';
import { Tensor, randn, tensor, tidy } from '../tensor.js';

export interface RecallSizes {
  /** Haystack tokens T. */
  context: number;
  /** Queries Q (at most T). */
  queries: number;
  heads: number;
  keyDim: number;
  valueDim: number;
  /** Codebook size C (number of value classes). */
  codebook: number;
  seed: number;
  device: Device;
}

export interface RecallTask {
  sizes: RecallSizes;
  /** [1, T, H, Dk], unit rows. */
  keys: Tensor;
  /** [1, T, H, Dv], codebook rows. */
  values: Tensor;
  /** [1, Q, H, Dk]: keys of earlier tokens. */
  queries: Tensor;
  /** Haystack position of each query. */
  positions: Int32Array;
  /** Class per (query, head), row-major [Q, H]. */
  targets: Int32Array;
  /** [C, Dv], unit rows. */
  codebook: Tensor;
  dispose(): void;
}

function xorshift(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Random unit rows: x / ‖x‖ over the last axis (rmsNorm then 1/sqrt(D)). */
function unitRows(shape: number[], seed: number, device: Device): Tensor {
  return tidy(() => {
    const x = randn(shape, { seed, device });
    return ops.scale(ops.rmsNorm(x, null, { eps: 0 }), 1 / Math.sqrt(shape[shape.length - 1]));
  });
}

export function makeRecallTask(s: RecallSizes): RecallTask {
  const { context: T, queries: Q, heads: H, keyDim: Dk, valueDim: Dv, codebook: C } = s;
  for (const [k, v] of Object.entries({ context: T, queries: Q, heads: H, keyDim: Dk, valueDim: Dv, codebook: C }))
    check(Number.isInteger(v) && v >= 1, 'E_ARG', `recall: ${k} must be an integer >= 1, got ${v}`);
  check(Q <= T, 'E_ARG', `recall: ${Q} queries need at least as many haystack tokens (context ${T})`);
  const base = (s.seed * 1000003 + T) % 2 ** 40;
  const rnd = xorshift(base);
  const classes = Int32Array.from({ length: T * H }, () => rnd() % C);
  const positions = Int32Array.from({ length: Q }, () => rnd() % T);
  const targets = new Int32Array(Q * H);
  for (let q = 0; q < Q; q++) for (let h = 0; h < H; h++) targets[q * H + h] = classes[positions[q] * H + h];
  const codebook = unitRows([C, Dv], base + 1, s.device);
  const keys = unitRows([1, T, H, Dk], base + 2, s.device);
  const values = tidy(() => {
    const idx = tensor(classes, [1, T, H], { device: s.device });
    return ops.gather(codebook, idx);
  });
  const queries = tidy(() => {
    const rows = ops.gather(keys.reshape([T, H * Dk]), tensor(positions, [Q], { device: s.device }));
    return rows.reshape([1, Q, H, Dk]);
  });
  return {
    sizes: s, keys, values, queries, positions, targets, codebook,
    dispose() {
      for (const t of [keys, values, queries, codebook]) t.dispose();
    },
  };
}

/** Fraction of (query, head) pairs whose read [1, Q, H, Dv] is nearest to the stored class. */
export function scoreRecall(task: RecallTask, read: Tensor): number {
  const { queries: Q, heads: H, valueDim: Dv, codebook: C } = task.sizes;
  check(read.shape.length === 4 && read.shape[1] === Q && read.shape[2] === H && read.shape[3] === Dv, 'E_SHAPE',
    `recall: a memory read must be [1, ${Q}, ${H}, ${Dv}], got [${read.shape.join(', ')}]`);
  const scores = tidy(() => ops.matmul(read.contiguous().reshape([Q * H, Dv]), task.codebook, { transB: true }));
  const s = scores.toFloat32();
  scores.dispose();
  let right = 0;
  for (let i = 0; i < Q * H; i++) {
    let best = 0, bv = -Infinity;
    for (let c = 0; c < C; c++) {
      const v = s[i * C + c];
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    if (best === task.targets[i]) right++;
  }
  return right / (Q * H);
}
