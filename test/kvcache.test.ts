/**
 * engram.KVCache from JavaScript: fused attention equals the dequantise-then-
 * attend reference, GQA and 4-d inputs, async twins and the busy state,
 * fork / truncate, serialization round trip and corruption, bad input. The
 * exhaustive kernel/format checks run natively in build/test_kvcache.
 */
import test from 'ava';

import { EngramError, KVCache, quant, randn, ops, tensor, zeros, type Tensor } from 'engram';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

function maxRel(a: Float32Array, b: Float32Array): number {
  let m = 0, s = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])), s = Math.max(s, Math.abs(b[i]));
  return m / s;
}

const formats = () => ({
  f16: ['f16', 'f16'],
  turbo35: [quant.turboQuant({ dim: 64, bits: 3.5, seed: 1 }), quant.turboQuant({ dim: 64, bits: 3.5, seed: 2 })],
  prod: [quant.turboQuant({ dim: 64, bits: 3, variant: 'prod', rotation: 'hadamard' }), quant.int8()],
  kivi: [quant.kivi({ bits: 2, groupSize: 16, residual: 8 }), quant.kivi({ bits: 4, groupSize: 16, residual: 8 })],
  qjl: [quant.qjl({ dim: 64, sketchDim: 128, outliers: 4 }), 'bf16'],
}) as unknown as Record<string, [never, never]>;

test('attend from the codes equals dequantise-then-attend', (t) => {
  for (const [name, [k, v]] of Object.entries(formats())) {
    const c = new KVCache({ layers: 2, heads: 2, headDim: 64, maxTokens: 400, keys: k, values: v });
    c.append(randn([150, 2, 64], { seed: 1 }), randn([150, 2, 64], { seed: 2 }), { layer: 1 });
    c.append(randn([1, 2, 64], { seed: 3 }), randn([1, 2, 64], { seed: 4 }), { layer: 1 });
    for (const [Tq, hq] of [[1, 2], [1, 6], [9, 2]]) {
      const q = randn([Tq, hq, 64], { seed: 5 });
      const got = c.attend(q, { layer: 1 }), want = c.attend(q, { layer: 1, reference: true });
      t.deepEqual(got.shape, [Tq, hq, 64]);
      t.true(maxRel(got.toFloat32(), want.toFloat32()) < 3e-5, `${name} Tq=${Tq} hq=${hq}`);
    }
    t.is(c.lengthOf(1), 151);
    t.is(c.length, 0);
    c.dispose();
  }
});

test('an f32 cache matches ops.sdpa (causal, 4-d inputs)', (t) => {
  const c = new KVCache({ heads: 2, headDim: 32, maxTokens: 64 });
  const k = randn([1, 40, 2, 32], { seed: 1 }), v = randn([1, 40, 2, 32], { seed: 2 }), q = randn([1, 40, 4, 32], { seed: 3 });
  c.append(k, v);
  const got = c.attend(q);
  t.deepEqual(got.shape, [1, 40, 4, 32]);
  const want = ops.sdpa(q, k, v, { causal: true });
  t.true(maxRel(got.toFloat32(), want.toFloat32()) < 1e-5);
});

test('async twins, and a cache is busy while one runs', async (t) => {
  const c = new KVCache({ heads: 2, headDim: 64, maxTokens: 5000, keys: quant.turboQuant({ dim: 64, bits: 3 }), values: 'bf16' });
  const p = c.appendAsync(randn([4000, 2, 64], { seed: 1 }), randn([4000, 2, 64], { seed: 2 }));
  t.throws(() => c.length, code('E_STATE'));
  t.throws(() => c.append(randn([1, 2, 64]), randn([1, 2, 64])), code('E_STATE'));
  await p;
  t.is(c.length, 4000);
  const q = randn([1, 2, 64], { seed: 3 });
  const a = await c.attendAsync(q), b = c.attend(q);
  t.deepEqual(Array.from(a.toFloat32()), Array.from(b.toFloat32()));
  await t.throwsAsync(async () => c.attendAsync(randn([1, 3, 64])), code('E_SHAPE'));
});

