/** Heavy calls run off the JS thread: the event loop keeps ticking. */
import test from 'ava';

import { ops, randn } from 'engram';

test('matmulAsync leaves the event loop free and equals the sync result', async (t) => {
  // Size the work so that 4 products last well over the timer's resolution on
  // any machine (a 16-core host does 1024^3 in a few ms): grow n until one
  // synchronous product takes >= 25 ms.
  let n = 512;
  let a = randn([n, n], { seed: 1 }), b = randn([n, n], { seed: 2 });
  let s0 = performance.now();
  let sync = ops.matmul(a, b);
  while (performance.now() - s0 < 25 && n < 4096) {
    for (const x of [a, b, sync]) x.dispose();
    n *= 2;
    a = randn([n, n], { seed: 1 });
    b = randn([n, n], { seed: 2 });
    s0 = performance.now();
    sync = ops.matmul(a, b);
  }
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  const results = await Promise.all([1, 2, 3, 4].map(() => ops.matmulAsync(a, b)));
  const ms = performance.now() - t0;
  clearInterval(timer);
  const want = sync.toFloat32();
  for (const r of results) t.deepEqual(r.toFloat32(), want);
  t.log(`n = ${n}: timer ticks while 4 async matmuls ran for ${ms.toFixed(0)} ms: ${ticks}`);
  t.true(ticks >= Math.min(10, ms / 10), `event loop blocked: ${ticks} ticks in ${ms.toFixed(0)} ms`);
  for (const x of [a, b, sync, ...results]) x.dispose();
});

test('disposing an input while an async op runs is safe', async (t) => {
  const a = randn([512, 512], { seed: 3 });
  const p = ops.matmulAsync(a, a);
  a.dispose();
  const c = await p;
  t.deepEqual([...c.shape], [512, 512]);
  t.true(Number.isFinite(c.toFloat32()[0]));
  c.dispose();
});
