/** concat, causalConv1d, rope and sdpaWindow against JS references; bad input. */
import test from 'ava';

import { EngramError, memory, ops, tensor, zeros, type Tensor } from 'engram';
import { assertClose, numel, randomArray } from './helpers.js';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

function mk(shape: number[], seed: number, scale = 2): { t: Tensor; d: Float32Array } {
  const d = randomArray(numel(shape), seed, scale);
  return { t: tensor(d, shape), d };
}

test('concat along each axis, strided and integer inputs', (t) => {
  const a = mk([2, 3, 4], 1), b = mk([2, 1, 4], 2);
  const c = ops.concat([a.t, b.t], { axis: 1 });
  t.deepEqual([...c.shape], [2, 4, 4]);
  const want: number[] = [];
  for (let i = 0; i < 2; i++) {
    want.push(...a.d.slice(i * 12, i * 12 + 12));
    want.push(...b.d.slice(i * 4, i * 4 + 4));
  }
  t.deepEqual([...c.toFloat32()], want);
  const tr = a.t.transpose(0, 2); // [4, 3, 2] strided
  const c2 = ops.concat([tr, tr], { axis: -1 });
  const ref = tr.contiguous().toFloat32();
  const got = c2.toFloat32();
  for (let i = 0; i < 12; i++) t.deepEqual([got[i * 4], got[i * 4 + 1], got[i * 4 + 2], got[i * 4 + 3]],
    [ref[i * 2], ref[i * 2 + 1], ref[i * 2], ref[i * 2 + 1]]);
  const ints = ops.concat([tensor(new Int32Array([1, 2])), tensor(new Int32Array([3]))]);
  t.deepEqual([...ints.toArray()], [1, 2, 3]);
  t.throws(() => ops.concat([a.t, zeros([2, 3, 5])], { axis: 1 }), code('E_SHAPE'));
  t.throws(() => ops.concat([a.t, zeros([2, 3, 4], { dtype: 'f16' })]), code('E_DTYPE'));
  t.throws(() => ops.concat([a.t, b.t], { axis: 3 }), code('E_ARG'));
  for (const x of [a.t, b.t, c, tr, c2, ints]) x.dispose();
});

function refConv(x: Float32Array, B: number, T: number, C: number, w: Float32Array, K: number,
  bias?: Float32Array, state?: Float32Array, silu = false): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let s = 0; s < T; s++)
      for (let c = 0; c < C; c++) {
        let acc = bias ? bias[c] : 0;
        for (let j = 0; j < K; j++) {
          const src = s - (K - 1) + j;
          const xv = src >= 0 ? x[(b * T + src) * C + c] : state ? state[(b * (K - 1) + K - 1 + src) * C + c] : 0;
          acc += w[c * K + j] * xv;
        }
        out.push(silu ? acc / (1 + Math.exp(-acc)) : acc);
      }
  return out;
}

test('causalConv1d matches the PyTorch definition, with state and silu', (t) => {
  const [B, T, C, K] = [2, 9, 5, 4];
  const x = mk([B, T, C], 3), w = mk([C, K], 4), bias = mk([C], 5), st = mk([B, K - 1, C], 6);
  const y = ops.causalConv1d(x.t, w.t);
  assertClose(t, y.toFloat32(), refConv(x.d, B, T, C, w.d, K), 1e-5, 1e-5, 'plain');
  const y2 = ops.causalConv1d(x.t, w.t, { bias: bias.t, state: st.t, activation: 'silu' });
  assertClose(t, y2.toFloat32(), refConv(x.d, B, T, C, w.d, K, bias.d, st.d, true), 1e-5, 1e-5, 'state+silu');
  // Streaming: two calls with the carried state equal one call.
  const first = ops.causalConv1d(x.t.slice(1, 0, 5), w.t);
  const hist = ops.concat([zeros([B, K - 1, C]), x.t.slice(1, 0, 5)], { axis: 1 }).slice(1, 5, 5 + K - 1);
  const second = ops.causalConv1d(x.t.slice(1, 5, 9), w.t, { state: hist });
  const whole = y.toFloat32();
  const parts = [first.toFloat32(), second.toFloat32()];
  for (let b = 0; b < B; b++) {
    assertClose(t, parts[0].slice(b * 5 * C, (b + 1) * 5 * C), whole.slice(b * T * C, b * T * C + 5 * C), 1e-6, 1e-6, 'part 1');
    assertClose(t, parts[1].slice(b * 4 * C, (b + 1) * 4 * C), whole.slice(b * T * C + 5 * C, (b + 1) * T * C), 1e-6, 1e-6, 'part 2');
  }
  t.throws(() => ops.causalConv1d(x.t, zeros([C + 1, K])), code('E_SHAPE'));
  t.throws(() => ops.causalConv1d(x.t, w.t, { state: zeros([B, K, C]) }), code('E_SHAPE'));
  t.throws(() => ops.causalConv1d(x.t, w.t, { activation: 'gelu' as never }), code('E_ARG'));
  for (const v of [x.t, w.t, bias.t, st.t, y, y2, first, hist, second]) v.dispose();
});

