/** Bad input is an EngramError with a code, never a crash. */
import test from 'ava';

import { EngramError, ops, randn, tensor, zeros, backends, cudaAvailable } from 'engram';
import { native } from '../lib/binding.js';

const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

test('wrong shapes', (t) => {
  const a = zeros([3, 4]), b = zeros([5, 6]);
  const e = t.throws(() => ops.matmul(a, b), code('E_SHAPE'));
  t.regex(e!.message, /inner dimensions differ/);
  t.throws(() => ops.add(zeros([3]), zeros([4])), code('E_SHAPE'));
  t.throws(() => ops.sdpa(zeros([1, 2, 3]), zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4])), code('E_SHAPE'));
  t.throws(() => ops.rmsNorm(zeros([2, 4]), zeros([3])), code('E_SHAPE'));
  t.throws(() => tensor([1, 2, 3], [2, 2]), code('E_SHAPE'));
  t.throws(() => a.reshape([5, 5]), code('E_SHAPE'));
});

test('mismatched or unsupported dtypes', (t) => {
  const f = zeros([2, 2]), h = zeros([2, 2], { dtype: 'f16' }), i = zeros([2, 2], { dtype: 'i32' });
  t.throws(() => ops.matmul(f, h), code('E_DTYPE'));
  t.throws(() => ops.exp(i), code('E_DTYPE'));
  t.throws(() => ops.gather(f, f), code('E_DTYPE'));
  t.throws(() => zeros([2], { dtype: 'f64' as never }), code('E_DTYPE'));
  t.throws(() => ops.cast(f, 'u4'), code('E_DTYPE'));
});

test('negative and overflowing sizes', (t) => {
  t.throws(() => zeros([-1, 3]), code('E_SHAPE'));
  t.throws(() => zeros([2 ** 40, 2 ** 40]), code('E_OVERFLOW'));
  t.throws(() => zeros([2 ** 31, 2 ** 31, 4]), code('E_OVERFLOW'));
  t.throws(() => zeros([1.5]), code('E_ARG'));
  t.throws(() => zeros([1, 2, 3, 4, 5, 6, 7, 8, 9]), code('E_SHAPE'));
  // Too large to allocate but no overflow: out of memory, not a crash.
  t.throws(() => zeros([2 ** 26, 2 ** 26]), code('E_OOM'));
});

test('use after dispose', (t) => {
  const x = randn([4]);
  x.dispose();
  x.dispose(); // idempotent
  t.throws(() => ops.exp(x), code('E_DISPOSED'));
  t.throws(() => x.data(), code('E_DISPOSED'));
  t.throws(() => x.toArray(), code('E_DISPOSED'));
  t.throws(() => x.reshape([2, 2]), code('E_DISPOSED'));
});

test('bad options and arguments', (t) => {
  const x = zeros([2, 2]);
  t.throws(() => ops.softmax(x, { axis: 5 }), code('E_ARG'));
  t.throws(() => ops.matmul(x, x, { transposeA: true } as never), code('E_ARG'));
  t.throws(() => ops.exp(new Float32Array(4) as never), code('E_ARG'));
  t.throws(() => ops.gather(zeros([3, 2]), tensor([0, 3], [2], { dtype: 'i32' })), code('E_ARG'));
  t.throws(() => native.op('nope', []), code('E_ARG'));
  t.throws(() => ops.sdpa(x.reshape([1, 1, 2, 2]), x.reshape([1, 1, 2, 2]), x.reshape([1, 1, 2, 2]), { scale: -1 }), code('E_ARG'));
  t.throws(() => randn([2], { seed: -1 }), code('E_ARG'));
});

test('CUDA requested where unavailable', (t) => {
  const cuda = backends().find((b) => b.name === 'cuda')!;
  if (cudaAvailable()) {
    t.pass('a GPU is present');
    return;
  }
  t.false(cuda.available);
  t.truthy(cuda.reason);
  const e = t.throws(() => zeros([2], { device: 'cuda' }), code('E_DEVICE'));
  t.regex(e!.message, /cuda is not available/);
  t.throws(() => randn([2]).to('cuda'), code('E_DEVICE'));
  t.throws(() => zeros([2], { device: 'tpu' as never }), code('E_ARG'));
});

test('async calls reject (not throw) on bad input', async (t) => {
  const a = zeros([3, 4]);
  const p = ops.matmulAsync(a, zeros([5, 6]));
  t.true(p instanceof Promise);
  await t.throwsAsync(p, code('E_SHAPE'));
});
