/** Leak checks: counters return to zero and RSS stays flat. */
import test from 'ava';

import { memory, ops, randn, tensor, zeros } from 'engram';

// Node 20 runs N-API finalizers (of the JS wrapper objects) from the event
// loop, so the cycles run in batches with a turn of the loop in between, as a
// service handling requests would.
const tick = () => new Promise((r) => setImmediate(r));

test.serial('100k create/dispose cycles leave memory() at zero and RSS flat', async (t) => {
  const m0 = memory();
  const cycle = () => {
    const x = zeros([64]);
    const y = ops.exp(x);
    x.data();
    x.dispose();
    y.dispose();
  };
  for (let b = 0; b < 20; b++) {
    for (let i = 0; i < 1000; i++) cycle();
    await tick();
  }
  const rss1 = process.memoryUsage().rss;
  for (let b = 0; b < 80; b++) {
    for (let i = 0; i < 1000; i++) cycle();
    await tick();
  }
  const rss2 = process.memoryUsage().rss;
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
  t.is(m1.cpu.buffers, m0.cpu.buffers);
  t.log(`RSS after 20k: ${(rss1 / 1e6).toFixed(1)} MB, after 100k: ${(rss2 / 1e6).toFixed(1)} MB`);
  t.true(rss2 - rss1 < 24e6, `RSS grew by ${((rss2 - rss1) / 1e6).toFixed(1)} MB`);
});

test.serial('views, data() arrays and op outputs are all released', (t) => {
  const m0 = memory();
  for (let i = 0; i < 1000; i++) {
    const x = randn([8, 8], { seed: i });
    const v = x.transpose(0, 1);
    const d = x.data();
    const y = ops.matmul(x, v);
    const s = tensor(d, [64]);
    for (const z of [x, v, y, s]) z.dispose();
  }
  const m1 = memory();
  t.is(m1.tensors, m0.tensors);
  t.is(m1.cpu.bytes, m0.cpu.bytes);
});

test.serial('a view keeps its storage alive after the base is disposed', (t) => {
  const x = tensor([1, 2, 3, 4], [2, 2]);
  const v = x.transpose(0, 1);
  x.dispose();
  t.deepEqual(Array.from(v.toFloat32()), [1, 3, 2, 4]);
  const before = memory().cpu.bytes;
  v.dispose();
  t.is(memory().cpu.bytes, before - 16);
});
