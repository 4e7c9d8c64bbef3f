/**
 * engram.quant from JavaScript: encode/decode/dot shapes and round trips,
 * bit accounting, calibration and centering, the transform matrix, async
 * encode, and bad input (EngramError codes). The numerical oracles of
 * algorithms.md §12.3 run natively in build/test_quant (test/native/test_quant.cpp).
 */
import test from 'ava';

import { EngramError, quant, randn, tensor, zeros, memory } from 'engram';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

function nmse(a: Float32Array, b: Float32Array): number {
  let e = 0, s = 0;
  for (let i = 0; i < a.length; i++) e += (a[i] - b[i]) ** 2, s += b[i] ** 2;
  return e / s;
}

test('turboQuant: encode -> u8 records, decode within the distortion bound, dot = <q, decode>', (t) => {
  const before = memory().cpu.buffers;
  for (const [bits, variant, rotation] of [[3.5, 'mse', 'dense'], [2, 'prod', 'hadamard'], [4, 'mse', 'hadamard']] as const) {
    const q = quant.turboQuant({ dim: 128, bits, variant, rotation, seed: 3 });
    const x = randn([5, 40, 128], { seed: 1 });
    const codes = q.encode(x);
    t.deepEqual(codes.shape, [5, 40, q.bits().blockBytes]);
    t.is(codes.dtype, 'u8');
    const y = q.decode(codes);
    t.deepEqual(y.shape, [5, 40, 128]);
    const e = nmse(y.toFloat32(), x.toFloat32());
    // mse: Theorem 1's bound (the split's worse group); prod trades MSE for unbiased inner products
    const bound = variant === 'mse' ? Math.sqrt(3) * Math.PI / 2 * 4 ** -Math.floor(bits) * 1.05 : 1;
    t.true(e < bound, `bits ${bits} ${variant}: nmse ${e}`);
    const qv = randn([3, 128], { seed: 2 });
    const flat = codes.reshape([200, q.bits().blockBytes]), st = q.dot(qv, flat);
    const s = st.toFloat32();
    flat.dispose();
    st.dispose();
    const ya = y.toFloat32(), qa = qv.toFloat32();
    for (let m = 0; m < 3; m++)
      for (let j = 0; j < 200; j += 37) {
        let want = 0;
        for (let c = 0; c < 128; c++) want += qa[m * 128 + c] * ya[j * 128 + c];
        t.true(Math.abs(s[m * 200 + j] - want) <= 1e-4 * (1 + Math.abs(want)), `dot ${m},${j}: ${s[m * 200 + j]} vs ${want}`);
      }
    for (const z of [x, codes, y, qv]) z.dispose();
  }
  t.is(memory().cpu.buffers, before);
});

test('bit accounting: 3.5 and 2.5 bits, norms counted, code-only compression', (t) => {
  const b35 = quant.turboQuant({ dim: 128, bits: 3.5 }).bits();
  t.is(b35.codeBits, 3.5);
  t.is(b35.overheadBits, 0.25);
  t.is(b35.bitsPerValue, 3.75);
  t.is(b35.blockBytes, 60);
  t.true(Math.abs(b35.codeCompression - 16 / 3.5) < 1e-12);
  t.true(Math.abs(quant.turboQuant({ dim: 128, bits: 2.5 }).bits().codeCompression - 6.4) < 1e-12);
  t.is(quant.turboQuant({ dim: 128, bits: 2.25 }).config.outlierChannels![0].length, 32);
  t.is(quant.kivi({ bits: 2, groupSize: 32 }).bits(128).bitsPerValue, 3);
  t.is(quant.int8().bits(128).bitsPerValue, 8 + 16 / 128);
  t.is(quant.turboQuant({ dim: 128, bits: 3, normDType: 'f32' }).bits().overheadBits, 32 / 128);
  t.is(quant.qjl({ dim: 128, sketchDim: 256 }).bits().bitsPerValue, (256 + 16) / 128);
});

