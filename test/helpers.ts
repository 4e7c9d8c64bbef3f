/** Shared test helpers: seeded data, closeness checks, JS references. */
import type { ExecutionContext } from 'ava';

export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

export function randomArray(n: number, seed: number, scale = 2, shift = 0): Float32Array {
  const r = seeded(seed);
  return Float32Array.from({ length: n }, () => r() * scale + shift);
}

/** max |a-b| / (atol + rtol |b|) <= 1 elementwise (NaN must match NaN). */
export function assertClose(
  t: ExecutionContext,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  what = '',
): void {
  t.is(got.length, want.length, `${what} length`);
  let worst = 0,
    at = -1;
  for (let i = 0; i < want.length; i++) {
    const a = got[i],
      b = want[i];
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) {
        worst = Infinity;
        at = i;
        break;
      }
      continue;
    }
    if (a === b) continue;
    const e = Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  t.true(worst <= 1, `${what} mismatch at ${at}: got ${got[at]}, want ${want[at]} (ratio ${worst.toFixed(2)})`);
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** JS reference: batched matmul with broadcasting over leading dims (row-major). */
export function refMatmul(
  a: Float32Array,
  as: number[],
  b: Float32Array,
  bs: number[],
  transA = false,
  transB = false,
  alpha = 1,
): { data: Float64Array; shape: number[] } {
  const M = transA ? as[as.length - 1] : as[as.length - 2];
  const K = transA ? as[as.length - 2] : as[as.length - 1];
  const N = transB ? bs[bs.length - 2] : bs[bs.length - 1];
  const ba = as.slice(0, -2),
    bb = bs.slice(0, -2);
  const nd = Math.max(ba.length, bb.length);
  const ob: number[] = [];
  for (let i = 0; i < nd; i++) {
    const da = ba[i - (nd - ba.length)] ?? 1,
      db = bb[i - (nd - bb.length)] ?? 1;
    ob.push(Math.max(da, db));
  }
  const items = numel(ob);
  const out = new Float64Array(items * M * N);
  const sa = as[as.length - 2] * as[as.length - 1],
    sb = bs[bs.length - 2] * bs[bs.length - 1];
  for (let it = 0; it < items; it++) {
    let rem = it,
      ia = 0,
      ib = 0,
      mulA = 1,
      mulB = 1;
    for (let d = nd - 1; d >= 0; d--) {
      const idx = rem % ob[d];
      rem = Math.floor(rem / ob[d]);
      const da = ba[d - (nd - ba.length)],
        db = bb[d - (nd - bb.length)];
      if (da !== undefined) {
        if (da !== 1) ia += idx * mulA;
        mulA *= da;
      }
      if (db !== undefined) {
        if (db !== 1) ib += idx * mulB;
        mulB *= db;
      }
    }
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[ia * sa + k * M + i] : a[ia * sa + i * K + k];
          const bv = transB ? b[ib * sb + j * K + k] : b[ib * sb + k * N + j];
          acc += av * bv;
        }
        out[it * M * N + i * N + j] = alpha * acc;
      }
  }
  return { data: out, shape: [...ob, M, N] };
}