test('rope rotates half-split pairs by position', (t) => {
  const [B, T, H, D] = [1, 3, 2, 8];
  const x = mk([B, T, H, D], 7);
  const pos = tensor(new Int32Array([0, 5, 70000]));
  const y = ops.rope(x.t, pos, { theta: 10000 });
  const want: number[] = [];
  const p = [0, 5, 70000];
  for (let s = 0; s < T; s++)
    for (let h = 0; h < H; h++) {
      const base = (s * H + h) * D;
      const row = new Array(D);
      for (let i = 0; i < D / 2; i++) {
        const a = p[s] * Math.pow(10000, (-2 * i) / D);
        const x0 = x.d[base + i], x1 = x.d[base + i + D / 2];
        row[i] = x0 * Math.cos(a) - x1 * Math.sin(a);
        row[i + D / 2] = x1 * Math.cos(a) + x0 * Math.sin(a);
      }
      want.push(...row);
    }
  assertClose(t, y.toFloat32(), want, 1e-5, 1e-5, 'rope');
  const part = ops.rope(x.t, pos, { dims: 4 });
  const pf = part.toFloat32();
  for (let s = 0; s < T; s++) for (let h = 0; h < H; h++)
    for (let i = 4; i < D; i++) t.is(pf[(s * H + h) * D + i], x.d[(s * H + h) * D + i]);
  t.throws(() => ops.rope(x.t, tensor([0, 1, 2])), code('E_DTYPE'));
  t.throws(() => ops.rope(x.t, tensor(new Int32Array([0, 1]))), code('E_SHAPE'));
  t.throws(() => ops.rope(x.t, pos, { dims: 3 }), code('E_ARG'));
  for (const v of [x.t, pos, y, part]) v.dispose();
});

function refWindow(q: Float32Array, k: Float32Array, v: Float32Array, T: number, S: number, H: number, Hkv: number,
  D: number, W: number): number[] {
  const out: number[] = [];
  const sc = 1 / Math.sqrt(D);
  for (let s = 0; s < T; s++)
    for (let h = 0; h < H; h++) {
      const hk = Math.floor(h / (H / Hkv)), p = s + S - T, lo = Math.max(0, p - W + 1);
      const w: number[] = [];
      for (let j = lo; j <= p; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(s * H + h) * D + d] * k[(j * Hkv + hk) * D + d];
        w.push(dot * sc);
      }
      const m = Math.max(...w);
      const e = w.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = lo; j <= p; j++) acc += e[j - lo] * v[(j * Hkv + hk) * D + d];
        out.push(acc / z);
      }
    }
  return out;
}

test('sdpaWindow: sliding-window causal attention; a wide window equals sdpa', (t) => {
  const [T, S, H, Hkv, D] = [7, 11, 4, 2, 8];
  const q = mk([1, T, H, D], 8), k = mk([1, S, Hkv, D], 9), v = mk([1, S, Hkv, D], 10);
  for (const W of [1, 3, 6]) {
    const o = ops.sdpaWindow(q.t, k.t, v.t, { window: W });
    assertClose(t, o.toFloat32(), refWindow(q.d, k.d, v.d, T, S, H, Hkv, D, W), 1e-4, 1e-5, `window ${W}`);
    o.dispose();
  }
  const wide = ops.sdpaWindow(q.t, k.t, v.t, { window: 1000 });
  const full = ops.sdpa(q.t, k.t, v.t, { causal: true });
  assertClose(t, wide.toFloat32(), full.toFloat32(), 1e-6, 1e-6, 'wide window');
  t.throws(() => ops.sdpaWindow(q.t, k.t, v.t, { window: 0 }), code('E_ARG'));
  t.throws(() => ops.sdpaWindow(k.t, q.t, v.t, { window: 2 }), code('E_SHAPE'));
  for (const x of [q.t, k.t, v.t, wide, full]) x.dispose();
});

test.serial('async twins give the same results and release everything', async (t) => {
  const m0 = memory();
  const x = mk([1, 5, 2, 8], 11), w = mk([16, 3], 12);
  const pos = tensor(new Int32Array([0, 1, 2, 3, 4]));
  const pairs: [Tensor, Tensor][] = [
    [ops.rope(x.t, pos), await ops.ropeAsync(x.t, pos)],
    [ops.sdpaWindow(x.t, x.t, x.t, { window: 2 }), await ops.sdpaWindowAsync(x.t, x.t, x.t, { window: 2 })],
    [ops.concat([x.t, x.t], { axis: 2 }), await ops.concatAsync([x.t, x.t], { axis: 2 })],
  ];
  const flat = x.t.reshape([1, 5, 16]);
  pairs.push([ops.causalConv1d(flat, w.t), await ops.causalConv1dAsync(flat, w.t)]);
  for (const [a, b] of pairs) {
    t.deepEqual([...a.toFloat32()], [...b.toFloat32()]);
    a.dispose();
    b.dispose();
  }
  for (const v of [x.t, w.t, pos, flat]) v.dispose();
  t.is(memory().cpu.bytes, m0.cpu.bytes);
});
