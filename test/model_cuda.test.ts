/**
 * The model-building ops, plans, KV caches and models on CUDA against the
 * CPU. Skipped without a GPU (this project's build machines): these run
 * wherever one is present.
 */
import test from 'ava';

import { cudaAvailable, nn, ops, randn, runRecall, tensor, tidy, type Tensor } from 'engram';
import { assertClose } from './helpers.js';

const onGpu = cudaAvailable() ? test : test.skip;

onGpu('concat, causalConv1d, rope and sdpaWindow on cuda match the cpu', (t) => {
  tidy(() => {
    const both = (f: (d: 'cpu' | 'cuda') => Tensor, what: string) =>
      assertClose(t, f('cuda').toFloat32(), f('cpu').toFloat32(), 1e-4, 1e-5, what);
    const x = randn([2, 63, 3, 16], { seed: 1 }), w = randn([48, 4], { seed: 2 }), s = randn([2, 3, 48], { seed: 3 });
    const pos = tensor(Int32Array.from({ length: 63 }, (_, i) => i * 1000));
    both((d) => ops.concat([x.to(d), x.to(d).slice(1, 0, 5)], { axis: 1 }), 'concat');
    both((d) => ops.causalConv1d(x.to(d).reshape([2, 63, 48]), w.to(d), { state: s.to(d), activation: 'silu' }), 'conv');
    both((d) => ops.rope(x.to(d), pos.to(d)), 'rope');
    both((d) => ops.sdpaWindow(x.to(d), x.to(d), x.to(d), { window: 7 }), 'sdpaWindow');
  });
});

onGpu('a hybrid model on cuda: forward, prefill and step match the cpu model', async (t) => {
  const cfg: nn.ModelConfig = { vocab: 40, dim: 32, layers: [{ mixer: 'swa', heads: 4, window: 5 }, { mixer: 'attention', heads: 4, kvHeads: 2 }, { mixer: 'conv' }] };
  const cpu = new nn.Model(cfg, { seed: 1 }), gpu = new nn.Model(cfg, { seed: 1, device: 'cuda' });
  const toks = [[1, 5, 9, 13, 17, 21, 25, 29, 33, 37]];
  const a = await cpu.forward(toks), b = await gpu.forward(toks);
  assertClose(t, b.toFloat32(), a.toFloat32(), 1e-3, 1e-4, 'forward');
  const p = await gpu.prefill([toks[0].slice(0, 6)]);
  const q = await gpu.step(toks[0][6]);
  assertClose(t, q.toFloat32(), a.toFloat32().slice(6 * 40, 7 * 40), 1e-3, 1e-4, 'step');
  for (const x of [a, b, p, q]) x.dispose();
  cpu.dispose();
  gpu.dispose();
});

onGpu('engram recall runs on cuda', async (t) => {
  const r = await runRecall({ contexts: [1024], kinds: ['full-attention'], device: 'cuda', print: false });
  t.true(r.rows[0].accuracy >= 0.99);
});