test('rotation matrix is orthogonal (A Aᵀ = I for mse)', (t) => {
  for (const rotation of ['dense', 'hadamard'] as const) {
    const a = quant.turboQuant({ dim: 60, bits: 2, rotation, seed: 5 }).matrix().toFloat32();
    let worst = 0;
    for (let i = 0; i < 60; i++)
      for (let j = 0; j < 60; j++) {
        let s = 0;
        for (let k = 0; k < 60; k++) s += a[i * 60 + k] * a[j * 60 + k];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    t.true(worst < 2e-6, `${rotation}: ${worst}`);
  }
});

test('calibration picks outlier channels per head; centering keeps dot products', (t) => {
  const H = 2, D = 32, n = 300;
  const x = randn([n, H, D], { seed: 9 });
  const a = x.data<'f32'>();
  for (let i = 0; i < n; i++) for (const [h, c] of [[0, 3], [0, 20], [1, 7], [1, 30]]) a[(i * H + h) * D + c] = 10 + 5 * a[(i * H + h) * D + c];
  const q = quant.turboQuant({ dim: D, bits: 2.0625 * 2 - 2, calibration: x, center: true });  // 2.125: 4 outlier channels
  const cfg = q.config;
  t.true(cfg.centered);
  t.is(cfg.outlierChannels!.length, H);
  t.true(cfg.outlierChannels![0].includes(3) && cfg.outlierChannels![0].includes(20));
  t.true(cfg.outlierChannels![1].includes(7) && cfg.outlierChannels![1].includes(30));
  const codes = q.encode(x);
  t.deepEqual(codes.shape, [n, H, q.bits().blockBytes]);
  const y = q.decode(codes);
  t.true(nmse(y.toFloat32(), x.toFloat32()) < 0.2);
  t.throws(() => q.encode(randn([4, D])), code('E_SHAPE'));  // per-head tables need [.., H, D]
  t.throws(() => q.dot(randn([D]), codes.reshape([n * H, q.bits().blockBytes]), { head: 2 }), code('E_ARG'));
  t.notThrows(() => q.dot(randn([D]), codes.reshape([n * H, q.bits().blockBytes]), { head: 1 }).dispose());
});

test('kivi and int8 round trips; per-channel kivi works on blocks', (t) => {
  const x = randn([64, 48], { seed: 4 });
  const i8 = quant.int8();
  t.true(nmse(i8.decode(i8.encode(x), { dim: 48 }).toFloat32(), x.toFloat32()) < 6e-5);
  const k4 = quant.kivi({ bits: 4, groupSize: 16 });
  t.true(nmse(k4.decode(k4.encode(x), { dim: 48 }).toFloat32(), x.toFloat32()) < 0.01);
  const kc = quant.kivi({ bits: 2, groupSize: 16, axis: 'channel' });
  const cc = kc.encode(x);
  t.deepEqual(cc.shape, [4, kc.bits(48).blockBytes]);
  t.deepEqual(kc.decode(cc, { dim: 48 }).shape, [64, 48]);
  t.throws(() => kc.encode(randn([63, 48])), code('E_SHAPE'));
  t.throws(() => k4.decode(k4.encode(x)), code('E_ARG'));  // no fixed dim
});

test('encodeAsync matches encode', async (t) => {
  const q = quant.turboQuant({ dim: 64, bits: 3, seed: 1 });
  const x = randn([500, 64], { seed: 8 });
  const a = q.encode(x).toArray(), b = (await q.encodeAsync(x)).toArray();
  t.deepEqual(Array.from(a), Array.from(b));
  await t.throwsAsync(async () => q.encodeAsync(randn([2, 32])), code('E_SHAPE'));
});

test('bad quantizer options and inputs are EngramErrors', (t) => {
  t.throws(() => quant.turboQuant({ dim: 128, bits: 5 }), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 128, bits: 0.5 }), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 1, bits: 2 }), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 128, bits: 2, variant: 'fast' as never }), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 128, bits: 2, typo: 1 } as never), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 128, bits: 2.5, outlierChannels: [1, 2, 3] }), code('E_ARG'));
  t.throws(() => quant.turboQuant({ dim: 128, bits: 3, center: true }), code('E_ARG'));
  t.throws(() => quant.kivi({ bits: 3 as never }), code('E_ARG'));
  t.throws(() => quant.qjl({ dim: 64, sketchDim: 0 }), code('E_ARG'));
  const q = quant.turboQuant({ dim: 16, bits: 2 });
  t.throws(() => q.encode(randn([3, 8])), code('E_SHAPE'));
  t.throws(() => q.encode(tensor([NaN, ...new Array(15).fill(0)], [1, 16])), code('E_NAN'));
  t.throws(() => q.encode(zeros([2, 16], { dtype: 'i32' })), code('E_DTYPE'));
  t.throws(() => q.encode(tensor(new Array(16).fill(1e5), [1, 16])), code('E_ARG'));  // f16 norm overflow
  t.notThrows(() => quant.turboQuant({ dim: 16, bits: 2, normDType: 'f32' }).encode(tensor(new Array(16).fill(1e5), [1, 16])));
  t.throws(() => q.decode(zeros([2, 5], { dtype: 'u8' })), code('E_SHAPE'));
  t.throws(() => q.decode(zeros([2, q.bits().blockBytes])), code('E_DTYPE'));
  t.throws(() => q.encode({} as never), code('E_ARG'));
});
