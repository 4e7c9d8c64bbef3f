/** Every foundation op against a JS reference on small odd shapes. */
import test from 'ava';

import { ops, tensor, type Tensor } from 'engram';
import { bf16ToF32, f32ToBf16 } from '../lib/dtype.js';
import { assertClose, numel, randomArray, refMatmul, strides } from './helpers.js';

function mk(shape: number[], seed: number, scale = 2, shift = 0): { t: Tensor; d: Float32Array } {
  const d = randomArray(numel(shape), seed, scale, shift);
  return { t: tensor(d, shape), d };
}

test('matmul: plain, transposed, batched with broadcasting, alpha', (t) => {
  for (const [as, bs, ta, tb] of [
    [[7, 5], [5, 3], false, false],
    [[2, 5, 7], [1, 3, 5], true, true],
    [[3, 1, 4, 6], [2, 6, 9], false, false],
    [[1, 1], [1, 129], false, false],
  ] as [number[], number[], boolean, boolean][]) {
    const a = mk(as, 1), b = mk(bs, 2);
    const c = ops.matmul(a.t, b.t, { transA: ta, transB: tb, alpha: 0.5 });
    const r = refMatmul(a.d, as, b.d, bs, ta, tb, 0.5);
    t.deepEqual([...c.shape], r.shape);
    assertClose(t, c.toFloat32(), r.data, 1e-5, 1e-5, `matmul ${as} ${bs}`);
    for (const x of [a.t, b.t, c]) x.dispose();
  }
});

test('matmul bf16 inputs accumulate in f32', (t) => {
  const a = mk([9, 64], 3), b = mk([64, 5], 4);
  const ab = a.t.cast('bf16'), bb = b.t.cast('bf16');
  const c = ops.matmul(ab, bb);
  t.is(c.dtype, 'bf16');
  const r = refMatmul(Float32Array.from(a.d, (x) => bf16ToF32(f32ToBf16(x))), [9, 64],
    Float32Array.from(b.d, (x) => bf16ToF32(f32ToBf16(x))), [64, 5]);
  assertClose(t, c.toFloat32(), r.data, 8e-3, 1e-2, 'bf16 matmul');
  for (const x of [a.t, b.t, ab, bb, c]) x.dispose();
});

test('binary ops broadcast like numpy', (t) => {
  const a = mk([3, 1, 5], 5), b = mk([4, 1], 6, 2, 3);
  const fns = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y,
    mul: (x: number, y: number) => x * y, div: (x: number, y: number) => x / y };
  for (const [name, f] of Object.entries(fns)) {
    const c = (ops as unknown as Record<string, (x: Tensor, y: Tensor) => Tensor>)[name](a.t, b.t);
    t.deepEqual([...c.shape], [3, 4, 5]);
    const want: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) want.push(f(a.d[i * 5 + k], b.d[j]));
    assertClose(t, c.toFloat32(), want, 1e-6, 1e-6, name);
    c.dispose();
  }
  a.t.dispose();
  b.t.dispose();
});

test('unary ops and scale', (t) => {
  const x = mk([7, 9], 7, 6);
  const erf = (z: number) => {
    // Abramowitz-Stegun 7.1.26 is too coarse; integrate instead (Simpson).
    const n = 2000, h = z / n;
    let s = 0;
    for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
    return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
  };
  const refs: Record<string, (v: number) => number> = {
    neg: (v) => -v, abs: Math.abs, exp: Math.exp, sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    silu: (v) => v / (1 + Math.exp(-v)), tanh: Math.tanh, relu: (v) => Math.max(v, 0),
    softplus: (v) => Math.log1p(Math.exp(v)), gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  };
  for (const [name, f] of Object.entries(refs)) {
    const y = (ops as unknown as Record<string, (a: Tensor) => Tensor>)[name](x.t);
    assertClose(t, y.toFloat32(), Array.from(x.d, f), 2e-6, 1e-6, name);
    y.dispose();
  }
  const pos = mk([5], 8, 1, 3);
  const s = ops.sqrt(pos.t), l = ops.log(pos.t);
  assertClose(t, s.toFloat32(), Array.from(pos.d, Math.sqrt), 1e-6, 0, 'sqrt');
  assertClose(t, l.toFloat32(), Array.from(pos.d, Math.log), 1e-6, 1e-7, 'log');
  const sc = ops.scale(x.t, -2, 0.5);
  assertClose(t, sc.toFloat32(), Array.from(x.d, (v) => -2 * v + 0.5), 1e-6, 1e-7, 'scale');
  const ga = ops.gelu(x.t, { approximate: true });
  assertClose(t, ga.toFloat32(), Array.from(x.d, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))), 2e-6, 1e-6, 'gelu tanh');
  for (const z of [x.t, pos.t, s, l, sc, ga]) z.dispose();
});