test('fork shares the prefix copy-on-write; truncate', (t) => {
  const k = quant.turboQuant({ dim: 32, bits: 2.5 });
  const a = new KVCache({ heads: 1, headDim: 32, maxTokens: 1000, keys: k, values: k });
  a.append(randn([300, 1, 32], { seed: 1 }), randn([300, 1, 32], { seed: 2 }));
  const q = randn([1, 1, 32], { seed: 3 });
  const before = Array.from(a.attend(q).toFloat32());
  const b = a.fork();
  t.is(b.length, 300);
  b.append(randn([100, 1, 32], { seed: 4 }), randn([100, 1, 32], { seed: 5 }));
  t.deepEqual(Array.from(a.attend(q).toFloat32()), before, 'parent unchanged');
  t.is(b.length, 400);
  b.truncate(300);
  t.deepEqual(Array.from(b.attend(q).toFloat32()), before, 'truncate back to the shared prefix');
  t.is(b.bytes(), a.bytes());
  t.true(a.keys instanceof quant.Quantizer);
  t.is(new KVCache({ heads: 1, headDim: 8, maxTokens: 4, keys: 'bf16' }).keys, 'bf16');
});

test('serialize / deserialize round trip, corrupt input rejected', (t) => {
  const c = new KVCache({ layers: 2, heads: 2, headDim: 32, maxTokens: 500, residualWindow: 4,
    keys: quant.turboQuant({ dim: 32, bits: 3, variant: 'prod' }), values: quant.kivi({ bits: 4, groupSize: 8 }) });
  c.append(randn([77, 2, 32], { seed: 1 }), randn([77, 2, 32], { seed: 2 }), { layer: 0 });
  const buf = c.serialize();
  const d = KVCache.deserialize(buf);
  t.deepEqual(Array.from(d.serialize()), Array.from(buf));
  const q = randn([2, 4, 32], { seed: 3 });
  t.deepEqual(Array.from(d.attend(q).toFloat32()), Array.from(c.attend(q).toFloat32()));
  t.is(d.info().residualWindow, 4);
  const bad = Uint8Array.from(buf);
  bad[bad.length >> 1] ^= 1;
  t.throws(() => KVCache.deserialize(bad), code('E_FORMAT'));
  t.throws(() => KVCache.deserialize(buf.subarray(0, buf.length - 9)), code('E_FORMAT'));
  t.throws(() => KVCache.deserialize(new Uint8Array(10)), code('E_FORMAT'));
  t.throws(() => KVCache.deserialize('nope' as never), code('E_ARG'));
});

test('bad cache input is an EngramError', (t) => {
  const c = new KVCache({ heads: 2, headDim: 16, maxTokens: 8, keys: quant.turboQuant({ dim: 16, bits: 2 }) });
  const kv = (n: number, h = 2, d = 16): [Tensor, Tensor] => [randn([n, h, d]), randn([n, h, d])];
  t.throws(() => c.append(...kv(3, 2, 8)), code('E_SHAPE'));
  t.throws(() => c.append(...kv(3, 3)), code('E_SHAPE'));
  t.throws(() => c.append(...kv(9)), code('E_STATE'));
  t.throws(() => c.append(tensor([NaN, ...new Array(31).fill(0)], [1, 2, 16]), zeros([1, 2, 16])), code('E_NAN'));
  t.is(c.length, 0);
  t.throws(() => c.attend(randn([1, 2, 16])), code('E_STATE'));
  c.append(...kv(4));
  t.throws(() => c.attend(randn([1, 3, 16])), code('E_SHAPE'));
  t.throws(() => c.attend(randn([5, 2, 16])), code('E_SHAPE'));
  t.throws(() => c.attend(randn([1, 2, 16]), { layer: 1 }), code('E_ARG'));
  t.throws(() => c.attend(randn([1, 2, 16]), { scale: -1 }), code('E_ARG'));
  t.throws(() => c.append(zeros([1, 2, 16], { dtype: 'i32' }), zeros([1, 2, 16])), code('E_DTYPE'));
  t.throws(() => new KVCache({ heads: 2, headDim: 32, maxTokens: 8, keys: quant.turboQuant({ dim: 16, bits: 2 }) }), code('E_SHAPE'));
  t.throws(() => new KVCache({ heads: 2, headDim: 16, maxTokens: 0 }), code('E_ARG'));
  t.throws(() => new KVCache({ heads: 2, headDim: 16, maxTokens: 8, keys: 'f64' as never }), code('E_ARG'));
  t.throws(() => new KVCache({ heads: 2, headDim: 16, maxTokens: 8, colour: 1 } as never), code('E_ARG'));
  t.throws(() => c.truncate(-1), code('E_ARG'));
  c.dispose();
  t.throws(() => c.bytes(), code('E_DISPOSED'));
});
