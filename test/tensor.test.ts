import test from 'ava';

import { EngramError, Tensor, memory, rand, randn, tensor, tidy, keep, zeros, empty, DTYPES } from 'engram';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../lib/dtype.js';

test('tensor() round-trips every dtype', (t) => {
  const vals = [0, 1, -2, 3.5, 100, -0.25];
  for (const dtype of ['f32', 'f16', 'bf16', 'i32', 'u8', 'i8'] as const) {
    const src = dtype === 'u8' ? [0, 1, 2, 3, 100, 255] : dtype === 'i8' ? [0, 1, -2, 3, 100, -128] : vals;
    const x = tensor(src, [2, 3], { dtype });
    t.deepEqual(x.shape, [2, 3]);
    t.is(x.dtype, dtype);
    t.is(x.device, 'cpu');
    const want = dtype === 'i32' ? src.map((v) => Math.trunc(v) || 0) : src;
    t.deepEqual(Array.from(x.toFloat32()), want, dtype);
    x.dispose();
  }
  for (const dtype of DTYPES) t.true(typeof dtype === 'string');
});

test('f16/bf16 raw bits: Uint16Array input is taken as bit patterns', (t) => {
  const bits = Uint16Array.from([f32ToF16(1.5), f32ToF16(-0.1), f32ToF16(65504)]);
  const x = tensor(bits, [3], { dtype: 'f16' });
  t.deepEqual(Array.from(x.data<'f16'>()), Array.from(bits));
  t.deepEqual(Array.from(x.toFloat32()), Array.from(bits, f16ToF32));
  const b = tensor([1.5, 3.14159], [2], { dtype: 'bf16' });
  t.deepEqual(Array.from(b.data<'bf16'>()), [f32ToBf16(1.5), f32ToBf16(3.14159)]);
  t.is(bf16ToF32(f32ToBf16(3.14159)), b.toFloat32()[1]);
  x.dispose();
  b.dispose();
});

test('nested arrays infer the shape; ragged ones are E_SHAPE', (t) => {
  const x = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  t.deepEqual(x.shape, [2, 3]);
  t.deepEqual(x.toNested(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  x.dispose();
  t.throws(() => tensor([[1, 2], [3]]), { instanceOf: EngramError, code: 'E_SHAPE' } as never);
});

test('data() is zero-copy and writable; dispose detaches it', (t) => {
  const x = zeros([4]);
  const d = x.data<'f32'>();
  d[2] = 7;
  t.deepEqual(Array.from(x.toArray()), [0, 0, 7, 0]);
  t.is(x.data(), d, 'cached view');
  x.dispose();
  t.is(d.length, 0, 'detached after dispose');
  t.true(x.isDisposed);
});

test('views share memory: reshape, transpose, slice, select, permute', (t) => {
  const x = tensor(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
  const r = x.reshape([6, 4]);
  t.deepEqual(r.shape, [6, 4]);
  const tr = x.transpose(1, 2);
  t.deepEqual(tr.shape, [2, 4, 3]);
  t.false(tr.isContiguous);
  t.deepEqual(Array.from(tr.toFloat32().slice(0, 6)), [0, 4, 8, 1, 5, 9]);
  const s = x.slice(2, 1, 3);
  t.deepEqual(s.shape, [2, 3, 2]);
  t.deepEqual(Array.from(s.toFloat32().slice(0, 4)), [1, 2, 5, 6]);
  const sel = x.select(0, 1);
  t.deepEqual(sel.shape, [3, 4]);
  t.is(sel.toFloat32()[0], 12);
  const p = x.permute([2, 0, 1]);
  t.deepEqual(p.shape, [4, 2, 3]);
  t.is(p.toFloat32()[1], 4);
  t.deepEqual(x.unsqueeze(0).shape, [1, 2, 3, 4]);
  x.data<'f32'>()[0] = 100;
  t.is(r.toFloat32()[0], 100, 'reshape shares storage');
  t.throws(() => tr.reshape([24]), { code: 'E_SHAPE' } as never);
  t.throws(() => tr.data(), { code: 'E_ARG' } as never);
  const c = tr.contiguous();
  t.true(c.isContiguous);
  t.deepEqual(Array.from(c.data<'f32'>()), Array.from(tr.toFloat32()));
  for (const v of [x, r, tr, s, sel, p, c]) v.dispose();
});

test('randn/rand are deterministic in the seed and roughly standard', (t) => {
  const a = randn([10000], { seed: 42 }),
    b = randn([10000], { seed: 42 }),
    c = randn([10000], { seed: 43 });
  const da = a.toFloat32();
  t.deepEqual(da, b.toFloat32());
  t.notDeepEqual(da, c.toFloat32());
  const mean = da.reduce((s, x) => s + x, 0) / da.length;
  const v = da.reduce((s, x) => s + (x - mean) ** 2, 0) / da.length;
  t.true(Math.abs(mean) < 0.05, `mean ${mean}`);
  t.true(Math.abs(v - 1) < 0.05, `var ${v}`);
  const u = rand([1000], { seed: 1 }).toFloat32();
  t.true(u.every((x) => x >= 0 && x < 1));
  const h = randn([8], { seed: 42, dtype: 'bf16' });
  t.is(h.dtype, 'bf16');
  t.deepEqual(Array.from(h.toFloat32()), Array.from(da.slice(0, 8), (x) => bf16ToF32(f32ToBf16(x))));
  for (const x of [a, b, c, h]) x.dispose();
});

test('tidy disposes intermediates, keeps results, and keep() escapes', (t) => {
  const before = memory().tensors;
  let escaped: Tensor | undefined;
  const out = tidy(() => {
    const a = zeros([3]);
    const b = zeros([3]);
    escaped = keep(zeros([2]));
    void a;
    return { b, list: [b] };
  });
  t.false(out.b.isDisposed);
  t.false(escaped!.isDisposed);
  t.is(memory().tensors, before + 2);
  out.b.dispose();
  escaped!.dispose();
  t.is(memory().tensors, before);
  t.throws(() => tidy(() => Promise.resolve(1)), { code: 'E_ARG' } as never);
  t.throws(() =>
    tidy(() => {
      zeros([1]);
      throw new Error('boom');
    }),
  );
  t.is(memory().tensors, before, 'thrown tidy still disposes');
});

test('Symbol.dispose works with `using`-style disposal', (t) => {
  const x = zeros([2]);
  const dispose = (x as unknown as Record<symbol, () => void>)[
    (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose')
  ];
  dispose.call(x);
  t.true(x.isDisposed);
});

test('empty() allocates; memory() counts bytes per device', (t) => {
  const m0 = memory();
  const x = empty([1000], { dtype: 'f16' });
  const m1 = memory();
  t.is(m1.cpu.bytes - m0.cpu.bytes, 2000);
  t.is(m1.tensors - m0.tensors, 1);
  x.dispose();
  t.deepEqual(memory().cpu.bytes, m0.cpu.bytes);
});