test('softmax, rmsNorm and layerNorm over rows', (t) => {
  const D = 13, R = 4;
  const x = mk([R, D], 9, 8);
  const w = mk([D], 10, 1, 1), b = mk([D], 11);
  const sm = ops.softmax(x.t), rn = ops.rmsNorm(x.t, w.t, { eps: 1e-5 }), ln = ops.layerNorm(x.t, w.t, b.t);
  const want = { sm: [] as number[], rn: [] as number[], ln: [] as number[] };
  for (let r = 0; r < R; r++) {
    const row = Array.from(x.d.slice(r * D, r * D + D));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const se = e.reduce((a, c) => a + c, 0);
    want.sm.push(...e.map((v) => v / se));
    const ms = row.reduce((a, c) => a + c * c, 0) / D;
    want.rn.push(...row.map((v, i) => (v / Math.sqrt(ms + 1e-5)) * w.d[i]));
    const mu = row.reduce((a, c) => a + c, 0) / D;
    const va = row.reduce((a, c) => a + (c - mu) ** 2, 0) / D;
    want.ln.push(...row.map((v, i) => ((v - mu) / Math.sqrt(va + 1e-5)) * w.d[i] + b.d[i]));
  }
  assertClose(t, sm.toFloat32(), want.sm, 1e-5, 1e-7, 'softmax');
  assertClose(t, rn.toFloat32(), want.rn, 1e-5, 1e-6, 'rmsNorm');
  assertClose(t, ln.toFloat32(), want.ln, 1e-5, 1e-5, 'layerNorm');
  const s0 = ops.softmax(x.t, { axis: 0 });
  const col0 = Array.from({ length: R }, (_, r) => x.d[r * D]);
  const m0 = Math.max(...col0), e0 = col0.map((v) => Math.exp(v - m0)), z0 = e0.reduce((a, c) => a + c, 0);
  assertClose(t, Array.from({ length: R }, (_, r) => s0.toFloat32()[r * D]), e0.map((v) => v / z0), 1e-5, 1e-7, 'softmax axis 0');
  for (const z of [x.t, w.t, b.t, sm, rn, ln, s0]) z.dispose();
});

test('sum / mean / max over an axis, keepdim', (t) => {
  const shape = [3, 4, 5];
  const x = mk(shape, 12);
  const st = strides(shape);
  for (const axis of [0, 1, 2]) {
    const s = ops.sum(x.t, { axis }), m = ops.mean(x.t, { axis, keepdim: true }), mx = ops.max(x.t, { axis });
    const outShape = shape.filter((_, i) => i !== axis);
    t.deepEqual([...s.shape], outShape);
    t.deepEqual([...m.shape], shape.map((d, i) => (i === axis ? 1 : d)));
    const ws: number[] = [], wm: number[] = [], wx: number[] = [];
    const [o0, o1] = [0, 1, 2].filter((i) => i !== axis);
    for (let i = 0; i < shape[o0]; i++)
      for (let j = 0; j < shape[o1]; j++) {
        let acc = 0, best = -Infinity;
        for (let k = 0; k < shape[axis]; k++) {
          const v = x.d[i * st[o0] + j * st[o1] + k * st[axis]];
          acc += v;
          best = Math.max(best, v);
        }
        ws.push(acc);
        wm.push(acc / shape[axis]);
        wx.push(best);
      }
    assertClose(t, s.toFloat32(), ws, 1e-5, 1e-6, `sum ${axis}`);
    assertClose(t, m.toFloat32(), wm, 1e-5, 1e-6, `mean ${axis}`);
    assertClose(t, mx.toFloat32(), wx, 0, 0, `max ${axis}`);
    for (const z of [s, m, mx]) z.dispose();
  }
  x.t.dispose();
});

