/**
 * The CUDA backend from JS. Without a GPU (this project's build machines) the
 * device tests are skipped and only the fallback is checked; on a GPU machine
 * they compare CUDA against the CPU and check device-side errors.
 */
import test from 'ava';

import { EngramError, backends, cudaAvailable, ops, randn, tensor, tidy, type Tensor } from 'engram';
import { assertClose } from './helpers.js';

const gpu = cudaAvailable();
const onGpu = gpu ? test : test.skip;
const code = (c: string) => ({ instanceOf: EngramError, code: c }) as never;

test('cuda backend reports compiled/available consistently', (t) => {
  const c = backends().find((b) => b.name === 'cuda')!;
  t.is(c.available, gpu);
  if (!gpu) t.truthy(c.reason);
});

onGpu('to(cuda) / toArray round trips, strided views included', (t) => {
  tidy(() => {
    const x = randn([7, 63], { seed: 1 });
    const g = x.to('cuda');
    t.is(g.device, 'cuda');
    t.deepEqual(Array.from(g.toArray() as Float32Array), Array.from(x.toArray() as Float32Array));
    t.deepEqual(Array.from(g.transpose().toArray() as Float32Array), Array.from(x.transpose().toArray() as Float32Array));
    const h = tensor([1, 2, 3, 4], [2, 2], { dtype: 'bf16', device: 'cuda' });
    t.deepEqual(Array.from(h.toFloat32()), [1, 2, 3, 4]);
  });
});

onGpu('ops on cuda match the cpu', (t) => {
  tidy(() => {
    const both = (f: (d: 'cpu' | 'cuda') => Tensor, what: string, rtol = 1e-4, atol = 1e-5) =>
      assertClose(t, f('cuda').toFloat32(), f('cpu').toFloat32(), rtol, atol, what);
    const a = randn([3, 65, 70], { seed: 2 }), b = randn([70, 33], { seed: 3 });
    both((d) => ops.matmul(a.to(d), b.to(d)), 'matmul f32');
    both((d) => ops.matmul(a.to(d).transpose(), b.to(d), { transA: true, alpha: 0.5 }), 'matmul transA of a strided view');
    const ah = ops.cast(a, 'bf16'), bh = ops.cast(b, 'bf16');
    both((d) => ops.matmul(ah.to(d), bh.to(d)), 'matmul bf16', 1e-2, 1e-2);
    const q = randn([2, 40, 4, 64], { seed: 4 }), k = randn([2, 47, 2, 64], { seed: 5 }), v = randn([2, 47, 2, 32], { seed: 6 });
    both((d) => ops.sdpa(q.to(d), k.to(d), v.to(d), { causal: true }), 'sdpa causal gqa');
    const x = randn([5, 1500], { seed: 7 });
    both((d) => ops.softmax(x.to(d)), 'softmax');
    both((d) => ops.cumsum(x.to(d), { axis: 0, reverse: true }), 'cumsum');
    both((d) => ops.sum(x.to(d), { axis: 0 }), 'sum axis 0');
  });
});

onGpu('gather: out-of-range index is E_ARG on cuda', async (t) => {
  const table = randn([5, 3], { device: 'cuda' });
  const idx = tensor([0, 4, 5, 1], [4], { dtype: 'i32', device: 'cuda' });
  const e = t.throws(() => ops.gather(table, idx), code('E_ARG'));
  t.regex(e!.message, /index 5 at position 2/);
  await t.throwsAsync(() => ops.gatherAsync(table, idx), code('E_ARG'));
  const ok = ops.gather(table, tensor([4, 0], [2], { dtype: 'i32', device: 'cuda' }));
  assertClose(t, ok.toFloat32(), [...table.toFloat32().slice(12, 15), ...table.toFloat32().slice(0, 3)], 0, 0);
  table.dispose();
  idx.dispose();
  ok.dispose();
});