test('cumsum and logcumsumexp: plain, exclusive, reverse', (t) => {
  const x = mk([2, 9], 13, 4);
  for (const exclusive of [false, true])
    for (const reverse of [false, true]) {
      const c = ops.cumsum(x.t, { exclusive, reverse }), l = ops.logcumsumexp(x.t, { exclusive, reverse });
      const wc: number[] = [], wl: number[] = [];
      for (let r = 0; r < 2; r++)
        for (let j = 0; j < 9; j++) {
          let s = 0, e = 0;
          for (let i = 0; i < 9; i++) {
            const inc = reverse ? (exclusive ? i > j : i >= j) : exclusive ? i < j : i <= j;
            if (inc) {
              s += x.d[r * 9 + i];
              e += Math.exp(x.d[r * 9 + i]);
            }
          }
          wc.push(s);
          wl.push(Math.log(e));
        }
      assertClose(t, c.toFloat32(), wc, 1e-5, 1e-6, `cumsum ${exclusive} ${reverse}`);
      assertClose(t, l.toFloat32(), wl, 1e-5, 1e-6, `logcumsumexp ${exclusive} ${reverse}`);
      c.dispose();
      l.dispose();
    }
  const big = tensor([1000, 1000, -1000]);
  const lb = ops.logcumsumexp(big);
  assertClose(t, lb.toFloat32(), [1000, 1000 + Math.LN2, 1000 + Math.LN2], 1e-6, 0, 'no overflow');
  for (const z of [x.t, big, lb]) z.dispose();
});

test('copy, cast and gather', (t) => {
  const x = mk([3, 4], 14, 300);
  const tr = x.t.transpose(0, 1);
  const c = ops.copy(tr);
  t.true(c.isContiguous);
  const want = [];
  for (let j = 0; j < 4; j++) for (let i = 0; i < 3; i++) want.push(x.d[i * 4 + j]);
  t.deepEqual(Array.from(c.toFloat32()), want);
  const i8 = ops.cast(x.t, 'i8');
  t.deepEqual(Array.from(i8.toArray() as Int8Array), Array.from(x.d, (v) => Math.max(-128, Math.min(127, Math.trunc(v)))));
  const bf = ops.cast(x.t, 'bf16');
  t.deepEqual(Array.from(bf.toFloat32()), Array.from(x.d, (v) => bf16ToF32(f32ToBf16(v))));
  const table = mk([5, 3], 15);
  const idx = tensor([4, 0, 4, 2], [2, 2], { dtype: 'i32' });
  const g = ops.gather(table.t, idx);
  t.deepEqual([...g.shape], [2, 2, 3]);
  const wg = [4, 0, 4, 2].flatMap((r) => Array.from(table.d.slice(r * 3, r * 3 + 3)));
  t.deepEqual(Array.from(g.toFloat32()), wg);
  for (const z of [x.t, tr, c, i8, bf, table.t, idx, g]) z.dispose();
});

test('sdpa matches softmax(q k^T / sqrt(d)) v, causal and grouped-query', (t) => {
  const B = 1, T = 5, S = 7, H = 4, Hkv = 2, D = 6, Dv = 3;
  const q = mk([B, T, H, D], 16), k = mk([B, S, Hkv, D], 17), v = mk([B, S, Hkv, Dv], 18);
  for (const causal of [true, false]) {
    const o = ops.sdpa(q.t, k.t, v.t, { causal });
    t.deepEqual([...o.shape], [B, T, H, Dv]);
    const want: number[] = [];
    for (let ti = 0; ti < T; ti++)
      for (let h = 0; h < H; h++) {
        const hk = Math.floor(h / (H / Hkv));
        const lim = causal ? ti + (S - T) + 1 : S;
        const w: number[] = [];
        for (let s = 0; s < lim; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.d[(ti * H + h) * D + d] * k.d[(s * Hkv + hk) * D + d];
          w.push(dot / Math.sqrt(D));
        }
        const m = Math.max(...w), e = w.map((x) => Math.exp(x - m)), z = e.reduce((a, c) => a + c, 0);
        for (let d = 0; d < Dv; d++) {
          let acc = 0;
          for (let s = 0; s < lim; s++) acc += (e[s] / z) * v.d[(s * Hkv + hk) * Dv + d];
          want.push(acc);
        }
      }
    assertClose(t, o.toFloat32(), want, 1e-5, 1e-6, `sdpa causal=${causal}`);
    o.dispose();
  }
  for (const z of [q.t, k.t, v.t]) z.dispose();
});

test('fast kernels equal the scalar references (odd sizes)', (t) => {
  const a = mk([63, 129], 20), b = mk([129, 7], 21);
  const fast = ops.matmul(a.t, b.t);
  const [ref] = ops.referenceOp('matmul', [a.t, b.t]);
  assertClose(t, fast.toFloat32(), ref.toFloat32(), 1e-5, 1e-5, 'matmul vs reference');
  for (const z of [a.t, b.t, fast, ref]) z.dispose();
});
